-- The trail keeps one index besides its ids, on (organisation, id). Every check's entry paid
-- for the index on (username, id) and the one on (country, id) as well, and checks are most of
-- the trail: together the two cost about two points of check throughput (docs/BENCHMARKS.md).
-- A country's entries are read through its organisations' parts of the remaining index, a
-- user's through their organisation's part (the store merges the parts).
DROP INDEX audit_by_user;
DROP INDEX audit_by_country;
