//! Sandbox institutions (SPEC P8): simulated institutions that speak the same
//! wire protocol as real ones, over HTTP on loopback, started inside
//! `idlink serve` or alone with `idlink sandbox`.
//!
//! Each institution is a module with its own state and sub-router,
//! mounted by the one list in [`Sandbox::institutions`]
//! (`docs/connectors.md`): the SMS gateway ([`sms`], with an inbox API that
//! tests and demos read codes from), the face-verification provider
//! ([`face`], outcomes scripted by documented test values), the identity
//! registry ([`registry`], name/ID/phone checks by test values) and the
//! banks ([`bank`]: built from the roster, reached through the card switch
//! or their direct channel, sending signed callbacks) and the credit bureau
//! ([`bureau`]: second-generation reports made up for any identity, with
//! manual review, slow and thin-file cases by test value) and the host
//! app's cashier ([`cashier`]: payments, signed callbacks, refunds) and a
//! certificate authority ([`ca`]: test client certificates) and the
//! provincial social-security bureaus ([`social_security`]: cards, dynamic
//! codes, accounts, medical settlements, over a primary and an alternate
//! channel with scripted faults), and a hospital terminal ([`terminal`])
//! that checks medical codes offline and settles them. [`witness`] is a
//! remote audit witness log (not an institution, but a party outside
//! idlink's host all the same), and [`app`] a demo third-party app that
//! logs in with idlink and receives its security events.
//! What they share ([`Shared`]): the sandbox clock and the maintenance
//! windows, driven by the time-control API ([`control`]).

pub mod app;
pub mod bank;
pub mod bureau;
pub mod ca;
pub mod cashier;
pub mod control;
pub mod face;
pub mod host_stores;
pub mod registry;
pub mod sms;
pub mod social_security;
pub mod terminal;
pub mod witness;

use axum::Router;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
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

/// What every sandbox institution shares: the clock and the maintenance windows.
#[derive(Debug, Default)]
pub struct Shared {
    pub clock: SandboxClock,
    /// Institution name → end of its maintenance window.
    maintenance: Mutex<HashMap<String, Timestamp>>,
}

impl Shared {
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

    pub(crate) fn open_maintenance(&self, institution: &str, until: Timestamp) {
        self.maintenance.lock().unwrap_or_else(|p| p.into_inner()).insert(institution.to_owned(), until);
    }

    pub(crate) fn close_maintenance(&self, institution: &str) {
        self.maintenance.lock().unwrap_or_else(|p| p.into_inner()).remove(institution);
    }

    /// Institutions with a window recorded (open or just over).
    pub(crate) fn maintenance_names(&self) -> Vec<String> {
        self.maintenance.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect()
    }
}

/// One institution as the sandbox mounts it.
pub struct Institution {
    /// The names `POST /sandbox/v1/maintenance` accepts for it (listed in its refusals).
    pub maintenance: &'static [&'static str],
    /// Further accepted names, not listed (a bank: `bank:CODE`).
    pub maintenance_also: Vec<String>,
    /// Its entry under `institutions` in `GET /sandbox/v1`, if it has one.
    pub index: Option<(&'static str, serde_json::Value)>,
    /// Its routes, with its own state.
    pub router: Router,
}

/// Every sandbox institution's state.
pub struct Sandbox {
    pub shared: Arc<Shared>,
    pub sms: Arc<sms::Gateway>,
    pub face: Arc<face::Provider>,
    pub registry: Arc<registry::Registry>,
    pub bank: Arc<bank::BankState>,
    pub bureau: Arc<bureau::Bureau>,
    pub cashier: Arc<cashier::Cashier>,
    pub ca: Arc<ca::Ca>,
    pub social_security: Arc<social_security::Bureaus>,
    /// The host app's own wallet, lending, subscriptions and directories.
    pub host_stores: Arc<host_stores::HostStores>,
    pub terminal: Arc<terminal::Terminal>,
    pub witness: Arc<witness::Logs>,
    /// The demo third-party app (not an institution: a relying party of idlink).
    pub app: Arc<app::DemoApp>,
    /// Further relying parties (`/sandbox/apps/{name}`).
    pub apps: Arc<app::Fleet>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("banks", &self.bank.banks.banks.len()).field("direct", &self.bank.has_direct_channel()).finish()
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::build(&idlink_domain::roster::Roster { banks: Vec::new() }, None)
    }
}

impl Sandbox {
    /// A sandbox whose banks come from the bundled roster, without a direct channel.
    pub fn new() -> Arc<Self> {
        let roster = idlink_domain::roster::Roster::bundled().unwrap_or(idlink_domain::roster::Roster { banks: Vec::new() });
        Arc::new(Self::build(&roster, None))
    }

    /// A sandbox whose banks come from `roster` and also serve the direct
    /// channel and send callbacks with these keys.
    pub fn with_bank_side(roster: &idlink_domain::roster::Roster, keys: bank::pki::BankSide) -> Arc<Self> {
        Arc::new(Self::build(roster, Some(keys)))
    }

    fn build(roster: &idlink_domain::roster::Roster, bank_side: Option<bank::pki::BankSide>) -> Self {
        let shared = Arc::new(Shared::default());
        let sms = Arc::new(sms::Gateway::new(shared.clone()));
        let bank = Arc::new(bank::BankState::new(shared.clone(), sms.clone(), roster, bank_side));
        // Financial accounts of social-security cards: at the banks with a debit test card.
        let debit = bank
            .banks
            .banks
            .iter()
            .filter_map(|b| b.cards.iter().find(|c| c.card_type == "debit").map(|c| (b.code.clone(), c.number.clone())))
            .collect();
        Self {
            face: Arc::new(face::Provider::new(shared.clone())),
            registry: Arc::new(registry::Registry::new(shared.clone())),
            social_security: Arc::new(social_security::Bureaus::new(shared.clone(), sms.clone(), debit)),
            terminal: Arc::new(terminal::Terminal::new(shared.clone())),
            host_stores: Arc::new(host_stores::HostStores::new(shared.clone())),
            bank,
            bureau: Arc::new(bureau::Bureau::new(shared.clone())),
            cashier: Arc::new(cashier::Cashier::new(shared.clone())),
            ca: Arc::new(ca::Ca::new(shared.clone())),
            witness: Arc::new(witness::Logs::new(shared.clone())),
            app: Arc::new(app::DemoApp::new(shared.clone())),
            apps: Arc::new(app::Fleet::new(shared.clone())),
            sms,
            shared,
        }
    }

    /// Every institution, in the order the control API lists them.
    pub fn institutions(&self) -> Vec<Institution> {
        vec![
            sms::institution(self.sms.clone()),
            face::institution(self.face.clone()),
            registry::institution(self.registry.clone()),
            bank::institution(self.bank.clone()),
            bureau::institution(self.bureau.clone()),
            cashier::institution(self.cashier.clone()),
            ca::institution(self.ca.clone()),
            social_security::institution(self.social_security.clone()),
            terminal::institution(self.terminal.clone()),
            host_stores::institution(self.host_stores.clone()),
            witness::institution(self.witness.clone()),
        ]
    }

    /// The sandbox clock.
    pub fn clock(&self) -> &SandboxClock {
        &self.shared.clock
    }

    /// Tells the banks where to send callbacks (idlink's API base URL).
    pub fn set_callback_url(&self, url: String) {
        self.bank.set_callback_url(url);
    }

    /// The end of the institution's current maintenance window, if one is open now.
    pub fn in_maintenance(&self, institution: &str) -> Option<Timestamp> {
        self.shared.in_maintenance(institution)
    }
}

/// All sandbox institutions and the control API.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    let institutions = sandbox.institutions();
    let mut router = control::router(sandbox.shared.clone(), &institutions);
    for i in institutions {
        router = router.merge(i.router);
    }
    router.merge(app::router(sandbox.app.clone())).merge(app::fleet_router(sandbox.apps.clone())).fallback(|| async {
        control::error(axum::http::StatusCode::NOT_FOUND, "not_found", "no such sandbox endpoint; see GET /sandbox/v1")
    })
}

/// Serves the sandbox on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sandbox)).with_graceful_shutdown(shutdown).await
}
