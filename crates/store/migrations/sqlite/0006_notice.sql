-- Owner routing (NOTICE-style scan campaigns and notifications to the member that owns an
-- address). Registered networks gain AS numbers (kind 'asn') and a validity period; a campaign
-- keeps the snapshot of networks it routes by; findings are stored once per (campaign,
-- address, port, protocol, kind of finding), duplicates merged into them (the uploader finds
-- them in memory: a unique index over random addresses made large uploads crawl); each upload
-- leaves a record of what it routed, merged, could not route and could not read.

ALTER TABLE org_assets ADD COLUMN valid_from INTEGER;
ALTER TABLE org_assets ADD COLUMN valid_until INTEGER;

CREATE TABLE campaigns (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,            -- monthly | standing
    schedule TEXT,
    created  INTEGER NOT NULL,
    -- For the campaign fed by shared objects: the date_added of the last object examined.
    cursor   INTEGER
);

CREATE TABLE campaign_ranges (
    campaign INTEGER NOT NULL REFERENCES campaigns(id),
    net      TEXT NOT NULL,
    org      INTEGER NOT NULL REFERENCES orgs(id),
    PRIMARY KEY (campaign, net, org)
) WITHOUT ROWID;

CREATE TABLE findings (
    id             INTEGER PRIMARY KEY,
    campaign       INTEGER NOT NULL REFERENCES campaigns(id),
    org            INTEGER NOT NULL REFERENCES orgs(id),
    prefix         TEXT NOT NULL,
    ip             TEXT NOT NULL,
    port           INTEGER NOT NULL,   -- 0: none given
    protocol       TEXT NOT NULL,      -- '': none given
    finding        TEXT NOT NULL,
    first_observed INTEGER NOT NULL,
    last_observed  INTEGER NOT NULL,
    times_seen     INTEGER NOT NULL DEFAULT 1,
    detail         TEXT,
    status         TEXT NOT NULL DEFAULT 'new',
    status_at      INTEGER,
    status_note    TEXT,
    -- Bumped by every merge and status change.
    version        INTEGER NOT NULL DEFAULT 1
);
-- Two indexes only: each costs every one of millions of inserts an upload makes. Reports
-- (counts by first_observed) scan a member's findings, or all of them.
CREATE INDEX findings_org ON findings(org, id);
CREATE INDEX findings_campaign ON findings(campaign, id);

-- Publication to the NOTICE feed: findings above `notice_published_through` are new to it;
-- a finding that changed after it was published waits here.
CREATE TABLE notice_queue (id INTEGER PRIMARY KEY);
INSERT INTO meta (key, value) VALUES ('notice_published_through', 0);

CREATE TABLE finding_uploads (
    id        INTEGER PRIMARY KEY,
    campaign  INTEGER NOT NULL REFERENCES campaigns(id),
    uploader  TEXT NOT NULL,
    at        INTEGER NOT NULL,
    lines     INTEGER NOT NULL,
    added     INTEGER NOT NULL,
    merged    INTEGER NOT NULL,
    unmatched INTEGER NOT NULL,
    malformed INTEGER NOT NULL,
    errors    TEXT NOT NULL          -- JSON array of the first errors, by line number
);
CREATE INDEX finding_uploads_campaign ON finding_uploads(campaign);
