-- Social-security bindings after review 14 (issue 16): the theft-binding
-- risk an operator cleared (so the same check does not freeze the binding
-- again), and one binding per person that is under way, frozen or bound.
ALTER TABLE ss_bindings ADD COLUMN risk_cleared TEXT;
DROP INDEX ss_bindings_one_under_way;
CREATE UNIQUE INDEX ss_bindings_one_per_user ON ss_bindings (user_id) WHERE status IN ('open', 'frozen', 'bound');
