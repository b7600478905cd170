-- The nodes following the change feed, each with the position it has read up to, renewed while
-- it runs (milliseconds since 1970, the database's clock). No node forgets positions a node
-- that renewed its mark lately has not read; a mark left by a node that stopped lapses.
CREATE TABLE feed_readers (
    node      TEXT PRIMARY KEY,
    position  BIGINT NOT NULL,
    seen_ms   BIGINT NOT NULL
);
