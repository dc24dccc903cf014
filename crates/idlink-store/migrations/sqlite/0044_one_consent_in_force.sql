-- At most one consent in force per user, kind and version: two "I agree"
-- taps racing each other record one consent, not two (issue 18). A pair
-- an earlier race left keeps its first record (the audit trail keeps both
-- gives).
DELETE FROM sensitive_consents
WHERE withdrawn_at IS NULL
  AND EXISTS (
    SELECT 1 FROM sensitive_consents o
    WHERE o.user_id = sensitive_consents.user_id AND o.kind = sensitive_consents.kind
      AND o.version = sensitive_consents.version AND o.withdrawn_at IS NULL
      AND (o.given_at < sensitive_consents.given_at OR (o.given_at = sensitive_consents.given_at AND o.id < sensitive_consents.id))
  );
CREATE UNIQUE INDEX sensitive_consents_one_in_force ON sensitive_consents (user_id, kind, version) WHERE withdrawn_at IS NULL;
