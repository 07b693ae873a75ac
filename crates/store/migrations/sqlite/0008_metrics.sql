-- Metrics. `reports` (who reported which observable, for corroboration) gains the time of each
-- organisation's first report that counts for metrics (an object of a regular feed, or a
-- sighting of one); NULL: reported only where metrics do not look (test feeds, NOTICE).
-- The figures are kept up to date by the writer with each report, and can be rebuilt from
-- `reports` (`isac-relay metrics recompute`); this step rebuilds them once in its code.

ALTER TABLE reports ADD COLUMN first_at INTEGER;
-- The earliest earlier report the organisation could read when it reported (the relay "had"
-- it then, for lead times); NULL: none. Reports from before this step have none: who could
-- read what then is not known.
ALTER TABLE reports ADD COLUMN lead_from INTEGER;
-- Each organisation's earliest object in a regular feed naming each observable, in one pass.
CREATE TEMP TABLE first_reports_0008 AS
SELECT ob.kind AS kind, ob.value AS value, o.poster_org AS org, min(o.date_added) AS at
  FROM observables ob
  JOIN objects o ON o.seq = ob.object_seq
  JOIN collections c ON c.seq = o.collection
 WHERE c.kind = 'regular'
 GROUP BY ob.kind, ob.value, o.poster_org;
UPDATE reports SET first_at = f.at
  FROM first_reports_0008 f
 WHERE f.kind = reports.kind AND f.value = reports.value AND f.org = reports.org;
DROP TABLE first_reports_0008;

-- Per organisation and kind: observables reported, reported by it alone, and reported after
-- the relay already held them.
CREATE TABLE metric_orgs (
    org      INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0,
    uniq     INTEGER NOT NULL DEFAULT 0,
    preceded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, kind)
) WITHOUT ROWID;

-- Per kind and pair of organisations (a < b): observables both reported.
CREATE TABLE metric_pairs (
    kind   TEXT NOT NULL,
    a      INTEGER NOT NULL,
    b      INTEGER NOT NULL,
    shared INTEGER NOT NULL,
    PRIMARY KEY (kind, a, b)
) WITHOUT ROWID;

-- One row per report that the relay preceded: by how much (microseconds), for percentiles.
CREATE TABLE metric_leads (
    org  INTEGER NOT NULL,
    kind TEXT NOT NULL,
    lead INTEGER NOT NULL
);
CREATE INDEX metric_leads_org ON metric_leads(org, kind, lead);

-- The first report of each observable an object called a C2 server or phishing site.
CREATE TABLE metric_firsts (
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    first_at   INTEGER NOT NULL,
    org        INTEGER NOT NULL,
    collection INTEGER NOT NULL,
    category   TEXT NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE INDEX metric_firsts_at ON metric_firsts(first_at);
