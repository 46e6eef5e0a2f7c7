-- Chains (`context.continueWith`): every run of a chain carries the id of
-- the chain's first chunk, that first chunk included (it gets its own id
-- when it ends successfully with a continuation). NULL for runs that are
-- not part of a chain. No foreign key: retention may prune an ended
-- chain's first run before the others, and the id stays the chain's name.
ALTER TABLE runs ADD COLUMN chain_id INTEGER;

-- A chain's chunks in order (GET /chains/{id}, retention, cancelling).
CREATE INDEX runs_by_chain ON runs (chain_id, id) WHERE chain_id IS NOT NULL;
-- A job's newest chain (job progress).
CREATE INDEX runs_job_chain ON runs (job_id, chain_id) WHERE chain_id IS NOT NULL;
