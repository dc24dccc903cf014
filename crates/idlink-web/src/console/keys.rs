//! `/console/keys`: key status (SPEC P6, OP3; issue 13 point 7) for auditors
//! and admins. No key is ever shown, only what proves the keys are in order:
//! the master keys by fingerprint with how many data keys each wraps (and a
//! warning when stored keys name a master the keyring lacks), which master
//! wraps each system key, the audit signing key's public half with its latest
//! checkpoint, and the latest master-key rotation. The figures are the core's
//! (`keystatus::key_status`), the same as `idlink keys status`; a rotation is
//! proposed under dual control on the proposals page.

use super::{ConsoleChrome, SignedOperator, cookies};
use crate::WebState;
use crate::pages::render::{html, problem_message_in};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idlink_api::Problem;
use idlink_core::keystatus::{KeyStatus, KeyStatusError, key_status};
use idlink_core::ports::operators::{Role, require};

/// This page's routes, merged into the console's.
pub fn routes() -> Router<WebState> {
    Router::new().route("/console/keys", get(show))
}

pub struct Master {
    pub id: String,
    pub fingerprint: String,
    pub state: String,
    pub wraps: String,
}

pub struct SystemKey {
    pub name: String,
    pub wrapped_by: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    c: ConsoleChrome,
    algorithm: String,
    masters: Vec<Master>,
    /// Master ids missing from the keyring, with what they wrap, in words.
    missing: Vec<String>,
    system: Vec<SystemKey>,
    signing_key: String,
    checkpoint: String,
    checkpoint_ok: bool,
    rotation: String,
    may_rotate: bool,
    error: Option<String>,
}

/// `GET /console/keys`.
pub async fn show(State(state): State<WebState>, s: SignedOperator) -> Response {
    let tr = s.visitor.tr;
    let c = ConsoleChrome::new(&s.visitor, tr.t("console-keys-title"), Some(&s.op));
    let may_rotate = require(&s.op, Role::Admin).is_ok();
    let store = state.app.store.as_ref();
    let outcome = key_status(&s.op, &state.app.vault, store, store, store).await.map_err(|e| {
        let status = if matches!(e, KeyStatusError::RoleRequired(_)) { StatusCode::FORBIDDEN } else { StatusCode::SERVICE_UNAVAILABLE };
        (status, Problem::from(e))
    });
    let (status, page) = match outcome {
        Ok(k) => (StatusCode::OK, filled(&tr, c, k, may_rotate)),
        Err((status, p)) => (
            status,
            KeysPage {
                c,
                algorithm: String::new(),
                masters: Vec::new(),
                missing: Vec::new(),
                system: Vec::new(),
                signing_key: String::new(),
                checkpoint: String::new(),
                checkpoint_ok: false,
                rotation: String::new(),
                may_rotate: false,
                error: Some(problem_message_in(&tr, "console", &p)),
            },
        ),
    };
    (cookies(&s.visitor), html(status, &page)).into_response()
}

fn filled(tr: &crate::i18n::Tr, c: ConsoleChrome, k: KeyStatus, may_rotate: bool) -> KeysPage {
    let masters = k
        .masters
        .into_iter()
        .map(|m| Master {
            id: m.id,
            fingerprint: m.fingerprint,
            state: tr.t(if m.active { "console-keys-active" } else { "console-keys-retired" }),
            wraps: tr.tn("console-keys-wraps", "n", i64::try_from(m.wraps).unwrap_or(i64::MAX)),
        })
        .collect();
    let missing = k
        .missing_masters
        .into_iter()
        .map(|(id, n)| {
            let n = tr.tn("console-keys-wraps", "n", i64::try_from(n).unwrap_or(i64::MAX));
            format!("{id}: {n}")
        })
        .collect();
    let system = k
        .system_keys
        .into_iter()
        .map(|s| SystemKey {
            name: tr.t(&format!("console-keys-{}", s.id)),
            wrapped_by: s.wrapped_by.unwrap_or_else(|| tr.t("console-keys-not-stored")),
        })
        .collect();
    let (checkpoint, checkpoint_ok) = match k.latest_checkpoint {
        Some(cp) => {
            let signature = tr.t(if cp.signature_valid { "console-keys-signature-valid" } else { "console-keys-signature-invalid" });
            let at = tr.datetime(cp.at);
            let record = cp.seq.to_string();
            (
                tr.ta("console-keys-checkpoint", &[("seq", record.as_str()), ("time", at.as_str()), ("signature", signature.as_str())]),
                cp.signature_valid,
            )
        }
        None => (tr.t("console-keys-no-checkpoint"), true),
    };
    let rotation = match k.latest_rotation {
        Some(r) => {
            let at = tr.datetime(r.entry.at);
            let outcome = tr.t(&format!("console-outcome-{}", r.entry.outcome));
            tr.ta("console-keys-rotated", &[("time", at.as_str()), ("actor", r.entry.actor.as_str()), ("outcome", outcome.as_str())])
        }
        None => tr.t("console-keys-never-rotated"),
    };
    KeysPage {
        c,
        algorithm: k.algorithm.to_owned(),
        masters,
        missing,
        system,
        signing_key: k.signing_public_key,
        checkpoint,
        checkpoint_ok,
        rotation,
        may_rotate,
        error: None,
    }
}
