-- An extra SMS check at the next login (SPEC RV3, issue 17): set when a
-- real-name revocation commits, cleared when a device check succeeds.
CREATE TABLE login_checks (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    reason  TEXT NOT NULL,
    since   BIGINT NOT NULL
);
