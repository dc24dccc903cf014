//! The hot statements' query plans (the scale benchmark prints them): each
//! is explained on both databases, bound to a real user's rows, and on
//! SQLite, whose planner needs no statistics, each point read goes through
//! an index rather than a scan of the table.

use crate::databases;
use crate::security::new_user;

#[tokio::test]
async fn every_hot_statement_is_explained_and_sqlite_reads_each_through_an_index() {
    for db in databases().await {
        let user = new_user(&db.store).await;
        let plans = db.store.hot_plans().await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        assert_eq!(plans.len(), 7, "{}: {plans:?}", db.kind);
        for p in &plans {
            assert!(!p.lines.is_empty() && p.lines.iter().all(|l| !l.trim().is_empty()), "{}: {} has no plan: {p:?}", db.kind, p.name);
        }
        if db.kind == "sqlite" {
            let login = plans.iter().find(|p| p.name.starts_with("login: the user")).map(|p| p.lines.join(" | ")).unwrap_or_default();
            assert!(login.contains("users_phone_index"), "the login finds the phone by its index: {login}");
            for p in &plans {
                // A full scan reads `SCAN <table>` without an index named after it.
                let scans: Vec<&String> = p.lines.iter().filter(|l| l.starts_with("SCAN ") && !l.contains("INDEX")).collect();
                assert!(scans.is_empty(), "{} for user {user} scans a table: {:?}", p.name, p.lines);
            }
        }
    }
}

/// A SQLite bulk load drops the seeded tables' non-unique secondary
/// indexes and records them; the load's end, or the next migration of the
/// database (a server starting, `idlink migrate`), makes them again. Unique
/// indexes stay and keep refusing duplicates during the load. On
/// PostgreSQL nothing is dropped, and records a move copied there are only
/// cleared.
#[tokio::test]
async fn a_bulk_load_suspends_indexes_and_the_next_migration_rebuilds_them() {
    use idlink_store::testing::{execute, query_strings, query_text};
    for db in databases().await {
        let (a, b) = (new_user(&db.store).await, new_user(&db.store).await);
        let suspended = db.store.suspend_indexes().await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        if db.kind != "sqlite" {
            assert_eq!(suspended, 0, "PostgreSQL keeps its indexes");
            let copied = "INSERT INTO suspended_indexes (name, table_name, definition) VALUES ('audit_log_by_subject', 'audit_log', 'CREATE INDEX x ON nowhere (y)')";
            assert_eq!(execute(&db.store, copied).await, Ok(1));
            assert_eq!(db.store.rebuild_indexes().await.ok(), Some(1), "cleared, the SQLite statement not run");
            assert_eq!(query_text(&db.store, "SELECT COUNT(*) FROM suspended_indexes").await, Ok("0".into()));
            continue;
        }
        let indexes =
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('users', 'audit_log') ORDER BY name";
        assert_eq!(query_strings(&db.store, indexes).await.unwrap_or_default(), ["users_phone_index"], "only the unique one stays");
        let recorded = query_strings(&db.store, "SELECT name FROM suspended_indexes ORDER BY name").await.unwrap_or_default();
        assert_eq!(recorded.len(), suspended);
        assert_eq!(db.store.has_suspended_indexes().await.ok(), Some(true), "a backup or move would refuse this database");
        assert!(suspended >= 7 && recorded.contains(&"audit_log_by_subject".to_owned()), "{recorded:?}");
        assert!(
            recorded.iter().all(|n| !["users_phone_index", "identities_by_id_number", "devices_by_user"].contains(&n.as_str())),
            "{recorded:?}"
        );

        // During the load a duplicate phone is still refused.
        let same = format!("UPDATE users SET phone_index = 'same' WHERE id IN ('{a}', '{b}')");
        assert!(execute(&db.store, &same).await.is_err(), "the unique index refuses a duplicate");

        // Migrated again as a server starting does: every index is back, the record empty, the plans read them.
        let again =
            idlink_store::SqlStore::connect(&db.url, &idlink_store::StoreOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
        again.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        let back = query_strings(&again, indexes).await.unwrap_or_default();
        assert!(back.contains(&"users_phone_index".to_owned()) && back.contains(&"audit_log_by_subject".to_owned()), "{back:?}");
        assert_eq!(query_text(&again, "SELECT COUNT(*) FROM suspended_indexes").await, Ok("0".into()));
        assert_eq!(again.has_suspended_indexes().await.ok(), Some(false));
        let plans = again.hot_plans().await.unwrap_or_else(|e| panic!("{e}"));
        let audit = plans.iter().find(|p| p.name.contains("audit")).map(|p| p.lines.join(" | ")).unwrap_or_default();
        assert!(audit.contains("audit_log_by_subject"), "{audit}");
        again.close().await;
    }
}
