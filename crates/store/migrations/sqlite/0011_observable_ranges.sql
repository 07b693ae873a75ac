-- Addresses and networks as ranges of big-endian bytes (4 for IPv4, 16 for IPv6), so that a
-- search for a network finds the addresses and smaller networks inside it by an index range
-- on `lo`. Filled from the observables already stored by the step's Rust finish.
CREATE TABLE observable_ranges (
    object_seq INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    lo         BLOB NOT NULL,
    hi         BLOB NOT NULL
);
CREATE INDEX observable_ranges_lo ON observable_ranges(kind, lo);
CREATE INDEX observable_ranges_object ON observable_ranges(object_seq);

CREATE TRIGGER objects_forget_ranges AFTER DELETE ON objects
BEGIN DELETE FROM observable_ranges WHERE object_seq = OLD.seq; END;
