//! The medical-insurance payment code (SPEC SS3, issue 16;
//! `docs/medical-code.md`): a short-lived token the user's app shows as a
//! QR code and a hospital or pharmacy terminal checks offline with idlink's
//! published key. It is a compact JWS signed with Ed25519 (`EdDSA`), typed
//! `idlink-medcode+jwt`, naming the card binding (a pseudonym), the device
//! it was issued to (a digest), the insured region and a one-time `jti`;
//! it lives 60 seconds. Offline verification proves it is idlink's, fresh
//! and for this kind of use; that it is used once is checked online by the
//! terminal endpoint, which records the `jti`. That endpoint is idlink's
//! own: it recognises a code it signed by the SHA-256 of the token, stored
//! when it signed it ([`digest`], ADR 0031), and verifies the signature only
//! of a token it does not recognise.

use idlink_crypto::jose::{JoseError, JwsAlg, SigningKey, VerifyingKeys};
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The JWS `typ` of a medical code: no other token of idlink's is one.
pub const TYP: &str = "idlink-medcode+jwt";
/// How long a code lives by default.
pub const DEFAULT_TTL: SignedDuration = SignedDuration::from_secs(60);
/// The longest life a terminal accepts: a longer one is not idlink's code.
pub const MAX_TTL_SECS: i64 = 120;
/// How far a terminal's clock may be from idlink's.
pub const CLOCK_SKEW_SECS: i64 = 5;

/// The claims of a medical code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalCode {
    /// idlink's issuer URL.
    pub iss: String,
    /// The social-security card binding, by its pseudonym (never the card number).
    pub sub: String,
    /// The device it was issued to: the first 16 bytes of SHA-256 of the device id, hex.
    pub dev: String,
    /// The insured region (GB/T 2260 province code).
    pub reg: String,
    pub iat: i64,
    pub exp: i64,
    /// One-time id (128 random bits, base64url): a code is accepted once.
    pub jti: String,
}

/// Why a terminal refuses a code offline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a medical code (a compact JWS typed {TYP} with the documented claims)")]
    Malformed,
    #[error("the signature does not verify with idlink's published key")]
    BadSignature,
    #[error("issued by another issuer")]
    OtherIssuer,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    NotYetValid,
    #[error("lives longer than a medical code may")]
    TooLong,
}

/// Signs a code (Ed25519) with the issuer's key.
pub fn issue(key: &SigningKey, claims: &MedicalCode) -> Result<String, JoseError> {
    key.sign(Some(TYP), claims)
}

/// Checks a code offline, as a terminal does: idlink's signature (from
/// its published JWK Set), the type, the issuer, and that it is live at
/// `now` (Unix seconds) within the allowed clock skew.
pub fn verify_offline(token: &str, jwks: &serde_json::Value, issuer: &str, now: i64) -> Result<MedicalCode, Refusal> {
    let keys = VerifyingKeys::from_jwks(jwks).map_err(|_| Refusal::Malformed)?;
    live(verify_signed(token, &keys, issuer)?, now)
}

/// The code, when it is live at `now` (Unix seconds) within the allowed clock skew.
pub fn live(code: MedicalCode, now: i64) -> Result<MedicalCode, Refusal> {
    if code.iat > now + CLOCK_SKEW_SECS {
        return Err(Refusal::NotYetValid);
    }
    if now > code.exp + CLOCK_SKEW_SECS {
        return Err(Refusal::Expired);
    }
    Ok(code)
}

/// Everything [`verify_offline`] checks except whether the code is live
/// now (idlink's settlement uses it to finish a payment a terminal began
/// while the code was live), against keys decoded once.
pub fn verify_signed(token: &str, keys: &VerifyingKeys, issuer: &str) -> Result<MedicalCode, Refusal> {
    let (typ, code) = keys.verify::<MedicalCode>(token, &[JwsAlg::EdDsa]).map_err(|e| match e {
        JoseError::Invalid(why) if why.contains("Signature") || why.contains("signature") => Refusal::BadSignature,
        _ => Refusal::Malformed,
    })?;
    checked(typ.as_deref(), code, issuer)
}

/// What the token names, read WITHOUT checking its signature: the `kid` of
/// its key and the claims, with every check of [`verify_signed`] but the
/// signature's. Only for a caller that recognises the exact token by other
/// means (idlink's online check, by its [`digest`] stored at issue).
pub fn unverified(token: &str, issuer: &str) -> Result<(Option<String>, MedicalCode), Refusal> {
    let (header, code) = idlink_crypto::jose::unverified::<MedicalCode>(token).map_err(|_| Refusal::Malformed)?;
    if header.alg != Some(JwsAlg::EdDsa) {
        return Err(Refusal::Malformed);
    }
    Ok((header.kid, checked(header.typ.as_deref(), code, issuer)?))
}

/// The SHA-256 of a code's compact token: what idlink stores when it signs one.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The checks of a code's type, issuer and life (its signature aside).
fn checked(typ: Option<&str>, code: MedicalCode, issuer: &str) -> Result<MedicalCode, Refusal> {
    if typ != Some(TYP) {
        return Err(Refusal::Malformed);
    }
    if code.iss != issuer {
        return Err(Refusal::OtherIssuer);
    }
    if code.exp - code.iat > MAX_TTL_SECS || code.exp <= code.iat {
        return Err(Refusal::TooLong);
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use idlink_crypto::SeededRandom;

    const ISSUER: &str = "https://idlink.example";

    fn vector_key() -> SigningKey {
        SigningKey::generate(JwsAlg::EdDsa, &SeededRandom::new(2026)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn vector_claims() -> MedicalCode {
        MedicalCode {
            iss: ISSUER.into(),
            sub: "ssb_7f3a9c2e1b4d4e6f8a0b1c2d3e4f5a6b".into(),
            dev: "4be2c6a0f1d9e8b7a6c5d4e3f2a1b0c9".into(),
            reg: "440000".into(),
            iat: 1_780_000_000,
            exp: 1_780_000_060,
            jti: "q2Vh0v8JmXq1yZ3b5dT6wA".into(),
        }
    }

    fn jwks(key: &SigningKey) -> serde_json::Value {
        serde_json::json!({ "keys": [key.public_jwk()] })
    }

    /// The test vector of `docs/medical-code.md`: the same key and claims
    /// always give the same token (Ed25519 is deterministic), and the
    /// document shows exactly it.
    #[test]
    fn the_documented_vector_is_what_the_code_makes() {
        let key = vector_key();
        let token = issue(&key, &vector_claims()).unwrap_or_else(|e| panic!("{e}"));
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/medical-code.md")).unwrap_or_default();
        assert!(doc.contains(&token), "docs/medical-code.md must show the token:\n{token}");
        let jwk = serde_json::to_string(key.public_jwk()).unwrap_or_default();
        let x = key.public_jwk()["x"].as_str().unwrap_or("");
        assert!(doc.contains(x), "docs/medical-code.md must show the public key: {jwk}");
        assert_eq!(verify_offline(&token, &jwks(&key), ISSUER, 1_780_000_030), Ok(vector_claims()));
    }

    /// What idlink's own check reads without the signature is what the
    /// signature covers; a token whose signature was changed reads the same,
    /// which is why idlink accepts it only when its digest is the one stored.
    #[test]
    fn unverified_claims_are_the_signed_ones_and_the_digest_tells_a_changed_token() {
        let key = vector_key();
        let token = issue(&key, &vector_claims()).unwrap_or_else(|e| panic!("{e}"));
        let (kid, claims) = unverified(&token, ISSUER).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((kid.as_deref(), claims), (Some(key.kid()), vector_claims()));
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(unverified(&tampered, ISSUER).map(|(_, c)| c), Ok(vector_claims()), "the claims read the same");
        assert_ne!(digest(&tampered), digest(&token), "the digest does not");
        assert_eq!(unverified(&token, "https://other.example"), Err(Refusal::OtherIssuer));
        let other_typ = key.sign(Some("JWT"), &vector_claims()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unverified(&other_typ, ISSUER), Err(Refusal::Malformed));
        assert_eq!(unverified("not.a.code", ISSUER), Err(Refusal::Malformed));
    }

    #[test]
    fn a_terminal_refuses_what_is_not_a_live_code_of_idlink() {
        let key = vector_key();
        let set = jwks(&key);
        let token = issue(&key, &vector_claims()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            verify_offline(&token, &set, ISSUER, 1_780_000_060 + CLOCK_SKEW_SECS + 1),
            Err(Refusal::Expired),
            "a screenshot replayed later"
        );
        assert_eq!(verify_offline(&token, &set, ISSUER, 1_780_000_000 - CLOCK_SKEW_SECS - 1), Err(Refusal::NotYetValid));
        assert_eq!(verify_offline(&token, &set, "https://other.example", 1_780_000_030), Err(Refusal::OtherIssuer));
        let other = SigningKey::generate(JwsAlg::EdDsa, &SeededRandom::new(7)).unwrap_or_else(|e| panic!("{e}"));
        let forged = issue(&other, &vector_claims()).unwrap_or_else(|e| panic!("{e}"));
        assert!(verify_offline(&forged, &set, ISSUER, 1_780_000_030).is_err(), "another key");
        let long = MedicalCode { exp: 1_780_000_000 + MAX_TTL_SECS + 1, ..vector_claims() };
        let long = issue(&key, &long).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify_offline(&long, &set, ISSUER, 1_780_000_030), Err(Refusal::TooLong));
        let other_typ = key.sign(Some("JWT"), &vector_claims()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify_offline(&other_typ, &set, ISSUER, 1_780_000_030), Err(Refusal::Malformed), "an ID token is no medical code");
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        assert!(verify_offline(&tampered, &set, ISSUER, 1_780_000_030).is_err(), "a tampered signature");
        assert_eq!(verify_offline("not.a.code", &set, ISSUER, 1_780_000_030), Err(Refusal::Malformed));
    }
}
