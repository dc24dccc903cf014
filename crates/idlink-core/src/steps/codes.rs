//! SMS code challenges (SPEC ID1), the step behind login, a new device's
//! check, the payment password and real-name verification.
//!
//! [`Codes::request`] sends a 6-digit code (CSPRNG, valid
//! [`AuthPolicy::code_ttl`], single use, bound to the challenge id, the
//! phone, the asking device and a [`Purpose`], [`AuthPolicy::max_code_attempts`]
//! tries) after checking the rate limits per phone and per client IP;
//! [`Codes::redeem`] checks one and uses it up.

use crate::ports::audit::{AuditEntry, Outcome};
use crate::ports::auth::{AuthStore, ChallengeRow, CodeSender, SendError, SessionRow};
use crate::ports::clock::Clock;
use crate::ports::ids::Ids;
use crate::ports::users::UserStore;
use crate::ports::{Rng, StoreError};
use crate::vault::Vault;
use idlink_domain::{ChallengeId, PhoneNumber, RequestId};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

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

impl AuthPolicy {
    /// How long a login waiting for its new-device check lives: long enough
    /// to ask for and type the second code (three code lifetimes), never the
    /// full session lifetime: the waiting session can do nothing but confirm.
    pub fn device_check_ttl(&self) -> SignedDuration {
        self.code_ttl.checked_mul(3).unwrap_or(self.code_ttl).min(self.session_ttl)
    }
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
    /// The identity step of a social-security card binding, when the face check failed.
    SocialSecurity,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::NewDevice => "new_device",
            Purpose::PaymentPassword => "payment_password",
            Purpose::Verification => "verification",
            Purpose::SocialSecurity => "social_security",
        }
    }
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
    /// Social-security bindings started for relatives by one account today
    /// (each sends the holder an SMS: a cap keeps it from becoming spam).
    OnBehalf,
}

/// Why a code was not sent or not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    #[error("too many codes requested; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64, rule: CodeLimit },
    #[error("the code is wrong; {remaining} tries left")]
    WrongCode { remaining: u32 },
    #[error("the code expired, was used, or ran out of tries; request a new one")]
    ChallengeGone,
    /// The session's user is gone (a code for a session needs its phone).
    #[error("the session is unknown, expired or revoked; log in again")]
    SessionInvalid,
}

/// Who asks, for audit records and rate limits.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: String,
    pub client_ip: String,
    pub request_id: Option<RequestId>,
}

impl Origin {
    pub fn audit(&self, action: &str, at: Timestamp) -> AuditEntry {
        AuditEntry::new(&self.actor, action, "login", at).request(self.request_id.as_ref())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChallengeIssued {
    pub challenge_id: String,
    pub expires_at: Timestamp,
}

/// A 6-digit code, uniform over 000000–999999 (rejection sampling, no modulo bias).
pub fn new_code(rng: &dyn Rng) -> String {
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

fn window(now: Timestamp, len: SignedDuration) -> Timestamp {
    let len_us = len.as_micros().max(1) as i64;
    let us = now.as_microsecond();
    Timestamp::from_microsecond(us - us.rem_euclid(len_us)).unwrap_or(now)
}

fn seconds_until(now: Timestamp, then: Timestamp) -> u64 {
    u64::try_from(then.duration_since(now).as_secs()).unwrap_or(0).max(1)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the code step needs.
pub struct Codes<'a> {
    pub store: &'a dyn AuthStore,
    pub users: &'a dyn UserStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
    pub rng: &'a dyn Rng,
    pub sender: &'a dyn CodeSender,
    pub policy: &'a AuthPolicy,
}

impl Codes<'_> {
    fn code_hash(&self, challenge_id: &str, code: &str) -> String {
        self.vault.blind_index("sms-code", &format!("{challenge_id}:{code}"))
    }

    pub fn device_hash(&self, client_device_id: &str) -> String {
        self.vault.blind_index("device", client_device_id)
    }

    pub fn phone_index(&self, phone: &PhoneNumber) -> String {
        self.vault.blind_index("phone", phone.reveal())
    }

    pub(crate) async fn limit<E>(&self, bucket: String, len: SignedDuration, max: u64, rule: CodeLimit) -> Result<(), E>
    where
        E: From<CodeRefusal> + From<StoreError>,
    {
        let now = self.clock.now();
        let start = window(now, len);
        let count = self.store.hit_rate_limit(&bucket, start).await?;
        if count > max {
            let end = start.checked_add(len).unwrap_or(now);
            return Err(CodeRefusal::RateLimited { retry_after_secs: seconds_until(now, end), rule }.into());
        }
        Ok(())
    }

    /// Sends a code for `purpose` to `phone`, for the device `client_device_id`.
    pub async fn request<E>(
        &self,
        origin: &Origin,
        phone: &PhoneNumber,
        client_device_id: &str,
        purpose: Purpose,
    ) -> Result<ChallengeIssued, E>
    where
        E: From<CodeRefusal> + From<StoreError> + From<SendError>,
    {
        let phone_index = self.phone_index(phone);
        self.limit::<E>(
            format!("code:ip:{}", origin.client_ip),
            SignedDuration::from_hours(1),
            self.policy.codes_per_ip_per_hour,
            CodeLimit::PerNetwork,
        )
        .await?;
        if self.policy.resend_interval.is_positive() {
            let bucket = format!("code:phone:{}:{phone_index}", purpose.as_str());
            self.limit::<E>(bucket, self.policy.resend_interval, 1, CodeLimit::ResendInterval).await?;
        }
        self.limit::<E>(
            format!("code:phone-hour:{phone_index}"),
            SignedDuration::from_hours(1),
            self.policy.codes_per_phone_per_hour,
            CodeLimit::PerPhone,
        )
        .await?;
        let now = self.clock.now();
        let id = self.ids.challenge();
        let code = new_code(self.rng);
        let row = ChallengeRow {
            code_hash: self.code_hash(id.as_str(), &code),
            id: id.clone(),
            purpose: purpose.as_str().to_owned(),
            phone_index,
            device_hash: self.device_hash(client_device_id),
            attempts: 0,
            created_at: now,
            expires_at: now.checked_add(self.policy.code_ttl).unwrap_or(now),
        };
        self.store.insert_challenge(&row).await?;
        self.sender.send_code(phone, &code, id.as_str()).await?;
        Ok(ChallengeIssued { challenge_id: id.into(), expires_at: row.expires_at })
    }

    /// Sends a code for `purpose` to a logged-in user's phone, bound to the session's device.
    pub async fn request_for_session<E>(
        &self,
        origin: &Origin,
        session: &SessionRow,
        phone: &PhoneNumber,
        purpose: Purpose,
    ) -> Result<ChallengeIssued, E>
    where
        E: From<CodeRefusal> + From<StoreError> + From<SendError>,
    {
        self.request(origin, phone, session.device_id.as_str(), purpose).await
    }

    /// Checks a code sent to a logged-in user's phone for `purpose` on the
    /// session's device. The phone is matched by its blind index, so it
    /// need not be decrypted; a wrong or spent code is audited as a failure.
    pub async fn redeem_for_session<E>(
        &self,
        session: &SessionRow,
        request_id: Option<&RequestId>,
        challenge_id: &str,
        code: &str,
        purpose: Purpose,
    ) -> Result<(), E>
    where
        E: From<CodeRefusal> + From<StoreError>,
    {
        let user = &session.user_id;
        let phone_index = self.users.phone_index(user).await?.ok_or(CodeRefusal::SessionInvalid)?;
        let redeemed = self.redeem(challenge_id, code, &phone_index, &self.device_hash(session.device_id.as_str()), purpose).await;
        if let Err(Redeem::Refused(CodeRefusal::WrongCode { .. } | CodeRefusal::ChallengeGone)) = &redeemed {
            let audit = AuditEntry::new(format!("user:{user}"), "sms_code.verify", purpose.as_str(), self.clock.now())
                .subject(user)
                .request(request_id)
                .outcome(Outcome::Failed);
            self.store.append_audit(&audit).await?;
        }
        redeemed.map_err(Redeem::into_error)
    }

    /// Checks a code against its challenge; the challenge is used up on success.
    pub async fn redeem(
        &self,
        challenge_id: &str,
        code: &str,
        phone_index: &str,
        device_hash: &str,
        purpose: Purpose,
    ) -> Result<(), Redeem> {
        let now = self.clock.now();
        let max = self.policy.max_code_attempts;
        // A string that is not a challenge id names no challenge.
        let Ok(challenge) = ChallengeId::parse(challenge_id) else { return Err(CodeRefusal::ChallengeGone.into()) };
        let Some(c) = self.store.attempt_challenge(&challenge, now, max).await? else {
            return Err(CodeRefusal::ChallengeGone.into());
        };
        let bound = c.phone_index == phone_index && c.device_hash == device_hash && c.purpose == purpose.as_str();
        let right = bound && constant_time_eq(c.code_hash.as_bytes(), self.code_hash(challenge_id, code).as_bytes());
        if !right {
            let remaining = max.saturating_sub(c.attempts);
            return Err(if remaining == 0 { CodeRefusal::ChallengeGone } else { CodeRefusal::WrongCode { remaining } }.into());
        }
        if !self.store.consume_challenge(&challenge, now).await? {
            return Err(CodeRefusal::ChallengeGone.into());
        }
        Ok(())
    }
}

/// A failed redemption: the code was refused, or the store failed.
#[derive(Debug)]
pub enum Redeem {
    Refused(CodeRefusal),
    Store(StoreError),
}

impl Redeem {
    pub fn into_error<E: From<CodeRefusal> + From<StoreError>>(self) -> E {
        match self {
            Redeem::Refused(r) => r.into(),
            Redeem::Store(s) => s.into(),
        }
    }
}

impl From<CodeRefusal> for Redeem {
    fn from(r: CodeRefusal) -> Self {
        Redeem::Refused(r)
    }
}

impl From<StoreError> for Redeem {
    fn from(e: StoreError) -> Self {
        Redeem::Store(e)
    }
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
