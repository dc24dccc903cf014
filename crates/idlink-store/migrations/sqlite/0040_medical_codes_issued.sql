-- Each medical-payment code as issued (issue 16, ADR 0031): the SHA-256 of
-- the signed token. idlink's own online check recognises a code it signed by
-- this digest instead of verifying its Ed25519 signature again (a terminal
-- checking offline still verifies the signature). A row is purged a day
-- after its code expired.
CREATE TABLE medical_codes_issued (
    jti TEXT PRIMARY KEY,
    binding_id TEXT NOT NULL,
    digest BLOB NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX medical_codes_issued_by_expiry ON medical_codes_issued (expires_at);
