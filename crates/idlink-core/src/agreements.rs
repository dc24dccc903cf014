//! The current electronic agreement of every bank that requires one (SPEC
//! BK3 tier 4): its text, version and SHA-256, made once at start from the
//! roster and the agreement documents. A signature counts only for the
//! current version *and* text: publishing a new version, or changing the
//! text or the bank's disclosure policy the text states, asks every user for
//! a new signature.

use idlink_domain::agreement::AgreementTemplates;
use idlink_domain::roster::Roster;
use jiff::SignedDuration;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One bank's current agreement, as served and as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub bank: String,
    pub bank_name: String,
    /// `{CODE}-{version}`, e.g. `CMB-2026-01`.
    pub version: String,
    pub title: String,
    pub text: String,
    /// SHA-256 (lowercase hex) of `text` in UTF-8: what the user signs.
    pub sha256: String,
    pub validity_days: i64,
}

/// Why a bank has no document to serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("no bank with this code is in the roster")]
    UnknownBank,
    #[error("this bank requires no electronic agreement")]
    NotRequired,
}

/// The current documents, by bank code.
#[derive(Debug, Default)]
pub struct AgreementDocuments {
    by_bank: HashMap<String, Arc<Document>>,
    banks: HashSet<String>,
}

impl AgreementDocuments {
    /// Renders the document of every bank with `e_agreement` in `roster`.
    pub fn new(roster: &Roster, templates: &AgreementTemplates, validity: SignedDuration) -> Self {
        let validity_days = validity.as_hours() / 24;
        let by_bank = roster
            .banks
            .iter()
            .filter(|b| b.e_agreement)
            .map(|b| {
                let t = templates.render(b, validity_days);
                let sha256 = hex::encode(Sha256::digest(t.text.as_bytes()));
                let doc = Document {
                    bank: b.code.clone(),
                    bank_name: b.name.clone(),
                    version: t.version,
                    title: t.title,
                    text: t.text,
                    sha256,
                    validity_days,
                };
                (b.code.clone(), Arc::new(doc))
            })
            .collect();
        Self { by_bank, banks: roster.banks.iter().map(|b| b.code.clone()).collect() }
    }

    /// The bank's current document, if it requires one.
    pub fn current(&self, bank: &str) -> Option<&Arc<Document>> {
        self.by_bank.get(bank)
    }

    /// The bank's current document, or why there is none.
    pub fn lookup(&self, bank: &str) -> Result<&Arc<Document>, DocumentError> {
        match self.by_bank.get(bank) {
            Some(d) => Ok(d),
            None if self.banks.contains(bank) => Err(DocumentError::NotRequired),
            None => Err(DocumentError::UnknownBank),
        }
    }

    /// Whether an agreement signed for `version` with `hash` is for the bank's current document.
    pub fn is_current(&self, bank: &str, version: &str, hash: &str) -> bool {
        self.by_bank.get(bank).is_some_and(|d| d.version == version && d.sha256.eq_ignore_ascii_case(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_exist_for_agreement_banks_only_and_hash_their_text() {
        let roster = Roster::bundled().unwrap_or_else(|e| panic!("{e}"));
        let templates = AgreementTemplates::bundled().unwrap_or_else(|e| panic!("{e}"));
        let docs = AgreementDocuments::new(&roster, &templates, SignedDuration::from_hours(24 * 365));
        let cmb = docs.lookup("CMB").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cmb.sha256, hex::encode(Sha256::digest(cmb.text.as_bytes())));
        assert_eq!(cmb.validity_days, 365);
        assert!(docs.is_current("CMB", &cmb.version, &cmb.sha256.to_uppercase()));
        assert!(!docs.is_current("CMB", "CMB-2025-01", &cmb.sha256));
        assert!(!docs.is_current("CMB", &cmb.version, &"ab".repeat(32)));
        assert_eq!(docs.lookup("ICBC").err(), Some(DocumentError::NotRequired));
        assert_eq!(docs.lookup("NOPE").err(), Some(DocumentError::UnknownBank));
        let cib = docs.lookup("CIB").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(cib.sha256, cmb.sha256, "each bank's document is its own");
    }
}
