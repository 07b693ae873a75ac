-- PostgreSQL mirror of migrations/sqlite/0012_leases.sql (see 0001_init.sql).
-- Leases on background jobs, so that a job runs on one relay node at a time when several share
-- one database (webhook deliveries, federation runs, the NOTICE publisher).
CREATE TABLE leases (
    job    TEXT COLLATE "C" PRIMARY KEY,
    holder TEXT COLLATE "C" NOT NULL,
    until  BIGINT NOT NULL      -- µs since the epoch; free once passed
);
