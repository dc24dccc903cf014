//! Resident identity card numbers (GB 11643-1999).
//!
//! 18 characters: a 6-digit administrative division code (GB/T 2260, any
//! code in the published history, so people born where a county was later
//! renamed keep a valid number), an 8-digit birth date `YYYYMMDD`, a 3-digit
//! sequence (odd for men, even for women) and a check character computed
//! with ISO 7064 MOD 11-2 (`0`–`9` or `X`).

use crate::pii::mask_id_number;
use jiff::civil::Date;
use serde::{Serialize, Serializer};
use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

const AREA_CODES_CSV: &str = include_str!("../data/areacodes/result.csv");

/// Every division code in the GB/T 2260 history.
fn division_codes() -> &'static HashSet<u32> {
    static CODES: OnceLock<HashSet<u32>> = OnceLock::new();
    CODES.get_or_init(|| {
        AREA_CODES_CSV
            .lines()
            .filter_map(|l| l.trim_start_matches('\u{feff}').split(',').next())
            .filter_map(|c| c.parse::<u32>().ok())
            .collect()
    })
}

/// The age of majority in the PRC (Civil Code art. 17): under it, a user is a minor (SPEC ID4).
pub const AGE_OF_MAJORITY: i16 = 18;

/// Whether someone of `age` full years is a minor.
pub fn is_minor(age: i16) -> bool {
    age < AGE_OF_MAJORITY
}

/// Full years from `birth` to `today` (a birthday counts on its day).
pub fn age_on(birth: Date, today: Date) -> i16 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// Whether `code` appears in the GB/T 2260 history.
pub fn is_division_code(code: &str) -> bool {
    code.len() == 6 && code.parse::<u32>().is_ok_and(|c| division_codes().contains(&c))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an ID number has 18 characters, this one has {0}")]
    WrongLength(usize),
    #[error("the first 17 characters must be digits and the last a digit or X")]
    BadCharacters,
    #[error("{0} is not an administrative division code (GB/T 2260); check the first six digits")]
    UnknownDivision(String),
    #[error("{0} is not a real date; check digits 7 to 14 (the birth date)")]
    BadBirthDate(String),
    #[error("the birth date {0} is in the future")]
    FutureBirthDate(Date),
    #[error("the check character is wrong (expected {expected}); check the number on the card")]
    BadCheckCharacter { expected: char },
}

/// ISO 7064 MOD 11-2 check character over the first 17 digits.
pub fn check_character(first17: &[u8; 17]) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize]
}

/// A valid resident ID number. Shows masked (`110***********002X`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    value: String,
    birth: Date,
}

impl IdNumber {
    /// Validates `input` (a lowercase `x` is accepted) against `today`, the
    /// current date in Asia/Shanghai supplied by the caller's clock.
    pub fn parse(input: &str, today: Date) -> Result<Self, IdNumberError> {
        let value = input.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if value.chars().count() != 18 {
            return Err(IdNumberError::WrongLength(value.chars().count()));
        }
        let Ok(first17) = <[u8; 17]>::try_from(&bytes[..17]) else {
            return Err(IdNumberError::BadCharacters);
        };
        if !first17.iter().all(u8::is_ascii_digit) || !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(IdNumberError::BadCharacters);
        }
        let division = &value[..6];
        if !is_division_code(division) {
            return Err(IdNumberError::UnknownDivision(division.to_owned()));
        }
        let (y, m, d) = (&value[6..10], &value[10..12], &value[12..14]);
        let birth = match (y.parse::<i16>(), m.parse::<i8>(), d.parse::<i8>()) {
            (Ok(y), Ok(m), Ok(d)) if y >= 1800 => Date::new(y, m, d).ok(),
            _ => None,
        }
        .ok_or_else(|| IdNumberError::BadBirthDate(value[6..14].to_owned()))?;
        if birth > today {
            return Err(IdNumberError::FutureBirthDate(birth));
        }
        let expected = check_character(&first17);
        if char::from(bytes[17]) != expected {
            return Err(IdNumberError::BadCheckCharacter { expected });
        }
        Ok(Self { value, birth })
    }

    pub fn birth_date(&self) -> Date {
        self.birth
    }

    /// Full years of age on `today`.
    pub fn age_on(&self, today: Date) -> i16 {
        age_on(self.birth, today)
    }

    /// The clear number. Call only to encrypt it, index it or send it to the registry.
    pub fn reveal(&self) -> &str {
        &self.value
    }

    pub fn masked(&self) -> String {
        mask_id_number(&self.value)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for IdNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> Date {
        Date::new(2026, 11, 22).unwrap_or_default()
    }

    #[test]
    fn the_standard_example_is_valid_and_a_wrong_check_digit_is_not() {
        let id = IdNumber::parse("11010519491231002X", today());
        assert_eq!(id.as_ref().map(|i| i.birth_date()), Ok(Date::new(1949, 12, 31).unwrap_or_default()));
        assert_eq!(IdNumber::parse("11010519491231002x", today()).map(|i| i.reveal().to_owned()), Ok("11010519491231002X".into()));
        assert_eq!(IdNumber::parse("110105194912310021", today()), Err(IdNumberError::BadCheckCharacter { expected: 'X' }));
    }

    #[test]
    fn historical_division_codes_are_accepted_and_invented_ones_refused() {
        // 440524 (Chaoyang county, Shantou) was abolished in 1993.
        let mut first17 = *b"44052419800101001";
        let with_check = |f: &[u8; 17]| format!("{}{}", std::str::from_utf8(f).unwrap_or(""), check_character(f));
        assert!(IdNumber::parse(&with_check(&first17), today()).is_ok());
        first17[..6].copy_from_slice(b"999999");
        assert_eq!(IdNumber::parse(&with_check(&first17), today()), Err(IdNumberError::UnknownDivision("999999".into())));
    }

    #[test]
    fn birth_dates_must_be_real_and_past() {
        let make = |date: &str| {
            let mut f = [0u8; 17];
            f.copy_from_slice(format!("110105{date}001").as_bytes());
            format!("{}{}", std::str::from_utf8(&f).unwrap_or(""), check_character(&f))
        };
        assert_eq!(IdNumber::parse(&make("20230229"), today()), Err(IdNumberError::BadBirthDate("20230229".into())));
        assert!(IdNumber::parse(&make("20240229"), today()).is_ok(), "leap day");
        assert!(matches!(IdNumber::parse(&make("20270101"), today()), Err(IdNumberError::FutureBirthDate(_))));
        assert!(matches!(IdNumber::parse(&make("17991231"), today()), Err(IdNumberError::BadBirthDate(_))));
    }

    #[test]
    fn shape_errors_and_masking() {
        assert_eq!(IdNumber::parse("1101051949123100", today()), Err(IdNumberError::WrongLength(16)));
        assert_eq!(IdNumber::parse("11010519491231002Y", today()), Err(IdNumberError::BadCharacters));
        assert_eq!(IdNumber::parse("1101051949123100２X", today()), Err(IdNumberError::BadCharacters), "a full-width digit");
        let id = IdNumber::parse("11010519491231002X", today()).ok();
        let shown = format!("{id:?}");
        assert!(!shown.contains("19491231") && shown.contains("110***********002X"), "{shown}");
    }

    #[test]
    fn age_counts_full_years() {
        let id = IdNumber::parse("11010519491231002X", today()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.age_on(Date::new(2026, 12, 30).unwrap_or_default()), 76);
        assert_eq!(id.age_on(Date::new(2026, 12, 31).unwrap_or_default()), 77);
    }

    proptest! {
        /// Any 17 digits with a known division code and a real date plus the
        /// computed check character parse; any other check character does not.
        #[test]
        fn the_check_character_decides(seq in 0u32..1000, days in 0i32..36_500, wrong in 0usize..11) {
            let birth = Date::new(1920, 1, 1).unwrap_or_default().checked_add(jiff::Span::new().days(days)).unwrap_or_default();
            let body = format!("110105{}{seq:03}", birth.strftime("%Y%m%d"));
            let mut f = [0u8; 17];
            f.copy_from_slice(body.as_bytes());
            let good = check_character(&f);
            let valid = format!("{body}{good}");
            prop_assert!(IdNumber::parse(&valid, today()).is_ok());
            let other = ['0','1','2','3','4','5','6','7','8','9','X'][wrong];
            if other != good {
                let invalid = format!("{body}{other}");
                let is_bad_check = matches!(IdNumber::parse(&invalid, today()), Err(IdNumberError::BadCheckCharacter { .. }));
                prop_assert!(is_bad_check);
            }
        }
    }
}
