-- Credit-report requests (SPEC CR2-CR3, issue 15). The report and its PDF
-- are sealed under the user's data key (C2): shredding the key leaves them
-- unreadable. A user has at most one request under way (the partial unique
-- index), which makes the free/paid decision taken when a request is
-- inserted exact across nodes.
CREATE TABLE credit_requests (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    year            BIGINT NOT NULL,
    state           TEXT NOT NULL,
    reason          TEXT,
    method          TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    free            BIGINT NOT NULL,
    fee_fen         BIGINT NOT NULL,
    bureau_query_id TEXT,
    case_id         TEXT,
    report_cipher   BYTEA,
    pdf_cipher      BYTEA,
    pages           BIGINT,
    downloads       BIGINT NOT NULL DEFAULT 0,
    expected_at     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    ready_at        BIGINT
);
CREATE UNIQUE INDEX credit_requests_one_open ON credit_requests (user_id)
    WHERE state NOT IN ('ready', 'rejected', 'failed');
CREATE INDEX credit_requests_by_user_year ON credit_requests (user_id, year);
CREATE INDEX credit_requests_by_state ON credit_requests (state, updated_at);
