//! The host app's own stores that may block a real-name revocation or an
//! account cancellation (SPEC RV1, issue 17): its wallet, lending,
//! subscriptions and directories, one base URL each.
//!
//! Wire protocol (`docs/revocation.md`), the same for every source:
//! `POST {base}/v1/blockers {"user_id", "operation": "revoke_real_name" |
//! "cancel_account"}` → `{"blockers": [{"code", "item"?, "amount_fen"?}]}`,
//! where `code` is one of the blocker codes of that document (for example
//! `wallet_balance`, `active_loans`; each store only its own) and `item`
//! names the thing concerned, masked by the source where it names a person.
//! A code idlink does not know or that is not the store's, or a negative amount, is a protocol error: the source then counts
//! as not answering, which blocks (a blocker is never dropped).
//!
//! The saga's half (RV2), idempotent by idlink's change id:
//! `PUT {base}/v1/changes/{id} {"user_id", "operation"}` applies the change
//! and holds the user's funds operations (`{"status": "applied"}`, or
//! `"refused"` with a `reason`); `GET {base}/v1/changes/{id}` answers its
//! status and `funds_operations`, the count the store saw since it applied;
//! `POST …/{id}/commit` makes it final and `POST …/{id}/undo` undoes it (an
//! undo of a change the store never applied answers `"undone"` too).
//!
//! After a committed real-name revocation (RV3) the wallet alone is told the
//! account's payment limits, through the outbox (delivered at least once):
//! `PUT {wallet}/v1/payment-limits/{user_id} {"event_id",
//! "daily_receiving_limit_fen", "withdrawals_paused_until"?,
//! "auto_debit_allowed"}` → `{"status": "accepted"}`; a repeated event id
//! changes nothing.
//!
//! A source with no URL is not registered: the preflight neither asks it nor
//! waits for it, and says which sources it asked. With the sandbox on, an
//! empty URL means the sandbox's store (`{sandbox}/host/{source}`).

use crate::executor::{CallError, Executor, Target};
use crate::settings::SettingsError;
use idlink_core::ports::host_stores::ChangeAnswer;
use idlink_domain::Fen;
use idlink_domain::revocation::{Blocker, BlockerKind, Source};
use serde::{Deserialize, Serialize};

mod port;
pub use port::HostStoresPort;

/// `[connectors.host_stores]`: each source's base URL; empty means the
/// sandbox's when it runs, else the source is not registered.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub wallet_url: String,
    pub lending_url: String,
    pub subscriptions_url: String,
    pub directories_url: String,
}

impl Settings {
    fn urls(&self) -> [(Source, &'static str, &str); 4] {
        [
            (Source::Wallet, "connectors.host_stores.wallet_url", &self.wallet_url),
            (Source::Lending, "connectors.host_stores.lending_url", &self.lending_url),
            (Source::Subscriptions, "connectors.host_stores.subscriptions_url", &self.subscriptions_url),
            (Source::Directories, "connectors.host_stores.directories_url", &self.directories_url),
        ]
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        for (_, key, url) in self.urls() {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return Err(SettingsError {
                    key,
                    detail: "an http:// or https:// base URL, or empty for the sandbox (or no such store)".into(),
                });
            }
        }
        Ok(())
    }
}

/// The institution name of a source's store on the health page and in the breaker.
pub fn institution_name(source: Source) -> String {
    format!("host:{}", source.as_str())
}

#[derive(Debug, Serialize)]
pub struct BlockersRequest<'a> {
    pub user_id: &'a str,
    pub operation: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct BlockersResponse {
    pub blockers: Vec<WireBlocker>,
}

#[derive(Debug, Deserialize)]
pub struct WireBlocker {
    pub code: String,
    #[serde(default)]
    pub item: Option<String>,
    #[serde(default)]
    pub amount_fen: Option<i64>,
}

impl WireBlocker {
    /// The blocker `source` named, or why the answer breaks the protocol.
    pub fn blocker(&self, source: Source) -> Result<Blocker, String> {
        // Each store names only its own kinds: a wallet cannot speak for idlink's rules or the lending store.
        let kind = BlockerKind::parse(&self.code)
            .filter(|k| k.named_by() == Some(source))
            .ok_or_else(|| format!("blocker code `{}` is not one the {} store names", self.code, source.as_str()))?;
        let amount = match self.amount_fen {
            Some(f) if f < 0 => return Err(format!("negative amount for `{}`", self.code)),
            other => other.map(Fen),
        };
        // An item is shown as given: without control or direction-override characters (which
        // could reorder what the page shows), and bounded so a source cannot flood the page.
        let shown = |c: &char| {
            !c.is_control() && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        };
        let item = self.item.as_ref().map(|i| i.chars().filter(shown).take(80).collect::<String>()).filter(|i| !i.trim().is_empty());
        Ok(Blocker { item, amount, ..Blocker::new(kind, source) })
    }
}

/// The account's payment limits, as the wallet is told them.
#[derive(Debug, Serialize)]
pub struct LimitsRequest<'a> {
    pub event_id: &'a str,
    pub daily_receiving_limit_fen: i64,
    /// RFC 3339; absent when withdrawals are not paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawals_paused_until: Option<String>,
    pub auto_debit_allowed: bool,
}

/// `{"status": "accepted"}`.
#[derive(Debug, Deserialize)]
pub struct LimitsResponse {
    pub status: String,
}

#[derive(Debug, Serialize)]
pub struct ChangeRequest<'a> {
    pub user_id: &'a str,
    pub operation: &'a str,
}

/// `{"status": "applied" | "refused" | "committed" | "undone", "reason"?, "funds_operations"?}`.
#[derive(Debug, Deserialize)]
pub struct ChangeResponse {
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub funds_operations: u32,
}

impl ChangeResponse {
    pub fn answer(&self) -> ChangeAnswer {
        match self.status.as_str() {
            "applied" => ChangeAnswer::Applied,
            "refused" => ChangeAnswer::Refused { reason: self.reason.clone().unwrap_or_default().chars().take(200).collect() },
            "committed" => ChangeAnswer::Committed,
            "undone" => ChangeAnswer::Undone,
            other => ChangeAnswer::Pending { status: other.chars().take(40).collect() },
        }
    }
}

/// One registered source's store.
#[derive(Debug, Clone)]
pub struct HostStoreApi {
    pub source: Source,
    target: Target,
}

impl HostStoreApi {
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Idempotent by `change_id` (a `PUT`): safe to retry.
    pub async fn apply(&self, exec: &Executor, change_id: &str, user_id: &str, operation: &str) -> Result<ChangeResponse, CallError> {
        let req = ChangeRequest { user_id, operation };
        exec.call(&self.target, reqwest::Method::PUT, &format!("/v1/changes/{}", path_safe(change_id)?), Some(&req), true).await
    }

    pub async fn change(&self, exec: &Executor, change_id: &str) -> Result<ChangeResponse, CallError> {
        exec.call::<(), _>(&self.target, reqwest::Method::GET, &format!("/v1/changes/{}", path_safe(change_id)?), None, true).await
    }

    /// `commit` or `undo`; each idempotent.
    pub async fn finish(&self, exec: &Executor, change_id: &str, verb: &str) -> Result<ChangeResponse, CallError> {
        let path = format!("/v1/changes/{}/{verb}", path_safe(change_id)?);
        exec.call::<(), _>(&self.target, reqwest::Method::POST, &path, None, true).await
    }

    /// The account's payment limits from now (the wallet's), idempotent by user and event: safe to retry.
    pub async fn publish_limits(&self, exec: &Executor, user_id: &str, limits: &LimitsRequest<'_>) -> Result<LimitsResponse, CallError> {
        let path = format!("/v1/payment-limits/{}", path_safe(user_id)?);
        exec.call(&self.target, reqwest::Method::PUT, &path, Some(limits), true).await
    }

    /// A read: safe to retry.
    pub async fn blockers(&self, exec: &Executor, user_id: &str, operation: &str) -> Result<BlockersResponse, CallError> {
        let req = BlockersRequest { user_id, operation };
        exec.call(&self.target, reqwest::Method::POST, "/v1/blockers", Some(&req), true).await
    }
}

/// A change id put into a URL path: idlink's own ids only (letters, digits, `_`, `-`).
fn path_safe(id: &str) -> Result<&str, CallError> {
    let ok = !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(id) } else { Err(CallError::Config(format!("change id `{id}` is not path-safe"))) }
}

/// Every registered source's store, in [`Source::HOST`] order.
#[derive(Debug, Clone, Default)]
pub struct HostStoreApis {
    pub stores: Vec<HostStoreApi>,
}

impl HostStoreApis {
    /// Each source's configured URL, or the sandbox's; a source with neither is not registered.
    pub fn connect(s: &Settings, sandbox: Option<&str>) -> Result<Self, SettingsError> {
        let mut stores = Vec::new();
        for (source, key, url) in s.urls() {
            let base = match (url, sandbox) {
                ("", None) => continue,
                ("", Some(base)) => format!("{base}/host/{}", source.as_str()),
                (configured, _) => configured.to_owned(),
            };
            let target = Target::new(&institution_name(source), "main", &base).map_err(SettingsError::at(key))?;
            stores.push(HostStoreApi { source, target });
        }
        Ok(Self { stores })
    }

    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.stores.iter().map(HostStoreApi::target)
    }

    pub fn get(&self, source: Source) -> Option<&HostStoreApi> {
        self.stores.iter().find(|s| s.source == source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unconfigured_sources_are_registered_only_with_the_sandbox() {
        let none = HostStoreApis::connect(&Settings::default(), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.stores.is_empty(), "no URL and no sandbox: nothing registered, the deployment starts");
        let one = Settings { lending_url: "https://loans.host.example".into(), ..Settings::default() };
        let only = HostStoreApis::connect(&one, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(only.stores.iter().map(|s| s.source).collect::<Vec<_>>(), [Source::Lending]);
        let all = HostStoreApis::connect(&one, Some("http://127.0.0.1:8081")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.stores.iter().map(|s| s.source).collect::<Vec<_>>(), Source::HOST);
        assert!(Settings { wallet_url: "ftp://x".into(), ..Settings::default() }.validate().is_err());
    }

    #[test]
    fn answers_map_to_blockers_and_unknown_codes_break_the_protocol() {
        let wire = |json: &str| serde_json::from_str::<WireBlocker>(json).unwrap_or_else(|e| panic!("{e}"));
        let b = wire(r#"{"code":"wallet_balance","amount_fen":1}"#).blocker(Source::Wallet).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.kind, b.amount, b.source), (BlockerKind::WalletBalance, Some(Fen(1)), Source::Wallet));
        assert!(wire(r#"{"code":"frozen_forever"}"#).blocker(Source::Wallet).is_err());
        assert!(wire(r#"{"code":"source_unavailable"}"#).blocker(Source::Wallet).is_err(), "only idlink says a source is silent");
        assert!(wire(r#"{"code":"active_loans","amount_fen":-5}"#).blocker(Source::Lending).is_err());
        assert!(wire(r#"{"code":"active_loans"}"#).blocker(Source::Wallet).is_err(), "not the wallet's to name");
        assert!(wire(r#"{"code":"abnormal_login"}"#).blocker(Source::Wallet).is_err(), "idlink's own rule");
        let long = wire(&format!(r#"{{"code":"directory_admin","item":"{}"}}"#, "x".repeat(500)));
        assert_eq!(long.blocker(Source::Directories).map(|b| b.item.map(|i| i.len())), Ok(Some(80)));
        let tricky = wire(r#"{"code":"directory_admin","item":"Acme\u202e dtL\n"}"#).blocker(Source::Directories);
        assert_eq!(tricky.map(|b| b.item), Ok(Some("Acme dtL".to_owned())), "no direction override, no newline");
    }
}
