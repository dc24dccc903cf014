-- Reconciliation of medical payments (SPEC SS3, issue 16): a use still
-- `settling` after the terminal's window to finish it is settled from the
-- bureau's record or voided, and a voided one is asked about once more a
-- day later. The job reads only those, oldest first.
CREATE INDEX medical_code_uses_undecided ON medical_code_uses (used_at, jti) WHERE status IN ('settling', 'voided');
