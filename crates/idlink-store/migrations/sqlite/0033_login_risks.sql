-- Abnormal logins (SPEC RV1, issue 17): a login the risk rules did not
-- simply allow (they asked for a step-up or froze the account). A real-name
-- revocation or an account cancellation waits 30 days after the latest one.
-- Its own table, not a column of `sessions`: the fact outlives the session.
CREATE TABLE login_risks (
    session_id TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    decision   TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX login_risks_by_user ON login_risks (user_id, at);
