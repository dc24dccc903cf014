//! The sandbox's certificates and signing keys for the direct bank channel
//! (SPEC BK2: mutual TLS + message signing), generated at first start into
//! one directory and reused afterwards, like the client certificate a
//! payment provider's sandbox hands out.
//!
//! | file | who uses it |
//! |---|---|
//! | `ca.pem` | both: the CA that signed the bank server and the idlink client |
//! | `bank-server.pem` | sandbox: the banks' TLS certificate and key |
//! | `idlink-client.pem` | idlink: its client certificate and key |
//! | `idlink-signing.seed` | idlink: the Ed25519 seed it signs requests with |
//! | `bank-signing.seed` | sandbox: the Ed25519 seed banks sign answers and callbacks with |
//!
//! A production deployment puts its own `ca.pem`, `idlink-client.pem` and
//! `idlink-signing.seed` there, and `bank-signing.pub` (the bank's public key,
//! hex) instead of the bank's seed.

use idlink_crypto::Random;
use idlink_crypto::signing::Ed25519Signer;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};

pub const CA: &str = "ca.pem";
pub const BANK_SERVER: &str = "bank-server.pem";
pub const IDLINK_CLIENT: &str = "idlink-client.pem";
pub const IDLINK_SEED: &str = "idlink-signing.seed";
pub const BANK_SEED: &str = "bank-signing.seed";
pub const BANK_PUBLIC: &str = "bank-signing.pub";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot generate certificates: {0}")]
    Generate(String),
    #[error("{0} is not a hex Ed25519 seed or public key")]
    BadKey(PathBuf),
}

/// The bank side of the direct channel, as the sandbox serves it.
pub struct BankSide {
    pub ca_pem: String,
    pub server_cert_and_key_pem: String,
    pub signer: Ed25519Signer,
    /// idlink's public key: requests must carry its signature.
    pub client_public_hex: String,
}

fn write(dir: &Path, name: &str, text: &str, secret: bool) -> Result<(), PkiError> {
    let path = dir.join(name);
    let err = |source| PkiError::Write { path: path.clone(), source };
    std::fs::write(&path, text).map_err(err)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

pub fn read(dir: &Path, name: &str) -> Result<String, PkiError> {
    let path = dir.join(name);
    std::fs::read_to_string(&path).map_err(|source| PkiError::Read { path, source })
}

/// Reads a signing seed file.
pub fn read_signer(dir: &Path, name: &str) -> Result<Ed25519Signer, PkiError> {
    Ed25519Signer::from_seed_hex(&read(dir, name)?).ok_or_else(|| PkiError::BadKey(dir.join(name)))
}

/// The bank's public key: `bank-signing.pub`, or derived from the sandbox's seed.
pub fn bank_public_hex(dir: &Path) -> Result<String, PkiError> {
    match read(dir, BANK_PUBLIC) {
        Ok(text) if text.trim().len() == 64 && text.trim().bytes().all(|b| b.is_ascii_hexdigit()) => Ok(text.trim().to_owned()),
        Ok(_) => Err(PkiError::BadKey(dir.join(BANK_PUBLIC))),
        Err(_) => Ok(read_signer(dir, BANK_SEED)?.public_hex()),
    }
}

/// Generates the directory's files unless they exist; returns whether it generated them.
pub fn ensure(dir: &Path, rng: &dyn Random) -> Result<bool, PkiError> {
    if dir.join(CA).exists() && dir.join(BANK_SERVER).exists() && dir.join(IDLINK_CLIENT).exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Write { path: dir.to_owned(), source })?;
    let g = |e: rcgen::Error| PkiError::Generate(e.to_string());
    let ca_key = KeyPair::generate().map_err(g)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "idlink sandbox bank CA");
    let ca = ca_params.self_signed(&ca_key).map_err(g)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(g)?;
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(g)?;
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params.signed_by(&server_key, &issuer).map_err(g)?;

    let client_key = KeyPair::generate().map_err(g)?;
    let mut client_params = CertificateParams::new(vec!["idlink".to_owned()]).map_err(g)?;
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &issuer).map_err(g)?;

    write(dir, CA, &ca.pem(), false)?;
    write(dir, BANK_SERVER, &format!("{}{}", server.pem(), server_key.serialize_pem()), true)?;
    write(dir, IDLINK_CLIENT, &format!("{}{}", client.pem(), client_key.serialize_pem()), true)?;
    write(dir, IDLINK_SEED, &Ed25519Signer::from_seed(&rng.bytes32()).seed_hex(), true)?;
    write(dir, BANK_SEED, &Ed25519Signer::from_seed(&rng.bytes32()).seed_hex(), true)?;
    Ok(true)
}

/// Loads what the sandbox banks need from the directory.
pub fn bank_side(dir: &Path) -> Result<BankSide, PkiError> {
    Ok(BankSide {
        ca_pem: read(dir, CA)?,
        server_cert_and_key_pem: read(dir, BANK_SERVER)?,
        signer: read_signer(dir, BANK_SEED)?,
        client_public_hex: read_signer(dir, IDLINK_SEED)?.public_hex(),
    })
}
