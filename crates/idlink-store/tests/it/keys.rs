use crate::{at, databases};
use idlink_core::ports::apikeys::{ApiKeyRow, ApiKeyStore};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::keys::KeyStore;
use idlink_core::vault::Vault;
use idlink_crypto::{Algorithm, DataKey, MasterKey, MasterKeyring, Random, SeededRandom};
use idlink_domain::ApiKeyId;
use std::sync::Arc;

#[tokio::test]
async fn rotation_rewraps_every_data_key_and_data_stays_readable() {
    let rng = Arc::new(SeededRandom::new(21));
    let mk1 = MasterKey::generate("mk-1", rng.as_ref());
    let mk2 = MasterKey::generate("mk-2", rng.as_ref());
    for db in databases().await {
        let s = &db.store;
        let ring1 = MasterKeyring::new(vec![mk1.clone()], "mk-1", Algorithm::Aes256Gcm).unwrap_or_else(|e| panic!("{e}"));
        let vault1 = Vault::open(ring1.clone(), s, rng.clone()).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        let index_before = vault1.blind_index("phone", "13812341234");
        let signer_before = vault1.signer().public_hex();

        let mut sealed = Vec::new();
        for i in 0..1200 {
            let dek = DataKey::generate(format!("dek-test-{i:05}"), rng.as_ref());
            let ct = dek.seal(Algorithm::Aes256Gcm, "t", format!("value {i}").as_bytes(), rng.as_ref()).unwrap_or_default();
            s.ensure_wrapped_key(&ring1.wrap(&dek, rng.as_ref()).unwrap_or_else(|e| panic!("{e}"))).await.unwrap_or_else(|e| panic!("{e}"));
            sealed.push((dek.id.clone(), ct));
        }

        let ring2 = MasterKeyring::new(vec![mk1.clone(), mk2.clone()], "mk-2", Algorithm::Sm4Gcm).unwrap_or_else(|e| panic!("{e}"));
        let vault2 = Vault::open(ring2, s, rng.clone()).await.unwrap_or_else(|e| panic!("{e}"));
        let report = vault2.rotate(s).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        assert_eq!(report.rewrapped, 1204, "{}: 1200 data keys + 4 system keys", db.kind);
        assert_eq!(s.count_keys_by_master().await.ok(), Some(vec![("mk-2".to_owned(), 1204)]), "{}", db.kind);
        assert_eq!(vault2.rotate(s).await.ok().map(|r| r.rewrapped), Some(0));

        // The old master key is no longer needed; data and indexes are unchanged.
        let ring3 = MasterKeyring::new(vec![mk2.clone()], "mk-2", Algorithm::Sm4Gcm).unwrap_or_else(|e| panic!("{e}"));
        let vault3 = Vault::open(ring3.clone(), s, rng.clone()).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(vault3.blind_index("phone", "13812341234"), index_before);
        assert_eq!(vault3.signer().public_hex(), signer_before);
        for (id, ct) in sealed.iter().step_by(97) {
            let w = s.wrapped_key(id).await.ok().flatten().unwrap_or_else(|| panic!("key {id} missing"));
            let dek = ring3.unwrap(&w).unwrap_or_else(|e| panic!("{}: {e}", db.kind));
            assert!(dek.open("t", ct).is_ok(), "{}: {id} unreadable after rotation", db.kind);
        }
    }
}

#[tokio::test]
async fn api_keys_are_listed_and_revoked_once() {
    let rng = SeededRandom::new(31);
    for db in databases().await {
        let s = &db.store;
        let id = ApiKeyId::from_random(rng.bytes16());
        let row = ApiKeyRow {
            id: id.clone(),
            name: "host app".into(),
            secret_hash: "ab".repeat(32),
            scopes: vec!["users:read".into(), "users:write".into()],
            created_at: at(1),
            revoked_at: None,
            expires_at: None,
            last_used_at: None,
            replaces: None,
        };
        let audit = AuditEntry::new("cli", "apikey.create", "administration", at(1));
        s.insert_api_key(&row, &audit).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        assert_eq!(s.api_key(&id).await.ok().flatten(), Some(row.clone()));
        assert_eq!(s.list_api_keys().await.ok(), Some(vec![row.clone()]));
        assert_eq!(s.revoke_api_key(&id, at(9), &audit).await.ok(), Some(true));
        assert_eq!(s.revoke_api_key(&id, at(10), &audit).await.ok(), Some(false));
        assert_eq!(s.api_key(&id).await.ok().flatten().and_then(|k| k.revoked_at), Some(at(9)), "{}", db.kind);
    }
}

/// A rotation inserts the new key and sets the old key's end in one step,
/// once: a second rotation of the same key, or one of a revoked or expired
/// key, changes nothing. An earlier expiry of the old key is kept. A use is
/// recorded only forward in time.
#[tokio::test]
async fn an_api_key_is_rotated_once_and_its_last_use_only_moves_forward() {
    let rng = SeededRandom::new(33);
    for db in databases().await {
        let s = &db.store;
        let audit = AuditEntry::new("cli", "apikey.rotate", "administration", at(1));
        let key = |replaces: Option<&ApiKeyId>, expires_at: Option<jiff::Timestamp>| ApiKeyRow {
            id: ApiKeyId::from_random(rng.bytes16()),
            name: "host app".into(),
            secret_hash: "cd".repeat(32),
            scopes: vec!["users:read".into()],
            created_at: at(2),
            revoked_at: None,
            expires_at,
            last_used_at: None,
            replaces: replaces.cloned(),
        };
        let old = key(None, None);
        s.insert_api_key(&old, &audit).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        let new = key(Some(&old.id), Some(at(400)));
        assert_eq!(s.rotate_api_key(&new, at(50), &audit).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(s.api_key(&new.id).await.ok().flatten(), Some(new.clone()), "{}", db.kind);
        assert_eq!(s.api_key(&old.id).await.ok().flatten().and_then(|k| k.expires_at), Some(at(50)), "{}", db.kind);
        let rival = key(Some(&old.id), None);
        assert_eq!(s.rotate_api_key(&rival, at(60), &audit).await.ok(), Some(false), "{}: rotated twice", db.kind);
        assert_eq!(s.api_key(&rival.id).await.ok().flatten(), None, "{}", db.kind);
        assert_eq!(s.api_key(&old.id).await.ok().flatten().and_then(|k| k.expires_at), Some(at(50)), "{}", db.kind);

        // The new key expires at 400: rotating it with a longer overlap keeps 400.
        let third = key(Some(&new.id), None);
        assert_eq!(s.rotate_api_key(&third, at(900), &audit).await.ok(), Some(true), "{}", db.kind);
        assert_eq!(s.api_key(&new.id).await.ok().flatten().and_then(|k| k.expires_at), Some(at(400)), "{}", db.kind);

        // A revoked key is not rotated.
        assert_eq!(s.revoke_api_key(&third.id, at(3), &audit).await.ok(), Some(true));
        let fourth = key(Some(&third.id), None);
        assert_eq!(s.rotate_api_key(&fourth, at(100), &audit).await.ok(), Some(false), "{}: revoked", db.kind);

        assert!(s.touch_api_key(&new.id, at(20)).await.is_ok());
        assert!(s.touch_api_key(&new.id, at(10)).await.is_ok());
        assert_eq!(s.api_key(&new.id).await.ok().flatten().and_then(|k| k.last_used_at), Some(at(20)), "{}", db.kind);
    }
}

/// Keys read at the same moment share a statement (ADR 0023): each read
/// still gets its own key, an unknown id none, and a revocation committed
/// before a read is seen by it.
#[tokio::test]
async fn api_keys_read_at_once_each_get_their_own() {
    let rng = SeededRandom::new(32);
    for db in databases().await {
        let s = &db.store;
        let audit = AuditEntry::new("cli", "apikey.create", "administration", at(1));
        let mut rows = Vec::new();
        for i in 0..40 {
            let row = ApiKeyRow {
                id: ApiKeyId::from_random(rng.bytes16()),
                name: format!("terminal {i}"),
                secret_hash: format!("{i:02}").repeat(32),
                scopes: vec!["medical:settle".into()],
                created_at: at(1),
                revoked_at: None,
                expires_at: None,
                last_used_at: None,
                replaces: None,
            };
            s.insert_api_key(&row, &audit).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
            rows.push(row);
        }
        let unknown: Vec<ApiKeyId> = (0..100).map(|_| ApiKeyId::from_random(rng.bytes16())).collect();
        let asks: Vec<(ApiKeyId, Option<ApiKeyRow>)> = (0..100)
            .map(|i| match rows.get(i % 50) {
                Some(row) => (row.id.clone(), Some(row.clone())),
                None => (unknown[i].clone(), None),
            })
            .collect();
        let answers = futures::future::join_all(asks.iter().map(|(id, _)| s.api_key(id))).await;
        for ((id, want), got) in asks.iter().zip(answers) {
            assert_eq!(got.as_ref().ok(), Some(want), "{}: key {id}", db.kind);
        }
        assert_eq!(s.revoke_api_key(&rows[7].id, at(9), &audit).await.ok(), Some(true));
        let again = futures::future::join_all(rows.iter().map(|r| s.api_key(&r.id))).await;
        let revoked: Vec<bool> = again.iter().map(|a| matches!(a, Ok(Some(k)) if k.revoked_at.is_some())).collect();
        assert_eq!(revoked.iter().filter(|r| **r).count(), 1, "{}", db.kind);
        assert!(revoked[7], "{}: the revocation is seen by the next read", db.kind);
    }
}
