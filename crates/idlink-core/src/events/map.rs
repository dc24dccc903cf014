//! The event map (`docs/events.md`): how each lifecycle type is named to apps
//! on each channel — the Standard Webhook type, the RISC/CAEP Security Event
//! Token type and its event claims, and whether it ends the app's sessions
//! (back-channel logout).

use crate::ports::events::LifecycleType;
use serde_json::{Value, json};

const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
/// idlink's own event types, where RISC and CAEP define none.
pub const IDLINK_EVENTS: &str = "https://idlink.dev/secevent/event-type/";

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
        LifecycleType::CreditRecordChanged => "credit.record_changed",
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
        LifecycleType::CreditRecordChanged => format!("{IDLINK_EVENTS}credit-record-changed"),
    }
}

/// Every SET type idlink transmits (`events_supported` of the SSF configuration).
pub fn set_types_supported() -> Vec<String> {
    let mut all: Vec<String> = ALL.iter().map(|t| set_type(*t)).collect();
    all.sort();
    all.dedup();
    all
}

pub const ALL: [LifecycleType; 10] = [
    LifecycleType::GrantRevoked,
    LifecycleType::IdentityVerified,
    LifecycleType::IdentityChanged,
    LifecycleType::IdentityRevoked,
    LifecycleType::AccountDisabled,
    LifecycleType::AccountEnabled,
    LifecycleType::AccountPurged,
    LifecycleType::SessionsRevoked,
    LifecycleType::CredentialChanged,
    LifecycleType::CreditRecordChanged,
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
        // `current_level` is the `assurance_level` the app reads in `verified_claims`.
        LifecycleType::IdentityVerified => json!({
            "event_timestamp": event_timestamp, "namespace": trust_framework,
            "current_level": reason.unwrap_or("substantial"), "previous_level": "none", "change_direction": "increase",
        }),
        // A change keeps or moves the level; the previous one is not in the event, so no direction is claimed.
        LifecycleType::IdentityChanged => json!({
            "event_timestamp": event_timestamp, "namespace": trust_framework,
            "current_level": reason.unwrap_or("substantial"),
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
        // What changed, by kind only: the institution and the amounts stay in the user's own notice.
        LifecycleType::CreditRecordChanged => json!({"event_timestamp": event_timestamp, "change": reason.unwrap_or("record_changed")}),
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
    fn assurance_level_changes_carry_the_level_apps_read_in_verified_claims() {
        let verified = set_event(LifecycleType::IdentityVerified, 1, Some("high"), "https://tf");
        assert_eq!((verified["current_level"].as_str(), verified["previous_level"].as_str()), (Some("high"), Some("none")));
        assert_eq!(verified["change_direction"], "increase");
        let changed = set_event(LifecycleType::IdentityChanged, 1, Some("substantial"), "https://tf");
        assert_eq!(changed["current_level"], "substantial");
        assert!(changed.get("change_direction").is_none(), "a change claims no direction it cannot know: {changed}");
        let revoked = set_event(LifecycleType::IdentityRevoked, 1, None, "https://tf");
        assert_eq!((revoked["current_level"].as_str(), revoked["change_direction"].as_str()), (Some("none"), Some("decrease")));
    }

    #[test]
    fn every_webhook_type_sent_can_be_subscribed_to() {
        for t in ALL {
            assert!(crate::clients::WEBHOOK_EVENT_TYPES.contains(&webhook_type(t)), "{} cannot be registered", webhook_type(t));
        }
    }

    #[test]
    fn user_and_host_revocations_name_their_initiator() {
        let by_user = set_event(LifecycleType::GrantRevoked, 1, Some("revoked_by_user"), "tf");
        let by_host = set_event(LifecycleType::GrantRevoked, 1, Some("revoked_by_host"), "tf");
        assert_eq!((by_user["initiating_entity"].as_str(), by_host["initiating_entity"].as_str()), (Some("user"), Some("admin")));
    }

    #[test]
    fn every_type_has_distinct_webhook_names_and_known_set_uris() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|t| webhook_type(*t)).collect();
        assert_eq!(names.len(), ALL.len());
        for t in ALL {
            let uri = set_type(t);
            // RISC or CAEP where they define the event; idlink's own namespace only for the credit record.
            let own = t == LifecycleType::CreditRecordChanged && uri.starts_with(IDLINK_EVENTS);
            assert!(uri.starts_with(RISC) || uri.starts_with(CAEP) || own, "{uri}");
        }
        assert!(ends_sessions(LifecycleType::AccountDisabled));
        assert!(!ends_sessions(LifecycleType::AccountEnabled));
    }
}
