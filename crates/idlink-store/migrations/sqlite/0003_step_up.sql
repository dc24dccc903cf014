-- Payment password (SPEC ID6) and step-up tokens (ID7).

CREATE TABLE payment_passwords (
    user_id    TEXT PRIMARY KEY REFERENCES users (id),
    hash       TEXT NOT NULL,
    failures   BIGINT NOT NULL,
    locked_at  BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE step_up_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    operation   TEXT NOT NULL,
    resource    TEXT NOT NULL,
    method      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- Server nonces a device signs with its registered key for a biometric step-up.
CREATE TABLE biometric_challenges (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    operation  TEXT NOT NULL,
    resource   TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
