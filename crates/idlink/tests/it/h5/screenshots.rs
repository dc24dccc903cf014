//! Screenshots of the pages at phone size (390 × 844), in zh-CN, normal and
//! elder mode, written to `docs/screenshots/`. Not part of the suite (it
//! writes into the repository); regenerate with
//! `cargo test -p idlink --test it h5::screenshots -- --ignored`.

use super::Browser;
use crate::sqlite_server;

async fn shot(b: &Browser, name: &str) {
    let png = b.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
#[ignore = "writes docs/screenshots; run on purpose"]
async fn screenshots() {
    let s = sqlite_server().await;
    for elder in [false, true] {
        let suffix = if elder { "-elder" } else { "" };
        let b = Browser::open(true).await;
        b.goto(&s.url("/h5/login")).await;
        if elder {
            b.click("button[name=elder][value='1']").await;
        }
        shot(&b, &format!("login{suffix}")).await;
        let phone = if elder { "13700008888" } else { "13700009999" };
        b.fill("#phone", "123").await;
        b.click("form[action='/h5/login'] button[type=submit]").await;
        shot(&b, &format!("login-error{suffix}")).await;
        b.fill("#phone", phone).await;
        b.click("form[action='/h5/login'] button[type=submit]").await;
        shot(&b, &format!("login-code{suffix}")).await;
        let code = s.last_code(phone).await;
        b.fill("#code", &code).await;
        b.click("form[action='/h5/login/code'] button[type=submit]").await;
        shot(&b, &format!("home{suffix}")).await;
        b.goto(&s.url("/h5/capabilities")).await;
        shot(&b, &format!("capabilities{suffix}")).await;
        b.goto(&s.url("/h5/access-log")).await;
        shot(&b, &format!("access-log{suffix}")).await;
        b.goto(&s.url("/h5/nowhere")).await;
        shot(&b, &format!("not-found{suffix}")).await;
        b.close().await;
    }
    // A second browser for the same number: the device check.
    let b = Browser::open(true).await;
    b.goto(&s.url("/h5/login")).await;
    b.click("button[name=elder][value='1']").await;
    b.fill("#phone", "13700008888").await;
    b.click("form[action='/h5/login'] button[type=submit]").await;
    let code = s.last_code("13700008888").await;
    b.fill("#code", &code).await;
    b.click("form[action='/h5/login/code'] button[type=submit]").await;
    shot(&b, "device-check-elder").await;
    b.close().await;
}
