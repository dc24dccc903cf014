//! The OpenAPI document says exactly what the server accepts (issue 11,
//! item 8): for every operation, a request built from the document alone
//! (examples, enum members, minimum lengths, the shared header fragments) is
//! never refused for its shape; business refusals (401/403/404 of a
//! resource, 409, 429…) are fine. And what the document forbids (an unknown
//! property, `null` where it is not nullable, an out-of-range integer) is
//! refused with `validation_failed`.

use crate::reviews::operator;
use crate::{Server, expect_problem, sqlite_server};
use idlink::serve::Runtime;
use idlink_core::ports::operators::Role;
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Refusals that say the request's shape was wrong, not its business.
const SHAPE_CODES: &[&str] = &["validation_failed", "malformed_json", "unsupported_media_type", "method_not_allowed", "not_found"];

/// The document, and whether free strings (no pattern, no enum) take their
/// shortest allowed value instead of their example.
struct Doc(Value, std::cell::Cell<bool>);

impl Doc {
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let path = r.trim_start_matches("#/");
                path.split('/').fold(&self.0, |node, part| &node[part])
            }
            None => v,
        }
    }

    /// `allOf` merged into one schema, taking the first branch of each `anyOf`, and of each `oneOf`
    /// without the properties only its other branches require
    /// (what a client that reads the rules does).
    fn flatten(&self, schema: &Value) -> Value {
        let schema = self.resolve(schema).clone();
        if let Some(Value::Array(one)) = schema.get("oneOf") {
            // Exactly one branch: the first, without the properties only the others require.
            let mut first = one.first().map(|p| self.flatten(p)).unwrap_or_default();
            let own: Vec<Value> = first["required"].as_array().cloned().unwrap_or_default();
            let others: Vec<Value> =
                one.iter().skip(1).flat_map(|b| self.flatten(b)["required"].as_array().cloned().unwrap_or_default()).collect();
            first["x-exclude"] = Value::Array(others.into_iter().filter(|r| !own.contains(r)).collect());
            return first;
        }
        let parts: Vec<Value> = match (schema.get("allOf"), schema.get("anyOf")) {
            (Some(Value::Array(all)), _) => all.iter().map(|p| self.flatten(p)).collect(),
            (_, Some(Value::Array(any))) => any.first().map(|p| vec![self.flatten(p)]).unwrap_or_default(),
            _ => return schema,
        };
        let mut out = json!({"type": "object", "properties": {}, "required": []});
        for part in parts {
            for (k, v) in part.as_object().into_iter().flatten() {
                match k.as_str() {
                    "properties" => {
                        for (name, p) in v.as_object().into_iter().flatten() {
                            let slot = &mut out["properties"][name.as_str()];
                            if slot.is_null() {
                                *slot = json!({});
                            }
                            for (pk, pv) in p.as_object().into_iter().flatten() {
                                slot[pk.as_str()] = pv.clone();
                            }
                        }
                    }
                    "required" => {
                        for r in v.as_array().into_iter().flatten() {
                            if let Some(list) = out["required"].as_array_mut() {
                                list.push(r.clone());
                            }
                        }
                    }
                    "type" => {}
                    _ => out[k.as_str()] = v.clone(),
                }
            }
        }
        for name in out["x-exclude"].as_array().cloned().unwrap_or_default() {
            if let (Some(props), Some(n)) = (out["properties"].as_object_mut(), name.as_str()) {
                props.remove(n);
            }
        }
        out
    }

    /// A value of `schema` built from the document only; `full` also fills the optional properties.
    fn value(&self, schema: &Value, full: bool, at: &str) -> Value {
        let schema = &self.flatten(schema);
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.iter().find(|v| !v.is_null())) {
            return first.clone();
        }
        let string = schema["type"] == "string" || schema["type"][0] == "string";
        if self.1.get() && string && schema.get("pattern").is_none() && schema.get("format").is_none() {
            // Empty strings where the document allows them (it says `minLength` where the server needs one).
            return Value::String("x".repeat(schema["minLength"].as_u64().unwrap_or(0) as usize));
        }
        if let Some(example) = schema.get("example").or_else(|| schema["examples"].get(0)) {
            return example.clone();
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        match types.iter().find(|t| **t != "null").copied() {
            Some("object") => {
                let required: Vec<&str> =
                    schema["required"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                let mut out = Map::new();
                for (name, p) in schema["properties"].as_object().into_iter().flatten() {
                    if full || required.contains(&name.as_str()) {
                        out.insert(name.clone(), self.value(p, full, &format!("{at}/{name}")));
                    }
                }
                Value::Object(out)
            }
            Some("string") => {
                assert!(schema.get("pattern").is_none(), "{at}: a pattern without an example; give it one a client can copy");
                Value::String("x".repeat(schema["minLength"].as_u64().unwrap_or(1).max(1) as usize))
            }
            Some("integer") | Some("number") => schema.get("minimum").cloned().unwrap_or(json!(1)),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            _ => Value::Null,
        }
    }
}

struct Credentials {
    operator: String,
    key_counter: std::cell::Cell<u32>,
    /// The user session, renewed after an operation that ends it.
    session: std::cell::RefCell<Option<String>>,
}

impl Credentials {
    fn new(operator: String) -> Self {
        Self { operator, key_counter: std::cell::Cell::new(0), session: std::cell::RefCell::new(None) }
    }

    async fn session(&self, s: &Server) -> String {
        let current = self.session.borrow().clone();
        match current {
            Some(t) => t,
            None => {
                self.key_counter.set(self.key_counter.get() + 1);
                let t = crate::cards::session(s, &format!("139{:08}", self.key_counter.get())).await;
                *self.session.borrow_mut() = Some(t.clone());
                t
            }
        }
    }
}

/// Sends `op` with `body`; `full` also sends the optional query parameters.
async fn send(
    (s, doc, creds): (&Server, &Doc, &Credentials),
    path: &str,
    method: &str,
    op: &Value,
    body: Option<Value>,
    full: bool,
) -> reqwest::Response {
    let mut url = path.to_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    let session = creds.session(s).await;
    if method == "delete" && path == "/v1/me/sessions" {
        *creds.session.borrow_mut() = None;
    }
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = doc.resolve(p);
        let name = p["name"].as_str().unwrap_or("");
        let mut schema = p["schema"].clone();
        if let Some(e) = p.get("example") {
            schema["example"] = e.clone();
        }
        match (p["in"].as_str(), name) {
            (Some("path"), _) => {
                let v = doc.value(&schema, false, name);
                url = url.replace(&format!("{{{name}}}"), v.as_str().unwrap_or("x"));
            }
            (Some("header"), "Idlink-Session") => headers.push((name.into(), session.clone())),
            (Some("header"), "Idlink-Operator") => headers.push((name.into(), creds.operator.clone())),
            (Some("header"), "Idempotency-Key") => {
                creds.key_counter.set(creds.key_counter.get() + 1);
                headers.push((name.into(), format!("conformance~{}!", creds.key_counter.get())));
            }
            (Some("header"), _) if p["required"] == true => headers.push((name.into(), "x".into())),
            (Some("query"), _) if full || p["required"] == true => {
                let v = doc.value(&schema, false, name);
                let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
                url.push_str(&format!("{}{name}={v}", if url.contains('?') { '&' } else { '?' }));
            }
            _ => {}
        }
    }
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap_or(Method::GET);
    let mut req = s.authed(method, &url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn problem_code(res: reqwest::Response) -> (u16, String, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or("").to_owned(), body)
}

#[tokio::test]
async fn every_operation_accepts_what_the_document_describes() {
    let s = sqlite_server().await;
    let doc = Doc(serde_json::to_value(idlink_api::openapi()).unwrap_or_default(), std::cell::Cell::new(false));
    let op = operator(&s, &Runtime::default(), "conformance", &[Role::Reviewer, Role::Admin]).await;
    let creds = Credentials::new(op.token);
    let (mut checked, mut accepted) = (0, 0);
    for (path, item) in doc.0["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
            // Required parts only; every optional property and query parameter too; the shortest strings.
            for (full, shortest) in [(false, false), (true, false), (true, true)] {
                doc.1.set(shortest);
                let body = (!schema.is_null()).then(|| doc.value(&schema, full, path));
                let res = send((&s, &doc, &creds), path, method, op, body.clone(), full).await;
                let (status, code, problem) = problem_code(res).await;
                accepted += usize::from(status < 300);
                let shape = SHAPE_CODES.contains(&code.as_str()) && (code != "not_found" || status == 404);
                assert!(!shape, "{method} {path} with {body:?} was refused for its shape: {status} {problem}");
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "operations checked: {checked}");
    // Not vacuous: the credentials work, so many requests go all the way through.
    assert!(accepted >= 10, "requests accepted: {accepted} of {checked}");
}

#[tokio::test]
async fn what_the_document_forbids_is_refused_as_a_validation_failure() {
    let s = sqlite_server().await;
    let doc = Doc(serde_json::to_value(idlink_api::openapi()).unwrap_or_default(), std::cell::Cell::new(false));
    let op = operator(&s, &Runtime::default(), "conformance", &[Role::Reviewer, Role::Admin]).await;
    let creds = Credentials::new(op.token);
    let mut checked = 0;
    for (path, item) in doc.0["paths"].as_object().into_iter().flatten() {
        if path.starts_with("/v1/callbacks/") {
            continue; // signed by the bank before the body is read
        }
        for (method, op) in item.as_object().into_iter().flatten() {
            let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
            if schema.is_null() {
                continue;
            }
            let resolved = doc.flatten(&schema);
            assert_eq!(resolved["additionalProperties"], false, "{method} {path}: the body's schema closes its properties");
            let valid = doc.value(&schema, false, path);
            let mut variants = Vec::new();
            let mut unknown = valid.clone();
            unknown["zz_not_a_field"] = json!("x");
            variants.push(("an unknown property", unknown, "/zz_not_a_field"));
            for (name, p) in resolved["properties"].as_object().into_iter().flatten() {
                let p = doc.resolve(p);
                let nullable = p["type"].as_array().is_some_and(|t| t.contains(&json!("null")));
                if !nullable {
                    let mut v = doc.value(&schema, true, path);
                    v[name.as_str()] = Value::Null;
                    variants.push(("null where not nullable", v, ""));
                }
                if let Some(max) = p["maximum"].as_i64() {
                    let mut v = valid.clone();
                    v[name.as_str()] = json!(max + 1);
                    variants.push(("an integer above its maximum", v, ""));
                }
            }
            for (what, body, pointer) in variants {
                let res = send((&s, &doc, &creds), path, method, op, Some(body.clone()), false).await;
                let (status, code, problem) = problem_code(res).await;
                assert_eq!((status, code.as_str()), (422, "validation_failed"), "{method} {path} with {what} {body}: {problem}");
                if !pointer.is_empty() {
                    let pointers: Vec<&str> =
                        problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["pointer"].as_str()).collect();
                    assert!(pointers.contains(&pointer), "{method} {path}: {problem}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 30, "refusals checked: {checked}");
}

/// A wrong method is answered 405 with `Allow` before authentication (a `TRACE` was a 401).
#[tokio::test]
async fn a_wrong_method_is_405_before_authentication() {
    let s = sqlite_server().await;
    for (method, path, allow) in [
        (Method::TRACE, "/v1/users", "POST"),
        (Method::PATCH, "/v1/users/usr_0000", "GET,HEAD"),
        (Method::GET, "/v1/auth/login", "POST"),
        (Method::DELETE, "/v1/operator/reviews/case_1/claim", "POST"),
    ] {
        let res = s.client().request(method.clone(), s.url(path)).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
        expect_problem(res, 405, "method_not_allowed").await;
    }
    // Unknown paths are still 404, and known ones still need a key.
    expect_problem(s.client().get(s.url("/v1/nothing-here")).send().await.unwrap_or_else(|e| panic!("{e}")), 404, "not_found").await;
    expect_problem(s.client().get(s.url("/v1/users/usr_0000")).send().await.unwrap_or_else(|e| panic!("{e}")), 401, "unauthorized").await;
}

/// A path id of the wrong kind is refused before the handler, as the problem of its resource.
#[tokio::test]
async fn a_wrong_shaped_path_id_is_its_resources_problem() {
    let s = sqlite_server().await;
    let token = crate::cards::session(&s, "13900002222").await;
    for (method, path, status, code) in [
        (Method::POST, "/v1/me/cards/usr_0000/confirm", 404, "card_binding_not_found"),
        (Method::GET, "/v1/me/verifications/bnd_0000", 404, "verification_not_found"),
        (Method::POST, "/v1/me/guardianships/not-an-id/accept", 404, "guardianship_not_found"),
        (Method::GET, "/v1/users/bnd_0000", 422, "validation_failed"),
    ] {
        let res = s.authed(method, path).header("idlink-session", &token).json(&json!({"code": "123456"})).send().await;
        expect_problem(res.unwrap_or_else(|e| panic!("{e}")), status, code).await;
    }
}
