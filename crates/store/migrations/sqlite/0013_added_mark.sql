-- The newest date_added ever given, kept when the objects that had it are deleted: the next
-- object is always added after it, so no client's added_after cursor (which may hold that
-- value) passes over an object added later, even if the clock went back meanwhile.
CREATE TABLE added_mark (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL       -- µs since the epoch
) STRICT;
INSERT INTO added_mark (id, last)
SELECT 1, max(date_added) FROM objects HAVING max(date_added) IS NOT NULL;
