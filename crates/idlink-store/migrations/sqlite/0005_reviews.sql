-- Operators (SPEC P5), the review queue (OP1) and risk freezes (ID8);
-- identity documents other than the resident ID card (ID3).

CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_cipher   BLOB NOT NULL,
    roles         TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX operators_by_username ON operators (username);

CREATE TABLE operator_sessions (
    id          TEXT PRIMARY KEY,
    operator_id TEXT NOT NULL REFERENCES operators (id),
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE review_cases (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    subject           TEXT NOT NULL,
    reference         TEXT NOT NULL,
    status            TEXT NOT NULL,
    steps_required    BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    sla_due_at        BIGINT NOT NULL,
    first_response_at BIGINT,
    claimed_by        TEXT
);
CREATE INDEX review_cases_open ON review_cases (status, kind, created_at);

-- One row per step; an operator takes at most one step of a case.
CREATE TABLE review_decisions (
    case_id     TEXT NOT NULL REFERENCES review_cases (id),
    step        BIGINT NOT NULL,
    operator_id TEXT NOT NULL,
    approve     BIGINT NOT NULL,
    note        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (case_id, step)
);
CREATE UNIQUE INDEX review_decisions_one_per_operator ON review_decisions (case_id, operator_id);

CREATE TABLE freezes (
    user_id   TEXT PRIMARY KEY REFERENCES users (id),
    status    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    frozen_at BIGINT NOT NULL,
    lifted_at BIGINT,
    case_id   TEXT NOT NULL
);

ALTER TABLE verifications ADD COLUMN document_type TEXT NOT NULL DEFAULT 'resident_id';
ALTER TABLE verifications ADD COLUMN birth_cipher BLOB;
ALTER TABLE identities ADD COLUMN document_type TEXT NOT NULL DEFAULT 'resident_id';
ALTER TABLE identities ADD COLUMN birth_cipher BLOB;
