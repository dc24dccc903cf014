//! Mutual TLS: a client with a certificate from the institution's CA is
//! served; a client without one is refused during the handshake.

use idlink_connectors::{CallError, Executor, ExecutorPolicy, Target, TlsIdentity};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client_pem: String,
}

fn new_pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &issuer).unwrap_or_else(|e| panic!("{e}"));

    let client_key = KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut client_params = CertificateParams::new(vec!["idlink-client".to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &issuer).unwrap_or_else(|e| panic!("{e}"));

    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server: (server.der().clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()))),
        client_pem: format!("{}{}", client.pem(), client_key.serialize_pem()),
    }
}

async fn mtls_server(pki: &Pki) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap_or_else(|e| panic!("{e}"));
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots)).build().unwrap_or_else(|e| panic!("{e}"));
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server.0.clone()], pki.server.1.clone_key())
        .unwrap_or_else(|e| panic!("{e}"));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let app = axum::Router::new().route("/ping", axum::routing::post(|| async { axum::Json(serde_json::json!({"pong": true})) }));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    let server = axum_server::from_tcp_rustls(listener, tls).unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { server.serve(app.into_make_service()).await });
    format!("https://localhost:{}", addr.port())
}

#[tokio::test]
async fn only_clients_with_the_right_certificate_are_served() {
    let pki = new_pki();
    let base = mtls_server(&pki).await;
    let clock = Arc::new(idlink_core::ports::clock::ManualClock::new(jiff::Timestamp::UNIX_EPOCH));
    let exec = Executor::new(ExecutorPolicy { retries: 0, ..ExecutorPolicy::default() }, clock);
    let body = serde_json::json!({});

    let identity =
        TlsIdentity { client_cert_and_key_pem: pki.client_pem.clone().into_bytes(), server_ca_pem: pki.ca_pem.clone().into_bytes() };
    let good = Target::with_mutual_tls("bank", "direct", &base, &identity).unwrap_or_else(|e| panic!("{e}"));
    let r: Result<serde_json::Value, _> = exec.call(&good, reqwest::Method::POST, "/ping", Some(&body), true).await;
    assert_eq!(r.ok(), Some(serde_json::json!({"pong": true})));

    // Same CA trusted, but no client certificate: the server refuses the handshake.
    let anonymous = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"))])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let r = anonymous.post(format!("{base}/ping")).json(&body).send().await;
    assert!(r.is_err(), "a client without a certificate must be refused: {r:?}");

    // A certificate from another CA is refused too.
    let stranger = new_pki();
    let wrong = TlsIdentity { client_cert_and_key_pem: stranger.client_pem.into_bytes(), server_ca_pem: pki.ca_pem.clone().into_bytes() };
    let bad = Target::with_mutual_tls("bank", "direct-2", &base, &wrong).unwrap_or_else(|e| panic!("{e}"));
    let r: Result<serde_json::Value, _> = exec.call(&bad, reqwest::Method::POST, "/ping", Some(&body), true).await;
    assert!(matches!(r, Err(CallError::Transport { .. })), "{r:?}");
}
