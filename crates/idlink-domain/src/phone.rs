//! Mainland China mobile numbers.
//!
//! Accepted: 11 digits starting with a prefix allocated to a mobile operator
//! or a virtual operator, optionally written with `+86`/`86`, spaces or dashes.
//! Refused: 13-digit IoT numbers (`14x`/`10648`… data-only ranges), landlines,
//! anything with other characters.

use crate::pii::mask_phone;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Mobile prefixes (first three digits) allocated to operators and MVNOs
/// (MIIT numbering plan), as published up to 2024.
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", // 13x
    "145", "147", "149", // 14x: data cards are 146/148 (13 digits), refused
    "150", "151", "152", "153", "155", "156", "157", "158", "159", // 15x
    "162", "165", "166", "167", // 16x
    "170", "171", "172", "173", "175", "176", "177", "178", // 17x
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", // 18x
    "190", "191", "192", "193", "195", "196", "197", "198", "199", // 19x
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number must contain only digits, optionally after +86")]
    NotDigits,
    #[error("IoT (13-digit) numbers cannot receive SMS codes; use a mobile phone number")]
    IotNumber,
    #[error("a mainland mobile number has 11 digits, this one has {0}")]
    WrongLength(usize),
    #[error("{0} is not a mainland mobile prefix; check the number")]
    UnknownPrefix(String),
}

/// A validated mainland mobile number in its 11-digit national form.
/// `Debug`, `Display` and `Serialize` show it masked (`138****1234`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits =
            compact.strip_prefix("+86").or_else(|| (compact.len() == 13).then(|| compact.strip_prefix("86")).flatten()).unwrap_or(&compact);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotDigits);
        }
        if digits.len() == 13 {
            return Err(PhoneError::IotNumber);
        }
        if digits.len() != 11 {
            return Err(PhoneError::WrongLength(digits.len()));
        }
        let prefix = &digits[..3];
        if !MOBILE_PREFIXES.contains(&prefix) {
            return Err(PhoneError::UnknownPrefix(prefix.to_owned()));
        }
        Ok(Self(digits.to_owned()))
    }

    /// The clear 11-digit number. Call only to encrypt it or to send an SMS.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mainland_mobiles_in_common_spellings() {
        for input in ["13812341234", "+8613812341234", "8613812341234", "138 1234 1234", "199-0000-1111"] {
            let p = PhoneNumber::parse(input);
            assert!(p.is_ok(), "{input}: {p:?}");
        }
        assert_eq!(PhoneNumber::parse("+86 138 1234 1234").map(|p| p.reveal().to_owned()), Ok("13812341234".into()));
    }

    #[test]
    fn refuses_iot_landline_and_unknown_prefixes() {
        assert_eq!(PhoneNumber::parse("1440123456789"), Err(PhoneError::IotNumber));
        assert_eq!(PhoneNumber::parse("1064812345678"), Err(PhoneError::IotNumber));
        assert_eq!(PhoneNumber::parse("12012341234"), Err(PhoneError::UnknownPrefix("120".into())));
        assert_eq!(PhoneNumber::parse("1381234123"), Err(PhoneError::WrongLength(10)));
        assert_eq!(PhoneNumber::parse("13812341234x"), Err(PhoneError::NotDigits));
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::NotDigits));
    }

    #[test]
    fn never_shows_the_clear_number() {
        let p = PhoneNumber::parse("13812341234").ok();
        let shown = format!("{p:?} {}", p.as_ref().map(|p| p.to_string()).unwrap_or_default());
        assert!(!shown.contains("13812341234"), "{shown}");
        assert!(shown.contains("138****1234"), "{shown}");
    }
}
