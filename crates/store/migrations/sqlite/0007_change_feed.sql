-- The change feed: every record created or changed, in commit order (one writer, so the
-- sequence is the commit order), for a running service to bring its check index up to date
-- with what other processes (an import from the command line) wrote.
CREATE TABLE firearm_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    firearm_id  INTEGER NOT NULL
);

CREATE TRIGGER firearms_feed_insert AFTER INSERT ON firearms
BEGIN
    INSERT INTO firearm_changes (firearm_id) VALUES (NEW.id);
END;

-- Only changes the index cares about: the serial, the make and its resolution, deletion.
CREATE TRIGGER firearms_feed_update AFTER UPDATE OF serial_number, make, make_ref, deleted_at
    ON firearms
BEGIN
    INSERT INTO firearm_changes (firearm_id) VALUES (NEW.id);
END;
