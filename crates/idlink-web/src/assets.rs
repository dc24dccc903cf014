//! The pages' static files, compiled into the binary: the stylesheet and
//! htmx (npm `htmx.org@2.0.11`, `dist/htmx.min.js`, 0BSD licence in
//! `static/htmx.LICENSE`). Served with a strong ETag and revalidated, so a
//! new release never shows a stale stylesheet.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    // One stylesheet, written in one file per area of the pages.
    Asset {
        name: "h5.css",
        content_type: "text/css; charset=utf-8",
        body: concat!(
            include_str!("../static/h5.css"),
            include_str!("../static/h5-identity.css"),
            include_str!("../static/h5-security.css"),
            include_str!("../static/h5-cards.css"),
        )
        .as_bytes(),
    },
    // The operator console's own stylesheet (desktop-first, not the phone pages').
    Asset { name: "console.css", content_type: "text/css; charset=utf-8", body: include_bytes!("../static/console.css") },
    Asset { name: "htmx.min.js", content_type: "text/javascript; charset=utf-8", body: include_bytes!("../static/htmx.min.js") },
];

fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..16])).collect())
}

/// `GET /h5/assets/{file}`.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((i, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = etags().get(i).cloned().unwrap_or_default();
    let cache = [(header::ETAG, etag.clone()), (header::CACHE_CONTROL, "no-cache".to_owned())];
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body).into_response()
}
