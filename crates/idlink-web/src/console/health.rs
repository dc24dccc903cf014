//! Institution health (SPEC OP2, BK2, BK5; issue 13 point 6; ADR 0018):
//! `/console/health` shows, per institution kind, a table per institution
//! and channel (for banks: per bank, over the card switch and directly)
//! with the breaker's state in words, the error rate, latency p50/p99, the
//! maintenance announced by the institution or scheduled in the calendar,
//! and the last failover. The figures are this node's (the page says so).
//! Admins keep the maintenance calendar here too (schedule, cancel); every
//! rule is the core's (`Institutions`), which audits each change.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::i18n::Tr;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::institutions::{HealthReport, NewWindow, kind_of};
use idlink_core::ports::institutions::{BreakerView, ChannelHealth, MaintenanceWindow};
use idlink_core::ports::operators::{Role, require};
use idlink_domain::MaintenanceId;
use serde::Deserialize;

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/console/health", get(show))
        .route("/console/health/maintenance", post(schedule))
        .route("/console/health/maintenance/{id}/cancel", post(cancel))
}

/// The failover reasons the connectors give (`Failover::reason`), each worded in the catalogues.
pub const REASONS: &[&str] = &["circuit_open", "maintenance", "timeout", "unreachable", "http_error", "protocol_error", "not_configured"];

/// The institution kinds, in the order the page shows them.
pub const KINDS: &[&str] = &["bank", "sms", "face", "registry", "bureau", "payment", "ssb", "host", "witness"];

/// One institution over one channel as the page shows it.
pub struct Row {
    pub id: String,
    pub institution: String,
    pub channel: String,
    /// The roster's configured channel for this bank (the other one is the fallback).
    pub configured: bool,
    /// `closed`, `failing`, `open` or `half-open`: a class for colour; the words say the same.
    pub breaker_class: &'static str,
    pub breaker: String,
    pub error_rate: String,
    pub latency: String,
    pub calls: String,
    /// Announced and scheduled maintenance, now or next, in words (empty: none).
    pub maintenance: Vec<String>,
    pub failover: Option<String>,
}

/// One institution kind's table.
pub struct Section {
    pub kind: String,
    pub heading: String,
    pub rows: Vec<Row>,
}

/// A calendar entry.
pub struct Entry {
    pub id: String,
    pub target: String,
    pub from: String,
    pub until: String,
    pub note: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "console/health.html")]
struct HealthPage {
    c: ConsoleChrome,
    intro: String,
    sections: Vec<Section>,
    calendar: Vec<Entry>,
    /// Admins keep the calendar: the targets they can schedule (value, label).
    targets: Vec<(String, String)>,
    may_schedule: bool,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// A bank channel as the connectors name it.
fn channel_name(c: idlink_domain::roster::Channel) -> &'static str {
    match c {
        idlink_domain::roster::Channel::CardSwitch => "card_switch",
        idlink_domain::roster::Channel::Direct => "direct",
    }
}

fn channel_label(tr: &Tr, channel: &str) -> String {
    let key = format!("console-health-channel-{channel}");
    if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { channel.to_owned() }
}

fn institution_label(state: &WebState, institution: &str) -> String {
    if let Some(code) = institution.strip_prefix("bank:") {
        return state.app.roster.bank(code).map_or_else(|| code.to_owned(), |b| format!("{} ({code})", b.name));
    }
    match institution.strip_prefix("ssb:") {
        Some(p) => state.app.ss_coverage.province(p).map_or_else(|| p.to_owned(), |r| format!("{} ({p})", r.name)),
        None => institution.to_owned(),
    }
}

fn target_label(state: &WebState, tr: &Tr, institution: &str, channel: Option<&str>) -> String {
    let who = institution_label(state, institution);
    match channel {
        Some(c) => format!("{who} · {}", channel_label(tr, c)),
        None => tr.t1("console-health-all-channels", "name", &who),
    }
}

fn span_words(tr: &Tr, w: &MaintenanceWindow) -> (String, String) {
    (tr.datetime(w.starts_at), tr.datetime(w.ends_at))
}

fn row(state: &WebState, tr: &Tr, r: &HealthReport, c: &ChannelHealth) -> Row {
    let (breaker_class, breaker) = match c.breaker {
        BreakerView::Closed { failures: 0 } => ("closed", tr.t("console-health-breaker-closed")),
        BreakerView::Closed { failures } => ("failing", tr.tn("console-health-breaker-failing", "count", i64::from(failures))),
        BreakerView::Open { until } => ("open", tr.t1("console-health-breaker-open", "time", &tr.datetime(until))),
        BreakerView::HalfOpen => ("half-open", tr.t("console-health-breaker-half-open")),
    };
    let error_rate = if c.calls == 0 {
        tr.t("console-health-no-calls")
    } else {
        let pct = c.error_rate() * 100.0;
        tr.t1("console-health-error-rate", "rate", &format!("{pct:.1}"))
    };
    let latency = match (c.p50_ms, c.p99_ms) {
        (Some(p50), Some(p99)) => tr.ta("console-health-latency", &[("p50", &p50.to_string()), ("p99", &p99.to_string())]),
        _ => "—".to_owned(),
    };
    let mut maintenance = Vec::new();
    if let Some(until) = c.announced_until {
        maintenance.push(tr.t1("console-health-announced", "time", &tr.datetime(until)));
    }
    if let Some(until) = r.scheduled_until(&c.institution, &c.channel) {
        maintenance.push(tr.t1("console-health-scheduled-now", "time", &tr.datetime(until)));
    }
    if let Some(w) = r.scheduled_next(&c.institution, &c.channel) {
        let (from, until) = span_words(tr, w);
        maintenance.push(tr.ta("console-health-scheduled-next", &[("from", &from), ("until", &until)]));
    }
    let failover = c.last_failover.as_ref().map(|f| {
        let (at, from, to) = (tr.datetime(f.at), channel_label(tr, &f.from), channel_label(tr, &f.to));
        let reason = match f.maintenance_until {
            Some(end) => tr.t1("console-health-reason-maintenance-until", "time", &tr.datetime(end)),
            None => tr.t(&format!("console-health-reason-{}", f.reason)),
        };
        tr.ta("console-health-failover", &[("time", &at), ("from", &from), ("to", &to), ("reason", &reason)])
    });
    let configured = match c.institution.strip_prefix("bank:") {
        Some(code) => state.app.roster.bank(code).is_some_and(|b| channel_name(b.channel) == c.channel),
        // A social-security bureau's primary channel is its configured one.
        None => c.institution.starts_with("ssb:") && c.channel == "primary",
    };
    Row {
        id: format!("{}-{}", c.institution.replace(':', "-"), c.channel),
        institution: institution_label(state, &c.institution),
        channel: channel_label(tr, &c.channel),
        configured,
        breaker_class,
        breaker,
        error_rate,
        latency,
        calls: c.calls.to_string(),
        maintenance,
        failover,
    }
}

async fn page(state: &WebState, s: &SignedOperator, status: StatusCode, notice: Option<String>, error: Option<String>) -> Response {
    let tr = s.visitor.tr;
    let report = match state.app.institution_health().report(&s.op).await {
        Ok(r) => r,
        Err(e) => {
            let message = problem_message_in(&tr, "console", &Problem::from(e));
            return super::message_page(&s.visitor, Some(&s.op), StatusCode::FORBIDDEN, &message);
        }
    };
    let mut sections: Vec<Section> = Vec::new();
    for c in &report.channels {
        let kind = kind_of(&c.institution);
        let r = row(state, &tr, &report, c);
        match sections.iter_mut().find(|s| s.kind == kind) {
            Some(sec) => sec.rows.push(r),
            None => {
                let key = format!("console-health-kind-{kind}");
                let heading = if crate::i18n::has_key(tr.locale, &key) { tr.t(&key) } else { kind.to_owned() };
                sections.push(Section { kind: kind.to_owned(), heading, rows: vec![r] });
            }
        }
    }
    sections.sort_by_key(|s| KINDS.iter().position(|k| *k == s.kind).unwrap_or(KINDS.len()));
    let calendar = report
        .calendar
        .iter()
        .map(|w| Entry {
            id: w.id.to_string(),
            target: target_label(state, &tr, &w.institution, w.channel.as_deref()),
            from: tr.datetime(w.starts_at),
            until: tr.datetime(w.ends_at),
            note: w.note.clone(),
            active: w.starts_at <= report.at,
        })
        .collect();
    let may_schedule = require(&s.op, Role::Admin).is_ok();
    let mut targets = Vec::new();
    if may_schedule {
        let mut last = "";
        for c in &report.channels {
            if c.institution != last {
                targets.push((c.institution.clone(), target_label(state, &tr, &c.institution, None)));
                last = &c.institution;
            }
            targets.push((format!("{}|{}", c.institution, c.channel), target_label(state, &tr, &c.institution, Some(&c.channel))));
        }
    }
    let (secs, calls) = (report.window_secs, report.window_calls);
    let intro = tr.ta(
        "console-health-intro",
        &[("minutes", &(secs / 60).to_string()), ("calls", &calls.to_string()), ("time", &tr.datetime(report.at))],
    );
    let page = HealthPage {
        c: ConsoleChrome::new(&s.visitor, tr.t("console-health-title"), Some(&s.op)),
        intro,
        sections,
        calendar,
        targets,
        may_schedule,
        notice,
        error,
    };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

/// `GET /console/health`.
pub async fn show(State(state): State<WebState>, s: SignedOperator, Query(q): Query<Done>) -> Response {
    let notice = match q.done.as_str() {
        "scheduled" | "cancelled" => Some(s.visitor.tr.t(&format!("console-health-done-{}", q.done))),
        _ => None,
    };
    page(&state, &s, StatusCode::OK, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    starts: String,
    #[serde(default)]
    ends: String,
    #[serde(default)]
    note: String,
}

/// A `datetime-local` value, read in Asia/Shanghai (the console shows every time there).
fn local_instant(raw: &str) -> Option<jiff::Timestamp> {
    let dt: jiff::civil::DateTime = raw.trim().parse().ok()?;
    dt.to_zoned(idlink_domain::calendar::shanghai()).ok().map(|z| z.timestamp())
}

/// `POST /console/health/maintenance`: an admin schedules a window.
pub async fn schedule(State(state): State<WebState>, s: SignedOperator, Form(f): Form<ScheduleForm>) -> Response {
    let tr = s.visitor.tr;
    let (institution, channel) = match f.target.split_once('|') {
        Some((i, c)) => (i.to_owned(), Some(c.to_owned())),
        None => (f.target.clone(), None),
    };
    let (Some(starts_at), Some(ends_at)) = (local_instant(&f.starts), local_instant(&f.ends)) else {
        return page(&state, &s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(tr.t("console-health-bad-time"))).await;
    };
    let note: String = f.note.trim().chars().take(500).collect();
    if note.is_empty() {
        return page(&state, &s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(tr.t("console-health-note-required"))).await;
    }
    let w = NewWindow { institution, channel, starts_at, ends_at, note };
    match state.app.institution_health().schedule(&s.op, w).await {
        Ok(_) => Redirect::to("/console/health?done=scheduled").into_response(),
        Err(e) => {
            let p = Problem::from(e);
            let status = p.code.status();
            page(&state, &s, status, None, Some(problem_message_in(&tr, "console", &p))).await
        }
    }
}

/// `POST /console/health/maintenance/{id}/cancel`: an admin cancels a window.
pub async fn cancel(State(state): State<WebState>, s: SignedOperator, Path(id): Path<String>) -> Response {
    let Ok(id) = MaintenanceId::parse(&id) else { return Redirect::to("/console/health").into_response() };
    match state.app.institution_health().cancel(&s.op, &id).await {
        Ok(_) => Redirect::to("/console/health?done=cancelled").into_response(),
        Err(e) => {
            let p = Problem::from(e);
            let status = p.code.status();
            page(&state, &s, status, None, Some(problem_message_in(&s.visitor.tr, "console", &p))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::i18n::{Locale, has_key};

    /// Keys this page builds at run time (kinds, channels, failover reasons) exist in every language.
    #[test]
    fn every_built_key_exists() {
        let channels = ["card_switch", "direct", "gateway", "provider", "main"];
        let built = super::KINDS
            .iter()
            .map(|k| format!("console-health-kind-{k}"))
            .chain(channels.iter().map(|c| format!("console-health-channel-{c}")))
            .chain(super::REASONS.iter().map(|r| format!("console-health-reason-{r}")))
            .chain(["scheduled", "cancelled"].iter().map(|d| format!("console-health-done-{d}")))
            .chain(
                ["institution_unknown", "maintenance_period_invalid", "maintenance_not_found", "maintenance_overlaps"]
                    .iter()
                    .map(|p| format!("console-problem-{p}")),
            );
        for key in built {
            for locale in Locale::ALL {
                assert!(has_key(locale, &key), "{}: `{key}` missing", locale.tag());
            }
        }
    }
}
