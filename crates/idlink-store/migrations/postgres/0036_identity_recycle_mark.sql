-- The pending-recycle mark of a real-name revocation (SPEC RV2, issue 17):
-- the saga that set it. A new verification of the user clears it (the
-- identity changed: the saga then rolls back instead of committing), and
-- the commit retires only the identity that still carries its saga's mark.
ALTER TABLE identities ADD COLUMN recycle_saga TEXT;
