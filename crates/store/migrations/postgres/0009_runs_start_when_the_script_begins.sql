-- A claimed run is `running` before its script begins: `started_at_ms` is
-- the instant the script began, empty until then — and for good when its
-- node died before it began (it is then queued again, or `interrupted`
-- with no start). The scheduler records the start before the end.
ALTER TABLE runs DROP CONSTRAINT runs_started_when_it_ran;
