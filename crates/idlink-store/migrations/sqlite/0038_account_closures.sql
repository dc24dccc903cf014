-- Account cancellation (SPEC CP, issue 17): due within 15 working days
-- (Asia/Shanghai, public holidays as data) from the request, and closed
-- when the user's data key is destroyed. `due_provisional` is 1 when the
-- count crossed a year whose holiday notice idlink does not hold yet.
ALTER TABLE revocations ADD COLUMN due_at BIGINT;
ALTER TABLE revocations ADD COLUMN due_provisional BIGINT NOT NULL DEFAULT 0;
ALTER TABLE revocations ADD COLUMN closed_at BIGINT;
CREATE INDEX revocations_closing ON revocations (due_at) WHERE operation = 'cancel_account' AND closed_at IS NULL;

-- The key a retained identity is sealed under: NULL is the user's own data
-- key; a closed account's retained records are sealed again under a
-- retention key of their own (`ret-{saga id}`), destroyed at `retain_until`.
ALTER TABLE retained_identities ADD COLUMN key_id TEXT;
CREATE INDEX retained_identities_by_end ON retained_identities (retain_until);
