//! Sandbox banks built from the bank roster: for every bank, test cards with
//! numbers valid for the bank's BIN and length, their holders, bank-reserved
//! phones and balances. Deterministic, so tests and demos can rely on them
//! (`GET /sandbox/v1/banks`).

use idlink_domain::card::{BinTable, CardType, luhn_check_digit};
use idlink_domain::idnumber::check_character;
use idlink_domain::roster::Roster;
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
    pub holder_name: String,
    pub holder_id_number: String,
    pub reserved_phone: String,
    /// Balance in fen.
    pub balance: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SandboxBank {
    pub code: String,
    pub name: String,
    pub cards: Vec<TestCard>,
}

/// The banks and their cards, indexed by card number.
#[derive(Debug, Default)]
pub struct Banks {
    pub banks: Vec<SandboxBank>,
    by_number: HashMap<String, (usize, usize)>,
}

impl Banks {
    /// Two debit cards per bank that has a debit BIN of 16 or 19 digits (a UnionPay one when it has).
    pub fn from_roster(roster: &Roster, table: &BinTable) -> Self {
        let people = test_identities();
        let mut banks = Vec::new();
        let mut by_number = HashMap::new();
        for (bi, bank) in roster.banks.iter().enumerate() {
            let bin = table
                .entries()
                .iter()
                .filter(|e| e.bank == bank.code && e.card_type == CardType::Debit && matches!(e.length, 16 | 19))
                // Prefer UnionPay (62…) BINs, as cards in circulation mostly are.
                .min_by_key(|e| (!e.prefix.starts_with("62"), e.prefix.clone()));
            let Some(bin) = bin else { continue };
            let cards: Vec<TestCard> = (0..2)
                .filter_map(|k| {
                    let fill = bin.length - bin.prefix.len() - 1;
                    let serial = format!("{:0width$}", (bi * 7 + k * 3 + 1) % 10usize.pow(fill.min(9) as u32), width = fill);
                    let body = format!("{}{serial}", bin.prefix);
                    let number = format!("{body}{}", luhn_check_digit(&body));
                    // The lookup must land on this bank (a longer prefix of another bank may shadow it).
                    (table.lookup(&number).map(|e| e.bank == bank.code).unwrap_or(false)).then(|| {
                        let p = &people[(bi + k) % people.len()];
                        TestCard {
                            number,
                            bank: bank.code.clone(),
                            holder_name: p.name.clone(),
                            holder_id_number: p.id_number.clone(),
                            reserved_phone: p.phone.clone(),
                            balance: ((bi as i64 * 7919 + k as i64 * 104_729) % 5_000_000) + 12_345,
                        }
                    })
                })
                .collect();
            if cards.is_empty() {
                continue;
            }
            for (ci, c) in cards.iter().enumerate() {
                by_number.insert(c.number.clone(), (banks.len(), ci));
            }
            banks.push(SandboxBank { code: bank.code.clone(), name: bank.name.clone(), cards });
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
        assert!(banks.banks.len() > 200, "{} banks", banks.banks.len());
        for b in &banks.banks {
            for c in &b.cards {
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
