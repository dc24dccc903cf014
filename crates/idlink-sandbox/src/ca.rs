//! The sandbox certificate authority: issues test client certificates for
//! verification by digital certificate (SPEC CR1; ADR 0027), like the test
//! certificates a payment provider's sandbox hands out. Its CA certificate
//! (`GET /sandbox/v1/ca/ca.pem`) is what idlink trusts with the sandbox.
//!
//! `POST /sandbox/v1/ca/certificates {"user_id", "public_key_spki"?}`
//! answers `{"certificate_pem", "private_key_pem"?, "fingerprint"}`: a
//! P-256 certificate for client authentication naming
//! `urn:idlink:user:{user_id}`, valid a year from today (sandbox time). With
//! `public_key_spki` (a P-256 SubjectPublicKeyInfo, base64, as WebCrypto
//! exports it) the certificate is for that key and no private key leaves;
//! without it the CA makes the key and returns it (PKCS#8 PEM).

use crate::control::error;
use crate::{Institution, Shared};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, SignatureAlgorithm,
};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480), before the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
    0x07, 0x03, 0x42, 0x00,
];

/// A P-256 public key given as its SubjectPublicKeyInfo.
struct P256Key(Vec<u8>);

impl P256Key {
    fn from_spki(spki: &[u8]) -> Option<Self> {
        let point = spki.strip_prefix(&P256_SPKI_PREFIX[..])?;
        (point.len() == 65 && point.first() == Some(&0x04)).then(|| Self(point.to_vec()))
    }
}

impl PublicKeyData for P256Key {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

pub struct Ca {
    shared: Arc<Shared>,
    /// The CA's key and certificate (PEM); none if they could not be made (the endpoints say so).
    inner: Option<(Issuer<'static, KeyPair>, String)>,
}

fn make_ca() -> Result<(Issuer<'static, KeyPair>, String), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "idlink sandbox personal certificate CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key)?;
    Ok((Issuer::new(params, key), cert.pem()))
}

impl Ca {
    /// A new CA (its key lives as long as the sandbox).
    pub fn new(shared: Arc<Shared>) -> Self {
        let inner = make_ca().map_err(|e| tracing::error!(error = %e, "the sandbox CA could not be made")).ok();
        Self { shared, inner }
    }

    /// The CA certificate (PEM): what idlink trusts with the sandbox.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.inner.as_ref().map(|(_, pem)| pem.as_str())
    }

    fn params(&self, user_id: &str) -> Result<CertificateParams, rcgen::Error> {
        let today = idlink_domain::calendar::shanghai_today(self.shared.clock.now());
        let day = |d: jiff::civil::Date| {
            rcgen::date_time_ymd(i32::from(d.year()), u8::try_from(d.month()).unwrap_or(1), u8::try_from(d.day()).unwrap_or(1))
        };
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "idlink sandbox test certificate");
        params.subject_alt_names = vec![SanType::URI(format!("urn:idlink:user:{user_id}").try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = day(today.yesterday().unwrap_or(today));
        params.not_after = day(today.saturating_add(jiff::Span::new().years(1)));
        Ok(params)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    user_id: String,
    #[serde(default)]
    public_key_spki: Option<String>,
}

pub async fn issue(State(ca): State<Arc<Ca>>, Json(req): Json<IssueRequest>) -> Response {
    if req.user_id.is_empty() || !req.user_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_user_id", "`user_id` is the idlink user id the certificate names");
    }
    let Some((issuer, _)) = ca.inner.as_ref() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "ca_unavailable", "the sandbox CA could not be made; see the server log");
    };
    let params = match ca.params(&req.user_id) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "ca_error", &e.to_string()),
    };
    let issued = match req.public_key_spki.as_deref() {
        Some(spki) => {
            let Some(key) = B64.decode(spki.trim()).ok().and_then(|d| P256Key::from_spki(&d)) else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_public_key",
                    "`public_key_spki` is a P-256 SubjectPublicKeyInfo in base64",
                );
            };
            params.signed_by(&key, issuer).map(|c| (c, None))
        }
        None => KeyPair::generate().and_then(|key| params.signed_by(&key, issuer).map(|c| (c, Some(key.serialize_pem())))),
    };
    match issued {
        Ok((cert, key)) => Json(json!({
            "certificate_pem": cert.pem(),
            "private_key_pem": key,
            "fingerprint": idlink_crypto::certificates::fingerprint(cert.der()),
        }))
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "ca_error", &e.to_string()),
    }
}

async fn ca_pem(State(ca): State<Arc<Ca>>) -> Response {
    let Some(pem) = ca.certificate_pem() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "ca_unavailable", "the sandbox CA could not be made; see the server log");
    };
    let mut res = pem.to_owned().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-pem-file"));
    res
}

pub fn institution(ca: Arc<Ca>) -> Institution {
    Institution {
        maintenance: &[],
        maintenance_also: Vec::new(),
        index: Some((
            "ca",
            json!({
                "issue": "POST /sandbox/v1/ca/certificates {user_id, public_key_spki?}: a P-256 client certificate naming urn:idlink:user:{user_id}",
                "ca_certificate": "GET /sandbox/v1/ca/ca.pem",
            }),
        )),
        router: Router::new().route("/sandbox/v1/ca/certificates", post(issue)).route("/sandbox/v1/ca/ca.pem", get(ca_pem)).with_state(ca),
    }
}
