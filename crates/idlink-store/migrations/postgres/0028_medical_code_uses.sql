-- Medical-payment codes spent at terminals (SPEC SS3, issue 16): one row
-- per code (its one-time `jti`), written before the bureau settles, so a
-- code is used once even when two terminals present it at the same time; a
-- settlement interrupted after the row was written is finished by the same
-- terminal presenting the same code again (the bureau settles idempotently
-- by the `jti`).
CREATE TABLE medical_code_uses (
    jti                 TEXT PRIMARY KEY,
    binding_id          TEXT NOT NULL REFERENCES ss_bindings (id),
    user_id             TEXT NOT NULL REFERENCES users (id),
    terminal_id         TEXT NOT NULL,
    actor               TEXT NOT NULL,
    amount_fen          BIGINT NOT NULL,
    status              TEXT NOT NULL,
    settlement_id       TEXT,
    medical_account_fen BIGINT,
    pooled_fund_fen     BIGINT,
    used_at             BIGINT NOT NULL,
    settled_at          BIGINT
);
CREATE INDEX medical_code_uses_by_binding ON medical_code_uses (binding_id, used_at);
