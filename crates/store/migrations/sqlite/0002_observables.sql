-- The observables each object version mentions (kind and normalised value), so that "which
-- objects mention X" is an index lookup. Networks are stored as their normalised CIDR; a
-- search for an address asks for the address and each prefix that contains it.
CREATE TABLE observables (
    object_seq INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL
);
CREATE INDEX observables_value ON observables(kind, value);
CREATE INDEX observables_object ON observables(object_seq);
