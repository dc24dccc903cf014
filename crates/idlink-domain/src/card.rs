//! Bank card numbers (SPEC BK1): validation, masking, and the issuing bank
//! by longest-prefix match on the real BIN table.
//!
//! A number must have the length its BIN entry states. A Luhn failure is a
//! refusal, except on UnionPay cards starting with 62, where some issuers
//! printed numbers without a valid Luhn digit: there it is a warning.

use crate::pii::mask_card;
use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::OnceLock;

const BIN_CSV: &str = include_str!("../data/bank-bins/bin.csv");
const NAME_CSV: &str = include_str!("../data/bank-bins/name.csv");

/// Whether the Luhn (mod 10) check holds over all digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The Luhn check digit to append to `body`.
pub fn luhn_check_digit(body: &str) -> char {
    (b'0'..=b'9').map(char::from).find(|c| luhn_valid(&format!("{body}{c}"))).unwrap_or('0')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CardType {
    /// Debit (DC).
    Debit,
    /// Credit (CC).
    Credit,
    /// Semi-credit (SCC).
    SemiCredit,
    /// Prepaid (PC).
    Prepaid,
}

impl CardType {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "DC" => Some(CardType::Debit),
            "CC" => Some(CardType::Credit),
            "SCC" => Some(CardType::SemiCredit),
            "PC" => Some(CardType::Prepaid),
            _ => None,
        }
    }
}

/// One row of the BIN table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinEntry {
    pub prefix: String,
    pub bank: String,
    pub card_type: CardType,
    pub length: usize,
}

/// The BIN table and bank names, parsed once.
#[derive(Debug)]
pub struct BinTable {
    entries: Vec<BinEntry>,
    names: std::collections::HashMap<String, String>,
}

impl BinTable {
    /// The table compiled into the binary.
    pub fn bundled() -> &'static BinTable {
        static TABLE: OnceLock<BinTable> = OnceLock::new();
        TABLE.get_or_init(|| BinTable::parse(BIN_CSV, NAME_CSV))
    }

    pub fn parse(bins: &str, names: &str) -> BinTable {
        let entries = bins
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut c = l.trim().split(',');
                let (prefix, bank, kind, len) = (c.next()?, c.next()?, c.next()?, c.next()?);
                Some(BinEntry {
                    prefix: prefix.to_owned(),
                    bank: bank.to_owned(),
                    card_type: CardType::parse(kind)?,
                    length: len.parse().ok()?,
                })
            })
            .filter(|e| e.prefix.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        let names = names.lines().skip(1).filter_map(|l| l.trim().split_once(',').map(|(c, n)| (c.to_owned(), n.to_owned()))).collect();
        BinTable { entries, names }
    }

    pub fn entries(&self) -> &[BinEntry] {
        &self.entries
    }

    /// The bank's name, e.g. `中国工商银行` for `ICBC`.
    pub fn bank_name(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    /// The longest-prefix entry for `digits` among those of its length.
    /// `Err` names what failed: no BIN at all, or a BIN whose length differs.
    pub fn lookup(&self, digits: &str) -> Result<&BinEntry, CardError> {
        let matching: Vec<&BinEntry> = self.entries.iter().filter(|e| digits.starts_with(&e.prefix)).collect();
        let longest_of_length = matching.iter().filter(|e| e.length == digits.len()).max_by_key(|e| e.prefix.len());
        match longest_of_length {
            Some(e) => Ok(e),
            None => match matching.iter().max_by_key(|e| e.prefix.len()) {
                Some(e) => Err(CardError::WrongLength { bank: e.bank.clone(), expected: e.length, got: digits.len() }),
                None => Err(CardError::UnknownBin),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("a card number has 12 to 19 digits")]
    NotDigits,
    #[error("no bank issues cards starting with these digits; check the number")]
    UnknownBin,
    #[error("{bank} cards with this prefix have {expected} digits, this number has {got}")]
    WrongLength { bank: String, expected: usize, got: usize },
    #[error("the number fails its check digit; check it digit by digit")]
    LuhnFailed,
}

/// A card number whose bank and length are known. Shows masked (`622202*********0123`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber {
    digits: String,
    bank: String,
    card_type: CardType,
    luhn_warning: bool,
}

impl CardNumber {
    /// Validates against the BIN table: known prefix, matching length, Luhn
    /// (a warning only for 62-prefixed UnionPay cards).
    pub fn parse(input: &str, table: &BinTable) -> Result<Self, CardError> {
        let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::NotDigits);
        }
        let entry = table.lookup(&digits)?;
        let luhn_ok = luhn_valid(&digits);
        if !luhn_ok && !digits.starts_with("62") {
            return Err(CardError::LuhnFailed);
        }
        Ok(Self { bank: entry.bank.clone(), card_type: entry.card_type, luhn_warning: !luhn_ok, digits })
    }

    pub fn bank(&self) -> &str {
        &self.bank
    }

    pub fn card_type(&self) -> CardType {
        self.card_type
    }

    /// True when the number failed Luhn but was accepted (UnionPay 62 rule).
    pub fn luhn_warning(&self) -> bool {
        self.luhn_warning
    }

    pub fn reveal(&self) -> &str {
        &self.digits
    }

    pub fn masked(&self) -> String {
        mask_card(&self.digits)
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len().saturating_sub(4)..]
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({}, {})", self.masked(), self.bank)
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for CardNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn card(prefix: &str, len: usize) -> String {
        let body = format!("{prefix}{}", "1".repeat(len - prefix.len() - 1));
        format!("{body}{}", luhn_check_digit(&body))
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn the_bundled_table_finds_banks_by_longest_prefix() {
        let t = BinTable::bundled();
        assert!(t.entries().len() > 1500);
        let icbc = CardNumber::parse(&card("622202", 19), t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((icbc.bank(), icbc.card_type(), icbc.luhn_warning()), ("ICBC", CardType::Debit, false));
        assert_eq!(t.bank_name("ICBC"), Some("中国工商银行"));
        assert_eq!(CardNumber::parse(&card("622700", 19), t).map(|c| c.bank().to_owned()), Ok("CCB".into()));
        assert_eq!(CardNumber::parse(&card("622848", 19), t).map(|c| c.bank().to_owned()), Ok("ABC".into()));
    }

    #[test]
    fn length_and_luhn_rules() {
        let t = BinTable::bundled();
        assert_eq!(CardNumber::parse(&card("622202", 16), t), Err(CardError::WrongLength { bank: "ICBC".into(), expected: 19, got: 16 }));
        assert_eq!(CardNumber::parse("0000000000000000", t), Err(CardError::UnknownBin));
        assert_eq!(CardNumber::parse("62220212345", t), Err(CardError::NotDigits));
        // A 62 card with a bad check digit is accepted with a warning.
        let good = card("622202", 19);
        let bad = format!("{}{}", &good[..18], if good.ends_with('0') { '1' } else { '0' });
        assert_eq!(CardNumber::parse(&bad, t).map(|c| c.luhn_warning()), Ok(true));
        // Elsewhere a bad check digit is refused (a 4-prefixed BIN from the table).
        let visa_like = t.entries().iter().find(|e| !e.prefix.starts_with("62") && e.length == 16).cloned();
        if let Some(e) = visa_like {
            let good = card(&e.prefix, 16);
            let bad = format!("{}{}", &good[..15], if good.ends_with('0') { '1' } else { '0' });
            assert_eq!(CardNumber::parse(&bad, t), Err(CardError::LuhnFailed), "{}", e.prefix);
        }
    }

    #[test]
    fn card_numbers_show_masked() {
        let c = CardNumber::parse("6222 0212 3456 7890 123", BinTable::bundled());
        let shown = c.map(|c| format!("{c} {c:?}")).unwrap_or_default();
        assert!(shown.starts_with("622202*********0123"), "{shown}");
    }

    proptest! {
        /// Every BIN entry of the table, filled to its length with a valid
        /// check digit, resolves to a bank with that prefix length or longer.
        #[test]
        fn every_entry_resolves(i in 0usize..1700, fill in 0u8..10) {
            let t = BinTable::bundled();
            let e = &t.entries()[i % t.entries().len()];
            prop_assume!(e.length > e.prefix.len() && (12..=19).contains(&e.length));
            let body = format!("{}{}", e.prefix, (fill % 10).to_string().repeat(e.length - e.prefix.len() - 1));
            let number = format!("{body}{}", luhn_check_digit(&body));
            let found = t.lookup(&number);
            prop_assert!(found.is_ok(), "{number}");
            prop_assert!(found.map(|f| f.prefix.len() >= e.prefix.len()).unwrap_or(false));
        }
    }
}
