-- Reconciliation of medical payments (SPEC SS3, issue 16): a use still
-- `settling` after the terminal's window to finish it is settled from the
-- bureau's record or voided. The job reads only those, oldest first.
CREATE INDEX medical_code_uses_settling ON medical_code_uses (used_at) WHERE status = 'settling';
