-- Social-security card bindings (SPEC SS2, SS4; issue 16): the six-step
-- workflow, one row per binding, written whole under a version counter. The
-- card the bureau disclosed is sealed under the holder's data key; its blind
-- index finds the same card on another account (a theft-binding risk) and
-- lets a card be bound on one binding at a time.
CREATE TABLE ss_bindings (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id),
    region            TEXT NOT NULL,
    step              TEXT NOT NULL,
    status            TEXT NOT NULL,
    step_deadline     BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    identity_method   TEXT,
    face_failures     BIGINT NOT NULL,
    card_code_ref     TEXT,
    card_cipher       BYTEA,
    card_index        TEXT,
    bank_code_ref     TEXT,
    agreement_version TEXT,
    agreement_sha256  TEXT,
    features          TEXT,
    risk_reason       TEXT,
    channel           TEXT,
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    bound_at          BIGINT
);
CREATE INDEX ss_bindings_by_user ON ss_bindings (user_id, created_at);
-- One binding under way per person.
CREATE UNIQUE INDEX ss_bindings_one_under_way ON ss_bindings (user_id) WHERE status IN ('open', 'frozen');
-- A card bound once.
CREATE UNIQUE INDEX ss_bindings_card_bound ON ss_bindings (card_index) WHERE status = 'bound';
CREATE INDEX ss_bindings_by_card ON ss_bindings (card_index);
