//! The provincial social-security bureaus (issue 16, SPEC SS2–SS4): one
//! connector kind with per-province endpoints, each province over a
//! primary and an alternate channel.
//!
//! Wire protocol (`docs/social-security.md`), relative to a channel's base URL:
//! - `POST /v1/cards/lookup {"request_ref", "name", "id_number",
//!   "document_type", "phone", "card_number" | "qr_payload"}` → `{"result": "code_sent", "reference"}`
//!   | `{"result": "no_card" | "unreadable_qr"}` | `{"result":
//!   "other_region", "region"}` | `{"result": "risk", "reason"}`; the same
//!   `request_ref` sends the same code, so it is retried;
//! - `POST /v1/cards/confirm {"reference", "code"}` → `{"result":
//!   "confirmed", "card": {"card_ref", "card_number", "region",
//!   "financial_account": {"bank_code", "card_number"}}}` | `{"result":
//!   "wrong_code" | "expired"}` (a code works once: not retried);
//! - `GET /v1/cards/{card_ref}/accounts` → `{"as_of", "pension": {"balance_fen",
//!   "statements"}, "medical": {…}}`;
//! - `POST /v1/settlements {"settlement_ref", "card_ref", "amount_fen",
//!   "terminal_id"}` → `{"result": "settled", "settlement": {"settlement_id",
//!   "amount_fen", "medical_account_fen", "pooled_fund_fen"}}`, idempotent by
//!   `settlement_ref`;
//!   a voided `settlement_ref` answers `{"result": "voided"}`;
//! - `POST /v1/settlements/{settlement_ref}/void` → the settlement made under
//!   it (`{"result": "settled", "settlement"}`), or `{"result": "voided"}`:
//!   from then on a settle with it is refused (reconciliation; idempotent).
//!
//! Failover (SS4, as the banks' channels, `bank/channels.rs`): a call goes
//! to the province's primary channel; when it cannot serve (busy with
//! `Retry-After`, down, past the deadline, or its circuit open) the same
//! call goes to the alternate at once, so the switch takes one call's
//! deadline at most (5 s by default, within the seed's 30 s). Once the
//! primary's circuit opens, calls skip it; the breaker's half-open probe
//! brings the traffic back when it recovers.

use crate::executor::{CallError, Executor, Target};
use crate::settings::{SettingsError, url_or_sandbox};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

mod port;
pub use port::SocialSecurityPort;

/// The mainland's provincial-level codes (two digits).
pub const PROVINCES: [&str; 31] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50",
    "51", "52", "53", "54", "61", "62", "63", "64", "65",
];

/// One province's two base URLs.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ProvinceUrls {
    pub primary_url: String,
    pub alternate_url: String,
}

/// `[connectors.social_security]`: `primary_url` and `alternate_url` are
/// templates in which `{province}` becomes the two-digit code; a province
/// of `provinces` has its own. Empty: the in-process sandbox
/// (`{sandbox}/ssb/{province}/primary`, `…/alternate`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub primary_url: String,
    pub alternate_url: String,
    pub provinces: BTreeMap<String, ProvinceUrls>,
}

impl Settings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(p) = self.provinces.keys().find(|p| !PROVINCES.contains(&p.as_str())) {
            return Err(SettingsError {
                key: "connectors.social_security.provinces",
                detail: format!("`{p}` is not a mainland province's two-digit code"),
            });
        }
        let urls = [
            ("connectors.social_security.primary_url", &self.primary_url),
            ("connectors.social_security.alternate_url", &self.alternate_url),
        ];
        let each = self.provinces.values().flat_map(|p| {
            [
                ("connectors.social_security.provinces.*.primary_url", &p.primary_url),
                ("connectors.social_security.provinces.*.alternate_url", &p.alternate_url),
            ]
        });
        for (key, url) in urls.into_iter().chain(each) {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return Err(SettingsError { key, detail: "an http:// or https:// base URL, or empty for the sandbox".into() });
            }
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct LookupRequest<'a> {
    pub request_ref: &'a str,
    pub name: &'a str,
    /// The holder's document number (a resident ID number unless `document_type` says otherwise).
    pub id_number: &'a str,
    pub document_type: &'a str,
    pub phone: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_payload: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct LookupResponse {
    pub result: String,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConfirmRequest<'a> {
    reference: &'a str,
    code: &'a str,
}

#[derive(Deserialize)]
pub struct FinancialAccount {
    pub bank_code: String,
    pub card_number: String,
}

#[derive(Deserialize)]
pub struct CardDoc {
    pub card_ref: String,
    pub card_number: String,
    pub region: String,
    pub financial_account: FinancialAccount,
}

#[derive(Deserialize)]
pub struct ConfirmResponse {
    pub result: String,
    #[serde(default)]
    pub card: Option<CardDoc>,
}

#[derive(Debug, Deserialize)]
pub struct StatementDoc {
    pub month: String,
    pub kind: String,
    pub amount_fen: i64,
}

#[derive(Debug, Deserialize)]
pub struct AccountDoc {
    pub balance_fen: i64,
    pub statements: Vec<StatementDoc>,
}

#[derive(Debug, Deserialize)]
pub struct AccountsResponse {
    pub as_of: jiff::Timestamp,
    pub pension: AccountDoc,
    pub medical: AccountDoc,
}

#[derive(Debug, Serialize)]
struct SettleRequest<'a> {
    settlement_ref: &'a str,
    card_ref: &'a str,
    amount_fen: i64,
    terminal_id: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct SettlementDoc {
    pub settlement_id: String,
    pub amount_fen: i64,
    pub medical_account_fen: i64,
    pub pooled_fund_fen: i64,
}

#[derive(Debug, Deserialize)]
pub struct SettleResponse {
    pub result: String,
    #[serde(default)]
    pub settlement: Option<SettlementDoc>,
}

#[derive(Debug, Serialize)]
struct ServiceRequest<'a> {
    request_ref: &'a str,
    card_ref: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_region: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct ServiceResponse {
    #[serde(default)]
    pub request_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct BenefitDoc {
    pub payment_id: String,
    pub month: String,
    pub amount_fen: i64,
    pub paid_at: jiff::Timestamp,
}

#[derive(Debug, Deserialize)]
pub struct BenefitsResponse {
    pub benefits: Vec<BenefitDoc>,
}

/// A card ref goes into a path: only the characters bureaus' refs use.
fn path_safe(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One channel of one province's bureau.
#[derive(Debug, Clone)]
pub struct BureauApi {
    target: Target,
}

impl BureauApi {
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Retried: the same `request_ref` sends the same code.
    pub async fn lookup(&self, exec: &Executor, req: &LookupRequest<'_>) -> Result<LookupResponse, CallError> {
        exec.call(&self.target, reqwest::Method::POST, "/v1/cards/lookup", Some(req), true).await
    }

    /// Not retried: a code works once.
    pub async fn confirm(&self, exec: &Executor, reference: &str, code: &str) -> Result<ConfirmResponse, CallError> {
        exec.call(&self.target, reqwest::Method::POST, "/v1/cards/confirm", Some(&ConfirmRequest { reference, code }), false).await
    }

    pub async fn accounts(&self, exec: &Executor, card_ref: &str) -> Result<AccountsResponse, CallError> {
        if !path_safe(card_ref) {
            return Err(CallError::Protocol {
                institution: self.target.institution.clone(),
                detail: "a card ref it cannot have given".into(),
            });
        }
        let path = format!("/v1/cards/{card_ref}/accounts");
        exec.call(&self.target, reqwest::Method::GET, &path, None::<&()>, true).await
    }

    /// Retried: idempotent by `settlement_ref`.
    pub async fn settle(
        &self,
        exec: &Executor,
        settlement_ref: &str,
        card_ref: &str,
        amount_fen: i64,
        terminal_id: &str,
    ) -> Result<SettleResponse, CallError> {
        let req = SettleRequest { settlement_ref, card_ref, amount_fen, terminal_id };
        exec.call(&self.target, reqwest::Method::POST, "/v1/settlements", Some(&req), true).await
    }

    /// Voids `settlement_ref` for good, or answers the settlement made under it. Retried: idempotent.
    pub async fn void_settlement(&self, exec: &Executor, settlement_ref: &str) -> Result<SettleResponse, CallError> {
        if !path_safe(settlement_ref) {
            return Err(CallError::Protocol {
                institution: self.target.institution.clone(),
                detail: "a settlement ref it cannot have been given".into(),
            });
        }
        let path = format!("/v1/settlements/{settlement_ref}/void");
        exec.call(&self.target, reqwest::Method::POST, &path, None::<&()>, true).await
    }

    /// Retried: idempotent by `request_ref`.
    pub async fn submit_service(
        &self,
        exec: &Executor,
        request_ref: &str,
        card_ref: &str,
        kind: &str,
        to_region: Option<&str>,
    ) -> Result<ServiceResponse, CallError> {
        let req = ServiceRequest { request_ref, card_ref, kind, to_region };
        exec.call(&self.target, reqwest::Method::POST, "/v1/service-requests", Some(&req), true).await
    }

    pub async fn service_status(&self, exec: &Executor, request_id: &str) -> Result<ServiceResponse, CallError> {
        if !path_safe(request_id) {
            return Err(CallError::Protocol {
                institution: self.target.institution.clone(),
                detail: "a request id it cannot have given".into(),
            });
        }
        exec.call(&self.target, reqwest::Method::GET, &format!("/v1/service-requests/{request_id}"), None::<&()>, true).await
    }

    pub async fn benefits(&self, exec: &Executor, card_ref: &str) -> Result<BenefitsResponse, CallError> {
        if !path_safe(card_ref) {
            return Err(CallError::Protocol {
                institution: self.target.institution.clone(),
                detail: "a card ref it cannot have given".into(),
            });
        }
        exec.call(&self.target, reqwest::Method::GET, &format!("/v1/cards/{card_ref}/benefits"), None::<&()>, true).await
    }
}

/// Every province's bureau over its two channels.
#[derive(Debug, Clone)]
pub struct Bureaus {
    /// Province → (primary, alternate).
    provinces: HashMap<String, (BureauApi, BureauApi)>,
}

/// The health page's name of a province's bureau.
pub fn institution_name(province: &str) -> String {
    format!("ssb:{province}")
}

impl Bureaus {
    /// Both channels of every province, from `s` (empty URLs: the sandbox at
    /// `sandbox`). A province with neither its own URLs, nor templates, nor
    /// a sandbox has no bureau: its calls are refused as not configured
    /// (a deployment that offers no social-security card still starts).
    pub fn connect(s: &Settings, sandbox: Option<&str>) -> Result<Self, SettingsError> {
        let mut provinces = HashMap::new();
        for p in PROVINCES {
            let own = s.provinces.get(p);
            let configured = own.is_some_and(|o| !o.primary_url.is_empty()) || !s.primary_url.is_empty() || sandbox.is_some();
            if !configured {
                continue;
            }
            let channel = |name: &'static str, template: &str, own: Option<&String>| -> Result<BureauApi, SettingsError> {
                let key = "connectors.social_security";
                let url = match own.filter(|u| !u.is_empty()) {
                    Some(u) => u.clone(),
                    None if template.is_empty() => format!("{}/ssb/{p}/{name}", url_or_sandbox(key, "", sandbox)?),
                    None => template.replace("{province}", p),
                };
                let target = Target::new(&institution_name(p), name, &url).map_err(SettingsError::at(key))?;
                Ok(BureauApi { target })
            };
            let primary = channel("primary", &s.primary_url, own.map(|o| &o.primary_url))?;
            let alternate = channel("alternate", &s.alternate_url, own.map(|o| &o.alternate_url))?;
            provinces.insert(p.to_owned(), (primary, alternate));
        }
        Ok(Self { provinces })
    }

    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.provinces.values().flat_map(|(a, b)| [a.target(), b.target()])
    }

    /// Runs `op` on the province's primary channel, and on its alternate
    /// when the primary cannot serve. Returns the answer and the channel that gave it.
    pub async fn call<'a, T, F, Fut>(&'a self, exec: &Executor, province: &str, op: F) -> Result<(T, &'static str), CallError>
    where
        F: Fn(&'a BureauApi) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let Some((primary, alternate)) = self.provinces.get(province) else {
            return Err(CallError::Config(format!("no social-security bureau for province {province}")));
        };
        let first = match op(primary).await {
            Err(e) if e.channel_down() => e,
            done => return done.map(|v| (v, "primary")),
        };
        tracing::warn!(province, error = %first, "social-security bureau failover to the alternate channel");
        exec.health().failover(&primary.target().institution, "primary", "alternate", crate::health::failover_reason(&first), exec.now());
        metrics::counter!("idlink_ssb_channel_failovers_total", "province" => province.to_owned()).increment(1);
        op(alternate).await.map(|v| (v, "alternate"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_refuse_unknown_provinces_and_bad_urls() {
        let mut s = Settings::default();
        assert!(s.validate().is_ok());
        s.provinces.insert("99".into(), ProvinceUrls::default());
        assert!(s.validate().is_err());
        let mut s = Settings { primary_url: "ftp://x".into(), ..Settings::default() };
        assert!(s.validate().is_err());
        s.primary_url = "https://ssb-{province}.example".into();
        assert!(s.validate().is_ok());
        let b = Bureaus::connect(&s, Some("http://127.0.0.1:1")).unwrap_or_else(|e| panic!("{e}"));
        let urls: Vec<&str> = b
            .provinces
            .get("44")
            .map(|(p, a)| [p.target().base_url.as_str(), a.target().base_url.as_str()])
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(urls, ["https://ssb-44.example", "http://127.0.0.1:1/ssb/44/alternate"]);
        let none = Bureaus::connect(&Settings::default(), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(none.targets().count(), 0, "no bureau without URLs or a sandbox");
        assert!(!path_safe("../x") && path_safe("ssc-0a1b"));
    }
}
