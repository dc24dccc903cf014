//! The banks. Outbound: a bank's card operations, through either channel (SPEC BK2): the card
//! switch (idlink → switch → bank, `{switch}/switch/v1/…`) or the bank's
//! direct channel (`{direct}/banks/{code}/v1/…`, mutual TLS with signed
//! messages, see [`crate::executor::Signing`]). Both speak the same bodies:
//!
//! - `POST …/card-verifications {"card_number", "name", "id_number", "phone"}`
//!   → `{"verification_id", "result": "match" | "holder_mismatch" |
//!   "phone_mismatch" | "card_lost"}`;
//! - `POST …/sms-codes {"card_number", "phone", "client_ref"}` →
//!   `{"result": "sent", "reference"}` or `{"result": "phone_mismatch"}`;
//!   `POST …/sms-codes/verify {"reference", "card_number", "code"}` →
//!   `{"result": "verified" | "wrong_code"}`;
//! - `POST …/balances {"card_number"}` → `{"result": "ok", "balance"}` (fen)
//!   or `{"result": "card_lost" | "password_locked"}`.
//!
//! Inbound: the banks' signed callbacks ([`callbacks`]). [`BankPorts`] is
//! what the core calls; [`channels`] picks a bank's channel and fails over.

use crate::executor::{CallError, Executor, Target};
use serde::{Deserialize, Serialize};

pub mod callbacks;
pub mod channels;
mod port;
mod settings;
pub use channels::{BankChannels, DirectChannel, channel_name};
pub use port::BankPorts;
pub use settings::Settings;

#[derive(Debug, Serialize)]
pub struct FourElements<'a> {
    pub card_number: &'a str,
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct FourElementsResponse {
    pub verification_id: String,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCheck {
    Match,
    HolderMismatch,
    PhoneMismatch,
    CardLost,
    /// Undocumented answers: not a match.
    Pending {
        status: String,
    },
}

impl From<&str> for CardCheck {
    fn from(s: &str) -> Self {
        match s {
            "match" => CardCheck::Match,
            "holder_mismatch" => CardCheck::HolderMismatch,
            "phone_mismatch" => CardCheck::PhoneMismatch,
            "card_lost" => CardCheck::CardLost,
            other => CardCheck::Pending { status: other.to_owned() },
        }
    }
}

#[derive(Debug, Serialize)]
struct SendCode<'a> {
    card_number: &'a str,
    phone: &'a str,
    client_ref: &'a str,
}

#[derive(Debug, Deserialize)]
struct SendCodeResponse {
    result: String,
    #[serde(default)]
    reference: Option<String>,
}

#[derive(Debug, Serialize)]
struct VerifyCode<'a> {
    reference: &'a str,
    card_number: &'a str,
    code: &'a str,
}

#[derive(Debug, Deserialize)]
struct VerifyCodeResponse {
    result: String,
}

/// What the bank did with a binding code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankSms {
    /// Sent to the reserved phone; give the reference back with the code.
    Sent {
        reference: String,
    },
    /// The phone given is not the one the bank has for the card.
    PhoneMismatch,
    Pending {
        status: String,
    },
}

/// What the bank says of a card's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalanceAnswer {
    /// In fen.
    Balance(i64),
    CardLost,
    /// The card password was entered wrong too often; the bank refuses until it is reset.
    PasswordLocked,
}

/// One bank reached through one channel.
#[derive(Debug, Clone)]
pub struct BankApi {
    target: Target,
    prefix: String,
}

impl BankApi {
    /// The card switch, which reaches every bank.
    pub fn card_switch(base_url: &str) -> Result<Self, CallError> {
        Ok(Self { target: Target::new("switch", "card_switch", base_url)?, prefix: "/switch/v1".into() })
    }

    /// The switch for one bank: the same connection pool and path, the bank's own breaker.
    pub fn for_bank(&self, bank_code: &str) -> Self {
        Self { target: self.target.for_institution(&format!("bank:{bank_code}")), prefix: self.prefix.clone() }
    }

    /// One bank's direct channel, over `direct` (a mutual-TLS, signing target):
    /// its own breaker, the shared connection pool.
    pub fn direct(direct: &Target, bank_code: &str) -> Self {
        Self { target: direct.for_institution(&format!("bank:{bank_code}")), prefix: format!("/banks/{bank_code}/v1") }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    fn path(&self, op: &str) -> String {
        format!("{}{op}", self.prefix)
    }

    /// The bank sends a code to the card's reserved phone. Deduplicated by
    /// `client_ref` on the bank's side, so safe to retry.
    pub async fn send_code(&self, exec: &Executor, card_number: &str, phone: &str, client_ref: &str) -> Result<BankSms, CallError> {
        let req = SendCode { card_number, phone, client_ref };
        let res: SendCodeResponse = exec.call(&self.target, reqwest::Method::POST, &self.path("/sms-codes"), Some(&req), true).await?;
        Ok(match (res.result.as_str(), res.reference) {
            ("sent", Some(reference)) => BankSms::Sent { reference },
            ("phone_mismatch", _) => BankSms::PhoneMismatch,
            (other, _) => BankSms::Pending { status: other.to_owned() },
        })
    }

    /// Whether `code` is the one the bank sent. Not retried: a code is used once.
    pub async fn verify_code(&self, exec: &Executor, reference: &str, card_number: &str, code: &str) -> Result<bool, CallError> {
        let req = VerifyCode { reference, card_number, code };
        let res: VerifyCodeResponse =
            exec.call(&self.target, reqwest::Method::POST, &self.path("/sms-codes/verify"), Some(&req), false).await?;
        Ok(res.result == "verified")
    }

    /// The card's balance as the bank reports it. Read-only: retried.
    pub async fn balance(&self, exec: &Executor, card_number: &str) -> Result<BalanceAnswer, CallError> {
        #[derive(Serialize)]
        struct Req<'a> {
            card_number: &'a str,
        }
        #[derive(Deserialize)]
        struct Res {
            result: String,
            balance: Option<i64>,
        }
        let res: Res = exec.call(&self.target, reqwest::Method::POST, &self.path("/balances"), Some(&Req { card_number }), true).await?;
        match (res.result.as_str(), res.balance) {
            ("ok", Some(b)) => Ok(BalanceAnswer::Balance(b)),
            ("card_lost", _) => Ok(BalanceAnswer::CardLost),
            ("password_locked", _) => Ok(BalanceAnswer::PasswordLocked),
            (other, _) => {
                Err(CallError::Protocol { institution: self.target.institution.clone(), detail: format!("balance answer `{other}`") })
            }
        }
    }

    /// A read-only check: safe to retry.
    pub async fn four_elements(&self, exec: &Executor, req: &FourElements<'_>) -> Result<CardCheck, CallError> {
        let res: FourElementsResponse =
            exec.call(&self.target, reqwest::Method::POST, &self.path("/card-verifications"), Some(req), true).await?;
        Ok(CardCheck::from(res.result.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_and_unknown_is_pending() {
        assert_eq!(CardCheck::from("match"), CardCheck::Match);
        assert_eq!(CardCheck::from("holder_mismatch"), CardCheck::HolderMismatch);
        assert_eq!(CardCheck::from("phone_mismatch"), CardCheck::PhoneMismatch);
        assert_eq!(CardCheck::from("card_lost"), CardCheck::CardLost);
        assert!(matches!(CardCheck::from("frozen_by_court"), CardCheck::Pending { .. }));
    }
}
