//! Paging the operators on duty (issue 13): the phone an operator is paged
//! on, sealed under the operators' system key, and the outbox event an SLA
//! breach writes ([`REVIEW_SLA_BREACHED`]), delivered by SMS
//! (`crate::outbox::Deliverer`).

use crate::ports::StoreError;
use crate::ports::ids::Ids;
use crate::ports::keys::KeyStore;
use crate::ports::outbox::NewEvent;
use crate::ports::reviews::CaseRow;
use crate::steps::notices::seal_payload;
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{OperatorId, PhoneNumber};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The system key that seals operators' secrets (TOTP seeds, paging phones).
pub const OPERATOR_KEY_ID: &str = "sys-operator-secrets";

/// A review case breached its first-response SLA: page the operators on duty.
pub const REVIEW_SLA_BREACHED: &str = "review.sla_breached";

/// The SMS template of the page.
pub const PAGE_TEMPLATE: &str = "review_sla_breached";

fn phone_context(op: &OperatorId) -> String {
    format!("operators.phone:{op}")
}

/// Seals an operator's paging phone.
pub async fn seal_phone<E: From<StoreError> + From<CryptoError>>(
    vault: &Vault,
    keys: &dyn KeyStore,
    op: &OperatorId,
    phone: &PhoneNumber,
) -> Result<Vec<u8>, E> {
    let key = vault.system_data_key::<E>(keys, OPERATOR_KEY_ID).await?;
    Ok(vault.seal(&key, &phone_context(op), phone.reveal().as_bytes())?)
}

/// Opens an operator's paging phone.
pub async fn open_phone<E: From<StoreError> + From<CryptoError>>(
    vault: &Vault,
    keys: &dyn KeyStore,
    op: &OperatorId,
    cipher: &[u8],
) -> Result<Option<PhoneNumber>, E> {
    let key = vault.system_data_key::<E>(keys, OPERATOR_KEY_ID).await?;
    let clear = key.open(&phone_context(op), cipher)?;
    Ok(std::str::from_utf8(&clear).ok().and_then(|s| PhoneNumber::parse(s).ok()))
}

/// The payload of a [`REVIEW_SLA_BREACHED`] event: the case, and the operators
/// on duty when it breached (they are paged; no personal data of the user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachPage {
    pub case_id: String,
    pub kind: String,
    pub sla_due_at: Timestamp,
    pub operators: Vec<OperatorId>,
}

/// The event paging `operators` about `case`.
pub fn breach_event<E>(vault: &Vault, ids: &dyn Ids, at: Timestamp, case: &CaseRow, operators: Vec<OperatorId>) -> Result<NewEvent, E>
where
    E: From<StoreError> + From<CryptoError>,
{
    let id = ids.event();
    let page = BreachPage { case_id: case.id.to_string(), kind: case.kind.as_str().to_owned(), sla_due_at: case.sla_due_at, operators };
    let clear = serde_json::to_vec(&page).map_err(|e| StoreError::Corrupt(format!("an outbox payload: {e}")))?;
    let payload = seal_payload(vault, id.as_str(), REVIEW_SLA_BREACHED, &clear)?;
    Ok(NewEvent { id, kind: REVIEW_SLA_BREACHED.to_owned(), subject: None, payload, at })
}
