use crate::{at, databases};
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::keys::KeyStore;
use idlink_core::ports::users::{UserRow, UserStore};
use idlink_crypto::{Algorithm, DataKey, MasterKey, MasterKeyring, Random, SeededRandom};
use idlink_domain::UserId;

fn entry(action: &str, user: &UserId) -> AuditEntry {
    AuditEntry::new("test", action, "conformance", at(1)).subject(user)
}

#[tokio::test]
async fn users_are_stored_found_by_index_and_shredded() {
    let rng = SeededRandom::new(11);
    let ring = MasterKeyring::new(vec![MasterKey::generate("mk-1", &rng)], "mk-1", Algorithm::Aes256Gcm).unwrap_or_else(|e| panic!("{e}"));
    for db in databases().await {
        let s = &db.store;
        let id = UserId::from_random(rng.bytes16());
        let dek = DataKey::generate(format!("dek-{id}"), &rng);
        let cipher = dek.seal(Algorithm::Aes256Gcm, "users.phone", b"13812341234", &rng).unwrap_or_default();
        let row = UserRow { id: id.clone(), phone_cipher: cipher.clone(), phone_index: format!("idx-{id}"), created_at: at(5) };
        let wrapped = ring.wrap(&dek, &rng).unwrap_or_else(|e| panic!("{e}"));
        s.insert_user(&row, &wrapped, &entry("user.create", &id)).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));

        let (got, key) =
            s.read_user(&id, &entry("user.read", &id)).await.ok().flatten().unwrap_or_else(|| panic!("{}: user missing", db.kind));
        assert_eq!(got, row, "{}", db.kind);
        assert_eq!(key.as_ref(), Some(&wrapped), "{}", db.kind);
        assert_eq!(s.find_user_by_phone_index(&row.phone_index).await.ok().flatten(), Some(id.clone()));

        // A second user with the same phone index is refused by the unique rule.
        let other = UserId::from_random(rng.bytes16());
        let dup = UserRow { id: other.clone(), ..row.clone() };
        let wrapped2 = ring.wrap(&DataKey::generate(format!("dek-{other}"), &rng), &rng).unwrap_or_else(|e| panic!("{e}"));
        let err = s.insert_user(&dup, &wrapped2, &entry("user.create", &other)).await;
        assert!(matches!(err, Err(StoreError::Unique(_))), "{}: {err:?}", db.kind);
        // ...and that failed transaction left neither its key nor its audit record.
        assert_eq!(s.wrapped_key(&format!("dek-{other}")).await.ok().flatten(), None);
        let mine = s.audit_records_of_user(&other, 10).await.unwrap_or_default();
        assert!(mine.is_empty(), "{}: rolled-back audit record survived", db.kind);

        // Shredding removes the key: the row remains, its data cannot be decrypted.
        assert_eq!(
            s.shred_user_key(&id, &crate::events::lifecycle(&id, "evt_shred1", 0), &entry("user.shred", &id)).await.ok(),
            Some(true)
        );
        assert_eq!(
            s.shred_user_key(&id, &crate::events::lifecycle(&id, "evt_shred2", 0), &entry("user.shred", &id)).await.ok(),
            Some(false)
        );
        let (_, key) = s.read_user(&id, &entry("user.read", &id)).await.ok().flatten().unwrap_or_else(|| panic!("row kept"));
        assert_eq!(key, None, "{}", db.kind);

        let actions: Vec<String> = s.audit_records_of_user(&id, 10).await.unwrap_or_default().into_iter().map(|r| r.entry.action).collect();
        assert_eq!(actions, ["user.read", "user.shred", "user.read", "user.create"], "{}", db.kind);
    }
}
