//! The query plans of the hot statements (issue 19's scale benchmark,
//! docs/benchmarks.md): the very statements the store runs on a login, a
//! host app's request, a balance query and an introspection, explained by
//! the database with values taken from its own rows (the token's join as
//! userinfo reads it; introspection reads the same join for a batch of
//! tokens with the caller's secret), so that a plan read
//! on a database of a million users is the one those users' requests get;
//! and the planner statistics refreshed after a bulk load.

use idlink_core::ports::StoreError;
use sqlx::Row;

use crate::rows::{AnyQuery, store_err};
use crate::{Backend, SqlStore};

/// One statement's plan, a line per node as the database prints it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: &'static str,
    pub lines: Vec<String>,
}

/// A value bound to a statement being explained.
enum Sample {
    Text(String),
    Int(i64),
}

impl SqlStore {
    /// The plans of the hot statements, bound to a real user's rows where
    /// the database has one (an empty database still plans them).
    pub async fn hot_plans(&self) -> Result<Vec<Plan>, StoreError> {
        let user = self.sample("SELECT MIN(id) FROM users", None).await?;
        let phone_index = self.sample("SELECT phone_index FROM users WHERE id = $1", Some(&user)).await?;
        let binding = self.sample("SELECT MIN(id) FROM card_bindings WHERE user_id = $1", Some(&user)).await?;
        let session = self.sample("SELECT MAX(id) FROM sessions", None).await?;
        let token = self.sample("SELECT MAX(token_hash) FROM oauth_access_tokens", None).await?;
        let key = self.sample("SELECT MAX(id) FROM api_keys", None).await?;
        let now = 1_800_000_000_000_000;
        use Sample::{Int, Text};
        let statements: Vec<(&'static str, String, Vec<Sample>)> = vec![
            ("login: the user of a phone", crate::store::USER_BY_PHONE_INDEX.into(), vec![Text(phone_index)]),
            (
                "login: the previous sign-in's address",
                crate::reviews::PREVIOUS_LOGIN_IP.into(),
                vec![Text(user.clone()), Text(session.clone())],
            ),
            ("request: API key and session", crate::store::api_key_with_session_sql(), vec![Text(key), Text(session.clone())]),
            ("request: the session", crate::login::session_sql(), vec![Text(session)]),
            (
                "balance: the query's context",
                crate::balance::query_context_sql(),
                vec![
                    Text(binding),
                    Text(user.clone()),
                    Text(idlink_core::balance::FEATURE.into()),
                    Int(now),
                    Text("stu_x".into()),
                    Text("x".into()),
                    Text(idlink_core::stepup::BALANCE_QUERY.into()),
                    Text(format!("dek-{user}")),
                ],
            ),
            // The introspection endpoint reads this join in a batch with the caller's secret; userinfo reads it as is.
            ("token: the token with its grant, client and subject", crate::oauth::access_token_sql(), vec![Text(token)]),
            ("audit: a user's own records", crate::audit::by_subject_sql(), vec![Text(user), Int(50)]),
        ];
        let mut plans = Vec::with_capacity(statements.len());
        for (name, sql, samples) in statements {
            let (explain, column) = match self.backend() {
                Backend::Postgres => (format!("EXPLAIN {sql}"), 0),
                // id, parent, notused, detail
                Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), 3),
            };
            let q = samples.into_iter().fold(sqlx::query(sqlx::AssertSqlSafe(explain)), |q: AnyQuery<'_>, s| match s {
                Text(t) => q.bind(t),
                Int(i) => q.bind(i),
            });
            let rows = q.fetch_all(&self.reader).await.map_err(store_err)?;
            let lines = rows.iter().map(|r| r.try_get::<String, _>(column).map_err(store_err)).collect::<Result<Vec<_>, _>>()?;
            plans.push(Plan { name, lines });
        }
        Ok(plans)
    }

    /// After a bulk load (a seed, a move, a restore): PostgreSQL's planner
    /// statistics refreshed and the new pages marked all-visible at once
    /// (`VACUUM (ANALYZE)`), not when autovacuum comes round to them (or
    /// never, where it is off), and not by the first requests to read each
    /// page, which would each write its hint bits. 27 s for a million seeded
    /// users (10 GB) here. SQLite's point reads need no statistics (see the
    /// plans test), so nothing runs there.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            // This deployment's tables only: a database may hold others (a schema each).
            let names = self.tables().await?.into_iter().map(|t| crate::snapshot::ident(&t.name)).collect::<Result<Vec<_>, _>>()?;
            if !names.is_empty() {
                let sql = format!("VACUUM (ANALYZE) {}", names.join(", "));
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&self.writer).await.map_err(store_err)?;
            }
        }
        Ok(())
    }

    /// The first column of `sql`'s first row (bound to `arg`), or `none` when there is none.
    async fn sample(&self, sql: &'static str, arg: Option<&str>) -> Result<String, StoreError> {
        let q = sqlx::query(sql);
        let q = match arg {
            Some(a) => q.bind(a.to_owned()),
            None => q,
        };
        let row = q.fetch_optional(&self.reader).await.map_err(store_err)?;
        Ok(row.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten()).unwrap_or_else(|| "none".into()))
    }
}
