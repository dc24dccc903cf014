-- Separate consents to process sensitive personal information (issue 18
-- point 1, PIPL art. 29, SPEC CP): one row per consent given, with the
-- version and the SHA-256 of the text the user read, in their language. A
-- withdrawal stamps the row; giving again adds a row. Rows are kept (they
-- are the proof of consent) and go with the user's account.
CREATE TABLE sensitive_consents (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    kind         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    locale       TEXT NOT NULL,
    text_sha256  TEXT NOT NULL,
    given_at     BIGINT NOT NULL,
    withdrawn_at BIGINT
);
CREATE INDEX sensitive_consents_by_user ON sensitive_consents (user_id, kind, given_at);
