-- PostgreSQL mirror of migrations/sqlite/0009_object_refs.sql (see 0001_init.sql).
-- Which objects refer to which: every identifier an object names in a top-level `*_ref` or
-- `*_refs` property, so that an object's page can list what refers to it by an index.
-- `created_by_ref` and `object_marking_refs` are left out.
CREATE TABLE object_refs (
    ref_id     TEXT COLLATE "C" NOT NULL,
    object_seq BIGINT NOT NULL,
    PRIMARY KEY (ref_id, object_seq)
);
CREATE INDEX object_refs_object ON object_refs(object_seq);

-- A deleted version takes its references with it: once per statement, over the deleted rows.
CREATE FUNCTION objects_forget_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM object_refs WHERE object_seq IN (SELECT seq FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER objects_forget_refs AFTER DELETE ON objects
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION objects_forget_refs();
