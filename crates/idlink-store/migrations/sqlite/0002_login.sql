-- Login by phone + SMS code (SPEC ID1): challenges, devices, sessions, rate limits.

CREATE TABLE sms_challenges (
    id          TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    phone_index TEXT NOT NULL,
    device_hash TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    public_key  TEXT,
    is_primary  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX devices_by_user ON devices (user_id, device_hash);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_id   TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Fixed-window counters: one row per (bucket, window start).
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
