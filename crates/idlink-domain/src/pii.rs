//! Masking of personal financial information (SPEC P6, JR/T 0171-2020 C2).
//!
//! Masks: card `622202*********0123` (first 6, last 4), phone `138****1234`,
//! ID number first 3 + last 4. [`Masked`] wraps any clear value so that the
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
    fn masked_never_prints_the_value() {
        let m = Masked::new(String::from("11010519491231002X"), mask_id_number);
        let shown = format!("{m:?} {m}");
        assert!(!shown.contains("19491231"), "{shown}");
        assert_eq!(m.reveal(), "11010519491231002X");
    }
}
