-- Idempotency records (SPEC P4, P6; issue 10): answers are kept sealed under
-- the vault (or not at all when they minted a secret), records expire, a
-- claim carries a fencing token and says whether its effect committed.
-- Earlier records held answers in clear (session and step-up tokens,
-- balances): they are dropped, not migrated.
-- Tokens those answers held were readable by anyone with the table: the
-- sessions they open are revoked and the step-up tokens spent, before the
-- answers are dropped. (Old row versions may linger in free pages: run
-- VACUUM after upgrading.)
UPDATE sessions SET revoked_at = CAST(extract(epoch FROM now()) * 1000000 AS BIGINT)
WHERE revoked_at IS NULL AND EXISTS (
    SELECT 1 FROM idempotency_keys k
    WHERE k.body IS NOT NULL AND position('"session_token":"' || sessions.id || '.' IN convert_from(k.body, 'UTF8')) > 0
);
UPDATE step_up_tokens SET used_at = CAST(extract(epoch FROM now()) * 1000000 AS BIGINT)
WHERE used_at IS NULL AND EXISTS (
    SELECT 1 FROM idempotency_keys k
    WHERE k.body IS NOT NULL AND position('"step_up_token":"' || step_up_tokens.id || '.' IN convert_from(k.body, 'UTF8')) > 0
);
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN effect_at BIGINT;
ALTER TABLE idempotency_keys ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);

-- Refused balance queries are listed in the user's history with their reason (issue 10).
ALTER TABLE balance_queries ADD COLUMN reason TEXT;
