-- The client network of each login, for the region-jump risk signal (SPEC ID8).
ALTER TABLE sessions ADD COLUMN client_ip TEXT;
