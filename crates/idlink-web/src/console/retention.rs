//! `/console/retention` (issue 18 point 4, SPEC P7, CP) for auditors and
//! admins: each kind of record with its rule, the oldest record kept and
//! when it is due, the job that purges it; the legal holds in force and the
//! users held by an open review case. Admins place a hold (a dispute, an
//! authority's request, litigation) and release one. The figures and the
//! holds are the core's (`idlink_core::retention`), as `idlink retention
//! status` and `GET /v1/operator/retention` show them.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::i18n::Tr;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use idlink_api::Problem;
use idlink_core::ports::operators::{Role, require};
use idlink_core::retention::{HOLD_REASONS, HoldError, Keep, KindStatus};
use idlink_domain::UserId;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console/retention", get(show))
        // An answer page sits at its action's URL: coming back to it shows the page.
        .route("/console/retention/holds", get(to_page).post(place))
        .route("/console/retention/holds/{id}/release", get(to_page).post(release))
}

pub struct KindLine {
    pub kind: String,
    pub keep: String,
    pub setting: &'static str,
    pub oldest: String,
    pub due: String,
    pub job: &'static str,
}

pub struct HoldLine {
    pub id: String,
    pub user: String,
    pub reason: String,
    pub reference: String,
    pub placed: String,
}

pub struct CaseLine {
    pub user: String,
    pub case_id: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "console/retention.html")]
struct RetentionPage {
    c: ConsoleChrome,
    kinds: Vec<KindLine>,
    holds: Vec<HoldLine>,
    cases: Vec<CaseLine>,
    may_hold: bool,
    reasons: Vec<(&'static str, String)>,
    /// What the admin typed, kept when the hold was refused.
    form: HoldForm,
    refusal: Option<String>,
    error: Option<String>,
}

fn keep_words(tr: &Tr, k: Keep) -> String {
    match k {
        Keep::Years(n) => tr.tn("console-retention-years", "n", i64::from(n)),
        Keep::Months(n) => tr.tn("console-retention-months", "n", i64::from(n)),
        Keep::Days(n) => tr.tn("console-retention-days", "n", i64::from(n)),
        Keep::Hours(n) => tr.tn("console-retention-hours", "n", n),
    }
}

fn kind_line(tr: &Tr, k: &KindStatus) -> KindLine {
    let none = || tr.t("console-retention-none");
    KindLine {
        kind: tr.t(&format!("console-retention-kind-{}", k.kind.replace('_', "-"))),
        keep: keep_words(tr, k.keep),
        setting: k.setting,
        oldest: k.oldest.map_or_else(none, |t| tr.datetime(t)),
        due: k.oldest_due.map_or_else(none, |t| tr.datetime(t)),
        job: k.job,
    }
}

async fn page(state: &WebState, s: &SignedOperator, form: HoldForm, refusal: Option<String>) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-retention-title"), Some(&s.op));
    if let Err(e) = require(&s.op, Role::Auditor) {
        let message = problem_message_in(&tr, "console", &Problem::from(e));
        return super::message_page(&s.visitor, Some(&s.op), StatusCode::FORBIDDEN, &message);
    }
    let reasons = HOLD_REASONS.iter().map(|r| (*r, tr.t(&format!("console-retention-reason-{r}")))).collect();
    let mut p = RetentionPage {
        c,
        kinds: Vec::new(),
        holds: Vec::new(),
        cases: Vec::new(),
        may_hold: require(&s.op, Role::Admin).is_ok(),
        reasons,
        form,
        refusal,
        error: None,
    };
    let retention = state.app.retention();
    let loaded = async { Ok::<_, idlink_core::ports::StoreError>((retention.status().await?, retention.holds().await?)) };
    let status = match loaded.await {
        Ok((kinds, holds)) => {
            p.kinds = kinds.iter().map(|k| kind_line(&tr, k)).collect();
            p.holds = holds
                .legal
                .into_iter()
                .map(|h| HoldLine {
                    id: h.id,
                    user: h.user_id.to_string(),
                    reason: tr.t(&format!("console-retention-reason-{}", h.reason)),
                    reference: h.reference,
                    placed: tr.ta("console-retention-placed", &[("at", &tr.datetime(h.placed_at)), ("by", &h.placed_by)]),
                })
                .collect();
            p.cases = holds
                .cases
                .into_iter()
                .map(|c| CaseLine { user: c.user_id.to_string(), case_id: c.case_id, since: tr.datetime(c.opened_at) })
                .collect();
            if p.refusal.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }
        }
        Err(e) => {
            p.error = Some(problem_message_in(&tr, "console", &Problem::from(e)));
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (cookies(&s.visitor), html(status, &p)).into_response()
}

/// `GET /console/retention`.
async fn show(State(state): State<WebState>, s: SignedOperator) -> Response {
    page(&state, &s, HoldForm::default(), None).await
}

async fn to_page() -> Redirect {
    Redirect::to("/console/retention")
}

fn admin_only(s: &SignedOperator) -> Option<Response> {
    require(&s.op, Role::Admin).err().map(|_| {
        let message = s.visitor.tr.t("console-problem-operator_role_required");
        super::message_page(&s.visitor, Some(&s.op), StatusCode::FORBIDDEN, &message)
    })
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct HoldForm {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub reference: String,
}

/// `POST /console/retention/holds` (admins): a legal hold on a user's records.
async fn place(State(state): State<WebState>, s: SignedOperator, axum::Form(f): axum::Form<HoldForm>) -> Response {
    if let Some(refused) = admin_only(&s) {
        return refused;
    }
    let tr = s.visitor.tr;
    let Ok(user) = UserId::parse(f.user.trim()) else {
        return page(&state, &s, f, Some(tr.t("console-retention-bad-user"))).await;
    };
    let actor = format!("operator:{}", s.op.id);
    let placed = state.app.retention().place_hold(state.app.ids.as_ref(), &user, f.reason.trim(), &f.reference, &actor).await;
    match placed {
        Ok(_) => (cookies(&s.visitor), Redirect::to("/console/retention")).into_response(),
        Err(HoldError::UnknownUser) => page(&state, &s, f, Some(tr.t("console-retention-unknown-user"))).await,
        Err(HoldError::BadReason) => page(&state, &s, f, Some(tr.t("console-retention-bad-reason"))).await,
        Err(HoldError::BadReference) => page(&state, &s, f, Some(tr.t("console-retention-bad-reference"))).await,
        Err(HoldError::Store(e)) => page(&state, &s, f, Some(problem_message_in(&tr, "console", &Problem::from(e)))).await,
    }
}

/// `POST /console/retention/holds/{id}/release` (admins).
async fn release(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>) -> Response {
    if let Some(refused) = admin_only(&s) {
        return refused;
    }
    let actor = format!("operator:{}", s.op.id);
    match state.app.retention().release_hold(&id, &actor).await {
        Ok(true) => (cookies(&s.visitor), Redirect::to("/console/retention")).into_response(),
        Ok(false) => page(&state, &s, HoldForm::default(), Some(s.visitor.tr.t("console-retention-no-hold"))).await,
        Err(e) => page(&state, &s, HoldForm::default(), Some(problem_message_in(&s.visitor.tr, "console", &Problem::from(e)))).await,
    }
}
