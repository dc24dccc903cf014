-- API key rotation (issue 18 point 3, SPEC P5): a key can expire (the old key
-- of a rotation at the end of the overlap, or any key given an expiry), the
-- new key names the key it replaces (one successor per key, so two rotations
-- racing cannot both win), and the last use is kept to the minute.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE api_keys ADD COLUMN replaces TEXT;
CREATE UNIQUE INDEX api_keys_one_successor ON api_keys (replaces) WHERE replaces IS NOT NULL;
