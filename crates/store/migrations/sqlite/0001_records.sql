-- Organisations, users and API tokens: who may act.
CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    country     TEXT,
    state       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organisations(id),
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT,
    permissions    TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    token_hash   TEXT NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);

-- Facts about this installation (e.g. whether it holds the demo world).
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Firearm records; a deleted record keeps its row and history. Who created a record, and how,
-- is kept on the record itself (the first entry of its history); later changes go to
-- firearm_history.
CREATE TABLE firearms (
    id                      INTEGER PRIMARY KEY,
    recording_country       TEXT NOT NULL,
    record_id               TEXT NOT NULL,
    serial_number           TEXT NOT NULL,
    make                    TEXT NOT NULL,
    model                   TEXT,
    calibre                 TEXT,
    firearm_type            TEXT NOT NULL,
    country_of_manufacture  TEXT,
    status                  TEXT NOT NULL,
    event_date              TEXT NOT NULL,
    year_of_manufacture     INTEGER,
    import_marks            TEXT,
    additional_serials      TEXT NOT NULL DEFAULT '[]',
    serial_obliterated      INTEGER NOT NULL DEFAULT 0,
    case_reference          TEXT,
    notes                   TEXT,
    created_at              TEXT NOT NULL,
    created_by              INTEGER NOT NULL REFERENCES users(id),
    created_channel         TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    deleted_at              TEXT,
    version                 INTEGER NOT NULL DEFAULT 1,
    UNIQUE (recording_country, record_id)
);

CREATE INDEX firearms_by_status ON firearms (status, id);
CREATE INDEX firearms_by_make ON firearms (make COLLATE NOCASE, id);

CREATE TABLE firearm_history (
    id            INTEGER PRIMARY KEY,
    firearm_id    INTEGER NOT NULL REFERENCES firearms(id),
    at            TEXT NOT NULL,
    user_id       INTEGER NOT NULL,
    username      TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    changes       TEXT NOT NULL,
    version       INTEGER NOT NULL
);

CREATE INDEX firearm_history_by_firearm ON firearm_history (firearm_id, id);
