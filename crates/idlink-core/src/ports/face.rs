//! The face-verification port (liveness plus comparison with the registry photo).

use async_trait::async_trait;
use serde::Serialize;

/// The provider's verdict, in the terms idlink acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceResult {
    Pass,
    /// A photo, screen or mask instead of a live face.
    LivenessFailed,
    /// Too dark or too bright to judge.
    PoorLighting,
    /// A live face, not the registered person's.
    FaceMismatch,
    /// The provider has not decided; the case needs review.
    Pending,
}

impl FaceResult {
    /// Machine reason and the guidance an app can show, for failures.
    pub fn reason(self) -> Option<(&'static str, &'static str)> {
        match self {
            FaceResult::Pass => None,
            FaceResult::LivenessFailed => {
                Some(("liveness_failed", "Hold the phone yourself and face the camera; photos and screens are refused."))
            }
            FaceResult::PoorLighting => Some(("poor_lighting", "Retry in daylight or a well-lit room, without light behind you.")),
            FaceResult::FaceMismatch => {
                Some(("face_mismatch", "The face does not match the registered person; the ID holder must verify in person."))
            }
            FaceResult::Pending => Some(("review", "The check needs a manual review; the result will follow.")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the face-verification provider is unavailable; retry after {retry_after_secs} s")]
pub struct FaceUnavailable {
    pub retry_after_secs: u64,
}

#[async_trait]
pub trait FaceVerifier: Send + Sync {
    async fn verify(&self, subject_ref: &str, liveness_video: &str) -> Result<FaceResult, FaceUnavailable>;
}
