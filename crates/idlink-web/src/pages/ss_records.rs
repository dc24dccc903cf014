//! `/h5/social-security/{id}/accounts` and `/services`: what a bound card
//! gives its holder (SPEC SS3, issue 16). The accounts page shows the
//! pension and medical accounts the holder chose, each balance with its
//! monthly statement, and says where the figures come from and when the
//! bureau gave them; the services page lists the holder's requests with
//! their status (read from the bureau as the page opens) and files a new
//! one: an off-site medical filing or a transfer names the other region, a
//! retirement certification is the holder's face check. Every rule is the
//! core's (`SocialSecurity::accounts`, `SsServices`); these pages word it.

use crate::WebState;
use crate::ctx::Signed;
use crate::i18n::{Locale, Tr};
use crate::pages::credit::{Capture, captures};
use crate::pages::render::{Chrome, FormErrors, html, problem_message_in};
use crate::pages::social_security::{actor, binding_path, problem_page, region_name, words};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use idlink_api::Problem;
use idlink_core::ports::social_security::Account;
use idlink_core::ss_services::ServiceView;
use idlink_domain::Fen;
use idlink_domain::ss_binding::Status;
use idlink_domain::ss_service::{ServiceKind, ServiceStatus};
use serde::Deserialize;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/h5/social-security/{id}/accounts", get(accounts))
        .route("/h5/social-security/{id}/services", get(services).post(file))
        .route("/h5/social-security/{id}/services/retirement", post(retirement).get(to_services))
}

/// A `YYYY-MM` month as the language writes it.
fn month(tr: &Tr, ym: &str) -> String {
    const EN: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let Some((y, m)) = ym.split_once('-') else { return ym.to_owned() };
    let number = m.parse::<usize>().ok().filter(|n| (1..=12).contains(n));
    match (tr.locale, number) {
        (Locale::ZhCn | Locale::ZhHk, Some(n)) => format!("{y}年{n}月"),
        (Locale::En, Some(n)) => EN.get(n - 1).map_or_else(|| ym.to_owned(), |name| format!("{name} {y}")),
        _ => ym.to_owned(),
    }
}

/// One account as the page shows it.
pub struct AccountView {
    pub id: &'static str,
    pub title: String,
    pub balance: String,
    pub lines: Vec<Line>,
}

/// One month's movement.
pub struct Line {
    pub month: String,
    pub kind: String,
    pub amount: String,
}

fn account(tr: &Tr, id: &'static str, a: &Account) -> AccountView {
    AccountView {
        id,
        title: tr.t(&format!("ss-accounts-{id}")),
        balance: tr.money(Fen(a.balance_fen)),
        lines: a
            .statements
            .iter()
            .map(|s| Line { month: month(tr, &s.month), kind: words(tr, "ss-movement", &s.kind), amount: tr.money(Fen(s.amount_fen)) })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "ss_accounts.html")]
struct AccountsPage {
    c: Chrome,
    id: String,
    accounts: Vec<AccountView>,
    source: String,
}

/// `GET /h5/social-security/{id}/accounts`.
async fn accounts(State(state): State<WebState>, s: Signed, Path(id): Path<String>) -> Response {
    let back = format!("/h5/social-security/{id}");
    let a = match state.app.social_security().accounts(&actor(&s), &id).await {
        Ok(a) => a,
        Err(e) => return problem_page(&s.visitor, &Problem::from(e), &back),
    };
    let tr = &s.visitor.tr;
    let province = a.source.split(['/', ':']).nth(1).unwrap_or_default();
    let bureau = region_name(&state, tr, province);
    let accounts = [("pension", a.pension.as_ref()), ("medical", a.medical.as_ref())]
        .into_iter()
        .filter_map(|(name, acc)| acc.map(|acc| account(tr, name, acc)))
        .collect();
    let page = AccountsPage {
        c: Chrome::new(&s.visitor, "ss-accounts-title", true),
        source: tr.ta("ss-accounts-source", &[("bureau", &bureau), ("time", &tr.datetime(a.as_of))]),
        id,
        accounts,
    };
    (s.visitor.cookies(), html(StatusCode::OK, &page)).into_response()
}

/// One request as the page lists it.
pub struct RequestRow {
    pub id: String,
    pub kind: String,
    pub region: Option<String>,
    pub status: String,
    pub tone: &'static str,
    pub reason: Option<String>,
    pub updated: String,
}

fn request_row(state: &WebState, tr: &Tr, r: &ServiceView) -> RequestRow {
    let region = r.to_region.as_deref().map(|code| tr.t1("ss-services-to", "region", &region_name(state, tr, code)));
    RequestRow {
        id: r.id.clone(),
        kind: words(tr, "ss-service", r.kind.as_str()),
        region,
        status: words(tr, "ss-service-status", r.status.as_str()),
        tone: match r.status {
            ServiceStatus::Completed => "done",
            ServiceStatus::Rejected => "refused",
            _ => "pending",
        },
        reason: r.reason.as_deref().map(|why| words(tr, "ss-service-reason", why)),
        updated: tr.t1("ss-services-updated", "time", &tr.datetime(r.updated_at)),
    }
}

/// A kind a form offers.
pub struct KindChoice {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "ss_services.html")]
struct ServicesPage {
    c: Chrome,
    id: String,
    rows: Vec<RequestRow>,
    /// The card is bound: the forms for new requests are shown.
    bound: bool,
    kinds: Vec<KindChoice>,
    area: String,
    captures: Vec<Capture>,
    face_action: String,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
}

async fn services_page(
    state: &WebState,
    s: &Signed,
    id: &str,
    form: &FileForm,
    errors: FormErrors,
    refusal: Option<String>,
    status: StatusCode,
) -> Response {
    let tr = &s.visitor.tr;
    let list = match state.app.ss_services().list(&actor(s), id).await {
        Ok(l) => l,
        Err(e) => return problem_page(&s.visitor, &Problem::from(e), &format!("/h5/social-security/{id}")),
    };
    // New requests are for a bound card; those filed before are followed whatever became of it.
    let bound = state.app.social_security().view(&actor(s), id).await.is_ok_and(|b| b.status == Status::Bound);
    let chosen = ServiceKind::parse(&form.kind).unwrap_or(ServiceKind::OffsiteMedicalFiling);
    let page = ServicesPage {
        c: Chrome::new(&s.visitor, "ss-services-title", true),
        id: id.to_owned(),
        rows: list.iter().map(|r| request_row(state, tr, r)).collect(),
        bound,
        kinds: ServiceKind::ALL
            .into_iter()
            .filter(|k| k.needs_region())
            .map(|k| KindChoice { value: k.as_str(), label: words(tr, "ss-service", k.as_str()), checked: k == chosen })
            .collect(),
        area: form.to_region.clone(),
        captures: captures(state, tr),
        face_action: format!("/h5/social-security/{id}/services/retirement"),
        errors,
        refusal,
        notice: form.filed.then(|| tr.t("ss-services-filed")),
    };
    (s.visitor.cookies(), html(status, &page)).into_response()
}

/// The filing form (and, after a redirect, that one was filed).
#[derive(Debug, Default, Deserialize)]
pub struct FileForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    to_region: String,
    #[serde(default, skip)]
    filed: bool,
}

/// `GET /h5/social-security/{id}/services`.
async fn services(
    State(state): State<WebState>,
    s: Signed,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<FiledQuery>,
) -> Response {
    let form = FileForm { filed: q.filed.is_some(), ..FileForm::default() };
    services_page(&state, &s, &id, &form, FormErrors::default(), None, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
pub struct FiledQuery {
    filed: Option<String>,
}

async fn to_services(Path(id): Path<String>) -> Redirect {
    Redirect::to(&binding_path(&id, "/services"))
}

/// After a filing: the list with it, or the form again with the refusal (on `field`, or at the top).
async fn after(state: &WebState, s: &Signed, id: &str, form: &FileForm, outcome: Result<ServiceView, Problem>, field: &str) -> Response {
    match outcome {
        Ok(_) => Redirect::to(&format!("/h5/social-security/{id}/services?filed=1")).into_response(),
        Err(p) => {
            let said = problem_message_in(&s.visitor.tr, "ss", &p);
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST {
                let mut errors = FormErrors::default();
                errors.add(field, said);
                services_page(state, s, id, form, errors, None, status).await
            } else {
                services_page(state, s, id, form, FormErrors::default(), Some(said), status).await
            }
        }
    }
}

/// `POST /h5/social-security/{id}/services`: a filing or a transfer.
async fn file(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<FileForm>) -> Response {
    let tr = &s.visitor.tr;
    let Some(kind) = ServiceKind::parse(&f.kind).filter(|k| k.needs_region()) else {
        let mut errors = FormErrors::default();
        errors.add("kind", tr.t("ss-services-choose-kind"));
        return services_page(&state, &s, &id, &f, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let area = f.to_region.trim();
    if area.len() != 6 || !area.bytes().all(|b| b.is_ascii_digit()) {
        let mut errors = FormErrors::default();
        errors.add("to_region", tr.t("ss-services-field-region"));
        return services_page(&state, &s, &id, &f, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let outcome = state.app.ss_services().submit(&actor(&s), &id, kind, Some(area), None).await.map_err(Problem::from);
    after(&state, &s, &id, &f, outcome, "to_region").await
}

#[derive(Debug, Default, Deserialize)]
pub struct FaceForm {
    #[serde(default)]
    liveness: String,
}

/// `POST /h5/social-security/{id}/services/retirement`: a retirement certification by the holder's face.
async fn retirement(State(state): State<WebState>, s: Signed, Path(id): Path<String>, Form(f): Form<FaceForm>) -> Response {
    let form = FileForm::default();
    if f.liveness.trim().is_empty() {
        let mut errors = FormErrors::default();
        errors.add("liveness", s.visitor.tr.t("identity-field-choose-capture"));
        return services_page(&state, &s, &id, &form, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let outcome = state
        .app
        .ss_services()
        .submit(&actor(&s), &id, ServiceKind::RetirementCertification, None, Some(f.liveness.trim()))
        .await
        .map_err(Problem::from);
    after(&state, &s, &id, &form, outcome, "liveness").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_read_in_each_language() {
        let (zh, en) = (Tr::new(Locale::ZhCn), Tr::new(Locale::En));
        assert_eq!(month(&zh, "2026-03"), "2026年3月");
        assert_eq!(month(&en, "2026-11"), "November 2026");
        assert_eq!(month(&en, "2026-13"), "2026-13", "what is not a month stays as given");
        assert_eq!(month(&zh, "garbage"), "garbage");
    }
}
