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
use crate::ports::face::{FaceResult, FaceUnavailable, FaceVerifier};
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
        self.require_all(user, &[kind]).await
    }

    /// Passes when `user` consented to the current text of every kind in
    /// `kinds` (one read); names the first one missing.
    pub async fn require_all(&self, user: &UserId, kinds: &[ConsentKind]) -> Result<Result<(), ConsentMissing>, StoreError> {
        let rows = self.store.consents_of(user).await?;
        for &kind in kinds {
            let s = state_of(self.texts, &rows, kind);
            if !s.allows() {
                return Ok(Err(ConsentMissing { kind, version: self.texts.version(kind), state: s.as_str() }));
            }
        }
        Ok(Ok(()))
    }

    /// [`Self::require`] for use cases whose error holds both refusals.
    pub async fn check<E: From<ConsentMissing> + From<StoreError>>(&self, user: &UserId, kind: ConsentKind) -> Result<(), E> {
        Ok(self.require(user, kind).await??)
    }

    /// For processing a person consented to in person rather than through
    /// these records (a relative's binding, SS5): passes unless they
    /// withdrew a consent of `kinds`, which stops it as it stops their own.
    pub async fn not_withdrawn<E: From<ConsentMissing> + From<StoreError>>(&self, user: &UserId, kinds: &[ConsentKind]) -> Result<(), E> {
        let rows = self.store.consents_of(user).await?;
        for &kind in kinds {
            let s = state_of(self.texts, &rows, kind);
            if matches!(s, ConsentState::Withdrawn { .. }) {
                return Err(ConsentMissing { kind, version: self.texts.version(kind), state: s.as_str() }.into());
            }
        }
        Ok(())
    }

    /// The kinds `user`'s consents do not allow now.
    pub async fn missing(&self, user: &UserId) -> Result<Vec<ConsentMissing>, StoreError> {
        let rows = self.store.consents_of(user).await?;
        Ok(ConsentKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let s = state_of(self.texts, &rows, kind);
                (!s.allows()).then(|| ConsentMissing { kind, version: self.texts.version(kind), state: s.as_str() })
            })
            .collect())
    }

    /// [`Self::require_all`] for use cases whose error holds both refusals.
    pub async fn check_all<E: From<ConsentMissing> + From<StoreError>>(&self, user: &UserId, kinds: &[ConsentKind]) -> Result<(), E> {
        Ok(self.require_all(user, kinds).await??)
    }
}

/// The face-verification port behind the face consent. Use cases hold this
/// instead of the port, so no face image goes out for comparison unless the
/// person it shows consented to the current face text.
#[derive(Clone, Copy)]
pub struct ConsentedFace<'a> {
    pub gate: ConsentGate<'a>,
    port: &'a dyn FaceVerifier,
}

impl<'a> ConsentedFace<'a> {
    pub fn new(gate: ConsentGate<'a>, port: &'a dyn FaceVerifier) -> Self {
        Self { gate, port }
    }

    /// Compares `user`'s live face with the registry photo, once they consented.
    pub async fn verify<E>(&self, user: &UserId, liveness_video: &str) -> Result<FaceResult, E>
    where
        E: From<ConsentMissing> + From<StoreError> + From<FaceUnavailable>,
    {
        self.gate.check::<E>(user, ConsentKind::Face).await?;
        Ok(self.port.verify(user.as_str(), liveness_video).await?)
    }

    /// The face check a holder takes in person on a relative's device (a
    /// social-security binding on their behalf, SS5): taking it in front of
    /// the camera after reading what it is for is their consent, unless they
    /// withdrew their face consent.
    pub async fn verify_in_person<E>(&self, holder: &UserId, liveness_video: &str) -> Result<FaceResult, E>
    where
        E: From<ConsentMissing> + From<StoreError> + From<FaceUnavailable>,
    {
        self.gate.not_withdrawn::<E>(holder, &[ConsentKind::Face]).await?;
        Ok(self.port.verify(holder.as_str(), liveness_video).await?)
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
        if !self.store.give_consent(&row, &audit).await? {
            // Another tap recorded it meanwhile: that one stands.
            let rows = self.store.consents_of(user).await?;
            return Ok((ConsentView { state: self.state_of(&rows, kind), text }, false));
        }
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
        ConsentGate { store: self.store, texts: self.texts }.missing(user).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each version's texts, by their SHA-256. A text changed under the same
    /// version would not ask users again: bump the version in consents.toml
    /// and add its hashes here.
    const PINNED: &[(&str, u32, &str, &str)] = &[
        ("face", 1, "zh-CN", "0c8e06ee7a1b84b9ba7a1811686ec291ac1bd25111f86809e563d5f193ee8850"),
        ("face", 1, "zh-HK", "4d42659e5c97756767238ca4d8899d65c8a9f5abb58af898da9e4795b5fd965b"),
        ("face", 1, "en", "07eac7f5704998c334a5a78370ca072d6b02ba196734b3dc51515196d54762d9"),
        ("id_number", 1, "zh-CN", "adb8053a7e1ce6c9a707e3141064be46ab91a3533afdfa040d6bd33a36eb140e"),
        ("id_number", 1, "zh-HK", "d85fceab7efa408c6f02e5fd83d3b0dcc564adff32deff6ad6269bf27cd018ae"),
        ("id_number", 1, "en", "92690dd27ff1858e23a886ffec71c71b0c8ec56bf98d7d5ba31d4e89b52c6a5a"),
        ("bank_card", 1, "zh-CN", "1e1dc42145be2bbe287787fc91956a99ffc38e91147f599447b08a9fe8ae48eb"),
        ("bank_card", 1, "zh-HK", "8238d36c353a9926ced7553ed5ae2e505bf03efb0f34f9ac5bcea85852dfc272"),
        ("bank_card", 1, "en", "e6ebc242a77c3a4681ba2ffba5a58fb8c6845c71f3450f9c7c9ee043b2d61fb5"),
        ("credit_report", 1, "zh-CN", "b330259091cbf98e490ca8d9367fdfa0cfe07ef555b48f8d68ed0391554dcd7e"),
        ("credit_report", 1, "zh-HK", "808e25b80231f010f6740722c5ebacf1312b32c2a7dcc699ee1d6ba3032d75bf"),
        ("credit_report", 1, "en", "8e36ec3c37dce6d8ea535d2a5c16f8046abebc8e676c9cb3471690f7e84fbf47"),
        ("social_security", 1, "zh-CN", "4486fcd56f38d98abebe1e791a2a657c4e67fdb4ee82fd160bb5ae8d673ea7bc"),
        ("social_security", 1, "zh-HK", "8d22bb033cbd2d1adbd78fd57d0fc361da6c5b4bd413e2bc3607a1f01e0ecd9c"),
        ("social_security", 1, "en", "f11d56126c2c243618413a3dff4a7f6125873c4c0d83d7b4f6ce5eeae2b6e2a8"),
    ];

    #[test]
    fn each_version_s_texts_are_pinned_by_their_hashes() {
        let texts = ConsentTexts::bundled().unwrap_or_else(|e| panic!("{e}"));
        let mut now = Vec::new();
        for kind in ConsentKind::ALL {
            for locale in LOCALES {
                let t = texts.text(kind, locale).unwrap_or_else(|| panic!("{kind:?} {locale}"));
                now.push((kind.as_str(), texts.version(kind), locale, text_sha256(&t.title, &t.body)));
            }
        }
        let pinned: Vec<(&str, u32, &str, String)> = PINNED.iter().map(|(k, v, l, h)| (*k, *v, *l, (*h).to_owned())).collect();
        let listing: String = now.iter().map(|(k, v, l, h)| format!("    (\"{k}\", {v}, \"{l}\", \"{h}\"),\n")).collect();
        assert_eq!(now, pinned, "a consent text changed: give it a new version, then pin:\n{listing}");
    }
}
