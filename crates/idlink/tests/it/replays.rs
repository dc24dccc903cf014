//! Idempotent replays are served only to whoever could make the first
//! request again (SPEC P4, BK3, P6, P7; issue 10), on both databases.

use crate::cards::{bound_card, call, ensure_payment_password, get_json, session, step_up, switch};
use crate::{Server, databases, expect_problem, servers, start_full};
use idlink::serve::Runtime;
use idlink_core::ports::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;
use std::sync::Arc;

const REPLAYED: &str = "idempotent-replayed";

fn replayed(res: &reqwest::Response) -> bool {
    res.headers().get(REPLAYED).is_some_and(|v| v == "true")
}

async fn post(s: &Server, path: &str, session: Option<&str>, key: &str, body: &Value) -> reqwest::Response {
    let mut r = s.authed(Method::POST, path).header("idempotency-key", key).json(body);
    if let Some(t) = session {
        r = r.header("idlink-session", t);
    }
    r.send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// How many messages the sandbox SMS gateway delivered to `phone`.
async fn inbox_len(s: &Server, phone: &str) -> usize {
    let inbox =
        json_of(reqwest::get(format!("{}/sandbox/v1/sms/inbox?phone={phone}", s.sandbox)).await.unwrap_or_else(|e| panic!("{e}"))).await;
    inbox["messages"].as_array().map_or(0, Vec::len)
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap_or_default()
}

async fn balance_with_key(s: &Server, token: Option<&str>, binding: &str, step: Option<&str>, key: &str) -> reqwest::Response {
    let mut r = s.authed(Method::POST, &format!("/v1/me/cards/{binding}/balance")).header("idempotency-key", key);
    if let Some(t) = token {
        r = r.header("idlink-session", t);
    }
    if let Some(t) = step {
        r = r.header("idlink-step-up", t);
    }
    r.send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// User B sending user A's key and body with B's own session gets B's own
/// answer, never A's step-up token, SMS challenge or biometric challenge.
#[tokio::test]
async fn another_user_never_gets_a_replay_of_my_answer() {
    for s in servers().await {
        let (phone_a, phone_b) = ("13866660001", "13866660002");
        let a = session(&s, phone_a).await;
        ensure_payment_password(&s, &a, phone_a).await;
        let b = session(&s, phone_b).await;

        let verify = json!({"password": "135790", "operation": "device.make_primary", "resource": "dev_x"});
        let mine = post(&s, "/v1/me/payment-password/verify", Some(&a), "k-verify", &verify).await;
        assert_eq!(mine.status().as_u16(), 201, "{}", s.kind);
        let minted = json_of(mine).await;
        let token_a = minted["step_up_token"].as_str().unwrap_or("").to_owned();
        assert!(token_a.starts_with("stu_"), "{minted}");
        // B has no payment password: B's own request runs and is refused; A's token never shows.
        let theirs = post(&s, "/v1/me/payment-password/verify", Some(&b), "k-verify", &verify).await;
        assert!(!replayed(&theirs));
        let text = theirs.text().await.unwrap_or_default();
        assert!(!text.contains(&token_a) && !text.contains("step_up_token"), "{}: {text}", s.kind);

        // SMS challenges: B's request sends B a code; A's challenge is not replayed to B.
        let purpose = json!({"purpose": "payment_password"});
        let ca = json_of(post(&s, "/v1/me/sms-challenges", Some(&a), "k-sms", &purpose).await).await;
        let code_a = s.last_code(phone_a).await;
        let sms_to_b = inbox_len(&s, phone_b).await;
        let res = post(&s, "/v1/me/sms-challenges", Some(&b), "k-sms", &purpose).await;
        assert_eq!(res.status().as_u16(), 201, "{}", s.kind);
        assert!(!replayed(&res));
        let cb = json_of(res).await;
        assert_ne!(cb["challenge_id"], ca["challenge_id"], "{}", s.kind);
        assert_eq!(inbox_len(&s, phone_b).await, sms_to_b + 1, "{}: an SMS went to B", s.kind);
        let _ = code_a;

        // Biometric challenges likewise.
        let op = json!({"operation": "device.make_primary", "resource": "dev_x"});
        let ba = json_of(post(&s, "/v1/me/step-up/challenges", Some(&a), "k-bio", &op).await).await;
        let bb = post(&s, "/v1/me/step-up/challenges", Some(&b), "k-bio", &op).await;
        assert!(!replayed(&bb));
        let bb = json_of(bb).await;
        assert_ne!(bb["challenge_id"], ba["challenge_id"], "{}", s.kind);
        assert_ne!(bb["message"], ba["message"]);

        // A's own retries are told where their one-time results are, without them.
        let again = post(&s, "/v1/me/payment-password/verify", Some(&a), "k-verify", &verify).await;
        assert!(replayed(&again));
        let p = expect_problem(again, 409, "idempotency_answer_withheld").await;
        assert!(!p.to_string().contains(&token_a), "{p}");
        let again = post(&s, "/v1/me/sms-challenges", Some(&a), "k-sms", &purpose).await;
        expect_problem(again, 409, "idempotency_answer_withheld").await;
        let again = post(&s, "/v1/me/step-up/challenges", Some(&a), "k-bio", &op).await;
        expect_problem(again, 409, "idempotency_answer_withheld").await;
    }
}

/// A login replay never hands out a session token again (it may have been revoked since).
#[tokio::test]
async fn a_login_replay_withholds_the_session_token() {
    for s in servers().await {
        let phone = "13866660003";
        let body = json!({"phone": phone, "device_id": "d"});
        let c = json_of(post(&s, "/v1/auth/sms-challenges", None, "k-code", &body).await).await;
        let code = s.last_code(phone).await;
        let login = crate::login::login_body(phone, "d", c["challenge_id"].as_str().unwrap_or(""), &code);
        let first = post(&s, "/v1/auth/login", None, "k-login", &login).await;
        assert_eq!(first.status().as_u16(), 201, "{}", s.kind);
        let token = json_of(first).await["session_token"].as_str().unwrap_or("").to_owned();
        let res = call(&s, Method::DELETE, "/v1/me/sessions", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);

        let again = post(&s, "/v1/auth/login", None, "k-login", &login).await;
        assert!(replayed(&again));
        let p = expect_problem(again, 409, "idempotency_answer_withheld").await;
        assert!(!p.to_string().contains(&token) && p["detail"].as_str().unwrap_or("").contains("log in again"), "{p}");
        let again = post(&s, "/v1/auth/sms-challenges", None, "k-code", &body).await;
        expect_problem(again, 409, "idempotency_answer_withheld").await;
        // A wrong body under the same key is still refused.
        let other = post(&s, "/v1/auth/login", None, "k-login", &json!({"phone": phone})).await;
        expect_problem(other, 422, "idempotency_key_reused").await;
    }
}

/// A balance replay is served only while every tier is in force, is
/// audited, and shows in the user's history and access log.
#[tokio::test]
async fn a_balance_replay_needs_every_tier_still_in_force_and_is_audited() {
    for s in servers().await {
        let (token, card, fen) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let step = step_up(&s, &token, &card).await;
        let first = balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await;
        assert_eq!(first.status().as_u16(), 200, "{}", s.kind);
        assert!(!replayed(&first));
        let shown = json_of(first).await;
        assert_eq!(shown["amount_fen"].as_i64(), Some(fen.div_euclid(100) * 100), "{shown}");

        // The same user, session and token: the same answer, recorded as a disclosure.
        let again = balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await;
        assert_eq!(again.status().as_u16(), 200, "{}", s.kind);
        assert!(replayed(&again));
        assert_eq!(json_of(again).await, shown);
        let history = get_json(&s, "/v1/me/balance-queries", &token).await;
        let outcomes: Vec<&str> =
            history["queries"].as_array().map(|q| q.iter().filter_map(|e| e["outcome"].as_str()).collect()).unwrap_or_default();
        assert_eq!(outcomes, ["replayed", "disclosed"], "{}: {history}", s.kind);
        let me = get_json(&s, "/v1/me", &token).await;
        let user = me["user_id"].as_str().unwrap_or("").to_owned();
        let replays = s.access_log(&user).await.iter().filter(|r| r["action"] == "balance.query.replay").count();
        assert_eq!(replays, 1, "{}", s.kind);

        // No session: not a replay (the key belongs to the user); refused like any request.
        let res = balance_with_key(&s, None, &card, Some(&step), "k-bal").await;
        assert!(!replayed(&res));
        expect_problem(res, 401, "session_required").await;
        // No step-up token, or another one: refused.
        expect_problem(balance_with_key(&s, Some(&token), &card, None, "k-bal").await, 403, "step_up_required").await;
        let other = step_up(&s, &token, &card).await;
        expect_problem(balance_with_key(&s, Some(&token), &card, Some(&other), "k-bal").await, 403, "step_up_required").await;
        // The bank-card consent withdrawn: the replay discloses nothing (issue 18); agreed again: served.
        let res =
            crate::cards::call(&s, Method::DELETE, "/v1/me/consents/bank_card", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        expect_problem(balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await, 403, "consent_required").await;
        crate::consents::give_all(&s, &token).await;
        assert_eq!(balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await.status().as_u16(), 200);
        // The switch off: refused; on again: served.
        switch(&s, &token, false).await;
        expect_problem(balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await, 403, "balance_query_disabled").await;
        switch(&s, &token, true).await;
        assert_eq!(balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await.status().as_u16(), 200);
        // Every session revoked: the old session is refused; a new session of the same user is the same owner.
        let banks = json_of(reqwest::get(format!("{}/sandbox/v1/banks", s.sandbox)).await.unwrap_or_else(|e| panic!("{e}"))).await;
        let icbc = banks["banks"].as_array().and_then(|b| b.iter().find(|b| b["code"] == "ICBC")).cloned().unwrap_or_default();
        let phone = icbc["cards"][0]["reserved_phone"].as_str().unwrap_or("").to_owned();
        let res = call(&s, Method::DELETE, "/v1/me/sessions", &token).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        let res = balance_with_key(&s, Some(&token), &card, Some(&step), "k-bal").await;
        assert!(!replayed(&res));
        assert_eq!(res.status().as_u16(), 401, "{}", s.kind);
        let fresh = session(&s, &phone).await;
        assert_eq!(balance_with_key(&s, Some(&fresh), &card, Some(&step), "k-bal").await.status().as_u16(), 200, "{}", s.kind);
        // The card unbound: refused.
        let res = call(&s, Method::DELETE, &format!("/v1/me/cards/{card}"), &fresh).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 204);
        expect_problem(balance_with_key(&s, Some(&fresh), &card, Some(&step), "k-bal").await, 404, "card_binding_not_found").await;
        let history = get_json(&s, "/v1/me/balance-queries", &fresh).await;
        let replays = history["queries"].as_array().map(|q| q.iter().filter(|e| e["outcome"] == "replayed").count()).unwrap_or(0);
        assert_eq!(replays, 4, "{}: only the replays served are listed: {history}", s.kind);
    }
}

/// A replay is refused once the step-up token that authorised the query has expired,
/// and a record expires after `server.idempotency_ttl_secs` and is purged.
#[tokio::test]
async fn expired_step_up_and_expired_records_end_replays() {
    for db in databases().await {
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
        let rt = Runtime { clock: clock.clone(), rng: Arc::new(idlink_crypto::OsRandom) };
        let s = start_full(db, &[("IDLINK__SERVER__IDEMPOTENCY_TTL_SECS", "3600")], rt).await;
        let (token, card, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let step = step_up(&s, &token, &card).await;
        assert_eq!(balance_with_key(&s, Some(&token), &card, Some(&step), "k-exp").await.status().as_u16(), 200);
        assert!(replayed(&balance_with_key(&s, Some(&token), &card, Some(&step), "k-exp").await));
        clock.advance(jiff::SignedDuration::from_secs(121));
        let res = balance_with_key(&s, Some(&token), &card, Some(&step), "k-exp").await;
        let p = expect_problem(res, 403, "step_up_required").await;
        assert!(p.to_string().contains("step"), "{p}");

        // Records live for the configured time, then the same key starts afresh.
        let body = json!({"phone": "13866660009"});
        let first = json_of(post(&s, "/v1/users", None, "k-user", &body).await).await;
        assert!(replayed(&post(&s, "/v1/users", None, "k-user", &body).await));
        clock.advance(jiff::SignedDuration::from_secs(3600));
        let after = post(&s, "/v1/users", None, "k-user", &body).await;
        assert!(!replayed(&after), "{}", s.kind);
        expect_problem(after, 409, "phone_taken").await;
        // The purge job deletes expired records (it runs every ttl/2, here 30 min of real time: call the store directly).
        use idlink_core::ports::idempotency::IdempotencyStore;
        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        clock.advance(jiff::SignedDuration::from_secs(3601));
        assert_eq!(
            store.purge_idempotency_keys(idlink_core::ports::clock::Clock::now(clock.as_ref()), 1000).await.ok(),
            Some(2),
            "{}",
            s.kind
        );
        let left = idlink_store::testing::query_text(&store, "SELECT COUNT(*) FROM idempotency_keys").await.unwrap_or_default();
        assert_eq!(left.trim(), "0", "{}", s.kind);
        let _ = first;
    }
}

/// What is kept for replays holds no secret and no balance in clear.
#[tokio::test]
async fn no_token_challenge_or_balance_is_kept_in_clear() {
    for s in servers().await {
        let phone = "13866660004";
        let body = json!({"phone": phone, "device_id": "d"});
        let c = json_of(post(&s, "/v1/auth/sms-challenges", None, "c-1", &body).await).await;
        let challenge = c["challenge_id"].as_str().unwrap_or("").to_owned();
        let code = s.last_code(phone).await;
        let login = json_of(post(&s, "/v1/auth/login", None, "c-2", &crate::login::login_body(phone, "d", &challenge, &code)).await).await;
        let session_token = login["session_token"].as_str().unwrap_or("").to_owned();
        assert!(!session_token.is_empty(), "{login}");

        let (token, card, _) = bound_card(&s, "ICBC").await;
        switch(&s, &token, true).await;
        let verify = json!({"password": "135790", "operation": "balance.query", "resource": card});
        let minted = json_of(post(&s, "/v1/me/payment-password/verify", Some(&token), "c-3", &verify).await).await;
        let step = minted["step_up_token"].as_str().unwrap_or("").to_owned();
        let shown = json_of(balance_with_key(&s, Some(&token), &card, Some(&step), "c-4").await).await;
        let amount = shown["amount_fen"].as_i64().unwrap_or(-1);
        assert!(amount > 0, "{shown}");

        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        let dump = idlink_store::testing::dump_table(&store, "idempotency_keys").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dump.matches("idem_key=").count(), 4, "{}: four records: {dump}", s.kind);
        let secret = |t: &str| t.split_once('.').map(|(_, s)| s.to_owned()).unwrap_or_default();
        for needle in [challenge.as_str(), &session_token, &secret(&session_token), &step, &secret(&step), "135790", &code] {
            assert!(!dump.contains(needle), "{}: `{needle}` is kept in clear: {dump}", s.kind);
        }
        // Neither the HTTP answer's nor the kept query's shape shows (`amount_fen`, `"fen":`, `"balance":`).
        for needle in ["amount_fen", "\"fen\":", "\"balance\":"] {
            assert!(!dump.contains(needle), "{}: `{needle}` is kept in clear: {dump}", s.kind);
        }
        // The request hash is keyed: a plain SHA-256 of the request (which a 6-digit password makes guessable) is not stored.
        let body = serde_json::to_vec(&verify).unwrap_or_default();
        let mut plain = sha2::Sha256::new();
        for part in [&b"POST"[..], b"\0", b"/v1/me/payment-password/verify", b"\0", b"", b"\0", &body] {
            plain.update(part);
        }
        let plain: String = plain.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dump.contains(&plain), "{}: the request hash is an unkeyed SHA-256", s.kind);
    }
}

/// The server stops after a request's effect committed and before its answer
/// was recorded: a retry with the same key never runs the effect again.
#[tokio::test]
async fn a_retry_after_a_crash_between_effect_and_answer_does_not_run_twice() {
    for s in servers().await {
        let store = s.running.as_ref().map(|r| r.store.clone()).unwrap_or_else(|| panic!("running"));
        let body = json!({"phone": "13866660005"});
        let first = post(&s, "/v1/users", None, "k-crash", &body).await;
        assert_eq!(first.status().as_u16(), 201, "{}", s.kind);
        let user = json_of(first).await["id"].as_str().unwrap_or("").to_owned();
        // The state a crash leaves (see the store suite for the same transaction
        // writing the effect and its mark): the answer never recorded, the claim
        // older than `server.idempotency_stale_after_secs`.
        let n = idlink_store::testing::execute(
            &store,
            "UPDATE idempotency_keys SET status = NULL, body = NULL, created_at = created_at - 600000000 WHERE idem_key = 'k-crash'",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 1);
        let retry = post(&s, "/v1/users", None, "k-crash", &body).await;
        let p = expect_problem(retry, 409, "idempotency_answer_lost").await;
        assert!(p["detail"].as_str().unwrap_or("").contains("will not run again"), "{p}");
        let creates = s.access_log(&user).await.iter().filter(|r| r["action"] == "user.create").count();
        assert_eq!(creates, 1, "{}: created once", s.kind);
    }
}

/// The real thing: `idlink serve` is killed with SIGKILL while 120 keyed
/// requests are in flight, restarted, and every request retried with its key
/// and body. No retry may run its effect a second time (for `POST /v1/users`
/// a second run answers `phone_taken`); each is answered by a replay, a
/// first run (the crash came before it), or `idempotency_answer_lost`.
#[tokio::test]
async fn kill_9_mid_flight_then_retries_never_run_an_effect_twice() {
    use tokio::io::AsyncBufReadExt;
    for db in databases().await {
        let dir = std::env::temp_dir().join(format!("idlink-crash-{}-{}", std::process::id(), db.kind));
        let env = [
            ("IDLINK__DATABASE__URL", db.url.clone()),
            ("IDLINK__SERVER__DATA_DIR", dir.display().to_string()),
            ("IDLINK__SERVER__LISTEN", "127.0.0.1:0".into()),
            ("IDLINK__SANDBOX__LISTEN", "127.0.0.1:0".into()),
            ("IDLINK__SANDBOX__DIRECT_LISTEN", "127.0.0.1:0".into()),
            ("IDLINK__SERVER__REQUEST_TIMEOUT_SECS", "3".into()),
            ("IDLINK__SERVER__IDEMPOTENCY_STALE_AFTER_SECS", "4".into()),
        ];
        let start = || async {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
                .arg("serve")
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("{e}"));
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("stdout"))).lines();
            let mut base = None;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("listening on ") {
                    base = Some(url.to_owned());
                    break;
                }
            }
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            (child, base.unwrap_or_else(|| panic!("{}: the server did not start", db.kind)))
        };
        let (mut child, base) = start().await;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idlink"))
            .args(["apikey", "create", "--name", "crash", "--scopes", "users:write,users:read"])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let api_key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let client = reqwest::Client::new();
        let send = |base: String, i: usize| {
            let (client, api_key) = (client.clone(), api_key.clone());
            async move {
                client
                    .post(format!("{base}/v1/users"))
                    .bearer_auth(api_key)
                    .header("idempotency-key", format!("crash-{i}"))
                    .json(&json!({ "phone": format!("1377{:07}", i) }))
                    .send()
                    .await
            }
        };
        let mut flight = futures::stream::FuturesUnordered::new();
        for i in 0..120 {
            let send = send(base.clone(), i);
            flight.push(async move { (i, send.await) });
        }
        // Kill once ten were created, with most still in flight; note who was told what.
        let mut created_before = std::collections::BTreeMap::new();
        let mut answered = 0;
        while let Some((i, res)) = futures::StreamExt::next(&mut flight).await {
            answered += 1;
            if let Ok(res) = res
                && res.status().as_u16() == 201
            {
                let body: Value = res.json().await.unwrap_or_default();
                created_before.insert(i, body["id"].as_str().unwrap_or("").to_owned());
            }
            if created_before.len() == 10 || answered == 120 {
                let _ = child.start_kill();
                break;
            }
        }
        let _ = child.wait().await;
        drop(flight);
        tokio::time::sleep(std::time::Duration::from_millis(4500)).await;

        let (mut child, base) = start().await;
        let (mut fresh, mut replays, mut lost) = (0, 0, 0);
        for i in 0..120 {
            let res = send(base.clone(), i).await.unwrap_or_else(|e| panic!("{e}"));
            let status = res.status().as_u16();
            let was_replayed = replayed(&res);
            let body: Value = res.json().await.unwrap_or_default();
            if let Some(id) = created_before.get(&i) {
                assert!(was_replayed && body["id"] == *id, "{}: request {i} was answered before the crash: {status} {body}", db.kind);
            }
            match (status, body["code"].as_str()) {
                (201, _) if was_replayed => replays += 1,
                (201, _) => fresh += 1,
                (409, Some("idempotency_answer_lost")) => lost += 1,
                other => panic!("{}: request {i} after the crash: {other:?} {body}", db.kind),
            }
        }
        assert_eq!(fresh + replays + lost, 120);
        assert!(!created_before.is_empty(), "{}: some requests were answered before the crash", db.kind);
        eprintln!(
            "{}: after kill -9: {replays} replayed ({} answered before the crash), {fresh} ran for the first time, {lost} took effect with the answer lost",
            db.kind,
            created_before.len()
        );
        let _ = child.kill().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
