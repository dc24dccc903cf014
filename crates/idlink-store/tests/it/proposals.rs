//! Dual-control proposals, operators on duty and escalated SLA breaches
//! (issue 13, ADR 0015), on both databases: of two nodes approving one
//! proposal at once exactly one wins, the proposer and an expired window
//! are refused by the store itself, a freeze lift commits with its
//! approval, and a breach is escalated (its outbox event written) once.

use crate::security::new_user;
use crate::{at, databases};
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::freezes::FreezeStore;
use idlink_core::ports::operators::{OperatorRow, OperatorStore, Role};
use idlink_core::ports::outbox::NewEvent;
use idlink_core::ports::proposals::{ApprovalEffect, ProposalAction, ProposalDecision, ProposalRow, ProposalStatus, ProposalStore};
use idlink_core::ports::reviews::{CaseKind, CaseRow, CaseStatus, Decision, ReviewStore};
use idlink_domain::{CaseId, EventId, OperatorId, ProposalId};
use idlink_store::SqlStore;
use idlink_store::testing;

fn audit(action: &str, t: i64) -> AuditEntry {
    AuditEntry::new("test", action, "dual control", at(t))
}

async fn new_operator(s: &SqlStore, name: &str) -> OperatorId {
    let id = OperatorId::parse(&format!("op_{name}")).unwrap_or_else(|e| panic!("{e}"));
    let row = OperatorRow {
        id: id.clone(),
        username: name.to_owned(),
        password_hash: "h".into(),
        totp_cipher: vec![1],
        roles: vec![Role::Admin],
        created_at: at(0),
        on_duty: false,
        phone_cipher: None,
        failed_sign_ins: 0,
        locked_until: None,
    };
    s.insert_operator(&row, &audit("operator.create", 0)).await.unwrap_or_else(|e| panic!("{e}"));
    id
}

fn proposal(id: &str, by: &OperatorId, action: ProposalAction, params: &str) -> ProposalRow {
    ProposalRow {
        id: ProposalId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        action,
        params: params.to_owned(),
        proposed_by: by.clone(),
        created_at: at(100),
        expires_at: at(100 + 3600),
        status: ProposalStatus::Pending,
        decided_by: None,
        decided_at: None,
        note: "why".into(),
        result: None,
    }
}

#[tokio::test]
async fn one_of_two_concurrent_approvals_wins_and_the_proposer_and_late_ones_are_refused() {
    for db in databases().await {
        let s = &db.store;
        let other = testing::attach(&db.url).await.unwrap_or_else(|e| panic!("{e}"));
        let (alice, bob, carol) = (new_operator(s, "alice").await, new_operator(s, "bob").await, new_operator(s, "carol").await);
        let p = proposal("prp_rotate", &alice, ProposalAction::RotateMasterKey, "{}");
        s.insert_proposal(&p, &audit("dual.propose", 100)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.proposals(ProposalStatus::Pending, 10).await.map(|v| v.len()).ok(), Some(1), "{}", db.kind);

        let approve = async |store: &SqlStore, who: &OperatorId, t: i64| {
            store
                .decide_proposal(
                    &p.id,
                    &ProposalDecision { decider: who, status: ProposalStatus::Approved, note: "ok", at: at(t) },
                    ApprovalEffect::None,
                    &audit("dual.approve", t),
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(!approve(s, &alice, 200).await, "{}: the proposer cannot approve", db.kind);
        assert!(!approve(s, &bob, 100 + 3600).await, "{}: not at the expiry instant", db.kind);
        let (b, c) = tokio::join!(approve(s, &bob, 200), approve(&other, &carol, 200));
        assert!(b ^ c, "{}: exactly one approval wins (bob {b}, carol {c})", db.kind);
        let got = s.proposal(&p.id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("stored"));
        assert_eq!(got.status, ProposalStatus::Approved);
        assert_eq!(got.decided_by.as_ref(), Some(if b { &bob } else { &carol }), "{}", db.kind);
        assert_eq!(got.note, "why / ok");
        assert!(!approve(s, &bob, 201).await, "{}: decided once", db.kind);

        s.finish_proposal(&p.id, ProposalStatus::Approved, r#"{"key_id":"mk-1"}"#, &audit("keys.rotate", 202))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let done = s.proposal(&p.id).await.ok().flatten().unwrap_or_else(|| panic!("stored"));
        assert_eq!(done.result.as_deref(), Some(r#"{"key_id":"mk-1"}"#));
        assert_eq!(s.proposals(ProposalStatus::Approved, 10).await.map(|v| v.len()).ok(), Some(1));

        // A rejection needs no open window, and the proposer may withdraw.
        let q = proposal("prp_withdrawn", &alice, ProposalAction::RotateMasterKey, "{}");
        s.insert_proposal(&q, &audit("dual.propose", 100)).await.unwrap_or_else(|e| panic!("{e}"));
        let rejected = s
            .decide_proposal(
                &q.id,
                &ProposalDecision { decider: &alice, status: ProposalStatus::Rejected, note: "withdrawn", at: at(9999) },
                ApprovalEffect::None,
                &audit("dual.reject", 9999),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(rejected, "{}", db.kind);
        let got = s.proposal(&q.id).await.ok().flatten().unwrap_or_else(|| panic!("stored"));
        assert_eq!((got.status, got.decided_by), (ProposalStatus::Rejected, Some(alice.clone())));
    }
}

#[tokio::test]
async fn a_freeze_lift_commits_with_its_approval_and_both_decisions() {
    for db in databases().await {
        let s = &db.store;
        let user = new_user(s).await;
        let (alice, bob) = (new_operator(s, "alice").await, new_operator(s, "bob").await);
        let ids = idlink_crypto::SeededRandom::new(7);
        let case = CaseRow::open(&ids, CaseKind::RiskFreeze, &user, user.as_str(), 2, jiff::SignedDuration::from_mins(5), at(0));
        assert!(
            s.freeze(&user, "burst", &case, &crate::events::lifecycle(&user, "evt_frz", 0), &audit("account.freeze", 0))
                .await
                .unwrap_or(false)
        );
        let p = proposal("prp_lift", &alice, ProposalAction::LiftFreeze, &format!(r#"{{"case_id":"{}"}}"#, case.id));
        s.insert_proposal(&p, &audit("dual.propose", 100)).await.unwrap_or_else(|e| panic!("{e}"));
        let decisions = [
            Decision { step: 1, operator_id: alice.clone(), approve: true, note: "why".into(), at: at(100) },
            Decision { step: 2, operator_id: bob.clone(), approve: true, note: "ok".into(), at: at(200) },
        ];
        let effect = ApprovalEffect::ApproveCase {
            case: &case,
            decisions: &decisions,
            lifted: Some(&crate::events::lifecycle(&user, "evt_lift", 200)),
        };
        let won = s
            .decide_proposal(
                &p.id,
                &ProposalDecision { decider: &bob, status: ProposalStatus::Approved, note: "ok", at: at(200) },
                effect,
                &audit("dual.approve", 200),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(won, "{}", db.kind);
        assert!(s.active_freeze(&user).await.unwrap_or_else(|e| panic!("{e}")).is_none(), "{}: lifted", db.kind);
        let closed = s.case(&case.id).await.ok().flatten().unwrap_or_else(|| panic!("case"));
        assert_eq!(closed.status, CaseStatus::Approved);
        let who: Vec<_> = closed.decisions.iter().map(|d| d.operator_id.clone()).collect();
        assert_eq!(who, [alice.clone(), bob.clone()], "{}", db.kind);

        // A second lift of the closed case rolls back its proposal's approval.
        let q = proposal("prp_lift_again", &alice, ProposalAction::LiftFreeze, &format!(r#"{{"case_id":"{}"}}"#, case.id));
        s.insert_proposal(&q, &audit("dual.propose", 300)).await.unwrap_or_else(|e| panic!("{e}"));
        let effect = ApprovalEffect::ApproveCase { case: &closed, decisions: &[], lifted: None };
        let again = s
            .decide_proposal(
                &q.id,
                &ProposalDecision { decider: &bob, status: ProposalStatus::Approved, note: "ok", at: at(400) },
                effect,
                &audit("dual.approve", 400),
            )
            .await;
        assert!(again.is_err(), "{}: {again:?}", db.kind);
        let got = s.proposal(&q.id).await.ok().flatten().unwrap_or_else(|| panic!("stored"));
        assert_eq!(got.status, ProposalStatus::Pending, "{}: rolled back with the case", db.kind);
    }
}

#[tokio::test]
async fn a_breach_is_escalated_once_and_operators_go_on_duty() {
    for db in databases().await {
        let s = &db.store;
        let user = new_user(s).await;
        let alice = new_operator(s, "alice").await;
        assert!(s.set_on_duty(&alice, true, Some(&[9, 9]), &audit("operator.duty", 1)).await.unwrap_or(false));
        assert!(s.set_on_duty(&alice, true, None, &audit("operator.duty", 2)).await.unwrap_or(false), "the phone is kept");
        let unknown = OperatorId::parse("op_nobody").unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.set_on_duty(&unknown, true, None, &audit("operator.duty", 2)).await.unwrap_or(true));
        let ops = s.operators().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ops[0].on_duty, ops[0].phone_cipher.clone()), (true, Some(vec![9, 9])), "{}", db.kind);

        for (id, due) in [("case_late", 10), ("case_later", 20), ("case_in_time", 1000)] {
            let sql = format!(
                "INSERT INTO review_cases (id, kind, subject, reference, status, steps_required, created_at, sla_due_at) \
                 VALUES ('{id}', 'verification', '{user}', 'ref', 'open', 2, 0, {})",
                idlink_store_micros(due)
            );
            testing::execute(s, &sql).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        }
        let breached = s.breached_cases(at(500), 10).await.unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = breached.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["case_late", "case_later"], "{}: most overdue first", db.kind);

        let case = CaseId::parse("case_late").unwrap_or_else(|e| panic!("{e}"));
        let event = |n: &str| NewEvent {
            id: EventId::parse(n).unwrap_or_else(|e| panic!("{e}")),
            kind: "review.sla_breached".into(),
            subject: None,
            payload: vec![1],
            at: at(500),
        };
        assert!(s.escalate_case(&case, at(500), &event("evt_page1"), &audit("review.escalate", 500)).await.unwrap_or(false));
        assert!(!s.escalate_case(&case, at(501), &event("evt_page2"), &audit("review.escalate", 501)).await.unwrap_or(true));
        let count = testing::query_text(s, "SELECT COUNT(*) FROM outbox WHERE kind = 'review.sla_breached'").await;
        assert_eq!(count.as_deref(), Ok("1"), "{}: one event per case", db.kind);
        let late = s.breached_cases(at(600), 10).await.unwrap_or_default();
        assert_eq!(late[0].escalated_at, Some(at(500)));
        assert_eq!(late[1].escalated_at, None);
    }
}

/// Instants as the store keeps them (microseconds), for raw inserts.
fn idlink_store_micros(second: i64) -> i64 {
    at(second).as_microsecond()
}
