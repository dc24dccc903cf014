//! Personal names as written on identity documents.
//!
//! - Chinese names: Han characters, 2 to 30 characters; minority names
//!   join their parts with the middle dot `·` (U+00B7). The look-alike dots
//!   people type (`•`, `・`, `．`, `.`) are normalised to U+00B7; a dot may not
//!   start or end the name or follow another dot.
//! - Latin names (passports and permits): letters, spaces, `-`, `'` and `.`,
//!   2 to 70 characters, spaces collapsed; stored upper-case as on the MRZ.

use crate::pii::Masked;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("a name has 2 to {max} characters, this one has {len}")]
    Length { len: usize, max: usize },
    #[error("`{0}` cannot appear in a name; use Chinese characters (with · for minority names) or Latin letters as on the passport")]
    BadCharacter(char),
    #[error("the middle dot · must stand between two parts of the name")]
    MisplacedDot,
    #[error("a name is written either in Chinese characters or in Latin letters, not both")]
    MixedScripts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    Chinese,
    Latin,
}

/// A validated personal name; shows masked (only the first character).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName {
    value: String,
    script: Script,
}

fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF | 0x30000..=0x323AF)
}

const MIDDLE_DOT: char = '\u{00B7}';

impl PersonName {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        let has_han = trimmed.chars().any(is_han);
        let has_latin = trimmed.chars().any(|c| c.is_alphabetic() && !is_han(c));
        match (has_han, has_latin) {
            (true, true) => Err(NameError::MixedScripts),
            (true, false) => Self::chinese(trimmed),
            _ => Self::latin(trimmed),
        }
    }

    fn chinese(s: &str) -> Result<Self, NameError> {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                c if is_han(c) => out.push(c),
                '·' | '•' | '・' | '．' | '.' | '‧' | '∙' => out.push(MIDDLE_DOT),
                c if c.is_whitespace() => return Err(NameError::BadCharacter(' ')),
                c => return Err(NameError::BadCharacter(c)),
            }
        }
        if out.starts_with(MIDDLE_DOT) || out.ends_with(MIDDLE_DOT) || out.contains("··") {
            return Err(NameError::MisplacedDot);
        }
        let len = out.chars().count();
        if !(2..=30).contains(&len) {
            return Err(NameError::Length { len, max: 30 });
        }
        Ok(Self { value: out, script: Script::Chinese })
    }

    fn latin(s: &str) -> Result<Self, NameError> {
        let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Some(c) = collapsed.chars().find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.'))) {
            return Err(NameError::BadCharacter(c));
        }
        let len = collapsed.chars().count();
        if !(2..=70).contains(&len) {
            return Err(NameError::Length { len, max: 70 });
        }
        Ok(Self { value: collapsed.to_uppercase(), script: Script::Latin })
    }

    pub fn script(&self) -> Script {
        self.script
    }

    pub fn reveal(&self) -> &str {
        &self.value
    }

    /// `张*`, `阿***`, `J***`: the first character only.
    pub fn masked(&self) -> String {
        let mut chars = self.value.chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        format!("{first}{}", "*".repeat(chars.count()))
    }

    /// The name wrapped so it can only be shown masked.
    pub fn to_masked(&self) -> Masked<String> {
        fn mask(s: &str) -> String {
            let mut chars = s.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            format!("{first}{}", "*".repeat(chars.count()))
        }
        Masked::new(self.value.clone(), mask)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_with_and_without_middle_dots() {
        assert_eq!(PersonName::parse("张三").map(|n| n.reveal().to_owned()), Ok("张三".into()));
        assert_eq!(PersonName::parse("阿卜杜拉•买买提").map(|n| n.reveal().to_owned()), Ok("阿卜杜拉·买买提".into()));
        assert_eq!(PersonName::parse("·张三"), Err(NameError::MisplacedDot));
        assert_eq!(PersonName::parse("张··三"), Err(NameError::MisplacedDot));
        assert_eq!(PersonName::parse("张"), Err(NameError::Length { len: 1, max: 30 }));
        assert_eq!(PersonName::parse("张 三"), Err(NameError::BadCharacter(' ')));
        assert_eq!(PersonName::parse("张3"), Err(NameError::BadCharacter('3')));
        assert_eq!(PersonName::parse("张San"), Err(NameError::MixedScripts));
    }

    #[test]
    fn latin_names_as_on_passports() {
        assert_eq!(PersonName::parse("  o'Brien-smith   john ").map(|n| n.reveal().to_owned()), Ok("O'BRIEN-SMITH JOHN".into()));
        assert_eq!(PersonName::parse("Zoë Müller").map(|n| n.script()), Ok(Script::Latin));
        assert_eq!(PersonName::parse("J0hn"), Err(NameError::BadCharacter('0')));
        assert_eq!(PersonName::parse(""), Err(NameError::Empty));
    }

    #[test]
    fn names_show_masked() {
        let n = PersonName::parse("阿卜杜拉·买买提").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{n} {n:?}"), "阿******* PersonName(阿*******)");
        assert_eq!(n.to_masked().to_string(), "阿*******");
    }
}
