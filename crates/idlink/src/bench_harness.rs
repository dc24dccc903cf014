//! What the revocation benchmarks share (`idlink bench revocation` and
//! `revocation-crash`, issue 17): a sandbox in its own process, idlink
//! nodes as child processes started and stopped at will on one address
//! (so the issuer the apps know stays the same across restarts), the
//! host's API driven over HTTP, and sandbox relying parties registered with
//! idlink, consented to by a user through the consent page, and read back
//! for what each was told.

use crate::bench_balance::Api;
use crate::config::Config;
use anyhow::{Context, Result, anyhow, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The host's four stores.
pub(crate) const STORES: [&str; 4] = ["wallet", "lending", "subscriptions", "directories"];

/// The payment password the harness's users set.
const PAYMENT_PASSWORD: &str = "135790";

/// A child `idlink` process and the URL it listens on.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Proc {
    /// Kills the process and waits for it, so its address is free again.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn spawn(exe: &Path, args: &[&str], env: &[(String, String)], log: &Path) -> Result<Proc> {
    let log_file = std::fs::File::create(log)?;
    let mut child = Command::new(exe)
        .args(args)
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut base = None;
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("listening on ") {
                base = Some(url.trim().to_owned());
                break;
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    match (found, base) {
        (Ok(()), Some(base)) => Ok(Proc { child, base }),
        _ => bail!("{} {} did not start (see {})", exe.display(), args.join(" "), log.display()),
    }
}

/// The harness's state: the sandbox, the nodes' configuration and API key.
pub(crate) struct Harness {
    exe: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) sandbox: Proc,
    env: Vec<(String, String)>,
    pub(crate) key: String,
    pub(crate) http: reqwest::Client,
}

impl Harness {
    /// A sandbox started, and the nodes' configuration written, in a fresh
    /// directory named after `tag`; nodes use `database_url` (empty: an
    /// embedded database in that directory).
    pub(crate) async fn start(exe: &Path, database_url: &str, tag: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("idlink-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let d = dir.display().to_string();
        let sandbox_env = vec![
            ("IDLINK__SERVER__DATA_DIR".to_owned(), format!("{d}/sandbox")),
            ("IDLINK__SANDBOX__DIRECT_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ];
        let sandbox = spawn(exe, &["sandbox", "--listen", "127.0.0.1:0"], &sandbox_env, &dir.join("sandbox.log")).await?;
        let sb = sandbox.base.clone();
        // One address for every node: the issuer apps know survives restarts.
        let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut env: Vec<(String, String)> = [
            ("IDLINK__SERVER__DATA_DIR", d.clone()),
            ("IDLINK__SERVER__LISTEN", listen.to_string()),
            ("IDLINK__SANDBOX__ENABLED", "false".into()),
            ("IDLINK__CONNECTORS__SMS__URL", sb.clone()),
            ("IDLINK__CONNECTORS__FACE__URL", sb.clone()),
            ("IDLINK__CONNECTORS__REGISTRY__URL", sb.clone()),
            ("IDLINK__CONNECTORS__BUREAU__URL", sb.clone()),
            ("IDLINK__CONNECTORS__BANK__SWITCH_URL", sb.clone()),
            ("IDLINK__CONNECTORS__RETRIES", "0".into()),
            ("IDLINK__CONNECTORS__BREAKER_FAILURES", "1000".into()),
            ("IDLINK__LOGIN__RESEND_INTERVAL_SECS", "0".into()),
            ("IDLINK__LOGIN__CODES_PER_PHONE_PER_HOUR", "1000".into()),
            ("IDLINK__LOGIN__CODES_PER_IP_PER_HOUR", "100000".into()),
            ("IDLINK__PAYMENT_PASSWORD__MEMORY_KIB", "2048".into()),
            ("IDLINK__REVOCATION__WINDOW_SECS", "3600".into()),
            ("IDLINK__REVOCATION__DRIVE_SECS", "1".into()),
            ("IDLINK__SERVER__SHUTDOWN_GRACE_SECS", "1".into()),
            // The sandbox's apps listen on loopback over plain HTTP.
            ("IDLINK__EVENTS__ALLOW_PRIVATE_TARGETS", "true".into()),
            ("IDLINK__EVENTS__ALLOW_PLAIN_HTTP", "true".into()),
            // Every login at an app comes from this one address.
            ("IDLINK__OIDC__AUTHORIZE_PER_IP_PER_MINUTE", "100000".into()),
            ("IDLINK__OIDC__TOKEN_PER_IP_PER_MINUTE", "100000".into()),
            // What a killed node had claimed is taken over after 10 s, not the default minute
            // (a delivery's limit is at most a quarter of it).
            ("IDLINK__OUTBOX__CLAIM_SECS", "10".into()),
            ("IDLINK__EVENTS__TIMEOUT_MS", "2500".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for s in STORES {
            env.push((format!("IDLINK__CONNECTORS__HOST_STORES__{}_URL", s.to_uppercase()), format!("{sb}/host/{s}")));
        }
        if !database_url.is_empty() {
            env.push(("IDLINK__DATABASE__URL".into(), database_url.to_owned()));
        }
        let out = Command::new(exe)
            .args(["apikey", "create", "--name", tag, "--scopes", "users:read,users:write,clients:read,clients:write"])
            .envs(env.iter().cloned())
            .output()
            .await?;
        let key = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_owned();
        if !out.status.success() || key.is_empty() {
            bail!("apikey create failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Self { exe: exe.to_owned(), dir, sandbox, env, key, http })
    }

    /// Node `n` (its log is `node-{n}.log`), with the crash point `crash_after` if any.
    pub(crate) async fn node(&self, crash_after: Option<&str>, n: usize) -> Result<Proc> {
        let mut env = self.env.clone();
        if let Some(m) = crash_after {
            env.push(("IDLINK__REVOCATION__CRASH_AFTER".into(), m.to_owned()));
        }
        spawn(&self.exe, &["serve"], &env, &self.dir.join(format!("node-{n}.log"))).await
    }

    /// The nodes' configuration, as they load it.
    pub(crate) fn config(&self) -> Result<Config> {
        crate::config::load(None, self.env.clone())
    }

    /// Scripts all four host stores: `ok`, `slow` (after `slow_ms`), …
    pub(crate) async fn script(&self, mode: &str, slow_ms: u64) -> Result<()> {
        for source in STORES {
            let res = self
                .http
                .post(format!("{}/sandbox/v1/host-stores/script", self.sandbox.base))
                .json(&json!({"source": source, "mode": mode, "slow_ms": slow_ms}))
                .send()
                .await?;
            if !res.status().is_success() {
                bail!("scripting the {source} store: {}", res.status());
            }
        }
        Ok(())
    }

    /// The status of the change `change` at the `source` store.
    pub(crate) async fn change_status(&self, change: &str, source: &str) -> Result<String> {
        let v: Value = self.http.get(format!("{}/host/{source}/v1/changes/{change}", self.sandbox.base)).send().await?.json().await?;
        Ok(v["status"].as_str().unwrap_or("").to_owned())
    }

    /// The API of `node`, as the host app calls it.
    pub(crate) fn api(&self, node: &Proc) -> Api {
        Api::new(self.http.clone(), node.base.clone(), self.sandbox.base.clone(), self.key.clone())
    }

    /// Harness user `n` signed in and verified, with a payment password: (session, user id).
    pub(crate) async fn user(&self, node: &Proc, n: usize) -> Result<(String, String)> {
        let api = self.api(node);
        let (session, user, phone) = api.verified_user(n).await?;
        let c = api.call(Method::POST, "/v1/me/sms-challenges", Some(&session), Some(json!({"purpose": "payment_password"}))).await?;
        let code = api.last_code(&phone).await?;
        let set = json!({"password": PAYMENT_PASSWORD, "challenge_id": c["challenge_id"], "code": code});
        api.call(Method::PUT, "/v1/me/payment-password", Some(&session), Some(set)).await?;
        Ok((session, user))
    }

    /// A step-up for revoking the user's real name.
    pub(crate) async fn step_up(&self, node: &Proc, session: &str, user: &str) -> Result<String> {
        let body = json!({"password": PAYMENT_PASSWORD, "operation": "identity.revoke", "resource": user});
        let v = self.api(node).call(Method::POST, "/v1/me/payment-password/verify", Some(session), Some(body)).await?;
        v["step_up_token"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no step-up token: {v}"))
    }

    /// Starts a real-name revocation: the answer's status code.
    pub(crate) fn start_revocation(&self, node: &Proc, session: &str, step_up: &str) -> tokio::task::JoinHandle<reqwest::Result<u16>> {
        let r = self
            .http
            .post(format!("{}/v1/me/revocations", node.base))
            .bearer_auth(&self.key)
            .header("idlink-session", session)
            .header("idlink-step-up", step_up)
            .json(&json!({"operation": "revoke_real_name"}));
        tokio::spawn(async move { r.send().await.map(|res| res.status().as_u16()) })
    }

    /// The user's latest saga (`None`: none stored).
    pub(crate) async fn latest(&self, node: &Proc, session: &str) -> Result<Option<Value>> {
        let res = self
            .http
            .get(format!("{}/v1/me/revocations/latest", node.base))
            .bearer_auth(&self.key)
            .header("idlink-session", session)
            .send()
            .await?;
        if res.status().as_u16() == 404 {
            return Ok(None);
        }
        Ok(Some(res.json().await?))
    }
}

/// Waits until nothing is left to deliver about `user` (no pending outbox
/// item: every event fanned out, every delivery made or parked), up to 30 s:
/// only then is counting event ids a check of "exactly once".
pub(crate) async fn settled(store: &idlink_store::SqlStore, user: &str) -> Result<()> {
    let sql = format!("SELECT COUNT(*) FROM outbox WHERE subject = '{user}' AND state = 'pending'");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let pending = idlink_store::testing::query_text(store, &sql).await.map_err(|e| anyhow!(e))?;
        if pending.trim() == "0" {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("{pending} deliveries about the user still pending after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a saga's JSON says it is final.
pub(crate) fn is_final(saga: &Value) -> bool {
    matches!(saga["phase"].as_str(), Some("committed" | "rolled_back"))
}

/// An attribute value as the page's HTML escaping wrote it, read back
/// (`&amp;`, `&quot;`, `&lt;`, `&gt;` and numeric references).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let Some(end) = tail.find(';').filter(|&e| e <= 8) else {
            out.push('&');
            rest = tail;
            continue;
        };
        let entity = &tail[..end];
        let c = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            e => e
                .strip_prefix("#x")
                .or_else(|| e.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16).ok())
                .unwrap_or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The sandbox relying parties of one harness, by name.
pub(crate) struct Apps {
    pub(crate) names: Vec<String>,
}

/// What one app was told about one user (its pairwise `sub`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Told {
    /// Per webhook type: the distinct `data.event_id`s and the deliveries.
    pub(crate) webhooks: std::collections::BTreeMap<String, (std::collections::BTreeSet<String>, usize)>,
    /// Per SET event type (its last path segment): the distinct `jti`s.
    pub(crate) sets: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Logout tokens accepted (a fresh `jti` at every attempt, OIDC BCL §2.6).
    pub(crate) logouts: usize,
    /// Deliveries whose check failed at the app.
    pub(crate) refused: Vec<String>,
    /// When the app received the last of them (the sandbox's clock).
    pub(crate) last_at: Option<jiff::Timestamp>,
}

impl Apps {
    /// `n` apps named `{tag}-{i}`, registered with idlink through the API
    /// (`POST /v1/oauth/clients`) and handed their credentials; each sets
    /// up its SSF push stream, which this waits for.
    pub(crate) async fn register(h: &Harness, node: &Proc, tag: &str, n: usize) -> Result<Self> {
        let api = h.api(node);
        let sb = &h.sandbox.base;
        let issuer = node.base.trim_end_matches('/').to_owned();
        let mut names = Vec::with_capacity(n);
        for i in 0..n {
            let name = format!("{tag}-{i}");
            let at = format!("{sb}/sandbox/apps/{name}");
            let body = json!({
                "name": format!("Bench app {i}"),
                "redirect_uris": [format!("{at}/callback")],
                "scopes": ["openid", "identity"],
                "claims": ["name", "birthdate", "verified_claims"],
                "backchannel_logout_uri": format!("{at}/logout"),
                "webhook_url": format!("{at}/webhooks"),
            });
            let created = api.call(Method::POST, "/v1/oauth/clients", None, Some(body)).await?;
            let config = json!({
                "issuer": issuer,
                "client_id": created["client"]["client_id"],
                "client_secret": created["client_secret"],
                "webhook_secret": created["webhook_secret"],
                "webhook_public_key": created["webhook_public_key"],
                "base_url": sb,
            });
            let res = h.http.post(format!("{sb}/sandbox/v1/apps/{name}/config")).json(&config).send().await?;
            if !res.status().is_success() {
                bail!("configuring {name}: {} {}", res.status(), res.text().await.unwrap_or_default());
            }
            names.push(name);
        }
        let apps = Self { names };
        for name in &apps.names {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let status = apps.status(h, name).await?;
                match status["stream"]["status"].as_str() {
                    Some("enabled") => break,
                    _ if status["stream"]["error"].is_string() => bail!("{name} has no SSF stream: {}", status["stream"]),
                    _ if std::time::Instant::now() > deadline => bail!("{name}'s SSF stream is not set up after 30 s"),
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
        Ok(apps)
    }

    async fn status(&self, h: &Harness, name: &str) -> Result<Value> {
        let res = h.http.get(format!("{}/sandbox/v1/apps/{name}", h.sandbox.base)).send().await?;
        if !res.status().is_success() {
            bail!("{name}: {}", res.status());
        }
        Ok(res.json().await?)
    }

    /// The user of `session` logs in at every app, as a browser would: the
    /// app's login, idlink's authorization endpoint, the consent page
    /// (allowing the sensitive claims too), back to the app, which redeems
    /// the code and checks the ID token. Answers each app's `sub` for the user.
    pub(crate) async fn consent(&self, h: &Harness, node: &Proc, session: &str) -> Result<Vec<String>> {
        let token = || {
            let mut b = [0u8; 16];
            idlink_crypto::Random::fill(&idlink_crypto::OsRandom, &mut b);
            hex::encode(b)
        };
        let (csrf, device) = (token(), token());
        let cookie = format!("idlink_session={session}; idlink_csrf={csrf}; idlink_device={device}");
        let location = |res: &reqwest::Response| res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let mut subs = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let app = format!("{}/sandbox/apps/{name}", h.sandbox.base);
            let to_idlink = location(&h.http.get(format!("{app}/login")).send().await?);
            let res = h.http.get(&to_idlink).header("cookie", &cookie).send().await?;
            let page = location(&res);
            if !page.starts_with("/h5/authorize/") {
                bail!("{name}: the authorization endpoint answered {} to {page:?}", res.status());
            }
            let page = format!("{}{page}", node.base);
            h.http.get(&page).header("cookie", &cookie).send().await?.error_for_status()?;
            let form = format!("decision=allow&sensitive=1&lang=en&csrf={csrf}");
            let res = h
                .http
                .post(&page)
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await?;
            let back = res.text().await?;
            let Some(to_app) = back.split("id=\"continue\" href=\"").nth(1).and_then(|r| r.split('"').next()) else {
                bail!("{name}: the consent answered no way back to the app");
            };
            h.http.get(unescape(to_app)).send().await?;
            let status = self.status(h, name).await?;
            match status["last_login"]["id_token"]["sub"].as_str() {
                Some(sub) => subs.push(sub.to_owned()),
                None => bail!("{name}: the login did not complete: {}", status["last_error"]),
            }
        }
        Ok(subs)
    }

    /// Waits until every app has heard the whole revocation about its `subs[i]` (from `since`
    /// on), or `within` has passed: whether they all did.
    pub(crate) async fn heard_revocation(&self, h: &Harness, subs: &[String], since: jiff::Timestamp, within: Duration) -> Result<bool> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if self.told(h, subs, since).await?.iter().all(Told::heard_revocation) {
                return Ok(true);
            }
            if std::time::Instant::now() > deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What each app was told about its `subs[i]` from `since` on (the
    /// sandbox's clock is this machine's), in app order.
    pub(crate) async fn told(&self, h: &Harness, subs: &[String], since: jiff::Timestamp) -> Result<Vec<Told>> {
        let mut all = Vec::with_capacity(self.names.len());
        for (name, sub) in self.names.iter().zip(subs) {
            let status = self.status(h, name).await?;
            let mut told = Told::default();
            for r in status["received"].as_array().into_iter().flatten() {
                let at = r["at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()).unwrap_or_default();
                if at < since {
                    continue;
                }
                let c = &r["content"];
                let about = match r["channel"].as_str() {
                    Some("webhook") => c["data"]["sub"].as_str() == Some(sub),
                    Some("set") => c["sub_id"]["sub"].as_str() == Some(sub),
                    _ => c["sub"].as_str() == Some(sub),
                };
                let answered = r["answered"].as_u64().unwrap_or(0);
                // A token refused as bad (4xx) is a failure whoever it was about; an app that could not
                // check it yet (503) has it sent again.
                if !r["problem"].is_null() {
                    if (400..500).contains(&answered) {
                        told.refused.push(format!("{name} {}: {}", r["channel"], r["problem"]));
                    }
                    continue;
                }
                if !about || !(200..300).contains(&answered) {
                    continue;
                }
                told.last_at = told.last_at.max(Some(at));
                match r["channel"].as_str() {
                    Some("webhook") => {
                        let kind = c["type"].as_str().unwrap_or("").to_owned();
                        let e = told.webhooks.entry(kind).or_default();
                        e.0.insert(c["data"]["event_id"].as_str().unwrap_or("").to_owned());
                        e.1 += 1;
                    }
                    Some("set") => {
                        for kind in c["events"].as_object().into_iter().flat_map(|e| e.keys()) {
                            let short = kind.rsplit('/').next().unwrap_or(kind).to_owned();
                            told.sets.entry(short).or_default().insert(r["id"].as_str().unwrap_or("").to_owned());
                        }
                    }
                    _ => told.logouts += 1,
                }
            }
            all.push(told);
        }
        Ok(all)
    }
}

impl Told {
    /// Whether the app has heard all of a committed revocation: the account
    /// disabled and the identity revoked, as webhooks, SETs and two logouts.
    pub(crate) fn heard_revocation(&self) -> bool {
        ["account.disabled", "identity.revoked"].iter().all(|k| self.webhooks.contains_key(*k))
            && ["account-disabled", "assurance-level-change"].iter().all(|k| self.sets.contains_key(*k))
            && self.logouts >= 2
    }

    /// What is wrong with how a committed revocation was told, if anything:
    /// each event exactly once by its event id, every delivery's check passed.
    pub(crate) fn revocation_problems(&self) -> Vec<String> {
        let mut out = self.refused.clone();
        for kind in self.webhooks.keys().filter(|k| !["account.disabled", "identity.revoked"].contains(&k.as_str())) {
            out.push(format!("an unexpected {kind} was told"));
        }
        for kind in self.sets.keys().filter(|k| !["account-disabled", "assurance-level-change"].contains(&k.as_str())) {
            out.push(format!("an unexpected SET {kind} was sent"));
        }
        for kind in ["account.disabled", "identity.revoked"] {
            match self.webhooks.get(kind) {
                Some((ids, _)) if ids.len() == 1 => {}
                Some((ids, _)) => out.push(format!("{kind} told under {} event ids", ids.len())),
                None => out.push(format!("{kind} never told")),
            }
        }
        for kind in ["account-disabled", "assurance-level-change"] {
            match self.sets.get(kind) {
                Some(ids) if ids.len() == 1 => {}
                Some(ids) => out.push(format!("SET {kind} sent under {} jtis", ids.len())),
                None => out.push(format!("SET {kind} never sent")),
            }
        }
        if self.logouts < 2 {
            out.push(format!("{} logout tokens, not 2", self.logouts));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaped_attribute_values_read_back() {
        assert_eq!(super::unescape("/cb?code=a&#38;state=b&amp;iss=x&#x26;y&lt;"), "/cb?code=a&state=b&iss=x&y<");
        assert_eq!(super::unescape("a & b &unknown; c"), "a & b &unknown; c");
    }

    #[test]
    fn an_event_told_under_two_ids_or_not_at_all_is_a_problem() {
        use super::Told;
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<std::collections::BTreeSet<_>>();
        let mut told = Told::default();
        told.webhooks.insert("account.disabled".into(), (ids(&["evt_1"]), 2));
        told.webhooks.insert("identity.revoked".into(), (ids(&["evt_2"]), 1));
        told.sets.insert("account-disabled".into(), ids(&["chd_1"]));
        told.sets.insert("assurance-level-change".into(), ids(&["chd_2"]));
        told.logouts = 2;
        assert!(told.heard_revocation());
        assert!(told.revocation_problems().is_empty(), "a retried delivery under the same id is fine");
        told.webhooks.insert("identity.revoked".into(), (ids(&["evt_2", "evt_3"]), 2));
        told.sets.remove("account-disabled");
        assert_eq!(told.revocation_problems(), ["identity.revoked told under 2 event ids", "SET account-disabled never sent"]);
        assert!(!told.heard_revocation());
    }
}
