//! Opaque identifiers. Each kind has a short prefix (`usr_`, `key_`, `req_`)
//! so a misplaced id is obvious in logs and in API answers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a valid identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id: expected `{prefix}` followed by 1 to 64 letters, digits, `-` or `_`")]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

/// Lowercase hex digits, for ids made from random bytes.
const HEX: &[u8; 16] = b"0123456789abcdef";

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Builds an id from random bytes supplied by the caller's RNG port.
            pub fn from_random(bytes: [u8; 16]) -> Self {
                let mut s = String::with_capacity($prefix.len() + 32);
                s.push_str($prefix);
                for b in bytes {
                    s.push(char::from(HEX[usize::from(b >> 4)]));
                    s.push(char::from(HEX[usize::from(b & 0x0f)]));
                }
                Self(s)
            }

            pub fn parse(value: &str) -> Result<Self, IdError> {
                let rest = value.strip_prefix($prefix);
                let ok = rest.is_some_and(|r| {
                    !r.is_empty()
                        && r.len() <= 64
                        && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
                if ok {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(IdError { kind: $kind, prefix: $prefix, value: value.chars().take(80).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// An end user of the host app.
    UserId, "usr_", "user"
);
prefixed_id!(
    /// A host-app API key (the public half; the secret is never stored).
    ApiKeyId, "key_", "API key"
);
prefixed_id!(
    /// One HTTP request, echoed in `x-request-id`, problem documents and audit records.
    RequestId, "req_", "request"
);

prefixed_id!(
    /// A bank card bound to a user.
    BindingId, "bnd_", "card binding"
);
prefixed_id!(
    /// An operator review case.
    CaseId, "case_", "review case"
);
prefixed_id!(
    /// A credit-report request (issue 15).
    CreditRequestId, "crq_", "credit-report request"
);
prefixed_id!(
    /// A real-name verification attempt.
    VerificationId, "ver_", "verification"
);
prefixed_id!(
    /// A minor's link to a guardian.
    GuardianshipId, "grd_", "guardianship"
);

prefixed_id!(
    /// A device a user logged in from.
    DeviceId, "dev_", "device"
);
prefixed_id!(
    /// A user's session (the public half of its token; the secret is stored hashed).
    SessionId, "ses_", "session"
);
prefixed_id!(
    /// An SMS code challenge.
    ChallengeId, "chl_", "challenge"
);
prefixed_id!(
    /// A step-up token (the public half; the secret is stored hashed).
    StepUpId, "stu_", "step-up token"
);
prefixed_id!(
    /// A nonce a device signs for a biometric step-up.
    BiometricChallengeId, "bio_", "biometric challenge"
);
prefixed_id!(
    /// A signed electronic agreement of a card (tier 4).
    AgreementId, "agr_", "agreement"
);
prefixed_id!(
    /// One balance query in a user's history.
    QueryId, "bq_", "balance query"
);
prefixed_id!(
    /// An operator of the host company.
    OperatorId, "op_", "operator"
);
prefixed_id!(
    /// An operator's session (the public half of its token).
    OperatorSessionId, "ops_", "operator session"
);
prefixed_id!(
    /// An outbox event; receivers deduplicate by it.
    EventId, "evt_", "outbox event"
);
prefixed_id!(
    /// A proposed sensitive operator action awaiting a second operator (dual control, ADR 0015).
    ProposalId, "prp_", "proposal"
);
prefixed_id!(
    /// A scheduled maintenance window of an institution (ADR 0018).
    MaintenanceId, "mnt_", "maintenance window"
);

prefixed_id!(
    /// A third-party app registered with the OpenID provider (SPEC TP1).
    ClientId, "cli_", "client"
);
prefixed_id!(
    /// What a user authorised one app to hold (SPEC TP1, TP2).
    GrantId, "grt_", "grant"
);
prefixed_id!(
    /// A consent as given on the consent page (PIPL art. 29).
    ConsentId, "cns_", "consent"
);
prefixed_id!(
    /// An authorization request waiting for the user's consent.
    AuthzRequestId, "azr_", "authorization request"
);
prefixed_id!(
    /// A family of rotating refresh tokens: a reused member revokes it.
    RefreshFamilyId, "rtf_", "refresh token family"
);
prefixed_id!(
    /// A Shared Signals stream of one client (OpenID SSF 1.0).
    StreamId, "sst_", "stream"
);
prefixed_id!(
    /// A client's webhook endpoint (Standard Webhooks).
    EndpointId, "whe_", "webhook endpoint"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_round_trip_and_wrong_prefixes_are_refused() {
        let id = UserId::from_random([0xab; 16]);
        assert_eq!(id.as_str(), "usr_abababababababababababababababab");
        let bytes: [u8; 16] = [0x00, 0x0f, 0xf0, 0x9a, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff];
        assert_eq!(UserId::from_random(bytes).as_str(), "usr_000ff09a0405060708090a0b0c0d0eff");
        assert_eq!(UserId::parse(id.as_str()), Ok(id.clone()));
        assert!(UserId::parse("key_abc").is_err());
        assert!(UserId::parse("usr_").is_err());
        assert!(UserId::parse("usr_a b").is_err());
        let err = UserId::parse("nope").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("usr_"), "{err}");
    }
}
