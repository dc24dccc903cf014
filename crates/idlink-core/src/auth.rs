//! Login by phone + SMS code, devices and sessions (SPEC ID1).
//!
//! A login is two calls. [`request_code`] sends a 6-digit code (CSPRNG,
//! valid [`AuthPolicy::code_ttl`], single use, bound to the challenge id
//! and the asking device, [`AuthPolicy::max_code_attempts`] tries) after
//! checking the rate limits per phone and per client IP. [`login`] redeems
//! it: the user is created on first login, the first device becomes the
//! primary one, and a login from a device the user never used needs a
//! second SMS check ([`confirm_device`]) before the session is active.
//! Sessions are opaque tokens stored as hashes.

use crate::audit::{AuditEntry, Outcome};
use crate::clock::Clock;
use crate::error::CoreError;
use crate::ports::{StoreError, UserRow, UserStore};
use crate::vault::Vault;
use async_trait::async_trait;
use idlink_domain::{PhoneNumber, RequestId, UserId};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The numbers of ID1, all configurable (`[login]` in the configuration).
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    pub code_ttl: SignedDuration,
    pub max_code_attempts: u32,
    /// At most one code per phone and purpose in this interval (zero: no interval).
    pub resend_interval: SignedDuration,
    pub codes_per_phone_per_hour: u64,
    pub codes_per_ip_per_hour: u64,
    pub session_ttl: SignedDuration,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            code_ttl: SignedDuration::from_mins(5),
            max_code_attempts: 5,
            resend_interval: SignedDuration::from_secs(60),
            codes_per_phone_per_hour: 5,
            codes_per_ip_per_hour: 30,
            session_ttl: SignedDuration::from_hours(24 * 30),
        }
    }
}

/// Why a code was requested; a code only works for its purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Login,
    NewDevice,
    /// Setting or resetting the payment password.
    PaymentPassword,
    /// Proving the phone element of a real-name verification.
    Verification,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::NewDevice => "new_device",
            Purpose::PaymentPassword => "payment_password",
            Purpose::Verification => "verification",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRow {
    pub id: String,
    pub purpose: String,
    pub phone_index: String,
    pub device_hash: String,
    pub code_hash: String,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: UserId,
    #[serde(skip)]
    pub device_hash: String,
    pub name: String,
    /// Ed25519 public key (hex) for signed biometric assertions, if registered.
    pub public_key: Option<String>,
    pub primary: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    /// Waiting for the second SMS check of a new device.
    DeviceCheckRequired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::DeviceCheckRequired => "device_check_required",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(SessionStatus::Active),
            "device_check_required" => Some(SessionStatus::DeviceCheckRequired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub user_id: UserId,
    pub device_id: String,
    /// The client's IP address at login (for the region-jump signal).
    pub client_ip: Option<String>,
    pub secret_hash: String,
    pub status: SessionStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// What the login transaction writes.
#[derive(Debug)]
pub struct LoginWrite<'a> {
    pub new_user: Option<(&'a UserRow, &'a idlink_crypto::WrappedDataKey)>,
    pub new_device: Option<&'a DeviceRow>,
    pub session: &'a SessionRow,
    pub audit: &'a [AuditEntry],
}

#[async_trait]
pub trait AuthStore: crate::ports::AuditStore + Send + Sync {
    /// Adds one to the counter of `bucket` in the window starting at `window_start`; returns the new count.
    async fn hit_rate_limit(&self, bucket: &str, window_start: Timestamp) -> Result<u64, StoreError>;
    async fn insert_challenge(&self, c: &ChallengeRow) -> Result<(), StoreError>;
    /// Counts one attempt on a usable challenge (unused, unexpired, attempts left) and returns it;
    /// `None` when there is no usable challenge with this id.
    async fn attempt_challenge(&self, id: &str, now: Timestamp, max_attempts: u32) -> Result<Option<ChallengeRow>, StoreError>;
    /// Marks the challenge used; false if another request used it first.
    async fn consume_challenge(&self, id: &str, now: Timestamp) -> Result<bool, StoreError>;
    async fn device_by_hash(&self, user: &UserId, device_hash: &str) -> Result<Option<DeviceRow>, StoreError>;
    async fn devices(&self, user: &UserId) -> Result<Vec<DeviceRow>, StoreError>;
    /// Writes a login in one transaction (user, device, session, audit).
    async fn write_login(&self, w: &LoginWrite<'_>) -> Result<(), StoreError>;
    async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError>;
    /// Activates a session waiting for its device check and registers the device.
    async fn confirm_device(&self, session_id: &str, device: &DeviceRow, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Makes `device_id` the user's only primary device; false when it is not theirs.
    async fn set_primary_device(&self, user: &UserId, device_id: &str, audit: &AuditEntry) -> Result<bool, StoreError>;
    /// Revokes every session of the user; returns how many were active.
    async fn revoke_sessions(&self, user: &UserId, now: Timestamp, audit: &AuditEntry) -> Result<u64, StoreError>;
}

/// Sends verification codes (the SMS gateway connector in production).
#[async_trait]
pub trait CodeSender: Send + Sync {
    async fn send_code(&self, to: &PhoneNumber, code: &str, client_ref: &str) -> Result<(), SendError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the SMS gateway is unavailable; retry after {retry_after_secs} s")]
    Unavailable { retry_after_secs: u64 },
    #[error("the operator refused the message (number unreachable)")]
    Rejected,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("too many codes requested; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64, rule: CodeLimit },
    #[error("the code is wrong; {remaining} tries left")]
    WrongCode { remaining: u32 },
    #[error("the code expired, was used, or ran out of tries; request a new one")]
    ChallengeGone,
    #[error("the session is unknown, expired or revoked; log in again")]
    SessionInvalid,
    #[error("this session is waiting for the new device's SMS check")]
    DeviceCheckRequired,
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Core(CoreError::Store(e))
    }
}

/// Who asks, for audit records and rate limits.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: String,
    pub client_ip: String,
    pub request_id: Option<RequestId>,
}

impl Origin {
    fn audit(&self, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(&self.actor, action, "login", at).request(self.request_id.as_ref())
    }
}

/// Everything the login use cases need.
pub struct Auth<'a> {
    pub store: &'a dyn AuthStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub sender: &'a dyn CodeSender,
    pub policy: &'a AuthPolicy,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChallengeIssued {
    pub challenge_id: String,
    pub expires_at: Timestamp,
}

/// A 6-digit code, uniform over 000000–999999 (rejection sampling, no modulo bias).
pub fn new_code(rng: &dyn idlink_crypto::Random) -> String {
    loop {
        let mut b = [0u8; 4];
        rng.fill(&mut b);
        let n = u32::from_le_bytes(b);
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn window(now: Timestamp, len: SignedDuration) -> Timestamp {
    let len_us = len.as_micros().max(1) as i64;
    let us = now.as_microsecond();
    Timestamp::from_microsecond(us - us.rem_euclid(len_us)).unwrap_or(now)
}

/// Which limit on sending SMS codes was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLimit {
    /// A code went to this number moments ago (`login.resend_interval_secs`).
    ResendInterval,
    /// Codes to this number this hour (`login.codes_per_phone_per_hour`).
    PerPhone,
    /// Codes requested from this network this hour (`login.codes_per_ip_per_hour`).
    PerNetwork,
}

fn seconds_until(now: Timestamp, then: Timestamp) -> u64 {
    u64::try_from(then.duration_since(now).as_secs()).unwrap_or(0).max(1)
}

impl Auth<'_> {
    fn code_hash(&self, challenge_id: &str, code: &str) -> String {
        self.vault.blind_index("sms-code", &format!("{challenge_id}:{code}"))
    }

    pub fn device_hash(&self, client_device_id: &str) -> String {
        self.vault.blind_index("device", client_device_id)
    }

    async fn limit(&self, bucket: String, len: SignedDuration, max: u64, rule: CodeLimit) -> Result<(), AuthError> {
        let now = self.clock.now();
        let start = window(now, len);
        let count = self.store.hit_rate_limit(&bucket, start).await?;
        if count > max {
            let end = start.checked_add(len).unwrap_or(now);
            return Err(AuthError::RateLimited { retry_after_secs: seconds_until(now, end), rule });
        }
        Ok(())
    }

    /// Sends a code for `purpose` to `phone`, for the device `client_device_id`.
    pub async fn request_code(
        &self,
        origin: &Origin,
        phone: &PhoneNumber,
        client_device_id: &str,
        purpose: Purpose,
    ) -> Result<ChallengeIssued, AuthError> {
        let phone_index = self.vault.blind_index("phone", phone.reveal());
        self.limit(
            format!("code:ip:{}", origin.client_ip),
            SignedDuration::from_hours(1),
            self.policy.codes_per_ip_per_hour,
            CodeLimit::PerNetwork,
        )
        .await?;
        if self.policy.resend_interval.is_positive() {
            let bucket = format!("code:phone:{}:{phone_index}", purpose.as_str());
            self.limit(bucket, self.policy.resend_interval, 1, CodeLimit::ResendInterval).await?;
        }
        self.limit(
            format!("code:phone-hour:{phone_index}"),
            SignedDuration::from_hours(1),
            self.policy.codes_per_phone_per_hour,
            CodeLimit::PerPhone,
        )
        .await?;
        let now = self.clock.now();
        let id = format!("chl_{}", hex::encode(self.vault.rng().bytes16()));
        let code = new_code(self.vault.rng());
        let row = ChallengeRow {
            code_hash: self.code_hash(&id, &code),
            id: id.clone(),
            purpose: purpose.as_str().to_owned(),
            phone_index,
            device_hash: self.device_hash(client_device_id),
            attempts: 0,
            created_at: now,
            expires_at: now.checked_add(self.policy.code_ttl).unwrap_or(now),
        };
        self.store.insert_challenge(&row).await?;
        self.sender.send_code(phone, &code, &id).await?;
        Ok(ChallengeIssued { challenge_id: id, expires_at: row.expires_at })
    }

    /// Checks a code sent to a logged-in user's phone for `purpose` on the
    /// session's device. The phone is matched by its blind index, so it
    /// need not be decrypted; a wrong or spent code is audited as a failure.
    pub async fn redeem_for_session(
        &self,
        session: &SessionRow,
        request_id: Option<&RequestId>,
        challenge_id: &str,
        code: &str,
        purpose: Purpose,
    ) -> Result<(), AuthError> {
        let user = &session.user_id;
        let phone_index = self.users.phone_index(user).await?.ok_or(AuthError::SessionInvalid)?;
        let redeemed = self.redeem(challenge_id, code, &phone_index, &self.device_hash(&session.device_id), purpose).await;
        if let Err(AuthError::WrongCode { .. } | AuthError::ChallengeGone) = &redeemed {
            let audit = AuditEntry::new(format!("user:{user}"), "sms_code.verify", purpose.as_str(), self.clock.now())
                .subject(user)
                .request(request_id)
                .outcome(Outcome::Failed);
            self.store.append_audit(&audit).await?;
        }
        redeemed
    }

    /// Sends a code for `purpose` to a logged-in user's phone, bound to the session's device.
    pub async fn request_code_for_session(
        &self,
        origin: &Origin,
        session: &SessionRow,
        phone: &PhoneNumber,
        purpose: Purpose,
    ) -> Result<ChallengeIssued, AuthError> {
        self.request_code(origin, phone, &session.device_id, purpose).await
    }

    /// Checks a code against its challenge; the challenge is used up on success.
    async fn redeem(
        &self,
        challenge_id: &str,
        code: &str,
        phone_index: &str,
        device_hash: &str,
        purpose: Purpose,
    ) -> Result<(), AuthError> {
        let now = self.clock.now();
        let max = self.policy.max_code_attempts;
        let Some(c) = self.store.attempt_challenge(challenge_id, now, max).await? else {
            return Err(AuthError::ChallengeGone);
        };
        let bound = c.phone_index == phone_index && c.device_hash == device_hash && c.purpose == purpose.as_str();
        let right = bound && constant_time_eq(c.code_hash.as_bytes(), self.code_hash(challenge_id, code).as_bytes());
        if !right {
            let remaining = max.saturating_sub(c.attempts);
            return Err(if remaining == 0 { AuthError::ChallengeGone } else { AuthError::WrongCode { remaining } });
        }
        if !self.store.consume_challenge(challenge_id, now).await? {
            return Err(AuthError::ChallengeGone);
        }
        Ok(())
    }

    /// Redeems a login code; creates the user on first login.
    pub async fn login(&self, origin: &Origin, req: &LoginRequest<'_>) -> Result<LoginOutcome, AuthError> {
        let phone_index = self.vault.blind_index("phone", req.phone.reveal());
        let device_hash = self.device_hash(req.client_device_id);
        self.redeem(req.challenge_id, req.code, &phone_index, &device_hash, Purpose::Login).await?;
        for _ in 0..2 {
            match self.write_login(origin, req, &phone_index, &device_hash).await {
                // Two first logins of one phone raced; the other created the user: log in to it.
                Err(AuthError::Core(CoreError::Store(StoreError::Unique(_)))) => continue,
                other => return other,
            }
        }
        Err(AuthError::Core(CoreError::Conflict("the account was being created concurrently; retry".into())))
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
                let id = UserId::from_random(self.vault.rng().bytes16());
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
            id: format!("dev_{}", hex::encode(self.vault.rng().bytes16())),
            user_id: user_id.clone(),
            device_hash: device_hash.to_owned(),
            name: req.device_name.to_owned(),
            public_key: req.public_key.map(str::to_owned),
            primary: !has_devices,
            created_at: now,
            last_seen_at: now,
        });
        let status = if known.is_none() && has_devices { SessionStatus::DeviceCheckRequired } else { SessionStatus::Active };
        let secret = hex::encode(self.vault.rng().bytes32());
        let session = SessionRow {
            id: format!("ses_{}", hex::encode(self.vault.rng().bytes16())),
            user_id: user_id.clone(),
            device_id: device.id.clone(),
            client_ip: Some(origin.client_ip.clone()),
            secret_hash: hash_secret(&secret),
            status,
            created_at: now,
            expires_at: now.checked_add(self.policy.session_ttl).unwrap_or(now),
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
        self.request_code(origin, phone, client_device_id, Purpose::NewDevice).await
    }

    /// Redeems the new device's code: the device is registered and the session becomes active.
    pub async fn confirm_device(&self, origin: &Origin, token: &str, req: &LoginRequest<'_>) -> Result<SessionRow, AuthError> {
        let session = self.pending_session(token).await?;
        let phone_index = self.vault.blind_index("phone", req.phone.reveal());
        let device_hash = self.device_hash(req.client_device_id);
        if self.users.find_user_by_phone_index(&phone_index).await?.as_ref() != Some(&session.user_id) {
            return Err(AuthError::ChallengeGone);
        }
        self.redeem(req.challenge_id, req.code, &phone_index, &device_hash, Purpose::NewDevice).await?;
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
        if !self.store.confirm_device(&session.id, &device, &audit).await? {
            return Err(AuthError::SessionInvalid);
        }
        Ok(SessionRow { status: SessionStatus::Active, ..session })
    }

    async fn lookup(&self, token: &str) -> Result<SessionRow, AuthError> {
        let (id, _) = token.split_once('.').ok_or(AuthError::SessionInvalid)?;
        self.validate(token, self.store.session(id).await?)
    }

    /// Checks `token` against the stored row read for its id.
    fn validate(&self, token: &str, row: Option<SessionRow>) -> Result<SessionRow, AuthError> {
        let (id, secret) = token.split_once('.').ok_or(AuthError::SessionInvalid)?;
        let s = row.filter(|s| s.id == id).ok_or(AuthError::SessionInvalid)?;
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
        let (id, _) = token.split_once('.').ok_or(AuthError::SessionInvalid)?;
        self.session_with(token, self.store.session(id).await?)
    }

    /// A session waiting for its device check.
    pub async fn pending_session(&self, token: &str) -> Result<SessionRow, AuthError> {
        let s = self.lookup(token).await?;
        match s.status {
            SessionStatus::DeviceCheckRequired => Ok(s),
            SessionStatus::Active => Err(AuthError::SessionInvalid),
        }
    }

    /// Logs the user out everywhere.
    pub async fn revoke_all(&self, origin: &Origin, user: &UserId) -> Result<u64, AuthError> {
        let now = self.clock.now();
        let audit = origin.audit("session.revoke_all", now).subject(user).outcome(Outcome::Success);
        Ok(self.store.revoke_sessions(user, now, &audit).await?)
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::SeededRandom;

    #[test]
    fn codes_are_six_digits_and_cover_the_range() {
        let rng = SeededRandom::new(9);
        let codes: Vec<String> = (0..2000).map(|_| new_code(&rng)).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        let first_digits: std::collections::BTreeSet<u8> = codes.iter().map(|c| c.as_bytes()[0]).collect();
        assert_eq!(first_digits.len(), 10, "leading zeros occur too");
    }

    #[test]
    fn windows_align_to_their_length() {
        let t = Timestamp::from_second(3_725).unwrap_or_default();
        assert_eq!(window(t, SignedDuration::from_hours(1)), Timestamp::from_second(3_600).unwrap_or_default());
        assert_eq!(window(t, SignedDuration::from_secs(60)), Timestamp::from_second(3_720).unwrap_or_default());
    }
}
