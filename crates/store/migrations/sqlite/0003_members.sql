-- Members and trust: organisations, their users, trust groups, per-feed grants, each object's
-- TLP and poster, TLP:RED recipients, and the append-only audit log.

CREATE TABLE orgs (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    kind      TEXT NOT NULL,          -- operator | member | partner
    sector    TEXT NOT NULL,
    country   TEXT NOT NULL,
    contacts  TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    anonymous INTEGER NOT NULL DEFAULT 0,
    identity  TEXT NOT NULL UNIQUE,   -- the id of its STIX identity object
    created   INTEGER NOT NULL
);

-- The operator (the ISAC itself) exists from the start; users created before organisations
-- existed belong to it. Its identity is a random UUIDv4.
INSERT INTO orgs (id, name, kind, sector, country, identity, created)
VALUES (1, 'ISAC', 'operator', 'other', 'JP',
        'identity--' || lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
          || substr(lower(hex(randomblob(2))), 2) || '-'
          || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
          || '-' || lower(hex(randomblob(6))),
        CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

ALTER TABLE users ADD COLUMN org INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN password TEXT;
CREATE INDEX users_org ON users(org);

CREATE TABLE trust_groups (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

CREATE TABLE group_members (
    grp INTEGER NOT NULL REFERENCES trust_groups(id),
    org INTEGER NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (grp, org)
) WITHOUT ROWID;
CREATE INDEX group_members_org ON group_members(org);

-- Rights on a feed, for one organisation or one trust group.
CREATE TABLE grants (
    collection INTEGER NOT NULL REFERENCES collections(seq),
    org        INTEGER REFERENCES orgs(id),
    grp        INTEGER REFERENCES trust_groups(id),
    can_read   INTEGER NOT NULL,
    can_write  INTEGER NOT NULL,
    CHECK ((org IS NULL) <> (grp IS NULL))
);
CREATE UNIQUE INDEX grants_grantee ON grants(collection, coalesce(org, 0), coalesce(grp, 0));

-- 0 clear, 1 green, 2 amber, 3 amber+strict, 4 red.
ALTER TABLE collections ADD COLUMN default_tlp INTEGER NOT NULL DEFAULT 1;
ALTER TABLE objects ADD COLUMN tlp INTEGER NOT NULL DEFAULT 1;
ALTER TABLE objects ADD COLUMN poster_org INTEGER NOT NULL DEFAULT 1;
-- The object as posted, when `body` is its anonymised form.
ALTER TABLE objects ADD COLUMN original_body TEXT;

CREATE TABLE object_recipients (
    object_seq INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    org        INTEGER NOT NULL,
    PRIMARY KEY (object_seq, org)
) WITHOUT ROWID;

CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    org    TEXT,
    source TEXT,
    action TEXT NOT NULL,
    feed   TEXT,
    count  INTEGER,
    ids    TEXT,   -- JSON array, when objects were written or deleted
    detail TEXT
);
CREATE INDEX audit_at ON audit(at);

CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
