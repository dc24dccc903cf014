-- Bank card bindings (SPEC BK1): the card encrypted under the user's data key,
-- found by blind index; one active binding per user and card.
CREATE TABLE card_bindings (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    bank           TEXT NOT NULL,
    card_cipher    BYTEA NOT NULL,
    card_index     TEXT NOT NULL,
    last4          TEXT NOT NULL,
    status         TEXT NOT NULL,
    bank_reference TEXT,
    luhn_warning   BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    bound_at       BIGINT,
    ended_at       BIGINT
);
CREATE INDEX card_bindings_by_user ON card_bindings (user_id, created_at);
CREATE INDEX card_bindings_by_card ON card_bindings (card_index, status);
