//! Client certificates a user registers to prove who they are (SPEC CR1,
//! ADR 0027): the certificate must chain to a trusted CA, be valid now,
//! allow client authentication and name its holder in a SAN URI; a
//! signature over a challenge is then checked with its P-256 key, in either
//! the fixed 64-byte `r‖s` form WebCrypto produces or the ASN.1 DER form
//! Android and iOS key stores produce. Chain, validity and key usage are
//! rustls-webpki's; the signature is checked by aws-lc-rs through it.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use std::time::Duration;
use webpki::{EndEntityCert, KeyUsage, anchor_from_trusted_cert};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not a PEM or DER X.509 certificate")]
    Unreadable,
    /// Not issued by a trusted CA, not valid now, or not for client authentication.
    #[error("the certificate is not trusted: {0}")]
    Untrusted(String),
    /// It does not name the expected holder.
    #[error("the certificate names another holder")]
    OtherHolder,
    #[error("the signature does not verify")]
    BadSignature,
}

/// The CA certificates client certificates must chain to (DER).
#[derive(Debug, Clone, Default)]
pub struct TrustedCas(Vec<CertificateDer<'static>>);

impl TrustedCas {
    /// Every certificate in a PEM bundle; none is an error.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CertError> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pem).collect::<Result<_, _>>().map_err(|_| CertError::Unreadable)?;
        if certs.is_empty() { Err(CertError::Unreadable) } else { Ok(Self(certs)) }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A certificate as DER from its PEM (or the DER itself).
pub fn certificate_der(text: &[u8]) -> Result<Vec<u8>, CertError> {
    match CertificateDer::from_pem_slice(text) {
        Ok(der) => Ok(der.as_ref().to_vec()),
        Err(_) if text.first() == Some(&0x30) => Ok(text.to_vec()),
        Err(_) => Err(CertError::Unreadable),
    }
}

/// The certificate's SHA-256 fingerprint, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Checks that `der` chains to `cas`, is valid at `now` (Unix seconds),
/// allows client authentication and has `holder_uri` among its SAN URIs.
pub fn check_client_cert(cas: &TrustedCas, der: &[u8], now: i64, holder_uri: &str) -> Result<(), CertError> {
    let der = CertificateDer::from(der);
    let cert = EndEntityCert::try_from(&der).map_err(|_| CertError::Unreadable)?;
    let anchors = cas
        .0
        .iter()
        .map(|ca| anchor_from_trusted_cert(ca).map_err(|e| CertError::Untrusted(format!("a trusted CA is unusable: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    cert.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, &[], time, KeyUsage::client_auth(), None, None)
        .map_err(|e| CertError::Untrusted(e.to_string()))?;
    if !cert.valid_uri_names().any(|u| u == holder_uri) {
        return Err(CertError::OtherHolder);
    }
    Ok(())
}

/// Checks an ECDSA P-256/SHA-256 signature by the certificate's key over
/// `message`: 64 bytes are `r‖s` (WebCrypto), anything else ASN.1 DER.
pub fn verify_signature(der: &[u8], message: &[u8], signature: &[u8]) -> Result<(), CertError> {
    let der = CertificateDer::from(der);
    let cert = EndEntityCert::try_from(&der).map_err(|_| CertError::Unreadable)?;
    let asn1 = if signature.len() == 64 { fixed_to_der(signature) } else { signature.to_vec() };
    cert.verify_signature(webpki::aws_lc_rs::ECDSA_P256_SHA256, message, &asn1).map_err(|_| CertError::BadSignature)
}

/// `r‖s` (32 bytes each, big-endian) as the DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn fixed_to_der(rs: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
            Some(i) => &bytes[i..],
            None => &[0],
        };
        // A positive INTEGER whose first bit is set takes a leading zero.
        let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
        let mut out = vec![0x02, u8::try_from(trimmed.len() + usize::from(pad)).unwrap_or(0)];
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        out
    }
    let (r, s) = rs.split_at(rs.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap_or(0)];
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType};

    struct Ca {
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca() -> Ca {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        Ca { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A client certificate for `uri` with `eku`, and its key as PKCS#8.
    fn client(ca: &Ca, uri: &str, eku: ExtendedKeyUsagePurpose) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap_or_else(|e| panic!("{e}")))];
        params.extended_key_usages = vec![eku];
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let cert = params.signed_by(&key, &ca.issuer).unwrap_or_else(|e| panic!("{e}"));
        (cert.der().to_vec(), key.serialize_der())
    }

    fn now() -> i64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(since.as_secs()).unwrap_or(0)
    }

    #[test]
    fn a_certificate_is_trusted_only_from_its_ca_for_its_holder_and_client_auth() {
        let (ours, theirs) = (ca(), ca());
        let cas = TrustedCas::from_pem(ours.pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let (der, _) = client(&ours, "urn:idlink:user:usr_1", ExtendedKeyUsagePurpose::ClientAuth);
        assert_eq!(check_client_cert(&cas, &der, now(), "urn:idlink:user:usr_1"), Ok(()));
        assert_eq!(check_client_cert(&cas, &der, now(), "urn:idlink:user:usr_2"), Err(CertError::OtherHolder));
        assert!(matches!(check_client_cert(&cas, &der, 1_924_992_000 /* 2031 */, "urn:idlink:user:usr_1"), Err(CertError::Untrusted(_))));
        let (foreign, _) = client(&theirs, "urn:idlink:user:usr_1", ExtendedKeyUsagePurpose::ClientAuth);
        assert!(matches!(check_client_cert(&cas, &foreign, now(), "urn:idlink:user:usr_1"), Err(CertError::Untrusted(_))));
        let (server, _) = client(&ours, "urn:idlink:user:usr_1", ExtendedKeyUsagePurpose::ServerAuth);
        assert!(matches!(check_client_cert(&cas, &server, now(), "urn:idlink:user:usr_1"), Err(CertError::Untrusted(_))));
        assert_eq!(check_client_cert(&cas, b"not a cert", now(), "x"), Err(CertError::Unreadable));
        let pem = format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", data_encoding::BASE64.encode(&der));
        assert_eq!(certificate_der(pem.as_bytes()), Ok(der.clone()));
        assert_eq!(fingerprint(&der).len(), 64);
    }

    #[test]
    fn fixed_and_der_signatures_verify_and_nothing_else_does() {
        let ours = ca();
        let (der, pkcs8) = client(&ours, "urn:idlink:user:usr_1", ExtendedKeyUsagePurpose::ClientAuth);
        let rng = SystemRandom::new();
        let message = b"idlink-cr-v1\ncrq_1\nnonce\nfpr\n1700000000";
        for alg in [&ECDSA_P256_SHA256_FIXED_SIGNING, &ECDSA_P256_SHA256_ASN1_SIGNING] {
            let key = EcdsaKeyPair::from_pkcs8(alg, &pkcs8).unwrap_or_else(|e| panic!("{e}"));
            // Many signatures, so that r or s with a leading zero or a high bit are met.
            for _ in 0..64 {
                let sig = key.sign(&rng, message).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(verify_signature(&der, message, sig.as_ref()), Ok(()));
                assert_eq!(verify_signature(&der, b"another message", sig.as_ref()), Err(CertError::BadSignature));
            }
        }
        let (other, other_key) = client(&ours, "urn:idlink:user:usr_1", ExtendedKeyUsagePurpose::ClientAuth);
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &other_key).unwrap_or_else(|e| panic!("{e}"));
        let sig = key.sign(&rng, message).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify_signature(&der, message, sig.as_ref()), Err(CertError::BadSignature), "another key's signature");
        assert_eq!(verify_signature(&other, message, sig.as_ref()), Ok(()));
        assert_eq!(verify_signature(&der, message, &[0u8; 64]), Err(CertError::BadSignature));
        assert_eq!(verify_signature(&der, message, b""), Err(CertError::BadSignature));
    }
}
