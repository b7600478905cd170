-- Sign-in: failed attempts and lockout per user, sessions for people, who created a token.
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;

ALTER TABLE api_tokens ADD COLUMN created_by INTEGER REFERENCES users(id);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    session_hash  TEXT NOT NULL UNIQUE,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    csrf_token    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ended_at      TEXT
);

-- The audit trail: append-only and hash-chained. Each entry's hash covers its own columns and
-- the hash of the entry before it, so `armstrace audit verify` finds any entry that was
-- altered, removed or moved. The triggers stop the service (and careless hands) from changing
-- it; the chain catches whoever gets around them.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    user_id       INTEGER,
    username      TEXT NOT NULL,
    org_id        INTEGER,
    organisation  TEXT NOT NULL,
    country       TEXT,
    on_behalf_of  TEXT,
    action        TEXT NOT NULL,
    target        TEXT,
    detail        TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);

-- Each index costs every commit a page write, and checks commit often: the trail is indexed
-- for the filters an administrator starts from (a user, an organisation, a country); action
-- and time narrow those down.
CREATE INDEX audit_by_user ON audit_log (username, id);
CREATE INDEX audit_by_org ON audit_log (org_id, id);
CREATE INDEX audit_by_country ON audit_log (country, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
