//! The banks as the core sees them: the four-element check
//! ([`CardCheck`]), the binding code ([`BankChannel`]) and the balance
//! ([`BalanceBank`]), each through the bank's configured channel with
//! failover to the other ([`BankChannels`]).

use super::channels::{BankChannels, channel_name};
use super::{BalanceAnswer, BankSms, CardCheck as Answer, FourElements};
use crate::executor::{CallError, Executor};
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::balance::{BalanceBank, BalanceGrant, BankBalance};
use idlink_core::ports::bindings::BankUnavailable;
use idlink_core::ports::bindings::{BankChannel, BankCode};
use idlink_core::ports::identity::{CardCheck, CardResult};
use idlink_domain::card::CardNumber;
use idlink_domain::roster::{Channel, Roster};
use idlink_domain::{IdNumber, PersonName, PhoneNumber};
use std::sync::Arc;

/// How the banks' ports say they are unavailable (never as the registry).
impl From<CallError> for BankUnavailable {
    fn from(e: CallError) -> Self {
        let u = Unavailable::from(e);
        Self { retry_after_secs: u.retry_after_secs, expected_end: u.expected_end }
    }
}

/// Every bank, through its channels.
#[derive(Clone)]
pub struct BankPorts {
    channels: BankChannels,
    roster: Arc<Roster>,
    executor: Arc<Executor>,
}

impl BankPorts {
    pub fn new(channels: BankChannels, roster: Arc<Roster>, executor: Arc<Executor>) -> Self {
        Self { channels, roster, executor }
    }

    /// The bank that issued a card, and the channel the roster configures for it.
    fn route(&self, card: &CardNumber) -> (String, Channel) {
        let bank = card.bank().to_owned();
        let channel = self.roster.bank(&bank).map_or(Channel::CardSwitch, |b| b.channel);
        (bank, channel)
    }
}

#[async_trait]
impl CardCheck for BankPorts {
    async fn four_elements(
        &self,
        card: &CardNumber,
        name: &PersonName,
        id: &IdNumber,
        phone: &PhoneNumber,
    ) -> Result<CardResult, BankUnavailable> {
        let req = FourElements { card_number: card.reveal(), name: name.reveal(), id_number: id.reveal(), phone: phone.reveal() };
        let (bank, channel) = self.route(card);
        let exec = &self.executor;
        let (answer, _) = self.channels.call(exec, &bank, channel, |api| api.four_elements(exec, &req)).await?;
        Ok(match answer {
            Answer::Match => CardResult::Match,
            Answer::HolderMismatch => CardResult::HolderMismatch,
            Answer::PhoneMismatch => CardResult::PhoneMismatch,
            Answer::CardLost => CardResult::Lost,
            Answer::Pending { .. } => CardResult::Pending,
        })
    }
}

#[async_trait]
impl BankChannel for BankPorts {
    async fn send_code(&self, card: &CardNumber, phone: &PhoneNumber, client_ref: &str) -> Result<BankCode, BankUnavailable> {
        let (bank, channel) = self.route(card);
        let exec = &self.executor;
        let (answer, _) =
            self.channels.call(exec, &bank, channel, |api| api.send_code(exec, card.reveal(), phone.reveal(), client_ref)).await?;
        match answer {
            BankSms::Sent { reference } => Ok(BankCode::Sent { reference }),
            BankSms::PhoneMismatch => Ok(BankCode::PhoneMismatch),
            BankSms::Pending { status } => {
                tracing::warn!(%status, "undocumented answer to a binding code request");
                Err(BankUnavailable { retry_after_secs: 5, expected_end: None })
            }
        }
    }

    async fn verify_code(&self, reference: &str, card: &CardNumber, code: &str) -> Result<bool, BankUnavailable> {
        let (bank, channel) = self.route(card);
        let exec = &self.executor;
        let (ok, _) = self.channels.call(exec, &bank, channel, |api| api.verify_code(exec, reference, card.reveal(), code)).await?;
        Ok(ok)
    }
}

#[async_trait]
impl BalanceBank for BankPorts {
    async fn balance(&self, grant: &BalanceGrant) -> Result<BankBalance, BankUnavailable> {
        let bank = grant.bank();
        let exec = &self.executor;
        let card = grant.card().reveal();
        let (answer, via) = self.channels.call(exec, &bank.code, bank.channel, |api| api.balance(exec, card)).await?;
        Ok(match answer {
            BalanceAnswer::Balance(fen) => BankBalance::Balance { fen: idlink_domain::Fen(fen), channel: channel_name(via) },
            BalanceAnswer::CardLost => BankBalance::CardLost,
            BalanceAnswer::PasswordLocked => BankBalance::PasswordLocked,
        })
    }
}
