//! The credit bureau as the core's [`CreditBureau`].

use super::CreditBureauApi;
use crate::executor::{CallError, Executor};
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::bureau::{BureauAnswer, BureauQuery, BureauUnavailable, CreditBureau};
use idlink_domain::{IdNumber, PersonName};
use std::sync::Arc;

/// Credit reports through the bureau.
#[derive(Clone)]
pub struct BureauPort {
    bureau: CreditBureauApi,
    executor: Arc<Executor>,
}

impl BureauPort {
    pub fn new(bureau: CreditBureauApi, executor: Arc<Executor>) -> Self {
        Self { bureau, executor }
    }
}

#[async_trait]
impl CreditBureau for BureauPort {
    async fn query(&self, query_ref: &str, name: &PersonName, id: &IdNumber) -> Result<BureauQuery, BureauUnavailable> {
        let (query_id, answer) = self.bureau.query(&self.executor, query_ref, name.reveal(), id.reveal()).await?;
        Ok(BureauQuery { query_id, answer })
    }

    async fn status(&self, query_id: &str) -> Result<BureauQuery, BureauUnavailable> {
        let answer = self.bureau.status(&self.executor, query_id).await?;
        Ok(BureauQuery { query_id: query_id.to_owned(), answer })
    }

    async fn review(&self, query_id: &str, approve: bool, reviewer: &str) -> Result<BureauQuery, BureauUnavailable> {
        let answer = self.bureau.review(&self.executor, query_id, approve, reviewer).await?;
        Ok(BureauQuery { query_id: query_id.to_owned(), answer })
    }

    async fn monitor(&self, watch_ref: &str, name: &PersonName, id: &IdNumber) -> Result<BureauAnswer, BureauUnavailable> {
        Ok(self.bureau.monitor(&self.executor, watch_ref, name.reveal(), id.reveal()).await?)
    }
}

impl From<CallError> for BureauUnavailable {
    fn from(e: CallError) -> Self {
        let u = Unavailable::from(e);
        Self { retry_after_secs: u.retry_after_secs, expected_end: u.expected_end }
    }
}
