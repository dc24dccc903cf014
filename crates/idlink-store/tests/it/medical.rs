//! Medical-payment code uses on both databases (SPEC SS3, issue 16): the
//! terminals' checks read together each get their own binding and whether
//! their code was spent, a code is spent once, reconciliation reads exactly
//! the unfinished uses, page by page, and a decided use never moves again.

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::apikeys::{ApiKeyRow, ApiKeyStore};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::ss_bindings::{CodeUse, IssuedCodeRecord, MedicalCodeStore, SsBindingRow, SsBindingStore};
use idlink_domain::ss_binding::{Status, Step};
use idlink_domain::{ApiKeyId, UserId};

fn binding(id: &str, user: &UserId, status: Status, features: &str) -> SsBindingRow {
    SsBindingRow {
        id: id.to_owned(),
        user_id: user.clone(),
        region: "110000".into(),
        step: Step::Features,
        status,
        step_deadline: at(900),
        expires_at: at(3600),
        identity_method: Some("face".into()),
        face_failures: 0,
        card_code_ref: None,
        card_cipher: None,
        card_index: None,
        bank_code_ref: None,
        agreement_version: None,
        agreement_sha256: None,
        features: Some(features.to_owned()),
        risk_reason: None,
        risk_cleared: None,
        agent_user_id: None,
        agent_role: None,
        agent_ended_at: None,
        channel: None,
        version: 1,
        created_at: at(0),
        updated_at: at(0),
        bound_at: None,
    }
}

fn spent(jti: &str, binding: &str, user: &UserId, second: i64) -> CodeUse {
    CodeUse {
        jti: jti.to_owned(),
        binding_id: binding.to_owned(),
        user_id: user.clone(),
        terminal_id: "till-1".into(),
        actor: "apikey:t".into(),
        amount_fen: 1_000,
        status: "settling".into(),
        settlement_id: None,
        medical_account_fen: None,
        pooled_fund_fen: None,
        used_at: at(second),
        settled_at: None,
    }
}

fn audit(user: &UserId, action: &str) -> AuditEntry {
    AuditEntry::new("test", action, "medical-insurance payment", at(0)).subject(user)
}

#[tokio::test]
async fn checks_read_together_each_get_their_own_and_reconciliation_reads_the_unfinished() {
    for db in databases().await {
        let s = &db.store;
        let (alice, bob) = (new_user(s).await, new_user(s).await);
        let bound = format!("ssb_{}", "a".repeat(32));
        let unbound = format!("ssb_{}", "b".repeat(32));
        for (id, user, status) in [(&bound, &alice, Status::Bound), (&unbound, &bob, Status::Unbound)] {
            let row = binding(id, user, status, "medical_payment,pension_query");
            assert!(s.insert_ss_binding(&row, None, None, &[audit(user, "ss_binding.entry")]).await.unwrap_or_else(|e| panic!("{e}")));
        }
        // Spent once: the second presentation gets the first use back, nothing written.
        for (i, jti) in ["j-01", "j-02", "j-03", "j-04"].iter().enumerate() {
            let first = s.spend_medical_code(&spent(jti, &bound, &alice, 10 * i as i64), &audit(&alice, "medical_code.used")).await;
            assert_eq!(first.ok(), Some(None), "{}: {jti} spent", db.kind);
        }
        let again = s.spend_medical_code(&spent("j-01", &bound, &alice, 99), &audit(&alice, "medical_code.used")).await;
        assert_eq!(again.ok().flatten().map(|u| u.used_at), Some(at(0)), "{}: the first use", db.kind);

        // Checks read at once: each its binding's figures and whether its own code was spent; an unknown binding has none.
        let asks: Vec<(String, String)> = (0..48)
            .map(|i| match i % 4 {
                0 => (bound.clone(), "j-01".to_owned()),
                1 => (bound.clone(), format!("unused-{i}")),
                2 => (unbound.clone(), "j-02".to_owned()),
                _ => (format!("ssb_{}", "c".repeat(32)), "j-03".to_owned()),
            })
            .collect();
        let nobody = ApiKeyId::from_random([5; 16]);
        let answers = futures::future::join_all(asks.iter().map(|(b, j)| s.binding_for_code(b, j, &nobody))).await;
        for (i, answer) in answers.into_iter().enumerate() {
            let got = answer.unwrap_or_else(|e| panic!("{}: {e}", db.kind)).0.map(|c| (c.status, c.used, c.region));
            let want = match i % 4 {
                0 => Some((Status::Bound, true, "110000".to_owned())),
                1 => Some((Status::Bound, false, "110000".to_owned())),
                2 => Some((Status::Unbound, true, "110000".to_owned())),
                _ => None,
            };
            assert_eq!(got, want, "{}: ask {i}", db.kind);
        }

        // A terminal's check reads its key in the same statement (ADR 0034): each ask its own key, or none when
        // the key is unknown; the binding as without a key, a binding that matches nothing still reads the key.
        let terminal = ApiKeyRow {
            id: ApiKeyId::from_random([3; 16]),
            name: "till".into(),
            secret_hash: "ab".repeat(32),
            scopes: vec!["medical:settle".into()],
            created_at: at(0),
            revoked_at: None,
            expires_at: None,
            last_used_at: None,
            replaces: None,
        };
        s.insert_api_key(&terminal, &AuditEntry::new("test", "apikey.create", "test", at(0))).await.unwrap_or_else(|e| panic!("{e}"));
        let unknown_key = ApiKeyId::from_random([4; 16]);
        let asks: Vec<(String, String, &ApiKeyId)> = (0..24)
            .map(|i| match i % 3 {
                0 => (bound.clone(), "j-01".to_owned(), &terminal.id),
                1 => (bound.clone(), format!("unused-{i}"), &unknown_key),
                _ => (String::new(), String::new(), &terminal.id),
            })
            .collect();
        let answers = futures::future::join_all(asks.iter().map(|(b, j, k)| s.binding_for_code(b, j, k))).await;
        for (i, answer) in answers.into_iter().enumerate() {
            let (binding, key) = answer.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
            let got = (binding.map(|c| (c.status, c.used)), key.map(|k| (k.id, k.scopes)));
            let mine = Some((terminal.id.clone(), terminal.scopes.clone()));
            let want = match i % 3 {
                0 => (Some((Status::Bound, true)), mine),
                1 => (Some((Status::Bound, false)), None),
                _ => (None, mine),
            };
            assert_eq!(got, want, "{}: ask {i}", db.kind);
        }

        // Reconciliation: the settling ones spent before the cut, oldest first (ties by jti), page by page.
        let tie = s.spend_medical_code(&spent("j-00", &bound, &alice, 20), &audit(&alice, "medical_code.used")).await;
        assert_eq!(tie.ok(), Some(None), "{}: j-00 spent with j-03's time", db.kind);
        let mut voided = spent("j-02", &bound, &alice, 10);
        voided.status = "voided".into();
        assert_eq!(s.settle_medical_code(&voided, &audit(&alice, "medical_code.voided")).await.ok(), Some(true));
        let mut settled = spent("j-04", &bound, &alice, 30);
        settled.status = "settled".into();
        settled.settlement_id = Some("sst-1".into());
        assert_eq!(s.settle_medical_code(&settled, &audit(&alice, "medical_code.settled")).await.ok(), Some(true));
        let jtis = |uses: Vec<CodeUse>| uses.into_iter().map(|u| u.jti).collect::<Vec<_>>();
        let all = s.unfinished_code_uses(at(25), None, 10).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jtis(all), ["j-01", "j-00", "j-03"], "{}: j-02 voided, j-04 settled", db.kind);
        assert_eq!(jtis(s.unfinished_code_uses(at(20), None, 10).await.unwrap_or_default()), ["j-01"], "{}: the cut", db.kind);
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = s.unfinished_code_uses(at(25), after.as_ref(), 1).await.unwrap_or_else(|e| panic!("{e}"));
            let Some(last) = page.last() else { break };
            after = Some((last.used_at, last.jti.clone()));
            pages.extend(jtis(page));
        }
        assert_eq!(pages, ["j-01", "j-00", "j-03"], "{}: one at a time, the tie on used_at kept apart by jti", db.kind);

        // A decided use does not move again.
        let mut over = voided.clone();
        over.status = "settled".into();
        over.settlement_id = Some("sst-late".into());
        assert_eq!(s.settle_medical_code(&over, &audit(&alice, "medical_code.settled")).await.ok(), Some(false), "{}", db.kind);
        let mut back = settled.clone();
        back.status = "voided".into();
        assert_eq!(s.settle_medical_code(&back, &audit(&alice, "medical_code.voided")).await.ok(), Some(false), "{}", db.kind);
        assert_eq!(s.medical_code_use("j-02").await.ok().flatten().map(|u| u.status), Some("voided".to_owned()));
        assert_eq!(s.medical_code_use("j-04").await.ok().flatten().map(|u| u.status), Some("settled".to_owned()));
    }
}

/// An issued code's digest is read with its binding, only for that binding's `jti`, and forgotten once expired.
#[tokio::test]
async fn an_issued_code_is_read_with_its_binding_and_purged_after_it_expired() {
    for db in databases().await {
        let s = &db.store;
        let alice = new_user(s).await;
        let bound = format!("ssb_{}", "d".repeat(32));
        let row = binding(&bound, &alice, Status::Bound, "medical_payment");
        assert!(s.insert_ss_binding(&row, None, None, &[audit(&alice, "ss_binding.entry")]).await.unwrap_or_else(|e| panic!("{e}")));
        for (jti, digest, expires) in [("i-01", [1u8; 32], 60), ("i-02", [2u8; 32], 120)] {
            let record = IssuedCodeRecord { jti: jti.into(), binding_id: bound.clone(), digest: digest.to_vec(), expires_at: at(expires) };
            s.record_issued_code(&record).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        }
        let nobody = ApiKeyId::from_random([5; 16]);
        let digest = async |b: &str, jti: &str| {
            s.binding_for_code(b, jti, &nobody).await.unwrap_or_else(|e| panic!("{e}")).0.and_then(|c| c.issued_digest)
        };
        assert_eq!(digest(&bound, "i-01").await, Some(vec![1u8; 32]), "{}", db.kind);
        assert_eq!(digest(&bound, "i-03").await, None, "{}: never issued", db.kind);
        let other = format!("ssb_{}", "e".repeat(32));
        let bob = new_user(s).await;
        assert!(
            s.insert_ss_binding(&binding(&other, &bob, Status::Bound, "medical_payment"), None, None, &[audit(&bob, "e")])
                .await
                .unwrap_or(false)
        );
        assert_eq!(digest(&other, "i-01").await, None, "{}: issued for another binding", db.kind);
        assert_eq!(s.purge_issued_codes(at(100)).await.ok(), Some(1), "{}: only the expired one", db.kind);
        assert_eq!((digest(&bound, "i-01").await, digest(&bound, "i-02").await), (None, Some(vec![2u8; 32])), "{}", db.kind);
    }
}
