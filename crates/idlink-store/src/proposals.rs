//! Storage of dual-control proposals (issue 13, ADR 0015). The approval is
//! one conditional update, so of concurrent approvers exactly one changes
//! the row; the effect of a freeze lift (the case's two decisions, its
//! closing, the lifted freeze) commits in the same transaction.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::proposals::{ApprovalEffect, ProposalAction, ProposalDecision, ProposalRow, ProposalStatus, ProposalStore};
use idlink_core::ports::reviews::CaseStatus;
use idlink_domain::ProposalId;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::reviews::decide_case_in;
use crate::rows::{Columns, execute, fetch_all, fetch_optional, micros};

const COLUMNS: &str = "id, action, params, proposed_by, created_at, expires_at, status, decided_by, decided_at, note, result";

fn proposal(r: &AnyRow) -> Result<ProposalRow, StoreError> {
    Ok(ProposalRow {
        id: r.id("id")?,
        action: r.parsed("action", "proposal action", ProposalAction::parse)?,
        params: r.col("params")?,
        proposed_by: r.id("proposed_by")?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant("expires_at")?,
        status: r.parsed("status", "proposal status", ProposalStatus::parse)?,
        decided_by: r.id_opt("decided_by")?,
        decided_at: r.instant_opt("decided_at")?,
        note: r.col("note")?,
        result: r.col("result")?,
    })
}

#[async_trait]
impl ProposalStore for SqlStore {
    async fn insert_proposal(&self, p: &ProposalRow, audit: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO proposals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, NULL)");
        let q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(p.id.as_str())
            .bind(p.action.as_str())
            .bind(&p.params)
            .bind(p.proposed_by.as_str())
            .bind(micros(p.created_at))
            .bind(micros(p.expires_at))
            .bind(p.status.as_str())
            .bind(&p.note);
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }

    async fn proposal(&self, id: &ProposalId) -> Result<Option<ProposalRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM proposals WHERE id = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), &self.reader, proposal).await
    }

    async fn proposals(&self, status: ProposalStatus, limit: u32) -> Result<Vec<ProposalRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM proposals WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(status.as_str()).bind(i64::from(limit)), &self.reader, proposal).await
    }

    async fn decide_proposal(
        &self,
        id: &ProposalId,
        d: &ProposalDecision<'_>,
        effect: ApprovalEffect<'_>,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        // An approval also needs an unexpired window and a decider other than the proposer.
        let q = sqlx::query(
            "UPDATE proposals SET status = $2, decided_by = $3, decided_at = $4, note = note || ' / ' || $5
             WHERE id = $1 AND status = 'pending' AND ($2 <> 'approved' OR (expires_at > $4 AND proposed_by <> $3))",
        )
        .bind(id.as_str())
        .bind(d.status.as_str())
        .bind(d.decider.as_str())
        .bind(micros(d.at))
        .bind(d.note);
        self.audited_if(audit, async |tx| {
            if execute(q, &mut *tx).await? != 1 {
                return Ok(false);
            }
            match effect {
                ApprovalEffect::None => {}
                ApprovalEffect::ApproveCase { case, decisions, lifted } => {
                    decide_case_in(tx, case, decisions, Some(CaseStatus::Approved)).await?;
                    if let Some(event) = lifted {
                        crate::events::lifecycle_in(tx, &case.subject, event.at, crate::events::GrantChange::Resume, event).await?;
                    }
                }
            }
            Ok(true)
        })
        .await
    }

    async fn finish_proposal(&self, id: &ProposalId, status: ProposalStatus, result: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let q = sqlx::query("UPDATE proposals SET status = $2, result = $3 WHERE id = $1 AND status = 'approved'")
            .bind(id.as_str())
            .bind(status.as_str())
            .bind(result);
        self.audited(audit, async |tx| execute(q, &mut *tx).await).await?;
        Ok(())
    }
}
