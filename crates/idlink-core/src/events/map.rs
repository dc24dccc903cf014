//! The event map (`docs/events.md`): how each lifecycle type is named to apps
//! on each channel — the Standard Webhook type, the RISC/CAEP Security Event
//! Token type and its event claims, and whether it ends the app's sessions
//! (back-channel logout).

use crate::ports::events::LifecycleType;
use serde_json::{Value, json};

const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";

/// The OIDC Back-Channel Logout 1.0 event.
pub const BACKCHANNEL_LOGOUT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The Standard Webhook `type`.
pub fn webhook_type(t: LifecycleType) -> &'static str {
    match t {
        LifecycleType::GrantRevoked => "grant.revoked",
        LifecycleType::IdentityVerified => "identity.verified",
        LifecycleType::IdentityChanged => "identity.changed",
        LifecycleType::IdentityRevoked => "identity.revoked",
        LifecycleType::AccountDisabled => "account.disabled",
        LifecycleType::AccountEnabled => "account.enabled",
        LifecycleType::AccountPurged => "account.purged",
        LifecycleType::SessionsRevoked => "session.revoked",
        LifecycleType::CredentialChanged => "credential.changed",
    }
}

/// The SET event type URI (RISC 1.0 or CAEP 1.0).
pub fn set_type(t: LifecycleType) -> String {
    match t {
        LifecycleType::GrantRevoked | LifecycleType::SessionsRevoked => format!("{CAEP}session-revoked"),
        LifecycleType::IdentityVerified | LifecycleType::IdentityChanged | LifecycleType::IdentityRevoked => {
            format!("{CAEP}assurance-level-change")
        }
        LifecycleType::AccountDisabled => format!("{RISC}account-disabled"),
        LifecycleType::AccountEnabled => format!("{RISC}account-enabled"),
        LifecycleType::AccountPurged => format!("{RISC}account-purged"),
        LifecycleType::CredentialChanged => format!("{CAEP}credential-change"),
    }
}

/// Every SET type idlink transmits (`events_supported` of the SSF configuration).
pub fn set_types_supported() -> Vec<String> {
    let mut all: Vec<String> = ALL.iter().map(|t| set_type(*t)).collect();
    all.sort();
    all.dedup();
    all
}

pub const ALL: [LifecycleType; 9] = [
    LifecycleType::GrantRevoked,
    LifecycleType::IdentityVerified,
    LifecycleType::IdentityChanged,
    LifecycleType::IdentityRevoked,
    LifecycleType::AccountDisabled,
    LifecycleType::AccountEnabled,
    LifecycleType::AccountPurged,
    LifecycleType::SessionsRevoked,
    LifecycleType::CredentialChanged,
];

/// Whether the app must end the user's sessions (a logout token is sent).
pub fn ends_sessions(t: LifecycleType) -> bool {
    matches!(
        t,
        LifecycleType::GrantRevoked
            | LifecycleType::IdentityRevoked
            | LifecycleType::AccountDisabled
            | LifecycleType::AccountPurged
            | LifecycleType::SessionsRevoked
    )
}

/// The event claims of the SET (the members CAEP/RISC define for the type).
/// `event_timestamp` is the event time in seconds; `reason` is the stable
/// reason code the store wrote (never free text).
pub fn set_event(t: LifecycleType, event_timestamp: i64, reason: Option<&str>, trust_framework: &str) -> Value {
    match t {
        LifecycleType::GrantRevoked | LifecycleType::SessionsRevoked => {
            json!({"event_timestamp": event_timestamp, "initiating_entity": initiating_entity(reason)})
        }
        LifecycleType::IdentityVerified | LifecycleType::IdentityChanged => json!({
            "event_timestamp": event_timestamp, "namespace": trust_framework,
            "current_level": reason.unwrap_or("verified"), "change_direction": "increase",
        }),
        LifecycleType::IdentityRevoked => json!({
            "event_timestamp": event_timestamp, "namespace": trust_framework,
            "current_level": "none", "change_direction": "decrease",
        }),
        LifecycleType::CredentialChanged => {
            // The payment password is a PIN; a biometric key lives in the app.
            let credential_type = if reason == Some("biometric_key") { "app" } else { "pin" };
            json!({"event_timestamp": event_timestamp, "credential_type": credential_type, "change_type": "update"})
        }
        LifecycleType::AccountDisabled | LifecycleType::AccountEnabled | LifecycleType::AccountPurged => json!({}),
    }
}

fn initiating_entity(reason: Option<&str>) -> &'static str {
    match reason {
        Some("user") | Some("logout") | Some("revoked_by_user") => "user",
        Some("operator") | Some("revoked_by_host") => "admin",
        _ => "policy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_distinct_webhook_names_and_known_set_uris() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|t| webhook_type(*t)).collect();
        assert_eq!(names.len(), ALL.len());
        for t in ALL {
            let uri = set_type(t);
            assert!(uri.starts_with(RISC) || uri.starts_with(CAEP), "{uri}");
        }
        assert!(ends_sessions(LifecycleType::AccountDisabled));
        assert!(!ends_sessions(LifecycleType::AccountEnabled));
    }
}
