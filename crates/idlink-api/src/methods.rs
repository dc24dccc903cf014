//! A wrong method answers 405 with `Allow` before any authentication: which
//! methods a path takes is public (it is in the OpenAPI document), so a
//! client without a key learns nothing new, and a `TRACE` is not a 401.
//!
//! The table is read from the generated document, the same source as the
//! routes; paths it does not know go on to the router (its 404 fallback).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::openapi::OpenApi;

/// Path templates (`/v1/users/{user_id}`) and the methods each takes.
#[derive(Debug, Clone, Default)]
pub struct MethodTable(Arc<Table>);

/// Every request passes through the table, so a path is found without
/// comparing it with every template (that scan was 2 % of a point read's CPU).
#[derive(Debug, Default)]
struct Table {
    /// Templates without a parameter, by their text after the leading `/`:
    /// an exact match is the best one, as in the router.
    literal: HashMap<String, Vec<Method>>,
    /// Templates with a parameter, by their number of segments.
    templated: Vec<Vec<(Vec<String>, Vec<Method>)>>,
}

impl MethodTable {
    pub fn from_document(doc: &OpenApi) -> Self {
        let mut table = Table::default();
        for (path, item) in &doc.paths.paths {
            let mut methods = Vec::new();
            let ops = [
                (Method::GET, item.get.is_some()),
                (Method::HEAD, item.get.is_some() || item.head.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::DELETE, item.delete.is_some()),
                (Method::PATCH, item.patch.is_some()),
            ];
            methods.extend(ops.into_iter().filter(|(_, present)| *present).map(|(m, _)| m));
            let template: Vec<String> = segments(path).map(str::to_owned).collect();
            if template.iter().any(|t| is_parameter(t)) {
                if table.templated.len() <= template.len() {
                    table.templated.resize_with(template.len() + 1, Vec::new);
                }
                if let Some(bucket) = table.templated.get_mut(template.len()) {
                    bucket.push((template, methods));
                }
            } else {
                table.literal.insert(template.join("/"), methods);
            }
        }
        Self(Arc::new(table))
    }

    /// The methods `path` takes, if it is a known path.
    fn methods(&self, path: &str) -> Option<&[Method]> {
        if let Some(m) = self.0.literal.get(path.trim_start_matches('/')) {
            return Some(m);
        }
        self.0
            .templated
            .get(segments(path).count())?
            .iter()
            .filter(|(template, _)| template.iter().zip(segments(path)).all(|(t, w)| (is_parameter(t) && !w.is_empty()) || t == w))
            // A literal segment is a better match than a parameter (as in the router).
            .max_by_key(|(template, _)| template.iter().filter(|t| !is_parameter(t)).count())
            .map(|(_, m)| m.as_slice())
    }
}

fn is_parameter(segment: &str) -> bool {
    segment.starts_with('{')
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('/').split('/')
}

/// Refuses a method the path does not take, with 405 and `Allow`.
pub async fn guard(State(table): State<MethodTable>, req: Request, next: Next) -> Response {
    if let Some(methods) = table.methods(req.uri().path())
        && !methods.contains(req.method())
    {
        let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(",");
        let mut res = StatusCode::METHOD_NOT_ALLOWED.into_response();
        if let Ok(v) = HeaderValue::from_str(&allow) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        return res;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};

    fn table(paths: &[(&str, HttpMethod)]) -> MethodTable {
        let mut builder = PathsBuilder::new();
        for (path, method) in paths {
            builder = builder.path(*path, PathItem::new(method.clone(), OperationBuilder::new().build()));
        }
        MethodTable::from_document(&utoipa::openapi::OpenApiBuilder::new().paths(builder.build()).build())
    }

    #[test]
    fn a_literal_path_beats_a_template_and_a_parameter_matches_one_segment() {
        let t = table(&[
            ("/v1/cards/{card_id}", HttpMethod::Get),
            ("/v1/cards/limits", HttpMethod::Put),
            ("/v1/cards/{card_id}/confirm", HttpMethod::Post),
            ("/v1/{anything}/limits", HttpMethod::Delete),
        ]);
        assert_eq!(t.methods("/v1/cards/limits"), Some(&[Method::PUT][..]));
        assert_eq!(t.methods("/v1/cards/crd_1"), Some(&[Method::GET, Method::HEAD][..]));
        assert_eq!(t.methods("/v1/cards/crd_1/confirm"), Some(&[Method::POST][..]));
        // Two templates match: the one with more literal segments wins.
        assert_eq!(t.methods("/v1/users/limits"), Some(&[Method::DELETE][..]));
        for unknown in ["/v1/cards", "/v1/cards//confirm", "/v1/cards/crd_1/confirm/again", "/"] {
            assert_eq!(t.methods(unknown), None, "{unknown}");
        }
    }
}
