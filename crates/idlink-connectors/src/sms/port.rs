//! The SMS gateway as the core sees it: the sender of verification codes
//! ([`CodeSender`]) and of the outbox's user notifications ([`Notifier`]).

use super::{Delivery, SmsGateway};
use crate::executor::{CallError, Executor};
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::auth::{CodeSender, SendError};
use idlink_core::ports::outbox::{DeliveryError, Notifier};
use idlink_domain::PhoneNumber;
use std::sync::Arc;

/// Codes and notifications through the SMS gateway.
#[derive(Clone)]
pub struct SmsCodes {
    gateway: SmsGateway,
    executor: Arc<Executor>,
}

impl SmsCodes {
    pub fn new(gateway: SmsGateway, executor: Arc<Executor>) -> Self {
        Self { gateway, executor }
    }
}

#[async_trait]
impl CodeSender for SmsCodes {
    async fn send_code(&self, to: &PhoneNumber, code: &str, client_ref: &str) -> Result<(), SendError> {
        let params = std::collections::BTreeMap::from([("code".to_owned(), code.to_owned())]);
        match self.gateway.send(&self.executor, to, "verification_code", &params, client_ref).await? {
            Delivery::Rejected { .. } => Err(SendError::Rejected),
            // Pending counts as sent: the gateway took the message.
            Delivery::Accepted { .. } | Delivery::Pending { .. } => Ok(()),
        }
    }
}

/// Sends the outbox's user notifications; the event id is the gateway's
/// `client_ref`, by which it deduplicates a repeated delivery.
#[async_trait]
impl Notifier for SmsCodes {
    async fn notify(&self, to: &PhoneNumber, template: &str, params: &[(&str, &str)], event_id: &str) -> Result<(), DeliveryError> {
        let params = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        match self.gateway.send(&self.executor, to, template, &params, event_id).await {
            // Pending counts as sent: the gateway took the message.
            Ok(Delivery::Accepted { .. } | Delivery::Pending { .. }) => Ok(()),
            Ok(Delivery::Rejected { .. }) => Err(DeliveryError::Permanent("the SMS gateway rejected the message".into())),
            // A refusal of the request itself will not change on its own (except a rate limit).
            Err(e @ CallError::Status { status, .. }) if (400..500).contains(&status) && status != 408 && status != 429 => {
                Err(DeliveryError::Permanent(e.to_string()))
            }
            Err(e) => Err(DeliveryError::Retry(e.to_string())),
        }
    }
}

impl From<CallError> for SendError {
    fn from(e: CallError) -> Self {
        Self::Unavailable { retry_after_secs: Unavailable::from(e).retry_after_secs }
    }
}
