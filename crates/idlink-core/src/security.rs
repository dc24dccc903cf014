//! Use cases around strong authentication: setting and resetting the payment
//! password (SPEC ID6), minting step-up tokens from a payment password or a
//! device-signed biometric assertion (ID7), and the one operation of ID1
//! that needs one: changing the primary device.

use crate::payment::{self, Attempt, HashError, PaymentPasswordPolicy};
use crate::ports::audit::{AuditEntry, AuditStore, Outcome};
use crate::ports::auth::{AuthStore, SessionRow};
use crate::ports::clock::Clock;
use crate::ports::face::{FaceResult, FaceUnavailable};
use crate::ports::freezes::FreezeStore;
use crate::ports::ids::Ids;
use crate::ports::payment::PaymentPasswordStore;
use crate::ports::stepup::{Binding, BiometricChallenge, StepUpStore};
use crate::ports::{Rng, StoreError};
use crate::steps::cards::CardProof;
use crate::steps::codes::{CodeRefusal, Codes, Purpose};
use crate::steps::risk::{Frozen, ensure_not_frozen};
use crate::stepup::{self, StepUpMethod, StepUpPolicy};
use idlink_domain::payment_password::{self as rules, WeakPassword};
use idlink_domain::{BiometricChallengeId, DeviceId, RequestId};
use jiff::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error(transparent)]
    Weak(#[from] WeakPassword),
    #[error("a payment password is set already: resetting it needs a face check or a bank-card check too")]
    FaceRequired,
    #[error("the face check failed: {0:?}")]
    Face(FaceResult),
    #[error(transparent)]
    FaceUnavailable(#[from] FaceUnavailable),
    /// A reset by face needs the user's face consent (issue 18).
    #[error(transparent)]
    Consent(#[from] crate::consents::ConsentMissing),
    #[error("the payment password was refused (it locks after {max_failures} wrong passwords in a row)")]
    PasswordRefused { max_failures: u32 },
    #[error("the biometric assertion was refused")]
    BiometricRefused,
    #[error("`{0}` is not an operation a step-up token can be minted for")]
    BadOperation(String),
    #[error("this operation needs a step-up token for it in the `Idlink-Step-Up` header: {}", .0.as_str())]
    StepUpRequired(stepup::StepUpRefusal),
    #[error("no such device")]
    UnknownDevice,
    #[error(transparent)]
    Frozen(#[from] Frozen),
    #[error(transparent)]
    Code(#[from] CodeRefusal),
    /// Argon2 failed: a fault of the server, never of the caller.
    #[error("password hashing: {0}")]
    Hash(#[from] HashError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The parts these use cases need.
pub struct Security<'a> {
    /// Checks the SMS code a payment-password change needs.
    pub codes: Codes<'a>,
    /// The user's devices (their biometric keys, the primary one).
    pub devices: &'a dyn AuthStore,
    pub passwords: &'a dyn PaymentPasswordStore,
    pub step_ups: &'a dyn StepUpStore,
    pub audits: &'a dyn AuditStore,
    pub freezes: &'a dyn FreezeStore,
    /// The face check of a reset, behind the face consent.
    pub face: crate::consents::ConsentedFace<'a>,
    pub rng: &'a dyn Rng,
    pub ids: &'a dyn Ids,
    pub clock: &'a dyn Clock,
    pub password_policy: &'a PaymentPasswordPolicy,
    pub step_up_policy: &'a StepUpPolicy,
}

/// The acting user's session and request.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub session: &'a SessionRow,
    pub request_id: Option<&'a RequestId>,
}

impl Actor<'_> {
    fn name(&self) -> String {
        format!("user:{}", self.session.user_id)
    }

    fn audit(&self, action: &str, purpose: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(self.name(), action, purpose, at).subject(&self.session.user_id).request(self.request_id)
    }
}

/// A minted step-up token.
#[derive(Debug, Clone)]
pub struct StepUp {
    pub token: String,
    pub expires_at: Timestamp,
    pub method: StepUpMethod,
}

pub struct NewPassword<'a> {
    pub password: &'a str,
    pub challenge_id: &'a str,
    pub code: &'a str,
    /// Needed when a password exists already: a reset needs SMS plus this.
    pub proof: Option<ResetProof<'a>>,
}

/// The second channel of a payment-password reset (SPEC ID6).
#[derive(Debug, Clone, Copy)]
pub enum ResetProof<'a> {
    /// A liveness capture for the face check.
    Face(&'a str),
    /// The bank confirmed a card of the user's identity.
    BankCard(&'a CardProof),
}

/// Where the user's payment password stands, for the user themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordStatus {
    pub set: bool,
    pub locked: bool,
    /// When it locked (while locked).
    pub locked_at: Option<jiff::Timestamp>,
    /// Wrong entries left before it locks.
    pub tries_left: u32,
}

impl Security<'_> {
    /// The user's own payment password status (the lock rule is the domain's).
    pub async fn password_status(&self, user: &idlink_domain::UserId) -> Result<PasswordStatus, SecurityError> {
        let max = self.password_policy.max_failures;
        Ok(match self.passwords.payment_password(user).await? {
            None => PasswordStatus { set: false, locked: false, locked_at: None, tries_left: max },
            Some(r) => {
                let locked = idlink_domain::payment_password::is_locked(r.failures, max);
                PasswordStatus { set: true, locked, locked_at: r.locked_at.filter(|_| locked), tries_left: max.saturating_sub(r.failures) }
            }
        })
    }

    /// Sets the payment password (SMS proof) or resets it (SMS + face proof).
    pub async fn set_payment_password(&self, actor: &Actor<'_>, new: &NewPassword<'_>) -> Result<(), SecurityError> {
        rules::check_new(new.password)?;
        let user = &actor.session.user_id;
        let existing = self.passwords.payment_password(user).await?;
        if existing.is_some() && new.proof.is_none() {
            return Err(SecurityError::FaceRequired);
        }
        if existing.is_some() && matches!(new.proof, Some(ResetProof::Face(_))) {
            // Before the SMS code is spent: without the consent the reset cannot go on.
            self.face.gate.check::<SecurityError>(user, idlink_domain::consent::ConsentKind::Face).await?;
        }
        self.codes
            .redeem_for_session::<SecurityError>(actor.session, actor.request_id, new.challenge_id, new.code, Purpose::PaymentPassword)
            .await?;
        match (&existing, new.proof) {
            (None, _) => {}
            (Some(_), Some(ResetProof::Face(video))) => match self.face.verify::<SecurityError>(user, video).await? {
                FaceResult::Pass => {}
                other => return Err(SecurityError::Face(other)),
            },
            (Some(_), Some(ResetProof::BankCard(proof))) if proof.user() == user => {}
            (Some(_), _) => return Err(SecurityError::FaceRequired),
        }
        let hash = payment::hash(self.password_policy, self.rng, new.password).await?;
        let now = self.clock.now();
        let action = if existing.is_some() { "payment_password.reset" } else { "payment_password.set" };
        // Apps are told the credential changed (CAEP credential-change), in the same transaction.
        let lifecycle = crate::ports::events::Lifecycle {
            kind: crate::ports::events::LifecycleType::CredentialChanged,
            user: user.clone(),
            at: now,
            actor: "user".into(),
            client: None,
            sessions: Vec::new(),
            reason: Some("payment_password".into()),
        };
        let event = crate::events::lifecycle_store_event(self.codes.vault, self.ids, &lifecycle)?;
        self.passwords.set_payment_password(user, &hash, now, &event, &actor.audit(action, "payment security", now)).await?;
        Ok(())
    }

    /// Checks the payment password and nothing more (the user's "check my
    /// password"): the same counting of failures and lock as a step-up, and
    /// no token, since no operation was asked for.
    pub async fn check_payment_password(&self, actor: &Actor<'_>, password: &str) -> Result<(), SecurityError> {
        ensure_not_frozen::<SecurityError>(self.freezes, &actor.session.user_id).await?;
        let name = actor.name();
        let attempt = Attempt { user: &actor.session.user_id, actor: &name, request_id: actor.request_id, at: self.clock.now() };
        if !payment::verify(self.passwords, self.password_policy, self.rng, &attempt, password).await? {
            return Err(SecurityError::PasswordRefused { max_failures: self.password_policy.max_failures });
        }
        Ok(())
    }

    /// A step-up token for (operation, resource) after a correct payment password.
    pub async fn step_up_with_password(
        &self,
        actor: &Actor<'_>,
        password: &str,
        operation: &str,
        resource: &str,
    ) -> Result<StepUp, SecurityError> {
        if !stepup::valid_operation(operation) {
            return Err(SecurityError::BadOperation(operation.to_owned()));
        }
        ensure_not_frozen::<SecurityError>(self.freezes, &actor.session.user_id).await?;
        let now = self.clock.now();
        let name = actor.name();
        let attempt = Attempt { user: &actor.session.user_id, actor: &name, request_id: actor.request_id, at: now };
        if !payment::verify(self.passwords, self.password_policy, self.rng, &attempt, password).await? {
            return Err(SecurityError::PasswordRefused { max_failures: self.password_policy.max_failures });
        }
        self.mint(actor, operation, resource, StepUpMethod::PaymentPassword).await
    }

    async fn mint(&self, actor: &Actor<'_>, operation: &str, resource: &str, method: StepUpMethod) -> Result<StepUp, SecurityError> {
        let binding = Binding { user: &actor.session.user_id, operation, resource };
        let (row, token) = stepup::mint(self.ids, self.rng, self.clock, self.step_up_policy, &binding, method);
        let audit = actor.audit(&format!("step_up.{}", method.as_str()), operation, row.created_at);
        self.step_ups.insert_step_up(&row, &audit).await?;
        Ok(StepUp { token, expires_at: row.expires_at, method })
    }

    /// A nonce for the session's device to sign.
    pub async fn biometric_challenge(
        &self,
        actor: &Actor<'_>,
        operation: &str,
        resource: &str,
    ) -> Result<BiometricChallenge, SecurityError> {
        if !stepup::valid_operation(operation) {
            return Err(SecurityError::BadOperation(operation.to_owned()));
        }
        let now = self.clock.now();
        let c = BiometricChallenge {
            id: self.ids.biometric_challenge(),
            user_id: actor.session.user_id.clone(),
            device_id: actor.session.device_id.clone(),
            nonce: hex::encode(self.rng.bytes32()),
            operation: operation.to_owned(),
            resource: resource.to_owned(),
            expires_at: now.checked_add(self.step_up_policy.ttl).unwrap_or(now),
        };
        self.step_ups.insert_biometric_challenge(&c).await?;
        Ok(c)
    }

    /// A step-up token after the device signed the challenge with its registered key.
    pub async fn step_up_with_biometric(
        &self,
        actor: &Actor<'_>,
        challenge_id: &str,
        signature_hex: &str,
    ) -> Result<StepUp, SecurityError> {
        let now = self.clock.now();
        let user = &actor.session.user_id;
        ensure_not_frozen::<SecurityError>(self.freezes, user).await?;
        let Ok(challenge_id) = BiometricChallengeId::parse(challenge_id) else { return Err(SecurityError::BiometricRefused) };
        let c = self.step_ups.take_biometric_challenge(&challenge_id, user, now).await?.ok_or(SecurityError::BiometricRefused)?;
        let devices = self.devices.devices(user).await?;
        let key = devices.iter().find(|d| d.id == c.device_id && d.id == actor.session.device_id).and_then(|d| d.public_key.clone());
        let valid = key.is_some_and(|k| idlink_crypto::signing::verify(&k, c.message().as_bytes(), signature_hex));
        if !valid {
            let refused = actor.audit("step_up.biometric", "payment security", now).outcome(Outcome::Denied);
            self.audits.append_audit(&refused).await?;
            return Err(SecurityError::BiometricRefused);
        }
        self.mint(actor, &c.operation, &c.resource, StepUpMethod::Biometric).await
    }

    /// Makes another registered device the primary one; needs a step-up token
    /// for `device.make_primary` on that device.
    pub async fn make_primary(&self, actor: &Actor<'_>, device_id: &str, step_up: Option<&str>) -> Result<(), SecurityError> {
        let user = &actor.session.user_id;
        ensure_not_frozen::<SecurityError>(self.freezes, user).await?;
        let binding = Binding { user, operation: stepup::MAKE_PRIMARY, resource: device_id };
        let spent = match step_up {
            Some(token) => stepup::spend(self.step_ups, self.clock, token, &binding).await?,
            None => false,
        };
        if !spent {
            return Err(SecurityError::StepUpRequired(stepup::refusal(self.step_ups, self.clock, step_up, &binding).await?));
        }
        let now = self.clock.now();
        // An id that is not a device id names none of the user's devices.
        let Ok(device) = DeviceId::parse(device_id) else { return Err(SecurityError::UnknownDevice) };
        if self.devices.set_primary_device(user, &device, &actor.audit("device.make_primary", "account security", now)).await? {
            Ok(())
        } else {
            Err(SecurityError::UnknownDevice)
        }
    }
}
