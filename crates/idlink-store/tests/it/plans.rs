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
