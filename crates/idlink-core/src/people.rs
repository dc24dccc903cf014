//! The user 360° (SPEC P5, P6, P7; issue 13 point 4): an operator finds a
//! user by phone or mainland ID number through the keyed blind index (the
//! clear value goes no further than here), then opens the user's record for
//! a declared purpose. Both are audited: a search (hit or miss) without the
//! searched value, and an opening with its purpose, written in the
//! transaction that reads the user's keys, so no record opens unrecorded.
//! The user sees both in "who accessed my data".
//!
//! Everything the record shows is masked; only the fields it shows masked
//! (phone, name, ID number, and the birth date a foreign document's age
//! needs) are decrypted. Cards are shown by their stored last four digits,
//! never decrypted.
//!
//! Who may look: reviewers (they handle complaints and cases), auditors
//! (investigations, regulator requests) and admins. See ADR 0017.

use crate::agreements::AgreementDocuments;
use crate::ports::StoreError;
use crate::ports::audit::{AuditEntry, AuditStore};
use crate::ports::auth::AuthStore;
use crate::ports::balance::BalanceStore;
use crate::ports::bindings::{BindingStatus, BindingStore};
use crate::ports::clock::Clock;
use crate::ports::freezes::FreezeStore;
use crate::ports::guardians::{GuardianStore, GuardianshipStatus};
use crate::ports::identity::{DocumentType, IdentityStore};
use crate::ports::operators::{OperatorRow, Role, RoleRequired, require};
use crate::ports::payment::PaymentPasswordStore;
use crate::ports::people::{PeopleStore, RecordView};
use crate::ports::reviews::{CaseKind, CaseStatus};
use crate::ports::users::UserStore;
use crate::steps::personal::{
    BIRTH_CONTEXT, ID_CONTEXT, ID_INDEX, NAME_CONTEXT, PHONE_CONTEXT, PHONE_INDEX, Unreadable, corrupt, open_text, read_phone,
};
use crate::vault::Vault;
use idlink_crypto::CryptoError;
use idlink_domain::calendar::shanghai_today;
use idlink_domain::capabilities::{Capability, Standing, restrictions};
use idlink_domain::roster::Roster;
use idlink_domain::{IdNumber, PersonName, PhoneNumber, RequestId, UserId};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

/// The longest operator reference kept with a record view.
pub const REFERENCE_MAX_CHARS: usize = 200;

/// Why an operator opens a user's record: a fixed list, so the user can be
/// told in their language (the operator's own reference is kept apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Complaint,
    FraudInvestigation,
    RegulatorRequest,
    AccountSupport,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [Purpose::Complaint, Purpose::FraudInvestigation, Purpose::RegulatorRequest, Purpose::AccountSupport];

    /// The code clients send and the console's catalogue names.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Complaint => "complaint",
            Purpose::FraudInvestigation => "fraud_investigation",
            Purpose::RegulatorRequest => "regulator_request",
            Purpose::AccountSupport => "account_support",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The fixed English words of the audit record's purpose, which the
    /// access log translates like every other purpose (`purpose-…` keys).
    pub fn words(self) -> &'static str {
        match self {
            Purpose::Complaint => "handling your complaint",
            Purpose::FraudInvestigation => "fraud investigation",
            Purpose::RegulatorRequest => "regulator request",
            Purpose::AccountSupport => "account support",
        }
    }
}

/// What the operator searches by (parsed at the boundary, never stored).
#[derive(Debug)]
pub enum SearchBy {
    Phone(PhoneNumber),
    IdNumber(IdNumber),
}

impl SearchBy {
    /// The audit record's purpose: which kind of value, never the value.
    fn purpose(&self) -> &'static str {
        match self {
            SearchBy::Phone(_) => "user search by phone",
            SearchBy::IdNumber(_) => "user search by id number",
        }
    }
}

/// A user a search found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub user_id: UserId,
    /// Masked (`138****1234`); `None` once the user's data was shredded.
    pub phone: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error(transparent)]
    RoleRequired(#[from] RoleRequired),
    #[error("opening a user's record needs a reference (a ticket or letter number)")]
    ReferenceMissing,
    #[error("the reference is longer than {REFERENCE_MAX_CHARS} characters")]
    ReferenceTooLong,
    #[error("no such user")]
    UserNotFound,
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The verified identity, masked.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityPart {
    /// First character, the rest starred.
    pub name: String,
    /// First 3 and last 4 characters.
    pub id_number: String,
    pub document_type: DocumentType,
    /// How it was verified (`face`, `bank_card`, `document`, …).
    pub method: String,
    pub verified_at: Timestamp,
    pub minor: bool,
}

/// A guardian link the user is part of.
#[derive(Debug, Clone, Serialize)]
pub struct GuardianPart {
    /// `minor` (the user is the minor) or `guardian`.
    pub role: &'static str,
    pub relationship: String,
    pub status: GuardianshipStatus,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct DevicePart {
    pub name: String,
    pub primary: bool,
    /// A key for signed biometric assertions is registered (step-up by biometrics).
    pub biometric: bool,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// A bound card and its authorisation tiers (BK3).
#[derive(Debug, Clone, Serialize)]
pub struct CardPart {
    pub binding_id: String,
    /// The bank's roster code and name.
    pub bank: String,
    pub bank_name: String,
    /// Only the last four digits (as stored); the card number is not decrypted.
    pub card: String,
    /// Tier 1: `pending_sms`, `active` or `ended`.
    pub binding: BindingStatus,
    pub bound_at: Option<Timestamp>,
    pub end_reason: Option<String>,
    pub suspended_reason: Option<String>,
    /// Tier 2: the user's balance-query switch.
    pub balance_switch: bool,
    /// Tier 4: `not_required`, `in_force`, `not_signed`, `outdated`; `None` unless active.
    pub agreement: Option<&'static str>,
    pub agreement_valid_until: Option<Timestamp>,
}

/// Strong authentication the user has set up.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorisationPart {
    pub payment_password_set: bool,
    pub payment_password_locked: bool,
    /// Some device can answer a biometric step-up.
    pub biometric_step_up: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CasePart {
    pub id: String,
    pub kind: CaseKind,
    pub status: CaseStatus,
    pub opened_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct CapabilityPart {
    pub capability: Capability,
    pub available: bool,
    /// Why not, as a standing code (`unverified`, `minor`, `minor_guarded`),
    /// or `data_deleted` once the user's data was shredded; `None` when available.
    pub why_not: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FreezePart {
    pub since: Timestamp,
    pub case_id: String,
}

/// A user's record as an operator sees it: everything masked.
#[derive(Debug, Clone, Serialize)]
pub struct UserRecord {
    pub user_id: UserId,
    /// Masked; `None` once the user's data was shredded.
    pub phone: Option<String>,
    pub created_at: Timestamp,
    /// The user's data key was shredded: no personal data can be shown.
    pub shredded: bool,
    pub identity: Option<IdentityPart>,
    /// `unverified`, `minor`, `minor_guarded`, `adult`, or `shredded` when the
    /// identity was verified but its data was deleted (its age is unknown).
    pub standing: &'static str,
    pub guardians: Vec<GuardianPart>,
    pub frozen: Option<FreezePart>,
    pub devices: Vec<DevicePart>,
    pub cards: Vec<CardPart>,
    pub authorisations: AuthorisationPart,
    pub cases: Vec<CasePart>,
    pub capabilities: Vec<CapabilityPart>,
}

/// The standing of a verified identity whose data was shredded: unknown.
pub const SHREDDED: &str = "shredded";
/// Why every capability of a shredded identity is unavailable.
pub const DATA_DELETED: &str = "data_deleted";

/// Why a feature open to the user's standing is held back: the consent it waits for.
pub fn consent_code(kind: idlink_domain::consent::ConsentKind) -> &'static str {
    use idlink_domain::consent::ConsentKind;
    match kind {
        ConsentKind::Face => "consent_face",
        ConsentKind::IdNumber => "consent_id_number",
        ConsentKind::BankCard => "consent_bank_card",
        ConsentKind::CreditReport => "consent_credit_report",
        ConsentKind::SocialSecurity => "consent_social_security",
    }
}

/// The standing's code, as records and catalogues name it.
pub fn standing_code(s: Standing) -> &'static str {
    match s {
        Standing::Unverified => "unverified",
        Standing::Minor { guardian_approved: false } => "minor",
        Standing::Minor { guardian_approved: true } => "minor_guarded",
        Standing::Adult => "adult",
    }
}

/// The user 360°, over the narrow ports it reads.
pub struct People<'a> {
    pub people: &'a dyn PeopleStore,
    pub users: &'a dyn UserStore,
    pub identities: &'a dyn IdentityStore,
    pub audits: &'a dyn AuditStore,
    pub devices: &'a dyn AuthStore,
    pub bindings: &'a dyn BindingStore,
    pub balances: &'a dyn BalanceStore,
    pub passwords: &'a dyn PaymentPasswordStore,
    pub guardians: &'a dyn GuardianStore,
    pub freezes: &'a dyn FreezeStore,
    pub vault: &'a Vault,
    pub clock: &'a dyn Clock,
    pub roster: &'a Roster,
    pub documents: &'a AgreementDocuments,
    /// Wrong payment passwords before it locks.
    pub password_max_failures: u32,
    /// What the user's consents hold back (issue 18).
    pub consent: crate::consents::ConsentGate<'a>,
}

/// Reviewers, auditors and admins may look a user up.
pub fn may_view(op: &OperatorRow) -> Result<(), RoleRequired> {
    require(op, Role::Reviewer).or_else(|_| require(op, Role::Auditor))
}

fn actor(op: &OperatorRow) -> String {
    format!("operator:{}", op.id)
}

impl People<'_> {
    /// Finds the user with this phone or ID number (none or one); audited
    /// as `operator.search_user`, with the user found as its subject.
    pub async fn search(&self, op: &OperatorRow, by: &SearchBy, rid: Option<&RequestId>) -> Result<Vec<Found>, PeopleError> {
        may_view(op)?;
        let found = match by {
            SearchBy::Phone(p) => self.users.find_user_by_phone_index(&self.vault.blind_index(PHONE_INDEX, p.reveal())).await?,
            SearchBy::IdNumber(id) => self.identities.identity_owner(&self.vault.blind_index(ID_INDEX, id.reveal())).await?,
        };
        let audit = AuditEntry::new(actor(op), "operator.search_user", by.purpose(), self.clock.now()).request(rid);
        let Some(user) = found else {
            self.audits.append_audit(&audit).await?;
            return Ok(Vec::new());
        };
        // The masked phone needs the phone read: that read is the search's record.
        let audit = audit.subject(&user);
        let phone = match read_phone::<ReadError>(self.users, self.vault, &audit, &user).await {
            Ok((_, phone)) => Some(phone.masked()),
            Err(ReadError::Unreadable(Unreadable::Shredded)) => None,
            // Gone between the lookup and the read.
            Err(ReadError::Unreadable(Unreadable::UserNotFound)) => return Ok(Vec::new()),
            Err(ReadError::Crypto(e)) => return Err(e.into()),
            Err(ReadError::Store(e)) => return Err(e.into()),
        };
        Ok(vec![Found { user_id: user, phone }])
    }

    /// Who opened this user's record, when, for what and under which
    /// reference, newest first (auditors and admins: the check on the
    /// purposes operators give).
    pub async fn looks(&self, op: &OperatorRow, user: &UserId, limit: u32) -> Result<Vec<RecordView>, PeopleError> {
        require(op, Role::Auditor)?;
        Ok(self.people.record_views(user, limit.clamp(1, 500)).await?)
    }

    /// Opens the user's record for `purpose`; audited as `operator.view_user`
    /// in the transaction that reads the user's key, with the reference
    /// stored beside it.
    pub async fn open(
        &self,
        op: &OperatorRow,
        user: &UserId,
        purpose: Purpose,
        reference: &str,
        rid: Option<&RequestId>,
    ) -> Result<UserRecord, PeopleError> {
        may_view(op)?;
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(PeopleError::ReferenceMissing);
        }
        if reference.chars().count() > REFERENCE_MAX_CHARS {
            return Err(PeopleError::ReferenceTooLong);
        }
        let now = self.clock.now();
        let view = RecordView {
            operator_id: op.id.clone(),
            user_id: user.clone(),
            purpose: purpose.as_str().to_owned(),
            reference: reference.to_owned(),
            at: now,
        };
        let audit = AuditEntry::new(actor(op), "operator.view_user", purpose.words(), now).subject(user).request(rid);
        let opened = self.people.open_user_record(&view, &audit).await?.ok_or(PeopleError::UserNotFound)?;
        let key = opened.key.as_ref().map(|k| self.vault.unwrap(k)).transpose()?;
        let today = shanghai_today(now);

        let (phone, identity) = match &key {
            None => (None, None),
            Some(key) => {
                let phone = PhoneNumber::parse(&open_text::<PeopleError>(key, PHONE_CONTEXT, &opened.user.phone_cipher)?)
                    .map_err(|e| corrupt(format!("stored phone: {e}")))?;
                let identity = match &opened.identity {
                    None => None,
                    Some(row) => {
                        let name = PersonName::parse(&open_text::<PeopleError>(key, NAME_CONTEXT, &row.name_cipher)?).map_err(corrupt)?;
                        let id_text = open_text::<PeopleError>(key, ID_CONTEXT, &row.id_cipher)?;
                        let birth = match &row.birth_cipher {
                            Some(c) => {
                                open_text::<PeopleError>(key, BIRTH_CONTEXT, c)?.parse::<Date>().map_err(|_| corrupt("birth date"))?
                            }
                            None => IdNumber::parse(&id_text, today).map_err(corrupt)?.birth_date(),
                        };
                        let age = idlink_domain::idnumber::age_on(birth, today);
                        Some(IdentityPart {
                            name: name.masked(),
                            id_number: idlink_domain::mask_document_number(row.document_type, &id_text),
                            document_type: row.document_type,
                            method: row.method.clone(),
                            verified_at: row.verified_at,
                            minor: idlink_domain::idnumber::is_minor(age),
                        })
                    }
                };
                (Some(phone.masked()), identity)
            }
        };

        let guardianships = self.guardians.guardianships_of(user).await?;
        let guardian_approved = guardianships.iter().any(|g| g.minor == *user && g.status == GuardianshipStatus::Approved);
        // `None`: shredded. The identity was verified but cannot be read, so
        // its age is unknown and no standing is claimed.
        let standing = match (&identity, &opened.identity) {
            (Some(i), _) if i.minor => Some(Standing::Minor { guardian_approved }),
            (Some(_), _) => Some(Standing::Adult),
            (None, Some(_)) => None,
            (None, None) => Some(Standing::Unverified),
        };
        let missing = self.consent.missing(user).await?;
        let capabilities = Capability::ALL
            .into_iter()
            .map(|c| match standing {
                Some(standing) => {
                    let open = !restrictions(standing).restricted.contains(&c);
                    // Open to the standing, but held back for want of a consent: which one.
                    let consent = missing.iter().find(|m| open && m.kind.holds_back().contains(&c)).map(|m| consent_code(m.kind));
                    let why_not = if open { consent } else { Some(standing_code(standing)) };
                    CapabilityPart { capability: c, available: why_not.is_none(), why_not }
                }
                None => CapabilityPart { capability: c, available: false, why_not: Some(DATA_DELETED) },
            })
            .collect();

        let devices = self.devices.devices(user).await?;
        let switch = self.balances.feature_enabled(user, crate::balance::FEATURE).await?;
        let mut cards = Vec::new();
        for b in self.bindings.bindings(user).await? {
            let (agreement, valid_until) = if b.status == BindingStatus::Active {
                let required = self.roster.bank(&b.bank).is_some_and(|bank| bank.e_agreement);
                // The rule of the tiers and the query: only a signature of the current document counts.
                match self.balances.valid_agreement(user, &b.id, now).await? {
                    _ if !required => (Some("not_required"), None),
                    None => (Some("not_signed"), None),
                    Some(a) if self.documents.is_current(&b.bank, &a.document_version, &a.document_hash) => {
                        (Some("in_force"), Some(a.valid_until))
                    }
                    Some(_) => (Some("outdated"), None),
                }
            } else {
                (None, None)
            };
            cards.push(CardPart {
                binding_id: b.id.to_string(),
                bank_name: self.roster.bank(&b.bank).map(|bank| bank.name.clone()).unwrap_or_else(|| b.bank.clone()),
                bank: b.bank,
                card: format!("**** {}", b.last4),
                binding: b.status,
                bound_at: b.bound_at,
                end_reason: b.end_reason,
                suspended_reason: b.suspended_reason,
                balance_switch: switch,
                agreement,
                agreement_valid_until: valid_until,
            });
        }
        let password = self.passwords.payment_password(user).await?;
        let authorisations = AuthorisationPart {
            payment_password_set: password.is_some(),
            payment_password_locked: password
                .as_ref()
                .is_some_and(|p| idlink_domain::payment_password::is_locked(p.failures, self.password_max_failures)),
            biometric_step_up: devices.iter().any(|d| d.public_key.is_some()),
        };
        let cases = self
            .people
            .cases_of_user(user, 50)
            .await?
            .into_iter()
            .map(|c| CasePart { id: c.id.to_string(), kind: c.kind, status: c.status, opened_at: c.created_at })
            .collect();
        let frozen = self.freezes.active_freeze(user).await?.map(|f| FreezePart { since: f.frozen_at, case_id: f.case_id.to_string() });

        Ok(UserRecord {
            user_id: user.clone(),
            phone,
            created_at: opened.user.created_at,
            shredded: key.is_none(),
            identity,
            standing: standing.map_or(SHREDDED, standing_code),
            guardians: guardianships
                .into_iter()
                .map(|g| GuardianPart {
                    role: if g.minor == *user { "minor" } else { "guardian" },
                    relationship: g.relationship,
                    status: g.status,
                    since: g.created_at,
                })
                .collect(),
            frozen,
            devices: devices
                .into_iter()
                .map(|d| DevicePart {
                    name: d.name,
                    primary: d.primary,
                    biometric: d.public_key.is_some(),
                    first_seen: d.created_at,
                    last_seen: d.last_seen_at,
                })
                .collect(),
            cards,
            authorisations,
            cases,
            capabilities,
        })
    }
}

/// The errors of the search's phone read, kept apart so a shredded user is a result, not a failure.
#[derive(Debug)]
enum ReadError {
    Unreadable(Unreadable),
    Crypto(CryptoError),
    Store(StoreError),
}

impl From<Unreadable> for ReadError {
    fn from(e: Unreadable) -> Self {
        ReadError::Unreadable(e)
    }
}

impl From<CryptoError> for ReadError {
    fn from(e: CryptoError) -> Self {
        ReadError::Crypto(e)
    }
}

impl From<StoreError> for ReadError {
    fn from(e: StoreError) -> Self {
        ReadError::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_codes_round_trip_and_words_are_distinct() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        let words: std::collections::BTreeSet<_> = Purpose::ALL.iter().map(|p| p.words()).collect();
        assert_eq!(words.len(), Purpose::ALL.len());
        assert_eq!(Purpose::parse("curiosity"), None);
    }
}
