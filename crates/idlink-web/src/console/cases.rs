//! The review queue (SPEC OP1, ID3, ID4, ID8): the list of cases with
//! filters and each case's SLA as time left (red, and saying so in words,
//! when breached), refreshed every 30 s by htmx (a plain page with a refresh
//! link without JavaScript); and a case's page: who it is about (masked),
//! what is reviewed, its history, and claim / release / approve / reject
//! with a reason code through the same use cases as the API
//! (`Reviews::{claim, release, decide}`), which enforce dual control; and
//! asking the user for more information (`Reviews::request_info`): the case
//! then waits for the user, its SLA paused, until their answer (ADR 0019).

use super::people::word;
use super::{ConsoleChrome, Reviewer, SignedOperator, cookies, message_page};
use crate::WebState;
use crate::ctx::Visitor;
use crate::i18n::Tr;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use idlink_api::Problem;
use idlink_core::ports::operators::OperatorRow;
use idlink_core::ports::reviews::{CaseKind, CaseRow, CaseStatus, InfoReason};
use idlink_core::reviews::{AnswerText, read_answers};
use idlink_domain::{CaseId, OperatorId};
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::HashMap;

/// Why a case is rejected: a fixed list, each worded in the catalogues (`console-reason-<code>`).
pub const REASONS: [&str; 5] = ["document_unreadable", "document_mismatch", "evidence_insufficient", "suspected_fraud", "other"];

/// The problems a console page can meet, each with a `console-problem-<code>` sentence.
pub const PROBLEMS: [&str; 7] = [
    "operator_sign_in_failed",
    "operator_session_invalid",
    "operator_role_required",
    "case_not_found",
    "case_closed",
    "second_operator_required",
    "case_not_claimed",
];

/// The queue's filters, as the filter form and the refresh link carry them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    /// `me`, `unassigned`, or empty for anyone.
    #[serde(default)]
    pub assignee: String,
    /// `1`: only breached cases.
    #[serde(default)]
    pub breached: String,
}

impl Filters {
    fn query(&self) -> String {
        let pairs = [("kind", &self.kind), ("status", &self.status), ("assignee", &self.assignee), ("breached", &self.breached)];
        serde_urlencoded::to_string(pairs.iter().filter(|(_, v)| !v.is_empty()).collect::<Vec<_>>()).unwrap_or_default()
    }
}

/// An option of a filter's select.
pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

fn choices(tr: &Tr, current: &str, any_key: &str, items: &[(&'static str, String)]) -> Vec<Choice> {
    let mut out = vec![Choice { value: "", label: tr.t(any_key), selected: current.is_empty() }];
    out.extend(items.iter().map(|(value, label)| Choice { value, label: label.clone(), selected: current == *value }));
    out
}

/// The SLA as a person reads it: time left, or how long ago it was breached.
pub struct Sla {
    pub text: String,
    pub breached: bool,
    pub due: String,
}

pub(super) fn span(tr: &Tr, secs: i64) -> String {
    let mins = secs.max(0) / 60;
    if mins >= 48 * 60 {
        tr.tn("console-span-days", "n", mins / (24 * 60))
    } else if mins >= 60 {
        let (h, m) = (tr.tn("console-span-hours", "n", mins / 60), tr.tn("console-span-minutes", "n", mins % 60));
        format!("{h}{}{m}", tr.t("console-span-sep"))
    } else {
        tr.tn("console-span-minutes", "n", mins)
    }
}

fn sla(tr: &Tr, c: &CaseRow, now: Timestamp) -> Sla {
    let due = tr.datetime(c.sla_due_at);
    let left = c.sla_due_at.as_second() - now.as_second();
    let text = if c.status == CaseStatus::WaitingForUser {
        tr.t("console-sla-paused")
    } else if c.breached(now) {
        tr.t1("console-sla-breached", "span", &span(tr, -left))
    } else if c.status != CaseStatus::Open {
        tr.t("console-sla-closed")
    } else if c.first_response_at.is_some() {
        tr.t1("console-sla-answered", "span", &span(tr, left))
    } else {
        tr.t1("console-sla-left", "span", &span(tr, left))
    };
    Sla { text, breached: c.breached(now), due }
}

/// A user id shown masked: the console identifies the subject without showing it whole.
fn masked_subject(c: &CaseRow) -> (String, String) {
    let id = c.subject.to_string();
    let tail: String = id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    (format!("usr_****{tail}"), tail)
}

/// Operator names for ids (decisions and claims name operators by id).
async fn names(state: &WebState, ids: impl Iterator<Item = OperatorId>) -> HashMap<OperatorId, String> {
    let mut out = HashMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        let name = state.app.store.operator(&id).await.ok().flatten().map_or_else(|| id.to_string(), |o| o.username);
        out.insert(id, name);
    }
    out
}

/// One row of the queue.
pub struct Row {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub subject: String,
    pub subject_tail: String,
    pub assignee: String,
    pub steps: String,
    pub created: String,
    pub sla: Sla,
}

#[derive(Template)]
#[template(path = "console/cases_list.html")]
struct QueueList {
    c: ConsoleChrome,
    count: String,
    rows: Vec<Row>,
    query: String,
    refreshed: String,
}

#[derive(Template)]
#[template(path = "console/cases.html")]
struct QueuePage {
    c: ConsoleChrome,
    /// The rendered [`QueueList`] (the same markup the refresh swaps in).
    list_html: String,
    kinds: Vec<Choice>,
    statuses: Vec<Choice>,
    assignees: Vec<Choice>,
    breached_only: bool,
    error: Option<String>,
}

async fn list(state: &WebState, s: &SignedOperator, f: &Filters) -> Result<QueueList, Problem> {
    let tr = s.visitor.tr;
    let now = state.app.clock.now();
    let status = CaseStatus::parse(&f.status).unwrap_or(CaseStatus::Open);
    let cases = state.app.store.cases(status, CaseKind::parse(&f.kind), 500).await?;
    let cases: Vec<CaseRow> = cases
        .into_iter()
        .filter(|c| f.breached != "1" || c.breached(now))
        .filter(|c| match f.assignee.as_str() {
            "me" => c.claimed_by.as_ref() == Some(&s.op.id),
            "unassigned" => c.claimed_by.is_none(),
            _ => true,
        })
        .collect();
    let who = names(state, cases.iter().filter_map(|c| c.claimed_by.clone())).await;
    let rows = cases
        .iter()
        .map(|c| {
            let (subject, subject_tail) = masked_subject(c);
            Row {
                id: c.id.to_string(),
                kind: tr.t(&format!("console-kind-{}", c.kind.as_str())),
                status: tr.t(&format!("console-status-{}", c.status.as_str())),
                subject,
                subject_tail,
                assignee: c.claimed_by.as_ref().and_then(|id| who.get(id).cloned()).unwrap_or_else(|| tr.t("console-unassigned")),
                steps: tr.t1("console-steps", "text", &format!("{}/{}", c.decisions.len(), c.steps_required)),
                created: tr.datetime(c.created_at),
                sla: sla(&tr, c, now),
            }
        })
        .collect();
    Ok(QueueList {
        c: ConsoleChrome::new(&s.visitor, String::new(), Some(&s.op)),
        count: tr.tn("console-cases-count", "n", i64::try_from(cases.len()).unwrap_or(i64::MAX)),
        rows,
        query: f.query(),
        refreshed: tr.datetime(now),
    })
}

/// `GET /console/cases`: the queue with its filters.
pub async fn queue(State(state): State<WebState>, s: SignedOperator, Query(f): Query<Filters>) -> Response {
    let tr = s.visitor.tr;
    let (list, error) = match list(&state, &s, &f).await {
        Ok(l) => (l, None),
        Err(p) => (
            QueueList {
                c: ConsoleChrome::new(&s.visitor, String::new(), Some(&s.op)),
                count: String::new(),
                rows: Vec::new(),
                query: f.query(),
                refreshed: tr.datetime(state.app.clock.now()),
            },
            Some(problem_message_in(&tr, "console", &p)),
        ),
    };
    let kinds = [CaseKind::Verification, CaseKind::Guardian, CaseKind::RiskFreeze, CaseKind::CardRisk, CaseKind::Revocation]
        .map(|k| (k.as_str(), tr.t(&format!("console-kind-{}", k.as_str()))));
    let statuses = [CaseStatus::WaitingForUser, CaseStatus::Approved, CaseStatus::Rejected]
        .map(|k| (k.as_str(), tr.t(&format!("console-status-{}", k.as_str()))));
    let page = QueuePage {
        c: ConsoleChrome::new(&s.visitor, tr.t("console-cases-title"), Some(&s.op)),
        list_html: list.render().unwrap_or_default(),
        kinds: choices(&tr, &f.kind, "console-filter-any", &kinds),
        // Open is the default view: the first choice.
        statuses: {
            let mut v = vec![Choice { value: "", label: tr.t("console-status-open"), selected: f.status.is_empty() || f.status == "open" }];
            v.extend(statuses.iter().map(|(value, label)| Choice { value, label: label.clone(), selected: f.status == *value }));
            v
        },
        assignees: choices(
            &tr,
            &f.assignee,
            "console-filter-anyone",
            &[("me", tr.t("console-filter-me")), ("unassigned", tr.t("console-unassigned"))],
        ),
        breached_only: f.breached == "1",
        error,
    };
    (cookies(&s.visitor), html(StatusCode::OK, &page)).into_response()
}

/// `GET /console/cases/list`: the list alone, what htmx swaps in every 30 s.
pub async fn queue_fragment(State(state): State<WebState>, s: SignedOperator, Query(f): Query<Filters>) -> Response {
    match list(&state, &s, &f).await {
        Ok(l) => html(StatusCode::OK, &l),
        // A failed refresh keeps the list shown (htmx swaps nothing on a 204).
        Err(_) => StatusCode::NO_CONTENT.into_response(),
    }
}

/// A line of the case's history.
pub struct Event {
    pub at: String,
    pub who: String,
    pub what: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "console/case.html")]
struct CasePage {
    c: ConsoleChrome,
    id: String,
    kind: String,
    what: String,
    reference: String,
    status: String,
    open: bool,
    subject: String,
    subject_tail: String,
    assignee: String,
    steps: String,
    sla: Sla,
    history: Vec<Event>,
    /// The operator may act (a reviewer) on this open case.
    can_act: bool,
    held_by_me: bool,
    /// Why this operator cannot take the next step (dual control), if so.
    second_needed: Option<String>,
    reasons: Vec<(&'static str, String)>,
    /// The holder may ask the user for more information (document and guardian cases).
    can_ask: bool,
    info_reasons: Vec<(&'static str, String)>,
    /// While the case waits for the user: what was asked, and since when.
    waiting: Option<String>,
    /// A social-security card risk: the binding's province and step, and why it was frozen.
    card_risk: Option<String>,
    /// A revocation review: what is asked, on which document, with which guardian.
    revocation: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    #[serde(default)]
    done: String,
}

fn parse_case(id: &str) -> Option<CaseId> {
    CaseId::parse(id).ok()
}

async fn case_page(
    state: &WebState,
    s: &SignedOperator,
    id: &CaseId,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response, Problem> {
    let tr = s.visitor.tr;
    let Some(c) = state.app.store.case(id).await? else {
        return Err(Problem::from(idlink_core::reviews::ReviewError::NotFound));
    };
    let now = state.app.clock.now();
    let who = names(state, c.decisions.iter().chain(&c.voided_decisions).map(|d| d.operator_id.clone()).chain(c.claimed_by.clone())).await;
    let decision = |d: &idlink_core::ports::reviews::Decision, voided: bool| {
        let key = match (d.approve, voided) {
            (true, false) => "console-history-approved",
            (false, false) => "console-history-rejected",
            // A decision on evidence the user's answer replaced: void, the steps are taken again.
            (true, true) => "console-history-approved-voided",
            (false, true) => "console-history-rejected-voided",
        };
        (
            d.at,
            Event {
                at: tr.datetime(d.at),
                who: who.get(&d.operator_id).cloned().unwrap_or_default(),
                what: tr.t1(key, "step", &d.step.to_string()),
                note: reason_text(&tr, &d.note),
            },
        )
    };
    let mut history: Vec<(Timestamp, Event)> =
        c.voided_decisions.iter().map(|d| decision(d, true)).chain(c.decisions.iter().map(|d| decision(d, false))).collect();
    // Requests for more information, the notes to the user and the user's
    // answers (their words are what the reviewer needs): both sealed under
    // the user's key, opened for a reviewer only, an audited read.
    let opened = if s.may_review().is_some() {
        read_answers(state.app.store.as_ref(), &state.app.vault, state.app.clock.as_ref(), &s.op, &c, s.visitor.request_id.as_ref()).await?
    } else {
        Default::default()
    };
    let words = |text: Option<&AnswerText>, hidden: &str| match text {
        Some(AnswerText::Read(text)) => text.clone(),
        Some(AnswerText::Unavailable) => tr.t("console-answer-unavailable"),
        None => tr.t(hidden),
    };
    let askers = names(state, c.requests.iter().map(|r| r.operator_id.clone())).await;
    for r in &c.requests {
        let shown = opened.get(&r.seq);
        history.push((
            r.requested_at,
            Event {
                at: tr.datetime(r.requested_at),
                who: askers.get(&r.operator_id).cloned().unwrap_or_default(),
                what: tr.t1("console-history-asked", "reason", &tr.t(&format!("console-info-reason-{}", r.reason.as_str()))),
                note: words(shown.map(|o| &o.note), "console-note-reviewers-only"),
            },
        ));
        if let Some(at) = r.answered_at {
            // What the user sent again is said in words: the reviewers see only the masked number.
            let what = match r.resent.as_deref() {
                Some("document") => "console-history-answered-document",
                Some("evidence") => "console-history-answered-evidence",
                _ => "console-history-answered",
            };
            history.push((
                at,
                Event {
                    at: tr.datetime(at),
                    who: tr.t("console-the-user"),
                    what: tr.t(what),
                    note: words(shown.and_then(|o| o.answer.as_ref()), "console-answer-reviewers-only"),
                },
            ));
        }
    }
    // The case's audit records: claims and releases (decisions are listed above from the case itself).
    let records = state.app.store.audit_records_of_user(&c.subject, 500).await?;
    let purpose = format!("review {}", c.kind.as_str());
    let mut actors = HashMap::new();
    for r in records.iter().filter(|r| r.entry.purpose == purpose && matches!(r.entry.action.as_str(), "review.claim" | "review.release")) {
        if r.entry.at < c.created_at {
            continue;
        }
        let actor = r.entry.actor.strip_prefix("operator:").unwrap_or(&r.entry.actor).to_owned();
        if !actors.contains_key(&actor) {
            let name = match OperatorId::parse(&actor) {
                Ok(op) => state.app.store.operator(&op).await.ok().flatten().map_or(actor.clone(), |o| o.username),
                Err(_) => actor.clone(),
            };
            actors.insert(actor.clone(), name);
        }
        let key = if r.entry.action == "review.claim" { "console-history-claimed" } else { "console-history-released" };
        history.push((
            r.entry.at,
            Event {
                at: tr.datetime(r.entry.at),
                who: actors.get(&actor).cloned().unwrap_or_default(),
                what: tr.t(key),
                note: String::new(),
            },
        ));
    }
    history.sort_by_key(|(at, _)| *at);
    let open = c.status == CaseStatus::Open;
    let reviewer = s.may_review();
    let waiting = c.open_request().map(|r| {
        let reason = tr.t(&format!("console-info-reason-{}", r.reason.as_str()));
        format!(
            "{} {}",
            tr.t1("console-waiting-user", "reason", &reason),
            tr.t1("console-waiting-since", "time", &tr.datetime(r.requested_at))
        )
    });
    // A freeze lift this operator proposed counts as their step (dual control, ADR 0015).
    let proposed_lift = c.kind == CaseKind::RiskFreeze
        && state.app.dual_control().pending_freeze_lift(&s.op, &c.id).await.ok().flatten().is_some_and(|p| p.proposed_by == s.op.id);
    let took_a_step = proposed_lift || c.decisions.iter().any(|d| d.operator_id == s.op.id);
    let (subject, subject_tail) = masked_subject(&c);
    let card_risk = match c.kind {
        CaseKind::CardRisk => state.app.store.ss_binding(&c.reference).await?.map(|b| {
            let reason = b.risk_reason.as_deref().or(b.risk_cleared.as_deref()).unwrap_or_default();
            let (code, detail) = reason.split_once(':').unwrap_or((reason, ""));
            let key = format!("console-card-risk-{}", code.replace('_', "-"));
            let why = if crate::i18n::has_key(tr.locale, &key) { tr.t1(&key, "detail", detail) } else { reason.to_owned() };
            tr.ta(
                "console-card-risk-line",
                &[("region", &b.region), ("step", &tr.t(&format!("ss-step-{}", b.step.as_str()))), ("why", &why)],
            )
        }),
        _ => None,
    };
    let revocation = match c.kind {
        CaseKind::Revocation => Some(revocation_line(state, &tr, &c).await?),
        _ => None,
    };
    let page = CasePage {
        c: ConsoleChrome::new(&s.visitor, tr.t("console-case-title"), Some(&s.op)),
        id: c.id.to_string(),
        kind: tr.t(&format!("console-kind-{}", c.kind.as_str())),
        what: tr.t(&format!("console-what-{}", c.kind.as_str())),
        // A freeze's reference is the user's own id: shown masked like the subject.
        // A revocation review's reference holds the user's id and the operation: the operation is what to show.
        reference: match c.kind {
            CaseKind::Revocation => operation_words(&tr, &c),
            _ if c.reference == c.subject.as_str() => masked_subject(&c).0,
            _ => c.reference.clone(),
        },
        status: tr.t(&format!("console-status-{}", c.status.as_str())),
        open,
        subject,
        subject_tail,
        assignee: c.claimed_by.as_ref().and_then(|id| who.get(id).cloned()).unwrap_or_else(|| tr.t("console-unassigned")),
        steps: tr.t1("console-steps", "text", &format!("{}/{}", c.decisions.len(), c.steps_required)),
        sla: sla(&tr, &c, now),
        history: history.into_iter().map(|(_, e)| e).collect(),
        can_act: open && reviewer.is_some(),
        held_by_me: c.claimed_by.as_ref() == Some(&s.op.id),
        second_needed: (open && took_a_step).then(|| tr.t("console-problem-second_operator_required")),
        reasons: REASONS.iter().map(|r| (*r, tr.t(&format!("console-reason-{r}")))).collect(),
        can_ask: open
            && reviewer.is_some()
            && !matches!(c.kind, CaseKind::RiskFreeze | CaseKind::CardRisk | CaseKind::Revocation)
            && c.claimed_by.as_ref() == Some(&s.op.id),
        info_reasons: InfoReason::ALL.iter().map(|r| (r.as_str(), tr.t(&format!("console-info-reason-{}", r.as_str())))).collect(),
        waiting,
        card_risk,
        revocation,
        error,
        notice,
    };
    let status = if page.error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    Ok((cookies(&s.visitor), html(status, &page)).into_response())
}

/// The operation a revocation review is about, in words.
fn operation_words(tr: &Tr, c: &CaseRow) -> String {
    let operation = c.reference.rsplit(':').next().unwrap_or_default();
    tr.t(&format!("revoke-choice-{}", operation.replace('_', "-")))
}

/// What a reviewer of a revocation request weighs: the document the real
/// name rests on and the user's guardian links (a minor's guardian answers
/// for them; the evidence is the host app's reference to it).
async fn revocation_line(state: &WebState, tr: &Tr, c: &CaseRow) -> Result<String, Problem> {
    let document = match state.app.store.identity(&c.subject).await? {
        Some(i) => word(tr, "identity-doc-", i.document_type.as_str()),
        None => tr.t("console-revocation-no-identity"),
    };
    let guardians: Vec<String> = state
        .app
        .store
        .guardianships_of(&c.subject)
        .await?
        .into_iter()
        .filter(|g| g.minor == c.subject)
        .map(|g| {
            tr.ta(
                "console-revocation-guardian",
                &[
                    ("relationship", &word(tr, "guardian-relationship-", &g.relationship)),
                    ("status", &word(tr, "console-people-guardian-status-", g.status.as_str())),
                    ("evidence", &g.evidence_ref),
                    ("link", g.id.as_str()),
                ],
            )
        })
        .collect();
    let guardians = if guardians.is_empty() { tr.t("console-revocation-no-guardian") } else { guardians.join(" ") };
    Ok(tr.ta("console-revocation-line", &[("operation", &operation_words(tr, c)), ("document", &document), ("guardians", &guardians)]))
}

/// A decision's note as stored (`reason:<code>` and the reviewer's words) in the reader's language.
fn reason_text(tr: &Tr, note: &str) -> String {
    match note.strip_prefix("reason:") {
        Some(rest) => {
            let (code, words) = rest.split_once(' ').unwrap_or((rest, ""));
            let label = if REASONS.contains(&code) { tr.t(&format!("console-reason-{code}")) } else { code.to_owned() };
            if words.trim().is_empty() { label } else { format!("{label}: {}", words.trim()) }
        }
        None => note.to_owned(),
    }
}

fn problem_page(v: &Visitor, op: &OperatorRow, p: &Problem) -> Response {
    let message = problem_message_in(&v.tr, "console", p);
    message_page(v, Some(op), StatusCode::from_u16(p.status).unwrap_or(StatusCode::CONFLICT), &message)
}

/// `GET /console/cases/{id}`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>, Query(q): Query<Shown>) -> Response {
    let Some(id) = parse_case(&id) else {
        return problem_page(&s.visitor, &s.op, &Problem::from(idlink_core::reviews::ReviewError::NotFound));
    };
    let notice = match q.done.as_str() {
        "claimed" | "released" | "approved" | "rejected" | "step" | "asked" => Some(s.visitor.tr.t(&format!("console-done-{}", q.done))),
        _ => None,
    };
    case_page(&state, &s, &id, None, notice).await.unwrap_or_else(|p| problem_page(&s.visitor, &s.op, &p))
}

/// After an action: the case page again, with what happened or why not.
async fn after(state: &WebState, r: &Reviewer, id: &CaseId, outcome: Result<&'static str, Problem>) -> Response {
    let s = r.signed();
    match outcome {
        Ok(done) => Redirect::to(&format!("/console/cases/{id}?done={done}")).into_response(),
        Err(p) => {
            let message = problem_message_in(&s.visitor.tr, "console", &p);
            case_page(state, s, id, Some(message), None).await.unwrap_or_else(|p| problem_page(&s.visitor, &s.op, &p))
        }
    }
}

/// The review use cases acting for this page's request (named in their audit records).
fn reviews<'a>(state: &'a WebState, s: &SignedOperator) -> idlink_core::reviews::Reviews<'a> {
    state.app.reviews().for_request(s.visitor.request_id.as_ref())
}

/// `POST /console/cases/{id}/claim`.
pub async fn claim(State(state): State<WebState>, r: Reviewer, Path(id): Path<String>) -> Response {
    let Some(id) = parse_case(&id) else {
        return problem_page(&r.signed().visitor, &r.signed().op, &Problem::from(idlink_core::reviews::ReviewError::NotFound));
    };
    let outcome = reviews(&state, r.signed()).claim(&r.signed().op, &id).await.map(|_| "claimed").map_err(Problem::from);
    after(&state, &r, &id, outcome).await
}

/// `POST /console/cases/{id}/release`.
pub async fn release(State(state): State<WebState>, r: Reviewer, Path(id): Path<String>) -> Response {
    let Some(id) = parse_case(&id) else {
        return problem_page(&r.signed().visitor, &r.signed().op, &Problem::from(idlink_core::reviews::ReviewError::NotFound));
    };
    let outcome = reviews(&state, r.signed()).release(&r.signed().op, &id).await.map(|_| "released").map_err(Problem::from);
    after(&state, &r, &id, outcome).await
}

/// Approving a risk-freeze case lifts the freeze, a dual-control action
/// (ADR 0015): the first reviewer's approval proposes the lift, a second
/// reviewer's approves that proposal and the freeze lifts. The proposer
/// approving again is refused in the same words as any two-step case.
async fn lift_freeze(state: &WebState, op: &OperatorRow, id: &CaseId, note: &str) -> Result<&'static str, Problem> {
    use idlink_core::dual::{DualControlError, Proposed};
    let dual = state.app.dual_control();
    match dual.pending_freeze_lift(op, id).await.map_err(Problem::from)? {
        None => dual.propose(op, Proposed::LiftFreeze { case_id: id.clone() }, note).await.map(|_| "step").map_err(Problem::from),
        Some(p) => match dual.approve(op, &p.id, note).await {
            Ok(_) => Ok("approved"),
            Err(DualControlError::OwnProposal) => Err(Problem::from(idlink_core::reviews::ReviewError::SameOperator)),
            Err(e) => Err(Problem::from(e)),
        },
    }
}

#[derive(Debug, Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/cases/{id}/decide`: approve, or reject with a reason code.
pub async fn decide(State(state): State<WebState>, r: Reviewer, Path(id): Path<String>, Form(f): Form<DecideForm>) -> Response {
    let s = r.signed();
    let Some(id) = parse_case(&id) else {
        return problem_page(&s.visitor, &s.op, &Problem::from(idlink_core::reviews::ReviewError::NotFound));
    };
    let tr = s.visitor.tr;
    let words: String = f.note.trim().chars().take(400).collect();
    let (approve, note) = match f.decision.as_str() {
        "approve" => (true, if words.is_empty() { "approved in the console".to_owned() } else { words }),
        "reject" if REASONS.contains(&f.reason.as_str()) => (false, format!("reason:{} {words}", f.reason).trim().to_owned()),
        "reject" => {
            let message = tr.t("console-field-reason-required");
            return case_page(&state, s, &id, Some(message), None).await.unwrap_or_else(|p| problem_page(&s.visitor, &s.op, &p));
        }
        _ => return Redirect::to(&format!("/console/cases/{id}")).into_response(),
    };
    if approve && state.app.store.case(&id).await.ok().flatten().is_some_and(|c| c.kind == CaseKind::RiskFreeze) {
        let outcome = lift_freeze(&state, &s.op, &id, &note).await;
        return after(&state, &r, &id, outcome).await;
    }
    let outcome = reviews(&state, s).decide(&s.op, &id, approve, &note).await.map_err(Problem::from).map(|c| match c.status {
        CaseStatus::Approved => "approved",
        CaseStatus::Rejected => "rejected",
        CaseStatus::Open | CaseStatus::WaitingForUser => "step",
    });
    after(&state, &r, &id, outcome).await
}

#[derive(Debug, Deserialize)]
pub struct AskForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/cases/{id}/request-info`: asks the user for more information with a reason code.
pub async fn request_info(State(state): State<WebState>, r: Reviewer, Path(id): Path<String>, Form(f): Form<AskForm>) -> Response {
    let s = r.signed();
    let Some(id) = parse_case(&id) else {
        return problem_page(&s.visitor, &s.op, &Problem::from(idlink_core::reviews::ReviewError::NotFound));
    };
    let Some(reason) = InfoReason::parse(&f.reason) else {
        let message = s.visitor.tr.t("console-field-info-reason-required");
        return case_page(&state, s, &id, Some(message), None).await.unwrap_or_else(|p| problem_page(&s.visitor, &s.op, &p));
    };
    let note: String = f.note.trim().chars().take(400).collect();
    let outcome = reviews(&state, s).request_info(&s.op, &id, reason, &note).await.map(|_| "asked").map_err(Problem::from);
    after(&state, &r, &id, outcome).await
}

#[cfg(test)]
mod tests {
    use crate::i18n::{Locale, has_key};
    use idlink_core::ports::reviews::{CaseStatus, InfoReason};

    /// The keys of a request for more information, built at run time, exist in every language.
    #[test]
    fn every_request_key_exists() {
        let mut built: Vec<String> = InfoReason::ALL.iter().map(|r| format!("console-info-reason-{}", r.as_str())).collect();
        built.extend(CaseStatus::ALL.iter().map(|s| format!("console-status-{}", s.as_str())));
        built.extend(["case_awaiting_user", "case_not_held", "case_asks_nothing"].map(|p| format!("console-problem-{p}")));
        built.push("console-done-asked".to_owned());
        built.extend(
            [
                "history-approved-voided",
                "history-rejected-voided",
                "history-answered-document",
                "history-answered-evidence",
                "note-reviewers-only",
            ]
            .map(|k| format!("console-{k}")),
        );
        for locale in Locale::ALL {
            for key in &built {
                assert!(has_key(locale, key), "{}: `{key}` missing", locale.tag());
            }
        }
    }
}
