-- What a record's make, model and calibre resolved to in the reference table when it was last
-- written (identifiers; NULL when ambiguous, unknown or not given).
ALTER TABLE firearms ADD COLUMN make_ref TEXT;
ALTER TABLE firearms ADD COLUMN model_ref TEXT;
ALTER TABLE firearms ADD COLUMN calibre_ref TEXT;

-- Entries the secretariat added to or corrected in the shipped reference table. Each change is
-- a new version of one entry (kind + key); the newest version of an entry is the one in force.
CREATE TABLE reference_changes (
    seq           INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    entry         TEXT NOT NULL,
    at            TEXT NOT NULL,
    username      TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    UNIQUE (kind, key, version)
);
