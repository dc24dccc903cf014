//! Separate consent to process sensitive personal information (issue 18
//! point 1, PIPL art. 29, SPEC CP): the current texts with their SHA-256, a
//! user's consents, giving one to the text they read, withdrawing one as
//! easily, and the check every processing of a kind passes first
//! ([`Consents::require`]).
//!
//! A consent names the version and the SHA-256 of the text in the language
//! the user read: giving it to another version or text is refused, so a
//! client cannot consent to a text it did not show. A new version asks again.
//! A withdrawal stops the processing at once; it deletes nothing (the
//! records the law requires stay, and so does the consent record itself).

use crate::ports::StoreError;
use crate::ports::audit::AuditEntry;
use crate::ports::clock::Clock;
use crate::ports::consents::{ConsentRow, ConsentStore};
use crate::ports::ids::Ids;
use idlink_domain::UserId;
use idlink_domain::consent::{ConsentKind, ConsentState, ConsentTexts, Given, LOCALES, state};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// A current text as served: what the user reads and what they consent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentText {
    pub kind: ConsentKind,
    pub version: u32,
    pub locale: &'static str,
    pub title: String,
    pub body: String,
    /// SHA-256 (lowercase hex) of `title`, a line break and `body`, in UTF-8.
    pub sha256: String,
}

/// One kind as the user's consent list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentView {
    pub text: CurrentText,
    pub state: ConsentState<Timestamp>,
}

/// Processing refused for want of consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the user has not consented to the current text about their {}", kind.as_str())]
pub struct ConsentMissing {
    pub kind: ConsentKind,
    /// The version to consent to.
    pub version: u32,
    /// `never`, `outdated` or `withdrawn`.
    pub state: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("`{0}` is not a kind of consent (face, id_number, bank_card, credit_report, social_security)")]
    UnknownKind(String),
    #[error("`{0}` is not a language of the texts (zh-CN, zh-HK, en)")]
    UnknownLocale(String),
    /// The version or the hash is not the current text's: show the current text and ask again.
    #[error("this is not the current text (version {version}, sha256 {sha256}); show it and ask again")]
    NotCurrent { version: u32, sha256: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// SHA-256 of a text as the user reads it.
pub fn text_sha256(title: &str, body: &str) -> String {
    hex::encode(Sha256::digest(format!("{title}\n{body}").as_bytes()))
}

/// Where a user's records of `kind` leave them, by the domain's rule.
fn state_of(texts: &ConsentTexts, rows: &[ConsentRow], kind: ConsentKind) -> ConsentState<Timestamp> {
    let given: Vec<Given<Timestamp>> =
        rows.iter().filter(|r| r.kind == kind).map(|r| Given { version: r.version, at: r.given_at, withdrawn: r.withdrawn_at }).collect();
    state(&given, texts.version(kind))
}

/// The check every processing of a kind of sensitive personal information
/// passes first: the use cases that process it hold one.
#[derive(Clone, Copy)]
pub struct ConsentGate<'a> {
    pub store: &'a dyn ConsentStore,
    pub texts: &'a ConsentTexts,
}

impl ConsentGate<'_> {
    /// Passes when `user` consented to the current text of `kind`.
    pub async fn require(&self, user: &UserId, kind: ConsentKind) -> Result<Result<(), ConsentMissing>, StoreError> {
        let rows = self.store.consents_of(user).await?;
        let s = state_of(self.texts, &rows, kind);
        Ok(if s.allows() { Ok(()) } else { Err(ConsentMissing { kind, version: self.texts.version(kind), state: s.as_str() }) })
    }

    /// [`Self::require`] for use cases whose error holds both refusals.
    pub async fn check<E: From<ConsentMissing> + From<StoreError>>(&self, user: &UserId, kind: ConsentKind) -> Result<(), E> {
        Ok(self.require(user, kind).await??)
    }
}

pub struct Consents<'a> {
    pub store: &'a dyn ConsentStore,
    pub texts: &'a ConsentTexts,
    pub clock: &'a dyn Clock,
    pub ids: &'a dyn Ids,
}

impl Consents<'_> {
    /// The current text of `kind` in `locale` (zh-CN when the locale is not one of the texts').
    pub fn current(&self, kind: ConsentKind, locale: &str) -> Option<CurrentText> {
        let locale = LOCALES.into_iter().find(|l| *l == locale).unwrap_or("zh-CN");
        let t = self.texts.text(kind, locale)?;
        Some(CurrentText {
            kind,
            version: self.texts.version(kind),
            locale,
            title: t.title.clone(),
            body: t.body.clone(),
            sha256: text_sha256(&t.title, &t.body),
        })
    }

    /// Every kind's current text in `locale`.
    pub fn texts(&self, locale: &str) -> Vec<CurrentText> {
        ConsentKind::ALL.into_iter().filter_map(|k| self.current(k, locale)).collect()
    }

    fn state_of(&self, rows: &[ConsentRow], kind: ConsentKind) -> ConsentState<Timestamp> {
        state_of(self.texts, rows, kind)
    }

    /// Where the user stands with every kind, with the current text in `locale`.
    pub async fn list(&self, user: &UserId, locale: &str) -> Result<Vec<ConsentView>, StoreError> {
        let rows = self.store.consents_of(user).await?;
        Ok(ConsentKind::ALL
            .into_iter()
            .filter_map(|kind| self.current(kind, locale).map(|text| ConsentView { state: self.state_of(&rows, kind), text }))
            .collect())
    }

    /// Records the user's consent to the current text of `kind` they read in
    /// `locale` (its version and SHA-256), and says whether it is new: when
    /// it was given already, nothing is written. Audited as `consent.give`
    /// with the user as subject.
    pub async fn give(
        &self,
        user: &UserId,
        kind: &str,
        locale: &str,
        version: u32,
        sha256: &str,
        actor: &str,
    ) -> Result<(ConsentView, bool), ConsentError> {
        let kind = ConsentKind::parse(kind).ok_or_else(|| ConsentError::UnknownKind(kind.chars().take(40).collect()))?;
        if !LOCALES.contains(&locale) {
            return Err(ConsentError::UnknownLocale(locale.chars().take(20).collect()));
        }
        let text = self.current(kind, locale).ok_or_else(|| ConsentError::UnknownKind(kind.as_str().to_owned()))?;
        if version != text.version || !sha256.eq_ignore_ascii_case(&text.sha256) {
            return Err(ConsentError::NotCurrent { version: text.version, sha256: text.sha256 });
        }
        let rows = self.store.consents_of(user).await?;
        let now_state = self.state_of(&rows, kind);
        if now_state.allows() {
            return Ok((ConsentView { text, state: now_state }, false));
        }
        let now = self.clock.now();
        let row = ConsentRow {
            id: format!("spc_{}", hex::encode(self.ids.entropy())),
            user_id: user.clone(),
            kind,
            version,
            locale: text.locale.to_owned(),
            text_sha256: text.sha256.clone(),
            given_at: now,
            withdrawn_at: None,
        };
        let purpose = format!("{} consent, version {version} ({}), text sha256 {}", kind.as_str(), text.locale, text.sha256);
        let audit = AuditEntry::new(actor, "consent.give", purpose, now).subject(user);
        self.store.give_consent(&row, &audit).await?;
        Ok((ConsentView { text, state: ConsentState::Given { version, at: now } }, true))
    }

    /// Withdraws the user's consent of `kind`: the processing that needs it
    /// stops at once. False when none was in force. Audited as `consent.withdraw`.
    pub async fn withdraw(&self, user: &UserId, kind: &str, actor: &str) -> Result<bool, ConsentError> {
        let kind = ConsentKind::parse(kind).ok_or_else(|| ConsentError::UnknownKind(kind.chars().take(40).collect()))?;
        let now = self.clock.now();
        let audit = AuditEntry::new(actor, "consent.withdraw", format!("{} consent withdrawn", kind.as_str()), now).subject(user);
        Ok(self.store.withdraw_consent(user, kind, now, &audit).await?)
    }

    /// The kinds the user's consents do not allow now.
    pub async fn missing(&self, user: &UserId) -> Result<Vec<ConsentMissing>, StoreError> {
        let rows = self.store.consents_of(user).await?;
        Ok(ConsentKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let s = self.state_of(&rows, kind);
                (!s.allows()).then(|| ConsentMissing { kind, version: self.texts.version(kind), state: s.as_str() })
            })
            .collect())
    }
}
