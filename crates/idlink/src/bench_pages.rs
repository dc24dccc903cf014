//! `idlink bench pages`: how long the H5 pages take to answer (issue 12:
//! "render server-side in under 5 ms at p99"), each page on its own, through
//! the whole HTTP path of a running server on SQLite: cookies read, the
//! session looked up, the use case called, the template rendered and sent.
//!
//! Setup goes through the API like the balance benchmark's: one user logs
//! in by SMS, verifies (three elements + face) and binds an ICBC card, and
//! the pages are then asked with that user's session in the cookie. Each
//! page is requested one at a time (one client), so a figure is one page's
//! own latency, not a queue's. In the same run, two baselines: a bare axum
//! endpoint answering a fixed HTML string through the same HTTP client
//! (what the loopback and the client cost), and the stylesheet answered
//! `304 Not Modified` through the pages' own middleware (what the security
//! headers, the CSRF guard, metrics and request id cost before any page).

use crate::bench_balance::{Stats, bench_server, client, drive};
use anyhow::{Context, Result, bail};
use idlink_store::testing;

#[derive(Debug, Clone)]
pub struct Options {
    /// Requests per page.
    pub requests: usize,
}

/// The pages measured: (name, path), `{binding}` replaced by the user's card.
const PAGES: [(&str, &str); 11] = [
    ("login (signed out)", "/h5/login"),
    ("home", "/h5/"),
    ("capabilities", "/h5/capabilities"),
    ("access log", "/h5/access-log"),
    ("identity", "/h5/identity"),
    ("guardians", "/h5/guardians"),
    ("payment password", "/h5/security"),
    ("devices", "/h5/devices"),
    ("cards", "/h5/cards"),
    ("card and its tiers", "/h5/cards/{binding}"),
    ("balance query history", "/h5/cards/history"),
];

pub async fn run(opts: &Options) -> Result<()> {
    println!(
        "idlink bench pages: {} requests per page, one at a time, {} build",
        opts.requests,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let baseline = bare_html(opts.requests).await?;
    println!("{}", baseline.line("baseline: bare axum HTML endpoint"));
    let db = testing::sqlite().await.map_err(|e| anyhow::anyhow!(e))?;
    let (running, api, data_dir) = bench_server(&db, 1).await?;
    let (session, binding, _) = api.user(0).await.context("setting up the bench user")?;
    let http = client(1)?;

    let css = format!("{}/h5/assets/h5.css", api.base);
    let etag = http.get(&css).send().await?.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let not_modified = {
        let (http, css, etag) = (http.clone(), css.clone(), etag.clone());
        drive(1, opts.requests, None, move |_, _| {
            let (http, css, etag) = (http.clone(), css.clone(), etag.clone());
            async move {
                let res = http.get(&css).header("if-none-match", &etag).send().await?;
                if res.status() != reqwest::StatusCode::NOT_MODIFIED {
                    bail!("the stylesheet answered {}", res.status());
                }
                Ok(())
            }
        })
        .await?
    };
    println!("{}", not_modified.line("baseline: stylesheet 304 via pages"));

    let mut worst: Option<(f64, &str)> = None;
    for (name, path) in PAGES {
        let url = format!("{}{}", api.base, path.replace("{binding}", &binding));
        let cookie = if path == "/h5/login" { String::new() } else { format!("idlink_session={session}") };
        // One visit first: the page must exist and answer 200 (not a redirect to the login).
        let first = http.get(&url).header("cookie", &cookie).send().await?;
        if first.status() != reqwest::StatusCode::OK {
            bail!("{path} answered {} (expected the page)", first.status());
        }
        let stats = {
            let (http, url, cookie) = (http.clone(), url.clone(), cookie.clone());
            drive(1, opts.requests, None, move |_, _| {
                let (http, url, cookie) = (http.clone(), url.clone(), cookie.clone());
                async move {
                    let res = http.get(&url).header("cookie", &cookie).send().await?;
                    let status = res.status();
                    res.bytes().await?;
                    if status != reqwest::StatusCode::OK {
                        bail!("{url} answered {status}");
                    }
                    Ok(())
                }
            })
            .await?
        };
        println!("{}   x{:.1} baseline p99", stats.line(name), stats.p99_ms / baseline.p99_ms.max(1e-9));
        if worst.is_none_or(|(w, _)| stats.p99_ms > w) {
            worst = Some((stats.p99_ms, name));
        }
    }
    if let Some((p99, name)) = worst {
        println!("slowest page at p99: {name}, {p99:.2} ms (target: under 5 ms)");
    }
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    if let Err(e) = db.dispose().await {
        eprintln!("  could not remove the scratch database: {e}");
    }
    Ok(())
}

/// A fixed HTML page of a typical page's size, from a bare axum router.
async fn bare_html(requests: usize) -> Result<Stats> {
    let body = format!("<!doctype html><html><body>{}</body></html>", "<p>idlink</p>".repeat(400));
    let app = axum::Router::new().route("/page", axum::routing::get(move || async move { axum::response::Html(body) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/page", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = client(1)?;
    let stats = drive(1, requests, None, move |_, _| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let res = http.get(&url).send().await?;
            res.bytes().await?;
            Ok(())
        }
    })
    .await;
    server.abort();
    stats
}
