//! The identity registry: checks that a name belongs to an ID number and
//! that a phone is registered to that person.
//!
//! Wire protocol: `POST /registry/v1/checks {"name", "id_number", "phone"}`
//! → `{"check_id", "result": "match" | "name_mismatch" | "not_found",
//! "phone_result": "match" | "mismatch" | null}`.

use crate::executor::{CallError, Executor, Target};
use serde::{Deserialize, Serialize};

mod port;
pub use port::RegistryChecks;

#[derive(Debug, Serialize)]
pub struct CheckRequest<'a> {
    pub name: &'a str,
    pub id_number: &'a str,
    pub phone: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct CheckResponse {
    pub check_id: String,
    pub result: String,
    #[serde(default)]
    pub phone_result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryVerdict {
    Match,
    NameMismatch,
    NotFound,
    PhoneMismatch,
    /// Anything undocumented: not a match until the registry says so.
    Pending {
        status: String,
    },
}

impl From<&CheckResponse> for RegistryVerdict {
    fn from(r: &CheckResponse) -> Self {
        match (r.result.as_str(), r.phone_result.as_deref()) {
            ("name_mismatch", _) => RegistryVerdict::NameMismatch,
            ("not_found", _) => RegistryVerdict::NotFound,
            ("match", Some("mismatch")) => RegistryVerdict::PhoneMismatch,
            ("match", None | Some("match")) => RegistryVerdict::Match,
            (other, phone) => RegistryVerdict::Pending { status: format!("{other}/{}", phone.unwrap_or("-")) },
        }
    }
}

#[derive(Debug, Clone)]
pub struct IdentityRegistry {
    target: Target,
}

impl IdentityRegistry {
    pub fn new(base_url: &str) -> Result<Self, CallError> {
        Ok(Self { target: Target::new("registry", "main", base_url)? })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// A read-only check: safe to retry.
    pub async fn check(&self, exec: &Executor, name: &str, id_number: &str, phone: Option<&str>) -> Result<RegistryVerdict, CallError> {
        let req = CheckRequest { name, id_number, phone };
        let res: CheckResponse = exec.call(&self.target, reqwest::Method::POST, "/registry/v1/checks", Some(&req), true).await?;
        Ok(RegistryVerdict::from(&res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(json: &str) -> RegistryVerdict {
        RegistryVerdict::from(&serde_json::from_str::<CheckResponse>(json).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn answers_map_and_unknown_is_pending() {
        assert_eq!(verdict(r#"{"check_id":"1","result":"match","phone_result":"match"}"#), RegistryVerdict::Match);
        assert_eq!(verdict(r#"{"check_id":"1","result":"match"}"#), RegistryVerdict::Match);
        assert_eq!(verdict(r#"{"check_id":"1","result":"match","phone_result":"mismatch"}"#), RegistryVerdict::PhoneMismatch);
        assert_eq!(verdict(r#"{"check_id":"1","result":"name_mismatch"}"#), RegistryVerdict::NameMismatch);
        assert_eq!(verdict(r#"{"check_id":"1","result":"not_found"}"#), RegistryVerdict::NotFound);
        assert!(matches!(verdict(r#"{"check_id":"1","result":"deceased"}"#), RegistryVerdict::Pending { .. }));
    }
}
