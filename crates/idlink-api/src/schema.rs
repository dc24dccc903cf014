//! Shared pieces of the request schemas: the formats that several bodies and
//! paths accept, written once so the OpenAPI document and the parsers agree.

/// A mainland mobile number in its canonical spelling (the parser also
/// accepts spaces, dashes and a bare `86`): the prefixes of
/// `idlink_domain::phone`, 11 digits, optional `+86`. utoipa takes patterns
/// as literals only, so each phone field repeats it; a test checks they agree.
pub const PHONE: &str = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$";

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

/// A string that is one of `values`; `optional` also admits `null` (read as absent).
fn one_of(values: &[&str], optional: bool, description: &str) -> Object {
    let (types, mut members): (SchemaType, Vec<serde_json::Value>) = if optional {
        (SchemaType::from_iter([Type::String, Type::Null]), vec![serde_json::Value::Null])
    } else {
        (SchemaType::new(Type::String), Vec::new())
    };
    members.splice(0..0, values.iter().map(|v| serde_json::Value::from(*v)));
    ObjectBuilder::new().schema_type(types).enum_values(Some(members)).description(Some(description)).build()
}

/// `purpose` of `POST /v1/me/sms-challenges`.
pub fn purpose() -> Object {
    one_of(&["payment_password"], false, "What the code is for: `payment_password`.")
}

/// `operation` of a step-up: the operations that take step-up tokens.
pub fn operation() -> Object {
    one_of(idlink_core::stepup::OPERATIONS, false, "What the token will authorise, e.g. `device.make_primary`.")
}

/// `operation` of a revocation preflight.
pub fn revocation_operation() -> Object {
    one_of(&["revoke_real_name", "cancel_account"], false, "`revoke_real_name` (the default) or `cancel_account`.")
}

/// `document_type` of a verification.
pub fn document_type() -> Object {
    one_of(
        &["resident_id", "passport", "hk_macau_permit", "taiwan_permit"],
        true,
        "`resident_id` (default, verified automatically), or `passport`, `hk_macau_permit`, `taiwan_permit` (operator review, two steps).",
    )
}

/// `method` of a verification.
pub fn method() -> Object {
    one_of(
        &["three_elements_face", "four_elements"],
        true,
        "`three_elements_face` (default: SMS code to the account phone + face) or `four_elements` (a bank card in the user's name whose bank-reserved phone is the account phone; no face).",
    )
}

/// `relationship` of a guardian link.
pub fn relationship() -> Object {
    one_of(&["parent", "legal_guardian"], false, "`parent` or `legal_guardian`.")
}

/// `decision` of a review step.
pub fn decision() -> Object {
    one_of(&["approve", "reject"], false, "`approve` or `reject`.")
}

/// `event` of a bank's callback.
pub fn bank_event() -> Object {
    one_of(&["card_lost", "password_locked", "password_reset"], false, "`card_lost`, `password_locked` or `password_reset`.")
}

/// `status` filter of the review queue (a query parameter: absent, never null).
pub fn case_status() -> Object {
    one_of(&["open", "waiting_user", "approved", "rejected"], false, "`open` (default), `waiting_user`, `approved` or `rejected`.")
}

/// `action` of a dual-control proposal.
pub fn proposal_action() -> Object {
    one_of(&["freeze.lift", "keys.rotate"], false, "`freeze.lift` or `keys.rotate`.")
}

/// `status` filter of the proposals.
pub fn proposal_status() -> Object {
    one_of(&["pending", "approved", "rejected", "failed"], false, "`pending` (default), `approved`, `rejected` or `failed`.")
}

/// `reason` of a request for more information on a review case.
pub fn info_reason() -> Object {
    one_of(
        &["document_unreadable", "document_expired", "photo_page_missing", "guardian_proof_missing"],
        false,
        "`document_unreadable`, `document_expired`, `photo_page_missing` or `guardian_proof_missing`.",
    )
}

/// `kind` filter of the review queue.
pub fn case_kind() -> Object {
    one_of(&["verification", "risk_freeze"], false, "`verification` or `risk_freeze`.")
}

/// `outcome` filter of the audit explorer.
pub fn audit_outcome() -> Object {
    one_of(&["success", "denied", "failed"], false, "`success`, `denied` or `failed`.")
}

#[cfg(test)]
mod tests {
    /// The phone pattern, written as prefix classes, admits exactly the domain's prefixes.
    #[test]
    fn phone_pattern_matches_the_domain_prefixes() {
        for p in 100..200u32 {
            let number = format!("{p}12345678");
            let by_pattern = pattern_allows(&number);
            let by_domain = idlink_domain::PhoneNumber::parse(&number).is_ok();
            assert_eq!(by_pattern, by_domain, "{number}");
        }
    }

    /// Every phone field of the document uses [`super::PHONE`].
    #[test]
    fn every_phone_field_has_the_phone_pattern() {
        let doc = serde_json::to_value(crate::openapi()).unwrap_or_default();
        let mut seen = 0;
        for (_, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
            for (name, p) in schema["properties"].as_object().into_iter().flatten() {
                if name.ends_with("phone") && p.get("pattern").is_some() {
                    assert_eq!(p["pattern"], super::PHONE, "{name}");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 3, "phone fields found: {seen}");
    }

    /// A hand reading of [`super::PHONE`]'s prefix classes (no regex engine in the tree).
    fn pattern_allows(n: &str) -> bool {
        let b = n.as_bytes();
        let third = |set: &[u8]| set.contains(&b[2]);
        b[0] == b'1'
            && match b[1] {
                b'3' | b'8' => true,
                b'4' => third(b"579"),
                b'5' | b'9' => third(b"012356789"),
                b'6' => third(b"2567"),
                b'7' => third(b"01235678"),
                _ => false,
            }
    }
}
