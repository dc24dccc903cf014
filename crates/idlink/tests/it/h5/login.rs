//! The login pages in a phone browser: SMS code, wrong code, the
//! new-device check, the language and elder-mode switches, JavaScript on
//! and off; and the safety of the pages over plain HTTP (cookies, CSP, CSRF).

use super::Browser;
use crate::{Server, sqlite_server};

#[tokio::test]
async fn a_new_user_logs_in_with_an_sms_code_in_chinese_then_switches_to_english() {
    let s = sqlite_server().await;
    let b = Browser::open(true).await;
    b.goto(&s.base).await;
    assert_eq!(b.path().await, "/h5/login", "/ leads to the login page");
    assert_eq!(b.text("h1").await, "手机号登录", "Chromium asks for zh-CN");
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("zh-CN"));
    assert_eq!(b.focus_on("phone").await, "phone", "the first field has the focus");
    b.assert_accessible("login, phone step").await;

    b.fill("#phone", "13700001111").await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    assert_eq!(b.text("h1").await, "输入验证码");
    assert!(b.text("#code-sent").await.contains("137****1111"), "the number is shown masked");
    b.assert_accessible("login, code step").await;
    let code = s.last_code("13700001111").await;
    b.fill("#code", &code).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
    assert_eq!(b.path().await, "/h5/", "home after login");
    assert_eq!(b.text("h1").await, "我的身份");
    b.assert_accessible("home").await;

    b.click("a[href='/h5/capabilities']").await;
    assert_eq!(b.text("h1").await, "我可以使用的功能");
    assert_eq!(b.text("#standing").await, "您尚未完成实名认证。");
    assert_eq!(
        b.client.find_all(fantoccini::Locator::Css(".capabilities .restricted")).await.map(|v| v.len()).unwrap_or(0),
        5,
        "nothing before verification"
    );
    assert!(b.text("#capabilities-note").await.contains("实名认证"), "says what unlocks them");
    b.assert_accessible("capabilities, unverified").await;
    b.click("main a[href='/h5/']").await;

    b.goto(&s.url("/h5/no-such-page")).await;
    assert!(b.text("main").await.contains("没有这个页面"), "an unknown page answers a page, not JSON");
    b.goto(&s.url("/h5/")).await;

    b.click("a[href='/h5/access-log']").await;
    assert_eq!(b.text("h1").await, "谁查看了我的数据");
    let log = b.text(".records").await;
    assert!(log.contains("创建了您的账户") && log.contains("登录了您的账户"), "the login's own records, in words: {log}");
    assert!(log.contains("在本页面用您的号码登录的人"), "steps before sign-in are not attributed to the user: {log}");
    b.assert_accessible("access log").await;
    b.click("main a[href='/h5/']").await;

    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "My identity");
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));
    b.click("button[name=lang][value=zh-HK]").await;
    assert_eq!(b.text("h1").await, "我的身份");
    assert!(b.text(".menu").await.contains("誰查看了我的資料"), "traditional characters in zh-HK");
    b.assert_accessible("home in zh-HK").await;

    let token = b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default();
    assert!(token.starts_with("ses_"), "the session cookie holds the session token: {token}");
    b.click("footer button[type=submit]").await;
    assert_eq!(b.path().await, "/h5/login", "logged out");
    let me = s.authed(reqwest::Method::GET, "/v1/me").header("idlink-session", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
    crate::expect_problem(me, 401, "session_invalid").await;
    b.goto(&s.url("/h5/")).await;
    assert_eq!(b.path().await, "/h5/login", "the session is gone from this browser");
    b.close().await;
}

#[tokio::test]
async fn a_wrong_code_is_announced_and_focused_and_the_right_one_still_works() {
    let s = sqlite_server().await;
    let b = Browser::open(true).await;
    b.goto(&s.url("/h5/login")).await;
    b.click("button[name=lang][value=en]").await;
    let htmx = b.client.execute("window.__sameDocument = true; return typeof htmx;", vec![]).await.unwrap_or_default();
    assert_eq!(htmx, "object", "htmx loads under the CSP");
    b.fill("#phone", "12345").await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    let same = b.client.execute("return window.__sameDocument === true;", vec![]).await.unwrap_or_default();
    assert_eq!(same, true, "with scripts on, htmx swapped the answer into the page (no full reload)");
    assert!(b.text(".error-summary").await.contains("11-digit"), "says what a valid number looks like");
    assert_eq!(b.attr("#phone", "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(b.attr(".error-summary", "role").await.as_deref(), Some("alert"), "announced to screen readers");
    assert_eq!(b.focus_on("phone").await, "phone");
    b.assert_accessible("login, invalid number").await;

    b.fill("#phone", "13700002222").await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    let right = s.last_code("13700002222").await;
    let wrong = if right == "000000" { "111111" } else { "000000" };
    b.fill("#code", wrong).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
    assert!(b.text("#code-error").await.contains("not right"), "{}", b.text("#code-error").await);
    assert_eq!(b.focus_on("code").await, "code", "focus on the field in error");
    b.assert_accessible("login, wrong code").await;
    b.fill("#code", &right).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
    assert_eq!(b.path().await, "/h5/");
    b.close().await;
}

#[tokio::test]
async fn a_second_browser_is_a_new_device_and_needs_a_second_code() {
    let s = sqlite_server().await;
    let first = Browser::open(true).await;
    super::log_in(&first, &s, "13700003333").await;
    assert_eq!(first.path().await, "/h5/");
    first.close().await;

    let second = Browser::open(true).await;
    super::log_in(&second, &s, "13700003333").await;
    assert_eq!(second.text("h1").await, "确认新设备", "a browser the account never used");
    second.assert_accessible("device check").await;
    second.goto(&s.url("/h5/")).await;
    assert_eq!(second.path().await, "/h5/login", "no access before the device check");
    second.close().await;

    let third = Browser::open(true).await;
    super::log_in(&third, &s, "13700003333").await;
    let code = s.last_code("13700003333").await;
    third.fill("#code", &code).await;
    third.click("form[action='/h5/login/device'] button[type=submit]").await;
    assert_eq!(third.path().await, "/h5/");
    assert!(third.text("main").await.contains("H5 · Chrome"), "the device is named after the browser");
    third.close().await;
}

#[tokio::test]
async fn login_works_with_javascript_off() {
    let s = sqlite_server().await;
    let b = Browser::open(false).await;
    super::log_in(&b, &s, "13700004444").await;
    assert_eq!(b.path().await, "/h5/", "forms post and redirect without scripts");
    let htmx = b.client.execute("return typeof htmx;", vec![]).await.unwrap_or_default();
    assert_eq!(htmx, "undefined", "no script ran on these pages");
    b.assert_accessible("home without scripts").await;
    assert_eq!(b.text("h1").await, "我的身份");
    b.click("button[name=elder][value='1']").await;
    assert!(b.has("body.elder").await, "the switch works without scripts");
    b.close().await;
}

#[tokio::test]
async fn elder_mode_has_large_text_and_targets_and_survives_double_text_size() {
    let s = sqlite_server().await;
    let b = Browser::open(true).await;
    b.goto(&s.url("/h5/login")).await;
    b.click("button[name=elder][value='1']").await;
    assert!(b.has("body.elder").await);
    b.goto(&s.url("/h5/login")).await;
    assert!(b.has("body.elder").await, "remembered");
    b.assert_accessible("login in elder mode").await;
    let m = b
        .client
        .execute(
            "const px = v => parseFloat(v);\
             const body = getComputedStyle(document.body);\
             const key = document.querySelector('main button[type=submit]');\
             const r = key.getBoundingClientRect();\
             const targets = [...document.querySelectorAll('button, a, input')].filter(e => e.offsetParent !== null && !e.classList.contains('skip'))\
               .map(e => { const b = e.getBoundingClientRect(); return [e.outerHTML.slice(0, 60), b.width, b.height]; });\
             return { body: px(body.fontSize), line: px(body.lineHeight) / px(body.fontSize), key: px(getComputedStyle(key).fontSize),\
                      w: r.width, h: r.height, targets };",
            vec![],
        )
        .await
        .unwrap_or_default();
    assert!(m["body"].as_f64().unwrap_or(0.0) >= 18.0, "body text ≥ 18 px: {m}");
    assert!(m["line"].as_f64().unwrap_or(0.0) >= 1.3, "line height ≥ 1.3: {m}");
    assert!(m["key"].as_f64().unwrap_or(0.0) >= 30.0, "key action text ≥ 30 px: {m}");
    for t in m["targets"].as_array().cloned().unwrap_or_default() {
        assert!(t[1].as_f64().unwrap_or(0.0) >= 60.0 && t[2].as_f64().unwrap_or(0.0) >= 60.0, "tap target ≥ 60 × 60 px: {t}");
    }
    let overflow = b
        .client
        .execute(
            "document.documentElement.style.fontSize = '200%';\
             return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap_or_default();
    assert!(overflow.as_f64().unwrap_or(1.0) <= 0.0, "no sideways scrolling at 200 % text: {overflow} px");
    b.close().await;
}

#[tokio::test]
async fn pages_are_served_safely() {
    let s = sqlite_server().await;
    let res = reqwest::Client::new().get(s.url("/h5/login")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let csp = res.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(res.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let cookies: Vec<String> = res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    assert!(cookies.iter().any(|c| c.starts_with("idlink_csrf=")), "{cookies:?}");
    for c in &cookies {
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"), "{c}");
        assert!(!c.contains("Secure"), "plain HTTP here: {c}");
    }
    let csrf = cookies.iter().find_map(|c| c.strip_prefix("idlink_csrf=")).and_then(|c| c.split(';').next()).unwrap_or("").to_owned();
    let body = res.text().await.unwrap_or_default();
    assert!(!body.contains("<script>") && !body.contains(" style="), "no inline script or style");

    let post = |form: String, cookie: String, origin: Option<&'static str>| {
        let mut req = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
            .post(s.url("/h5/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let no_token = post("phone=13700005555".into(), format!("idlink_csrf={csrf}"), None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(no_token.status().as_u16(), 403, "a form without its token is refused");
    let other_token = post(format!("phone=13700005555&csrf={}", "0".repeat(32)), format!("idlink_csrf={csrf}"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(other_token.status().as_u16(), 403);
    let cross = post(format!("phone=13700005555&csrf={csrf}"), format!("idlink_csrf={csrf}"), Some("https://evil.example"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cross.status().as_u16(), 403, "a post from another site is refused");
    assert!(s.inbox("13700005555").await["messages"].as_array().is_none_or(Vec::is_empty), "no code was sent for refused forms");
    let empty = post("phone=13700005555&csrf=".into(), "idlink_csrf=".into(), None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(empty.status().as_u16(), 403, "an empty token matches nothing");
    let big = post(format!("phone=13700005555&csrf={csrf}&x={}", "a".repeat(20_000)), format!("idlink_csrf={csrf}"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(big.status().as_u16(), 413);
    assert!(big.text().await.unwrap_or_default().contains("<main"), "an oversized form gets a page that says so");
    let ok = post(format!("phone=13700005555&csrf={csrf}"), format!("idlink_csrf={csrf}"), None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.status().as_u16(), 200, "the same form with its token goes through");

    let root = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
        .get(s.url("/"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(root.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/"));
}

#[tokio::test]
async fn logging_out_ends_the_session_on_the_server_on_both_databases() {
    for s in crate::servers().await {
        let mut c = super::FormClient::new(&s);
        assert_eq!(c.get("/h5/login").await.status().as_u16(), 200);
        let page = c.post("/h5/login", &[("phone", "13700006666")]).await.text().await.unwrap_or_default();
        let challenge = page.split("name=\"challenge_id\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
        assert!(challenge.starts_with("chl_"), "{}: the code step carries its challenge", s.kind);
        let code = s.last_code("13700006666").await;
        let res = c.post("/h5/login/code", &[("phone", "13700006666"), ("challenge_id", &challenge), ("code", &code)]).await;
        assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/"), "{}", s.kind);
        let token = c.cookies.get("idlink_session").cloned().unwrap_or_default();
        let me = s.authed(reqwest::Method::GET, "/v1/me").header("idlink-session", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(me.status().as_u16(), 200, "{}: the H5 session is a session of the user", s.kind);

        let out = c.post("/h5/logout", &[]).await;
        assert_eq!(out.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/login"));
        assert!(!c.cookies.contains_key("idlink_session"), "{}: the cookie is cleared", s.kind);
        let me = s.authed(reqwest::Method::GET, "/v1/me").header("idlink-session", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        crate::expect_problem(me, 401, "session_invalid").await;
    }
}

/// The session cookie's `Max-Age` in a response, in seconds.
fn session_max_age(res: &reqwest::Response) -> Option<i64> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("idlink_session="))
        .and_then(|c| c.split(';').find_map(|p| p.trim().strip_prefix("Max-Age=")).and_then(|a| a.parse().ok()))
}

/// Logs `phone` in with a form client up to the answer of the code step.
async fn code_step(c: &mut super::FormClient<'_>, s: &Server, phone: &str) -> reqwest::Response {
    c.get("/h5/login").await;
    let page = c.post("/h5/login", &[("phone", phone)]).await.text().await.unwrap_or_default();
    let challenge = page.split("name=\"challenge_id\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
    let code = s.last_code(phone).await;
    c.post("/h5/login/code", &[("phone", phone), ("challenge_id", &challenge), ("code", &code)]).await
}

/// A login waiting for its device check lives minutes, not the session's
/// month; going back to the login page ends it; confirming the device gives
/// the session (and its cookie) the full lifetime from then.
#[tokio::test]
async fn a_login_waiting_for_its_device_check_is_short_lived_and_ends_when_abandoned() {
    let s = sqlite_server().await;
    let phone = "13700007777";
    let mut first = super::FormClient::new(&s);
    let done = code_step(&mut first, &s, phone).await;
    let month = session_max_age(&done).unwrap_or_default();
    assert!(month > 29 * 24 * 3600, "an active session's cookie lives as long as the session: {month}");

    let mut second = super::FormClient::new(&s);
    let waiting = code_step(&mut second, &s, phone).await;
    assert_eq!(waiting.status().as_u16(), 200, "the device step is a page");
    let short = session_max_age(&waiting).unwrap_or(i64::MAX);
    assert!((60..=900).contains(&short), "a waiting login's cookie lives minutes (three code lifetimes): {short}");
    let pending = second.cookies.get("idlink_session").cloned().unwrap_or_default();
    let id = idlink_domain::SessionId::parse(pending.split('.').next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let store = &s.running.as_ref().unwrap_or_else(|| panic!("running")).store;
    use idlink_core::ports::auth::AuthStore;
    let row = store.session(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("the waiting session"));
    assert!(row.expires_at.duration_since(row.created_at).as_secs() <= 900, "stored with the short lifetime too");

    let back = second.get("/h5/login").await;
    assert_eq!(back.status().as_u16(), 200);
    assert!(!second.cookies.contains_key("idlink_session"), "the abandoned login's cookie is cleared");
    let row = store.session(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("the waiting session"));
    assert!(row.revoked_at.is_some(), "and the waiting session is ended on the server");

    let mut third = super::FormClient::new(&s);
    let page = code_step(&mut third, &s, phone).await.text().await.unwrap_or_default();
    let challenge = page.split("name=\"challenge_id\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
    let code = s.last_code(phone).await;
    let confirmed = third.post("/h5/login/device", &[("phone", phone), ("challenge_id", &challenge), ("code", &code)]).await;
    assert_eq!(confirmed.headers().get("location").and_then(|v| v.to_str().ok()), Some("/h5/"));
    let full = session_max_age(&confirmed).unwrap_or_default();
    assert!(full > 29 * 24 * 3600, "a confirmed device's session lives the full lifetime from now: {full}");
    assert_eq!(third.get("/h5/").await.status().as_u16(), 200, "and works");
}

#[tokio::test]
async fn each_page_with_its_css_and_script_weighs_under_60_kb_compressed() {
    let s = sqlite_server().await;
    let mut c = super::FormClient::new(&s);
    let mut assets = 0;
    for asset in ["/h5/assets/h5.css", "/h5/assets/htmx.min.js"] {
        let res = c.get(asset).await;
        assert_eq!(res.status().as_u16(), 200, "{asset}");
        assets += super::gzip_len(&res.bytes().await.unwrap_or_default());
    }
    let login = c.get("/h5/login").await.bytes().await.unwrap_or_default();
    let code = c.post("/h5/login", &[("phone", "13700007777")]).await.bytes().await.unwrap_or_default();
    for (page, html) in [("login", login), ("code step", code)] {
        let total = super::gzip_len(&html) + assets;
        assert!(total < 60 * 1024, "{page}: {total} bytes compressed with its CSS and htmx");
    }
}
