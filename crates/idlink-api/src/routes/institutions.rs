//! Operator API for institution health (issue 13 point 6, SPEC OP2; ADR
//! 0018): `GET /v1/operator/institutions/health` (this node's figures per
//! institution and channel, with the calendar beside them) and the
//! maintenance calendar (`/v1/operator/institutions/maintenance`: list,
//! schedule, cancel; admins change it, every change is audited).

use crate::extract::{Body, Causes, PathId, Validate};
use crate::problem::Problem;
use crate::routes::operator::OperatorAuth;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idlink_core::institutions::{HealthReport, NewWindow, kind_of};
use idlink_core::ports::institutions::{BreakerView, ChannelHealth, MaintenanceWindow};
use idlink_domain::MaintenanceId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This area's operator routes (behind the operator session).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(calendar, schedule)).routes(routes!(cancel))
}

/// A scheduled maintenance window.
#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    #[schema(example = "mnt_0123456789abcdef0123456789abcdef")]
    pub id: String,
    /// As the connectors name it: `sms`, `face`, `registry`, `bank:ICBC`.
    #[schema(example = "bank:ICBC")]
    pub institution: String,
    /// `card_switch`, `direct`, …; absent: every channel of the institution.
    pub channel: Option<String>,
    pub starts_at: String,
    /// Calls are refused with 503 and this expected end until then.
    pub ends_at: String,
    pub note: String,
    /// The admin who scheduled it.
    pub created_by: String,
    pub created_at: String,
    pub cancelled_at: Option<String>,
}

impl From<MaintenanceWindow> for Window {
    fn from(w: MaintenanceWindow) -> Self {
        Window {
            id: w.id.into(),
            institution: w.institution,
            channel: w.channel,
            starts_at: w.starts_at.to_string(),
            ends_at: w.ends_at.to_string(),
            note: w.note,
            created_by: w.created_by.into(),
            created_at: w.created_at.to_string(),
            cancelled_at: w.cancelled_at.map(|t| t.to_string()),
        }
    }
}

/// A circuit breaker's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Breaker {
    /// `closed` (calls pass), `open` (refused without calling until `open_until`), `half_open` (one probe on its way).
    pub state: String,
    /// Consecutive outages so far (closed only).
    pub failures: Option<u32>,
    pub open_until: Option<String>,
}

/// A failover away from a channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailoverView {
    pub at: String,
    pub from: String,
    pub to: String,
    /// Why the channel could not serve: `circuit_open`, `maintenance`, `timeout`, `unreachable`,
    /// `http_error`, `protocol_error` or `not_configured`.
    pub reason: String,
    /// For `maintenance`: its expected end, if known.
    pub maintenance_until: Option<String>,
}

/// One institution over one channel, as this node measured it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    #[schema(example = "bank:ICBC")]
    pub institution: String,
    /// `bank`, `sms`, `face`, `registry`, …
    pub kind: String,
    #[schema(example = "direct")]
    pub channel: String,
    /// Calls in the rolling window.
    pub calls: u32,
    /// Calls the institution could not serve (timeout, unreachable, 5xx,
    /// maintenance, or an answer that could not be used).
    pub errors: u32,
    /// `errors / calls`, 0 to 1.
    pub error_rate: f64,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub breaker: Breaker,
    /// The end of a maintenance the institution itself announced (503 with Retry-After), while it lasts.
    pub announced_maintenance_until: Option<String>,
    /// The scheduled window refusing calls now, if any (the one ending last).
    pub scheduled_now: Option<Window>,
    /// When calls are served again if a scheduled window refuses them now:
    /// covering and contiguous windows merged, the end a refused call is told.
    pub scheduled_until: Option<String>,
    /// The next scheduled window that has not started.
    pub scheduled_next: Option<Window>,
    pub last_failover: Option<FailoverView>,
    pub last_call_at: Option<String>,
}

/// Institution health on the node that answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    pub at: String,
    /// Always true: each node measures its own calls; other nodes may see otherwise.
    pub per_node: bool,
    /// The rolling window: its length in seconds and its cap in calls per channel.
    pub window_secs: u64,
    pub window_calls: u32,
    pub channels: Vec<ChannelView>,
    /// Scheduled windows not over yet, soonest first.
    pub calendar: Vec<Window>,
}

fn breaker_view(b: BreakerView) -> Breaker {
    match b {
        BreakerView::Closed { failures } => Breaker { state: "closed".into(), failures: Some(failures), open_until: None },
        BreakerView::Open { until } => Breaker { state: "open".into(), failures: None, open_until: Some(until.to_string()) },
        BreakerView::HalfOpen => Breaker { state: "half_open".into(), failures: None, open_until: None },
    }
}

fn channel_view(r: &HealthReport, c: ChannelHealth) -> ChannelView {
    ChannelView {
        kind: kind_of(&c.institution).to_owned(),
        error_rate: c.error_rate(),
        scheduled_now: r.scheduled_now(&c.institution, &c.channel).cloned().map(Window::from),
        scheduled_until: r.scheduled_until(&c.institution, &c.channel).map(|t| t.to_string()),
        scheduled_next: r.scheduled_next(&c.institution, &c.channel).cloned().map(Window::from),
        calls: c.calls,
        errors: c.errors,
        p50_ms: c.p50_ms,
        p99_ms: c.p99_ms,
        breaker: breaker_view(c.breaker),
        announced_maintenance_until: c.announced_until.map(|t| t.to_string()),
        last_failover: c.last_failover.map(|f| FailoverView {
            at: f.at.to_string(),
            from: f.from,
            to: f.to,
            reason: f.reason.to_owned(),
            maintenance_until: f.maintenance_until.map(|t| t.to_string()),
        }),
        last_call_at: c.last_call_at.map(|t| t.to_string()),
        institution: c.institution,
        channel: c.channel,
    }
}

/// Breaker state, error rate, latency, maintenance (announced and scheduled) and the last failover of
/// every institution and channel, as measured by the node that answers (figures are per node).
#[utoipa::path(get, path = "/v1/operator/institutions/health", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = HealthView), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn health(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<HealthView>, Problem> {
    let mut r = state.institution_health().report(&op).await?;
    let channels = std::mem::take(&mut r.channels);
    Ok(Json(HealthView {
        at: r.at.to_string(),
        per_node: true,
        window_secs: r.window_secs,
        window_calls: r.window_calls,
        channels: channels.into_iter().map(|c| channel_view(&r, c)).collect(),
        calendar: r.calendar.iter().cloned().map(Window::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Calendar {
    /// Windows not over yet, soonest first.
    pub windows: Vec<Window>,
}

/// The maintenance calendar: scheduled windows not over yet.
#[utoipa::path(get, path = "/v1/operator/institutions/maintenance", tag = "operators",
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Calendar), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn calendar(State(state): State<AppState>, OperatorAuth(op): OperatorAuth) -> Result<Json<Calendar>, Problem> {
    let windows = state.institution_health().calendar(&op).await?;
    Ok(Json(Calendar { windows: windows.into_iter().map(Window::from).collect() }))
}

/// Body of `POST /v1/operator/institutions/maintenance`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleWindow {
    /// As the health endpoint names it: `sms`, `face`, `registry`, `bank:ICBC`.
    #[schema(min_length = 1, max_length = 64, example = "bank:ICBC")]
    institution: String,
    /// One channel (`card_switch`, `direct`, …); absent: every channel.
    #[schema(min_length = 1, max_length = 32, example = "direct")]
    channel: Option<String>,
    /// RFC 3339 instant.
    #[schema(format = DateTime, example = "2026-12-05T18:00:00Z")]
    starts_at: String,
    /// RFC 3339 instant, after `starts_at` and now, at most 7 days after `starts_at`.
    #[schema(format = DateTime, example = "2026-12-05T20:00:00Z")]
    ends_at: String,
    /// What the maintenance is (shown on the health page, kept in the audit log).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S", example = "Core banking upgrade announced by ICBC.")]
    note: String,
}

impl Validate for ScheduleWindow {
    type Valid = NewWindow;
    fn validate(self, c: &mut Causes) -> Option<NewWindow> {
        let instant = |c: &mut Causes, field: &str, raw: &str| {
            c.parse(field, "invalid_instant", raw, |r: &str| {
                r.parse::<jiff::Timestamp>().map_err(|_| "an RFC 3339 instant, e.g. 2026-12-05T18:00:00Z")
            })
        };
        let starts_at = instant(c, "starts_at", &self.starts_at);
        let ends_at = instant(c, "ends_at", &self.ends_at);
        let name_ok = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-')
        };
        let ok_i = c.check(
            "institution",
            !name_ok(&self.institution, 64),
            "invalid_institution",
            "`institution` as the health endpoint names it.",
        );
        let ok_c = c.check(
            "channel",
            self.channel.as_deref().is_some_and(|ch| !name_ok(ch, 32)),
            "invalid_channel",
            "`channel` as the health endpoint names it, or absent for every channel.",
        );
        let ok_n = c.check(
            "note",
            self.note.trim().is_empty() || self.note.chars().count() > 500,
            "invalid_note",
            "`note` says what the maintenance is, 1 to 500 characters.",
        );
        let (starts_at, ends_at) = (starts_at?, ends_at?);
        (ok_i && ok_c && ok_n).then(|| NewWindow {
            institution: self.institution,
            channel: self.channel,
            starts_at,
            ends_at,
            note: self.note.trim().to_owned(),
        })
    }
}

/// Schedules a maintenance window (role admin): during it, calls to the institution (or its channel)
/// are answered 503 with the expected end without calling it, and a bank's traffic fails over to its
/// other channel. Audited.
#[utoipa::path(post, path = "/v1/operator/institutions/maintenance", tag = "operators",
    request_body = ScheduleWindow,
    params(("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 201, body = Window), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn schedule(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(w): Body<ScheduleWindow>,
) -> Result<Response, Problem> {
    let w = state.institution_health().schedule(&op, w).await?;
    Ok((StatusCode::CREATED, Json(Window::from(w))).into_response())
}

/// Cancels a scheduled window (role admin): calls reach the institution again at once on this node, and on the others within 15 s (their calendar reload). Audited.
#[utoipa::path(post, path = "/v1/operator/institutions/maintenance/{maintenance_id}/cancel", tag = "operators",
    params(("maintenance_id" = String, Path, pattern = r"^mnt_[A-Za-z0-9_-]{1,64}$", example = "mnt_0123456789abcdef0123456789abcdef", description = "The window."), ("Idlink-Operator" = String, Header, description = "Operator session token.")),
    responses((status = 200, body = Window), (status = "4XX", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    PathId(id): PathId<MaintenanceId>,
) -> Result<Json<Window>, Problem> {
    let w = state.institution_health().cancel(&op, &id).await?;
    Ok(Json(Window::from(w)))
}
