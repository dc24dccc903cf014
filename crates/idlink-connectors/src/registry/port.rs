//! The identity registry as the core's [`RegistryCheck`].

use super::{IdentityRegistry, RegistryVerdict};
use crate::executor::CallError;
use crate::executor::Executor;
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::identity::{RegistryCheck, RegistryResult, RegistryUnavailable};
use idlink_domain::{IdNumber, PersonName, PhoneNumber};
use std::sync::Arc;

/// Name/ID/phone checks through the identity registry.
#[derive(Clone)]
pub struct RegistryChecks {
    registry: IdentityRegistry,
    executor: Arc<Executor>,
}

impl RegistryChecks {
    pub fn new(registry: IdentityRegistry, executor: Arc<Executor>) -> Self {
        Self { registry, executor }
    }
}

#[async_trait]
impl RegistryCheck for RegistryChecks {
    async fn check(&self, name: &PersonName, id: &IdNumber, phone: &PhoneNumber) -> Result<RegistryResult, RegistryUnavailable> {
        let verdict = self.registry.check(&self.executor, name.reveal(), id.reveal(), Some(phone.reveal())).await?;
        Ok(match verdict {
            RegistryVerdict::Match => RegistryResult::Match,
            RegistryVerdict::NameMismatch => RegistryResult::NameMismatch,
            RegistryVerdict::NotFound => RegistryResult::NotFound,
            RegistryVerdict::PhoneMismatch => RegistryResult::PhoneMismatch,
            RegistryVerdict::Pending { .. } => RegistryResult::Pending,
        })
    }
}

impl From<CallError> for RegistryUnavailable {
    fn from(e: CallError) -> Self {
        let u = Unavailable::from(e);
        Self { retry_after_secs: u.retry_after_secs, expected_end: u.expected_end }
    }
}
