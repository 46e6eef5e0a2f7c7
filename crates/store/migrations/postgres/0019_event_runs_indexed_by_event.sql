-- The runs of a queue event are found by the event, and a run's status
-- change leaves that index alone (issue 10).
--
-- `runs_events_by_status` keyed event runs by status first: every claim and
-- every end of an event run moved its entry (a quarter to a third of the
-- cost of those writes), and a lookup of an event's runs, which gives no
-- status, walked the whole index (the orphan re-queue did that once per
-- orphan). The live runs of an event stay under
-- `runs_one_live_run_per_event`; all of an event's runs, newest last, are
-- here, keyed by columns a status change never touches.
DROP INDEX IF EXISTS runs_events_by_status;
CREATE INDEX IF NOT EXISTS runs_by_event ON runs (queue_event_id, id)
    WHERE queue_event_id IS NOT NULL;
