-- Federation peers: remote TAXII 2.1 collections pulled from or pushed to, with where each
-- stands. `auth` holds the credentials the relay presents (JSON); they are needed to call the
-- peer, so they are kept as they are, like the token key, inside the data directory.
-- Ids are never reused, and a removed peer stays (renamed, `removed` set): objects keep naming
-- the peer they came from, and pushes keep excluding its remote.
CREATE TABLE peers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    direction     TEXT NOT NULL CHECK (direction IN ('pull', 'push')),
    api_root      TEXT NOT NULL,
    collection    TEXT NOT NULL,
    auth          TEXT NOT NULL,
    client_cert   TEXT,
    feeds         TEXT NOT NULL,   -- JSON array of local feed ids
    default_tlp   INTEGER,
    max_tlp       INTEGER NOT NULL,
    types         TEXT NOT NULL,   -- JSON array
    min_severity  INTEGER,
    peer_org      INTEGER,
    interval_secs INTEGER NOT NULL,
    cursor        INTEGER,         -- microseconds
    last_run      INTEGER,
    last_success  INTEGER,
    last_error    TEXT,
    transferred   INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL,
    removed       INTEGER
);

-- Which peer delivered an object version (pulled), so that it is never pushed back there.
ALTER TABLE objects ADD COLUMN source_peer INTEGER;
