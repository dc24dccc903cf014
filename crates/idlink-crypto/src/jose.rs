//! JOSE for the OpenID provider and its security events (SPEC TP1, TP3;
//! ADR 0020): signing keys made from the caller's randomness, their public
//! JWKs named by their RFC 7638 thumbprint, compact JWS signing (ID tokens,
//! logout tokens, Security Event Tokens) and verification of a client's
//! `private_key_jwt` assertion against the client's registered JWK Set.
//!
//! The JWS encoding is `jsonwebtoken`'s over aws-lc (already linked for
//! TLS); this module only adds what it lacks: deterministic key generation
//! from an injected RNG, JWK export and thumbprints.

use crate::random::Random;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

/// The signature algorithms idlink signs with. RS256 is not offered (ADR 0020).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwsAlg {
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl JwsAlg {
    pub const ALL: [JwsAlg; 2] = [JwsAlg::Es256, JwsAlg::EdDsa];

    /// The JOSE name (`ES256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::Es256 => "ES256",
            JwsAlg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    fn jwt(self) -> Algorithm {
        match self {
            JwsAlg::Es256 => Algorithm::ES256,
            JwsAlg::EdDsa => Algorithm::EdDSA,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JoseError {
    #[error("the key is not a valid {0} private key")]
    BadKey(&'static str),
    #[error("the JWK is not a public key idlink can use: {0}")]
    BadJwk(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// A private signing key with its public JWK. The PKCS#8 bytes are what the
/// store seals; they are wiped when the key is dropped.
pub struct SigningKey {
    alg: JwsAlg,
    kid: String,
    pkcs8: Zeroizing<Vec<u8>>,
    public_jwk: Value,
    encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// RFC 5915 `ECPrivateKey` for P-256 around a 32-byte scalar (the public key
/// is left out: aws-lc derives it).
fn p256_sec1(scalar: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut der = Zeroizing::new(Vec::with_capacity(51));
    der.extend_from_slice(&[0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20]);
    der.extend_from_slice(scalar);
    der.extend_from_slice(&[0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
    der
}

impl SigningKey {
    /// A fresh key drawn from `rng` (an out-of-range P-256 scalar is drawn again).
    pub fn generate(alg: JwsAlg, rng: &dyn Random) -> Result<Self, JoseError> {
        match alg {
            JwsAlg::EdDsa => {
                let seed = Zeroizing::new(rng.bytes32());
                let pair = Ed25519KeyPair::from_seed_unchecked(seed.as_slice()).map_err(|_| JoseError::BadKey("Ed25519"))?;
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| JoseError::BadKey("Ed25519"))?;
                Self::from_pkcs8(alg, pkcs8.as_ref())
            }
            JwsAlg::Es256 => {
                for _ in 0..8 {
                    let scalar = Zeroizing::new(rng.bytes32());
                    if let Ok(pair) = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &p256_sec1(&scalar)) {
                        let pkcs8 = pair.to_pkcs8v1().map_err(|_| JoseError::BadKey("P-256"))?;
                        return Self::from_pkcs8(alg, pkcs8.as_ref());
                    }
                }
                Err(JoseError::BadKey("P-256"))
            }
        }
    }

    /// A key as stored (PKCS#8 v1 or v2).
    pub fn from_pkcs8(alg: JwsAlg, pkcs8: &[u8]) -> Result<Self, JoseError> {
        let mut jwk = match alg {
            JwsAlg::EdDsa => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| JoseError::BadKey("Ed25519"))?;
                json!({"kty": "OKP", "crv": "Ed25519", "x": B64URL.encode(pair.public_key().as_ref())})
            }
            JwsAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(|_| JoseError::BadKey("P-256"))?;
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 0x04 {
                    return Err(JoseError::BadKey("P-256"));
                }
                json!({"kty": "EC", "crv": "P-256", "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..])})
            }
        };
        let kid = thumbprint(&jwk)?;
        if let Value::Object(map) = &mut jwk {
            map.insert("kid".into(), Value::String(kid.clone()));
            map.insert("alg".into(), Value::String(alg.as_str().into()));
            map.insert("use".into(), Value::String("sig".into()));
        }
        let encoding = match alg {
            JwsAlg::EdDsa => EncodingKey::from_ed_der(pkcs8),
            JwsAlg::Es256 => EncodingKey::from_ec_der(pkcs8),
        };
        Ok(Self { alg, kid, pkcs8: Zeroizing::new(pkcs8.to_vec()), public_jwk: jwk, encoding })
    }

    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK with `kid`, `alg` and `use: sig`, as published in the JWKS.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The private key (PKCS#8), to be sealed before it is stored.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// A compact JWS of `claims` with `kid` and, when given, `typ`
    /// (`secevent+jwt`, `logout+jwt`; RFC 8725 §3.11: explicit typing).
    pub fn sign<T: Serialize>(&self, typ: Option<&str>, claims: &T) -> Result<String, JoseError> {
        let mut header = Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        header.typ = typ.map(str::to_string);
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| JoseError::Sign(e.to_string()))
    }
}

/// The RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: the
/// required members only, in lexicographic order, no whitespace.
pub fn thumbprint(jwk: &Value) -> Result<String, JoseError> {
    let get = |k: &str| jwk.get(k).and_then(Value::as_str).ok_or_else(|| JoseError::BadJwk(format!("member `{k}` is missing")));
    // serde_json's map is ordered by key, so `json!` serialises the members sorted.
    let canonical = match get("kty")? {
        "OKP" => json!({"crv": get("crv")?, "kty": "OKP", "x": get("x")?}),
        "EC" => json!({"crv": get("crv")?, "kty": "EC", "x": get("x")?, "y": get("y")?}),
        "RSA" => json!({"e": get("e")?, "kty": "RSA", "n": get("n")?}),
        other => return Err(JoseError::BadJwk(format!("key type `{other}`"))),
    };
    let bytes = serde_json::to_vec(&canonical).map_err(|e| JoseError::BadJwk(e.to_string()))?;
    Ok(B64URL.encode(Sha256::digest(&bytes)))
}

/// Checks a compact JWS signed by one of the keys in `jwks` (a JWK Set)
/// with an algorithm in `allowed`, and returns its header `typ` and claims.
/// Times (`exp`, `nbf`, `iat`) and audiences are *not* checked here: the
/// caller checks them against its injected clock and its own issuer.
pub fn verify(token: &str, jwks: &Value, allowed: &[JwsAlg]) -> Result<(Option<String>, Value), JoseError> {
    VerifyingKeys::from_jwks(jwks)?.verify(token, allowed)
}

/// A compact JWS's header as it reads, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedHeader {
    /// `None`: an algorithm idlink does not sign with.
    pub alg: Option<JwsAlg>,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A compact JWS's header and claims read WITHOUT checking its signature.
/// Only for a caller that recognises the exact token by other means (idlink
/// recognises its own medical codes by the digest it stored when it signed
/// them); anyone else verifies with [`VerifyingKeys::verify`].
pub fn unverified<T: serde::de::DeserializeOwned>(token: &str) -> Result<(UnverifiedHeader, T), JoseError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| JoseError::Invalid(e.to_string()))?;
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::Invalid("not a compact JWS".into()));
    };
    let json = B64URL.decode(payload).map_err(|e| JoseError::Invalid(e.to_string()))?;
    let claims = serde_json::from_slice::<T>(&json).map_err(|e| JoseError::Invalid(e.to_string()))?;
    let alg = JwsAlg::ALL.into_iter().find(|a| a.jwt() == header.alg);
    Ok((UnverifiedHeader { alg, kid: header.kid, typ: header.typ }, claims))
}

/// The `kid` a compact JWS's header names, if it parses.
pub fn kid_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// The keys of a JWK Set, decoded once to check many tokens (idlink's own
/// published keys: decoding them for every medical code cost more than
/// the signature check).
pub struct VerifyingKeys {
    /// Each key's `kid`, and the key or why it could not be decoded.
    keys: Vec<(Option<String>, Result<DecodingKey, String>)>,
}

impl std::fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKeys").field("kids", &self.keys.iter().map(|(kid, _)| kid).collect::<Vec<_>>()).finish()
    }
}

impl VerifyingKeys {
    /// The keys of a JWK Set. A key that does not decode is kept as its
    /// error: it fails only the tokens that name it (or name no key).
    pub fn from_jwks(jwks: &Value) -> Result<Self, JoseError> {
        let keys = jwks.get("keys").and_then(Value::as_array).ok_or_else(|| JoseError::BadJwk("no `keys` array".into()))?;
        let keys = keys
            .iter()
            .map(|k| {
                let kid = k.get("kid").and_then(Value::as_str).map(str::to_owned);
                let key = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|jwk| DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string()));
                (kid, key)
            })
            .collect();
        Ok(Self { keys })
    }

    /// Whether a key of the set has this `kid`.
    pub fn has(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.as_deref() == Some(kid))
    }

    /// [`verify`] against these keys, the claims read straight into `T`
    /// (claims that are not a `T` fail as the token does).
    pub fn verify<T: serde::de::DeserializeOwned>(&self, token: &str, allowed: &[JwsAlg]) -> Result<(Option<String>, T), JoseError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| JoseError::Invalid(e.to_string()))?;
        let alg = allowed
            .iter()
            .copied()
            .find(|a| a.jwt() == header.alg)
            .ok_or_else(|| JoseError::Invalid(format!("algorithm {:?} is not accepted", header.alg)))?;
        let mut validation = Validation::new(alg.jwt());
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let mut last = JoseError::Invalid("no key in the JWK Set matches".into());
        let candidates = self.keys.iter().filter(|(kid, _)| match (&header.kid, kid) {
            (Some(want), Some(have)) => want == have,
            (Some(_), None) | (None, _) => true,
        });
        for (_, key) in candidates {
            let key = match key {
                Ok(key) => key,
                Err(e) => {
                    last = JoseError::BadJwk(e.clone());
                    continue;
                }
            };
            match jsonwebtoken::decode::<T>(token, key, &validation) {
                Ok(data) => return Ok((data.header.typ, data.claims)),
                // The signature verified with this key but the claims are not a `T`: no other key changes that.
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::Json(_)) => return Err(JoseError::Invalid(e.to_string())),
                Err(e) => last = JoseError::Invalid(e.to_string()),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn rfc_8037_thumbprint_vector() {
        // RFC 8037 appendix A.3.
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(thumbprint(&jwk).ok().as_deref(), Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"));
    }

    #[test]
    fn rfc_8037_key_from_its_seed_has_the_published_public_key() {
        // RFC 8037 appendix A.1: d = nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A.
        let seed = B64URL.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap_or_default();
        struct Fixed(Vec<u8>);
        impl Random for Fixed {
            fn fill(&self, buf: &mut [u8]) {
                buf.copy_from_slice(&self.0[..buf.len()]);
            }
        }
        let key = SigningKey::generate(JwsAlg::EdDsa, &Fixed(seed)).expect("key");
        assert_eq!(key.public_jwk()["x"], "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn signed_tokens_verify_with_the_published_jwk_and_not_with_another() {
        let rng = SeededRandom::new(7);
        for alg in JwsAlg::ALL {
            let key = SigningKey::generate(alg, &rng).expect("key");
            let again = SigningKey::from_pkcs8(alg, key.pkcs8()).expect("reload");
            assert_eq!(again.kid(), key.kid(), "a stored key reloads to the same kid");
            let token = key.sign(Some("logout+jwt"), &json!({"iss": "https://op.example", "sub": "abc"})).expect("sign");
            let jwks = json!({"keys": [key.public_jwk()]});
            let (typ, claims) = verify(&token, &jwks, &JwsAlg::ALL).expect("verifies");
            assert_eq!(typ.as_deref(), Some("logout+jwt"));
            assert_eq!(claims["sub"], "abc");
            let other = SigningKey::generate(alg, &rng).expect("key");
            let wrong = json!({"keys": [other.public_jwk()]});
            assert!(verify(&token, &wrong, &JwsAlg::ALL).is_err(), "{alg:?} verified with a foreign key");
            let only_other_alg: Vec<JwsAlg> = JwsAlg::ALL.into_iter().filter(|a| *a != alg).collect();
            assert!(verify(&token, &jwks, &only_other_alg).is_err(), "{alg:?} accepted while not allowed");
        }
    }

    /// Keys decoded once check many tokens: the token's own key by its
    /// kid, a key that does not decode fails only the tokens that name it,
    /// and claims that are not the caller's type fail as the token does.
    #[test]
    fn keys_decoded_once_check_tokens_by_their_kid() {
        let rng = SeededRandom::new(11);
        let ed = SigningKey::generate(JwsAlg::EdDsa, &rng).expect("key");
        let ec = SigningKey::generate(JwsAlg::Es256, &rng).expect("key");
        let broken = json!({"kty": "OKP", "crv": "Ed25519", "x": "not base64!", "kid": "broken", "alg": "EdDSA"});
        let keys = VerifyingKeys::from_jwks(&json!({"keys": [broken, ed.public_jwk(), ec.public_jwk()]})).expect("a set");
        assert!(keys.has(ed.kid()) && keys.has("broken") && !keys.has("other"));
        let token = ed.sign(None, &json!({"sub": "abc"})).expect("sign");
        assert_eq!(kid_of(&token).as_deref(), Some(ed.kid()));
        let (_, claims): (_, Value) = keys.verify(&token, &JwsAlg::ALL).expect("its own key verifies it");
        assert_eq!(claims["sub"], "abc");
        // Claims that are an object, read as a list: the signature verified, the type did not.
        let not_wanted = keys.verify::<Vec<String>>(&token, &JwsAlg::ALL);
        assert!(matches!(&not_wanted, Err(JoseError::Invalid(why)) if !why.contains("ignature")), "{not_wanted:?}");
        let other = SigningKey::generate(JwsAlg::EdDsa, &rng).expect("key");
        assert!(keys.verify::<Value>(&other.sign(None, &json!({})).expect("sign"), &JwsAlg::ALL).is_err(), "a kid it does not hold");
        assert!(VerifyingKeys::from_jwks(&json!({"no": "keys"})).is_err());
    }

    #[test]
    fn the_same_seed_makes_the_same_key() {
        let a = SigningKey::generate(JwsAlg::Es256, &SeededRandom::new(1)).expect("key");
        let b = SigningKey::generate(JwsAlg::Es256, &SeededRandom::new(1)).expect("key");
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.public_jwk()["crv"], "P-256");
    }
}
