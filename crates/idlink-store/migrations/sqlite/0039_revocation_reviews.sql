-- The review of a minor's or a foreign document's request to revoke their
-- real name or cancel their account (SPEC RV3, issue 17): a review case of
-- kind `revocation`, its reference `{user id}:{operation}`. At most one is
-- open (or waiting for the user) per user and operation, whatever the nodes.
CREATE UNIQUE INDEX review_cases_one_open_revocation ON review_cases (reference)
    WHERE kind = 'revocation' AND status IN ('open', 'waiting_user');
