-- PostgreSQL mirror of migrations/sqlite/0011_observable_ranges.sql (see 0001_init.sql).
-- Addresses and networks as ranges of big-endian bytes (4 for IPv4, 16 for IPv6), so that a
-- search for a network finds the addresses and smaller networks inside it by an index range
-- on `lo` (BYTEA compares byte by byte).
CREATE TABLE observable_ranges (
    object_seq BIGINT NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    lo         BYTEA NOT NULL,
    hi         BYTEA NOT NULL
);
CREATE INDEX observable_ranges_lo ON observable_ranges(kind, lo);
CREATE INDEX observable_ranges_object ON observable_ranges(object_seq);

CREATE FUNCTION objects_forget_ranges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM observable_ranges WHERE object_seq IN (SELECT seq FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER objects_forget_ranges AFTER DELETE ON objects
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION objects_forget_ranges();
