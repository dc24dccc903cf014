-- Non-unique secondary indexes a bulk load dropped (`idlink bench seed` on
-- SQLite, issue 19), with the statement that makes each again. The load
-- rebuilds them when it ends; a load that was interrupted has them rebuilt
-- when the database is next migrated (a server starting, `idlink migrate`).
CREATE TABLE suspended_indexes (
    name TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    definition TEXT NOT NULL
);
