//! The host's stores as the core's [`HostStores`].

use super::HostStoreApis;
use crate::executor::{CallError, Executor};
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::host_stores::{ChangeAnswer, ChangeState, HostStores, HostSubject, HostUnavailable};
use idlink_domain::revocation::{Blocker, PaymentLimits, Source};
use std::sync::Arc;

#[derive(Clone)]
pub struct HostStoresPort {
    stores: HostStoreApis,
    executor: Arc<Executor>,
}

impl HostStoresPort {
    pub fn new(stores: HostStoreApis, executor: Arc<Executor>) -> Self {
        Self { stores, executor }
    }

    fn api(&self, source: Source) -> Result<&super::HostStoreApi, HostUnavailable> {
        self.stores.get(source).ok_or(HostUnavailable { store: source.as_str(), retry_after_secs: 60 })
    }
}

fn unavailable(source: Source, e: CallError) -> HostUnavailable {
    HostUnavailable { store: source.as_str(), retry_after_secs: Unavailable::from(e).retry_after_secs }
}

#[async_trait]
impl HostStores for HostStoresPort {
    fn registered(&self) -> Vec<Source> {
        self.stores.stores.iter().map(|s| s.source).collect()
    }

    async fn blockers(&self, source: Source, subject: HostSubject<'_>) -> Result<Vec<Blocker>, HostUnavailable> {
        let api = self.api(source)?;
        let answer = api.blockers(&self.executor, subject.user_id, subject.operation.as_str()).await.map_err(|e| unavailable(source, e))?;
        let mapped: Result<Vec<Blocker>, String> = answer.blockers.iter().map(|b| b.blocker(source)).collect();
        mapped.map_err(|detail| {
            tracing::warn!(source = source.as_str(), %detail, "host store broke the blockers protocol");
            unavailable(source, CallError::Protocol { institution: super::institution_name(source), detail })
        })
    }

    async fn apply(&self, source: Source, change_id: &str, subject: HostSubject<'_>) -> Result<ChangeAnswer, HostUnavailable> {
        let res = self.api(source)?.apply(&self.executor, change_id, subject.user_id, subject.operation.as_str()).await;
        Ok(res.map_err(|e| unavailable(source, e))?.answer())
    }

    async fn change(&self, source: Source, change_id: &str) -> Result<ChangeState, HostUnavailable> {
        let res = self.api(source)?.change(&self.executor, change_id).await.map_err(|e| unavailable(source, e))?;
        Ok(ChangeState { answer: res.answer(), funds_operations: res.funds_operations })
    }

    async fn commit(&self, source: Source, change_id: &str) -> Result<ChangeAnswer, HostUnavailable> {
        Ok(self.api(source)?.finish(&self.executor, change_id, "commit").await.map_err(|e| unavailable(source, e))?.answer())
    }

    async fn publish_limits(&self, event_id: &str, user_id: &str, limits: &PaymentLimits) -> Result<(), HostUnavailable> {
        let req = super::LimitsRequest {
            event_id,
            daily_receiving_limit_fen: limits.daily_receiving_limit.0,
            withdrawals_paused_until: limits.withdrawals_paused_until.map(|t| t.to_string()),
            auto_debit_allowed: limits.auto_debit_allowed,
        };
        let answer = self.api(Source::Wallet)?.publish_limits(&self.executor, user_id, &req).await;
        match answer.map_err(|e| unavailable(Source::Wallet, e))?.status.as_str() {
            "accepted" => Ok(()),
            other => {
                tracing::warn!(status = other, "the wallet answered the payment limits with an undocumented status");
                Err(HostUnavailable { store: Source::Wallet.as_str(), retry_after_secs: 60 })
            }
        }
    }

    async fn undo(&self, source: Source, change_id: &str) -> Result<ChangeAnswer, HostUnavailable> {
        Ok(self.api(source)?.finish(&self.executor, change_id, "undo").await.map_err(|e| unavailable(source, e))?.answer())
    }
}
