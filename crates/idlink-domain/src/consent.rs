//! Separate consent to process sensitive personal information (PIPL art.
//! 29, SPEC CP; issue 18 point 1): the kinds, their versioned texts (data
//! in `data/consents.toml`, in zh-CN, zh-HK and en), and the rule that says
//! whether a user's records allow processing now.
//!
//! The rule: the newest record of a kind decides. Processing is allowed only
//! when it was given to the current version and not withdrawn; a new version
//! asks again. Hashing the texts happens in `idlink-core`.

use crate::capabilities::Capability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUNDLED: &str = include_str!("../data/consents.toml");

/// The kinds of sensitive personal information idlink asks a separate consent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// The face image of a liveness check.
    Face,
    /// The ID number (with the name) of the real-name check.
    IdNumber,
    /// Bank card numbers and balances.
    BankCard,
    CreditReport,
    SocialSecurity,
}

impl ConsentKind {
    pub const ALL: [ConsentKind; 5] =
        [ConsentKind::Face, ConsentKind::IdNumber, ConsentKind::BankCard, ConsentKind::CreditReport, ConsentKind::SocialSecurity];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Face => "face",
            ConsentKind::IdNumber => "id_number",
            ConsentKind::BankCard => "bank_card",
            ConsentKind::CreditReport => "credit_report",
            ConsentKind::SocialSecurity => "social_security",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The features that stop without this consent, as the capabilities
    /// list them. The ID number is what the real name rests on: every
    /// feature that relies on it stops, as the text says. Most face checks
    /// have another way (an SMS code, a bank card), so no feature as a
    /// whole stops without the face consent.
    pub fn holds_back(self) -> &'static [Capability] {
        match self {
            ConsentKind::Face => &[],
            ConsentKind::IdNumber => &Capability::ALL,
            ConsentKind::BankCard => &[Capability::BalanceQuery],
            ConsentKind::CreditReport => &[Capability::CreditReport],
            ConsentKind::SocialSecurity => &[Capability::SocialSecurityCard],
        }
    }
}

/// One text as the user reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentText {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    kind: ConsentKind,
    version: u32,
    /// By locale tag: `zh-CN`, `zh-HK`, `en`.
    texts: BTreeMap<String, ConsentText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    kind: Vec<Entry>,
}

/// The locales every text must be in.
pub const LOCALES: [&str; 3] = ["zh-CN", "zh-HK", "en"];

/// The current text of every kind.
#[derive(Debug, Clone)]
pub struct ConsentTexts {
    entries: Vec<Entry>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextsError {
    #[error("consents.toml: {0}")]
    Parse(String),
    #[error("consents.toml: {0} has no text, or more than one entry")]
    Missing(&'static str),
    #[error("consents.toml: {0} has no text in {1}")]
    MissingLocale(&'static str, &'static str),
}

impl ConsentTexts {
    /// The texts bundled with idlink.
    pub fn bundled() -> Result<Self, TextsError> {
        Self::parse(BUNDLED)
    }

    /// Every kind exactly once, each in every locale.
    pub fn parse(toml_text: &str) -> Result<Self, TextsError> {
        let file: File = toml::from_str(toml_text).map_err(|e| TextsError::Parse(e.to_string()))?;
        for kind in ConsentKind::ALL {
            let mut of_kind = file.kind.iter().filter(|e| e.kind == kind);
            let (Some(entry), None) = (of_kind.next(), of_kind.next()) else { return Err(TextsError::Missing(kind.as_str())) };
            if let Some(locale) = LOCALES.into_iter().find(|l| !entry.texts.contains_key(*l)) {
                return Err(TextsError::MissingLocale(kind.as_str(), locale));
            }
        }
        Ok(Self { entries: file.kind })
    }

    fn entry(&self, kind: ConsentKind) -> Option<&Entry> {
        self.entries.iter().find(|e| e.kind == kind)
    }

    /// The current version of `kind`'s text.
    pub fn version(&self, kind: ConsentKind) -> u32 {
        self.entry(kind).map_or(0, |e| e.version)
    }

    /// The current text of `kind` in `locale` (a tag of [`LOCALES`]; another falls back to zh-CN).
    pub fn text(&self, kind: ConsentKind, locale: &str) -> Option<&ConsentText> {
        let entry = self.entry(kind)?;
        entry.texts.get(locale).or_else(|| entry.texts.get("zh-CN"))
    }
}

/// One consent record, as the rule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Given<T> {
    pub version: u32,
    pub at: T,
    pub withdrawn: Option<T>,
}

/// Where a user stands with one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ConsentState<T> {
    /// Never asked, or never given.
    Never,
    /// Given to the current version: processing is allowed.
    Given {
        version: u32,
        at: T,
    },
    /// Given to an older version: asked again before processing.
    Outdated {
        version: u32,
        at: T,
    },
    Withdrawn {
        version: u32,
        at: T,
    },
}

impl<T> ConsentState<T> {
    pub fn allows(&self) -> bool {
        matches!(self, ConsentState::Given { .. })
    }

    /// `never`, `given`, `outdated` or `withdrawn`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConsentState::Never => "never",
            ConsentState::Given { .. } => "given",
            ConsentState::Outdated { .. } => "outdated",
            ConsentState::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// The state of one kind from its records (any order): the newest record decides.
pub fn state<T: Ord + Copy>(records: &[Given<T>], current_version: u32) -> ConsentState<T> {
    match records.iter().max_by_key(|r| r.at) {
        None => ConsentState::Never,
        Some(r) => match r.withdrawn {
            Some(at) => ConsentState::Withdrawn { version: r.version, at },
            None if r.version == current_version => ConsentState::Given { version: r.version, at: r.at },
            None => ConsentState::Outdated { version: r.version, at: r.at },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_bundled_texts_cover_every_kind_in_every_locale() {
        let texts = ConsentTexts::bundled().unwrap_or_else(|e| panic!("{e}"));
        for kind in ConsentKind::ALL {
            assert!(texts.version(kind) >= 1, "{kind:?}");
            for locale in LOCALES {
                let t = texts.text(kind, locale).unwrap_or_else(|| panic!("{kind:?} {locale}"));
                assert!(!t.title.is_empty() && t.body.chars().count() > 40, "{kind:?} {locale}");
            }
            assert_eq!(ConsentKind::parse(kind.as_str()), Some(kind));
        }
        let missing = BUNDLED.replacen("[kind.texts.en]", "[kind.texts.fr]", 1);
        assert_eq!(ConsentTexts::parse(&missing).err(), Some(TextsError::MissingLocale("face", "en")));
    }

    #[test]
    fn the_newest_record_decides() {
        let r = |version, at, withdrawn| Given { version, at, withdrawn };
        assert_eq!(state::<u32>(&[], 1), ConsentState::Never);
        assert_eq!(state(&[r(1, 5, None)], 1), ConsentState::Given { version: 1, at: 5 });
        assert_eq!(state(&[r(1, 5, None)], 2), ConsentState::Outdated { version: 1, at: 5 });
        assert_eq!(state(&[r(1, 5, Some(7))], 1), ConsentState::Withdrawn { version: 1, at: 7 });
        assert_eq!(state(&[r(1, 5, Some(7)), r(1, 9, None)], 1), ConsentState::Given { version: 1, at: 9 }, "given again");
    }

    proptest! {
        /// Processing is allowed exactly when the newest record is of the
        /// current version and not withdrawn; a new version never allows
        /// what only older versions were given for.
        #[test]
        fn allowed_only_by_the_current_version_not_withdrawn(
            records in proptest::collection::vec((1u32..4, 0u32..1000, proptest::option::of(0u32..1000)), 0..8),
            current in 1u32..4,
        ) {
            // Distinct times, as records of one user are.
            let mut seen = std::collections::BTreeSet::new();
            let records: Vec<Given<u32>> = records
                .into_iter()
                .filter(|(_, at, _)| seen.insert(*at))
                .map(|(version, at, w)| Given { version, at, withdrawn: w.map(|w| at + w) })
                .collect();
            let newest = records.iter().max_by_key(|r| r.at);
            let allowed = newest.is_some_and(|r| r.version == current && r.withdrawn.is_none());
            prop_assert_eq!(state(&records, current).allows(), allowed);
            prop_assert!(!state(&records, current + 1).allows() || records.iter().any(|r| r.version == current + 1));
        }
    }
}
