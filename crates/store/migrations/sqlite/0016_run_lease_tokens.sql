-- Fencing: every claim of a run (queued → running) mints a new lease token,
-- and every write guarded by "still running on this node" (start, log
-- lines, finish, lease renewal) must name it. A node's earlier attempt at a
-- run that was queued again and claimed anew — even by the same node id —
-- can then write nothing more to it.
ALTER TABLE runs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
