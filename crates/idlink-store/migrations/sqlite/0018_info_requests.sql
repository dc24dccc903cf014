-- Requests for more information from the user on a review case (SPEC OP1,
-- issue 13; ADR 0019). While a request is unanswered the case's status is
-- 'waiting_user' (out of the queue, its SLA not running); the user's answer
-- (sealed) fills the request and puts the case back in the queue with a new SLA;
-- an answer that changes the evidence voids the steps already taken.

CREATE TABLE review_requests (
    case_id      TEXT NOT NULL REFERENCES review_cases (id),
    seq          BIGINT NOT NULL,
    operator_id  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    -- The operator's words to the user, sealed under the user's data key
    -- (context 'review_requests.note:{case_id}:{seq}'): they are about the
    -- user's documents, and shredding the key erases them.
    note         BLOB NOT NULL,
    requested_at BIGINT NOT NULL,
    -- The user's words, sealed under their data key (context
    -- 'review_requests.answer:{case_id}:{seq}'): shredding the key erases them.
    answer       BLOB,
    answered_at  BIGINT,
    -- What the answer sent again besides words: 'document' (a new document
    -- number) or 'evidence' (new guardian evidence); NULL for words only.
    resent       TEXT,
    PRIMARY KEY (case_id, seq)
);

-- Decisions voided by an answer that changed the evidence: moved here from
-- review_decisions in the answer's transaction, so the case needs all its
-- steps again (the same reviewers may decide again) and the history keeps them.
CREATE TABLE review_voided_decisions (
    case_id     TEXT NOT NULL REFERENCES review_cases (id),
    step        BIGINT NOT NULL,
    operator_id TEXT NOT NULL,
    approve     BIGINT NOT NULL,
    note        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    voided_at   BIGINT NOT NULL,
    PRIMARY KEY (case_id, voided_at, step)
);

CREATE INDEX review_cases_by_reference ON review_cases (kind, reference);
