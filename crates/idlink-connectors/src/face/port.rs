//! The face-verification provider as the core's [`FaceVerifier`].

use super::{FaceOutcome, FaceProvider};
use crate::executor::CallError;
use crate::executor::Executor;
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use idlink_core::ports::face::{FaceResult, FaceUnavailable, FaceVerifier};
use std::sync::Arc;

/// Face checks through the face-verification provider.
#[derive(Clone)]
pub struct FaceChecks {
    provider: FaceProvider,
    executor: Arc<Executor>,
}

impl FaceChecks {
    pub fn new(provider: FaceProvider, executor: Arc<Executor>) -> Self {
        Self { provider, executor }
    }
}

#[async_trait]
impl FaceVerifier for FaceChecks {
    async fn verify(&self, subject_ref: &str, video: &str) -> Result<FaceResult, FaceUnavailable> {
        let (_, outcome) = self.provider.verify(&self.executor, subject_ref, video).await?;
        Ok(match outcome {
            FaceOutcome::Pass => FaceResult::Pass,
            FaceOutcome::Spoof => FaceResult::LivenessFailed,
            FaceOutcome::PoorLighting => FaceResult::PoorLighting,
            FaceOutcome::Mismatch => FaceResult::FaceMismatch,
            FaceOutcome::Pending { .. } => FaceResult::Pending,
        })
    }
}

impl From<CallError> for FaceUnavailable {
    fn from(e: CallError) -> Self {
        Self { retry_after_secs: Unavailable::from(e).retry_after_secs }
    }
}
