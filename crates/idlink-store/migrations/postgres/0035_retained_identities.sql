-- A revoked real-name identity (SPEC RV3, issue 17): moved out of
-- `identities` (out of business use; the ID number can be verified again)
-- with its ciphertexts as they were, kept until `retain_until` as the law
-- requires, then shredded with the rest.
CREATE TABLE retained_identities (
    revocation_id TEXT PRIMARY KEY REFERENCES revocations (id),
    user_id       TEXT NOT NULL REFERENCES users (id),
    name_cipher   BYTEA NOT NULL,
    id_cipher     BYTEA NOT NULL,
    birth_cipher  BYTEA,
    id_index      TEXT NOT NULL,
    document_type TEXT NOT NULL,
    method        TEXT NOT NULL,
    verified_at   BIGINT NOT NULL,
    revoked_at    BIGINT NOT NULL,
    retain_until  BIGINT NOT NULL
);
CREATE INDEX retained_identities_by_id_number ON retained_identities (id_index);
CREATE INDEX retained_identities_by_user ON retained_identities (user_id);
