-- Guardians of minors (SPEC ID4).

CREATE TABLE guardianships (
    id            TEXT PRIMARY KEY,
    minor_user    TEXT NOT NULL REFERENCES users (id),
    guardian_user TEXT NOT NULL REFERENCES users (id),
    relationship  TEXT NOT NULL,
    evidence_ref  TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX guardianships_by_minor ON guardianships (minor_user);
CREATE INDEX guardianships_by_guardian ON guardianships (guardian_user);
