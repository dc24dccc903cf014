-- Checkpoints are append-only like the records they sign (issue 10): with
-- the checkpoints above a cut removed, the records after it could be cut
-- unseen. Retention purge will need a privileged path past these, as for
-- audit_log.
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
