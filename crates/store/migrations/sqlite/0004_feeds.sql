-- Feeds by purpose: severity, volume, kind, inbox and retirement of feeds; routing rules;
-- consumer profiles; each object's confidence and corroboration; who reported which
-- observable; webhooks and their delivery log.

-- severity: 0 informational, 1 important, 2 urgent. kind: regular | aggregate | test.
ALTER TABLE collections ADD COLUMN severity INTEGER NOT NULL DEFAULT 1;
ALTER TABLE collections ADD COLUMN volume TEXT NOT NULL DEFAULT 'medium';
ALTER TABLE collections ADD COLUMN kind TEXT NOT NULL DEFAULT 'regular';
ALTER TABLE collections ADD COLUMN inbox INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
UPDATE collections SET kind = 'test', severity = 0, volume = 'few' WHERE name = 'TEST';

CREATE TABLE routing_rules (
    id       INTEGER PRIMARY KEY,
    field    TEXT NOT NULL,      -- title | label | marking
    matching TEXT NOT NULL,      -- equals | prefix | contains
    value    TEXT NOT NULL,
    feed     INTEGER NOT NULL REFERENCES collections(seq),
    created  INTEGER NOT NULL
);

-- One profile per organisation or per token (JSON, see relay_core::profile).
CREATE TABLE profiles (
    org   INTEGER REFERENCES orgs(id),
    token INTEGER REFERENCES tokens(id),
    body  TEXT NOT NULL,
    CHECK ((org IS NULL) <> (token IS NULL))
);
CREATE UNIQUE INDEX profiles_owner ON profiles(coalesce(org, 0), coalesce(token, 0));

-- The poster's `confidence` (0-100), NULL when it gave none; how many distinct organisations
-- reported an observable the object mentions (0: it mentions none).
ALTER TABLE objects ADD COLUMN confidence INTEGER;
ALTER TABLE objects ADD COLUMN corroboration INTEGER NOT NULL DEFAULT 0;
UPDATE objects SET corroboration = 1 WHERE seq IN (SELECT object_seq FROM observables);

-- `date_added` is unique across feeds, so that the aggregate feed and the live streams page
-- by one cursor. This index also serves the live tail.
CREATE INDEX objects_added_all ON objects(date_added);

-- Which organisations reported each observable, for corroboration counts.
CREATE TABLE reports (
    kind  TEXT NOT NULL,
    value TEXT NOT NULL,
    org   INTEGER NOT NULL,
    PRIMARY KEY (kind, value, org)
) WITHOUT ROWID;
INSERT OR IGNORE INTO reports (kind, value, org)
SELECT ob.kind, ob.value, o.poster_org FROM observables ob JOIN objects o ON o.seq = ob.object_seq;

CREATE TABLE webhooks (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id),
    feed     INTEGER NOT NULL REFERENCES collections(seq),
    url      TEXT NOT NULL,
    secret   TEXT NOT NULL,
    cursor   INTEGER NOT NULL,   -- date_added of the last object delivered
    created  INTEGER NOT NULL,
    removed  INTEGER
);

CREATE TABLE webhook_deliveries (
    seq       INTEGER PRIMARY KEY,
    webhook   INTEGER NOT NULL REFERENCES webhooks(id),
    at        INTEGER NOT NULL,
    attempt   INTEGER NOT NULL,
    objects   INTEGER NOT NULL,
    http_status INTEGER,
    error     TEXT,
    delivered INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook, seq);
