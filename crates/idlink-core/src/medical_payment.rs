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
//! marks the use `refused`. A terminal has its window (`finish_within`, 10
//! minutes by default) to finish what it began; after that the
//! `medical_reconcile` job asks the bureau to void the `jti`: the bureau
//! answers the settlement it made under it (the use is `settled`), or voids
//! it for good, refusing any settle with it from then on (the use is
//! `voided`, and the terminal may charge with a fresh code).

use crate::apikeys::{AuthFailure, PresentedKey};
use crate::oidc::keys::{IssuerKeys, KeyError};
use crate::ports::Rng;
use crate::ports::StoreError;
use crate::ports::apikeys::ApiKeyRow;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::SessionRow;
use crate::ports::clock::Clock;
use crate::ports::social_security::{BureauUnavailable, SettleAnswer, SocialSecurityBureau};
use crate::ports::ss_bindings::{CodeBinding, CodeUse, IssuedCodeRecord, MedicalCodeStore, SsBindingRow, SsBindingStore};
use crate::ports::users::UserStore;
use crate::social_security::{SsError, sealed_card_of};
use crate::steps::codes::constant_time_eq;
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
/// Reconciliation waits this long past a terminal's window: the terminal's
/// last bureau call, cut at the window's end, has ended by then.
const RECONCILE_MARGIN: SignedDuration = SignedDuration::from_mins(1);
/// Uses read per page of a reconciliation pass.
const RECONCILE_PAGE: u32 = 200;

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
    /// This terminal's payment is past its window and being decided with the bureau.
    #[error("the payment is being reconciled with the bureau")]
    Reconciling,
    /// This terminal's payment was not made (reconciliation found no settlement).
    #[error("the payment was not made")]
    Voided,
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
    /// The holder has not consented to processing their social-security data.
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
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
    /// Issuing a code needs the holder's social-security consent (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
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
    /// How long after spending a code its terminal may finish the payment.
    pub finish_within: SignedDuration,
}

/// The payment an earlier use made, when it is this terminal's settled payment of this amount.
fn settled_for(earlier: &CodeUse, actor: &str, terminal_id: &str, amount: Fen, region: &str) -> Option<Payment> {
    let same = earlier.status == "settled" && same_payment(earlier, actor, terminal_id, amount);
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

/// Whether an earlier use of a code is this terminal's payment of this amount.
fn same_payment(earlier: &CodeUse, actor: &str, terminal_id: &str, amount: Fen) -> bool {
    earlier.actor == actor && earlier.terminal_id == terminal_id && earlier.amount_fen == amount.0
}

/// The end of the window in which a use's terminal may finish it.
fn window_end(earlier: &CodeUse, finish_within: SignedDuration) -> Timestamp {
    earlier.used_at.checked_add(finish_within).unwrap_or(earlier.used_at)
}

/// What this terminal is told of its own earlier use that is not settled:
/// go on finishing it (within the window), wait for reconciliation, or
/// know it was not made.
fn unsettled(earlier: &CodeUse, finish_within: SignedDuration, now: Timestamp) -> Result<(), MedicalError> {
    match earlier.status.as_str() {
        "settling" if now < window_end(earlier, finish_within) => Ok(()),
        "settling" => Err(MedicalError::Reconciling),
        "voided" => Err(MedicalError::Voided),
        _ => Err(MedicalError::Used),
    }
}

impl CodeUse {
    /// The use settled with the bureau's figures.
    fn settled_with(&mut self, s: &crate::ports::social_security::Settled, at: Timestamp) {
        self.status = "settled".into();
        self.settlement_id = Some(s.settlement_id.clone());
        self.medical_account_fen = Some(s.medical_account.0);
        self.pooled_fund_fen = Some(s.pooled_fund.0);
        self.settled_at = Some(at);
    }
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
    /// The bureau had not, and voided the code's settlement for good.
    pub voided: u32,
    /// The bureau could not be asked: left for the next pass.
    pub failed: u32,
    /// Issued codes forgotten a day after they expired.
    pub forgotten: u64,
}

impl MedicalPayments<'_> {
    /// Decides the payments terminals began and did not finish within
    /// their window (and a minute): the bureau voids each `jti` for good
    /// or answers the settlement it made under it. Reads page by page
    /// (oldest first) to the end; a bureau that fails is not asked again in
    /// the same pass, so one province down costs one call, not one per
    /// payment. Each decision is one conditional change with its audit
    /// record (a terminal finishing at the same moment wins or loses cleanly).
    pub async fn reconcile(&self) -> Result<Reconciled, MedicalError> {
        let now = self.clock.now();
        let before = now.checked_sub(self.finish_within).and_then(|t| t.checked_sub(RECONCILE_MARGIN)).unwrap_or(now);
        let mut done = Reconciled::default();
        let mut down: Vec<String> = Vec::new();
        let mut after: Option<(Timestamp, String)> = None;
        loop {
            let page = self.uses.unfinished_code_uses(before, after.as_ref(), RECONCILE_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.used_at, last.jti.clone()));
            let full = page.len() == usize::try_from(RECONCILE_PAGE).unwrap_or(usize::MAX);
            for u in page {
                let region = self.bindings.ss_binding(&u.binding_id).await?.map(|b| b.region).unwrap_or_default();
                let province = region.get(..2).unwrap_or_default().to_owned();
                if down.contains(&province) {
                    done.failed += 1;
                    continue;
                }
                match self.bureau.void_settlement(&province, &u.jti).await {
                    Ok(record) => self.decide(u, &province, record, &mut done).await?,
                    Err(e) => {
                        tracing::warn!(error = %e, jti = %u.jti, province = %province, "medical payments of this bureau could not be reconciled now");
                        done.failed += 1;
                        down.push(province);
                    }
                }
            }
            if !full {
                break;
            }
        }
        // The issued codes' digests outlive their codes by a day (a late check still answers `expired`).
        let expired = now.checked_sub(SignedDuration::from_hours(24)).unwrap_or(now);
        done.forgotten = self.uses.purge_issued_codes(expired).await?;
        Ok(done)
    }

    /// Records what the bureau answered for an unfinished use.
    async fn decide(
        &self,
        mut u: CodeUse,
        province: &str,
        record: Option<crate::ports::social_security::Settled>,
        done: &mut Reconciled,
    ) -> Result<(), MedicalError> {
        let at = self.clock.now();
        let action = match record {
            Some(s) => {
                if s.amount.0 != u.amount_fen {
                    tracing::error!(jti = %u.jti, asked = u.amount_fen, settled = s.amount.0, "the bureau settled another amount than the terminal asked");
                }
                u.settled_with(&s, at);
                "medical_code.reconciled"
            }
            None => {
                u.status = "voided".into();
                "medical_code.voided"
            }
        };
        let audit = AuditEntry::new(format!("ssb:{province}"), action, PURPOSE, at).subject(&u.user_id);
        if self.uses.settle_medical_code(&u, &audit).await? {
            if u.status == "settled" {
                done.settled += 1;
            } else {
                done.voided += 1;
            }
        }
        Ok(())
    }

    /// A fresh code for the user's bound card, on the session's device.
    pub async fn issue(&self, session: &SessionRow, binding_id: &str) -> Result<IssuedCode, MedicalError> {
        let row = self.bindings.ss_binding(binding_id).await?.filter(|r| r.user_id == session.user_id).ok_or(MedicalError::NotFound)?;
        usable(row.status, row.features.as_deref())?;
        // A card bound on the holder's behalf rests on their in-person consent until they withdraw it.
        let kinds = &crate::social_security::OWN_BINDING_CONSENTS;
        if row.agent_user_id.is_none() {
            self.consent.check_all::<MedicalError>(&row.user_id, kinds).await?;
        } else {
            self.consent.not_withdrawn::<MedicalError>(&row.user_id, kinds).await?;
        }
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
        // Recorded before it is shown: idlink's own check recognises it by this digest (ADR 0031).
        let record = IssuedCodeRecord {
            jti: claims.jti.clone(),
            binding_id: row.id.clone(),
            digest: medical_code::digest(&code).to_vec(),
            expires_at: exp,
        };
        self.uses.record_issued_code(&record).await?;
        // The next code is fetched 10 s before this one expires (or halfway through a short life).
        let lead = SignedDuration::from_secs(10).min(self.ttl / 2);
        Ok(IssuedCode { code, expires_at: exp, refresh_at: exp.checked_sub(lead).unwrap_or(exp) })
    }

    /// A terminal's online check before it charges, by the terminal that
    /// presented `key` (its API key): the code passes the offline checks,
    /// its card can pay, and it was not used. Spends nothing.
    ///
    /// The key is read in the same statement as the code's binding (ADR
    /// 0034), so the whole check is one round trip. A code this deployment
    /// issued is recognised by its token's digest, read in that statement,
    /// and its key still published; any other token has its signature
    /// verified (ADR 0031). Either way the same claims are checked.
    ///
    /// Answers the key as checked, then the code's check. A refused key
    /// stops the check before any signature work, and the caller refuses it
    /// before it says anything of the code. Errs only when the read fails.
    pub async fn check_with_key(
        &self,
        key: &PresentedKey,
        token: &str,
    ) -> Result<(Result<ApiKeyRow, AuthFailure>, Result<CodeCheck, MedicalError>), MedicalError> {
        // What a refused key gets for the code: never shown, nothing of the code was checked.
        let unchecked = || Err(MedicalError::Refused(Refusal::Malformed));
        let Some(key_id) = key.id() else { return Ok((Err(AuthFailure::Invalid), unchecked())) };
        let now = self.clock.now();
        let read = async |binding_id: &str, jti: &str| {
            let (row, api_key) = self.uses.binding_for_code(binding_id, jti, &key_id).await?;
            Ok::<_, MedicalError>((row, key.admit(api_key, now)))
        };
        match medical_code::unverified(token, self.issuer) {
            Ok((kid, claimed)) => {
                let (row, admitted) = read(&claimed.sub, &claimed.jti).await?;
                if admitted.is_err() {
                    return Ok((admitted, unchecked()));
                }
                let recognised = async {
                    match (row.as_ref().and_then(|r| r.issued_digest.as_deref()), kid) {
                        (Some(stored), Some(kid)) => Ok::<_, MedicalError>(
                            constant_time_eq(stored, &medical_code::digest(token)) && self.keys.verifying_keys().await?.has(&kid),
                        ),
                        _ => Ok(false),
                    }
                };
                let code = match recognised.await {
                    Ok(true) => Ok(claimed),
                    Ok(false) => self.signed(token).await,
                    Err(e) => Err(e),
                };
                Ok((admitted, code.and_then(|code| self.payable_now(code, row))))
            }
            // Not a well-formed code of this issuer: the key is admitted first (read with a binding that
            // matches nothing), then the signature check refuses the code, as it always did.
            Err(_) => {
                let (_, admitted) = read("", "").await?;
                if admitted.is_err() {
                    return Ok((admitted, unchecked()));
                }
                match self.signed(token).await {
                    Ok(code) => {
                        let (row, _) = read(&code.sub, &code.jti).await?;
                        Ok((admitted, self.payable_now(code, row)))
                    }
                    Err(refused) => Ok((admitted, Err(refused))),
                }
            }
        }
    }

    /// What a check finds of a code whose claims are idlink's, with its binding as read.
    fn payable_now(&self, code: MedicalCode, row: Option<CodeBinding>) -> Result<CodeCheck, MedicalError> {
        let code = medical_code::live(code, self.clock.now().as_second()).map_err(MedicalError::Refused)?;
        let row = row.ok_or(MedicalError::CardUnusable("the binding is unknown"))?;
        usable(row.status, row.features.as_deref())?;
        if row.used {
            return Err(MedicalError::Used);
        }
        let expires_at = Timestamp::from_second(code.exp).map_err(|_| MedicalError::Refused(Refusal::Malformed))?;
        Ok(CodeCheck { region: row.region, expires_at })
    }

    /// The code's claims, when it is idlink's (whether live or not): checked
    /// with the cached keys, and again with the keys reloaded only when it
    /// names a key this node does not hold yet.
    async fn signed(&self, token: &str) -> Result<MedicalCode, MedicalError> {
        let keys = self.keys.verifying_keys().await?;
        match medical_code::verify_signed(token, &keys, self.issuer) {
            Ok(code) => Ok(code),
            Err(refused) => match self.keys.newer_verifying_keys(token).await? {
                Some(newer) => medical_code::verify_signed(token, &newer, self.issuer).map_err(MedicalError::Refused),
                None => Err(MedicalError::Refused(refused)),
            },
        }
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
        code: MedicalCode,
        actor: &str,
        terminal_id: &str,
        amount: Fen,
    ) -> Result<(MedicalCode, SsBindingRow), MedicalError> {
        match self.uses.medical_code_use(&code.jti).await? {
            Some(earlier) if earlier.status == "settled" && earlier.actor == actor => self.payable(code).await,
            Some(earlier) if same_payment(&earlier, actor, terminal_id, amount) => {
                unsettled(&earlier, self.finish_within, self.clock.now())?;
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
        let code = self.signed(token).await?;
        let (code, row) = match medical_code::live(code.clone(), now.as_second()) {
            Ok(live) => self.payable(live).await?,
            // Expired since this terminal began paying with it: it may finish that payment.
            Err(Refusal::Expired) => self.unfinished(code, actor, terminal_id, amount).await?,
            Err(refused) => return Err(MedicalError::Refused(refused)),
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
            if !same_payment(&earlier, actor, terminal_id, amount) {
                return Err(MedicalError::Used);
            }
            unsettled(&earlier, self.finish_within, now)?;
            spent.used_at = earlier.used_at;
        }
        let system = AuditEntry::new(actor.to_owned(), "ss_card.read", PURPOSE, now).subject(&row.user_id);
        let card = sealed_card_of(self.users, self.vault, &row, &system).await?;
        let province = row.region.get(..2).unwrap_or_default();
        // The call ends with the terminal's window: past it, reconciliation decides the payment.
        let left = window_end(&spent, self.finish_within).duration_since(self.clock.now());
        if !left.is_positive() {
            return Err(MedicalError::Reconciling);
        }
        let call = self.bureau.settle(province, &code.jti, &card.card_ref, amount, terminal_id);
        let answer = match tokio::time::timeout(left.try_into().unwrap_or_default(), call).await {
            Ok(answer) => answer?,
            Err(_) => return Err(MedicalError::Reconciling),
        };
        let settled = match answer {
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
        spent.settled_with(&settled, at);
        if !self.uses.settle_medical_code(&spent, &audit("medical_code.settled")).await? {
            // The bureau refuses a settle after its void, so this is the same settlement recorded twice at once.
            tracing::warn!(jti = %spent.jti, settlement = %settled.settlement_id, "a medical payment was recorded as settled by another request first");
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
