-- The periodic purges (issue 14: `oauth_purge`, delivery receipts) read only
-- what has expired: without these each run scanned its whole table, and the
-- receipt purge scanned the poll queue once per receipt.
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);
CREATE INDEX oauth_authz_requests_by_expiry ON oauth_authz_requests (expires_at);
CREATE INDEX oauth_refresh_families_by_expiry ON oauth_refresh_families (expires_at);
CREATE INDEX oauth_refresh_families_by_revocation ON oauth_refresh_families (revoked_at);
CREATE INDEX event_deliveries_by_age ON event_deliveries (created_at);
CREATE INDEX ssf_poll_queue_by_jti ON ssf_poll_queue (jti);
