//! Realistic users for the scale benchmark (`idlink bench seed`, issue 19):
//! what a user who signed up, verified their real name, consented, bound a
//! card and queried its balance leaves in the database, built with the real
//! vault (a data key per user, ciphertexts, blind indexes) and audited with
//! the actions the real flows write. The store writes a batch of them in
//! one transaction, their audit records chained as any others.
//!
//! Seeded users are numbered: user `n` has the phone `139` followed by `n`
//! in 8 digits, a resident ID number issued in 110105 with a birth date and
//! sequence taken from `n`, and a debit card of the `n`-th bank of the
//! roster in turn. Nothing here logs in or asks an institution.

use crate::consents::text_sha256;
use crate::ports::audit::AuditEntry;
use crate::ports::auth::DeviceRow;
use crate::ports::balance::QueryRecord;
use crate::ports::bindings::{BindingRow, BindingStatus};
use crate::ports::consents::ConsentRow;
use crate::ports::identity::{DocumentType, IdentityRow};
use crate::ports::ids::Ids;
use crate::ports::users::UserRow;
use crate::steps::cards::BINDING_CARD_CONTEXT;
use crate::steps::personal::{ID_CONTEXT, NAME_CONTEXT, PHONE_CONTEXT, PHONE_INDEX, document_index};
use crate::vault::Vault;
use idlink_crypto::{CryptoError, WrappedDataKey};
use idlink_domain::card::{BinTable, CardType, luhn_check_digit};
use idlink_domain::consent::{ConsentKind, ConsentTexts};
use idlink_domain::roster::Roster;
use jiff::{SignedDuration, Timestamp};

/// Balance queries each seeded user made.
pub const QUERIES_PER_USER: usize = 3;

const SURNAMES: [&str; 12] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "欧阳", "司马"];
const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"];

/// One seeded user's rows and the audit records the real flows would have written.
#[derive(Debug, Clone)]
pub struct SeededUser {
    pub user: UserRow,
    pub key: WrappedDataKey,
    pub device: DeviceRow,
    pub identity: IdentityRow,
    pub consents: Vec<ConsentRow>,
    pub binding: BindingRow,
    pub queries: Vec<QueryRecord>,
    pub audit: Vec<AuditEntry>,
}

/// A card issuer of the roster and one of its debit BINs.
#[derive(Debug, Clone)]
struct Issuer {
    bank: String,
    prefix: String,
    length: usize,
}

pub struct Seeder<'a> {
    vault: &'a Vault,
    ids: &'a dyn Ids,
    texts: &'a ConsentTexts,
    issuers: Vec<Issuer>,
    now: Timestamp,
}

impl<'a> Seeder<'a> {
    /// A seeder whose cards go round the roster's banks (each with a debit
    /// BIN in `table`); `None` when no bank of the roster has one.
    pub fn new(
        vault: &'a Vault,
        ids: &'a dyn Ids,
        texts: &'a ConsentTexts,
        roster: &Roster,
        table: &BinTable,
        now: Timestamp,
    ) -> Option<Self> {
        let issuers = roster
            .banks
            .iter()
            .filter_map(|b| {
                table
                    .entries()
                    .iter()
                    .find(|e| e.bank == b.code && e.card_type == CardType::Debit && e.length > e.prefix.len() + 8)
                    .map(|e| Issuer { bank: b.code.clone(), prefix: e.prefix.clone(), length: e.length })
            })
            .collect::<Vec<_>>();
        (!issuers.is_empty()).then_some(Self { vault, ids, texts, issuers, now })
    }

    /// The banks seeded cards are issued by.
    pub fn banks(&self) -> Vec<&str> {
        self.issuers.iter().map(|i| i.bank.as_str()).collect()
    }

    /// User `n`.
    pub fn user(&self, n: u64) -> Result<SeededUser, CryptoError> {
        let vault = self.vault;
        let now = self.now;
        let id = self.ids.user();
        let actor = format!("user:{id}");
        let (dek, key) = vault.new_user_key(&id)?;
        let phone = format!("139{:08}", n % 100_000_000);
        let user = UserRow {
            id: id.clone(),
            phone_cipher: vault.seal(&dek, PHONE_CONTEXT, phone.as_bytes())?,
            phone_index: vault.blind_index(PHONE_INDEX, &phone),
            created_at: now,
        };
        let device = DeviceRow {
            id: self.ids.device(),
            user_id: id.clone(),
            device_hash: vault.blind_index("device", &format!("seed-device-{n}")),
            name: "seeded phone".into(),
            public_key: None,
            primary: true,
            created_at: now,
            last_seen_at: now,
        };
        let name = format!("{}{}", SURNAMES[(n % 12) as usize], GIVEN[((n / 12) % 10) as usize]);
        let id_number = resident_id(n);
        let identity = IdentityRow {
            user_id: id.clone(),
            document_type: DocumentType::ResidentId,
            birth_cipher: None,
            name_cipher: vault.seal(&dek, NAME_CONTEXT, name.as_bytes())?,
            id_cipher: vault.seal(&dek, ID_CONTEXT, id_number.as_bytes())?,
            id_index: document_index(vault, DocumentType::ResidentId, &id_number),
            method: "three_elements_face".into(),
            verified_at: now,
        };
        let consents = ConsentKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let t = self.texts.text(kind, "zh-CN")?;
                Some(ConsentRow {
                    id: format!("spc_{}", hex::encode(self.ids.entropy())),
                    user_id: id.clone(),
                    kind,
                    version: self.texts.version(kind),
                    locale: "zh-CN".into(),
                    text_sha256: text_sha256(&t.title, &t.body),
                    given_at: now,
                    withdrawn_at: None,
                })
            })
            .collect::<Vec<_>>();
        let issuer = &self.issuers[(n % self.issuers.len() as u64) as usize];
        let card = card_number(issuer, n);
        let binding = BindingRow {
            id: self.ids.binding(),
            user_id: id.clone(),
            bank: issuer.bank.clone(),
            card_cipher: vault.seal(&dek, BINDING_CARD_CONTEXT, card.as_bytes())?,
            card_index: vault.blind_index("card", &card),
            last4: card[card.len().saturating_sub(4)..].to_owned(),
            status: BindingStatus::Active,
            bank_reference: None,
            luhn_warning: false,
            created_at: now,
            bound_at: Some(now),
            end_reason: None,
            suspended_reason: None,
            low_balance_alert: None,
        };
        let queries = (0..QUERIES_PER_USER)
            .map(|i| {
                let at = now.checked_sub(SignedDuration::from_hours(i as i64 + 1)).unwrap_or(now);
                QueryRecord {
                    id: self.ids.query(at),
                    binding_id: binding.id.clone(),
                    bank: issuer.bank.clone(),
                    channel: "direct".into(),
                    precision: "exact".into(),
                    actor: actor.clone(),
                    at,
                    outcome: "disclosed".into(),
                    reason: None,
                }
            })
            .collect::<Vec<_>>();
        let entry = |action: &str, purpose: &str| AuditEntry::new(actor.clone(), action, purpose, now).subject(&id);
        let mut audit = vec![entry("user.create", "account"), entry("verification.verified", "real-name verification")];
        audit.extend(consents.iter().map(|c| entry("consent.give", &format!("{} consent, version {}", c.kind.as_str(), c.version))));
        audit.push(entry("card.bind", "card binding"));
        audit.extend(queries.iter().map(|_| entry("balance.query", "balance query")));
        Ok(SeededUser { user, key, device, identity, consents, binding, queries, audit })
    }
}

/// A valid resident ID number of user `n`: issued in 110105, born between
/// 1950 and 2004 (adults), with a sequence from `n`.
pub fn resident_id(n: u64) -> String {
    let year = 1950 + (n / 1000) % 55;
    let month = 1 + (n / 7) % 12;
    let day = 1 + (n / 13) % 28;
    let body = format!("110105{year:04}{month:02}{day:02}{:03}", n % 1000);
    let mut first17 = [0u8; 17];
    first17.copy_from_slice(&body.as_bytes()[..17]);
    format!("{body}{}", idlink_domain::idnumber::check_character(&first17))
}

fn card_number(issuer: &Issuer, n: u64) -> String {
    let digits = issuer.length.saturating_sub(issuer.prefix.len() + 1);
    let serial = format!("{n:0digits$}");
    let body = format!("{}{}", issuer.prefix, &serial[serial.len().saturating_sub(digits)..]);
    format!("{body}{}", luhn_check_digit(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_numbers_are_valid_and_distinct() {
        let table = BinTable::bundled();
        for n in [0u64, 1, 999, 1_000, 123_456, 999_999] {
            let today = jiff::civil::date(2026, 12, 1);
            assert!(idlink_domain::idnumber::IdNumber::parse(&resident_id(n), today).is_ok(), "{}", resident_id(n));
            let issuer = Issuer { bank: "ICBC".into(), prefix: "622202".into(), length: 19 };
            let card = card_number(&issuer, n);
            assert!(idlink_domain::card::CardNumber::parse(&card, table).is_ok(), "{card}");
        }
        assert_ne!(resident_id(1), resident_id(2));
    }
}
