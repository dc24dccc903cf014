//! The audit witness port: a copy of every signed checkpoint kept outside
//! the database (SPEC P7).
//!
//! The database alone cannot prove it was not shortened: whoever can delete
//! records can delete the checkpoints above them too. A witness holds each
//! checkpoint somewhere the database's writer cannot reach, and
//! [`crate::audit::verify_store`] requires the chain to reach and match every
//! witnessed checkpoint. The default witness is an append-only file in a
//! directory of its own (`idlink_store::witness::FileWitness`); a remote one
//! (a transparency log or another organisation, through a connector) only has
//! to implement [`AuditWitness`]. `docs/audit.md` says what each protects.

use super::audit::Checkpoint;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The witness cannot be reached, read or written (an operational failure).
    #[error("audit witness {witness}: {detail}")]
    Unavailable { witness: String, detail: String },
    /// An entry is not a checkpoint: the witness was damaged or written by something else.
    #[error("audit witness {witness}: entry {entry} is not a checkpoint: {detail}")]
    Corrupt { witness: String, entry: u64, detail: String },
}

/// Where signed checkpoints are also recorded. Appends are durable when they
/// return; entries are never changed or removed through this trait.
#[async_trait]
pub trait AuditWitness: Send + Sync {
    /// What and where the witness is, for messages (`file /var/idlink/audit-witness/checkpoints.jsonl`).
    fn describe(&self) -> String;
    /// Records a checkpoint; returns once it would survive a crash of this host.
    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), WitnessError>;
    /// Every witnessed checkpoint, in the order written (several writers may interleave seqs).
    async fn all(&self) -> Result<Vec<Checkpoint>, WitnessError>;
    /// The witnessed checkpoint with the highest seq among the newest entries:
    /// the point a new checkpoint must extend.
    async fn latest(&self) -> Result<Option<Checkpoint>, WitnessError>;
}
