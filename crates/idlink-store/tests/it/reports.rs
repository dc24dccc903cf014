//! The compliance reads on both databases: the query log of a period in
//! keyset pages, filed reports kept as first filed, the audit explorer's
//! filters and paging, and the oldest record of each kept kind.

use crate::{at, databases};
use idlink_core::ports::audit::{AuditEntry, AuditStore, Outcome};
use idlink_core::ports::balance::{BalanceStore, QueryRecord};
use idlink_core::ports::reports::{AuditFilter, ComplianceStore, ReportFile};
use idlink_domain::{BindingId, QueryId, UserId};

pub(crate) fn record(id: &str, second: i64, outcome: &str) -> QueryRecord {
    QueryRecord {
        id: QueryId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        binding_id: BindingId::parse("bnd_1").unwrap_or_else(|e| panic!("{e}")),
        bank: "ICBC".into(),
        channel: "direct".into(),
        precision: "yuan".into(),
        actor: "user:usr_x".into(),
        at: at(second),
        outcome: outcome.into(),
        reason: (outcome == "refused").then(|| "step_up_required".to_owned()),
    }
}

#[tokio::test]
async fn the_query_log_of_a_period_is_read_in_keyset_pages() {
    for db in databases().await {
        let user = crate::security::new_user(&db.store).await;
        let other = crate::security::new_user(&db.store).await;
        // Two queries at the same instant, one on each side of the period, one at its very start.
        for (id, second, u) in [("bq_b", 10, &user), ("bq_a", 10, &other), ("bq_c", 5, &user), ("bq_d", 20, &user), ("bq_e", 30, &other)] {
            let audit = AuditEntry::new("user:x", "balance.query", "test", at(second));
            db.store
                .record_query(u, &record(id, second, if id == "bq_d" { "refused" } else { "disclosed" }), &audit)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let (from, until) = (at(5), at(30));
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = db.store.query_log(from, until, after.clone(), 2).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
            let Some(last) = page.last() else { break };
            after = Some((last.at, last.id.clone()));
            seen.extend(page);
        }
        let ids: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["bq_c", "bq_a", "bq_b", "bq_d"], "{}: start inclusive, end exclusive, (at, id) order", db.kind);
        let d = &seen[3];
        assert_eq!((d.user_id.as_str(), d.outcome.as_str(), d.reason.as_deref()), (user.as_str(), "refused", Some("step_up_required")));
        assert_eq!(seen[1].user_id, other.to_string());
        db.dispose().await.ok();
    }
}

#[tokio::test]
async fn a_filed_report_stays_as_first_filed() {
    for db in databases().await {
        assert!(db.store.filed_report("2026Q3").await.unwrap_or_else(|e| panic!("{e}")).is_empty());
        let files = |tag: u8| {
            vec![
                ReportFile { name: "manifest.json".into(), content: vec![b'{', tag, b'}'] },
                ReportFile { name: "manifest.sig".into(), content: vec![0, 255, tag] },
            ]
        };
        let head = db.store.audit_head().await.map(|h| h.0).unwrap_or(0);
        let audit = AuditEntry::new("operator:op_1", "report.quarterly.file", "test", at(1));
        db.store.file_report("2026Q3", &files(1), at(1), &audit).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        db.store.file_report("2026Q3", &files(2), at(2), &audit).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        let got = db.store.filed_report("2026Q3").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, files(1), "{}: binary content kept, the second filing wrote nothing", db.kind);
        assert_eq!(db.store.audit_head().await.map(|h| h.0).unwrap_or(0), head + 1, "{}: one filing audited", db.kind);
        assert!(db.store.filed_report("2026Q4").await.unwrap_or_default().is_empty());
        db.dispose().await.ok();
    }
}

#[tokio::test]
async fn the_audit_explorer_filters_newest_first_in_keyset_pages() {
    for db in databases().await {
        let base = db.store.audit_head().await.map(|h| h.0).unwrap_or(0);
        let subject = UserId::parse("usr_subject").unwrap_or_else(|e| panic!("{e}"));
        for i in 0..7i64 {
            let mut e = AuditEntry::new(if i % 2 == 0 { "operator:op_a" } else { "system" }, "user.read", "test", at(100 + i));
            if i < 5 {
                e = e.subject(&subject);
            }
            if i == 3 {
                e = e.outcome(Outcome::Denied);
                e.action = "user.shred".into();
            }
            db.store.append_audit(&e).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let search = |f: AuditFilter| {
            let s = db.store.clone();
            async move {
                s.search_audit(&AuditFilter { limit: if f.limit == 0 { 100 } else { f.limit }, ..f })
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        };
        let seqs = |r: &[idlink_core::ports::audit::AuditRecord]| r.iter().map(|r| r.seq - base).collect::<Vec<_>>();
        let mine = search(AuditFilter { subject: Some(subject.to_string()), ..Default::default() }).await;
        assert_eq!(seqs(&mine), [5, 4, 3, 2, 1], "{}", db.kind);
        assert_eq!(mine[0].prev_hash, mine[1].hash, "{}: each record with its hash and the previous one", db.kind);
        let by_actor = search(AuditFilter { actor: Some("system".into()), ..Default::default() }).await;
        assert_eq!(seqs(&by_actor), [6, 4, 2], "{}", db.kind);
        let denied = search(AuditFilter { outcome: Some("denied".into()), action: Some("user.shred".into()), ..Default::default() }).await;
        assert_eq!(seqs(&denied), [4], "{}", db.kind);
        let window = search(AuditFilter { from: Some(at(102)), until: Some(at(105)), ..Default::default() }).await;
        assert_eq!(seqs(&window), [5, 4, 3], "{}: from inclusive, until exclusive", db.kind);
        let page1 = search(AuditFilter { subject: Some(subject.to_string()), limit: 2, ..Default::default() }).await;
        let page2 =
            search(AuditFilter { subject: Some(subject.to_string()), limit: 2, before: page1.last().map(|r| r.seq), ..Default::default() })
                .await;
        assert_eq!((seqs(&page1), seqs(&page2)), (vec![5, 4], vec![3, 2]), "{}", db.kind);
        db.dispose().await.ok();
    }
}

#[tokio::test]
async fn the_oldest_record_of_each_kept_kind_is_found() {
    for db in databases().await {
        let none =
            idlink_core::ports::retention::RetentionStore::oldest_kept(&db.store).await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        assert_eq!((none.query_log, none.sign_ins), (None, None), "{}", db.kind);
        let user = crate::security::new_user(&db.store).await;
        for (id, second) in [("bq_2", 50), ("bq_1", 40)] {
            db.store
                .record_query(&user, &record(id, second, "disclosed"), &AuditEntry::new("user:x", "balance.query", "test", at(second)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let oldest = idlink_core::ports::retention::RetentionStore::oldest_kept(&db.store).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(oldest.query_log, Some(at(40)), "{}", db.kind);
        assert_eq!(oldest.audit_log, Some(at(0)), "{}: the user's creation record", db.kind);
        db.dispose().await.ok();
    }
}
