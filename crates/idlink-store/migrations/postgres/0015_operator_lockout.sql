-- Operator console (SPEC P5, OP1): sign-in lockout that ends by itself
-- (failed attempts, locked until), idle timeout of operator sessions (last
-- seen), and who holds a claimed case is read back.

ALTER TABLE operators ADD COLUMN failed_sign_ins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN locked_until BIGINT;
ALTER TABLE operator_sessions ADD COLUMN last_seen_at BIGINT;
