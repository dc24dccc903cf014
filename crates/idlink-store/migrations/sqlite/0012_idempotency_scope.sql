-- Idempotency records (SPEC P4, P6; issue 10): answers are kept sealed under
-- the vault (or not at all when they minted a secret), records expire, a
-- claim carries a fencing token and says whether its effect committed.
-- Earlier records held answers in clear (session and step-up tokens,
-- balances): they are dropped, not migrated.
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN effect_at BIGINT;
ALTER TABLE idempotency_keys ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);

-- Refused balance queries are listed in the user's history with their reason (issue 10).
ALTER TABLE balance_queries ADD COLUMN reason TEXT;
