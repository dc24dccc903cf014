-- Credit alerts (SPEC CR6, issue 15): the users who opted in, the apps they
-- chose to be told too, and the last file compared (sealed under the user's
-- data key: C2, unreadable once the key is shredded). The job reads the
-- due watches by next_check_at.
CREATE TABLE credit_watches (
    user_id         TEXT PRIMARY KEY REFERENCES users (id),
    enabled         BIGINT NOT NULL,
    apps            TEXT NOT NULL,
    baseline_cipher BLOB,
    checked_at      BIGINT,
    next_check_at   BIGINT,
    alerts          BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX credit_watches_due ON credit_watches (next_check_at) WHERE enabled = 1;
