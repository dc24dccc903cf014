//! The file witness: each signed audit checkpoint appended as one JSON line
//! (`seq`, `hash`, `at`, `public_key`, `signature`) to `checkpoints.jsonl` in
//! a directory of its own (`audit.witness_dir`, default
//! `<data_dir>/audit-witness/`), outside the database (SPEC P7, docs/audit.md).
//!
//! Appends take an exclusive lock on the file (the server and `idlink audit
//! checkpoint` may both write), are one `write` each and are fsynced before
//! they return. The file is only ever appended to, so it can be made
//! append-only by the operating system (`chattr +a`) or shipped elsewhere.
//!
//! A line cut short by a crash in the middle of an append (JSON that ends
//! early) is skipped when read; any other line that is not a checkpoint is
//! reported as corrupt.

use async_trait::async_trait;
use idlink_core::ports::audit::Checkpoint;
use idlink_core::ports::witness::{AuditWitness, WitnessError};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How much of the file's end [`AuditWitness::latest`] reads: many lines.
const TAIL_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct FileWitness {
    dir: PathBuf,
    path: PathBuf,
}

impl FileWitness {
    pub const FILE_NAME: &'static str = "checkpoints.jsonl";

    /// A witness in `dir` for a writer: creates the directory (owner-only on
    /// Unix) and checks that the file can be appended to, so a wrong
    /// `audit.witness_dir` stops the start instead of the first checkpoint.
    pub fn create(dir: &Path) -> Result<Self, WitnessError> {
        let w = Self::open(dir);
        let fail = |e: std::io::Error| WitnessError::Unavailable { witness: w.describe(), detail: e.to_string() };
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(fail)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
            }
        }
        let existed = w.path.exists();
        OpenOptions::new().append(true).create(true).open(&w.path).map_err(fail)?;
        if !existed {
            sync_dir(dir).map_err(fail)?;
        }
        Ok(w)
    }

    /// A witness in `dir` for a reader: a missing directory or file reads as empty.
    pub fn open(dir: &Path) -> Self {
        Self { dir: dir.to_owned(), path: dir.join(Self::FILE_NAME) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn unavailable(&self, e: impl std::fmt::Display) -> WitnessError {
        WitnessError::Unavailable { witness: self.describe(), detail: e.to_string() }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(FileWitness) -> Result<T, WitnessError> + Send + 'static,
    ) -> Result<T, WitnessError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(me)).await.map_err(|e| self.unavailable(e))?
    }

    fn append_blocking(&self, line: &[u8]) -> std::io::Result<()> {
        let existed = self.path.exists();
        let mut f = OpenOptions::new().read(true).append(true).create(true).open(&self.path)?;
        f.lock()?;
        let len = f.metadata()?.len();
        let mut buf = Vec::with_capacity(line.len() + 2);
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                // The previous append was cut by a crash: start on a line of our own.
                buf.push(b'\n');
            }
        }
        buf.extend_from_slice(line);
        buf.push(b'\n');
        f.write_all(&buf)?;
        f.sync_all()?;
        if !existed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Parses entry `entry` (its line number); `None` for a line to skip.
    fn parse(&self, entry: u64, line: &[u8]) -> Result<Option<Checkpoint>, WitnessError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match serde_json::from_slice::<Checkpoint>(line) {
            Ok(c) => Ok(Some(c)),
            // A line cut short by a crash during its append.
            Err(e) if e.is_eof() => Ok(None),
            Err(e) => Err(WitnessError::Corrupt { witness: self.describe(), entry, detail: e.to_string() }),
        }
    }

    fn all_blocking(&self) -> Result<Vec<Checkpoint>, WitnessError> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.unavailable(e)),
        };
        let mut out = Vec::new();
        for (i, line) in BufReader::new(f).split(b'\n').enumerate() {
            let line = line.map_err(|e| self.unavailable(e))?;
            if let Some(c) = self.parse(i as u64 + 1, &line)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    fn latest_blocking(&self) -> Result<Option<Checkpoint>, WitnessError> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.unavailable(e)),
        };
        let len = f.metadata().map_err(|e| self.unavailable(e))?.len();
        let from = len.saturating_sub(TAIL_BYTES);
        f.seek(SeekFrom::Start(from)).map_err(|e| self.unavailable(e))?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).map_err(|e| self.unavailable(e))?;
        let mut lines: Vec<&[u8]> = tail.split(|b| *b == b'\n').collect();
        if from > 0 && !lines.is_empty() {
            lines.remove(0); // began mid-line
        }
        let mut newest: Option<Checkpoint> = None;
        for line in lines {
            // Entry numbers are not known in a window; 0 says "near the end".
            if let Some(c) = self.parse(0, line)?
                && newest.as_ref().is_none_or(|n| c.seq > n.seq)
            {
                newest = Some(c);
            }
        }
        Ok(newest)
    }
}

/// Makes a file's creation in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[async_trait]
impl AuditWitness for FileWitness {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn append(&self, checkpoint: &Checkpoint) -> Result<(), WitnessError> {
        let line = serde_json::to_vec(checkpoint).map_err(|e| self.unavailable(e))?;
        self.blocking(move |w| w.append_blocking(&line).map_err(|e| w.unavailable(e))).await
    }

    async fn all(&self) -> Result<Vec<Checkpoint>, WitnessError> {
        self.blocking(|w| w.all_blocking()).await
    }

    async fn latest(&self) -> Result<Option<Checkpoint>, WitnessError> {
        self.blocking(|w| w.latest_blocking()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("idlink-witness-{name}-{}", std::process::id()))
    }

    fn cp(seq: i64) -> Checkpoint {
        Checkpoint {
            seq,
            hash: format!("{seq:064x}"),
            at: jiff::Timestamp::from_second(1_790_000_000 + seq).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            public_key: "ab".repeat(32),
            signature: "cd".repeat(64),
        }
    }

    #[tokio::test]
    async fn appends_read_back_in_order_and_the_newest_is_found() {
        let d = dir("order");
        let _ = std::fs::remove_dir_all(&d);
        let w = FileWitness::create(&d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.all().await, Ok(vec![]));
        assert_eq!(w.latest().await, Ok(None));
        for seq in [3, 9, 7] {
            w.append(&cp(seq)).await.unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(w.all().await, Ok(vec![cp(3), cp(9), cp(7)]));
        assert_eq!(w.latest().await, Ok(Some(cp(9))), "the highest seq, not the last line");
        let text = std::fs::read_to_string(w.path()).unwrap_or_default();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().all(|l| l.starts_with("{\"seq\":") && l.contains("\"signature\":")), "{text}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn a_line_cut_by_a_crash_is_skipped_and_other_damage_is_named() {
        let d = dir("torn");
        let _ = std::fs::remove_dir_all(&d);
        let w = FileWitness::create(&d).unwrap_or_else(|e| panic!("{e}"));
        w.append(&cp(1)).await.unwrap_or_else(|e| panic!("{e}"));
        let mut f = OpenOptions::new().append(true).open(w.path()).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"{\"seq\":2,\"hash\":\"00").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.all().await, Ok(vec![cp(1)]));
        w.append(&cp(2)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.all().await, Ok(vec![cp(1), cp(2)]), "the next append starts on a line of its own");
        assert_eq!(w.latest().await, Ok(Some(cp(2))));

        f.write_all(b"not a checkpoint\n").unwrap_or_else(|e| panic!("{e}"));
        w.append(&cp(3)).await.unwrap_or_else(|e| panic!("{e}"));
        match w.all().await {
            Err(WitnessError::Corrupt { entry, .. }) => assert_eq!(entry, 4),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn a_missing_witness_reads_as_empty_and_an_unwritable_one_is_refused() {
        let w = FileWitness::open(&dir("absent"));
        assert_eq!(w.all().await, Ok(vec![]));
        let blocker = dir("blocker");
        std::fs::write(&blocker, b"a file, not a directory").unwrap_or_else(|e| panic!("{e}"));
        let e = FileWitness::create(&blocker.join("sub")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("audit witness file") && e.contains("sub"), "{e}");
        let _ = std::fs::remove_file(&blocker);
    }
}
