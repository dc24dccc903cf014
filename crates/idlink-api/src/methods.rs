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
use std::sync::Arc;
use utoipa::openapi::OpenApi;

/// Path templates (`/v1/users/{user_id}`) and the methods each takes.
#[derive(Debug, Clone, Default)]
pub struct MethodTable(Arc<Vec<(Vec<String>, Vec<Method>)>>);

impl MethodTable {
    pub fn from_document(doc: &OpenApi) -> Self {
        let mut rows = Vec::new();
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
            rows.push((segments(path).map(str::to_owned).collect(), methods));
        }
        Self(Arc::new(rows))
    }

    /// The methods `path` takes, if it is a known path.
    fn methods(&self, path: &str) -> Option<&[Method]> {
        let wanted = segments(path).count();
        self.0
            .iter()
            .filter(|(template, _)| {
                template.len() == wanted
                    && template.iter().zip(segments(path)).all(|(t, w)| (t.starts_with('{') && !w.is_empty()) || t == w)
            })
            // A literal segment is a better match than a parameter (as in the router).
            .max_by_key(|(template, _)| template.iter().filter(|t| !t.starts_with('{')).count())
            .map(|(_, m)| m.as_slice())
    }
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
