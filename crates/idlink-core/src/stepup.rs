//! Step-up tokens (SPEC ID7): proof of a fresh strong authentication for one
//! sensitive operation on one resource.
//!
//! A token is minted after a correct payment password or a device-signed
//! biometric assertion, lives [`StepUpPolicy::ttl`], and is spent by exactly
//! one request: redemption is a single conditional `UPDATE` (unused, not
//! expired, same user, operation and resource), so concurrent redemptions on
//! any number of nodes give one success.

use crate::ports::stepup::{Binding, StepUpRow, StepUpStore};

use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::{Rng, StoreError};
use idlink_domain::StepUpId;
use jiff::SignedDuration;
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct StepUpPolicy {
    pub ttl: SignedDuration,
}

impl Default for StepUpPolicy {
    fn default() -> Self {
        Self { ttl: SignedDuration::from_secs(120) }
    }
}

/// How the user proved themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUpMethod {
    PaymentPassword,
    Biometric,
}

impl StepUpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            StepUpMethod::PaymentPassword => "payment_password",
            StepUpMethod::Biometric => "biometric",
        }
    }
}

/// The operations a step-up token can be minted for; any other name is refused when minted.
/// The operation of a balance query (its resource is the binding id).
pub const BALANCE_QUERY: &str = "balance.query";
/// The operation of making a device the primary one (its resource is the device id).
pub const MAKE_PRIMARY: &str = "device.make_primary";

/// The operation of asking for one's credit report (its resource is the user's own id).
pub const CREDIT_REPORT: &str = "credit_report.request";

/// The operations of revoking one's real name and of closing one's account (their resource is the user's own id).
pub const REVOKE_REAL_NAME: &str = "identity.revoke";
pub const CANCEL_ACCOUNT: &str = "account.cancel";

pub const OPERATIONS: &[&str] = &[BALANCE_QUERY, MAKE_PRIMARY, CREDIT_REPORT, REVOKE_REAL_NAME, CANCEL_ACCOUNT];

/// Why a step-up token did not authorise a request. Told only to whoever
/// holds the token's secret: anyone else learns only that it is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUpRefusal {
    /// No token was sent.
    Missing,
    /// Unknown, malformed, not this user's, or a wrong secret.
    Invalid,
    /// Minted for another operation or another resource.
    OtherUse,
    /// Already used by an earlier request.
    Spent,
    Expired,
}

impl StepUpRefusal {
    /// The stable reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            StepUpRefusal::Missing => "step_up_missing",
            StepUpRefusal::Invalid => "step_up_invalid",
            StepUpRefusal::OtherUse => "step_up_other_use",
            StepUpRefusal::Spent => "step_up_spent",
            StepUpRefusal::Expired => "step_up_expired",
        }
    }

    /// What the user should do.
    pub fn explain(self) -> &'static str {
        match self {
            StepUpRefusal::Missing => {
                "No step-up token was sent. Verify the payment password (POST /v1/me/payment-password/verify) or a biometric assertion for this operation and resource, then send the token in `Idlink-Step-Up`."
            }
            StepUpRefusal::Invalid => "The step-up token is not valid. Mint a new one for this operation and resource, and send it whole.",
            StepUpRefusal::OtherUse => {
                "The step-up token was minted for another operation or resource. Mint one for exactly this operation and this resource id."
            }
            StepUpRefusal::Spent => "The step-up token was already used; each one authorises a single request. Mint a new one.",
            StepUpRefusal::Expired => "The step-up token has expired (they are short-lived). Mint a new one just before the request.",
        }
    }
}

/// Why `token` does not authorise `binding` now (call after it failed to).
pub async fn refusal(
    store: &dyn StepUpStore,
    clock: &dyn Clock,
    token: Option<&str>,
    binding: &Binding<'_>,
) -> Result<StepUpRefusal, StoreError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else { return Ok(StepUpRefusal::Missing) };
    let Some((id, secret)) = token.split_once('.') else { return Ok(StepUpRefusal::Invalid) };
    let Ok(id) = StepUpId::parse(id) else { return Ok(StepUpRefusal::Invalid) };
    let Some((row, used_at)) = store.step_up_token(&id, &hash(secret), binding.user).await? else {
        return Ok(StepUpRefusal::Invalid);
    };
    Ok(if row.operation != binding.operation || row.resource != binding.resource {
        StepUpRefusal::OtherUse
    } else if used_at.is_some() {
        StepUpRefusal::Spent
    } else if row.expires_at <= clock.now() {
        StepUpRefusal::Expired
    } else {
        // It was usable when read: spent or expired in between.
        StepUpRefusal::Spent
    })
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Operations a step-up token can be minted for ([`OPERATIONS`]).
pub fn valid_operation(op: &str) -> bool {
    OPERATIONS.contains(&op)
}

/// A new token row and the token text (`stu_….<secret>`, shown once).
pub fn mint(
    ids: &dyn Ids,
    rng: &dyn Rng,
    clock: &dyn Clock,
    policy: &StepUpPolicy,
    binding: &Binding<'_>,
    method: StepUpMethod,
) -> (StepUpRow, String) {
    let now = clock.now();
    let id = ids.step_up();
    let secret = hex::encode(rng.bytes32());
    let row = StepUpRow {
        secret_hash: hash(&secret),
        id: id.clone(),
        user_id: binding.user.clone(),
        operation: binding.operation.to_owned(),
        resource: binding.resource.to_owned(),
        method: method.as_str().to_owned(),
        created_at: now,
        expires_at: now.checked_add(policy.ttl).unwrap_or(now),
    };
    (row, format!("{id}.{secret}"))
}

/// Spends `token` for `binding`; false when it is unknown, used, expired or bound to something else.
pub async fn spend(store: &dyn StepUpStore, clock: &dyn Clock, token: &str, binding: &Binding<'_>) -> Result<bool, StoreError> {
    let Some((id, secret)) = token.split_once('.') else { return Ok(false) };
    let Ok(id) = StepUpId::parse(id) else { return Ok(false) };
    store.spend_step_up(&id, &hash(secret), binding, clock.now()).await
}
