//! The bank roster (SPEC BK1–BK4): every bank of the BIN table with the
//! channel it is reached through, how precisely and how freshly it
//! discloses balances, and whether it requires an electronic agreement.
//!
//! The roster is data: `data/banks.toml`, generated from the BIN table by the
//! rules in [`default_roster`] (SPEC BK4 defaults) and editable like any
//! configuration. The sandbox builds its banks from the same roster.

use crate::card::BinTable;
use crate::disclosure::{Freshness, Precision};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUNDLED: &str = include_str!("../data/banks.toml");

/// Where a bank posts its signed card events to idlink (SPEC BK5), `{bank}`
/// its roster code. Written once for both sides of the protocol: the bank
/// connector's signature check and the sandbox banks that sign (the sandbox
/// cannot depend on the connectors, whose tests run against it).
pub const CALLBACK_PATH: &str = "/v1/callbacks/banks/{bank}/events";

/// [`CALLBACK_PATH`] for `bank`.
pub fn callback_path(bank: &str) -> String {
    CALLBACK_PATH.replace("{bank}", bank)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The six large state-owned banks.
    StateOwned,
    JointStock,
    /// City and rural commercial banks, and the rest.
    CityCommercial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// idlink → card switch → bank (TLS + certificate).
    CardSwitch,
    /// idlink → bank (mutual TLS + signed messages).
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    pub code: String,
    pub name: String,
    pub tier: Tier,
    pub channel: Channel,
    pub precision: Precision,
    pub freshness: Freshness,
    /// A signed electronic agreement with risk notice is needed before balance queries.
    pub e_agreement: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    pub banks: Vec<Bank>,
}

pub const STATE_OWNED: &[&str] = &["ICBC", "ABC", "BOC", "CCB", "COMM", "PSBC"];
pub const JOINT_STOCK: &[&str] = &["CITIC", "CEB", "HXBANK", "CMBC", "CMB", "CIB", "SPDB", "GDB", "SPABANK", "CZBANK", "EGBANK", "BOHAIB"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("the roster is not valid TOML: {0}")]
    Syntax(String),
    #[error("bank {0} appears twice")]
    Duplicate(String),
    #[error("bank {0} has a range precision without a positive width")]
    BadRange(String),
    #[error("bank {code}: freshness {what} is out of range")]
    BadFreshness { code: String, what: &'static str },
}

impl Roster {
    pub fn parse(text: &str) -> Result<Self, RosterError> {
        let r: Roster = toml::from_str(text).map_err(|e| RosterError::Syntax(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for b in &r.banks {
            if !seen.insert(b.code.as_str()) {
                return Err(RosterError::Duplicate(b.code.clone()));
            }
            if matches!(b.precision, Precision::Range { width } if width <= 0) {
                return Err(RosterError::BadRange(b.code.clone()));
            }
            let bad = match b.freshness {
                Freshness::RealTime => None,
                Freshness::Daily { hour, minute } => (!(0..24).contains(&hour) || !(0..60).contains(&minute)).then_some("time"),
                Freshness::Weekly { weekday, hour } => {
                    (!(1..=7).contains(&weekday) || !(0..24).contains(&hour)).then_some("weekday or hour")
                }
            };
            if let Some(what) = bad {
                return Err(RosterError::BadFreshness { code: b.code.clone(), what });
            }
        }
        Ok(r)
    }

    /// The roster shipped in `data/banks.toml`.
    pub fn bundled() -> Result<Self, RosterError> {
        Self::parse(BUNDLED)
    }

    pub fn bank(&self, code: &str) -> Option<&Bank> {
        self.banks.iter().find(|b| b.code == code)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// The SPEC BK4 defaults for every bank of the BIN table: state-owned banks
/// to the yuan in real time over their direct channel; joint-stock banks to
/// the jiao, daily at 18:00, with an e-agreement; city commercial banks as
/// 500-yuan ranges weekly on Wednesday through the card switch, every third
/// at 1000-yuan buckets and every eleventh closed (in code order).
pub fn default_roster(table: &BinTable) -> Roster {
    let mut codes: BTreeMap<&str, ()> = BTreeMap::new();
    for e in table.entries() {
        codes.insert(e.bank.as_str(), ());
    }
    let mut city_index = 0usize;
    let banks = codes
        .keys()
        .map(|code| {
            let name = table.bank_name(code).unwrap_or(code).to_owned();
            let code = (*code).to_owned();
            if STATE_OWNED.contains(&code.as_str()) {
                Bank {
                    code,
                    name,
                    tier: Tier::StateOwned,
                    channel: Channel::Direct,
                    precision: Precision::Yuan,
                    freshness: Freshness::RealTime,
                    e_agreement: false,
                }
            } else if JOINT_STOCK.contains(&code.as_str()) {
                Bank {
                    code,
                    name,
                    tier: Tier::JointStock,
                    channel: Channel::Direct,
                    precision: Precision::Jiao,
                    freshness: Freshness::Daily { hour: 18, minute: 0 },
                    e_agreement: true,
                }
            } else {
                city_index += 1;
                let precision = if city_index.is_multiple_of(11) {
                    Precision::Closed
                } else if city_index.is_multiple_of(3) {
                    Precision::Range { width: 100_000 }
                } else {
                    Precision::Range { width: 50_000 }
                };
                Bank {
                    code,
                    name,
                    tier: Tier::CityCommercial,
                    channel: Channel::CardSwitch,
                    precision,
                    freshness: Freshness::Weekly { weekday: 3, hour: 0 },
                    e_agreement: false,
                }
            }
        })
        .collect();
    Roster { banks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_roster_is_the_default_for_the_bin_table() {
        let generated = default_roster(BinTable::bundled());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/banks.toml");
        if std::env::var("IDLINK_UPDATE_DOCS").is_ok_and(|v| v == "1") {
            let text = format!(
                "# The bank roster: generated from data/bank-bins by idlink_domain::roster::default_roster\n# (IDLINK_UPDATE_DOCS=1 cargo test -p idlink-domain roster); edit per deployment.\n{}",
                generated.to_toml()
            );
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        }
        let bundled = Roster::bundled().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bundled, generated, "data/banks.toml is stale: regenerate it");
    }

    #[test]
    fn defaults_follow_bk4() {
        let r = default_roster(BinTable::bundled());
        for code in STATE_OWNED {
            let b = r.bank(code).unwrap_or_else(|| panic!("{code} missing"));
            assert_eq!((b.precision, b.freshness), (Precision::Yuan, Freshness::RealTime), "{code}");
        }
        let cmb = r.bank("CMB").unwrap_or_else(|| panic!("CMB"));
        assert_eq!((cmb.precision, cmb.freshness, cmb.e_agreement), (Precision::Jiao, Freshness::Daily { hour: 18, minute: 0 }, true));
        let city: Vec<&Bank> = r.banks.iter().filter(|b| b.tier == Tier::CityCommercial).collect();
        assert!(city.len() > 100);
        assert!(city.iter().any(|b| b.precision == Precision::Range { width: 100_000 }), "some 1000-yuan buckets");
        let closed = city.iter().filter(|b| b.precision == Precision::Closed).count();
        assert!(closed > 0 && closed < city.len() / 5, "a few closed: {closed}");
        assert!(city.iter().all(|b| b.freshness == Freshness::Weekly { weekday: 3, hour: 0 }));
    }

    #[test]
    fn invalid_rosters_are_refused_with_the_bank_named() {
        let dup = "[[banks]]\ncode=\"X\"\nname=\"x\"\ntier=\"city_commercial\"\nchannel=\"direct\"\nprecision={kind=\"yuan\"}\nfreshness={kind=\"real_time\"}\ne_agreement=false\n";
        assert_eq!(Roster::parse(&format!("{dup}{dup}")), Err(RosterError::Duplicate("X".into())));
        let bad = dup.replace("{kind=\"yuan\"}", "{kind=\"range\", width=0}");
        assert_eq!(Roster::parse(&bad), Err(RosterError::BadRange("X".into())));
    }
}
