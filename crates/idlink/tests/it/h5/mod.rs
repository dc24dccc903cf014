//! Browser tests of the H5 pages: headless Chromium (Debian `chromium` and
//! `chromium-driver`, installed by `.ci/run`) driven over WebDriver
//! (fantoccini) against a real `idlink serve` with the sandbox, at phone
//! size (390 × 844). Each test gets its own driver and browser profile (no
//! cookie leaks between tests); browser tests run one at a time so two
//! cores are not shared by several Chromiums.
//!
//! axe-core (npm `axe-core@4.14.1`, `axe.min.js`, MPL-2.0, licence in
//! `axe.LICENSE`) runs on every page state a test checks: no WCAG 2.x A/AA
//! violation is allowed.

mod apps;
mod authorize;
mod cards;
mod consents;
mod credit;
mod demo_app;
mod every_page;
mod identity;
mod login;
mod revocation;
pub(crate) mod screenshots;
mod security;
mod social_security;

use crate::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::time::Duration;

/// Browser tests take turns (see the module header).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const AXE: &str = include_str!("axe.min.js");

/// The phone the pages are tested on: an iPhone-sized viewport and a mobile user agent.
const PHONE_UA: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";

/// Where the browser binaries are (Debian's packages), or why there are none.
fn binaries() -> Result<(&'static str, &'static str), String> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists());
    let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| std::path::Path::new(p).exists());
    match (chromium, driver) {
        (Some(c), Some(d)) => Ok((c, d)),
        _ => {
            Err("Chromium and its driver are not installed: `apt-get install chromium chromium-driver fonts-noto-cjk` (.ci/run does)"
                .into())
        }
    }
}

/// One browser for one test: its driver process, its profile, its session.
pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
    _profile: TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9515)
}

impl Browser {
    /// A phone-sized headless Chromium; `js: false` loads no page script (see below).
    pub async fn open(js: bool) -> Browser {
        let turn = TURN.lock().await;
        let (chromium, driver_bin) = binaries().unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let driver = tokio::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = TempDir(std::env::temp_dir().join(format!("idlink-chromium-{}-{port}", std::process::id())));
        // The browser asks for Simplified Chinese, as most of the product's users' phones do.
        let prefs = json!({ "intl.accept_languages": "zh-CN,zh" });
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", profile.0.display()),
                    "--window-size=390,844", "--force-device-scale-factor=1", "--lang=zh-CN",
                ],
                "mobileEmulation": { "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 1.0 }, "userAgent": PHONE_UA },
                "prefs": prefs,
            }
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::rustls()
            .unwrap_or_else(|e| panic!("webdriver client: {e}"))
            .capabilities(caps)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session: {e}"));
        if !js {
            // The pages' only script is htmx: blocking it is a page with
            // JavaScript off. (Chromium's own switch for it stalls the
            // driver's clicks, which wait on a script of the driver's.)
            let session = client.session_id().await.ok().flatten().unwrap_or_default();
            let cdp = format!("{url}/session/{session}/goog/cdp/execute");
            for (cmd, params) in [("Network.enable", json!({})), ("Network.setBlockedURLs", json!({ "urls": ["*.js"] }))] {
                let res = reqwest::Client::new().post(&cdp).json(&json!({ "cmd": cmd, "params": params })).send().await;
                assert!(res.is_ok_and(|r| r.status().is_success()), "{cmd} through the driver");
            }
        }
        Browser { client, _driver: driver, _profile: profile, _turn: turn }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        el.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks and waits for the next page (a full load, or htmx's swap).
    pub async fn click(&self, css: &str) {
        let before = self.page_id().await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        self.settle(&before).await;
    }

    /// An id for the page shown now: htmx swaps the body's content in
    /// place, so a marker is set on `main` and its disappearance means a new page.
    async fn page_id(&self) -> String {
        let id = format!("p{}", rand_u64());
        let _ = self
            .client
            .execute("const m = document.querySelector('main'); if (m) m.dataset.testPage = arguments[0];", vec![json!(id)])
            .await;
        id
    }

    async fn settle(&self, before: &str) {
        for _ in 0..200 {
            let state = self
                .client
                .execute(
                    "const m = document.querySelector('main');\
                     return [document.readyState, m ? (m.dataset.testPage || '') : '', document.querySelector('.htmx-request') !== null];",
                    vec![],
                )
                .await
                .unwrap_or(Value::Null);
            if state[0] == "complete" && state[1] != before && state[2] == false {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let src = self.client.source().await.unwrap_or_default();
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        panic!("the page did not change within 5 s: {url}\n{}", src.chars().take(3000).collect::<String>());
    }

    /// Clicks what does not leave the page (a radio button, a checkbox).
    pub async fn tick(&self, css: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        el.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    pub async fn has(&self, css: &str) -> bool {
        self.client.find_all(Locator::Css(css)).await.map(|v| !v.is_empty()).unwrap_or(false)
    }

    /// Agrees to each consent text the pages ask for on the way (issue 18),
    /// as a user reading them would; answers how many were asked.
    pub async fn agree_when_asked(&self) -> usize {
        let mut asked = 0;
        while asked < 5 && self.path().await.starts_with("/h5/consents/") {
            self.click("#agree").await;
            asked += 1;
        }
        asked
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.map(|u| u.path().to_owned()).unwrap_or_default()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let el = self.client.find(Locator::Css(css)).await.ok()?;
        el.attr(name).await.ok().flatten()
    }

    /// The id of the element that has the focus once it is `want`, or
    /// after two seconds whatever has it then. The browser (and htmx after
    /// a swap) runs `autofocus` as a task of its own after the page is
    /// shown: on a busy machine the body or the button just pressed holds
    /// the focus for a moment first.
    pub async fn focus_on(&self, want: &str) -> String {
        let mut id = String::new();
        for _ in 0..80 {
            id = self
                .client
                .execute("return document.activeElement ? document.activeElement.id : '';", vec![])
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if id == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        id
    }

    /// Runs axe-core on the page and fails on any WCAG 2.x A/AA violation.
    pub async fn assert_accessible(&self, what: &str) {
        self.client.execute(AXE, vec![]).await.unwrap_or_else(|e| panic!("load axe: {e}"));
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })\
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3) }))))\
                   .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("run axe: {e}"));
        let list = violations.as_array().cloned().unwrap_or_default();
        assert!(list.is_empty(), "{what}: accessibility violations: {}", serde_json::to_string_pretty(&list).unwrap_or_default());
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

fn rand_u64() -> u64 {
    u64::from_le_bytes(idlink_crypto::Random::bytes16(&idlink_crypto::OsRandom)[..8].try_into().unwrap_or([0; 8]))
}

/// Logs `phone` in through the login pages (a first login creates the account).
pub async fn log_in(b: &Browser, s: &Server, phone: &str) {
    b.goto(&s.url("/h5/login")).await;
    b.fill("#phone", phone).await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    let code = s.last_code(phone).await;
    b.fill("#code", &code).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
}

/// A browser without a browser: keeps the pages' cookies and posts their
/// forms with the CSRF token, for journeys checked on both databases.
pub struct FormClient<'a> {
    s: &'a Server,
    http: reqwest::Client,
    pub(crate) cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> FormClient<'a> {
    pub fn new(s: &'a Server) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default();
        FormClient { s, http, cookies: Default::default() }
    }

    pub fn keep(&mut self, res: &reqwest::Response) {
        for c in res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            if let Some((name, rest)) = c.split_once('=') {
                let value = rest.split(';').next().unwrap_or("").to_owned();
                if c.contains("Max-Age=0") {
                    self.cookies.remove(name)
                } else {
                    self.cookies.insert(name.to_owned(), value)
                };
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let res = self.http.get(self.s.url(path)).header("cookie", self.cookie_header()).send().await.unwrap_or_else(|e| panic!("{e}"));
        self.keep(&res);
        res
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.cookies.get("idlink_csrf").cloned().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        let body = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let res = self
            .http
            .post(self.s.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.keep(&res);
        res
    }

    /// Agrees to every consent text through its page, as a user reading
    /// each would (issue 18): the tests that go on verify the real name.
    pub async fn agree_to_all(&mut self) {
        for kind in ["face", "id_number", "bank_card", "credit_report", "social_security"] {
            let page = self.get(&format!("/h5/consents/{kind}")).await.text().await.unwrap_or_default();
            let field = |name: &str| {
                let at = format!("name=\"{name}\" value=\"");
                page.split(&at).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned()
            };
            let (version, sha256, locale) = (field("version"), field("sha256"), field("locale"));
            let res = self.post(&format!("/h5/consents/{kind}"), &[("version", &version), ("sha256", &sha256), ("locale", &locale)]).await;
            assert_eq!(res.status().as_u16(), 303, "{kind}: agreed");
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The size of `bytes` gzip-compressed, as a browser downloads a page.
pub fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
    enc.finish().map(|v| v.len()).unwrap_or(usize::MAX)
}
