//! What the institution kinds' configuration tables share (the tables
//! themselves are listed in [`crate::Settings`]).

use crate::executor::CallError;
use serde::Deserialize;

/// A configuration key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {detail}")]
pub struct SettingsError {
    pub key: &'static str,
    pub detail: String,
}

impl SettingsError {
    /// Names `key` in a client's refusal of its settings.
    pub fn at(key: &'static str) -> impl Fn(CallError) -> Self {
        move |e| Self { key, detail: e.to_string() }
    }
}

/// An institution reached at one base URL (`[connectors.<kind>] url`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoint {
    /// Base URL; empty means the in-process sandbox.
    pub url: String,
}

/// `configured`, or when empty the sandbox's `sandbox` base URL; `key` names the setting.
pub fn url_or_sandbox(key: &'static str, configured: &str, sandbox: Option<&str>) -> Result<String, SettingsError> {
    match (configured, sandbox) {
        ("", Some(s)) => Ok(s.to_owned()),
        ("", None) => Err(SettingsError { key, detail: "empty and the sandbox is disabled; set the institution's URL".into() }),
        (url, _) => Ok(url.to_owned()),
    }
}
