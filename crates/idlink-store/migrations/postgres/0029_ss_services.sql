-- Social-security service requests and unemployment-benefit notices (SPEC
-- SS3, issue 16). A service request follows the bureau's status forward
-- only (`idlink_domain::ss_service`); each benefit payment is announced once
-- per binding: the notice row and its SMS are written in one transaction.
CREATE TABLE ss_service_requests (
    id         TEXT PRIMARY KEY,
    binding_id TEXT NOT NULL REFERENCES ss_bindings (id),
    user_id    TEXT NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    to_region  TEXT,
    bureau_id  TEXT NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ss_service_requests_by_binding ON ss_service_requests (binding_id, created_at);

CREATE TABLE ss_benefit_notices (
    binding_id TEXT NOT NULL REFERENCES ss_bindings (id),
    payment_id TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    noticed_at BIGINT NOT NULL,
    PRIMARY KEY (binding_id, payment_id)
);
