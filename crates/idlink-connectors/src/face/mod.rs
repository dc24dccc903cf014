//! The face-verification provider: liveness plus comparison with the
//! reference photo of the identity registry.
//!
//! Wire protocol: `POST /face/v1/verifications {"subject_ref", "liveness_video"}`
//! → `{"verification_id", "result", "score"}` where result is `pass`,
//! `spoof`, `poor_lighting`, `mismatch` or anything else (pending).

use crate::executor::{CallError, Executor, Target};
use serde::{Deserialize, Serialize};

mod port;
pub use port::FaceChecks;

#[derive(Debug, Serialize)]
pub struct VerifyRequest<'a> {
    pub subject_ref: &'a str,
    pub liveness_video: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct VerifyResponse {
    pub verification_id: String,
    pub result: String,
    #[serde(default)]
    pub score: Option<f64>,
}

/// The provider's verdict, mapped to what idlink acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceOutcome {
    Pass,
    /// A photo, screen or mask was presented instead of a live face.
    Spoof,
    /// The picture is too dark or overexposed to judge; retry in better light.
    PoorLighting,
    /// A live face, but not the registered person.
    Mismatch,
    /// The provider has not decided (or said something undocumented).
    Pending {
        status: String,
    },
}

impl From<&str> for FaceOutcome {
    fn from(s: &str) -> Self {
        match s {
            "pass" => FaceOutcome::Pass,
            "spoof" => FaceOutcome::Spoof,
            "poor_lighting" => FaceOutcome::PoorLighting,
            "mismatch" => FaceOutcome::Mismatch,
            other => FaceOutcome::Pending { status: other.to_owned() },
        }
    }
}

#[derive(Debug, Clone)]
pub struct FaceProvider {
    target: Target,
}

impl FaceProvider {
    pub fn new(base_url: &str) -> Result<Self, CallError> {
        Ok(Self { target: Target::new("face", "provider", base_url)? })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Not idempotent on the provider's side (each call is a new verification): never retried.
    pub async fn verify(&self, exec: &Executor, subject_ref: &str, liveness_video: &str) -> Result<(String, FaceOutcome), CallError> {
        let req = VerifyRequest { subject_ref, liveness_video };
        let res: VerifyResponse = exec.call(&self.target, reqwest::Method::POST, "/face/v1/verifications", Some(&req), false).await?;
        let outcome = FaceOutcome::from(res.result.as_str());
        Ok((res.verification_id, outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_map_and_unknown_is_pending() {
        assert_eq!(FaceOutcome::from("pass"), FaceOutcome::Pass);
        assert_eq!(FaceOutcome::from("spoof"), FaceOutcome::Spoof);
        assert_eq!(FaceOutcome::from("poor_lighting"), FaceOutcome::PoorLighting);
        assert_eq!(FaceOutcome::from("mismatch"), FaceOutcome::Mismatch);
        assert_eq!(FaceOutcome::from("manual_review"), FaceOutcome::Pending { status: "manual_review".into() });
    }
}
