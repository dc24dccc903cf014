-- The maintenance calendar of the institutions (SPEC OP2, BK5; ADR 0018):
-- windows an admin schedules, during which the connectors refuse calls to
-- the institution (or one of its channels) with the expected end. A window
-- is cancelled, never deleted; the audit log says who did what.
CREATE TABLE maintenance_windows (
    id           TEXT PRIMARY KEY,
    institution  TEXT NOT NULL,
    channel      TEXT,
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    note         TEXT NOT NULL,
    created_by   TEXT NOT NULL REFERENCES operators (id),
    created_at   BIGINT NOT NULL,
    cancelled_at BIGINT
);
CREATE INDEX maintenance_windows_by_end ON maintenance_windows (ends_at);
