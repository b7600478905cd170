-- Trace requests, their timeline and attachments; notifications learn to be about a trace as
-- well as a hit. The notifications table is rebuilt (SQLite cannot relax a NOT NULL in place);
-- migrations run with foreign keys off, so the outbox's references survive the rebuild, and
-- are checked once all migrations ran (see `migrate` in sqlite.rs).

-- A request to one country. A forwarded request starts a linked one (parent_id) in the same
-- chain (chain_id: the first request's id), so everyone on the chain sees all of it.
CREATE TABLE traces (
    id                 INTEGER PRIMARY KEY,
    chain_id           INTEGER NOT NULL,
    parent_id          INTEGER REFERENCES traces(id),
    requester_org_id   INTEGER NOT NULL REFERENCES organisations(id),
    requester_country  TEXT NOT NULL,
    to_country         TEXT,
    status             TEXT NOT NULL,
    priority           TEXT NOT NULL,
    content            TEXT NOT NULL,
    answer             TEXT,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    sent_at            TEXT,
    acknowledge_by     TEXT,
    answer_by          TEXT,
    reminded           TEXT,
    reminded_at        TEXT,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX traces_by_chain ON traces (chain_id);
CREATE INDEX traces_by_requester ON traces (requester_org_id, id);
CREATE INDEX traces_by_recipient ON traces (to_country, id);
CREATE INDEX traces_open ON traces (status, answer_by);

-- What happened to a request, oldest first: every transition, message and attachment.
CREATE TABLE trace_events (
    id            INTEGER PRIMARY KEY,
    trace_id      INTEGER NOT NULL REFERENCES traces(id),
    at            TEXT NOT NULL,
    user_id       INTEGER,
    username      TEXT NOT NULL,
    org_id        INTEGER,
    organisation  TEXT NOT NULL,
    event         TEXT NOT NULL,
    status        TEXT NOT NULL,
    text          TEXT,
    data          TEXT
);
CREATE INDEX trace_events_by_trace ON trace_events (trace_id, id);

-- Photographs of the markings and documents, checked by content before they are stored.
CREATE TABLE trace_attachments (
    id            INTEGER PRIMARY KEY,
    trace_id      INTEGER NOT NULL REFERENCES traces(id),
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    data          BLOB NOT NULL,
    username      TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX trace_attachments_by_trace ON trace_attachments (trace_id, id);

CREATE TABLE notifications_new (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    hit_id      INTEGER REFERENCES hits(id),
    trace_id    INTEGER REFERENCES traces(id),
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    read_at     TEXT,
    CHECK ((hit_id IS NULL) <> (trace_id IS NULL))
);
INSERT INTO notifications_new (id, org_id, hit_id, event, payload, created_at, read_at)
    SELECT id, org_id, hit_id, event, payload, created_at, read_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_by_org ON notifications (org_id, id);
