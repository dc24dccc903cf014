//! The master keyring file: which master keys exist and which one is active.
//!
//! ```toml
//! active = "mk-20261122-3f9a"
//! [[keys]]
//! id = "mk-20261122-3f9a"
//! key = "<base64, 32 bytes>"
//! ```
//! The file is a secret (mode 0600). In production it is assembled from
//! custodians' shares with `idlink keys combine`.

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idlink_crypto::{Algorithm, MasterKey, MasterKeyring, Random};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    active: String,
    keys: Vec<KeyEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: String,
    key: String,
}

/// Adds a fresh master key to the keyring file at `path` and makes it active;
/// older keys stay (running servers and backups still unwrap with them).
/// Answers the new keyring.
pub fn add_active_key(path: &Path, algorithm: Algorithm, rng: &dyn Random, today: jiff::civil::Date) -> Result<MasterKeyring> {
    let old = read(path, algorithm)?;
    let id = new_key_id(rng, today);
    if old.keys().iter().any(|k| k.id == id) {
        bail!("a key named {id} exists already; run the rotation again");
    }
    let mut all = old.keys().to_vec();
    all.push(MasterKey::generate(id.clone(), rng));
    let ring = MasterKeyring::new(all.clone(), &id, algorithm)?;
    write(path, &all, &id, true)?;
    Ok(ring)
}

/// The keyring file as the core's rotation sees it (`Vault::rotate_master`).
pub struct KeyringFile {
    pub path: std::path::PathBuf,
    pub algorithm: Algorithm,
    pub rng: std::sync::Arc<dyn Random>,
    pub clock: std::sync::Arc<dyn idlink_core::ports::clock::Clock>,
}

impl idlink_core::ports::keys::MasterKeyFile for KeyringFile {
    fn add_active_key(&self) -> std::result::Result<MasterKeyring, String> {
        let today = self.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
        add_active_key(&self.path, self.algorithm, self.rng.as_ref(), today).map_err(|e| format!("{e:#}"))
    }
}

/// A new master key id, dated for the operator's benefit.
pub fn new_key_id(rng: &dyn Random, today: jiff::civil::Date) -> String {
    let mut b = [0u8; 3];
    rng.fill(&mut b);
    format!("mk-{}-{}", today.strftime("%Y%m%d"), hex::encode(b))
}

pub fn read(path: &Path, algorithm: Algorithm) -> Result<MasterKeyring> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read master keyring {}", path.display()))?;
    let file: KeyFile = toml::from_str(&text).with_context(|| format!("master keyring {} is malformed", path.display()))?;
    let mut keys = Vec::with_capacity(file.keys.len());
    for k in file.keys {
        let bytes = STANDARD.decode(k.key.trim()).with_context(|| format!("key {} is not base64", k.id))?;
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| anyhow::anyhow!("key {} is not 32 bytes", k.id))?;
        keys.push(MasterKey::new(k.id, bytes));
    }
    MasterKeyring::new(keys, &file.active, algorithm).map_err(|e| anyhow::anyhow!("master keyring {}: {e}", path.display()))
}

/// Writes the keyring with owner-only permissions; refuses to overwrite unless `replace`.
pub fn write(path: &Path, keys: &[MasterKey], active: &str, replace: bool) -> Result<()> {
    if !replace && path.exists() {
        bail!("{} exists already; refusing to overwrite a master keyring", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = KeyFile {
        active: active.to_owned(),
        keys: keys.iter().map(|k| KeyEntry { id: k.id.clone(), key: STANDARD.encode(k.reveal()) }).collect(),
    };
    let text = format!(
        "# idlink master keyring. SECRET: whoever holds this file can read all personal data.\n{}",
        toml::to_string(&file).context("serialising the keyring")?
    );
    let tmp = path.with_extension("tmp");
    write_private(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", path.display()))?;
    f.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(())
}
