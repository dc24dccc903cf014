//! Sandbox institutions (SPEC P8): simulated institutions that speak the same
//! wire protocol as real ones, over HTTP on loopback, started inside
//! `idlink serve` or alone with `idlink sandbox`.
//!
//! Institutions so far: the SMS gateway ([`sms`], with an inbox API that
//! tests and demos read codes from) and the face-verification provider
//! ([`face`], outcomes scripted by documented test values) and the
//! identity registry ([`registry`], name/ID/phone checks by test values)
//! and the banks ([`banks`]: built from the roster), reached through the
//! card switch or their direct channel ([`cards`], [`direct`]: mutual TLS
//! and signed messages with certificates from [`pki`]), which send signed
//! callbacks about lost cards and locked passwords ([`events`]).
//! [`witness`] is a remote audit witness log (not an institution, but a
//! party outside idlink's host all the same).
//! [`control`] is the time-control API: a sandbox clock that can be
//! advanced, and maintenance windows that open and close by that clock.

pub mod banks;
pub mod cards;
pub mod control;
pub mod direct;
pub mod events;
pub mod face;
pub mod pki;
pub mod registry;
pub mod sms;
pub mod witness;

use axum::Router;
use axum::routing::{delete, get, post};
use jiff::{SignedDuration, Timestamp};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// The sandbox's clock: system time plus an offset moved by the control API.
/// `idlink serve` can follow the same offset (`sandbox.drive_clock`).
#[derive(Debug, Default)]
pub struct SandboxClock {
    offset: Mutex<SignedDuration>,
    /// Whether idlink's own clock follows this one (shown by `GET /sandbox/v1/clock`).
    drives_idlink: std::sync::atomic::AtomicBool,
}

impl SandboxClock {
    /// How far the clock has been advanced from system time.
    pub fn offset(&self) -> SignedDuration {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that idlink's clock follows this one.
    pub fn set_drives_idlink(&self, on: bool) {
        self.drives_idlink.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn drives_idlink(&self) -> bool {
        self.drives_idlink.load(std::sync::atomic::Ordering::Relaxed)
    }

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
#[derive(Default)]
pub struct Sandbox {
    pub clock: SandboxClock,
    /// Banks, test cards, holders, reserved phones and balances from the roster.
    pub banks: banks::Banks,
    pub(crate) sms: Mutex<sms::Inbox>,
    /// Codes the banks sent for card binding: reference → (card number, code).
    pub(crate) bank_codes: Mutex<HashMap<String, (String, String)>>,
    /// Institution name → end of its maintenance window.
    pub(crate) maintenance: Mutex<HashMap<String, Timestamp>>,
    /// The banks' keys for the direct channel and callbacks (none: no direct channel).
    pub(crate) bank_side: Option<pki::BankSide>,
    /// Nonces of signed direct-channel requests seen (replays are refused).
    nonces: Mutex<HashSet<String>>,
    /// Cards reported lost.
    pub(crate) lost: Mutex<HashSet<String>>,
    /// Wrong card-password attempts per card.
    pub(crate) wrong_passwords: Mutex<HashMap<String, u32>>,
    /// Where the banks send callbacks (idlink's API base URL).
    callback_url: Mutex<Option<String>>,
    pub(crate) http: reqwest::Client,
    /// The witness logs: log name → its checkpoints.
    pub(crate) witness: Mutex<HashMap<String, witness::Log>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("banks", &self.banks.banks.len()).field("direct", &self.bank_side.is_some()).finish()
    }
}

/// Channels and services whose maintenance can be scheduled; a bank itself is `bank:CODE`.
pub const INSTITUTIONS: &[&str] = &["sms", "face", "registry", "switch", "direct", "witness"];

impl Sandbox {
    /// A sandbox whose banks come from the bundled roster, without a direct channel.
    pub fn new() -> Arc<Self> {
        let roster = idlink_domain::roster::Roster::bundled().unwrap_or(idlink_domain::roster::Roster { banks: Vec::new() });
        Arc::new(Self::build(&roster, None))
    }

    /// A sandbox whose banks come from `roster` and also serve the direct
    /// channel and send callbacks with these keys.
    pub fn with_bank_side(roster: &idlink_domain::roster::Roster, keys: pki::BankSide) -> Arc<Self> {
        Arc::new(Self::build(roster, Some(keys)))
    }

    fn build(roster: &idlink_domain::roster::Roster, bank_side: Option<pki::BankSide>) -> Self {
        Self { banks: banks::Banks::from_roster(roster, idlink_domain::card::BinTable::bundled()), bank_side, ..Self::default() }
    }

    /// Tells the banks where to send callbacks (idlink's API base URL).
    pub fn set_callback_url(&self, url: String) {
        *self.callback_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url);
    }

    pub(crate) fn callback_url(&self) -> Option<String> {
        self.callback_url.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The issuing bank of a card number: a test card's, else by BIN.
    pub fn bank_of(&self, number: &str) -> Option<String> {
        match self.banks.card(number) {
            Some(c) => Some(c.bank.clone()),
            None => idlink_domain::card::BinTable::bundled().lookup(number).ok().map(|e| e.bank.clone()),
        }
    }

    pub(crate) fn is_lost(&self, number: &str) -> bool {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).contains(number)
    }

    pub(crate) fn password_locked(&self, number: &str) -> bool {
        self.wrong_passwords.lock().unwrap_or_else(|p| p.into_inner()).get(number).is_some_and(|n| *n >= events::PASSWORD_ATTEMPTS)
    }

    /// Whether a direct-channel nonce is new (and remembers it).
    pub(crate) fn first_use_of_nonce(&self, nonce: &str) -> bool {
        let mut seen = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 1_000_000 {
            seen.clear();
        }
        seen.insert(nonce.to_owned())
    }

    /// Whether `name` is something maintenance can be scheduled for.
    pub(crate) fn knows_institution(&self, name: &str) -> bool {
        INSTITUTIONS.contains(&name) || name.strip_prefix("bank:").is_some_and(|code| self.banks.banks.iter().any(|b| b.code == code))
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
        .route("/sandbox/v1/cards/{number}/report-lost", post(events::report_lost))
        .route("/sandbox/v1/cards/{number}/wrong-password", post(events::wrong_password))
        .route("/sandbox/v1/cards/{number}/password-reset", post(events::password_reset))
        .route("/sms/v1/messages", post(sms::send))
        .route("/face/v1/verifications", post(face::verify))
        .route("/registry/v1/checks", post(registry::check))
        .route("/switch/v1/card-verifications", post(cards::verify))
        .route("/switch/v1/sms-codes", post(cards::send_code))
        .route("/switch/v1/sms-codes/verify", post(cards::verify_code))
        .route("/switch/v1/balances", post(cards::balance))
        .route("/witness/v1/logs/{log}/checkpoints", get(witness::list).post(witness::append))
        .route("/witness/v1/logs/{log}/latest", get(witness::latest))
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
