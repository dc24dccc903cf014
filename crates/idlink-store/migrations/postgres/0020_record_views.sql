-- The user 360° (issue 13 point 4, ADR 0017): each time an operator opens
-- a user's record, the purpose code and the operator's own reference,
-- written in the transaction of the `operator.view_user` audit record. The
-- reference is for auditors; the user is told the purpose only.
CREATE TABLE record_views (
    operator_id TEXT NOT NULL REFERENCES operators (id),
    user_id     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    reference   TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX record_views_by_user ON record_views (user_id, at);

-- The record lists a user's review cases.
CREATE INDEX review_cases_by_subject ON review_cases (subject, created_at);
