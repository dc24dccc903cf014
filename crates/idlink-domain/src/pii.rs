//! Masking of personal financial information (SPEC P6, JR/T 0171-2020 C2).
//!
//! Masks: card `622202*********0123` (first 6, last 4), phone `138****1234`,
//! ID number first 3 + last 4; passport and permit numbers the last 4 at most
//! (never more than half). [`Masked`] wraps any clear value so that the
//! type system, not reviewer attention, keeps it out of logs and answers.

use serde::{Serialize, Serializer};
use std::fmt;

fn keep_ends(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `13812341234` → `138****1234`.
pub fn mask_phone(phone: &str) -> String {
    keep_ends(phone, 3, 4)
}

/// `6222021234567890123` → `622202*********0123`.
pub fn mask_card(card: &str) -> String {
    keep_ends(card, 6, 4)
}

/// `11010519491231002X` → `110***********002X`.
pub fn mask_id_number(id: &str) -> String {
    keep_ends(id, 3, 4)
}

/// The identity document a verification is based on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Verified automatically against the registry.
    ResidentId,
    /// Passports and permits go to operator review (two steps).
    Passport,
    HkMacauPermit,
    TaiwanPermit,
}

impl DocumentType {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::ResidentId => "resident_id",
            DocumentType::Passport => "passport",
            DocumentType::HkMacauPermit => "hk_macau_permit",
            DocumentType::TaiwanPermit => "taiwan_permit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::ResidentId, Self::Passport, Self::HkMacauPermit, Self::TaiwanPermit].into_iter().find(|d| d.as_str() == s)
    }
}

/// `E87654321` (passport) → `*****4321`; a resident ID keeps the ID rule.
///
/// Passport and permit numbers are 8–9 characters, so the ID card's first 3 +
/// last 4 would show nearly all of them. Other documents keep only the last
/// characters, at most 4 and never more than half of the number.
pub fn mask_document_number(doc_type: DocumentType, number: &str) -> String {
    match doc_type {
        DocumentType::ResidentId => mask_id_number(number),
        DocumentType::Passport | DocumentType::HkMacauPermit | DocumentType::TaiwanPermit => {
            let len = number.chars().count();
            keep_ends(number, 0, (len / 2).min(4))
        }
    }
}

/// A clear value that shows only its mask. Use [`Masked::reveal`] to read it.
#[derive(Clone)]
pub struct Masked<T> {
    value: T,
    mask: fn(&str) -> String,
}

impl<T: AsRef<str>> Masked<T> {
    pub fn new(value: T, mask: fn(&str) -> String) -> Self {
        Self { value, mask }
    }

    pub fn reveal(&self) -> &T {
        &self.value
    }

    pub fn masked(&self) -> String {
        (self.mask)(self.value.as_ref())
    }
}

impl<T: AsRef<str>> fmt::Debug for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masked({})", self.masked())
    }
}

impl<T: AsRef<str>> fmt::Display for Masked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl<T: AsRef<str>> Serialize for Masked<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_spec_examples() {
        assert_eq!(mask_card("6222021234567890123"), "622202*********0123");
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_id_number("11010519491231002X"), "110***********002X");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn documents_other_than_the_id_card_show_at_most_their_last_four() {
        assert_eq!(mask_document_number(DocumentType::ResidentId, "11010519491231002X"), "110***********002X");
        assert_eq!(mask_document_number(DocumentType::Passport, "E87654321"), "*****4321");
        assert_eq!(mask_document_number(DocumentType::TaiwanPermit, "12345678"), "****5678");
        assert_eq!(mask_document_number(DocumentType::HkMacauPermit, "H1234567"), "****4567");
        assert_eq!(mask_document_number(DocumentType::Passport, "E12"), "**2");
    }

    proptest::proptest! {
        /// No mask of a passport or permit number shows more than half of it,
        /// and what it shows is the number's own tail.
        #[test]
        fn no_document_mask_reveals_more_than_half(
            number in "[A-Z0-9]{0,20}",
            doc in proptest::sample::select(vec![DocumentType::Passport, DocumentType::HkMacauPermit, DocumentType::TaiwanPermit]),
        ) {
            let masked = mask_document_number(doc, &number);
            proptest::prop_assert_eq!(masked.chars().count(), number.chars().count());
            let shown: Vec<(char, char)> = masked.chars().zip(number.chars()).filter(|(m, _)| *m != '*').collect();
            proptest::prop_assert!(shown.len() * 2 <= number.chars().count(), "{} shows {} of {}", masked, shown.len(), number);
            proptest::prop_assert!(shown.iter().all(|(m, n)| m == n));
            proptest::prop_assert!(masked.ends_with(&number.chars().rev().take(shown.len()).collect::<Vec<_>>().into_iter().rev().collect::<String>()));
        }
    }

    #[test]
    fn masked_never_prints_the_value() {
        let m = Masked::new(String::from("11010519491231002X"), mask_id_number);
        let shown = format!("{m:?} {m}");
        assert!(!shown.contains("19491231"), "{shown}");
        assert_eq!(m.reveal(), "11010519491231002X");
    }
}
