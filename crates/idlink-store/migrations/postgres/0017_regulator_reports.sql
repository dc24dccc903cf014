-- Quarterly regulator reports as filed (SPEC OP3, ADR 0016): the first
-- report of a closed quarter is kept and served ever after, so each file
-- fetched belongs to the same signed manifest.
CREATE TABLE regulator_reports (
    period       TEXT NOT NULL,
    name         TEXT NOT NULL,
    content      BYTEA NOT NULL,
    generated_at BIGINT NOT NULL,
    PRIMARY KEY (period, name)
);

-- The report reads the query log of a period in (at, id) order.
CREATE INDEX balance_queries_by_at ON balance_queries (at, id);
