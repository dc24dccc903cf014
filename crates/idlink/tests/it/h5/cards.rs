//! The bank-card pages in a phone browser (SPEC BK1–BK6): binding cards at
//! the three kinds of bank by card number and the bank's code, each card's
//! four authorisation tiers with a revoke each, the e-agreement shown in full
//! with its version and hash then signed, the balance behind the payment
//! password (JavaScript on and off) with its precision and freshness in
//! words, the low-balance alert, the query history, and the bank's
//! exceptions as sentences; in zh-CN, zh-HK and English, in elder mode, axe
//! on every state. Set-up (verifying the user, the payment password) goes
//! through the API; the journeys go through the pages. A form client checks
//! binding and balance on both databases, and that the card number posted
//! through the pages is nowhere in the database in clear.

use super::{Browser, FormClient, log_in};
use crate::cards::{agreement_document, ensure_payment_password};
use crate::reviews::verify_resident;
use crate::{Server, servers, sqlite_server};
use idlink_domain::card::BinTable;
use idlink_domain::disclosure::Precision;
use idlink_domain::roster::{JOINT_STOCK, Roster};
use reqwest::Method;
use serde_json::{Value, json};

/// A sandbox test card and its holder.
#[derive(Debug, Clone, Default)]
struct TestCard {
    bank: String,
    number: String,
    card_type: String,
    name: String,
    id_number: String,
    phone: String,
    balance: i64,
}

async fn sandbox(s: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", s.sandbox));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let res = r.send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status().is_success(), "sandbox {path}: {}", res.status());
    res.json().await.unwrap_or_default()
}

async fn sandbox_cards(s: &Server) -> Vec<TestCard> {
    let banks = sandbox(s, Method::GET, "/sandbox/v1/banks", None).await;
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    banks["banks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["cards"].as_array().cloned().unwrap_or_default())
        .map(|c| TestCard {
            bank: text(&c, "bank"),
            number: text(&c, "number"),
            card_type: text(&c, "card_type"),
            name: text(&c, "holder_name"),
            id_number: text(&c, "holder_id_number"),
            phone: text(&c, "reserved_phone"),
            balance: c["balance"].as_i64().unwrap_or(-1),
        })
        .collect()
}

/// One holder's cards at the three kinds of bank: a state-owned bank (ICBC:
/// to the yuan, real time), a joint-stock bank (to the jiao, daily, with an
/// agreement) and a city commercial bank (a range, weekly).
fn three_kinds(cards: &[TestCard]) -> (TestCard, TestCard, TestCard) {
    let roster = Roster::bundled().unwrap_or_else(|e| panic!("{e}"));
    for icbc in cards.iter().filter(|c| c.bank == "ICBC") {
        let mine = |ok: &dyn Fn(&TestCard) -> bool| cards.iter().find(|c| c.phone == icbc.phone && ok(c)).cloned();
        let joint = mine(&|c| {
            JOINT_STOCK.contains(&c.bank.as_str()) && roster.bank(&c.bank).is_some_and(|b| b.e_agreement && b.precision == Precision::Jiao)
        });
        let city = mine(&|c| roster.bank(&c.bank).is_some_and(|b| matches!(b.precision, Precision::Range { .. }) && !b.e_agreement));
        if let (Some(joint), Some(city)) = (joint, city) {
            return (icbc.clone(), joint, city);
        }
    }
    panic!("no sandbox holder has cards at the three kinds of bank")
}

fn bank_name(code: &str) -> String {
    BinTable::bundled().bank_name(code).unwrap_or(code).to_owned()
}

/// Fen as the zh pages write them (`¥1,234.50`), or the English ones (`CNY 1,234.50`).
fn money(fen: i64, mark: &str) -> String {
    let yuan = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in yuan.chars().enumerate() {
        if i > 0 && (yuan.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{mark}{grouped}.{:02}", fen % 100)
}

/// The card number as people type it, in groups of four.
fn spaced(number: &str) -> String {
    number.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

pub(crate) async fn session_token(b: &Browser) -> String {
    b.client.get_named_cookie("idlink_session").await.map(|c| c.value().to_owned()).unwrap_or_default()
}

/// Verifies the browser's user and sets the payment password 135790, through the API.
async fn verify_through_api(b: &Browser, s: &Server, card: &TestCard) {
    let token = session_token(b).await;
    verify_resident(s, &token, &card.phone, &card.name, &card.id_number).await;
    ensure_payment_password(s, &token, &card.phone).await;
}

/// Binds `card` through the pages (the bank's code from the sandbox's SMS
/// log); returns its binding id. Checks the BIN lookup's answer on the way.
async fn bind_in_pages(b: &Browser, s: &Server, card: &TestCard) -> String {
    let type_words = match card.card_type.as_str() {
        "debit" => "借记卡",
        "credit" => "信用卡",
        "semi_credit" => "准贷记卡",
        _ => "预付费卡",
    };
    b.goto(&s.url("/h5/cards")).await;
    b.click("#bind-link").await;
    b.fill("#card_number", &spaced(&card.number)).await;
    b.click("form[action='/h5/cards/bind'] button[type=submit]").await;
    assert_eq!(b.text("#bin-bank").await, bank_name(&card.bank), "the BIN lookup names the bank");
    assert_eq!(b.text("#bin-type").await, type_words, "and the card type ({})", card.card_type);
    b.fill("#reserved_phone", &card.phone).await;
    b.click("form[action='/h5/cards/bind/send'] button[type=submit]").await;
    let code = s.last_code(&card.phone).await;
    b.fill("#code", &code).await;
    b.click("form[action='/h5/cards/bind/confirm'] button[type=submit]").await;
    let path = b.path().await;
    assert!(path.starts_with("/h5/cards/bnd_"), "the bound card's page: {path}");
    path.trim_start_matches("/h5/cards/").to_owned()
}

/// Queries the balance from the card page with the payment password.
async fn query(b: &Browser, password: &str) {
    b.click("#query-link").await;
    b.fill("#password", password).await;
    b.click("#pad-submit").await;
}

#[tokio::test]
async fn cards_at_the_three_kinds_of_bank_are_bound_and_their_balances_shown_in_chinese() {
    let s = sqlite_server().await;
    let (icbc, joint, city) = three_kinds(&sandbox_cards(&s).await);
    let b = Browser::open(true).await;
    log_in(&b, &s, &icbc.phone).await;

    // Unverified: the page says to verify first, and where.
    b.click("a[href='/h5/cards']").await;
    assert_eq!(b.text("h1").await, "银行卡与余额");
    assert!(b.text("#no-cards").await.contains("还没有绑定银行卡"));
    b.assert_accessible("cards, none yet").await;
    b.click("#bind-link").await;
    assert!(b.text("#verify-first").await.contains("请先完成实名认证"));
    assert!(b.has("main a[href='/h5/identity']").await, "links to the verification pages");
    b.assert_accessible("bind, unverified").await;
    let token = session_token(&b).await;
    verify_resident(&s, &token, &icbc.phone, &icbc.name, &icbc.id_number).await;

    // A number no bank issues is refused at its field, which gets the focus.
    b.goto(&s.url("/h5/cards/bind")).await;
    b.fill("#card_number", "9999 8888 7777 6666").await;
    b.click("form[action='/h5/cards/bind'] button[type=submit]").await;
    assert!(b.text("#card_number-error").await.contains("没有银行发行"));
    assert_eq!(b.focus_on("card_number").await, "card_number");
    assert_eq!(b.attr("#card_number", "aria-invalid").await.as_deref(), Some("true"));
    b.assert_accessible("bind, unknown BIN").await;

    // A UnionPay 62 number failing its check digit is a warning, not a refusal.
    let mut bad = icbc.number.clone();
    let last = bad.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    bad.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    assert!(bad.starts_with("62"), "the sandbox's ICBC card is a UnionPay 62 card: {bad}");
    b.fill("#card_number", &bad).await;
    b.click("form[action='/h5/cards/bind'] button[type=submit]").await;
    assert!(b.text("#luhn-warning").await.contains("未通过校验位检查"));
    assert!(b.has("#reserved_phone").await, "the binding goes on");
    b.assert_accessible("bind, Luhn warning").await;

    // The state-owned bank: bound with the bank's code (a wrong one first).
    b.goto(&s.url("/h5/cards/bind")).await;
    b.fill("#card_number", &icbc.number).await;
    b.click("form[action='/h5/cards/bind'] button[type=submit]").await;
    assert_eq!(b.text("#bin-bank").await, "中国工商银行");
    b.assert_accessible("bind, BIN lookup").await;
    b.fill("#reserved_phone", &icbc.phone).await;
    b.click("form[action='/h5/cards/bind/send'] button[type=submit]").await;
    assert!(b.text("#code-sent").await.contains(&format!("{}****{}", &icbc.phone[..3], &icbc.phone[7..])), "the phone masked");
    b.assert_accessible("bind, code").await;
    let code = s.last_code(&icbc.phone).await;
    b.fill("#code", if code == "000000" { "111111" } else { "000000" }).await;
    b.click("form[action='/h5/cards/bind/confirm'] button[type=submit]").await;
    assert!(b.text("#code-error").await.contains("银行不接受这个验证码"));
    assert_eq!(b.focus_on("code").await, "code");
    b.assert_accessible("bind, wrong code").await;
    b.fill("#code", &code).await;
    b.click("form[action='/h5/cards/bind/confirm'] button[type=submit]").await;
    assert_eq!(b.text("#notice").await, "银行卡已绑定。");
    let last4 = &icbc.number[icbc.number.len() - 4..];
    assert_eq!(b.text("h1").await, format!("中国工商银行 尾号 {last4}"));
    assert_eq!(b.text("#policy-precision").await, "显示金额，精确到元");
    assert_eq!(b.text("#policy-freshness").await, "实时");
    assert!(b.text("#switch-state").await.starts_with("已关闭"), "balance queries start switched off");
    b.assert_accessible("card page, ICBC").await;

    b.click("#switch-button").await;
    assert_eq!(b.text("#notice").await, "余额查询已开启。");

    // No payment password yet: the pad says to set one first, and where.
    b.click("#query-link").await;
    assert!(b.text("#password-missing").await.starts_with("请先设置支付密码"));
    assert!(b.has("main a[href='/h5/security']").await && !b.has("#password").await, "no pad without a password");
    b.assert_accessible("pad, no payment password").await;
    ensure_payment_password(&s, &token, &icbc.phone).await;
    b.click("#back-card").await;
    query(&b, "135790").await;
    assert_eq!(b.text("#figure").await, money(icbc.balance / 100 * 100, "¥"), "to the yuan, rounded down");
    assert!(b.text("#answer-precision").await.contains("精确到元"));
    assert!(b.text("#answer-freshness").await.starts_with("实时数据，截至今天 "), "in words: {}", b.text("#answer-freshness").await);
    b.assert_accessible("balance, ICBC").await;

    // The joint-stock bank: its agreement shown in full, with version and hash, then signed.
    let joint_id = bind_in_pages(&b, &s, &joint).await;
    assert_eq!(b.text("#policy-precision").await, "显示金额，精确到角（0.1 元）");
    assert_eq!(b.text("#policy-freshness").await, "每天 18:00");
    assert!(b.text("#agreement-state").await.starts_with("未签署"));
    b.assert_accessible("card page, agreement not signed").await;
    b.click("#agreement-link").await;
    let doc = agreement_document(&s, &joint.bank).await;
    assert_eq!(b.text("#agreement-version").await, doc["version"].as_str().unwrap_or("?"));
    assert_eq!(b.text("#agreement-hash").await, doc["sha256"].as_str().unwrap_or("?"));
    let shown = b.text("#agreement-text").await;
    let first_line = doc["text"].as_str().unwrap_or("").lines().find(|l| !l.trim().is_empty()).unwrap_or("?").trim().to_owned();
    assert!(shown.contains(doc["title"].as_str().unwrap_or("?")) && shown.contains(&first_line), "the document in full: {shown}");
    assert_eq!(b.attr("#agreement-text", "lang").await.as_deref(), Some("zh-CN"));
    b.assert_accessible("agreement").await;
    b.click("#agreement-sign").await;
    assert_eq!(b.text("#notice").await, "协议已签署。");
    assert!(b.text("#agreement-state").await.starts_with("已签署，有效期至"));
    assert!(b.text("#tier-4").await.contains(doc["version"].as_str().unwrap_or("?")));

    // The low-balance alert: a wrong amount is refused at its field; a right one is kept.
    b.fill("#threshold", "12.345").await;
    b.click("#alert-set").await;
    assert!(b.text("#threshold-error").await.contains("最多两位小数"));
    assert_eq!(b.focus_on("threshold").await, "threshold");
    b.assert_accessible("alert, wrong amount").await;
    // The language switch on a page answered to a post comes back to the card.
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.path().await, format!("/h5/cards/{joint_id}"));
    assert_eq!(b.text("#tiers-title").await, "What you have allowed");
    b.click("button[name=lang][value=zh-CN]").await;
    let threshold_yuan = joint.balance / 100 + 100;
    b.fill("#threshold", &format!("{threshold_yuan}.5")).await;
    b.click("#alert-set").await;
    assert_eq!(b.text("#notice").await, "低余额提醒已设置。");
    assert!(b.text("#alert-state").await.contains(&money(threshold_yuan * 100 + 50, "¥")));
    b.assert_accessible("card page, agreement signed, alert set").await;
    query(&b, "135790").await;
    assert_eq!(b.text("#figure").await, money(joint.balance / 10 * 10, "¥"), "to the jiao, rounded down");
    let fresh = b.text("#answer-freshness").await;
    assert!(fresh.contains("截至") && fresh.contains("下次更新") && fresh.contains("18:00"), "a daily snapshot in words: {fresh}");
    assert!(b.text("#low-balance").await.contains("低于您设置的低余额提醒"), "the alert is on the answer");
    b.assert_accessible("balance, joint-stock, low").await;

    // The alert cleared; the agreement revoked (tier 4): the next query is refused with the sentence.
    b.click("#back-card").await;
    b.click("#alert-clear").await;
    assert_eq!(b.text("#notice").await, "低余额提醒已关闭。");
    assert_eq!(b.text("#alert-state").await, "尚未设置提醒。");
    b.click("#agreement-revoke").await;
    assert!(b.text("#notice").await.starts_with("协议已撤销"));
    assert!(b.text("#agreement-state").await.starts_with("未签署"));
    b.assert_accessible("card page, agreement revoked").await;
    query(&b, "135790").await;
    assert!(b.text("#refusal").await.starts_with("这家银行要求先签署（或续签）协议"));
    b.assert_accessible("balance refused, no agreement").await;

    // The city commercial bank: a range, weekly.
    bind_in_pages(&b, &s, &city).await;
    assert!(b.text("#policy-precision").await.starts_with("只显示区间"));
    assert!(b.text("#policy-freshness").await.starts_with("每周星期三"));
    assert!(b.text("#agreement-state").await.contains("不需要"), "no agreement at this bank");
    query(&b, "135790").await;
    let figure = b.text("#figure").await;
    let width = match Roster::bundled().ok().and_then(|r| r.bank(&city.bank).map(|b| b.precision)) {
        Some(Precision::Range { width }) => width,
        other => panic!("{other:?}"),
    };
    let low = city.balance / width * width;
    assert_eq!(figure, format!("{} – {}", money(low, "¥"), money(low + width, "¥")), "the range the balance lies in");
    assert!(b.text("#answer-precision").await.contains("只显示区间"));
    b.assert_accessible("balance, range").await;

    // The history lists every query: the direct line and the card switch, in words.
    b.click("#back-card").await;
    b.click("main a[href='/h5/cards/history']").await;
    let history = b.text("#history").await;
    assert_eq!(history.matches("已显示").count(), 3, "{history}");
    assert!(history.contains("已拒绝：未签署银行协议"), "refused queries too: {history}");
    assert!(history.contains("银行直连") && history.contains("银联转接") && history.contains("您本人"), "{history}");
    assert!(history.contains("精确到元") && history.contains("精确到角") && history.contains("区间"), "{history}");
    b.assert_accessible("history").await;
    b.click("button[name=lang][value=zh-HK]").await;
    assert_eq!(b.text("h1").await, "餘額查詢記錄");
    assert!(b.text("#history").await.contains("銀聯轉接"), "traditional characters");
    b.assert_accessible("history in zh-HK").await;
    b.click("button[name=lang][value=zh-CN]").await;

    // The bank reports the ICBC card lost: the list says so; its page refuses a query with the sentence.
    sandbox(&s, Method::POST, &format!("/sandbox/v1/cards/{}/report-lost", icbc.number), None).await;
    b.goto(&s.url("/h5/cards")).await;
    let list = b.text("#cards").await;
    assert!(list.contains("银行报告此卡已挂失"), "{list}");
    assert!(list.contains(&format!("•••• {last4}")) && !list.contains(&icbc.number), "masked: {list}");
    let heard = b.client.execute("return document.querySelector('#cards .card-number .vh').textContent;", vec![]).await.unwrap_or_default();
    assert_eq!(heard.as_str(), Some(format!("尾号 {last4}").as_str()), "a screen reader hears the masked number in words");
    assert_eq!(b.attr("#cards .card-number [aria-hidden]", "aria-hidden").await.as_deref(), Some("true"), "not the bullets");
    b.assert_accessible("cards, one lost").await;
    b.close().await;
}

#[tokio::test]
async fn the_four_tiers_in_english_and_elder_mode_and_the_balance_with_javascript_off() {
    let s = sqlite_server().await;
    let cards = sandbox_cards(&s).await;
    let icbc = cards.iter().find(|c| c.bank == "ICBC").cloned().unwrap_or_default();
    let b = Browser::open(false).await;
    log_in(&b, &s, &icbc.phone).await;
    verify_through_api(&b, &s, &icbc).await;
    let id = bind_in_pages(&b, &s, &icbc).await;
    b.click("button[name=lang][value=en]").await;
    b.click("button[name=elder][value='1']").await;
    assert_eq!(b.attr("body", "class").await.as_deref(), Some("elder"));

    // The four tiers, each with its state and its revoke.
    assert_eq!(b.text("#tiers-title").await, "What you have allowed");
    assert!(b.text("#tier-1").await.contains("1. The card binding") && b.has("#unbind-link").await);
    assert!(b.text("#tier-2").await.contains("Off: every balance query is refused."));
    assert!(b.text("#tier-3").await.contains("asked for your payment password for each query"));
    assert!(b.text("#tier-4").await.contains("This bank needs no agreement."));
    let height = b
        .client
        .execute("return document.querySelector('#switch-button').getBoundingClientRect().height;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    assert!(height >= 60.0, "elder mode: a 60 px tap target, got {height}");
    b.assert_accessible("card page, English, elder").await;

    // JavaScript off: the pad posts and the answer is a page.
    b.click("#switch-button").await;
    assert_eq!(b.text("#switch-state").await, "On");
    b.click("#query-link").await;
    assert_eq!(b.text("h1").await, format!("Balance of 中国工商银行 ending {}", &icbc.number[icbc.number.len() - 4..]));
    b.assert_accessible("pad, English, elder").await;
    b.fill("#password", "123").await;
    b.click("#pad-submit").await;
    assert_eq!(b.text("#password-error").await, "The payment password is 6 digits.");
    assert_eq!(b.focus_on("password").await, "password");
    b.fill("#password", "000000").await;
    b.click("#pad-submit").await;
    let refused = b.text("#password-error").await;
    assert!(refused.starts_with("That payment password was not accepted.") && refused.contains("tries left"), "{refused}");
    b.assert_accessible("pad, wrong password").await;
    b.fill("#password", "135790").await;
    b.click("#pad-submit").await;
    assert_eq!(b.text("#figure").await, money(icbc.balance / 100 * 100, "CNY "));
    assert!(b.text("#answer-freshness").await.starts_with("Real-time figure, as of today "));
    b.assert_accessible("balance, English, elder, no script").await;

    // Tier 2 revoked: the next query is refused with the sentence, and listed.
    b.click("#back-card").await;
    b.click("#switch-button").await;
    assert_eq!(b.text("#notice").await, "Balance queries are off, for all your cards, from now on.");
    query(&b, "135790").await;
    assert_eq!(b.text("#refusal").await, "Balance queries are switched off. Turn them on on the card's page, then query again.");
    assert!(!b.has("#figure").await);
    b.assert_accessible("balance refused, switch off").await;
    b.goto(&s.url("/h5/cards/history")).await;
    assert!(b.text("#history").await.contains("Refused: balance queries were switched off"));
    b.assert_accessible("history, English").await;

    // Three wrong bank passwords: the card shows the suspension, and a query says why.
    b.goto(&s.url(&format!("/h5/cards/{id}"))).await;
    b.click("#switch-button").await;
    for _ in 0..3 {
        sandbox(&s, Method::POST, &format!("/sandbox/v1/cards/{}/wrong-password", icbc.number), None).await;
    }
    b.goto(&s.url(&format!("/h5/cards/{id}"))).await;
    assert!(b.text("#card-suspended").await.starts_with("Balance queries suspended"));
    b.assert_accessible("card page, suspended").await;
    query(&b, "135790").await;
    assert!(b.text("#refusal").await.starts_with("The bank has suspended balance queries on this card"));
    sandbox(&s, Method::POST, &format!("/sandbox/v1/cards/{}/password-reset", icbc.number), None).await;

    // The bank in maintenance: when it expects to be back, in words.
    sandbox(&s, Method::POST, "/sandbox/v1/maintenance", Some(json!({"institution": "bank:ICBC", "minutes": 30}))).await;
    b.goto(&s.url(&format!("/h5/cards/{id}"))).await;
    query(&b, "135790").await;
    let refusal = b.text("#refusal").await;
    assert!(refusal.starts_with("The bank is under maintenance until ") && refusal.contains(':'), "{refusal}");
    b.assert_accessible("balance, bank maintenance").await;

    // Tier 1: unbinding asks first, then ends the binding at once.
    b.goto(&s.url(&format!("/h5/cards/{id}"))).await;
    b.click("#unbind-link").await;
    assert_eq!(b.text("h1").await, "Unbind this card?");
    b.assert_accessible("unbind, confirm").await;
    b.click("#unbind-confirm").await;
    assert_eq!(b.path().await, "/h5/cards");
    assert_eq!(b.text("#notice").await, "The card is unbound. No balance query can reach it any more.");
    assert!(!b.has("#cards").await, "no card left");
    b.goto(&s.url(&format!("/h5/cards/{id}/balance"))).await;
    assert!(b.text("main").await.contains("This card is not bound to your account"));
    b.assert_accessible("unbound card").await;
    b.close().await;
}

/// Logs `phone` in through the login forms (as a browser would); returns the session token.
pub(crate) async fn form_log_in(c: &mut FormClient<'_>, s: &Server, phone: &str) -> String {
    assert_eq!(c.get("/h5/login").await.status().as_u16(), 200);
    let page = c.post("/h5/login", &[("phone", phone)]).await.text().await.unwrap_or_default();
    let challenge = field(&page, "challenge_id");
    let code = s.last_code(phone).await;
    c.post("/h5/login/code", &[("phone", phone), ("challenge_id", &challenge), ("code", &code)]).await;
    c.cookies.get("idlink_session").cloned().unwrap_or_default()
}

/// The value of the hidden field `name` in a page.
fn field(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\"")).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned()
}

/// Binding and a balance through the pages' forms on both databases; the
/// number typed into the pages is kept nowhere in clear.
#[tokio::test]
async fn a_card_is_bound_and_queried_through_the_forms_on_both_databases_and_not_kept_in_clear() {
    for s in servers().await {
        let cards = sandbox_cards(&s).await;
        let card = cards.iter().find(|c| c.bank == "ICBC").cloned().unwrap_or_default();
        let mut c = FormClient::new(&s);
        let token = form_log_in(&mut c, &s, &card.phone).await;
        verify_resident(&s, &token, &card.phone, &card.name, &card.id_number).await;
        ensure_payment_password(&s, &token, &card.phone).await;

        let res = c.post("/h5/cards/bind", &[("card_number", &spaced(&card.number))]).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        assert!(res.text().await.unwrap_or_default().contains("中国工商银行"), "{}", s.kind);
        let page = c.post("/h5/cards/bind/send", &[("card_number", &card.number), ("reserved_phone", &card.phone)]).await;
        let page = page.text().await.unwrap_or_default();
        let id = field(&page, "binding_id");
        assert!(id.starts_with("bnd_"), "{}: the code step carries the binding", s.kind);
        assert!(!page.contains(&card.number), "{}: the code step does not carry the number", s.kind);
        // Left half-way, the card is listed as waiting, and its page takes the code.
        let list = c.get("/h5/cards").await.text().await.unwrap_or_default();
        assert!(list.contains("未完成：等待银行的短信验证码"), "{}", s.kind);
        let pending = c.get(&format!("/h5/cards/{id}")).await.text().await.unwrap_or_default();
        assert!(pending.contains("action=\"/h5/cards/bind/confirm\"") && field(&pending, "binding_id") == id, "{}", s.kind);
        let code = s.last_code(&card.phone).await;
        let res = c.post("/h5/cards/bind/confirm", &[("binding_id", &id), ("code", &code)]).await;
        let to = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert_eq!(to, format!("/h5/cards/{id}?done=bound"), "{}", s.kind);
        let res = c.post("/h5/cards/switch", &[("enabled", "1"), ("back", &id)]).await;
        assert_eq!(res.status().as_u16(), 303, "{}", s.kind);
        let res = c.post(&format!("/h5/cards/{id}/balance"), &[("password", "135790")]).await;
        assert_eq!(res.status().as_u16(), 200, "{}", s.kind);
        let answer = res.text().await.unwrap_or_default();
        assert!(answer.contains(&money(card.balance / 100 * 100, "¥")), "{}: the balance is shown", s.kind);
        let page = c.get(&format!("/h5/cards/{id}")).await.text().await.unwrap_or_default();
        assert!(!page.contains(&card.number), "{}: the card page shows the number masked", s.kind);

        for table in ["card_bindings", "audit_log", "balance_queries", "outbox", "idempotency_keys", "step_up_tokens", "users"] {
            let dump = idlink_store::testing::dump_table(&s.db.store, table).await.unwrap_or_else(|e| panic!("{}: {table}: {e}", s.kind));
            assert!(!dump.contains(&card.number), "{}: `{table}` holds the card number in clear", s.kind);
        }
        let bindings = idlink_store::testing::dump_table(&s.db.store, "card_bindings").await.unwrap_or_default();
        assert!(bindings.contains(&id), "{}: the dump is of the bindings", s.kind);
    }
}

/// A new version of the bank's agreement: the card says the signature is
/// outdated, the agreement page shows the new version and hash, a signature
/// of the old one is refused with the sentence, and the new one is signed.
#[tokio::test]
async fn an_outdated_agreement_is_said_so_and_the_new_version_is_signed_through_the_form() {
    let mut s = sqlite_server().await;
    let cards = sandbox_cards(&s).await;
    let card = cards.iter().find(|c| c.bank == "CMB").cloned().unwrap_or_default();
    let mut c = FormClient::new(&s);
    let token = form_log_in(&mut c, &s, &card.phone).await;
    verify_resident(&s, &token, &card.phone, &card.name, &card.id_number).await;
    let page = c.post("/h5/cards/bind/send", &[("card_number", &card.number), ("reserved_phone", &card.phone)]).await;
    let id = field(&page.text().await.unwrap_or_default(), "binding_id");
    let code = s.last_code(&card.phone).await;
    c.post("/h5/cards/bind/confirm", &[("binding_id", &id), ("code", &code)]).await;
    let old = c.get(&format!("/h5/cards/{id}/agreement")).await.text().await.unwrap_or_default();
    let (old_version, old_hash) = (field(&old, "document_version"), field(&old, "document_hash"));
    assert_eq!(old_version, "CMB-2026-01");
    let res = c.post(&format!("/h5/cards/{id}/agreement"), &[("document_version", &old_version), ("document_hash", &old_hash)]).await;
    assert_eq!(res.headers().get("location").and_then(|v| v.to_str().ok()), Some(format!("/h5/cards/{id}?done=signed").as_str()));

    // CMB publishes a new version (the deployment's agreements file, then a restart).
    let cookies = c.cookies.clone();
    let file = s.config.server.data_dir.join("agreements.toml");
    let text =
        format!("{}\n[[banks]]\ncode = \"CMB\"\nversion = \"2026-07\"\n", idlink_domain::agreement::AgreementTemplates::bundled_text());
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    s.restart(|conf| conf.connectors.bank.agreements_file = Some(file)).await;
    let mut c = FormClient::new(&s);
    c.cookies = cookies;

    let page = c.get(&format!("/h5/cards/{id}")).await.text().await.unwrap_or_default();
    assert!(page.contains("已过时：您签署的是 CMB-2026-01 版本，银行已发布新版本。"), "{page}");
    let new = c.get(&format!("/h5/cards/{id}/agreement")).await.text().await.unwrap_or_default();
    let doc = agreement_document(&s, "CMB").await;
    assert_eq!(field(&new, "document_version"), "CMB-2026-07");
    assert_eq!(field(&new, "document_hash"), doc["sha256"].as_str().unwrap_or("?"));
    assert!(
        new.contains(&format!("<code id=\"agreement-hash\" class=\"hash\">{}</code>", doc["sha256"].as_str().unwrap_or("?"))),
        "the hash is shown"
    );
    let stale = c.post(&format!("/h5/cards/{id}/agreement"), &[("document_version", &old_version), ("document_hash", &old_hash)]).await;
    assert_eq!(stale.status().as_u16(), 409);
    assert!(stale.text().await.unwrap_or_default().contains("银行在此期间发布了新版协议。请阅读新版后签署。"));
    let res = c
        .post(
            &format!("/h5/cards/{id}/agreement"),
            &[("document_version", "CMB-2026-07"), ("document_hash", doc["sha256"].as_str().unwrap_or(""))],
        )
        .await;
    assert_eq!(res.status().as_u16(), 303);
    let page = c.get(&format!("/h5/cards/{id}")).await.text().await.unwrap_or_default();
    assert!(page.contains("已签署，有效期至") && page.contains("版本 CMB-2026-07"), "{page}");
}
