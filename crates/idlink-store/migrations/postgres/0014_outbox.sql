-- The transactional outbox and the periodic jobs' leases (SPEC P3, TP3;
-- issue 11 item 7; ADR 0009).
--
-- An outbox row is written in the transaction of the change that causes it
-- and delivered at least once by whichever node claims it: `due_at` is the
-- next attempt or, while claimed, when the claim lapses; `claim_token`
-- fences a worker whose claim lapsed. The payload is sealed under the
-- vault's outbox key; no personal data is stored in clear (the phone is read
-- at delivery). `subject` is the user the event concerns, without a
-- foreign key: an event about a removed user dead-letters instead.
CREATE TABLE outbox (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT,
    payload     BYTEA NOT NULL,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    last_error  TEXT,
    claim_token TEXT,
    claimed_by  TEXT,
    finished_at BIGINT
);
CREATE INDEX outbox_pending_by_due ON outbox (due_at) WHERE state = 'pending';
CREATE INDEX outbox_by_state ON outbox (state, created_at);

-- One row per periodic job: the node holding it runs the job once per
-- period; another takes over only once `lease_until` has passed.
CREATE TABLE job_leases (
    job          TEXT PRIMARY KEY,
    holder       TEXT NOT NULL,
    lease_until  BIGINT NOT NULL,
    last_run_at  BIGINT NOT NULL,
    runs         BIGINT NOT NULL,
    done         BIGINT NOT NULL,
    last_done_at BIGINT,
    last_error   TEXT
);
