-- Exports and the exchange of applied block lists: each object version's revocation and
-- expiry; the live, blockable observables (`export_entries`, one row per observable of the
-- current version of an indicator or SCO, kept in (kind, value) order so that an export is one
-- ordered scan); a log of the observables whose export state changed (`export_changes`, read
-- by incremental `since=` exports); the lists members apply; the ISAC's allowlist; members'
-- own networks and domains, which are never exported to them.

ALTER TABLE objects ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN valid_until INTEGER;
UPDATE objects SET
    revoked = coalesce(json_extract(body, '$.revoked'), 0),
    valid_until = CAST(round((julianday(json_extract(body, '$.valid_until')) - 2440587.5) * 86400000000) AS INTEGER)
  WHERE stix_type = 'indicator';

CREATE TABLE export_entries (
    kind          TEXT NOT NULL,
    value         TEXT NOT NULL,
    seq           INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    collection    INTEGER NOT NULL,
    stix_type     TEXT NOT NULL,
    tlp           INTEGER NOT NULL,
    poster_org    INTEGER NOT NULL,
    confidence    INTEGER,
    corroboration INTEGER NOT NULL,
    date_added    INTEGER NOT NULL,
    valid_until   INTEGER,
    revoked       INTEGER NOT NULL,
    PRIMARY KEY (kind, value, seq)
) WITHOUT ROWID;
CREATE INDEX export_entries_object ON export_entries(seq);
CREATE INDEX export_entries_expiry ON export_entries(valid_until) WHERE valid_until IS NOT NULL;

INSERT OR IGNORE INTO export_entries
    (kind, value, seq, collection, stix_type, tlp, poster_org, confidence, corroboration,
     date_added, valid_until, revoked)
SELECT ob.kind, ob.value, o.seq, o.collection, o.stix_type, o.tlp, o.poster_org, o.confidence,
       (SELECT count(*) FROM reports r WHERE r.kind = ob.kind AND r.value = ob.value),
       o.date_added, o.valid_until, o.revoked
  FROM objects o JOIN observables ob ON ob.object_seq = o.seq
 WHERE o.is_last = 1
   AND o.stix_type IN ('indicator', 'ipv4-addr', 'ipv6-addr', 'domain-name', 'url', 'file')
   AND (ob.kind IN ('ipv4', 'ipv6', 'domain', 'url') OR ob.kind LIKE 'hash:%');

CREATE TABLE export_changes (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    at    INTEGER NOT NULL,
    kind  TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX export_changes_at ON export_changes(at);
-- The change log's first entry: exports older than it cannot be brought up to date.
INSERT INTO meta (key, value) VALUES ('export_changes_pruned', 0);

CREATE TABLE applied_lists (
    id         INTEGER PRIMARY KEY,
    org        INTEGER NOT NULL REFERENCES orgs(id),
    collection INTEGER NOT NULL REFERENCES collections(seq),
    tlp        INTEGER NOT NULL,
    uploaded   INTEGER NOT NULL,
    expires    INTEGER NOT NULL,
    entries    INTEGER NOT NULL,
    UNIQUE (org, collection)
);
CREATE INDEX applied_lists_expires ON applied_lists(expires);

CREATE TABLE applied_entries (
    kind  TEXT NOT NULL,
    value TEXT NOT NULL,
    list  INTEGER NOT NULL REFERENCES applied_lists(id) ON DELETE CASCADE,
    PRIMARY KEY (kind, value, list)
) WITHOUT ROWID;
CREATE INDEX applied_entries_list ON applied_entries(list);

-- What the ISAC never exports, whoever posted it. kind: ip | domain | url | hash.
CREATE TABLE allowlist (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    value   TEXT NOT NULL,
    reason  TEXT NOT NULL,
    created INTEGER NOT NULL,
    UNIQUE (kind, value)
);

-- A member's own networks (CIDR) and domains, with their history: a removed one keeps its row
-- with `removed` set.
CREATE TABLE org_assets (
    id      INTEGER PRIMARY KEY,
    org     INTEGER NOT NULL REFERENCES orgs(id),
    kind    TEXT NOT NULL,       -- cidr | domain
    value   TEXT NOT NULL,
    added   INTEGER NOT NULL,
    removed INTEGER
);
CREATE INDEX org_assets_org ON org_assets(org) WHERE removed IS NULL;
