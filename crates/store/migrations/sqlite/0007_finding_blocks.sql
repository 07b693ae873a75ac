-- Findings move into blocks: the new findings of one member in one campaign with consecutive
-- ids, stored as one encoded value (see src/codec.rs). A row per finding made an upload of ten
-- million results spend most of its time in SQLite's B-trees; a block per few thousand makes
-- storing cheaper than reading. What changes after a finding is stored (seen again, its
-- status) is kept beside it in `finding_state`, a row only for findings that changed.
-- The rows of 0006's table are carried over by the migration's code, then the table goes.

ALTER TABLE findings RENAME TO findings_0006;
DROP INDEX findings_org;
DROP INDEX findings_campaign;

CREATE TABLE finding_blocks (
    -- Ids first_id .. first_id + count - 1 are this block's; blocks never share an id.
    first_id  INTEGER PRIMARY KEY,
    campaign  INTEGER NOT NULL REFERENCES campaigns(id),
    org       INTEGER NOT NULL REFERENCES orgs(id),
    count     INTEGER NOT NULL,
    -- The range of its findings' first observations (min_first lowered by merges), so that a
    -- report of a month reads only the blocks that may hold findings of that month.
    min_first INTEGER NOT NULL,
    max_first INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX finding_blocks_org ON finding_blocks(org, first_id);
CREATE INDEX finding_blocks_campaign ON finding_blocks(campaign, first_id);

CREATE TABLE finding_state (
    id             INTEGER PRIMARY KEY,
    -- Times seen again after it was stored; the widest observation period of those sightings.
    seen_more      INTEGER NOT NULL DEFAULT 0,
    first_observed INTEGER,
    last_observed  INTEGER,
    detail         TEXT,
    status         TEXT,               -- NULL: new
    status_at      INTEGER,
    status_note    TEXT,
    -- Changes since it was stored: its version is 1 + changes.
    changes        INTEGER NOT NULL DEFAULT 0
);
