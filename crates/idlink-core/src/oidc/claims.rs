//! Which claims an app asked for, which it may have, and how idlink
//! releases them (plan §4; OpenID Connect Core §5.5, OpenID Identity
//! Assurance 1.0 `verified_claims`).
//!
//! Claims are named by a tag: a plain claim by its name (`phone_number`),
//! a verified claim with `vc:` (`vc:name`, `vc:birthdate`,
//! `vc:age_over_18`). Verified claims are the sensitive ones (PIPL art. 29):
//! they get their own consent. idlink never releases the ID number
//! (minimum necessary) and splits no names (compound surnames).

use super::OidcSettings;
use crate::ports::identity::DocumentType;
use crate::ports::identity::IdentityRow;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Plain claims idlink releases.
pub const PLAIN: [&str; 2] = ["phone_number", "phone_number_verified"];
/// Claims idlink releases inside `verified_claims`.
pub const VERIFIED: [&str; 3] = ["name", "birthdate", "age_over_18"];

pub fn is_sensitive(tag: &str) -> bool {
    tag.starts_with("vc:")
}

/// Where a tag stands in a list shown to the user: the phone claims, then
/// the verified ones in [`VERIFIED`]'s order (the name before the birth date).
pub fn display_rank(tag: &str) -> usize {
    let name = claim_name(tag);
    let order = if is_sensitive(tag) { VERIFIED.iter().position(|c| *c == name) } else { PLAIN.iter().position(|c| *c == name) };
    order.unwrap_or(usize::MAX)
}

/// The claim name of a tag (`vc:name` → `name`).
pub fn claim_name(tag: &str) -> &str {
    tag.strip_prefix("vc:").unwrap_or(tag)
}

/// What an authorization request asks for, per place of release.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    pub userinfo: BTreeSet<String>,
    pub id_token: BTreeSet<String>,
    /// The IDA `purpose` the app gave, shown on the consent page.
    pub purpose: Option<String>,
}

impl Requested {
    /// From the scopes (`phone`, `identity`) and the `claims` parameter.
    pub fn parse(scopes: &[String], claims: Option<&str>) -> Result<Self, String> {
        let mut r = Requested::default();
        if scopes.iter().any(|s| s == "phone") {
            r.userinfo.extend(PLAIN.iter().map(|c| (*c).to_owned()));
        }
        if scopes.iter().any(|s| s == "identity") {
            r.userinfo.extend(["vc:name", "vc:birthdate"].map(str::to_owned));
        }
        let Some(text) = claims.filter(|t| !t.trim().is_empty()) else { return Ok(r) };
        let value: Value = serde_json::from_str(text).map_err(|_| "the claims parameter is not JSON".to_owned())?;
        let Value::Object(top) = value else { return Err("the claims parameter is not a JSON object".into()) };
        for (place, members) in top {
            let target = match place.as_str() {
                "userinfo" => &mut r.userinfo,
                "id_token" => &mut r.id_token,
                _ => continue,
            };
            let Value::Object(members) = members else { return Err(format!("claims.{place} is not an object")) };
            for (name, spec) in members {
                if name == "verified_claims" {
                    // IDA allows one request object or an array of them.
                    let requests = match spec {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    for req in requests {
                        if let Some(purpose) = req.get("purpose") {
                            let p = purpose.as_str().ok_or("purpose is not a string")?;
                            let len = p.chars().count();
                            if !(3..=300).contains(&len) {
                                return Err("purpose must be 3 to 300 characters".into());
                            }
                            r.purpose = Some(p.to_owned());
                        }
                        let Some(Value::Object(wanted)) = req.get("claims") else {
                            return Err("verified_claims.claims is missing or not an object".into());
                        };
                        for claim in wanted.keys() {
                            if VERIFIED.contains(&claim.as_str()) {
                                target.insert(format!("vc:{claim}"));
                            }
                        }
                    }
                } else if PLAIN.contains(&name.as_str()) {
                    target.insert(name);
                }
            }
        }
        Ok(r)
    }

    /// Every tag asked for, anywhere.
    pub fn all(&self) -> BTreeSet<String> {
        self.userinfo.union(&self.id_token).cloned().collect()
    }

    /// Only the tags in `keep`.
    pub fn within(&self, keep: &BTreeSet<String>) -> Requested {
        Requested {
            userinfo: self.userinfo.intersection(keep).cloned().collect(),
            id_token: self.id_token.intersection(keep).cloned().collect(),
            purpose: self.purpose.clone(),
        }
    }
}

/// Whether the client's registration allows `tag` (by claim name).
pub fn allowed(allowed_claims: &[String], tag: &str) -> bool {
    let name = claim_name(tag);
    // phone_number_verified comes with phone_number.
    let name = if name == "phone_number_verified" { "phone_number" } else { name };
    allowed_claims.iter().any(|c| c == name)
}

/// What idlink knows of a verified user, opened for one release.
pub struct VerifiedPerson {
    pub identity: IdentityRow,
    pub name: String,
    pub birthdate: jiff::civil::Date,
    pub age: i16,
    /// Per-app identifier of the verification (plan §6.12).
    pub verification_process: String,
}

fn utc(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The assurance level of a verification, as `verified_claims` and the CAEP
/// `assurance-level-change` events name it: three elements and a face check
/// `high`; four elements (bank) and a reviewed foreign document `substantial`.
pub fn assurance_level(document: DocumentType, method: &str) -> &'static str {
    if document != DocumentType::ResidentId || method == "four_elements" { "substantial" } else { "high" }
}

/// The `verified_claims` element for `tags` (IDA schema; plan §4).
pub fn verified_claims(settings: &OidcSettings, person: &VerifiedPerson, tags: &BTreeSet<String>) -> Option<Value> {
    let mut claims = serde_json::Map::new();
    if tags.contains("vc:name") {
        claims.insert("name".into(), json!(person.name));
    }
    if tags.contains("vc:birthdate") {
        claims.insert("birthdate".into(), json!(person.birthdate.to_string()));
    }
    let minor = idlink_domain::idnumber::is_minor(person.age);
    if tags.contains("vc:age_over_18") || (minor && !claims.is_empty()) {
        // A minor is always marked as one when anything verified is released (ID4).
        claims.insert("age_over_18".into(), json!(!minor));
    }
    if claims.is_empty() {
        return None;
    }
    let id = &person.identity;
    let level = assurance_level(id.document_type, &id.method);
    let (_, evidence) = if id.document_type != DocumentType::ResidentId {
        let doc = match id.document_type {
            DocumentType::Passport => "passport".to_owned(),
            DocumentType::HkMacauPermit => "https://idlink.dev/doc/hk-macau-permit".to_owned(),
            DocumentType::TaiwanPermit => "https://idlink.dev/doc/taiwan-permit".to_owned(),
            DocumentType::ResidentId => "idcard".to_owned(),
        };
        (
            "substantial",
            json!({"type": "document",
                   "check_details": [{"check_method": "vri", "organization": "idlink"}, {"check_method": "pvr", "organization": "idlink"}],
                   "document_details": {"type": doc}}),
        )
    } else if id.method == "four_elements" {
        (
            "substantial",
            json!({"type": "electronic_record",
                   "check_details": [{"check_method": "data", "organization": "bank"}, {"check_method": "auth", "organization": "bank"}],
                   "record": {"type": "bank_account"}}),
        )
    } else {
        (
            "high",
            json!({"type": "electronic_record",
                   "check_details": [{"check_method": "data", "organization": "identity-registry"}, {"check_method": "bvr", "organization": "face-provider"}],
                   "record": {"type": "population_register"}}),
        )
    };
    Some(json!({
        "verification": {
            "trust_framework": settings.trust_framework,
            "assurance_level": level,
            "time": utc(id.verified_at),
            "verification_process": person.verification_process,
            "evidence": [evidence],
        },
        "claims": Value::Object(claims),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_the_claims_parameter_make_the_request() {
        let scopes = vec!["openid".to_owned(), "phone".to_owned()];
        let claims = r#"{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null,"id_number":null}}},"userinfo":{"email":null}}"#;
        let r = Requested::parse(&scopes, Some(claims)).unwrap_or_default();
        assert!(r.userinfo.contains("phone_number") && !r.userinfo.contains("email"));
        assert_eq!(r.id_token.iter().collect::<Vec<_>>(), vec!["vc:name"], "unknown claims (the ID number) are never requested");
        assert!(Requested::parse(&scopes, Some("[1]")).is_err());
        let short = r#"{"userinfo":{"verified_claims":{"purpose":"no","claims":{"name":null}}}}"#;
        assert!(Requested::parse(&scopes, Some(short)).is_err(), "IDA purpose is 3 to 300 characters");
    }
}
