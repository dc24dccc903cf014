//! Payment-password counting and step-up spending under concurrency, on
//! both databases and across two connection pools (two server nodes).

use crate::{at, databases};
use idlink_core::payment::{self, Attempt, PaymentPasswordPolicy};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::audit::AuditStore;
use idlink_core::ports::clock::ManualClock;
use idlink_core::ports::payment::PaymentPasswordStore;
use idlink_core::ports::stepup::{Binding, StepUpStore};
use idlink_core::ports::users::{UserRow, UserStore};
use idlink_core::stepup::{self, StepUpMethod, StepUpPolicy};
use idlink_crypto::{Algorithm, DataKey, MasterKey, MasterKeyring, OsRandom, Random};
use idlink_domain::UserId;
use idlink_store::{SqlStore, testing};
use std::sync::Arc;

pub(crate) async fn new_user(s: &SqlStore) -> UserId {
    let rng = OsRandom;
    let id = UserId::from_random(rng.bytes16());
    let ring = MasterKeyring::new(vec![MasterKey::generate("mk", &rng)], "mk", Algorithm::Aes256Gcm).unwrap_or_else(|e| panic!("{e}"));
    let row = UserRow { id: id.clone(), phone_cipher: vec![1], phone_index: format!("idx-{id}"), created_at: at(0) };
    let key = ring.wrap(&DataKey::generate(format!("dek-{id}"), &rng), &rng).unwrap_or_else(|e| panic!("{e}"));
    s.insert_user(&row, &key, &AuditEntry::new("test", "user.create", "test", at(0))).await.unwrap_or_else(|e| panic!("{e}"));
    id
}

/// 200 parallel wrong payment passwords over two nodes: exactly 200 failures
/// counted, the lock written once, by the 3rd failure; then even the right
/// password is refused.
#[tokio::test]
async fn two_hundred_parallel_wrong_passwords_count_exactly_and_lock_at_the_third() {
    let policy = PaymentPasswordPolicy { memory_kib: 256, iterations: 1, ..PaymentPasswordPolicy::default() };
    for db in databases().await {
        let node_b = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let user = new_user(&db.store).await;
        let hash = payment::hash(&policy, &OsRandom, "135790").await.unwrap_or_else(|e| panic!("{e}"));
        let set = AuditEntry::new("test", "payment_password.set", "test", at(1)).subject(&user);
        db.store
            .set_payment_password(&user, &hash, at(1), &crate::events::lifecycle(&user, "evt_pay1", 1), &set)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let before = db.store.audit_head().await.map(|h| h.0).unwrap_or(0);

        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = if i % 2 == 0 { db.store.clone() } else { node_b.clone() };
                let (policy, user) = (policy.clone(), user.clone());
                tokio::spawn(async move {
                    let attempt = Attempt { user: &user, actor: "test", request_id: None, at: at(2) };
                    payment::verify(&store, &policy, &OsRandom, &attempt, "000000").await
                })
            })
            .collect();
        for t in tasks {
            assert!(matches!(t.await, Ok(Ok(false))), "{}: a wrong password must be refused", db.kind);
        }
        let row = db.store.payment_password(&user).await.ok().flatten().unwrap_or_else(|| panic!("row"));
        assert_eq!(row.failures, 200, "{}: every failure is counted", db.kind);
        assert!(row.locked_at.is_some());

        let records = db.store.audit_records(before, 1000).await.unwrap_or_default();
        let actions: Vec<&str> = records.iter().map(|r| r.entry.action.as_str()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "payment_password.failed").count(), 200, "{}", db.kind);
        assert_eq!(actions.iter().filter(|a| **a == "payment_password.locked").count(), 1, "{}: one lock", db.kind);
        let lock_at = actions.iter().position(|a| *a == "payment_password.locked").unwrap_or(usize::MAX);
        assert_eq!(
            actions[..lock_at].iter().filter(|a| **a == "payment_password.failed").count(),
            3,
            "{}: locked by the 3rd failure",
            db.kind
        );

        let attempt = Attempt { user: &user, actor: "test", request_id: None, at: at(3) };
        let right = payment::verify(&db.store, &policy, &OsRandom, &attempt, "135790").await;
        assert!(matches!(right, Ok(false)), "{}: locked, the right password is refused too", db.kind);
    }
}

/// 1,000 concurrent redemptions of one step-up token over two nodes: one success.
#[tokio::test]
async fn one_thousand_concurrent_redemptions_of_a_step_up_token_succeed_once() {
    for db in databases().await {
        let node_b = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let user = UserId::from_random(OsRandom.bytes16());
        let clock = Arc::new(ManualClock::new(at(10)));
        let binding = Binding { user: &user, operation: "device.make_primary", resource: "dev_1" };
        let (row, token) =
            stepup::mint(&OsRandom, &OsRandom, clock.as_ref(), &StepUpPolicy::default(), &binding, StepUpMethod::PaymentPassword);
        db.store.insert_step_up(&row, &AuditEntry::new("test", "step_up.mint", "test", at(10))).await.unwrap_or_else(|e| panic!("{e}"));

        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let store = if i % 2 == 0 { db.store.clone() } else { node_b.clone() };
                let (token, user, clock) = (token.clone(), user.clone(), clock.clone());
                tokio::spawn(async move {
                    let b = Binding { user: &user, operation: "device.make_primary", resource: "dev_1" };
                    stepup::spend(&store, clock.as_ref(), &token, &b).await
                })
            })
            .collect();
        let mut successes = 0;
        for t in tasks {
            match t.await {
                Ok(Ok(true)) => successes += 1,
                Ok(Ok(false)) => {}
                other => panic!("{}: {other:?}", db.kind),
            }
        }
        assert_eq!(successes, 1, "{}", db.kind);
    }
}

#[tokio::test]
async fn a_step_up_token_is_bound_to_user_operation_resource_and_time() {
    for db in databases().await {
        let user = UserId::from_random(OsRandom.bytes16());
        let other = UserId::from_random(OsRandom.bytes16());
        let clock = ManualClock::new(at(10));
        let policy = StepUpPolicy::default();
        let binding = Binding { user: &user, operation: "device.make_primary", resource: "dev_1" };
        let (row, token) = stepup::mint(&OsRandom, &OsRandom, &clock, &policy, &binding, StepUpMethod::Biometric);
        db.store.insert_step_up(&row, &AuditEntry::new("test", "step_up.mint", "test", at(10))).await.unwrap_or_else(|e| panic!("{e}"));
        let spend = async |b: Binding<'_>| stepup::spend(&db.store, &clock, &token, &b).await.unwrap_or(true);
        assert!(!spend(Binding { user: &other, ..binding.clone() }).await, "another user");
        assert!(!spend(Binding { operation: "balance.query", ..binding.clone() }).await, "another operation");
        assert!(!spend(Binding { resource: "dev_2", ..binding.clone() }).await, "another resource");
        let forged = format!("{}.{}", token.split('.').next().unwrap_or(""), "0".repeat(64));
        assert!(!stepup::spend(&db.store, &clock, &forged, &binding).await.unwrap_or(true), "wrong secret");
        clock.advance(jiff::SignedDuration::from_secs(121));
        assert!(!spend(binding.clone()).await, "{}: expired after the TTL", db.kind);
        clock.advance(jiff::SignedDuration::from_secs(-2));
        assert!(spend(binding.clone()).await, "{}: valid within the TTL", db.kind);
        assert!(!spend(binding).await, "used once");
    }
}

/// The region-jump signal compares a login's network with the previous login's.
#[tokio::test]
async fn a_login_from_another_network_is_a_region_jump() {
    use idlink_core::ports::auth::{AuthStore, LoginWrite, SessionRow, SessionStatus};
    use idlink_core::steps::risk::Risk;
    for db in databases().await {
        let user = new_user(&db.store).await;
        let clock = ManualClock::new(at(100));
        let session = |id: &str, ip: &str, t: i64| SessionRow {
            id: idlink_domain::SessionId::parse(id).unwrap_or_else(|e| panic!("{e}")),
            user_id: user.clone(),
            device_id: idlink_domain::DeviceId::parse("dev_1").unwrap_or_else(|e| panic!("{e}")),
            client_ip: Some(ip.to_owned()),
            secret_hash: "h".into(),
            status: SessionStatus::Active,
            created_at: at(t),
            expires_at: at(t + 1000),
            revoked_at: None,
        };
        let audit = [AuditEntry::new("test", "session.create", "test", at(0)).subject(&user)];
        let mut signals = Vec::new();
        let ring = MasterKeyring::new(vec![MasterKey::generate("mk-risk", &OsRandom)], "mk-risk", Algorithm::Aes256Gcm)
            .unwrap_or_else(|e| panic!("{e}"));
        let vault = idlink_core::vault::Vault::open(ring, &db.store, Arc::new(OsRandom)).await.unwrap_or_else(|e| panic!("{e}"));
        for (id, ip, t) in [("ses_1", "203.0.113.7", 1), ("ses_2", "203.0.9.9", 2), ("ses_3", "198.51.100.7", 3)] {
            let s = session(id, ip, t);
            db.store
                .write_login(&LoginWrite { new_user: None, new_device: None, session: &s, audit: &audit })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let risk = Risk {
                store: &db.store,
                vault: &vault,
                clock: &clock,
                ids: &OsRandom,
                policy: &Default::default(),
                sla: jiff::SignedDuration::from_mins(5),
            };
            signals.push(risk.login_signals(&s, false, 0).await.unwrap_or_else(|e| panic!("{e}")).region_jump);
        }
        assert_eq!(signals, [false, false, true], "{}: first login, same network, another network", db.kind);
    }
}

/// An abnormal login (SPEC RV1) is kept once per session with its audit
/// record, and read as the latest inside a window, per user.
#[tokio::test]
async fn abnormal_logins_are_kept_once_and_read_within_a_window() {
    use idlink_core::ports::freezes::FreezeStore;
    use idlink_domain::SessionId;
    for db in databases().await {
        let user = new_user(&db.store).await;
        let other = new_user(&db.store).await;
        let session = |n: u8| SessionId::from_random([n; 16]);
        let audit = |t: i64| AuditEntry::new("system:risk", "session.abnormal_login", "step_up: new_device", at(t)).subject(&user);
        let record = async |s: SessionId, t: i64, decision: &str| {
            db.store.record_abnormal_login(&user, &s, decision, &audit(t)).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        };
        assert_eq!(db.store.last_abnormal_login(&user, at(0)).await.ok(), Some(None), "{}: none yet", db.kind);
        record(session(1), 100, "step_up").await;
        record(session(2), 500, "freeze").await;
        record(session(2), 900, "freeze").await;
        assert_eq!(db.store.last_abnormal_login(&user, at(0)).await.ok(), Some(Some(at(500))), "{}: once per session, the latest", db.kind);
        assert_eq!(db.store.last_abnormal_login(&user, at(501)).await.ok(), Some(None), "{}: outside the window", db.kind);
        assert_eq!(db.store.last_abnormal_login(&other, at(0)).await.ok(), Some(None), "{}: per user", db.kind);
        let audited = db.store.audit_records_of_user(&user, 50).await.unwrap_or_default();
        assert_eq!(
            audited.iter().filter(|r| r.entry.action == "session.abnormal_login").count(),
            2,
            "{}: each one audited, the repeat not",
            db.kind
        );
    }
}
