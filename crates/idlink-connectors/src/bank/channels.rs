//! Choosing a bank's channel, with failover (SPEC BK2).
//!
//! Each bank has a configured channel (the roster's `channel`). A call goes
//! there first; when that channel cannot serve it (unreachable, timed out,
//! 5xx, in maintenance, or its circuit is open) the same call goes through
//! the other channel at once, so failover takes one call's deadline at most
//! (5 s by default, well within BK2's 30 s). Once the configured channel's
//! circuit opens, calls skip it without touching the network; after the
//! breaker's wait a half-open probe goes to it again, and its first success
//! brings the traffic back.
//!
//! Each bank has its own breaker and figures on each channel (`bank:CODE`
//! over `card_switch` and over `direct`), so one bank in maintenance does
//! not open the switch's circuit for the others. A scheduled maintenance
//! window on one channel (ADR 0018) reads as that channel being down, so
//! the traffic moves to the other; every failover is noted on the health page.

use super::BankApi;
use crate::executor::{CallError, Executor, Signing, Target, TlsIdentity};
use idlink_domain::roster::Channel;
use std::collections::HashMap;
use std::future::Future;

/// The banks' direct listener: where it is, idlink's client certificate
/// (mutual TLS) and the keys that sign requests and check answers.
pub struct DirectChannel {
    pub url: String,
    pub identity: TlsIdentity,
    pub signing: Signing,
}

impl DirectChannel {
    /// The mutual-TLS, signing target every bank's direct channel shares.
    pub fn target(self) -> Result<Target, CallError> {
        Ok(Target::with_mutual_tls("direct", "direct", &self.url, &self.identity)?.signed(self.signing))
    }
}

/// Every bank's two channels.
#[derive(Debug, Clone)]
pub struct BankChannels {
    /// For a bank the roster does not list.
    switch: BankApi,
    /// Per bank code: the switch, with the bank's own breaker.
    switch_of: HashMap<String, BankApi>,
    /// Per bank code; empty when no direct listener is configured.
    direct: HashMap<String, BankApi>,
}

pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::CardSwitch => "card_switch",
        Channel::Direct => "direct",
    }
}

impl BankChannels {
    /// `direct` is the mutual-TLS, signing target of the banks' direct listener, if any.
    pub fn new<'a>(switch: BankApi, direct: Option<&Target>, bank_codes: impl IntoIterator<Item = &'a str>) -> Self {
        let codes: Vec<&str> = bank_codes.into_iter().collect();
        let switch_of = codes.iter().map(|code| ((*code).to_owned(), switch.for_bank(code))).collect();
        let direct = match direct {
            Some(t) => codes.iter().map(|code| ((*code).to_owned(), BankApi::direct(t, code))).collect(),
            None => HashMap::new(),
        };
        Self { switch, switch_of, direct }
    }

    /// The bank's channel `c`, if it exists.
    pub fn api(&self, bank: &str, c: Channel) -> Option<&BankApi> {
        match c {
            Channel::CardSwitch => Some(self.switch_of.get(bank).unwrap_or(&self.switch)),
            Channel::Direct => self.direct.get(bank),
        }
    }

    /// Every bank's channel targets (for the health page to list them before their first call).
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.switch_of.values().chain(self.direct.values()).map(BankApi::target)
    }

    /// Runs `op` on the bank's configured channel, and on the other one if the
    /// configured one cannot serve it. Returns the answer and the channel that gave it.
    pub async fn call<'a, T, F, Fut>(&'a self, exec: &Executor, bank: &str, configured: Channel, op: F) -> Result<(T, Channel), CallError>
    where
        F: Fn(&'a BankApi) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let other = match configured {
            Channel::CardSwitch => Channel::Direct,
            Channel::Direct => Channel::CardSwitch,
        };
        let first = match self.api(bank, configured) {
            Some(api) => match op(api).await {
                Err(e) if e.channel_down() => e,
                done => return done.map(|v| (v, configured)),
            },
            None => CallError::Config(format!("bank {bank} has no {} channel configured", channel_name(configured))),
        };
        let Some(api) = self.api(bank, other) else { return Err(first) };
        tracing::warn!(bank, from = channel_name(configured), to = channel_name(other), error = %first, "bank channel failover");
        let from = self.api(bank, configured).map_or(&self.switch.target().institution, |a| &a.target().institution);
        exec.health().failover(from, channel_name(configured), channel_name(other), crate::health::failover_reason(&first), exec.now());
        metrics::counter!("idlink_bank_channel_failovers_total", "bank" => bank.to_owned(), "from" => channel_name(configured))
            .increment(1);
        match op(api).await {
            Ok(v) => Ok((v, other)),
            // Both down: a maintenance says the most (when it ends); both in
            // maintenance: the bank is back when the first channel is.
            Err(second) => Err(match (&first, &second) {
                (CallError::Maintenance { retry_after_secs: a, .. }, CallError::Maintenance { retry_after_secs: b, .. }) if b < a => second,
                (CallError::Maintenance { .. }, _) => first,
                _ => second,
            }),
        }
    }
}
