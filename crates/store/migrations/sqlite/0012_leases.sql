-- Leases on background jobs, so that a job runs on one relay node at a time when several share
-- one database (webhook deliveries, federation runs, the NOTICE publisher).
CREATE TABLE leases (
    job    TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL      -- µs since the epoch; free once passed
) STRICT;
