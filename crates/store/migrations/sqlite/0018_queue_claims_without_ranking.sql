-- Claims of queue event runs without ranking every due event (issue 10).
--
-- A claim takes event runs of queues without a concurrency limit straight
-- from the oldest due runs, and ranks due runs per queue only for queues
-- that have a pending event with a limit: this index finds those queues
-- (usually none) without reading the backlog.
CREATE INDEX IF NOT EXISTS queue_events_limited_pending ON queue_events (queue)
    WHERE status = 'pending' AND concurrency_limit IS NOT NULL;

-- Queued runs split by kind, oldest first: plain runs and event runs are
-- claimed by separate statements, and each would otherwise walk past the
-- other kind's backlog in `runs_queued` (on SQLite reading `event` JSON for
-- every row to tell them apart).
CREATE INDEX IF NOT EXISTS runs_queued_events ON runs (not_before_ms, id)
    WHERE status = 'queued' AND queue_event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS runs_queued_plain ON runs (not_before_ms, id)
    WHERE status = 'queued' AND queue_event_id IS NULL;
