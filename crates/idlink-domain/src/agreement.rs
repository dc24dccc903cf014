//! The electronic agreement with risk notice that some banks require before
//! balance queries (SPEC BK3 tier 4): the documents as data, and how each
//! bank's current document is made from them.
//!
//! `data/agreements.toml` holds one template, filled in with the bank's name
//! and disclosure policy, and optional per-bank entries with a version (and
//! text) of their own. A bank's document version is `{CODE}-{version}`, and
//! the version is part of the text, so a new version is also a new text.
//! Hashing and checking signatures against the current document happen in
//! `idlink-core`.

use crate::disclosure::{Freshness, Precision};
use crate::roster::Bank;
use serde::Deserialize;

const BUNDLED: &str = include_str!("../data/agreements.toml");

/// The placeholders a template may use.
/// How long a signed electronic agreement stays in force unless configured
/// otherwise (`connectors.bank.agreement_validity_days`): one year.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;

pub const PLACEHOLDERS: &[&str] = &["bank_name", "bank_code", "version", "precision", "freshness", "validity_days"];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Template {
    version: String,
    title: String,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankEntry {
    code: String,
    version: String,
    title: Option<String>,
    text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    template: Template,
    #[serde(default)]
    banks: Vec<BankEntry>,
}

/// The agreement documents: a template and per-bank versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementTemplates {
    file: File,
}

/// One bank's document, filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementText {
    /// `{CODE}-{version}`, e.g. `CMB-2026-01`.
    pub version: String,
    pub title: String,
    /// The whole document as shown to the user (agreement, then risk notice).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgreementError {
    #[error("the agreement documents are not valid TOML: {0}")]
    Syntax(String),
    #[error("{place}: unknown placeholder {{{name}}}; placeholders: {}", PLACEHOLDERS.join(", "))]
    UnknownPlaceholder { place: String, name: String },
    #[error("{place}: a version is 1 to 32 letters, digits, `.`, `_` or `-`")]
    BadVersion { place: String },
    #[error("{place}: the text is empty")]
    EmptyText { place: String },
    #[error("bank {0} has two entries")]
    Duplicate(String),
}

fn check_version(v: &str, place: &str) -> Result<(), AgreementError> {
    let ok = (1..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(AgreementError::BadVersion { place: place.to_owned() }) }
}

/// Every `{name}` in `text` is a known placeholder.
fn check_placeholders(text: &str, place: &str) -> Result<(), AgreementError> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name = after.split('}').next().unwrap_or("");
        if !PLACEHOLDERS.contains(&name) {
            return Err(AgreementError::UnknownPlaceholder { place: place.to_owned(), name: name.chars().take(40).collect() });
        }
        rest = &after[name.len()..];
    }
    Ok(())
}

/// The precision of a policy, as the document states it.
pub fn precision_zh(p: Precision) -> String {
    match p {
        Precision::Yuan => "精确到元（角、分不予显示）".to_owned(),
        Precision::Jiao => "精确到角（分不予显示）".to_owned(),
        Precision::Range { width } => {
            let yuan = width / 100;
            format!("余额所在的金额区间（每档{yuan}元，例如“{yuan}元至{}元”），不显示具体金额", yuan.saturating_mul(2))
        }
        Precision::Closed => "不提供（本行不向第三方提供余额信息）".to_owned(),
    }
}

/// The freshness of a policy, as the document states it (Beijing time).
pub fn freshness_zh(f: Freshness) -> String {
    const DAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
    match f {
        Freshness::RealTime => "查询时的实时余额".to_owned(),
        Freshness::Daily { hour, minute } => format!("每日{hour:02}:{minute:02}（北京时间）的余额快照"),
        Freshness::Weekly { weekday, hour } => {
            let day = usize::try_from(weekday - 1).ok().and_then(|i| DAYS.get(i)).unwrap_or(&"三");
            format!("每周{day}{hour:02}:00（北京时间）的余额快照")
        }
    }
}

impl AgreementTemplates {
    /// Parses and checks the documents: known placeholders, valid versions, one entry per bank.
    pub fn parse(text: &str) -> Result<Self, AgreementError> {
        let file: File = toml::from_str(text).map_err(|e| AgreementError::Syntax(e.to_string()))?;
        let t = &file.template;
        check_version(&t.version, "[template] version")?;
        check_placeholders(&t.title, "[template] title")?;
        check_placeholders(&t.text, "[template] text")?;
        if t.text.trim().is_empty() {
            return Err(AgreementError::EmptyText { place: "[template]".into() });
        }
        let mut seen = std::collections::HashSet::new();
        for b in &file.banks {
            let place = format!("[[banks]] {}", b.code);
            if !seen.insert(b.code.as_str()) {
                return Err(AgreementError::Duplicate(b.code.clone()));
            }
            check_version(&b.version, &place)?;
            if let Some(title) = &b.title {
                check_placeholders(title, &place)?;
            }
            if let Some(text) = &b.text {
                check_placeholders(text, &place)?;
                if text.trim().is_empty() {
                    return Err(AgreementError::EmptyText { place });
                }
            }
        }
        Ok(Self { file })
    }

    /// The documents shipped in `data/agreements.toml`.
    pub fn bundled() -> Result<Self, AgreementError> {
        Self::parse(BUNDLED)
    }

    /// The text of `data/agreements.toml` (a starting point for `connectors.bank.agreements_file`).
    pub fn bundled_text() -> &'static str {
        BUNDLED
    }

    /// The bank's current document, filled in with its name and policy.
    pub fn render(&self, bank: &Bank, validity_days: i64) -> AgreementText {
        let own = self.file.banks.iter().find(|b| b.code == bank.code);
        let version = format!("{}-{}", bank.code, own.map_or(self.file.template.version.as_str(), |b| b.version.as_str()));
        let title = own.and_then(|b| b.title.as_deref()).unwrap_or(&self.file.template.title);
        let text = own.and_then(|b| b.text.as_deref()).unwrap_or(&self.file.template.text);
        let values = [
            ("bank_name", bank.name.clone()),
            ("bank_code", bank.code.clone()),
            ("version", version.clone()),
            ("precision", precision_zh(bank.precision)),
            ("freshness", freshness_zh(bank.freshness)),
            ("validity_days", validity_days.to_string()),
        ];
        let fill = |s: &str| values.iter().fold(s.trim().to_owned(), |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v));
        AgreementText { title: fill(title), text: format!("{}\n", fill(text)), version }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Roster;

    fn cmb() -> Bank {
        Roster::bundled().ok().and_then(|r| r.bank("CMB").cloned()).unwrap_or_else(|| panic!("CMB in the roster"))
    }

    #[test]
    fn the_bundled_document_names_the_bank_and_its_policy() {
        let t = AgreementTemplates::bundled().unwrap_or_else(|e| panic!("{e}"));
        let doc = t.render(&cmb(), 365);
        assert_eq!(doc.version, "CMB-2026-01");
        assert_eq!(doc.title, "招商银行账户余额信息查询授权协议及风险提示书");
        for part in ["招商银行", "CMB-2026-01", "精确到角", "每日18:00（北京时间）", "365日", "风险提示书"] {
            assert!(doc.text.contains(part), "{part} missing");
        }
        assert!(!doc.text.contains('{'), "every placeholder is filled");
    }

    #[test]
    fn a_bank_entry_gives_that_bank_a_version_of_its_own() {
        let text = format!("{}\n[[banks]]\ncode = \"CMB\"\nversion = \"2026-07\"\n", AgreementTemplates::bundled_text());
        let t = AgreementTemplates::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let mine = t.render(&cmb(), 365);
        assert_eq!(mine.version, "CMB-2026-07");
        assert!(mine.text.contains("CMB-2026-07"));
        let mut other = cmb();
        other.code = "CIB".into();
        assert_eq!(t.render(&other, 365).version, "CIB-2026-01");
    }

    #[test]
    fn bad_documents_are_refused_naming_the_place() {
        let bad = "[template]\nversion = \"1\"\ntitle = \"x\"\ntext = \"{bank_nam}\"\n";
        assert!(matches!(AgreementTemplates::parse(bad), Err(AgreementError::UnknownPlaceholder { name, .. }) if name == "bank_nam"));
        let bad = "[template]\nversion = \"a b\"\ntitle = \"x\"\ntext = \"y\"\n";
        assert!(matches!(AgreementTemplates::parse(bad), Err(AgreementError::BadVersion { .. })));
        let dup = "[template]\nversion = \"1\"\ntitle = \"x\"\ntext = \"y\"\n[[banks]]\ncode = \"A\"\nversion = \"2\"\n[[banks]]\ncode = \"A\"\nversion = \"3\"\n";
        assert_eq!(AgreementTemplates::parse(dup), Err(AgreementError::Duplicate("A".into())));
    }

    #[test]
    fn policies_read_in_chinese() {
        assert!(precision_zh(Precision::Range { width: 100_000 }).contains("每档1000元"));
        assert_eq!(freshness_zh(Freshness::Weekly { weekday: 3, hour: 0 }), "每周三00:00（北京时间）的余额快照");
    }
}
