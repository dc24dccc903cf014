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

/// A SQLite bulk load drops the seeded tables' secondary indexes and
/// records them; the load's end, or the next opening of the database by
/// anything else, makes them again. A unique index whose rows stopped being
/// unique during the load is not made: the rebuild says which, and the
/// record stays until the rows are put right.
#[tokio::test]
async fn a_bulk_load_suspends_indexes_and_any_later_opening_rebuilds_them() {
    use idlink_store::testing::{execute, query_strings, query_text};
    for db in databases().await {
        let (a, b) = (new_user(&db.store).await, new_user(&db.store).await);
        let suspended = db.store.suspend_indexes().await.unwrap_or_else(|e| panic!("{}: {e}", db.kind));
        if db.kind != "sqlite" {
            assert_eq!(suspended, 0, "PostgreSQL keeps its indexes");
            continue;
        }
        let indexes =
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('users', 'audit_log') ORDER BY name";
        assert_eq!(query_strings(&db.store, indexes).await.unwrap_or_default(), Vec::<String>::new(), "dropped for the load");
        let recorded = query_strings(&db.store, "SELECT name FROM suspended_indexes ORDER BY name").await.unwrap_or_default();
        assert_eq!(recorded.len(), suspended);
        assert!(
            suspended >= 10 && recorded.contains(&"users_phone_index".to_owned()) && recorded.contains(&"audit_log_by_subject".to_owned()),
            "{recorded:?}"
        );

        // During the load nothing checks uniqueness: the rebuild refuses, names the index, and keeps its record.
        let same = format!("UPDATE users SET phone_index = 'same' WHERE id IN ('{a}', '{b}')");
        assert_eq!(execute(&db.store, &same).await, Ok(2));
        let refused = db.store.rebuild_indexes().await.map(|n| n.to_string()).unwrap_or_else(|e| e.to_string());
        assert!(refused.contains("users_phone_index"), "{refused}");
        let left = query_strings(&db.store, "SELECT name FROM suspended_indexes").await.unwrap_or_default();
        assert!(left.contains(&"users_phone_index".to_owned()), "{left:?}");
        assert_eq!(execute(&db.store, &format!("UPDATE users SET phone_index = 'other' WHERE id = '{b}'")).await, Ok(1));

        // Opened again as a server opens it: every index is back, the record empty, the login reads its index.
        let again =
            idlink_store::SqlStore::connect(&db.url, &idlink_store::StoreOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
        again.migrate().await.unwrap_or_else(|e| panic!("{e}"));
        let back = query_strings(&again, indexes).await.unwrap_or_default();
        assert!(back.contains(&"users_phone_index".to_owned()) && back.contains(&"audit_log_by_subject".to_owned()), "{back:?}");
        assert_eq!(query_text(&again, "SELECT COUNT(*) FROM suspended_indexes").await, Ok("0".into()));
        let plans = again.hot_plans().await.unwrap_or_else(|e| panic!("{e}"));
        let login = plans.iter().find(|p| p.name.starts_with("login: the user")).map(|p| p.lines.join(" | ")).unwrap_or_default();
        assert!(login.contains("users_phone_index"), "{login}");
        again.close().await;
    }
}
