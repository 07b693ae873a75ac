-- Which objects refer to which: every identifier an object names in a top-level `*_ref` or
-- `*_refs` property (a relationship's ends, a sighting's `sighting_of_ref`, a report's
-- `object_refs`, ...), so that an object's page can list what refers to it by an index.
-- `created_by_ref` and `object_marking_refs` are left out: nearly every object names one of a
-- few identities and markings, and those lists would be the whole collection.
CREATE TABLE object_refs (
    ref_id     TEXT NOT NULL,
    object_seq INTEGER NOT NULL,
    PRIMARY KEY (ref_id, object_seq)
) WITHOUT ROWID;
CREATE INDEX object_refs_object ON object_refs(object_seq);

-- A deleted version takes its references with it (`seq` values can be reused).
CREATE TRIGGER objects_forget_refs AFTER DELETE ON objects
BEGIN DELETE FROM object_refs WHERE object_seq = OLD.seq; END;

INSERT OR IGNORE INTO object_refs (ref_id, object_seq)
SELECT e.value, o.seq
  FROM objects o, json_each(o.body) e
 WHERE e.type = 'text' AND e.key LIKE '%\_ref' ESCAPE '\' AND e.key <> 'created_by_ref';

INSERT OR IGNORE INTO object_refs (ref_id, object_seq)
SELECT r.value, o.seq
  FROM objects o, json_each(o.body) e, json_each(e.value) r
 WHERE e.type = 'array' AND e.key LIKE '%\_refs' ESCAPE '\' AND e.key <> 'object_marking_refs'
   AND r.type = 'text';
