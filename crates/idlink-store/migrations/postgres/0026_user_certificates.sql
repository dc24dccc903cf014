-- Client certificates users register to verify by digital certificate
-- (SPEC CR1, issue 15; ADR 0027). The certificate is sealed under the
-- user's data key (it may name its holder); its SHA-256 fingerprint is the
-- key a challenge names. A fingerprint is registered once, to one user.
CREATE TABLE user_certificates (
    fingerprint  TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    cert_cipher  BYTEA NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX user_certificates_by_user ON user_certificates (user_id);
