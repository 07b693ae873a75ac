-- PostgreSQL mirror of migrations/sqlite/0002_observables.sql (see 0001_init.sql).
-- The observables each object version mentions (kind and normalised value), so that "which
-- objects mention X" is an index lookup.
CREATE TABLE observables (
    object_seq BIGINT NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    kind       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX observables_value ON observables(kind, value);
CREATE INDEX observables_object ON observables(object_seq);
