//! `[connectors.bank]`.

use crate::settings::SettingsError;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Base URL of the card switch; empty means the sandbox.
    pub switch_url: String,
    /// Base URL (https) of the banks' direct channel; empty means the sandbox's.
    pub direct_url: String,
    /// Certificates and signing keys of the direct channel (`ca.pem`,
    /// `idlink-client.pem`, `idlink-signing.seed`, `bank-signing.pub`);
    /// empty means `<data_dir>/sandbox-pki`, which the sandbox fills at first start.
    pub direct_pki_dir: Option<PathBuf>,
    /// The bank roster (channel, disclosure, freshness, agreement per bank,
    /// `docs/banks.md`); empty means the bundled one. The sandbox banks follow it too.
    pub roster_file: Option<PathBuf>,
    /// The electronic agreements banks with `e_agreement` require (a template and
    /// per-bank versions, `docs/banks.md`); empty means the bundled ones.
    pub agreements_file: Option<PathBuf>,
    /// How long a signed agreement stays in force, in days (the documents state it too).
    pub agreement_validity_days: u32,
    /// Where a user resets a bank's payment password (the hand-off when
    /// they forgot it); `{bank}` becomes the bank's code. Empty: the sandbox banks' page.
    pub password_reset_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            switch_url: String::new(),
            direct_url: String::new(),
            direct_pki_dir: None,
            roster_file: None,
            agreements_file: None,
            agreement_validity_days: idlink_domain::agreement::DEFAULT_VALIDITY_DAYS,
            password_reset_url: String::new(),
        }
    }
}

impl Settings {
    pub(crate) fn urls(&self) -> [(&'static str, &String); 3] {
        [
            ("connectors.bank.switch_url", &self.switch_url),
            ("connectors.bank.direct_url", &self.direct_url),
            ("connectors.bank.password_reset_url", &self.password_reset_url),
        ]
    }

    pub(crate) fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=3650).contains(&self.agreement_validity_days) {
            return Err(SettingsError { key: "connectors.bank.agreement_validity_days", detail: "1 to 3650 days".into() });
        }
        Ok(())
    }
}
