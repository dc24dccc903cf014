//! Sandbox institutions (SPEC P8): simulated institutions that speak the same
//! wire protocol as real ones, over HTTP on loopback, started inside
//! `idlink serve` or alone with `idlink sandbox`.
//!
//! Institutions so far: the SMS gateway ([`sms`], with an inbox API that
//! tests and demos read codes from) and the face-verification provider
//! ([`face`], outcomes scripted by documented test values) and the
//! identity registry ([`registry`], name/ID/phone checks by test values)
//! and the card switch's four-element check ([`cards`]). [`control`] is
//! the time-control API: a sandbox clock that can be advanced, and
//! maintenance windows that open and close by that clock.

pub mod banks;
pub mod cards;
pub mod control;
pub mod face;
pub mod registry;
pub mod sms;

use axum::Router;
use axum::routing::{delete, get, post};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The sandbox's clock: system time plus an offset moved by the control API.
#[derive(Debug, Default)]
pub struct SandboxClock {
    offset: Mutex<SignedDuration>,
}

impl SandboxClock {
    pub fn now(&self) -> Timestamp {
        let offset = *self.offset.lock().unwrap_or_else(|p| p.into_inner());
        Timestamp::now().checked_add(offset).unwrap_or_else(|_| Timestamp::now())
    }

    pub fn advance(&self, by: SignedDuration) -> Timestamp {
        let mut o = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *o = o.checked_add(by).unwrap_or(*o);
        drop(o);
        self.now()
    }

    pub fn reset(&self) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) = SignedDuration::ZERO;
    }
}

/// Shared state of all sandbox institutions.
#[derive(Debug, Default)]
pub struct Sandbox {
    pub clock: SandboxClock,
    /// Banks, test cards, holders, reserved phones and balances from the roster.
    pub banks: banks::Banks,
    pub(crate) sms: Mutex<sms::Inbox>,
    /// Codes the banks sent for card binding: reference → (card number, code).
    pub(crate) bank_codes: Mutex<HashMap<String, (String, String)>>,
    /// Institution name → end of its maintenance window.
    pub(crate) maintenance: Mutex<HashMap<String, Timestamp>>,
}

/// Institutions whose maintenance can be scheduled.
pub const INSTITUTIONS: &[&str] = &["sms", "face", "registry", "switch"];

impl Sandbox {
    /// A sandbox whose banks come from the bundled roster.
    pub fn new() -> Arc<Self> {
        let roster = idlink_domain::roster::Roster::bundled().unwrap_or(idlink_domain::roster::Roster { banks: Vec::new() });
        Arc::new(Self { banks: banks::Banks::from_roster(&roster, idlink_domain::card::BinTable::bundled()), ..Self::default() })
    }

    /// The end of the institution's current maintenance window, if one is open now.
    pub fn in_maintenance(&self, institution: &str) -> Option<Timestamp> {
        let now = self.clock.now();
        let mut windows = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get(institution) {
            Some(until) if *until > now => Some(*until),
            Some(_) => {
                // The window is over: service returns by itself.
                windows.remove(institution);
                None
            }
            None => None,
        }
    }
}

/// All sandbox institutions and the control API.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/sandbox/v1", get(control::index))
        .route("/sandbox/v1/clock", get(control::clock))
        .route("/sandbox/v1/clock/advance", post(control::advance))
        .route("/sandbox/v1/clock/reset", post(control::reset))
        .route("/sandbox/v1/maintenance", get(control::list_maintenance).post(control::open_maintenance))
        .route("/sandbox/v1/maintenance/{institution}", delete(control::close_maintenance))
        .route("/sandbox/v1/sms/inbox", get(sms::inbox))
        .route("/sandbox/v1/banks", get(control::banks))
        .route("/sms/v1/messages", post(sms::send))
        .route("/face/v1/verifications", post(face::verify))
        .route("/registry/v1/checks", post(registry::check))
        .route("/switch/v1/card-verifications", post(cards::verify))
        .route("/switch/v1/sms-codes", post(cards::send_code))
        .route("/switch/v1/sms-codes/verify", post(cards::verify_code))
        .route("/switch/v1/balances", post(cards::balance))
        .fallback(|| async {
            control::error(axum::http::StatusCode::NOT_FOUND, "not_found", "no such sandbox endpoint; see GET /sandbox/v1")
        })
        .with_state(sandbox)
}

/// Serves the sandbox on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sandbox)).with_graceful_shutdown(shutdown).await
}
