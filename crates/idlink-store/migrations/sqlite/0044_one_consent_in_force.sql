-- At most one consent in force per user, kind and version: two "I agree"
-- taps racing each other record one consent, not two (issue 18).
CREATE UNIQUE INDEX sensitive_consents_one_in_force ON sensitive_consents (user_id, kind, version) WHERE withdrawn_at IS NULL;
