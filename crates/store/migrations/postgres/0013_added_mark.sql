-- PostgreSQL mirror of migrations/sqlite/0013_added_mark.sql (see 0001_init.sql).
-- The newest date_added ever given, kept when the objects that had it are deleted: the next
-- object is always added after it, so no client's added_after cursor (which may hold that
-- value) passes over an object added later, even if a node's clock is behind.
CREATE TABLE added_mark (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL        -- µs since the epoch
);
INSERT INTO added_mark (id, last)
SELECT 1, max(date_added) FROM objects HAVING max(date_added) IS NOT NULL;
