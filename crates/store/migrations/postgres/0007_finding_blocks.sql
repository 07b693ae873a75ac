-- PostgreSQL mirror of migrations/sqlite/0007_finding_blocks.sql (see 0001_init.sql).
-- Findings move into blocks: the new findings of one member in one campaign with consecutive
-- ids, stored as one encoded value (see src/codec.rs). What changes after a finding is stored
-- (seen again, its status) is kept beside it in `finding_state`, a row only for findings that
-- changed. The row-per-finding table of 0006 goes (it is empty in every PostgreSQL database).

DROP TABLE findings;

CREATE TABLE finding_blocks (
    -- Ids first_id .. first_id + count - 1 are this block's; blocks never share an id.
    first_id  BIGINT PRIMARY KEY,
    campaign  BIGINT NOT NULL REFERENCES campaigns(id),
    org       BIGINT NOT NULL REFERENCES orgs(id),
    count     BIGINT NOT NULL,
    -- The range of its findings' first observations (min_first lowered by merges), so that a
    -- report of a month reads only the blocks that may hold findings of that month.
    min_first BIGINT NOT NULL,
    max_first BIGINT NOT NULL,
    data      BYTEA NOT NULL
);
CREATE INDEX finding_blocks_org ON finding_blocks(org, first_id);
CREATE INDEX finding_blocks_campaign ON finding_blocks(campaign, first_id);

CREATE TABLE finding_state (
    id             BIGINT PRIMARY KEY,
    -- Times seen again after it was stored; the widest observation period of those sightings.
    seen_more      BIGINT NOT NULL DEFAULT 0,
    first_observed BIGINT,
    last_observed  BIGINT,
    detail         TEXT COLLATE "C",
    status         TEXT COLLATE "C",               -- NULL: new
    status_at      BIGINT,
    status_note    TEXT COLLATE "C",
    -- Changes since it was stored: its version is 1 + changes.
    changes        BIGINT NOT NULL DEFAULT 0
);
