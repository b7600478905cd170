-- Hits: a check's match at a confidence the hit policy names, written in the check's own
-- transaction with a notification for each organisation that must learn of it.
CREATE TABLE hits (
    id                 INTEGER PRIMARY KEY,
    check_id           TEXT NOT NULL,
    firearm_id         INTEGER NOT NULL REFERENCES firearms(id),
    recording_country  TEXT NOT NULL,
    confidence         TEXT NOT NULL,
    score              REAL NOT NULL,
    match_kind         TEXT NOT NULL,
    make_relation      TEXT NOT NULL,
    differences        TEXT NOT NULL,
    serial_typed       TEXT NOT NULL,
    make_typed         TEXT,
    operation          TEXT,
    user_id            INTEGER,
    username           TEXT NOT NULL,
    org_id             INTEGER NOT NULL,
    organisation       TEXT NOT NULL,
    on_behalf_of       TEXT,
    state              TEXT NOT NULL,
    outcome            TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX hits_by_firearm ON hits (firearm_id);
CREATE INDEX hits_by_check ON hits (check_id);

-- Who is party to a hit: the organisations told of it, and why.
CREATE TABLE hit_parties (
    hit_id  INTEGER NOT NULL REFERENCES hits(id),
    org_id  INTEGER NOT NULL REFERENCES organisations(id),
    roles   TEXT NOT NULL,
    PRIMARY KEY (hit_id, org_id)
);
CREATE INDEX hit_parties_by_org ON hit_parties (org_id, hit_id);

-- What happened to a hit after it was made: confirmation, rejection, messages, closing.
CREATE TABLE hit_events (
    id            INTEGER PRIMARY KEY,
    hit_id        INTEGER NOT NULL REFERENCES hits(id),
    at            TEXT NOT NULL,
    user_id       INTEGER,
    username      TEXT NOT NULL,
    org_id        INTEGER NOT NULL,
    organisation  TEXT NOT NULL,
    event         TEXT NOT NULL,
    text          TEXT
);
CREATE INDEX hit_events_by_hit ON hit_events (hit_id, id);

-- Each organisation's inbox. The id orders the live stream (Server-Sent Events ids).
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    hit_id      INTEGER NOT NULL REFERENCES hits(id),
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    read_at     TEXT
);
CREATE INDEX notifications_by_org ON notifications (org_id, id);

-- Where an organisation's national system wants its notifications.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organisations(id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE INDEX webhooks_by_org ON webhooks (org_id);

ALTER TABLE organisations ADD COLUMN duty_email TEXT;

-- Deliveries waiting or done: one row per notification and webhook (or duty e-mail), written
-- with the notification, so a delivery survives a crash between the hit and the sending.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    notification_id  INTEGER NOT NULL REFERENCES notifications(id),
    channel          TEXT NOT NULL,
    webhook_id       INTEGER REFERENCES webhooks(id),
    address          TEXT,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    claimed_until    TEXT,
    last_error       TEXT,
    delivered_at     TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_webhook ON outbox (webhook_id, id);

-- Every attempt, for the organisation's admin.
CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES outbox(id),
    at          TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    millis      INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_by_outbox ON delivery_attempts (outbox_id, id);
