//! The OpenID provider's tables on SQLite and PostgreSQL (SPEC TP1, TP2;
//! ADR 0020): signing keys, authorization requests, codes, grants and
//! consents, subjects, sessions, refresh families and tokens, access tokens.
//! Every statement is written once for both databases; single use (codes,
//! refresh tokens) is a conditional `UPDATE … RETURNING`, never a lock.

use async_trait::async_trait;
use idlink_core::ports::StoreError;
use idlink_core::ports::audit::AuditEntry;
use idlink_core::ports::oauth::{OAuthStore, SigningKeyRow};
use idlink_crypto::jose::JwsAlg;
use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::SqlStore;
use crate::rows::{Columns, execute, fetch_all, micros};

const KEY_COLUMNS: &str = "kid, alg, generation, public_jwk, private_key, created_at, activates_at, retires_at, removed_at";

fn signing_key(r: &AnyRow) -> Result<SigningKeyRow, StoreError> {
    let jwk: String = r.col("public_jwk")?;
    Ok(SigningKeyRow {
        kid: r.col("kid")?,
        alg: r.parsed("alg", "signing algorithm", JwsAlg::parse)?,
        generation: r.col("generation")?,
        public_jwk: serde_json::from_str(&jwk).map_err(|e| StoreError::Corrupt(format!("oidc_signing_keys.public_jwk: {e}")))?,
        private_sealed: r.col("private_key")?,
        created_at: r.instant("created_at")?,
        activates_at: r.instant("activates_at")?,
        retires_at: r.instant_opt("retires_at")?,
        removed_at: r.instant_opt("removed_at")?,
    })
}

#[async_trait]
impl OAuthStore for SqlStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM oidc_signing_keys WHERE removed_at IS NULL ORDER BY alg, generation");
        fetch_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &self.reader, signing_key).await
    }

    async fn insert_signing_key(&self, k: &SigningKeyRow, audit: &AuditEntry) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO oidc_signing_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING"
        );
        let insert = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(k.kid.clone())
            .bind(k.alg.as_str())
            .bind(k.generation)
            .bind(k.public_jwk.to_string())
            .bind(k.private_sealed.clone())
            .bind(micros(k.created_at))
            .bind(micros(k.activates_at))
            .bind(k.retires_at.map(micros))
            .bind(k.removed_at.map(micros));
        let retire = sqlx::query("UPDATE oidc_signing_keys SET retires_at = $1 WHERE alg = $2 AND generation = $3 AND retires_at IS NULL")
            .bind(micros(k.activates_at))
            .bind(k.alg.as_str())
            .bind(k.generation - 1);
        self.audited_if(audit, async |tx| {
            if execute(insert, &mut *tx).await? == 0 {
                return Ok(false);
            }
            execute(retire, &mut *tx).await?;
            Ok(true)
        })
        .await
    }

    async fn remove_signing_keys(&self, retired_before: Timestamp, now: Timestamp, audit: &AuditEntry) -> Result<u64, StoreError> {
        let q = sqlx::query(
            "UPDATE oidc_signing_keys SET removed_at = $1 WHERE removed_at IS NULL AND retires_at IS NOT NULL AND retires_at < $2",
        )
        .bind(micros(now))
        .bind(micros(retired_before));
        let n = self.audited_if(audit, async |tx| Ok(Some(execute(q, &mut *tx).await?).filter(|n| *n > 0))).await?;
        Ok(n.unwrap_or(0))
    }
}

// ── The authorization code flow ─────────────────────────────────────────────

use crate::audit::append_in;
use crate::clients::{json_list, parse_list};
use crate::outbox::enqueue_in;
use crate::read_batch::{Ask, Statements};
use crate::rows::AnyQuery;
use crate::rows::{fetch_optional, timestamp};
use crate::write::{Changed, Commit, Tx};
use idlink_core::ports::clients::{AuthMethod, ClientKind, ClientState};
use idlink_core::ports::oauth::{
    AccessTokenView, Approval, AuthzRequestRow, CodeExchange, CodeRow, FamilyRow, Introspection, NewTokens, OAuthFlowStore, OAuthPurge,
    Purged, RefreshOutcome, ReuseEvent,
};
use idlink_domain::{AuthzRequestId, ClientId, GrantId, UserId};

/// The columns of an access token with its grant, client and pairwise
/// subject, over `oauth_access_tokens t` and [`TOKEN_VIEW_JOINS`].
const TOKEN_VIEW_COLUMNS: &str = "t.client_id, t.user_id, t.grant_id, t.scope, t.claims, t.created_at, t.expires_at, \
     t.revoked_at, g.state AS grant_state, tc.state AS client_state, s.sub";
const TOKEN_VIEW_JOINS: &str = "LEFT JOIN oauth_grants g ON g.id = t.grant_id \
     LEFT JOIN oauth_clients tc ON tc.id = t.client_id \
     LEFT JOIN oauth_subjects s ON s.client_id = t.client_id AND s.user_id = t.user_id";

fn access_view(r: &AnyRow) -> Result<AccessTokenView, StoreError> {
    Ok(AccessTokenView {
        client_id: r.id("client_id")?,
        user_id: r.col::<Option<String>>("user_id")?.map(|u| crate::rows::user_id(&u)).transpose()?,
        grant_id: r.id_opt("grant_id")?,
        scope: r.col("scope")?,
        claims: parse_list("oauth_access_tokens.claims", &r.col::<Option<String>>("claims")?.unwrap_or_else(|| "[]".into()))?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant("expires_at")?,
        revoked_at: r.col::<Option<i64>>("revoked_at")?.map(timestamp).transpose()?,
        grant_state: r.col("grant_state")?,
        client_active: r.col::<Option<String>>("client_state")?.as_deref() == Some(ClientState::Active.as_str()),
        sub: r.col("sub")?,
    })
}

/// Introspections, read in batches (ADR 0023) with one statement each: per
/// ask, the caller by primary key, its matching live secret through the
/// (client_id, secret_hash) index, the token by primary key (ADR 0020).
/// Comparing SHA-256 digests of 256-bit secrets in SQL leaks nothing a
/// timing attack could use. An unknown caller has no row.
static INTROSPECTION: Statements<IntrospectionAsk, Introspection> = Statements::new(introspection_select, introspection_row);

/// What one introspection asks.
pub(crate) struct IntrospectionAsk {
    caller: String,
    secret_hash: String,
    token_hash: String,
    /// Microseconds: secrets expired by then do not match.
    now: i64,
}

impl Ask for IntrospectionAsk {
    const COLUMNS: &'static [&'static str] = &["caller", "secret_hash", "token_hash", "at"];
    fn bind(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(self.caller).bind(self.secret_hash).bind(self.token_hash).bind(self.now)
    }
    // No caller: one probe of the clients' key finds nothing.
    fn pad(q: AnyQuery<'_>) -> AnyQuery<'_> {
        q.bind(None::<String>).bind(None::<String>).bind(None::<String>).bind(0_i64)
    }
}

/// An access token by its hash ($1), with its grant's, client's and subject's state.
pub(crate) fn access_token_sql() -> String {
    format!("SELECT {TOKEN_VIEW_COLUMNS} FROM oauth_access_tokens t {TOKEN_VIEW_JOINS} WHERE t.token_hash = $1")
}

fn introspection_select() -> String {
    format!(
        "SELECT q.n AS n, c.kind AS caller_kind, c.auth_method AS caller_method, c.state AS caller_state, \
         c.introspect_any AS caller_any, \
         CASE WHEN EXISTS (SELECT 1 FROM oauth_client_secrets k WHERE k.client_id = c.id AND k.secret_hash = q.secret_hash \
          AND (k.expires_at IS NULL OR k.expires_at > q.at)) THEN 1 ELSE 0 END AS secret_matches, \
         t.token_hash AS found, {TOKEN_VIEW_COLUMNS} \
         FROM q JOIN oauth_clients c ON c.id = q.caller \
         LEFT JOIN oauth_access_tokens t ON t.token_hash = q.token_hash {TOKEN_VIEW_JOINS}"
    )
}

fn introspection_row(r: &AnyRow) -> Result<Introspection, StoreError> {
    let token = match r.col::<Option<String>>("found")? {
        Some(_) => Some(access_view(r)?),
        None => None,
    };
    Ok(Introspection {
        caller_kind: r.parsed("caller_kind", "client kind", ClientKind::parse)?,
        caller_method: r.parsed("caller_method", "client auth method", AuthMethod::parse)?,
        caller_active: r.col::<String>("caller_state")? == ClientState::Active.as_str(),
        caller_introspects_any: r.flag("caller_any")?,
        secret_matches: r.flag("secret_matches")?,
        token,
    })
}

const CODE_COLUMNS: &str = "code_hash, client_id, user_id, grant_id, session_id, redirect_uri, scope, claims, nonce, code_challenge, \
     auth_time, created_at, expires_at, used_at";

fn json_value(column: &str, text: Option<String>) -> Result<serde_json::Value, StoreError> {
    match text {
        None => Ok(serde_json::Value::Null),
        Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{column}: {e}"))),
    }
}

fn code_row(r: &AnyRow) -> Result<CodeRow, StoreError> {
    Ok(CodeRow {
        code_hash: r.col("code_hash")?,
        client_id: r.id("client_id")?,
        user_id: r.user("user_id")?,
        grant_id: r.id("grant_id")?,
        session_id: r.col("session_id")?,
        redirect_uri: r.col("redirect_uri")?,
        scope: r.col("scope")?,
        claims: json_value("oauth_codes.claims", r.col("claims")?)?,
        nonce: r.col("nonce")?,
        code_challenge: r.col("code_challenge")?,
        auth_time: r.instant("auth_time")?,
        created_at: r.instant("created_at")?,
        expires_at: r.instant("expires_at")?,
        used_at: r.instant_opt("used_at")?,
    })
}

fn family_row(r: &AnyRow) -> Result<FamilyRow, StoreError> {
    Ok(FamilyRow {
        id: r.id("id")?,
        grant_id: r.id("grant_id")?,
        client_id: r.id("client_id")?,
        user_id: r.user("user_id")?,
        sid: r.col("sid")?,
        scope: r.col("scope")?,
        claims: parse_list("oauth_refresh_families.claims", &r.col::<Option<String>>("claims")?.unwrap_or_else(|| "[]".into()))?,
    })
}

impl Changed for CodeExchange {
    fn changed(&self) -> bool {
        !matches!(self, CodeExchange::Invalid)
    }
}

impl Changed for RefreshOutcome {
    fn changed(&self) -> bool {
        !matches!(self, RefreshOutcome::Invalid)
    }
}

/// Revokes a refresh family and every access token it issued (one tx, so
/// every node sees the revocation at once); false when it was revoked already.
async fn revoke_family_in(tx: &mut Tx, family: &str, reason: &str, at: Timestamp) -> Result<bool, StoreError> {
    let q = sqlx::query("UPDATE oauth_refresh_families SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(micros(at))
        .bind(reason.to_owned())
        .bind(family.to_owned());
    let revoked = execute(q, &mut *tx).await? > 0;
    let q = sqlx::query("UPDATE oauth_access_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
        .bind(micros(at))
        .bind(family.to_owned());
    execute(q, &mut *tx).await?;
    Ok(revoked)
}

/// Stores an access token (and, with a refresh hash, the family's next refresh token).
async fn insert_tokens_in(
    tx: &mut Tx,
    t: &NewTokens,
    client: &ClientId,
    user: &UserId,
    grant: &GrantId,
    scope: &str,
    generation: i64,
) -> Result<(), StoreError> {
    if let Some(refresh) = &t.refresh_hash {
        let q = sqlx::query(
            "INSERT INTO oauth_refresh_tokens (token_hash, family_id, generation, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(refresh.clone())
        .bind(t.family.as_str())
        .bind(generation)
        .bind(micros(t.at))
        .bind(micros(t.refresh_expires_at));
        execute(q, &mut *tx).await?;
    }
    let q = sqlx::query(
        "INSERT INTO oauth_access_tokens (token_hash, client_id, user_id, grant_id, family_id, scope, claims, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
    )
    .bind(t.access_hash.clone())
    .bind(client.as_str())
    .bind(user.as_str())
    .bind(grant.as_str())
    .bind(t.family.as_str())
    .bind(scope.to_owned())
    .bind(json_list(&t.userinfo_claims))
    .bind(micros(t.at))
    .bind(micros(t.access_expires_at));
    execute(q, &mut *tx).await?;
    Ok(())
}

async fn grant_state_in(tx: &mut Tx, grant: &GrantId) -> Result<Option<String>, StoreError> {
    let q = sqlx::query("SELECT state FROM oauth_grants WHERE id = $1").bind(grant.as_str());
    fetch_optional(q, &mut *tx, |r| r.col::<String>("state")).await
}

#[async_trait]
impl OAuthFlowStore for SqlStore {
    async fn insert_authz_request(&self, row: &AuthzRequestRow) -> Result<(), StoreError> {
        let q = sqlx::query("INSERT INTO oauth_authz_requests (id, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(row.id.as_str())
            .bind(row.client_id.as_str())
            .bind(row.params.to_string())
            .bind(micros(row.created_at))
            .bind(micros(row.expires_at));
        // Bookkeeping: a request holds no personal data and changes nothing until the user consents.
        self.write(Commit::Bookkeeping, async |tx| {
            execute(q, &mut *tx).await?;
            Ok(())
        })
        .await
    }

    async fn authz_request(&self, id: &AuthzRequestId) -> Result<Option<AuthzRequestRow>, StoreError> {
        let q =
            sqlx::query("SELECT id, client_id, params, created_at, expires_at FROM oauth_authz_requests WHERE id = $1").bind(id.as_str());
        fetch_optional(q, &self.reader, |r| {
            Ok(AuthzRequestRow {
                id: r.id("id")?,
                client_id: r.id("client_id")?,
                params: json_value("oauth_authz_requests.params", Some(r.col("params")?))?,
                created_at: r.instant("created_at")?,
                expires_at: r.instant("expires_at")?,
            })
        })
        .await
    }

    async fn deny_authz_request(&self, id: &AuthzRequestId, audit: &AuditEntry) -> Result<bool, StoreError> {
        let q = sqlx::query("DELETE FROM oauth_authz_requests WHERE id = $1").bind(id.as_str());
        self.audited_if(audit, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await
    }

    async fn approve(
        &self,
        user: &UserId,
        client: &ClientId,
        session_id: &str,
        a: &Approval,
        audit: &AuditEntry,
    ) -> Result<Option<GrantId>, StoreError> {
        self.audited_if(audit, async |tx| {
            let q = sqlx::query("DELETE FROM oauth_authz_requests WHERE id = $1").bind(a.request.as_str());
            if execute(q, &mut *tx).await? == 0 {
                return Ok(None);
            }
            // Re-consent re-activates a revoked grant; a suspended one (frozen account) stays
            // suspended, a held one (a revocation under way) held.
            let q = sqlx::query(
                "INSERT INTO oauth_grants (id, user_id, client_id, scopes, claims, state, created_at, updated_at, revoked_at, revoked_by, revoke_reason) \
                 VALUES ($1, $2, $3, $4, $5, 'active', $6, $6, NULL, NULL, NULL) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, claims = excluded.claims, \
                 state = CASE WHEN oauth_grants.state IN ('suspended', 'held') THEN oauth_grants.state ELSE 'active' END, \
                 updated_at = excluded.updated_at, revoked_at = NULL, revoked_by = NULL, revoke_reason = NULL",
            )
            .bind(a.new_grant.as_str())
            .bind(user.as_str())
            .bind(client.as_str())
            .bind(json_list(&a.scopes))
            .bind(json_list(&a.claims))
            .bind(micros(a.at));
            execute(q, &mut *tx).await?;
            let q = sqlx::query("SELECT id FROM oauth_grants WHERE user_id = $1 AND client_id = $2").bind(user.as_str()).bind(client.as_str());
            let grant: GrantId = crate::rows::fetch_one(q, &mut *tx, |r| r.id("id")).await?;
            for c in &a.consents {
                let q = sqlx::query(
                    "INSERT INTO oauth_consents (id, grant_id, user_id, client_id, consent_version, text_hash, claims, sensitive, consented_at, withdrawn_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
                )
                .bind(c.id.as_str())
                .bind(grant.as_str())
                .bind(user.as_str())
                .bind(client.as_str())
                .bind(c.consent_version.clone())
                .bind(c.text_hash.clone())
                .bind(json_list(&c.claims))
                .bind(i64::from(c.sensitive))
                .bind(micros(a.at));
                execute(q, &mut *tx).await?;
            }
            let q = sqlx::query("INSERT INTO oauth_subjects (client_id, sub, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(client.as_str())
                .bind(a.sub.clone())
                .bind(user.as_str());
            execute(q, &mut *tx).await?;
            let q = sqlx::query(
                "INSERT INTO oauth_sessions (sid, client_id, user_id, session_id, created_at, ended_at) VALUES ($1, $2, $3, $4, $5, NULL) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(a.sid.clone())
            .bind(client.as_str())
            .bind(user.as_str())
            .bind(session_id.to_owned())
            .bind(micros(a.at));
            execute(q, &mut *tx).await?;
            let c = &a.code;
            let sql = format!("INSERT INTO oauth_codes ({CODE_COLUMNS}, family_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, NULL)");
            let q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(c.code_hash.clone())
                .bind(client.as_str())
                .bind(user.as_str())
                .bind(grant.as_str())
                .bind(c.session_id.clone())
                .bind(c.redirect_uri.clone())
                .bind(c.scope.clone())
                .bind(c.claims.to_string())
                .bind(c.nonce.clone())
                .bind(c.code_challenge.clone())
                .bind(micros(c.auth_time))
                .bind(micros(c.created_at))
                .bind(micros(c.expires_at));
            execute(q, &mut *tx).await?;
            Ok(Some(grant))
        })
        .await
    }

    async fn code(&self, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
        let sql = format!("SELECT {CODE_COLUMNS} FROM oauth_codes WHERE code_hash = $1");
        fetch_optional(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code_hash.to_owned()), &self.reader, code_row).await
    }

    async fn exchange_code(
        &self,
        code_hash: &str,
        t: &NewTokens,
        audit: &AuditEntry,
        reuse: &AuditEntry,
        reuse_event: ReuseEvent<'_>,
    ) -> Result<CodeExchange, StoreError> {
        self.write_if(Commit::Effect, async |tx| {
            let sql = format!(
                "UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING {CODE_COLUMNS}"
            );
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(t.at)).bind(code_hash.to_owned());
            match fetch_optional(q, &mut *tx, code_row).await? {
                Some(code) => {
                    if grant_state_in(tx, &code.grant_id).await?.as_deref() != Some("active") {
                        return Ok(CodeExchange::Invalid);
                    }
                    let q = sqlx::query(
                        "INSERT INTO oauth_refresh_families (id, grant_id, client_id, user_id, sid, scope, claims, created_at, expires_at, revoked_at, revoke_reason) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)",
                    )
                    .bind(t.family.as_str())
                    .bind(code.grant_id.as_str())
                    .bind(code.client_id.as_str())
                    .bind(code.user_id.as_str())
                    .bind(t.sid.clone())
                    .bind(code.scope.clone())
                    .bind(json_list(&t.userinfo_claims))
                    .bind(micros(t.at))
                    .bind(micros(t.refresh_expires_at));
                    execute(q, &mut *tx).await?;
                    let q = sqlx::query("UPDATE oauth_codes SET family_id = $1 WHERE code_hash = $2").bind(t.family.as_str()).bind(code_hash.to_owned());
                    execute(q, &mut *tx).await?;
                    insert_tokens_in(tx, t, &code.client_id, &code.user_id, &code.grant_id, &code.scope, 0).await?;
                    append_in(tx, audit).await?;
                    Ok(CodeExchange::Issued(Box::new(code)))
                }
                None => {
                    let q = sqlx::query("SELECT family_id, used_at, user_id, client_id FROM oauth_codes WHERE code_hash = $1")
                        .bind(code_hash.to_owned());
                    let seen = fetch_optional(q, &mut *tx, |r| {
                        Ok((r.col::<Option<String>>("family_id")?, r.col::<Option<i64>>("used_at")?, r.user("user_id")?, r.id::<ClientId>("client_id")?))
                    })
                    .await?;
                    match seen {
                        Some((family, Some(_), user, client)) => {
                            // The app learns it: what its code issued is revoked (RFC 6749 §4.1.2).
                            if let Some(family) = family
                                && revoke_family_in(tx, &family, "reuse", t.at).await?
                            {
                                enqueue_in(tx, [&reuse_event(&user, &client)?]).await?;
                            }
                            append_in(tx, reuse).await?;
                            Ok(CodeExchange::Reused)
                        }
                        _ => Ok(CodeExchange::Invalid),
                    }
                }
            }
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        token_hash: &str,
        client: &ClientId,
        t: &NewTokens,
        audit: &AuditEntry,
        reuse: &AuditEntry,
        reuse_event: ReuseEvent<'_>,
    ) -> Result<RefreshOutcome, StoreError> {
        self.write_if(Commit::Effect, async |tx| {
            let q = sqlx::query(
                "UPDATE oauth_refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING family_id, generation",
            )
            .bind(micros(t.at))
            .bind(token_hash.to_owned());
            let hit = fetch_optional(q, &mut *tx, |r| Ok((r.col::<String>("family_id")?, r.col::<i64>("generation")?))).await?;
            let family_q = |id: String| {
                sqlx::query(
                    "SELECT f.id, f.grant_id, f.client_id, f.user_id, f.sid, f.scope, f.claims, f.expires_at, f.revoked_at, g.state \
                     FROM oauth_refresh_families f JOIN oauth_grants g ON g.id = f.grant_id WHERE f.id = $1",
                )
                .bind(id)
            };
            match hit {
                Some((family_id, generation)) => {
                    let found = fetch_optional(family_q(family_id), &mut *tx, |r| {
                        Ok((family_row(r)?, r.instant("expires_at")?, r.col::<Option<i64>>("revoked_at")?, r.col::<String>("state")?))
                    })
                    .await?;
                    let Some((family, expires_at, revoked_at, state)) = found else { return Ok(RefreshOutcome::Invalid) };
                    if family.client_id != *client || revoked_at.is_some() || state != "active" || expires_at <= t.at {
                        return Ok(RefreshOutcome::Invalid);
                    }
                    let next = NewTokens { family: family.id.clone(), userinfo_claims: family.claims.clone(), ..t.clone() };
                    insert_tokens_in(tx, &next, &family.client_id, &family.user_id, &family.grant_id, &family.scope, generation + 1)
                        .await?;
                    append_in(tx, &audit.clone().subject(&family.user_id)).await?;
                    Ok(RefreshOutcome::Rotated(family))
                }
                None => {
                    let q = sqlx::query("SELECT family_id FROM oauth_refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL")
                        .bind(token_hash.to_owned());
                    let Some(family_id) = fetch_optional(q, &mut *tx, |r| r.col::<String>("family_id")).await? else {
                        return Ok(RefreshOutcome::Invalid);
                    };
                    let found = fetch_optional(family_q(family_id.clone()), &mut *tx, family_row).await?;
                    let Some(family) = found.filter(|f| f.client_id == *client) else { return Ok(RefreshOutcome::Invalid) };
                    // The first reuse revokes the family and tells the app; a later one finds it revoked already.
                    if revoke_family_in(tx, &family_id, "reuse", t.at).await? {
                        enqueue_in(tx, [&reuse_event(&family.user_id, &family.client_id)?]).await?;
                    }
                    append_in(tx, &reuse.clone().subject(&family.user_id)).await?;
                    Ok(RefreshOutcome::Reused)
                }
            }
        })
        .await
    }

    async fn revoke_token(&self, token_hash: &str, client: &ClientId, at: Timestamp, audit: &AuditEntry) -> Result<bool, StoreError> {
        self.write_if(Commit::Effect, async |tx| {
            let q = sqlx::query("UPDATE oauth_access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND client_id = $3 AND revoked_at IS NULL RETURNING user_id")
                .bind(micros(at))
                .bind(token_hash.to_owned())
                .bind(client.as_str());
            if let Some(user) = fetch_optional(q, &mut *tx, |r| r.col::<Option<String>>("user_id")).await? {
                let mut entry = audit.clone();
                entry.subject = user;
                append_in(tx, &entry).await?;
                return Ok(true);
            }
            let q = sqlx::query(
                "SELECT f.id, f.user_id FROM oauth_refresh_tokens t JOIN oauth_refresh_families f ON f.id = t.family_id \
                 WHERE t.token_hash = $1 AND f.client_id = $2 AND f.revoked_at IS NULL",
            )
            .bind(token_hash.to_owned())
            .bind(client.as_str());
            let Some((family, user)) = fetch_optional(q, &mut *tx, |r| Ok((r.col::<String>("id")?, r.col::<String>("user_id")?))).await? else {
                return Ok(false);
            };
            revoke_family_in(tx, &family, "revoked", at).await?;
            let mut entry = audit.clone();
            entry.subject = Some(user);
            append_in(tx, &entry).await?;
            Ok(true)
        })
        .await
    }

    async fn access_token(&self, token_hash: &str) -> Result<Option<AccessTokenView>, StoreError> {
        let q = sqlx::query(sqlx::AssertSqlSafe(access_token_sql())).bind(token_hash.to_owned());
        fetch_optional(q, &self.reader, access_view).await
    }

    async fn introspection(
        &self,
        caller: &ClientId,
        secret_hash: &str,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<Introspection>, StoreError> {
        let ask = IntrospectionAsk {
            caller: caller.as_str().to_owned(),
            secret_hash: secret_hash.to_owned(),
            token_hash: token_hash.to_owned(),
            now: micros(now),
        };
        self.introspections.read(&self.reader, ask, &INTROSPECTION).await
    }

    async fn record_assertion(&self, client: &ClientId, jti: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let q = sqlx::query("INSERT INTO oauth_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(client.as_str())
            .bind(jti.to_owned())
            .bind(micros(expires_at));
        self.write(Commit::Bookkeeping, async |tx| Ok(execute(q, &mut *tx).await? > 0)).await
    }

    async fn purge_oauth(&self, p: &OAuthPurge) -> Result<Purged, StoreError> {
        let (expired, limit) = (micros(p.expired_before), i64::from(p.limit));
        // One short write per table, in bounded batches (like the other purges): never a long lock.
        let delete = async |sql: &'static str, before: i64| -> Result<u64, StoreError> {
            let q = sqlx::query(sql).bind(before).bind(limit);
            self.write(Commit::Bookkeeping, async |tx| execute(q, &mut *tx).await).await
        };
        let mut n = Purged {
            authz_requests: delete(
                "DELETE FROM oauth_authz_requests WHERE id IN (SELECT id FROM oauth_authz_requests WHERE expires_at < $1 LIMIT $2)",
                expired,
            )
            .await?,
            codes: delete(
                "DELETE FROM oauth_codes WHERE code_hash IN (SELECT code_hash FROM oauth_codes WHERE expires_at < $1 LIMIT $2)",
                expired,
            )
            .await?,
            access_tokens: delete(
                "DELETE FROM oauth_access_tokens WHERE token_hash IN \
                 (SELECT token_hash FROM oauth_access_tokens WHERE expires_at < $1 LIMIT $2)",
                expired,
            )
            .await?,
            ..Purged::default()
        };
        // A live family keeps every refresh token, used ones too, even one whose
        // own expiry passed (a shorter TTL configured later): a used one coming back is a reuse.
        n.refresh_tokens = delete(
            "DELETE FROM oauth_refresh_tokens WHERE token_hash IN (SELECT t.token_hash FROM oauth_refresh_tokens t \
             JOIN oauth_refresh_families f ON f.id = t.family_id \
             WHERE f.expires_at < $1 OR f.revoked_at < $1 LIMIT $2)",
            expired,
        )
        .await?;
        n.refresh_families = delete(
            "DELETE FROM oauth_refresh_families WHERE id IN (SELECT f.id FROM oauth_refresh_families f \
             WHERE (f.expires_at < $1 OR f.revoked_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens t WHERE t.family_id = f.id) \
             AND NOT EXISTS (SELECT 1 FROM oauth_access_tokens a WHERE a.family_id = f.id) LIMIT $2)",
            expired,
        )
        .await?;
        n.assertions = delete(
            "DELETE FROM oauth_client_assertions WHERE (client_id, jti) IN \
             (SELECT client_id, jti FROM oauth_client_assertions WHERE expires_at < $1 LIMIT $2)",
            micros(p.assertions_before),
        )
        .await?;
        n.sessions = delete(
            "DELETE FROM oauth_sessions WHERE (sid, client_id) IN \
             (SELECT sid, client_id FROM oauth_sessions WHERE ended_at IS NOT NULL AND ended_at < $1 LIMIT $2)",
            micros(p.sessions_ended_before),
        )
        .await?;
        n.rate_windows = delete(
            "DELETE FROM rate_limits WHERE (bucket, window_start) IN \
             (SELECT bucket, window_start FROM rate_limits WHERE bucket LIKE 'oauth:%' AND window_start < $1 LIMIT $2)",
            micros(p.rate_windows_before),
        )
        .await?;
        Ok(n)
    }
}
