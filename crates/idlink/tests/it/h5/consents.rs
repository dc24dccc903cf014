//! My consents in a phone browser (issue 18 point 1): the list of every
//! kind, a withdrawal in one step (the feature stops: the card page asks for
//! the consent first), the text read and agreed to in the user's language,
//! and back to the page that asked. zh-CN, en, zh-HK in elder mode; axe on
//! every state.

use super::cards::session_token;
use super::{Browser, log_in};
use crate::cards::get_json;
use crate::reviews::verify_resident;

#[tokio::test]
async fn a_user_withdraws_the_bank_card_consent_and_agrees_again_when_binding_a_card() {
    let s = crate::sqlite_server().await;
    let phone = "13700000391";
    let b = Browser::open(true).await;
    log_in(&b, &s, phone).await;
    let token = session_token(&b).await;
    // Verified, with every consent given (as the identity pages leave a user).
    verify_resident(&s, &token, phone, "张三丰", &crate::credit::id_number(phone, "391")).await;

    b.goto(&s.url("/h5/")).await;
    b.click("a[href='/h5/consents']").await;
    assert_eq!(b.text("h1").await, "我的授权同意");
    let card = b.text("#consent-bank_card").await;
    assert!(card.contains("银行卡及余额信息处理单独同意") && card.contains("同意（文本第 1 版）"), "{card}");
    b.assert_accessible("my consents, all given").await;

    // Withdrawn in one step, as easily as it was given.
    b.click("#withdraw-bank_card").await;
    assert_eq!(b.text("#done").await, "已撤回同意，依赖该同意的功能已停止。");
    assert!(b.text("#consent-bank_card .consent-state").await.starts_with("已于"), "withdrawn, with when");
    assert!(!b.has("#withdraw-bank_card").await);
    assert!(b.text("main").await.contains("不会删除法律要求保存的记录"));
    let caps = get_json(&s, "/v1/me/capabilities", &token).await;
    assert!(caps["restricted"].as_array().is_some_and(|r| r.iter().any(|c| c == "balance_query")), "{caps}");
    b.assert_accessible("my consents, one withdrawn").await;

    // Binding a card now asks for the consent first, in English, and comes back.
    b.click("button[name=lang][value=en]").await;
    b.goto(&s.url("/h5/cards/bind")).await;
    assert_eq!(b.path().await, "/h5/consents/bank_card");
    assert_eq!(b.text("#consent-heading").await, "Separate consent: your bank cards and balances");
    assert!(b.text("#consent-text").await.contains("query log the law requires us to keep for five years"));
    assert!(b.text("#consent-state").await.starts_with("Withdrawn on"));
    b.assert_accessible("the bank-card consent, en").await;
    b.click("#agree").await;
    assert_eq!(b.path().await, "/h5/cards/bind", "back to the page that asked");
    assert!(b.has("#card_number").await, "the card's number is asked now");
    let list = get_json(&s, "/v1/me/consents?lang=en", &token).await;
    let given = list["consents"].as_array().and_then(|a| a.iter().find(|c| c["kind"] == "bank_card")).cloned().unwrap_or_default();
    assert_eq!((given["state"].as_str(), given["locale"].as_str()), (Some("given"), Some("en")), "{given}");

    // The list in traditional Chinese and elder mode.
    b.click("button[name=lang][value=zh-HK]").await;
    b.click("button[name=elder][value='1']").await;
    b.goto(&s.url("/h5/consents")).await;
    assert_eq!(b.text("h1").await, "我的授權同意");
    assert!(b.text("#consent-bank_card").await.contains("同意（文本第 1 版）"));
    b.assert_accessible("my consents, zh-HK, elder").await;
    let mut faults = Vec::new();
    super::every_page::elder_measures(&b, "/h5/consents", &mut faults).await;
    assert!(faults.is_empty(), "elder mode falls short:\n{}", faults.join("\n"));
    b.close().await;
}
