//! Paying with the medical-insurance code (SPEC SS3, issue 16;
//! `docs/medical-code.md`): issuing a code to a bound card on the user's
//! device, and a terminal settling a payment with it.
//!
//! A code is issued only for a binding that is bound with the
//! `medical_payment` feature, signed with idlink's Ed25519 key (published
//! in its JWK Set) so a terminal can check it offline. Settling checks it
//! again online — signature, type, issuer, life — then that the binding is
//! still bound, then spends its `jti` (one
//! row per code, written before the bureau is asked) and asks the
//! province's bureau to settle, keyed by the `jti`. A code presented a
//! second time is refused, except by the same terminal (same key and
//! terminal id) for the same amount: an unfinished settlement is finished,
//! a finished one answered again — even after the code expired; the
//! bureau, keyed by the `jti`, charges once. A bureau's definite refusal
//! marks the use `refused`. A terminal has [`FINISH_WITHIN`] to finish what
//! it began; after that the `medical_reconcile` job asks the bureau for its
//! record of the `jti` and marks the use `settled` (the bureau charged) or
//! `voided` (it did not, and now never will under this code).

use crate::oidc::keys::{IssuerKeys, KeyError};
use crate::ports::Rng;
use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::social_security::{BureauUnavailable, SettleAnswer, SocialSecurityBureau};
use crate::ports::ss_bindings::{CodeUse, MedicalCodeStore, SsBindingRow, SsBindingStore};
use crate::ports::users::UserStore;
use crate::social_security::{SsError, sealed_card_of};
use crate::vault::Vault;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use idlink_crypto::jose::{JoseError, JwsAlg};
use idlink_domain::Fen;
use idlink_domain::ss_binding::Status;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::medical_code::{self, MedicalCode, Refusal};

const PURPOSE: &str = "medical-insurance payment";
/// The feature a binding needs for codes.
pub const FEATURE: &str = "medical_payment";
/// How long after a code was spent its terminal may finish the payment;
/// then reconciliation decides it from the bureau's record.
pub const FINISH_WITHIN: SignedDuration = SignedDuration::from_mins(10);
/// Reconciliation waits a minute more: a terminal's call to the bureau
/// begun just inside its window (bounded by the connector's deadline) has
/// ended by then, so the bureau's record is final.
const RECONCILE_AFTER: SignedDuration = SignedDuration::from_mins(11);

/// The `dev` claim of a device: the first 16 bytes of SHA-256 of its id, hex.
pub fn device_digest(device_id: &str) -> String {
    hex::encode(&Sha256::digest(device_id.as_bytes())[..16])
}

#[derive(Debug, thiserror::Error)]
pub enum MedicalError {
    #[error("no such binding")]
    NotFound,
    /// The binding is not bound (or not any more), or lacks the medical-payment feature.
    #[error("this card cannot pay: {0}")]
    CardUnusable(&'static str),
    /// The code does not pass the terminal's check.
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("the code was used already")]
    Used,
    /// The bureau refused the settlement for good (the reason): nothing was paid.
    #[error("the bureau refused the payment: {0}")]
    BureauRefused(String),
    #[error(transparent)]
    Bureau(#[from] BureauUnavailable),
    #[error(transparent)]
    Binding(#[from] SsError),
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("jose: {0}")]
    Jose(#[from] JoseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A code to show.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedCode {
    pub code: String,
    pub expires_at: Timestamp,
    /// When the app should fetch the next code (a few seconds before this one expires).
    pub refresh_at: Timestamp,
}

/// What a terminal's online check found.
#[derive(Debug, Clone, Serialize)]
pub struct CodeCheck {
    /// The insured region (GB/T 2260).
    pub region: String,
    pub expires_at: Timestamp,
}

/// A payment settled.
#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub settlement_id: String,
    pub amount: Fen,
    pub medical_account: Fen,
    pub pooled_fund: Fen,
    /// The insured region (GB/T 2260).
    pub region: String,
    pub settled_at: Timestamp,
}

/// The medical-payment use cases.
pub struct MedicalPayments<'a> {
    pub bindings: &'a dyn SsBindingStore,
    pub uses: &'a dyn MedicalCodeStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub keys: IssuerKeys<'a>,
    pub issuer: &'a str,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Rng,
    pub bureau: &'a dyn SocialSecurityBureau,
    pub ttl: SignedDuration,
}

/// The payment an earlier use made, when it is this terminal's settled payment of this amount.
fn settled_for(earlier: &CodeUse, actor: &str, terminal_id: &str, amount: Fen, region: &str) -> Option<Payment> {
    let same =
        earlier.status == "settled" && earlier.actor == actor && earlier.terminal_id == terminal_id && earlier.amount_fen == amount.0;
    Some(Payment {
        settlement_id: earlier.settlement_id.clone()?,
        amount: Fen(earlier.amount_fen),
        medical_account: Fen(earlier.medical_account_fen?),
        pooled_fund: Fen(earlier.pooled_fund_fen?),
        region: region.to_owned(),
        settled_at: earlier.settled_at?,
    })
    .filter(|_| same)
}

/// Whether an earlier use of a code is this terminal's unfinished payment
/// of this amount, still within its window to finish it at `now`.
fn same_payment(earlier: &CodeUse, actor: &str, terminal_id: &str, amount: Fen, now: Timestamp) -> bool {
    earlier.status == "settling"
        && earlier.actor == actor
        && earlier.terminal_id == terminal_id
        && earlier.amount_fen == amount.0
        && earlier.used_at.checked_add(FINISH_WITHIN).is_ok_and(|until| now < until)
}

/// A binding in `status` with `features` (as stored) can pay by code.
fn usable(status: Status, features: Option<&str>) -> Result<(), MedicalError> {
    if status != Status::Bound {
        return Err(MedicalError::CardUnusable("the binding is not bound"));
    }
    if !features.unwrap_or_default().split(',').any(|f| f == FEATURE) {
        return Err(MedicalError::CardUnusable("the medical-payment feature was not chosen"));
    }
    Ok(())
}

/// What a reconciliation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The bureau had charged: recorded as settled.
    pub settled: u32,
    /// The bureau had not: voided.
    pub voided: u32,
    /// The bureau could not be asked: left for the next pass.
    pub failed: u32,
}

impl MedicalPayments<'_> {
    /// Decides the payments terminals began and did not finish within
    /// [`FINISH_WITHIN`] (and a minute), `limit` at a time, from the bureau's record of
    /// each `jti`: settled with its figures, or voided. Each is one
    /// conditional change (a terminal finishing at the same moment wins or
    /// loses cleanly) with its audit record.
    pub async fn reconcile(&self, limit: u32) -> Result<Reconciled, MedicalError> {
        let now = self.clock.now();
        let before = now.checked_sub(RECONCILE_AFTER).unwrap_or(now);
        let mut done = Reconciled::default();
        for mut u in self.uses.unfinished_code_uses(before, limit).await? {
            let region = self.bindings.ss_binding(&u.binding_id).await?.map(|b| b.region).unwrap_or_default();
            let province = region.get(..2).unwrap_or_default();
            let record = match self.bureau.settlement(province, &u.jti).await {
                Ok(record) => record,
                Err(e) => {
                    tracing::warn!(error = %e, "a medical payment could not be reconciled now");
                    done.failed += 1;
                    continue;
                }
            };
            let at = self.clock.now();
            let action = match record {
                Some(s) => {
                    u.status = "settled".into();
                    u.settlement_id = Some(s.settlement_id);
                    u.medical_account_fen = Some(s.medical_account.0);
                    u.pooled_fund_fen = Some(s.pooled_fund.0);
                    u.settled_at = Some(at);
                    done.settled += 1;
                    "medical_code.reconciled"
                }
                None => {
                    u.status = "voided".into();
                    done.voided += 1;
                    "medical_code.voided"
                }
            };
            let audit = AuditEntry::new(format!("ssb:{province}"), action, PURPOSE, at).subject(&u.user_id);
            self.uses.settle_medical_code(&u, &audit).await?;
        }
        Ok(done)
    }

    /// A fresh code for the user's bound card, on the session's device.
    pub async fn issue(&self, session: &SessionRow, binding_id: &str) -> Result<IssuedCode, MedicalError> {
        let row = self.bindings.ss_binding(binding_id).await?.filter(|r| r.user_id == session.user_id).ok_or(MedicalError::NotFound)?;
        usable(row.status, row.features.as_deref())?;
        let now = self.clock.now();
        let exp = now.checked_add(self.ttl).unwrap_or(now);
        let claims = MedicalCode {
            iss: self.issuer.to_owned(),
            sub: row.id.clone(),
            dev: device_digest(session.device_id.as_str()),
            reg: row.region.clone(),
            iat: now.as_second(),
            exp: exp.as_second(),
            jti: B64URL.encode(self.rng.bytes16()),
        };
        let key = self.keys.signing_key_for(JwsAlg::EdDsa).await?;
        let code = medical_code::issue(&key, &claims)?;
        // The next code is fetched 10 s before this one expires (or halfway through a short life).
        let lead = SignedDuration::from_secs(10).min(self.ttl / 2);
        Ok(IssuedCode { code, expires_at: exp, refresh_at: exp.checked_sub(lead).unwrap_or(exp) })
    }

    /// A terminal's online check before it charges: the code passes the
    /// offline checks, its card can pay, and it was not used. Spends nothing.
    pub async fn check(&self, token: &str) -> Result<CodeCheck, MedicalError> {
        let code = self.verified(token).await?;
        let row = self.uses.binding_for_code(&code.sub, &code.jti).await?.ok_or(MedicalError::CardUnusable("the binding is unknown"))?;
        usable(row.status, row.features.as_deref())?;
        if row.used {
            return Err(MedicalError::Used);
        }
        let expires_at = Timestamp::from_second(code.exp).map_err(|_| MedicalError::Refused(Refusal::Malformed))?;
        Ok(CodeCheck { region: row.region, expires_at })
    }

    /// The code's claims and its binding, when the code is live and its card can pay.
    async fn live(&self, token: &str) -> Result<(MedicalCode, SsBindingRow), MedicalError> {
        let code = self.verified(token).await?;
        self.payable(code).await
    }

    /// The code's claims, when it passes the offline checks now.
    async fn verified(&self, token: &str) -> Result<MedicalCode, MedicalError> {
        let keys = self.keys.verifying_keys().await?;
        let code = medical_code::verify_signed(token, &keys, self.issuer).map_err(MedicalError::Refused)?;
        medical_code::live(code, self.clock.now().as_second()).map_err(MedicalError::Refused)
    }

    /// The code's binding, when its card can pay. (The code names the device
    /// it was issued to, a session's; ending the sessions stops new codes.)
    async fn payable(&self, code: MedicalCode) -> Result<(MedicalCode, SsBindingRow), MedicalError> {
        let row = self.bindings.ss_binding(&code.sub).await?.ok_or(MedicalError::CardUnusable("the binding is unknown"))?;
        usable(row.status, row.features.as_deref())?;
        Ok((code, row))
    }

    /// An expired code whose payment this terminal (same key, terminal id
    /// and amount) began while it was live and did not finish.
    async fn unfinished(
        &self,
        token: &str,
        actor: &str,
        terminal_id: &str,
        amount: Fen,
    ) -> Result<(MedicalCode, SsBindingRow), MedicalError> {
        let keys = self.keys.verifying_keys().await?;
        let code = medical_code::verify_signed(token, &keys, self.issuer).map_err(MedicalError::Refused)?;
        match self.uses.medical_code_use(&code.jti).await? {
            Some(earlier)
                if same_payment(&earlier, actor, terminal_id, amount, self.clock.now())
                    || earlier.status == "settled" && earlier.actor == actor =>
            {
                self.payable(code).await
            }
            _ => Err(MedicalError::Refused(Refusal::Expired)),
        }
    }

    /// A terminal settles `amount` with a code; `actor` is the terminal's key (`apikey:…`).
    pub async fn settle(
        &self,
        actor: &str,
        request_id: Option<&idlink_domain::RequestId>,
        token: &str,
        amount: Fen,
        terminal_id: &str,
    ) -> Result<Payment, MedicalError> {
        let now = self.clock.now();
        let (code, row) = match self.live(token).await {
            // Expired since this terminal began paying with it: it may finish that payment.
            Err(MedicalError::Refused(Refusal::Expired)) => self.unfinished(token, actor, terminal_id, amount).await?,
            live => live?,
        };
        let audit =
            |action: &str| AuditEntry::new(actor.to_owned(), action, PURPOSE, self.clock.now()).subject(&row.user_id).request(request_id);
        let mut spent = CodeUse {
            jti: code.jti.clone(),
            binding_id: row.id.clone(),
            user_id: row.user_id.clone(),
            terminal_id: terminal_id.to_owned(),
            actor: actor.to_owned(),
            amount_fen: amount.0,
            status: "settling".into(),
            settlement_id: None,
            medical_account_fen: None,
            pooled_fund_fen: None,
            used_at: now,
            settled_at: None,
        };
        if let Some(earlier) = self.uses.spend_medical_code(&spent, &audit("medical_code.used")).await? {
            // This terminal asking again for a payment it made (its answer was lost): the same answer, nothing charged again.
            if let Some(made) = settled_for(&earlier, actor, terminal_id, amount, &row.region) {
                return Ok(made);
            }
            if !same_payment(&earlier, actor, terminal_id, amount, now) {
                return Err(MedicalError::Used);
            }
            spent.used_at = earlier.used_at;
        }
        let system = AuditEntry::new(actor.to_owned(), "ss_card.read", PURPOSE, now).subject(&row.user_id);
        let card = sealed_card_of(self.users, self.vault, &row, &system).await?;
        let province = row.region.get(..2).unwrap_or_default();
        let settled = match self.bureau.settle(province, &code.jti, &card.card_ref, amount, terminal_id).await? {
            (SettleAnswer::Settled(s), _) => s,
            (SettleAnswer::Refused { reason }, _) => {
                spent.status = "refused".into();
                self.uses.settle_medical_code(&spent, &audit("medical_code.refused")).await?;
                return Err(MedicalError::BureauRefused(reason));
            }
        };
        if settled.amount != amount {
            tracing::error!(asked = amount.0, settled = settled.amount.0, "the bureau settled another amount than asked");
        }
        let at = self.clock.now();
        spent.status = "settled".into();
        spent.settlement_id = Some(settled.settlement_id.clone());
        spent.medical_account_fen = Some(settled.medical_account.0);
        spent.pooled_fund_fen = Some(settled.pooled_fund.0);
        spent.settled_at = Some(at);
        if !self.uses.settle_medical_code(&spent, &audit("medical_code.settled")).await? {
            // Only reconciliation decides a use this terminal began, and only after its window: this should not happen.
            tracing::error!(settlement = %settled.settlement_id, "a settled medical payment was decided otherwise before it was recorded");
        }
        Ok(Payment {
            settlement_id: settled.settlement_id,
            amount: settled.amount,
            medical_account: settled.medical_account,
            pooled_fund: settled.pooled_fund,
            region: row.region,
            settled_at: at,
        })
    }
}
