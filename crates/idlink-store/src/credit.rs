//! Credit-report requests on SQLite and PostgreSQL (issue 15; the rules are
//! in `idlink_core::ports::credit`): the free/paid decision is taken inside
//! the inserting transaction, and the partial unique index
//! `credit_requests_one_open` refuses a second request under way, so the
//! quota holds under concurrency and across nodes. State changes are
//! conditional on the state they start from.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::credit::{CreditRequestRow, CreditStore, CreditWatchRow, Move, NewCreditRequest, Opened, WatchCheck};
use idlink_domain::credit_request::RequestState;
use idlink_domain::{ClientId, CreditRequestId, Fen, UserId};
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::audit::append_in;
use crate::rows::{Columns, corrupt, execute, fetch_all, fetch_one, fetch_optional, first, micros};
use crate::write::Commit;

const COLUMNS: &str = "id, user_id, year, state, reason, method, attempts, free, fee_fen, bureau_query_id, case_id, report_cipher, pdf_cipher, \
                       pages, downloads, expected_at, created_at, updated_at, ready_at, verify_binding, verify_ref, payment_id, paid_at, \
                       refund_id, refunded_at";

fn request(r: &AnyRow) -> Result<CreditRequestRow, StoreError> {
    let year: i64 = r.col("year")?;
    Ok(CreditRequestRow {
        id: r.id("id")?,
        user_id: r.user("user_id")?,
        year: i16::try_from(year).map_err(|_| corrupt("credit request year", year))?,
        state: r.parsed("state", "credit request state", RequestState::parse)?,
        reason: r.col("reason")?,
        method: r.col("method")?,
        attempts: r.count_u32("attempts")?,
        free: r.flag("free")?,
        fee: Fen(r.col("fee_fen")?),
        bureau_query_id: r.col("bureau_query_id")?,
        case_id: r.id_opt("case_id")?,
        report_cipher: r.col("report_cipher")?,
        pdf_cipher: r.col("pdf_cipher")?,
        pages: r.col::<Option<i64>>("pages")?.map(|p| crate::rows::count_u32("pages", p)).transpose()?,
        downloads: r.count_u32("downloads")?,
        expected_at: r.instant_opt("expected_at")?,
        created_at: r.instant("created_at")?,
        updated_at: r.instant("updated_at")?,
        ready_at: r.instant_opt("ready_at")?,
        verify_binding: r.id_opt("verify_binding")?,
        verify_ref: r.col("verify_ref")?,
        payment_id: r.col("payment_id")?,
        paid_at: r.instant_opt("paid_at")?,
        refund_id: r.col("refund_id")?,
        refunded_at: r.instant_opt("refunded_at")?,
    })
}

const WATCH_COLUMNS: &str = "user_id, enabled, apps, baseline_cipher, checked_at, next_check_at, alerts, last_error, created_at";

fn watch(r: &AnyRow) -> Result<CreditWatchRow, StoreError> {
    let apps = crate::clients::parse_list("credit_watches.apps", &r.col::<String>("apps")?)?
        .iter()
        .map(|a| ClientId::parse(a).map_err(|_| corrupt("credit watch app", a)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CreditWatchRow {
        user_id: r.user("user_id")?,
        enabled: r.flag("enabled")?,
        apps,
        baseline_cipher: r.col("baseline_cipher")?,
        checked_at: r.instant_opt("checked_at")?,
        next_check_at: r.instant_opt("next_check_at")?,
        alerts: r.count_u32("alerts")?,
        last_error: r.col("last_error")?,
        created_at: r.instant("created_at")?,
    })
}

/// `state IN (…)` over the stored names (static strings, never input).
fn states_in(states: &[RequestState]) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
    if names.is_empty() { "(NULL)".into() } else { format!("({})", names.join(", ")) }
}

const USED: &str =
    "SELECT COUNT(*) FROM credit_requests WHERE user_id = $1 AND year = $2 AND free = 1 AND state NOT IN ('rejected', 'failed')";

#[async_trait]
impl CreditStore for SqlStore {
    async fn free_reports_used(&self, user: &UserId, year: i16) -> Result<u32, StoreError> {
        let n: i64 = fetch_one(sqlx::query(USED).bind(user.as_str()).bind(i64::from(year)), &self.reader, first).await?;
        crate::rows::count_u32("free reports", n)
    }

    async fn open_credit_request(&self, new: &NewCreditRequest, audit: &AuditEntry) -> Result<Opened, StoreError> {
        // What the transaction decided: (free, fee) if it inserted, the new price if the quote moved.
        let mut decided = None;
        let mut moved = None;
        let inserted = self
            .audited_if(audit, async |tx| {
                let used: i64 = fetch_one(sqlx::query(USED).bind(new.user_id.as_str()).bind(i64::from(new.year)), &mut *tx, first).await?;
                // The domain's rule, applied to the count this transaction read.
                let used = crate::rows::count_u32("free reports", used)?;
                let quote = idlink_domain::credit_request::quote(used, new.free_per_year, new.fee);
                let (free, fee) = (quote.free_left > 0, quote.fee);
                if fee != new.accepted_fee {
                    moved = Some(fee);
                    return Ok(false);
                }
                let sql = format!(
                    "INSERT INTO credit_requests ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, NULL, NULL, 0, $5, $6, NULL, NULL, NULL, NULL, NULL, 0, $7, $8, $8, NULL, \
                     NULL, NULL, NULL, NULL, NULL, NULL)"
                );
                let q = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(new.id.as_str())
                    .bind(new.user_id.as_str())
                    .bind(i64::from(new.year))
                    .bind(RequestState::Requested.as_str())
                    .bind(i64::from(free))
                    .bind(fee.0)
                    .bind(new.expected_at.map(micros))
                    .bind(micros(new.at));
                execute(q, &mut *tx).await?;
                decided = Some((free, fee));
                Ok(true)
            })
            .await;
        match (inserted, decided, moved) {
            (Ok(true), Some((free, fee)), _) => Ok(Opened::Opened(Box::new(CreditRequestRow {
                id: new.id.clone(),
                user_id: new.user_id.clone(),
                year: new.year,
                state: RequestState::Requested,
                reason: None,
                method: None,
                attempts: 0,
                free,
                fee,
                bureau_query_id: None,
                case_id: None,
                report_cipher: None,
                pdf_cipher: None,
                pages: None,
                downloads: 0,
                expected_at: new.expected_at,
                created_at: new.at,
                updated_at: new.at,
                ready_at: None,
                verify_binding: None,
                verify_ref: None,
                payment_id: None,
                paid_at: None,
                refund_id: None,
                refunded_at: None,
            }))),
            (Ok(_), _, Some(fee)) => Ok(Opened::QuoteChanged { fee }),
            (Ok(_), _, None) => Err(StoreError::Corrupt("a credit request neither opened nor refused".into())),
            // The one-open index (PostgreSQL names it; SQLite names its column).
            (Err(StoreError::Unique(rule)), _, _)
                if rule.contains("credit_requests_one_open") || rule.contains("credit_requests.user_id") =>
            {
                Ok(Opened::Busy)
            }
            (Err(e), _, _) => Err(e),
        }
    }

    async fn credit_request(&self, id: &CreditRequestId) -> Result<Option<CreditRequestRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM credit_requests WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, request).await
    }

    async fn credit_requests_of(&self, user: &UserId, limit: u32) -> Result<Vec<CreditRequestRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM credit_requests WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()).bind(i64::from(limit)), &self.reader, request).await
    }

    async fn credit_requests_in(&self, states: &[RequestState], limit: u32) -> Result<Vec<CreditRequestRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM credit_requests WHERE state IN {} ORDER BY updated_at, id LIMIT $1", states_in(states));
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)), &self.reader, request).await
    }

    async fn move_credit_request(
        &self,
        id: &CreditRequestId,
        from: &[RequestState],
        to: RequestState,
        m: &Move<'_>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE credit_requests SET state = $2, updated_at = $3, expected_at = $4, \
             reason = $5, method = COALESCE($6, method), bureau_query_id = COALESCE($7, bureau_query_id), \
             case_id = COALESCE($8, case_id), report_cipher = COALESCE($9, report_cipher), pdf_cipher = COALESCE($10, pdf_cipher), \
             pages = COALESCE($11, pages), attempts = attempts + $12, ready_at = CASE WHEN $2 = 'ready' THEN $3 ELSE ready_at END, \
             verify_binding = COALESCE($13, verify_binding), verify_ref = COALESCE($14, verify_ref), \
             payment_id = COALESCE($15, payment_id) \
             WHERE id = $1 AND state IN {} AND ($16 = 0 OR paid_at IS NULL)",
            states_in(from)
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(to.as_str())
            .bind(micros(at))
            .bind(m.expected_at.map(micros))
            .bind(m.reason.map(str::to_owned))
            .bind(m.method.map(str::to_owned))
            .bind(m.bureau_query_id.map(str::to_owned))
            .bind(m.case_id.map(|c| c.as_str().to_owned()))
            .bind(m.report_cipher.map(<[u8]>::to_vec))
            .bind(m.pdf_cipher.map(<[u8]>::to_vec))
            .bind(m.pages.map(i64::from))
            .bind(i64::from(m.failed_attempt))
            .bind(m.verify_binding.map(|b| b.as_str().to_owned()))
            .bind(m.verify_ref.map(str::to_owned))
            .bind(m.payment_id.map(str::to_owned))
            .bind(i64::from(m.unpaid_only));
        self.audited_if(audit, async |tx| {
            let moved = execute(q, &mut *tx).await? == 1;
            // The notice commits with the move, or not at all.
            if moved && let Some(notice) = m.notice {
                crate::outbox::enqueue_in(tx, [notice]).await?;
            }
            Ok(moved)
        })
        .await
    }

    async fn count_credit_download(&self, id: &CreditRequestId, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE credit_requests SET downloads = downloads + 1 WHERE id = $1 AND state = 'ready'").bind(id.as_str());
        // A download only records: it pins no idempotency claim.
        self.write_if(Commit::Bookkeeping, async |tx| {
            let counted = execute(q, &mut *tx).await? == 1;
            if counted {
                append_in(&mut *tx, audit).await?;
            }
            Ok(counted)
        })
        .await
    }

    async fn record_credit_payment(
        &self,
        id: &CreditRequestId,
        payment_id: &str,
        expected_at: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE credit_requests SET payment_id = $2, paid_at = $3, updated_at = $3, \
             expected_at = CASE WHEN state IN ('requested', 'verifying') THEN $4 ELSE expected_at END, \
             reason = CASE WHEN reason = 'awaiting_payment' THEN NULL ELSE reason END \
             WHERE id = $1 AND (payment_id = $2 OR payment_id IS NULL) AND paid_at IS NULL",
        )
        .bind(id.as_str())
        .bind(payment_id)
        .bind(micros(at))
        .bind(expected_at.map(micros));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn credit_refunds_due(&self, limit: u32) -> Result<Vec<CreditRequestRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM credit_requests WHERE state IN ('rejected', 'failed') AND paid_at IS NOT NULL \
             AND refunded_at IS NULL ORDER BY updated_at, id LIMIT $1"
        );
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit)), &self.reader, request).await
    }

    async fn defer_credit_refund(&self, id: &CreditRequestId, at: Timestamp) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE credit_requests SET updated_at = $2 WHERE id = $1").bind(id.as_str()).bind(micros(at));
        self.write_if(Commit::Bookkeeping, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await.map(|_| ())
    }

    async fn record_credit_refund(
        &self,
        id: &CreditRequestId,
        refund_id: &str,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(
            "UPDATE credit_requests SET refund_id = $2, refunded_at = $3 \
             WHERE id = $1 AND paid_at IS NOT NULL AND refunded_at IS NULL AND state IN ('rejected', 'failed')",
        )
        .bind(id.as_str())
        .bind(refund_id)
        .bind(micros(at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await
    }

    async fn credit_watch(&self, user: &UserId) -> Result<Option<CreditWatchRow>, StoreError> {
        let sql = format!("SELECT {WATCH_COLUMNS} FROM credit_watches WHERE user_id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user.as_str()), &self.reader, watch).await
    }

    async fn set_credit_watch(
        &self,
        user: &UserId,
        enabled: bool,
        apps: &[ClientId],
        next_check_at: Option<Timestamp>,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let apps = crate::clients::json_list(&apps.iter().map(ToString::to_string).collect::<Vec<_>>());
        // Turning off drops the compared file; turning on again starts afresh.
        let q = sqlx::query(
            "INSERT INTO credit_watches (user_id, enabled, apps, baseline_cipher, checked_at, next_check_at, alerts, last_error, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, NULL, $4, 0, NULL, $5, $5) \
             ON CONFLICT (user_id) DO UPDATE SET enabled = $2, apps = $3, updated_at = $5, \
             next_check_at = CASE WHEN $2 = 1 AND credit_watches.enabled = 1 THEN credit_watches.next_check_at ELSE $4 END, \
             baseline_cipher = CASE WHEN $2 = 1 THEN credit_watches.baseline_cipher ELSE NULL END, \
             checked_at = CASE WHEN $2 = 1 THEN credit_watches.checked_at ELSE NULL END",
        )
        .bind(user.as_str())
        .bind(i64::from(enabled))
        .bind(apps)
        .bind(next_check_at.map(micros))
        .bind(micros(at));
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? == 1)).await.map(|_| ())
    }

    async fn due_credit_watches(&self, now: Timestamp, limit: u32) -> Result<Vec<CreditWatchRow>, StoreError> {
        let sql = format!(
            "SELECT {WATCH_COLUMNS} FROM credit_watches WHERE enabled = 1 AND next_check_at <= $1 ORDER BY next_check_at, user_id LIMIT $2"
        );
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(now)).bind(i64::from(limit)), &self.reader, watch).await
    }

    async fn record_credit_watch_check(
        &self,
        user: &UserId,
        checked_before: Option<Timestamp>,
        check: &WatchCheck<'_>,
    ) -> Result<bool, StoreError> {
        // The check applies only over the state it read: a second node's check of the same file writes nothing.
        let same = if checked_before.is_some() { "checked_at = $7" } else { "checked_at IS NULL" };
        let sql = format!(
            "UPDATE credit_watches SET baseline_cipher = COALESCE($2, baseline_cipher), \
             checked_at = CASE WHEN $2 IS NULL THEN checked_at ELSE $3 END, next_check_at = $4, alerts = alerts + $5, \
             last_error = $6, updated_at = $3 WHERE user_id = $1 AND enabled = 1 AND {same}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .bind(check.baseline_cipher.map(<[u8]>::to_vec))
            .bind(micros(check.checked_at))
            .bind(micros(check.next_check_at))
            .bind(i64::from(check.alerts))
            .bind(check.last_error.map(str::to_owned));
        if let Some(before) = checked_before {
            q = q.bind(micros(before));
        }
        self.write_if(Commit::Bookkeeping, async |tx| {
            let applied = execute(q, &mut *tx).await? == 1;
            if applied {
                crate::outbox::enqueue_in(&mut *tx, check.notices).await?;
                if let Some(audit) = check.audit {
                    append_in(&mut *tx, audit).await?;
                }
            }
            Ok(applied)
        })
        .await
    }
}
