//! Request-body extraction that reports every problem at once.
//!
//! [`JsonObject`] checks the media type and the JSON syntax; [`Body`] then
//! reads the object into a typed body (`Deserialize + ToSchema`, checked by
//! its [`Validate`] implementation), collecting every missing, mistyped,
//! invalid or unknown field, so one answer lists all causes.

use crate::problem::{FieldError, Problem, ProblemCode};
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A JSON object body.
#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let json_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|m| {
                let m = m.trim();
                m.eq_ignore_ascii_case("application/json") || m.to_ascii_lowercase().ends_with("+json")
            });
        if !json_type {
            return Err(Problem::new(ProblemCode::UnsupportedMediaType));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(ProblemCode::PayloadTooLarge)
            } else {
                Problem::new(ProblemCode::MalformedJson).detail("The request body could not be read. Send it again.")
            }
        })?;
        object(&bytes).map(JsonObject)
    }
}

/// A body's bytes as a JSON object: a syntax error is `malformed_json`, another JSON value a cause.
pub fn object(bytes: &[u8]) -> Result<Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Problem::validation(vec![FieldError::new(
            "",
            "invalid_type",
            format!("The body must be a JSON object, not {}.", kind(&other)),
        )])),
        Err(e) => Err(Problem::new(ProblemCode::MalformedJson).detail(format!(
            "The body is not valid JSON: {} at line {}, column {}. Fix the syntax and send it again.",
            describe(&e),
            e.line(),
            e.column()
        ))),
    }
}

fn describe(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "it ends too early",
        Category::Syntax => "syntax error",
        Category::Data | Category::Io => "unreadable data",
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A request body read into `T`: the one type that both parses the body and
/// describes it in the OpenAPI document, so the two cannot drift.
///
/// Reading goes in two passes so one answer lists every cause, as clients
/// expect: a shape pass driven by `T`'s schema (unknown fields, missing or
/// `null` required fields, wrong JSON types; each bad value replaced by a
/// placeholder of the right type), then serde into `T` and its
/// [`Validate::validate`] for the values themselves. A cause found on a field
/// that the shape pass already refused is dropped (it is about the placeholder).
#[derive(Debug)]
pub struct Body<T: Validate>(pub T::Valid);

/// The value rules of a request body, checked after serde has read its shape.
pub trait Validate: DeserializeOwned + ToSchema + Sized + 'static {
    /// What the handler receives: the body itself, or domain types parsed from it.
    type Valid;

    /// Checks the values, recording every cause in `causes`. Returns `None`
    /// only after recording at least one cause.
    fn validate(self, causes: &mut Causes) -> Option<Self::Valid>;

    /// Lets a body word a shape cause its own way (kept from before typed bodies).
    fn reword(cause: FieldError) -> FieldError {
        cause
    }
}

impl<T: Validate> FromRequest<AppState> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Problem> {
        let today = idlink_domain::calendar::shanghai_today(state.clock.now());
        let JsonObject(obj) = JsonObject::from_request(req, state).await?;
        read::<T>(obj, today).map(Body)
    }
}

/// Value causes found by a body's [`Validate`] implementation, and what it may need to judge them.
#[derive(Debug)]
pub struct Causes {
    errors: Vec<FieldError>,
    today: jiff::civil::Date,
}

impl Causes {
    /// Today in Asia/Shanghai (birth dates, ID numbers).
    pub fn today(&self) -> jiff::civil::Date {
        self.today
    }

    /// Records a cause on `field`.
    pub fn invalid(&mut self, field: &str, code: &str, detail: impl Into<String>) {
        self.errors.push(FieldError::new(format!("/{field}"), code, detail));
    }

    /// Records `code` when `bad` holds; returns whether the value is good.
    pub fn check(&mut self, field: &str, bad: bool, code: &str, detail: &str) -> bool {
        if bad {
            self.invalid(field, code, detail);
        }
        !bad
    }

    /// Parses a value; a parse error becomes a cause with `code` and the error as detail.
    pub fn parse<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        code: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match parse(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(field, code, format!("{e}."));
                None
            }
        }
    }

    /// A field that this body's other fields make required.
    pub fn require<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.invalid(field, "required", format!("`{field}` is required."));
        }
        value
    }
}

/// What [`read`] needs of a body type's schema, derived once per type.
struct Shape {
    /// The fields in declaration order.
    names: Vec<&'static str>,
    fields: Vec<FieldShape>,
    /// The field list as unknown-field causes name it.
    expected: String,
}

struct FieldShape {
    types: Vec<String>,
    required: bool,
    nullable: bool,
    /// What replaces a bad value so serde can read the rest.
    placeholder: Option<Value>,
}

impl Shape {
    fn of<T: Validate>() -> Self {
        let names = field_names::<T>();
        let schema = serde_json::to_value(T::schema()).unwrap_or_default();
        let required: Vec<&str> = schema["required"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let fields = names
            .iter()
            .map(|&name| {
                let property = &schema["properties"][name];
                let types: Vec<&str> = match &property["type"] {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                FieldShape {
                    required: required.contains(&name),
                    nullable: types.contains(&"null"),
                    placeholder: placeholder(property, &types),
                    types: types.into_iter().map(str::to_owned).collect(),
                }
            })
            .collect();
        let expected = names.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        Self { names, fields, expected }
    }

    /// `T`'s shape, derived on its first body and kept for the process (a
    /// schema rendered to JSON for every request cost more than the check).
    fn cached<T: Validate>() -> &'static Shape {
        use std::any::TypeId;
        use std::collections::HashMap;
        use std::sync::{OnceLock, PoisonError, RwLock};
        static SHAPES: OnceLock<RwLock<HashMap<TypeId, &'static Shape>>> = OnceLock::new();
        let shapes = SHAPES.get_or_init(Default::default);
        if let Some(shape) = shapes.read().unwrap_or_else(PoisonError::into_inner).get(&TypeId::of::<T>()) {
            return shape;
        }
        // One per body type, for the life of the process: a bounded set, so leaking is what keeping means here.
        shapes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::leak(Box::new(Shape::of::<T>())))
    }
}

/// Reads `obj` as a `T` (see [`Body`]).
pub fn read<T: Validate>(mut obj: Map<String, Value>, today: jiff::civil::Date) -> Result<T::Valid, Problem> {
    let Shape { names, fields, expected } = Shape::cached::<T>();
    let mut shape = Vec::new();

    let mut unknown: Vec<String> = obj.keys().filter(|k| !names.contains(&k.as_str())).cloned().collect();
    unknown.sort();
    for k in unknown {
        obj.remove(&k);
        shape.push(FieldError::new(
            format!("/{}", k.replace('~', "~0").replace('/', "~1")),
            "unknown_field",
            format!("`{k}` is not a field of this request; expected {expected}."),
        ));
    }

    for (&name, field) in names.iter().zip(fields) {
        let bad = match obj.get(name) {
            None if field.required => Some(FieldError::new(format!("/{name}"), "required", format!("`{name}` is required."))),
            None => None,
            Some(Value::Null) if field.nullable => None,
            Some(Value::Null) if field.required => Some(FieldError::new(format!("/{name}"), "required", format!("`{name}` is required."))),
            Some(v) if !field.types.is_empty() && !field.types.iter().any(|t| is_a(v, t)) => {
                let wanted = field.types.iter().find(|t| *t != "null").map_or("null", String::as_str);
                Some(FieldError::new(
                    format!("/{name}"),
                    "invalid_type",
                    format!("`{name}` must be {}, not {}.", expected_kind(wanted), kind(v)),
                ))
            }
            Some(_) => None,
        };
        if let Some(cause) = bad {
            shape.push(cause);
            match &field.placeholder {
                Some(p) if field.required => obj.insert(name.to_owned(), p.clone()),
                _ => obj.remove(name),
            };
        }
    }

    let mut errors = shape;
    let valid = match serde_json::from_value::<T>(Value::Object(obj)) {
        Ok(body) => {
            let mut causes = Causes { errors: Vec::new(), today };
            let valid = body.validate(&mut causes);
            let refused: Vec<String> = errors.iter().map(|e| e.pointer.clone()).collect();
            errors.extend(causes.errors.into_iter().filter(|e| !refused.contains(&e.pointer)));
            valid
        }
        // The schema let through something serde refuses: a schema that is too loose. Say so rather than hide it.
        Err(e) => {
            if errors.is_empty() {
                tracing::warn!(error = %e, "a body passed its schema's shape check but not serde");
                errors.push(FieldError::new("", "invalid_type", format!("The body does not fit this request: {e}.")));
            }
            None
        }
    };
    let position = |e: &FieldError| {
        let field = e.pointer.strip_prefix('/').unwrap_or("");
        names.iter().position(|n| *n == field).unwrap_or(names.len())
    };
    errors.sort_by_key(position);
    if !errors.is_empty() {
        return Err(Problem::validation(errors.into_iter().map(T::reword).collect()));
    }
    valid.ok_or_else(|| {
        tracing::error!(body = std::any::type_name::<T>(), "a body's validation refused it without naming a cause");
        Problem::new(ProblemCode::InternalError)
    })
}

fn is_a(v: &Value, json_type: &str) -> bool {
    match json_type {
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        // Bodies' integers are `i64`: a larger one is refused here, not by serde.
        "integer" => v.is_i64(),
        "number" => v.is_number(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn expected_kind(json_type: &str) -> &'static str {
    match json_type {
        "string" => "a string",
        "boolean" => "true or false",
        "integer" => "a whole number",
        "number" => "a number",
        "object" => "an object",
        "array" => "an array",
        _ => "null",
    }
}

/// A value of the property's type, so serde can read the rest of the body.
fn placeholder(property: &Value, types: &[&str]) -> Option<Value> {
    if let Some(first) = property["enum"].as_array().and_then(|e| e.first()) {
        return Some(first.clone());
    }
    match types.iter().find(|t| **t != "null").copied() {
        Some("string") => Some(Value::String(String::new())),
        Some("boolean") => Some(Value::Bool(false)),
        Some("integer") | Some("number") => Some(property.get("minimum").cloned().unwrap_or(Value::from(0))),
        Some("object") => Some(Value::Object(Map::new())),
        Some("array") => Some(Value::Array(Vec::new())),
        _ if types.contains(&"null") => Some(Value::Null),
        _ => None,
    }
}

/// The field names of a `#[derive(Deserialize)]` struct, in declaration order
/// (the order causes are listed in), as serde itself knows them.
fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.to_vec()
}

/// A deserializer that only records the field list serde passes to `deserialize_struct`.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// A prefixed id from the request path (`bnd_…`, `case_…`), parsed before
/// the handler runs: a wrong-shaped id is answered as the resource's
/// problem (a 404 of that kind, or for user ids the 422 they always had).
#[derive(Debug)]
pub struct PathId<T>(pub T);

/// An id kind that can come from a path, and how a wrong-shaped one is refused.
pub trait FromPath: Sized {
    fn parse(raw: &str) -> Result<Self, idlink_domain::ids::IdError>;
    fn refused(e: idlink_domain::ids::IdError) -> Problem;
}

impl<S: Send + Sync, T: FromPath> FromRequestParts<S> for PathId<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| Problem::new(ProblemCode::NotFound))?;
        T::parse(&raw).map(PathId).map_err(T::refused)
    }
}

macro_rules! not_found_when_malformed {
    ($($id:ty => $code:ident),* $(,)?) => {$(
        impl FromPath for $id {
            fn parse(raw: &str) -> Result<Self, idlink_domain::ids::IdError> {
                <$id>::parse(raw)
            }
            fn refused(_: idlink_domain::ids::IdError) -> Problem {
                Problem::new(ProblemCode::$code)
            }
        }
    )*};
}

not_found_when_malformed! {
    idlink_domain::BindingId => CardBindingNotFound,
    idlink_domain::CaseId => CaseNotFound,
    idlink_domain::VerificationId => VerificationNotFound,
    idlink_domain::GuardianshipId => GuardianshipNotFound,
    idlink_domain::ProposalId => ProposalNotFound,
    idlink_domain::OperatorId => OperatorNotFound,
    idlink_domain::MaintenanceId => MaintenanceNotFound,
    idlink_domain::CreditRequestId => CreditRequestNotFound,
}

impl FromPath for idlink_domain::UserId {
    fn parse(raw: &str) -> Result<Self, idlink_domain::ids::IdError> {
        idlink_domain::UserId::parse(raw)
    }
    fn refused(e: idlink_domain::ids::IdError) -> Problem {
        Problem::validation(vec![FieldError::new("/path/user_id", "invalid_id", format!("{e}."))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        phone: String,
        enabled: bool,
        note: Option<String>,
        #[schema(required = true)]
        limit: Option<i64>,
    }

    impl Validate for Sample {
        type Valid = Self;
        fn validate(self, c: &mut Causes) -> Option<Self> {
            let ok = c.check("phone", self.phone.len() != 11, "invalid_phone", "11 digits.");
            Some(self).filter(|_| ok)
        }
    }

    fn causes(body: Value) -> Vec<(String, String)> {
        let Value::Object(obj) = body else { return Vec::new() };
        let today = jiff::civil::date(2026, 1, 1);
        match read::<Sample>(obj, today) {
            Ok(_) => Vec::new(),
            Err(p) => p.errors.iter().map(|e| (e.pointer.clone(), e.code.clone())).collect(),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn a_valid_body_reads_and_null_is_absent_where_nullable() {
        let Value::Object(obj) = json!({"phone": "13812341234", "enabled": true, "note": null, "limit": null}) else { return };
        let read = read::<Sample>(obj, jiff::civil::date(2026, 1, 1)).map(|s| (s.enabled, s.note, s.limit));
        assert_eq!(read.ok(), Some((true, None, None)));
        assert!(causes(json!({"phone": "13812341234", "enabled": false, "limit": 5})).is_empty());
    }

    #[test]
    fn every_cause_is_listed_in_field_order_unknown_fields_last() {
        let got = causes(json!({"zz": 1, "phone": "123", "enabled": "yes", "aa": 2}));
        let want = pairs(&[
            ("/phone", "invalid_phone"),
            ("/enabled", "invalid_type"),
            ("/limit", "required"),
            ("/aa", "unknown_field"),
            ("/zz", "unknown_field"),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn a_refused_shape_hides_the_placeholders_value_cause() {
        // `phone` is missing: its placeholder would fail `invalid_phone` too, which is not listed.
        let got = causes(json!({"enabled": true, "limit": 1}));
        assert_eq!(got, pairs(&[("/phone", "required")]));
        let got = causes(json!({"phone": null, "enabled": null, "limit": 1.5}));
        assert_eq!(got, pairs(&[("/phone", "required"), ("/enabled", "required"), ("/limit", "invalid_type")]));
    }

    #[test]
    fn integers_beyond_i64_are_a_type_cause_not_a_serde_failure() {
        let got = causes(json!({"phone": "13812341234", "enabled": true, "limit": u64::MAX}));
        assert_eq!(got, pairs(&[("/limit", "invalid_type")]));
    }

    #[test]
    fn field_names_come_from_serde_in_declaration_order() {
        assert_eq!(field_names::<Sample>(), ["phone", "enabled", "note", "limit"]);
    }
}
