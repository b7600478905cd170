-- A user who leaves is disabled, not deleted: their name stays in the history and the trail,
-- and every session and token of theirs is refused.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
