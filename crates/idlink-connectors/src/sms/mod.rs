//! The SMS gateway: sends template messages (verification codes).
//!
//! Wire protocol (JSON over HTTP):
//! `POST /sms/v1/messages {"to", "template", "params", "client_ref"}` →
//! `{"message_id", "status": "accepted" | "rejected" | …}`. The gateway
//! deduplicates by `client_ref`, which makes the call safe to retry.

use crate::executor::{CallError, Executor, Target};
use idlink_domain::PhoneNumber;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod port;
pub use port::SmsCodes;

#[derive(Debug, Serialize)]
pub struct SendRequest<'a> {
    pub to: &'a str,
    pub template: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub client_ref: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct SendResponse {
    pub message_id: String,
    pub status: String,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Accepted {
        message_id: String,
    },
    Rejected {
        message_id: String,
    },
    /// Any status the gateway did not define: not a success until it says so.
    Pending {
        message_id: String,
        status: String,
    },
}

impl From<SendResponse> for Delivery {
    fn from(r: SendResponse) -> Self {
        match r.status.as_str() {
            "accepted" => Delivery::Accepted { message_id: r.message_id },
            "rejected" => Delivery::Rejected { message_id: r.message_id },
            _ => Delivery::Pending { message_id: r.message_id, status: r.status },
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmsGateway {
    target: Target,
}

impl SmsGateway {
    pub fn new(base_url: &str) -> Result<Self, CallError> {
        Ok(Self { target: Target::new("sms", "gateway", base_url)? })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub async fn send(
        &self,
        exec: &Executor,
        to: &PhoneNumber,
        template: &str,
        params: &BTreeMap<String, String>,
        client_ref: &str,
    ) -> Result<Delivery, CallError> {
        let req = SendRequest { to: to.reveal(), template, params, client_ref };
        let res: SendResponse = exec.call(&self.target, reqwest::Method::POST, "/sms/v1/messages", Some(&req), true).await?;
        Ok(res.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_are_pending_not_success() {
        let parse = |s: &str| Delivery::from(serde_json::from_str::<SendResponse>(s).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(parse(r#"{"message_id":"m1","status":"accepted"}"#), Delivery::Accepted { message_id: "m1".into() });
        assert_eq!(parse(r#"{"message_id":"m1","status":"rejected"}"#), Delivery::Rejected { message_id: "m1".into() });
        assert_eq!(
            parse(r#"{"message_id":"m1","status":"queued_carrier"}"#),
            Delivery::Pending { message_id: "m1".into(), status: "queued_carrier".into() }
        );
    }
}
