-- Accounts: users and their API tokens (stored only as keyed hashes).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE users (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    role    TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE tokens (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users(id),
    name      TEXT NOT NULL,
    hash      BLOB NOT NULL UNIQUE,
    read_only INTEGER NOT NULL DEFAULT 0,
    created   INTEGER NOT NULL,
    expires   INTEGER,
    revoked   INTEGER
);

-- Feeds, served as TAXII collections. `seq` is the compact key objects refer to.
CREATE TABLE collections (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created     INTEGER NOT NULL
);

-- One row per object version per collection. Timestamps are microseconds since the epoch.
-- `date_added` is unique per collection: it is the paging cursor.
CREATE TABLE objects (
    seq          INTEGER PRIMARY KEY,
    collection   INTEGER NOT NULL REFERENCES collections(seq),
    stix_id      TEXT NOT NULL,
    stix_type    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    spec_version TEXT NOT NULL,
    date_added   INTEGER NOT NULL,
    is_first     INTEGER NOT NULL,
    is_last      INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_version ON objects(collection, stix_id, version);
CREATE UNIQUE INDEX objects_added ON objects(collection, date_added);
CREATE INDEX objects_type ON objects(collection, stix_type, date_added);

-- TAXII status resources, kept so that clients can read them later.
CREATE TABLE statuses (
    id      TEXT PRIMARY KEY,
    owner   INTEGER NOT NULL,
    created INTEGER NOT NULL,
    body    TEXT NOT NULL
);
