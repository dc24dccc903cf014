-- Bank exceptions and user settings per card (SPEC BK3, BK5, BK6): why a
-- binding ended, a suspension the bank ordered, the low-balance alert
-- threshold, agreement renewals, each query's outcome, and the bank events
-- received (deduplicated by the bank's event id).
ALTER TABLE card_bindings ADD COLUMN end_reason TEXT;
ALTER TABLE card_bindings ADD COLUMN suspended_reason TEXT;
ALTER TABLE card_bindings ADD COLUMN low_balance_alert_fen BIGINT;
ALTER TABLE agreements ADD COLUMN renews TEXT;
ALTER TABLE balance_queries ADD COLUMN outcome TEXT NOT NULL DEFAULT 'disclosed';

CREATE TABLE bank_events (
    bank        TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    card_index  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    bindings    BIGINT NOT NULL,
    PRIMARY KEY (bank, event_id)
);
