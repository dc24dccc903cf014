-- Balance queries (SPEC BK3, BK4, BK6): the feature switch, electronic
-- agreements, and the history of every query.
CREATE TABLE user_features (
    user_id    TEXT NOT NULL REFERENCES users (id),
    feature    TEXT NOT NULL,
    enabled    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, feature)
);

CREATE TABLE agreements (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    binding_id       TEXT NOT NULL,
    document_version TEXT NOT NULL,
    document_hash    TEXT NOT NULL,
    signed_at        BIGINT NOT NULL,
    valid_until      BIGINT NOT NULL,
    revoked_at       BIGINT
);
CREATE INDEX agreements_by_binding ON agreements (binding_id, valid_until);

CREATE TABLE balance_queries (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    binding_id TEXT NOT NULL,
    bank       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    precision_kind TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX balance_queries_by_user ON balance_queries (user_id, at);
