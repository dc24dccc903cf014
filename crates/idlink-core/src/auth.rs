//! Login by phone + SMS code, devices and sessions (SPEC ID1).
//!
//! A login is two calls: a code is requested through the SMS code step
//! ([`crate::steps::codes`]), then [`Auth::login`] redeems it: the user is
//! created on first login, the first device becomes the primary one, and a
//! login from a device the user never used needs a second SMS check
//! ([`Auth::confirm_device`]) before the session is active. Sessions are
//! opaque tokens stored as hashes.

use crate::ports::auth::{AuthStore, DeviceRow, LoginWrite, SendError, SessionRow, SessionStatus};
use crate::steps::codes::{AuthPolicy, ChallengeIssued, CodeRefusal, Origin, Purpose};

use crate::ports::audit::Outcome;
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::users::{UserRow, UserStore};
use crate::ports::{Rng, StoreError};
use crate::steps::codes::{Codes, constant_time_eq};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::{PhoneNumber, SessionId, UserId};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Code(#[from] CodeRefusal),
    #[error("the session is unknown, expired or revoked; log in again")]
    SessionInvalid,
    #[error("this session is waiting for the new device's SMS check")]
    DeviceCheckRequired,
    #[error("the account was being created concurrently; retry")]
    ConcurrentSignUp,
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Everything the login use cases need.
pub struct Auth<'a> {
    pub store: &'a dyn AuthStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub codes: Codes<'a>,
    pub policy: &'a AuthPolicy,
}

/// The session id of a token (`ses_….<secret>`); a token without one names no session.
fn session_id(token: &str) -> Result<SessionId, AuthError> {
    let (id, _) = token.split_once('.').ok_or(AuthError::SessionInvalid)?;
    SessionId::parse(id).map_err(|_| AuthError::SessionInvalid)
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Auth<'_> {
    /// Sends a login (or new-device) code to `phone` for the device `client_device_id`.
    pub async fn request_code(
        &self,
        origin: &Origin,
        phone: &PhoneNumber,
        client_device_id: &str,
        purpose: Purpose,
    ) -> Result<ChallengeIssued, AuthError> {
        self.codes.request(origin, phone, client_device_id, purpose).await
    }

    /// Sends a code for `purpose` to a logged-in user's phone, bound to the session's device.
    pub async fn request_code_for_session(
        &self,
        origin: &Origin,
        session: &SessionRow,
        phone: &PhoneNumber,
        purpose: Purpose,
    ) -> Result<ChallengeIssued, AuthError> {
        self.codes.request_for_session(origin, session, phone, purpose).await
    }

    pub fn device_hash(&self, client_device_id: &str) -> String {
        self.codes.device_hash(client_device_id)
    }

    /// Redeems a login code; creates the user on first login.
    pub async fn login(&self, origin: &Origin, req: &LoginRequest<'_>) -> Result<LoginOutcome, AuthError> {
        let phone_index = self.codes.phone_index(req.phone);
        let device_hash = self.device_hash(req.client_device_id);
        self.codes
            .redeem(req.challenge_id, req.code, &phone_index, &device_hash, Purpose::Login)
            .await
            .map_err(|e| e.into_error::<AuthError>())?;
        for _ in 0..2 {
            match self.write_login(origin, req, &phone_index, &device_hash).await {
                // Two first logins of one phone raced; the other created the user: log in to it.
                Err(AuthError::Store(StoreError::Unique(_))) => continue,
                other => return other,
            }
        }
        Err(AuthError::ConcurrentSignUp)
    }

    async fn write_login(
        &self,
        origin: &Origin,
        req: &LoginRequest<'_>,
        phone_index: &str,
        device_hash: &str,
    ) -> Result<LoginOutcome, AuthError> {
        let now = self.clock.now();
        let existing = self.users.find_user_by_phone_index(phone_index).await?;
        let (user_id, new_user) = match existing {
            Some(id) => (id, None),
            None => {
                let id = self.ids.user();
                let (dek, wrapped) = self.vault.new_user_key(&id)?;
                let row = UserRow {
                    id: id.clone(),
                    phone_cipher: self.vault.seal(&dek, "users.phone", req.phone.reveal().as_bytes())?,
                    phone_index: phone_index.to_owned(),
                    created_at: now,
                };
                (id, Some((row, wrapped)))
            }
        };
        let known = match &new_user {
            Some(_) => None,
            None => self.store.device_by_hash(&user_id, device_hash).await?,
        };
        let has_devices = new_user.is_none() && !self.store.devices(&user_id).await?.is_empty();
        let device = known.clone().unwrap_or_else(|| DeviceRow {
            id: self.ids.device(),
            user_id: user_id.clone(),
            device_hash: device_hash.to_owned(),
            name: req.device_name.to_owned(),
            public_key: req.public_key.map(str::to_owned),
            primary: !has_devices,
            created_at: now,
            last_seen_at: now,
        });
        // A new device, or any device once the real name was revoked (RV3), proves the phone by SMS first.
        let extra_check = new_user.is_none() && self.store.login_check_required(&user_id).await?;
        let status =
            if (known.is_none() && has_devices) || extra_check { SessionStatus::DeviceCheckRequired } else { SessionStatus::Active };
        let secret = hex::encode(self.rng.bytes32());
        let session = SessionRow {
            id: self.ids.session(),
            user_id: user_id.clone(),
            device_id: device.id.clone(),
            client_ip: Some(origin.client_ip.clone()),
            secret_hash: hash_secret(&secret),
            status,
            created_at: now,
            expires_at: now
                .checked_add(if status == SessionStatus::Active { self.policy.session_ttl } else { self.policy.device_check_ttl() })
                .unwrap_or(now),
            revoked_at: None,
        };
        let mut audit = Vec::new();
        if new_user.is_some() {
            audit.push(origin.audit("user.create", now).subject(&user_id));
        }
        let action = if status == SessionStatus::Active { "session.create" } else { "session.device_check_required" };
        audit.push(origin.audit(action, now).subject(&user_id));
        let write = LoginWrite {
            new_user: new_user.as_ref().map(|(u, k)| (u, k)),
            // A new device is registered only once its check passes.
            new_device: (known.is_none() && status == SessionStatus::Active).then_some(&device),
            session: &session,
            audit: &audit,
        };
        self.store.write_login(&write).await?;
        Ok(LoginOutcome { token: format!("{}.{secret}", session.id), session, device, new_user: new_user.is_some() })
    }

    /// Sends the second code a new device needs.
    pub async fn request_device_check(
        &self,
        origin: &Origin,
        session: &SessionRow,
        phone: &PhoneNumber,
        client_device_id: &str,
    ) -> Result<ChallengeIssued, AuthError> {
        if session.status != SessionStatus::DeviceCheckRequired {
            return Err(AuthError::SessionInvalid);
        }
        self.codes.request(origin, phone, client_device_id, Purpose::NewDevice).await
    }

    /// Redeems the new device's code: the device is registered and the session becomes active.
    pub async fn confirm_device(&self, origin: &Origin, token: &str, req: &LoginRequest<'_>) -> Result<SessionRow, AuthError> {
        let session = self.pending_session(token).await?;
        let phone_index = self.codes.phone_index(req.phone);
        let device_hash = self.device_hash(req.client_device_id);
        if self.users.find_user_by_phone_index(&phone_index).await?.as_ref() != Some(&session.user_id) {
            return Err(CodeRefusal::ChallengeGone.into());
        }
        self.codes
            .redeem(req.challenge_id, req.code, &phone_index, &device_hash, Purpose::NewDevice)
            .await
            .map_err(|e| e.into_error::<AuthError>())?;
        let now = self.clock.now();
        let device = DeviceRow {
            id: session.device_id.clone(),
            user_id: session.user_id.clone(),
            device_hash,
            name: req.device_name.to_owned(),
            public_key: req.public_key.map(str::to_owned),
            primary: false,
            created_at: now,
            last_seen_at: now,
        };
        let audit = origin.audit("device.register", now).subject(&session.user_id);
        // The session's full lifetime starts once the device is confirmed.
        let expires_at = now.checked_add(self.policy.session_ttl).unwrap_or(now);
        if !self.store.confirm_device(&session.id, expires_at, &device, &audit).await? {
            return Err(AuthError::SessionInvalid);
        }
        Ok(SessionRow { status: SessionStatus::Active, expires_at, ..session })
    }

    async fn lookup(&self, token: &str) -> Result<SessionRow, AuthError> {
        self.validate(token, self.store.session(&session_id(token)?).await?)
    }

    /// Checks `token` against the stored row read for its id.
    fn validate(&self, token: &str, row: Option<SessionRow>) -> Result<SessionRow, AuthError> {
        let (id, secret) = token.split_once('.').ok_or(AuthError::SessionInvalid)?;
        let s = row.filter(|s| s.id.as_str() == id).ok_or(AuthError::SessionInvalid)?;
        let valid = constant_time_eq(s.secret_hash.as_bytes(), hash_secret(secret).as_bytes())
            && s.revoked_at.is_none()
            && s.expires_at > self.clock.now();
        if valid { Ok(s) } else { Err(AuthError::SessionInvalid) }
    }

    /// [`Self::session`] with the row already read (by [`crate::apikeys::authenticate_with_session`]).
    pub fn session_with(&self, token: &str, row: Option<SessionRow>) -> Result<SessionRow, AuthError> {
        let s = self.validate(token, row)?;
        match s.status {
            SessionStatus::Active => Ok(s),
            SessionStatus::DeviceCheckRequired => Err(AuthError::DeviceCheckRequired),
        }
    }

    /// An active session for `token`.
    pub async fn session(&self, token: &str) -> Result<SessionRow, AuthError> {
        self.session_with(token, self.store.session(&session_id(token)?).await?)
    }

    /// A session waiting for its device check.
    pub async fn pending_session(&self, token: &str) -> Result<SessionRow, AuthError> {
        let s = self.lookup(token).await?;
        match s.status {
            SessionStatus::DeviceCheckRequired => Ok(s),
            SessionStatus::Active => Err(AuthError::SessionInvalid),
        }
    }

    /// Logs this session out (its holder asks, so a pending session may too).
    /// True when it was live.
    pub async fn log_out(&self, origin: &Origin, token: &str) -> Result<bool, AuthError> {
        let s = self.lookup(token).await?;
        let now = self.clock.now();
        let audit = origin.audit("session.revoke", now).subject(&s.user_id).outcome(Outcome::Success);
        let event = self.sessions_event(&s.user_id, now, vec![s.id.clone()], "logout")?;
        Ok(self.store.revoke_session(&s.id, now, &event, &audit).await?)
    }

    /// Logs the user out everywhere.
    pub async fn revoke_all(&self, origin: &Origin, user: &UserId) -> Result<u64, AuthError> {
        let now = self.clock.now();
        let audit = origin.audit("session.revoke_all", now).subject(user).outcome(Outcome::Success);
        let event = self.sessions_event(user, now, Vec::new(), "user")?;
        Ok(self.store.revoke_sessions(user, now, &event, &audit).await?)
    }

    /// The lifecycle event of ended sessions (every one when `sessions` is empty).
    fn sessions_event(
        &self,
        user: &UserId,
        at: jiff::Timestamp,
        sessions: Vec<idlink_domain::SessionId>,
        reason: &str,
    ) -> Result<crate::ports::outbox::NewEvent, AuthError> {
        let lifecycle = crate::ports::events::Lifecycle {
            kind: crate::ports::events::LifecycleType::SessionsRevoked,
            user: user.clone(),
            at,
            actor: "user".into(),
            client: None,
            sessions,
            reason: Some(reason.into()),
        };
        crate::events::lifecycle_event(self.vault, self.ids, &lifecycle)
    }
}

#[derive(Debug, Clone)]
pub struct LoginRequest<'a> {
    pub phone: &'a PhoneNumber,
    pub client_device_id: &'a str,
    pub device_name: &'a str,
    pub public_key: Option<&'a str>,
    pub challenge_id: &'a str,
    pub code: &'a str,
}

#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// `ses_….<secret>`, shown once.
    pub token: String,
    pub session: SessionRow,
    pub device: DeviceRow,
    pub new_user: bool,
}
