-- Real-name revocation and account cancellation sagas (SPEC RV2, issue 17).
-- One row per saga, moved by version (a node that lost the race writes
-- nothing); a user has at most one open saga.
CREATE TABLE revocations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    operation   TEXT NOT NULL,
    phase       TEXT NOT NULL,
    done        BIGINT NOT NULL,
    committing  BIGINT NOT NULL,
    reason      TEXT,
    deadline    BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX revocations_one_open ON revocations (user_id) WHERE phase IN ('forward', 'compensating');
CREATE INDEX revocations_open ON revocations (updated_at, id) WHERE phase IN ('forward', 'compensating');
CREATE INDEX revocations_by_user ON revocations (user_id, created_at);
