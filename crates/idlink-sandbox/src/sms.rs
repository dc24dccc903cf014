//! The sandbox SMS gateway and its inbox.
//!
//! Test values: a number ending in `0000` is an unreachable subscriber
//! (status `rejected`). Messages are deduplicated by `client_ref`; each
//! message counts how many times it was sent (`received`), so a test can see
//! a sender that delivered twice. An outage is a maintenance window for
//! `sms` (`POST /sandbox/v1/maintenance {"institution": "sms", …}`).

use crate::control::{error, maintenance_answer};
use crate::{Institution, Shared};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use idlink_domain::PhoneNumber;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The gateway's state: its inbox.
pub struct Gateway {
    shared: Arc<Shared>,
    inbox: Mutex<Inbox>,
}

impl Gateway {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared, inbox: Mutex::default() }
    }
}

/// The gateway and its inbox.
pub fn institution(g: Arc<Gateway>) -> Institution {
    Institution {
        maintenance: &["sms"],
        maintenance_also: Vec::new(),
        index: Some((
            "sms",
            serde_json::json!({
                "send": "POST /sms/v1/messages",
                "inbox": "GET /sandbox/v1/sms/inbox?phone=13812341234 (each message: how many times it was `received` under its client_ref)",
                "outage": "POST /sandbox/v1/maintenance {\"institution\": \"sms\", \"minutes\": 30}; DELETE /sandbox/v1/maintenance/sms ends it",
                "test_values": { "phone ending 0000": "rejected (unreachable subscriber)" }
            }),
        )),
        router: Router::new().route("/sandbox/v1/sms/inbox", get(inbox)).route("/sms/v1/messages", post(send)).with_state(g),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub message_id: String,
    /// Masked: the inbox is looked up by number, it does not list numbers.
    pub to: String,
    pub template: String,
    pub params: BTreeMap<String, String>,
    pub text: String,
    pub status: String,
    pub sent_at: String,
    /// How many times the gateway received this message (its `client_ref`); 1 unless a sender repeated it.
    pub received: u32,
    #[serde(skip)]
    phone: String,
}

#[derive(Debug, Default)]
pub struct Inbox {
    messages: Vec<Message>,
    by_client_ref: HashMap<String, usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    to: String,
    template: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    client_ref: String,
}

fn render(template: &str, params: &BTreeMap<String, String>) -> String {
    match (template, params.get("code")) {
        ("verification_code" | "bank_card_binding" | "ss_card_binding", Some(code)) => {
            format!("【idlink】您的验证码是{code}，5分钟内有效。请勿泄露给他人。Your code is {code}, valid for 5 minutes.")
        }
        // What is asked stays in the app: the SMS only says where to look.
        ("review_more_info", _) => "【idlink】审核员需要您补充材料，请登录 idlink 查看并回复。A reviewer needs more information from you: sign in to idlink to see the request and answer it.".to_owned(),
        ("revocation_review_decided", _) if params.get("outcome").is_some_and(|o| o == "approved") => {
            "【idlink】您的申请已通过审核，请在 idlink 中确认。Your request was approved: confirm it in idlink.".to_owned()
        }
        ("revocation_review_decided", _) => {
            "【idlink】您的申请未通过审核，可登录 idlink 重新申请或联系我们。Your request was not approved: sign in to idlink to ask again or to contact us.".to_owned()
        }
        _ => {
            let parts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("【idlink】{template}: {}", parts.join(", "))
        }
    }
}

/// Puts a message in the inbox (for institutions that send SMS themselves,
/// like banks); deduplicated by `client_ref`. Returns the message id and status.
pub fn deliver(s: &Gateway, phone: &PhoneNumber, template: &str, params: &BTreeMap<String, String>, client_ref: &str) -> (String, String) {
    let now = s.shared.clock.now();
    let mut inbox = s.inbox.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&i) = inbox.by_client_ref.get(client_ref) {
        let m = &mut inbox.messages[i];
        m.received = m.received.saturating_add(1);
        return (m.message_id.clone(), m.status.clone());
    }
    let status = if phone.reveal().ends_with("0000") { "rejected" } else { "accepted" };
    let message_id = format!("sms-{:08}", inbox.messages.len() + 1);
    let message = Message {
        message_id: message_id.clone(),
        to: phone.masked(),
        text: render(template, params),
        template: template.to_owned(),
        params: params.clone(),
        status: status.to_owned(),
        sent_at: now.to_string(),
        received: 1,
        phone: phone.reveal().to_owned(),
    };
    let i = inbox.messages.len();
    inbox.messages.push(message);
    inbox.by_client_ref.insert(client_ref.to_owned(), i);
    (message_id, status.to_owned())
}

pub async fn send(State(s): State<Arc<Gateway>>, Json(req): Json<SendRequest>) -> Response {
    if let Some(res) = maintenance_answer(&s.shared, "sms") {
        return res;
    }
    let Ok(phone) = PhoneNumber::parse(&req.to) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_number", "`to` is not a mainland mobile number");
    };
    if req.client_ref.is_empty() || req.client_ref.len() > 128 {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_client_ref", "`client_ref` must be 1 to 128 characters");
    }
    let (message_id, status) = deliver(&s, &phone, &req.template, &req.params, &req.client_ref);
    Json(serde_json::json!({ "message_id": message_id, "status": status })).into_response()
}

#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    phone: String,
}

/// Messages sent to one number, newest first.
pub async fn inbox(State(s): State<Arc<Gateway>>, Query(q): Query<InboxQuery>) -> Response {
    let Ok(phone) = PhoneNumber::parse(&q.phone) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_number", "`phone` is not a mainland mobile number");
    };
    let inbox = s.inbox.lock().unwrap_or_else(|p| p.into_inner());
    let messages: Vec<&Message> = inbox.messages.iter().rev().filter(|m| m.phone == phone.reveal()).collect();
    Json(serde_json::json!({ "messages": messages })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_for_more_information_says_where_to_answer_without_the_reason() {
        let params =
            BTreeMap::from([("reason".to_owned(), "photo_page_missing".to_owned()), ("kind".to_owned(), "verification".to_owned())]);
        let text = render("review_more_info", &params);
        assert!(text.contains("审核员需要您补充材料") && text.contains("sign in to idlink"), "{text}");
        assert!(!text.contains("photo_page_missing"), "{text}");
    }
}
