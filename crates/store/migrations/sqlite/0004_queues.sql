-- `@forge/events` queues (FORGE-API §4). A job consumes at most one queue
-- key and a key has at most one consumer. `Queue.push` writes one
-- queue_jobs row (the `jobId` scripts get back), one queue_events row per
-- event, and one queued `event` run per event, all in one transaction.
--
-- An event's state follows its runs through the two triggers below, so
-- every path that ends a run (a node's finish, a cancellation) keeps it
-- right in the same transaction, and a pruned history never changes a
-- queue job's counts:
--   pending ──run succeeded──────────────► succeeded
--   pending ──run failed / timed out─────► failed ──retry run inserted──► pending
--   pending ──run cancelled──────────────► cancelled
-- An interrupted run leaves its event pending: the event is retried
-- (store/src/queues.rs, `queue_events_requeue_orphans`), never lost.

ALTER TABLE jobs ADD COLUMN queue_key TEXT;
CREATE UNIQUE INDEX jobs_queue_key ON jobs (queue_key) WHERE queue_key IS NOT NULL;

-- One push: the events a single `Queue.push` call created.
CREATE TABLE queue_jobs (
    id            INTEGER PRIMARY KEY,
    queue         TEXT    NOT NULL,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    events        INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    CONSTRAINT queue_jobs_events_positive CHECK (events >= 1)
) STRICT;

CREATE INDEX queue_jobs_by_queue ON queue_jobs (queue, id);

CREATE TABLE queue_events (
    id                INTEGER PRIMARY KEY,
    queue_job_id      INTEGER NOT NULL REFERENCES queue_jobs (id) ON DELETE CASCADE,
    queue             TEXT    NOT NULL,
    job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    body              TEXT    NOT NULL,
    -- Most runs of this queue executing at once (the push's `concurrency`).
    concurrency_limit INTEGER,
    status            TEXT    NOT NULL DEFAULT 'pending',
    created_at_ms     INTEGER NOT NULL,
    settled_at_ms     INTEGER,
    CONSTRAINT queue_events_body_is_json CHECK (json_valid(body)),
    CONSTRAINT queue_events_concurrency_positive
        CHECK (concurrency_limit IS NULL OR concurrency_limit >= 1),
    CONSTRAINT queue_events_status_known
        CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT queue_events_settled_iff_not_pending
        CHECK ((status = 'pending') = (settled_at_ms IS NULL))
) STRICT;

CREATE INDEX queue_events_by_job ON queue_events (queue_job_id, status);
CREATE INDEX queue_events_by_queue ON queue_events (queue, status);
CREATE INDEX queue_events_pending ON queue_events (id) WHERE status = 'pending';

-- The event a run consumes, read from its `event` JSON (written by push
-- and carried by every retry).
ALTER TABLE runs ADD COLUMN queue_event_id INTEGER
    GENERATED ALWAYS AS (CAST(json_extract(event, '$.eventId') AS INTEGER)) VIRTUAL;

-- An event is never executed twice at once, whatever the code does.
CREATE UNIQUE INDEX runs_one_live_run_per_event ON runs (queue_event_id)
    WHERE queue_event_id IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX runs_events_by_status ON runs (status, queue_event_id)
    WHERE queue_event_id IS NOT NULL;

CREATE TRIGGER queue_events_settle AFTER UPDATE OF status ON runs
    WHEN NEW.queue_event_id IS NOT NULL
     AND NEW.status IN ('succeeded', 'failed', 'timed_out', 'cancelled')
BEGIN
    UPDATE queue_events
    SET status = CASE NEW.status WHEN 'succeeded' THEN 'succeeded'
                                 WHEN 'cancelled' THEN 'cancelled'
                                 ELSE 'failed' END,
        settled_at_ms = NEW.finished_at_ms
    WHERE id = NEW.queue_event_id AND status = 'pending';
END;

CREATE TRIGGER queue_events_reopen AFTER INSERT ON runs
    WHEN NEW.queue_event_id IS NOT NULL
BEGIN
    UPDATE queue_events SET status = 'pending', settled_at_ms = NULL
    WHERE id = NEW.queue_event_id AND status = 'failed';
END;
