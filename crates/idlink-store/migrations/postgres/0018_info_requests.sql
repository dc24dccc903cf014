-- Requests for more information from the user on a review case (SPEC OP1,
-- issue 13; ADR 0019). While a request is unanswered the case's status is
-- 'waiting_user' (out of the queue, its SLA not running); the user's answer
-- (sealed) fills the request and puts the case back in the queue with a new SLA.

CREATE TABLE review_requests (
    case_id      TEXT NOT NULL REFERENCES review_cases (id),
    seq          BIGINT NOT NULL,
    operator_id  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    note         TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    -- The user's words, sealed under their data key (context
    -- 'review_requests.answer:{case_id}:{seq}'): shredding the key erases them.
    answer       BYTEA,
    answered_at  BIGINT,
    PRIMARY KEY (case_id, seq)
);

CREATE INDEX review_cases_by_reference ON review_cases (kind, reference);
