-- Retention by period (issue 18 point 2, SPEC P7, CP).
--
-- The audit chain is purged as a prefix, a whole month at a time, up to a
-- signed checkpoint: one row per purge names the last record purged and its
-- hash (the checkpoint's), so verification resumes from there. The only
-- deletes audit_log accepts are of records such a row covers; the purge rows
-- and the checkpoints themselves stay for good.
CREATE TABLE audit_purges (
    through_seq  BIGINT PRIMARY KEY,
    through_hash TEXT NOT NULL,
    first_seq    BIGINT NOT NULL,
    period       TEXT NOT NULL,
    records      BIGINT NOT NULL,
    purged_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX audit_purges_one_per_start ON audit_purges (first_seq);
CREATE TRIGGER audit_purges_no_update BEFORE UPDATE ON audit_purges
BEGIN SELECT RAISE(ABORT, 'audit_purges is append-only'); END;
CREATE TRIGGER audit_purges_no_delete BEFORE DELETE ON audit_purges
BEGIN SELECT RAISE(ABORT, 'audit_purges is append-only'); END;

-- A delete must also be of a record five years old by the database's own
-- clock (the legal minimum): a purge row written by hand cannot cut last
-- week's records.
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM audit_purges)
  OR OLD.at >= (CAST(strftime('%s', 'now', '-5 years') AS INTEGER) * 1000000)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Legal holds: while a hold on a user is in force (or the user has an open
-- review case), no purge removes that user's records; the audit chain stops
-- before the first record about them.
CREATE TABLE legal_holds (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    reference   TEXT NOT NULL,
    placed_by   TEXT NOT NULL,
    placed_at   BIGINT NOT NULL,
    released_by TEXT,
    released_at BIGINT
);
CREATE INDEX legal_holds_in_force ON legal_holds (user_id) WHERE released_at IS NULL;

-- Sign-ins are purged by the end of their session.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX credit_requests_by_ready ON credit_requests (ready_at) WHERE pdf_cipher IS NOT NULL OR report_cipher IS NOT NULL;
