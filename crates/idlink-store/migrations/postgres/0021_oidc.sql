-- Third-party apps (SPEC TP1–TP3, issue 14; ADRs 0020–0022): the OpenID
-- Connect provider's clients, grants, codes and tokens, its signing keys, and
-- the security events it sends them. Every token, code and client secret is
-- stored only as its SHA-256 (hex); secrets idlink must use again (signing
-- keys, webhook secrets, a stream's authorization header) are sealed under a
-- vault system key. Times are µs since the epoch.

-- ── Clients ────────────────────────────────────────────────────────────────
CREATE TABLE oauth_clients (
    id                     TEXT PRIMARY KEY,          -- cli_…
    name                   TEXT NOT NULL,
    logo_url               TEXT,
    -- 'confidential' or 'public' (public clients authenticate with PKCE only).
    kind                   TEXT NOT NULL,
    -- 'client_secret_basic', 'client_secret_post', 'private_key_jwt' or 'none'.
    auth_method            TEXT NOT NULL,
    -- The client's public keys for private_key_jwt (a JWK Set, JSON).
    jwks                   TEXT,
    allowed_scopes         TEXT NOT NULL,             -- JSON array
    allowed_claims         TEXT NOT NULL,             -- JSON array
    id_token_alg           TEXT NOT NULL,             -- 'ES256' or 'EdDSA'
    backchannel_logout_uri TEXT,
    backchannel_logout_session_required BIGINT NOT NULL,
    -- A resource server may introspect tokens issued to other clients.
    introspect_any         BIGINT NOT NULL,
    state                  TEXT NOT NULL,             -- 'active' / 'disabled'
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

-- Redirect URIs, matched exactly (RFC 9700 §2.1).
CREATE TABLE oauth_client_redirect_uris (
    client_id TEXT NOT NULL REFERENCES oauth_clients (id),
    uri       TEXT NOT NULL,
    PRIMARY KEY (client_id, uri)
);

-- Client secrets: more than one is live during a rotation's overlap.
CREATE TABLE oauth_client_secrets (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id),
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    -- NULL while it is the current secret; set to the end of the overlap when rotated.
    expires_at  BIGINT
);
CREATE INDEX oauth_client_secrets_by_client ON oauth_client_secrets (client_id, secret_hash);

-- private_key_jwt assertions seen (replay protection, RFC 7523 §3).
CREATE TABLE oauth_client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

-- ── Authorization ──────────────────────────────────────────────────────────
-- An authorization request checked at /oauth2/authorize, waiting for the
-- user's consent on the H5 page.
CREATE TABLE oauth_authz_requests (
    id         TEXT PRIMARY KEY,                      -- azr_…
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id),
    params     TEXT NOT NULL,                         -- JSON
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Pairwise subject identifiers, per client.
CREATE TABLE oauth_subjects (
    client_id TEXT NOT NULL,
    sub       TEXT NOT NULL,
    user_id   TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (client_id, sub)
);
CREATE UNIQUE INDEX oauth_subjects_by_user ON oauth_subjects (user_id, client_id);

-- What a user authorised an app to hold (TP1, TP2). One row per user and app.
CREATE TABLE oauth_grants (
    id            TEXT PRIMARY KEY,                   -- grt_…
    user_id       TEXT NOT NULL REFERENCES users (id),
    client_id     TEXT NOT NULL REFERENCES oauth_clients (id),
    scopes        TEXT NOT NULL,                      -- JSON array
    claims        TEXT NOT NULL,                      -- JSON array of claim names held
    -- 'active', 'suspended' (the account is frozen) or 'revoked'.
    state         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    -- 'user', 'app', 'host' or 'system'.
    revoked_by    TEXT,
    revoke_reason TEXT
);
CREATE UNIQUE INDEX oauth_grants_by_user_client ON oauth_grants (user_id, client_id);
CREATE INDEX oauth_grants_by_client ON oauth_grants (client_id);

-- Consents as given (PIPL art. 29: a separate row for sensitive claims).
-- Append-only; withdrawal is a time, never a deletion.
CREATE TABLE oauth_consents (
    id              TEXT PRIMARY KEY,                 -- cns_…
    grant_id        TEXT NOT NULL REFERENCES oauth_grants (id),
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    text_hash       TEXT NOT NULL,
    claims          TEXT NOT NULL,                    -- JSON array
    sensitive       BIGINT NOT NULL,
    consented_at    BIGINT NOT NULL,
    withdrawn_at    BIGINT
);
CREATE INDEX oauth_consents_by_grant ON oauth_consents (grant_id);

-- Authorization codes: single use, short-lived.
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    grant_id       TEXT NOT NULL,
    session_id     TEXT,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    claims         TEXT,                              -- JSON: the claims request
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    -- The refresh family the code's exchange started: a second use revokes it.
    family_id      TEXT
);

-- The OP session as each app knows it, for back-channel logout (sid per app).
CREATE TABLE oauth_sessions (
    sid        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    session_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at   BIGINT,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX oauth_sessions_by_session ON oauth_sessions (session_id);
CREATE INDEX oauth_sessions_by_user ON oauth_sessions (user_id);

-- Refresh tokens rotate within a family; a reused one revokes the family.
CREATE TABLE oauth_refresh_families (
    id            TEXT PRIMARY KEY,                   -- rtf_…
    grant_id      TEXT NOT NULL REFERENCES oauth_grants (id),
    client_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    sid           TEXT,
    scope         TEXT NOT NULL,
    claims        TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT                                -- 'reuse', 'revoked', 'grant'
);
CREATE INDEX oauth_refresh_families_by_grant ON oauth_refresh_families (grant_id);

CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES oauth_refresh_families (id),
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX oauth_refresh_tokens_by_family ON oauth_refresh_tokens (family_id);

-- Opaque access tokens (ADR 0020): introspection is one read by primary key.
CREATE TABLE oauth_access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    user_id    TEXT,
    grant_id   TEXT,
    family_id  TEXT,
    scope      TEXT NOT NULL,
    claims     TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth_access_tokens_by_grant ON oauth_access_tokens (grant_id);
CREATE INDEX oauth_access_tokens_by_family ON oauth_access_tokens (family_id);
CREATE INDEX oauth_access_tokens_by_expiry ON oauth_access_tokens (expires_at);

-- Signing keys (ID tokens, logout tokens, SETs). The private key (PKCS#8) is
-- sealed under the vault's 'sys-oidc-signing' key, context 'oidc-key:{kid}'.
CREATE TABLE oidc_signing_keys (
    kid          TEXT PRIMARY KEY,                    -- RFC 7638 thumbprint
    alg          TEXT NOT NULL,                       -- 'ES256' / 'EdDSA'
    -- 0, 1, 2, … per algorithm: two nodes minting the same next key race on
    -- this unique pair and exactly one wins (the other re-reads).
    generation   BIGINT NOT NULL,
    public_jwk   TEXT NOT NULL,                       -- JSON
    private_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retires_at   BIGINT,
    removed_at   BIGINT
);
CREATE UNIQUE INDEX oidc_signing_keys_by_generation ON oidc_signing_keys (alg, generation);

-- ── Security events ────────────────────────────────────────────────────────
-- Outbox children of a lifecycle event: one per destination.
ALTER TABLE outbox ADD COLUMN destination TEXT;
ALTER TABLE outbox ADD COLUMN parent_id TEXT;

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,                 -- whe_…
    client_id       TEXT NOT NULL REFERENCES oauth_clients (id),
    url             TEXT NOT NULL,
    event_types     TEXT NOT NULL,                    -- JSON array; empty = all
    state           TEXT NOT NULL,                    -- 'enabled' / 'disabled'
    disabled_at     BIGINT,
    disabled_reason TEXT,                             -- 'gone_410' / 'operator'
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_client ON webhook_endpoints (client_id);

-- Standard Webhooks secrets: 'hmac' (v1, the whsec_ bytes) or 'ed25519'
-- (v1a, the seed), sealed under 'sys-webhooks'; several live during an overlap.
CREATE TABLE webhook_secrets (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id),
    kind       TEXT NOT NULL,
    secret     BYTEA NOT NULL,
    public_key TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX webhook_secrets_by_client ON webhook_secrets (client_id);

-- Shared Signals streams (OpenID SSF 1.0): one per client.
CREATE TABLE ssf_streams (
    id                   TEXT PRIMARY KEY,            -- sst_…
    client_id            TEXT NOT NULL REFERENCES oauth_clients (id),
    aud                  TEXT NOT NULL,
    method               TEXT NOT NULL,               -- 'urn:ietf:rfc:8935' / 'urn:ietf:rfc:8936'
    endpoint_url         TEXT,
    authorization_header BYTEA,                        -- sealed
    events_requested     TEXT NOT NULL,               -- JSON array
    events_delivered     TEXT NOT NULL,               -- JSON array
    status               TEXT NOT NULL,               -- 'enabled' / 'paused' / 'disabled'
    status_reason        TEXT,
    description          TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX ssf_streams_by_client ON ssf_streams (client_id);

CREATE TABLE ssf_stream_subjects (
    stream_id TEXT NOT NULL REFERENCES ssf_streams (id),
    user_id   TEXT NOT NULL,
    mode      TEXT NOT NULL,                          -- 'added' / 'removed'
    at        BIGINT NOT NULL,
    PRIMARY KEY (stream_id, user_id)
);

-- SETs waiting to be polled (RFC 8936): the child event, sealed like an
-- outbox payload (kind 'set.poll'); the SET is signed when it is polled.
CREATE TABLE ssf_poll_queue (
    stream_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    acked_at   BIGINT,
    PRIMARY KEY (stream_id, jti)
);

-- Receipts: one per event and destination, what the user and the console see.
CREATE TABLE event_deliveries (
    id              TEXT PRIMARY KEY,                 -- the child event's id
    parent_event_id TEXT NOT NULL,
    user_id         TEXT,
    client_id       TEXT NOT NULL,
    channel         TEXT NOT NULL,                    -- 'webhook', 'set_push', 'set_poll', 'logout'
    event_type      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    state           TEXT NOT NULL,                    -- 'pending', 'delivered', 'dead', 'gone'
    attempts        BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_status     BIGINT
);
CREATE INDEX event_deliveries_by_user ON event_deliveries (user_id, created_at);
CREATE INDEX event_deliveries_by_client ON event_deliveries (client_id, created_at);

-- Every attempt: status, latency, error (never a body, never personal data).
CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    latency_ms  BIGINT NOT NULL,
    http_status BIGINT,
    outcome     TEXT NOT NULL,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
