-- Reconciliation of medical payments (SPEC SS3, issue 16): a use still
-- `settling` after the terminal's window to finish it is settled or voided
-- with the bureau. The job reads only those, oldest first, page by page.
CREATE INDEX medical_code_uses_settling ON medical_code_uses (used_at, jti) WHERE status = 'settling';
