-- PostgreSQL mirror of migrations/sqlite/0008_metrics.sql (see 0001_init.sql).
-- Metrics. `reports` gains the time of each organisation's first report that counts for
-- metrics (an object of a regular feed, or a sighting of one; NULL: reported only where
-- metrics do not look) and the earliest earlier report it could read (for lead times). The
-- figures are kept up to date by the writer with each report, and can be rebuilt from
-- `reports` (`isac-relay metrics recompute`).

ALTER TABLE reports ADD COLUMN first_at BIGINT;
ALTER TABLE reports ADD COLUMN lead_from BIGINT;

-- Per organisation and kind: observables reported, reported by it alone, and reported after
-- the relay already held them.
CREATE TABLE metric_orgs (
    org      BIGINT NOT NULL,
    kind     TEXT COLLATE "C" NOT NULL,
    reported BIGINT NOT NULL DEFAULT 0,
    uniq     BIGINT NOT NULL DEFAULT 0,
    preceded BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (org, kind)
);

-- Per kind and pair of organisations (a < b): observables both reported.
CREATE TABLE metric_pairs (
    kind   TEXT COLLATE "C" NOT NULL,
    a      BIGINT NOT NULL,
    b      BIGINT NOT NULL,
    shared BIGINT NOT NULL,
    PRIMARY KEY (kind, a, b)
);

-- One row per report that the relay preceded: by how much (microseconds), for percentiles.
CREATE TABLE metric_leads (
    org  BIGINT NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    lead BIGINT NOT NULL
);
CREATE INDEX metric_leads_org ON metric_leads(org, kind, lead);

-- The first report of each observable an object called a C2 server or phishing site.
CREATE TABLE metric_firsts (
    kind       TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    first_at   BIGINT NOT NULL,
    org        BIGINT NOT NULL,
    collection BIGINT NOT NULL,
    category   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX metric_firsts_at ON metric_firsts(first_at);
