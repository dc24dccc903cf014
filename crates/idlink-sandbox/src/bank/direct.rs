//! The banks' direct channel (SPEC BK2): the card operations of
//! [`super::cards`] under `/banks/{code}/v1/…`, served over mutual TLS (a
//! client without a certificate from the sandbox CA is refused during the
//! handshake) with signed messages:
//!
//! - a request carries `Idlink-Timestamp`, `Idlink-Nonce` and
//!   `Idlink-Signature`, the Ed25519 signature (hex) of
//!   [`idlink_crypto::signing::bank_message`] over method, path, timestamp,
//!   nonce and body under idlink's key; a missing or wrong signature, or a
//!   nonce seen before, answers 401;
//! - every answer carries `Bank-Signature`, the bank's signature of the
//!   request's signature, a newline and the answer's body, so an answer can
//!   be neither forged nor replayed onto another request.

use super::BankState;
use super::cards;
use super::pki::BankSide;
use crate::control::error;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::post;
use idlink_crypto::signing::{bank_message, verify};
use std::sync::Arc;

pub const TIMESTAMP: &str = "idlink-timestamp";
pub const NONCE: &str = "idlink-nonce";
pub const SIGNATURE: &str = "idlink-signature";
pub const BANK_SIGNATURE: &str = "bank-signature";

/// Largest body a bank accepts.
const BODY_LIMIT: usize = 64 * 1024;

pub fn router(sandbox: Arc<BankState>) -> Router {
    Router::new()
        .route("/banks/{code}/v1/card-verifications", post(cards::direct_verify))
        .route("/banks/{code}/v1/sms-codes", post(cards::direct_send_code))
        .route("/banks/{code}/v1/sms-codes/verify", post(cards::direct_verify_code))
        .route("/banks/{code}/v1/balances", post(cards::direct_balance))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such bank endpoint") })
        .layer(axum::middleware::from_fn_with_state(sandbox.clone(), signed))
        .with_state(sandbox)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks the request's signature, and signs the answer.
async fn signed(State(s): State<Arc<BankState>>, req: Request, next: Next) -> Response {
    let Some(keys) = s.bank_side.as_ref() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "not_configured", "the direct channel has no keys");
    };
    let (ts, nonce, sig) = match (header(&req, TIMESTAMP), header(&req, NONCE), header(&req, SIGNATURE)) {
        (Some(t), Some(n), Some(s)) => (t.to_owned(), n.to_owned(), s.to_owned()),
        _ => {
            return sign(
                keys,
                "",
                error(StatusCode::UNAUTHORIZED, "unsigned", "Idlink-Timestamp, Idlink-Nonce and Idlink-Signature are required"),
            )
            .await;
        }
    };
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return sign(keys, &sig, error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the body is too large")).await;
    };
    if !verify(&keys.client_public_hex, &bank_message(&method, &path, &ts, &nonce, &bytes), &sig) {
        return sign(keys, &sig, error(StatusCode::UNAUTHORIZED, "bad_signature", "the request signature does not verify")).await;
    }
    if !s.first_use_of_nonce(&nonce) {
        return sign(keys, &sig, error(StatusCode::UNAUTHORIZED, "replayed", "this nonce was used before")).await;
    }
    let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    sign(keys, &sig, res).await
}

async fn sign(keys: &BankSide, request_signature: &str, res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_else(|_| Bytes::new());
    let mut message = Vec::with_capacity(request_signature.len() + 1 + bytes.len());
    message.extend_from_slice(request_signature.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(&bytes);
    if let Ok(v) = HeaderValue::from_str(&keys.signer.sign(&message)) {
        parts.headers.insert(BANK_SIGNATURE, v);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Serves the direct channel over mutual TLS on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: std::net::TcpListener,
    sandbox: Arc<crate::Sandbox>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let banks = sandbox.bank.clone();
    let Some(keys) = banks.bank_side.as_ref() else {
        return Err(std::io::Error::other("the sandbox has no certificates for the direct channel"));
    };
    let config = tls_config(keys).map_err(std::io::Error::other)?;
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    axum_server::from_tcp_rustls(listener, tls)?.handle(handle).serve(router(banks.clone()).into_make_service()).await
}

fn tls_config(keys: &BankSide) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(keys.ca_pem.as_bytes()) {
        roots.add(ca.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(keys.server_cert_and_key_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(keys.server_cert_and_key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
