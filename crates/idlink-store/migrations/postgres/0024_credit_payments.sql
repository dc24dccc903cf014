-- Credit reports, second part (SPEC CR1-CR2, issue 15): the verification
-- under way (a bank card's binding and the bank's code reference) and the
-- payment of a paid request through the host app's payment connector, with
-- its refund when the bureau fails or rejects it. A payment is recorded
-- once (by the provider's id) whatever the request's state, so a payment
-- that arrives after the request ended is refunded, never lost.
ALTER TABLE credit_requests ADD COLUMN verify_binding TEXT;
ALTER TABLE credit_requests ADD COLUMN verify_ref TEXT;
ALTER TABLE credit_requests ADD COLUMN payment_id TEXT;
ALTER TABLE credit_requests ADD COLUMN paid_at BIGINT;
ALTER TABLE credit_requests ADD COLUMN refund_id TEXT;
ALTER TABLE credit_requests ADD COLUMN refunded_at BIGINT;
CREATE UNIQUE INDEX credit_requests_by_payment ON credit_requests (payment_id);
