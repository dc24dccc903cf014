//! Shared pieces of the request schemas: the formats that several bodies and
//! paths accept, written once so the OpenAPI document and the parsers agree.

/// A mainland mobile number in its canonical spelling (the parser also
/// accepts spaces, dashes and a bare `86`): the prefixes of
/// `idlink_domain::phone`, 11 digits, optional `+86`. utoipa takes patterns
/// as literals only, so each phone field repeats it; a test checks they agree.
pub const PHONE: &str = r"^(\+86)?(13[0-9]|14[579]|15[0-35-9]|16[2567]|17[0-35-8]|18[0-9]|19[0-35-9])[0-9]{8}$";

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
