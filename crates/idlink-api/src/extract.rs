//! Request-body extraction that reports every problem at once.
//!
//! [`JsonObject`] checks the media type and the JSON syntax; [`Fields`]
//! then reads typed fields out of the object, collecting every missing,
//! mistyped, invalid or unknown field, so one answer lists all causes.

use crate::problem::{FieldError, Problem, ProblemCode};
use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use serde_json::{Map, Value};

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
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
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

/// Typed reads from a JSON object, collecting every error.
#[derive(Debug)]
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    known: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a JsonObject) -> Self {
        Self { obj: &obj.0, known: Vec::new(), errors: Vec::new() }
    }

    /// Records a cause found while validating a field's value.
    pub fn invalid(&mut self, field: &str, code: &str, detail: impl Into<String>) {
        self.errors.push(FieldError::new(format!("/{field}"), code, detail));
    }

    fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.obj.get(name).filter(|v| !v.is_null())
    }

    pub fn required_str(&mut self, name: &'static str) -> Option<&'a str> {
        match self.get(name) {
            None => {
                self.invalid(name, "required", format!("`{name}` is required."));
                None
            }
            Some(v) => self.as_str(name, v),
        }
    }

    /// Reads a required string and parses it; a parse error becomes a cause with `code`.
    pub fn required_parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        code: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.required_str(name)?;
        self.parsed(name, code, raw, parse)
    }

    /// Like [`Fields::required_parsed`] for a field that may be absent.
    pub fn optional_parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        code: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.optional_str(name)?;
        self.parsed(name, code, raw, parse)
    }

    fn parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        code: &str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match parse(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.invalid(name, code, format!("{e}."));
                None
            }
        }
    }

    pub fn optional_str(&mut self, name: &'static str) -> Option<&'a str> {
        let v = self.get(name)?;
        self.as_str(name, v)
    }

    pub fn required_bool(&mut self, name: &'static str) -> Option<bool> {
        match self.get(name) {
            None => {
                self.invalid(name, "required", format!("`{name}` is required."));
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.invalid(name, "invalid_type", format!("`{name}` must be true or false, not {}.", kind(other)));
                None
            }
        }
    }

    fn as_str(&mut self, name: &'static str, v: &'a Value) -> Option<&'a str> {
        match v {
            Value::String(s) => Some(s.as_str()),
            other => {
                self.invalid(name, "invalid_type", format!("`{name}` must be a string, not {}.", kind(other)));
                None
            }
        }
    }

    /// Ends reading: unknown fields are errors too (a typo must not be silently ignored).
    pub fn finish(mut self) -> Result<(), Problem> {
        let mut unknown: Vec<&String> = self.obj.keys().filter(|k| !self.known.contains(&k.as_str())).collect();
        unknown.sort();
        for k in unknown {
            let expected = self.known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
            self.errors.push(FieldError::new(
                format!("/{}", k.replace('~', "~0").replace('/', "~1")),
                "unknown_field",
                format!("`{k}` is not a field of this request; expected {expected}."),
            ));
        }
        if self.errors.is_empty() { Ok(()) } else { Err(Problem::validation(self.errors)) }
    }
}
