-- Binding a social-security card on behalf of a relative (SPEC SS5, issue
-- 16): the binding is the holder's (`user_id`); the relative who acts for
-- them, their role, and when the holder ended it.
ALTER TABLE ss_bindings ADD COLUMN agent_user_id TEXT REFERENCES users (id);
ALTER TABLE ss_bindings ADD COLUMN agent_role TEXT;
ALTER TABLE ss_bindings ADD COLUMN agent_ended_at BIGINT;
CREATE INDEX ss_bindings_by_agent ON ss_bindings (agent_user_id);
