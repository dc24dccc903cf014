//! Masks personal data in wire bodies before they are logged.

use idlink_domain::pii::{mask_card, mask_id_number, mask_phone};
use serde_json::Value;

/// A copy of `v` with personal fields masked by name, recursively.
pub fn mask_json(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = match (k.as_str(), v) {
                        ("to" | "phone" | "mobile" | "reserved_phone", Value::String(s)) => Value::String(mask_phone(s)),
                        ("card_number" | "card" | "pan", Value::String(s)) => Value::String(mask_card(s)),
                        ("id_number" | "id_no", Value::String(s)) => Value::String(mask_id_number(s)),
                        ("name" | "code" | "text" | "params" | "balance" | "liveness_video" | "image" | "password", _) => {
                            Value::String("***".into())
                        }
                        _ => mask_json(v),
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_fields_are_masked_at_any_depth() {
        let v = serde_json::json!({"to": "13812341234", "params": {"code": "123456"}, "nested": [{"card_number": "6222021234567890123"}], "template": "login"});
        let m = mask_json(&v).to_string();
        assert!(!m.contains("13812341234") && !m.contains("123456") && !m.contains("6222021234567890123"), "{m}");
        assert!(m.contains("138****1234") && m.contains("622202*********0123") && m.contains("login"), "{m}");
    }
}
