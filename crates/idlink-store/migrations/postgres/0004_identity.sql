-- Real-name identity (SPEC ID2, ID5).

CREATE TABLE verifications (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    method      TEXT NOT NULL,
    status      TEXT NOT NULL,
    name_cipher BYTEA NOT NULL,
    id_cipher   BYTEA NOT NULL,
    id_index    TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX verifications_by_user ON verifications (user_id, created_at);

-- One verified identity per user; one user per ID number.
CREATE TABLE identities (
    user_id     TEXT PRIMARY KEY REFERENCES users (id),
    name_cipher BYTEA NOT NULL,
    id_cipher   BYTEA NOT NULL,
    id_index    TEXT NOT NULL,
    method      TEXT NOT NULL,
    verified_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX identities_by_id_number ON identities (id_index);

-- Real-name changes and cooling-off periods, per ID number (blind index).
CREATE TABLE identity_changes (
    id_index TEXT NOT NULL,
    kind     TEXT NOT NULL,
    at       BIGINT NOT NULL,
    until    BIGINT
);
CREATE INDEX identity_changes_by_id ON identity_changes (id_index, at);
