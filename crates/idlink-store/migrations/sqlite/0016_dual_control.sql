-- Dual control (maker/checker) of sensitive operator actions, operators on
-- duty with the phone that pages them, and escalated SLA breaches (issue 13;
-- ADR 0015).

CREATE TABLE proposals (
    id          TEXT PRIMARY KEY,
    action      TEXT NOT NULL,
    params      TEXT NOT NULL,
    proposed_by TEXT NOT NULL REFERENCES operators (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    status      TEXT NOT NULL,
    decided_by  TEXT REFERENCES operators (id),
    decided_at  BIGINT,
    note        TEXT NOT NULL,
    result      TEXT
);
CREATE INDEX proposals_by_status ON proposals (status, created_at);

ALTER TABLE operators ADD COLUMN on_duty BIGINT NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN phone_cipher BLOB;

ALTER TABLE review_cases ADD COLUMN escalated_at BIGINT;
