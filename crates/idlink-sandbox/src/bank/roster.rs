//! Sandbox banks built from the bank roster: for every bank, its disclosure
//! policy and test cards with numbers valid for the bank's BIN and length,
//! their holders, bank-reserved phones and balances. Deterministic, so tests
//! and demos can rely on them (`GET /sandbox/v1/banks`).

use idlink_domain::card::{BinEntry, BinTable, CardType, luhn_check_digit};
use idlink_domain::disclosure::{Freshness, Precision};
use idlink_domain::idnumber::check_character;
use idlink_domain::roster::{Bank, Channel, Roster};
use serde::Serialize;
use std::collections::HashMap;

/// A person the sandbox banks know.
#[derive(Debug, Clone, Serialize)]
pub struct TestIdentity {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

/// The sandbox's test people (valid ID numbers, real mainland prefixes; no
/// phone ends in 0000 or 4444, which are SMS and registry test values).
pub fn test_identities() -> Vec<TestIdentity> {
    let id = |body: &str| {
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(body.as_bytes());
        format!("{body}{}", check_character(&first17))
    };
    vec![
        TestIdentity { name: "张三".into(), id_number: id("11010519491231002"), phone: "13800138000".into() },
        TestIdentity { name: "李四".into(), id_number: id("31010419850615123"), phone: "13900139000".into() },
        TestIdentity { name: "王五".into(), id_number: id("44030519920308456"), phone: "15000150005".into() },
        TestIdentity { name: "阿依古丽·买买提".into(), id_number: id("65010219880808789"), phone: "18600186000".into() },
    ]
}

#[derive(Debug, Clone, Serialize)]
pub struct TestCard {
    pub number: String,
    pub bank: String,
    /// `debit`, `credit`, `semi_credit` or `prepaid`, from the card's BIN.
    pub card_type: &'static str,
    pub holder_name: String,
    pub holder_id_number: String,
    pub reserved_phone: String,
    /// Balance in fen.
    pub balance: i64,
}

/// A sandbox bank: its roster policy and its test cards.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxBank {
    pub code: String,
    pub name: String,
    /// How precisely and how freshly the bank discloses balances, and whether
    /// it needs a signed agreement: what idlink applies to these cards.
    pub policy: Policy,
    pub cards: Vec<TestCard>,
}

/// A bank's disclosure policy from the roster (SPEC BK4).
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub channel: Channel,
    pub precision: Precision,
    pub freshness: Freshness,
    /// The bank refuses third-party balance queries (`precision` is `closed`).
    pub closed: bool,
    pub e_agreement: bool,
}

impl Policy {
    fn of(bank: &Bank) -> Self {
        Self {
            channel: bank.channel,
            precision: bank.precision,
            freshness: bank.freshness,
            closed: bank.precision == Precision::Closed,
            e_agreement: bank.e_agreement,
        }
    }
}

/// The banks and their cards, indexed by card number.
#[derive(Debug, Default)]
pub struct Banks {
    pub banks: Vec<SandboxBank>,
    by_number: HashMap<String, (usize, usize)>,
}

fn type_name(t: CardType) -> &'static str {
    match t {
        CardType::Debit => "debit",
        CardType::Credit => "credit",
        CardType::SemiCredit => "semi_credit",
        CardType::Prepaid => "prepaid",
    }
}

/// Last four digits that are test values of non-test cards (see [`super::cards`]).
const TEST_VALUE_ENDINGS: [&str; 3] = ["0000", "1111", "9999"];

/// Up to `n` card numbers for `bank`, valid for the BIN table (the longest
/// prefix of the number's length names `bank`) and for Luhn. BINs are tried
/// in order of preference: debit before credit, the common 16 and 19 digits
/// before 17 and 18, UnionPay (62…) first; 38 banks of the table issue no
/// 16- or 19-digit debit card, and a short BIN can be shadowed by another
/// bank's longer one, so each BIN is tried with several serials.
fn numbers_for(table: &BinTable, bank: &str, seed: u64, n: usize) -> Vec<(String, CardType)> {
    let mut bins: Vec<&BinEntry> =
        table.entries().iter().filter(|e| e.bank == bank && (12..=19).contains(&e.length) && e.length > e.prefix.len()).collect();
    bins.sort_by_key(|e| (e.card_type != CardType::Debit, !matches!(e.length, 16 | 19), !e.prefix.starts_with("62"), e.prefix.clone()));
    let mut out: Vec<(String, CardType)> = Vec::new();
    for bin in bins {
        let fill = bin.length - bin.prefix.len() - 1;
        let modulus = 10u64.pow(fill.min(18) as u32);
        for k in 0..n as u64 {
            // Attempt 0 is the serial these cards always had; later ones spread the leading digits.
            let found = (0..200u64).find_map(|attempt| {
                let serial = (seed + k * 3 + 1).wrapping_add(attempt.wrapping_mul(987_654_321_987)) % modulus;
                let body = format!("{}{serial:0fill$}", bin.prefix);
                let number = format!("{body}{}", luhn_check_digit(&body));
                let ours = table.lookup(&number).is_ok_and(|e| e.bank == bank);
                let fresh = !out.iter().any(|(o, _)| *o == number) && !TEST_VALUE_ENDINGS.contains(&&number[number.len() - 4..]);
                (ours && fresh).then_some(number)
            });
            if let Some(number) = found {
                out.push((number, bin.card_type));
            }
            if out.len() == n {
                return out;
            }
        }
    }
    out
}

impl Banks {
    /// Two cards per bank of the roster, of the BIN table's most common kind the bank issues.
    pub fn from_roster(roster: &Roster, table: &BinTable) -> Self {
        let people = test_identities();
        let mut banks = Vec::new();
        let mut by_number = HashMap::new();
        for (bi, bank) in roster.banks.iter().enumerate() {
            let cards: Vec<TestCard> = numbers_for(table, &bank.code, bi as u64 * 7, 2)
                .into_iter()
                .enumerate()
                .map(|(k, (number, card_type))| {
                    let p = &people[(bi + k) % people.len()];
                    TestCard {
                        number,
                        bank: bank.code.clone(),
                        card_type: type_name(card_type),
                        holder_name: p.name.clone(),
                        holder_id_number: p.id_number.clone(),
                        reserved_phone: p.phone.clone(),
                        balance: ((bi as i64 * 7919 + k as i64 * 104_729) % 5_000_000) + 12_345,
                    }
                })
                .collect();
            for (ci, c) in cards.iter().enumerate() {
                by_number.insert(c.number.clone(), (banks.len(), ci));
            }
            // A bank absent from the BIN table (a roster edited by hand) is listed without cards.
            banks.push(SandboxBank { code: bank.code.clone(), name: bank.name.clone(), policy: Policy::of(bank), cards });
        }
        Self { banks, by_number }
    }

    pub fn card(&self, number: &str) -> Option<&TestCard> {
        let (b, c) = *self.by_number.get(number)?;
        self.banks.get(b)?.cards.get(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_domain::card::CardNumber;

    #[test]
    fn every_test_card_is_valid_for_its_bank() {
        let table = BinTable::bundled();
        let roster = Roster::bundled().unwrap_or_else(|e| panic!("{e}"));
        let banks = Banks::from_roster(&roster, table);
        assert_eq!(banks.banks.len(), roster.banks.len());
        for b in &banks.banks {
            assert_eq!(b.cards.len(), 2, "{} has two test cards", b.code);
            let bank = roster.bank(&b.code).unwrap_or_else(|| panic!("{}", b.code));
            assert_eq!((b.policy.precision, b.policy.freshness, b.policy.e_agreement), (bank.precision, bank.freshness, bank.e_agreement));
            for c in &b.cards {
                assert!(!TEST_VALUE_ENDINGS.contains(&&c.number[c.number.len() - 4..]), "{}", c.number);
                let parsed = CardNumber::parse(&c.number, table).unwrap_or_else(|e| panic!("{}: {e}", c.number));
                assert_eq!(parsed.bank(), b.code);
                assert!(!parsed.luhn_warning());
                assert_eq!(banks.card(&c.number).map(|x| x.bank.as_str()), Some(b.code.as_str()));
            }
        }
        for code in idlink_domain::roster::STATE_OWNED {
            assert!(banks.banks.iter().any(|b| b.code == *code), "{code} has test cards");
        }
        for p in test_identities() {
            assert!(idlink_domain::IdNumber::parse(&p.id_number, jiff::civil::date(2026, 1, 1)).is_ok(), "{}", p.id_number);
            assert!(idlink_domain::PhoneNumber::parse(&p.phone).is_ok());
            assert!(!p.phone.ends_with("0000") && !p.phone.ends_with("4444"), "{} collides with a test value", p.phone);
            assert!(idlink_domain::PersonName::parse(&p.name).is_ok());
        }
    }
}
