-- A claimed run is `running` before its script begins: `started_at_ms` is
-- the instant the script began, empty until then — and for good when its
-- node died before it began (it is then queued again, or `interrupted`
-- with no start). The scheduler records the start before the end.
--
-- SQLite cannot drop a constraint, and rebuilding `runs` inside the
-- migration's transaction would cascade-delete its log lines (foreign keys
-- cannot be switched off in a transaction). Removing a CHECK constraint
-- changes nothing on disk, so the table's stored definition is edited in
-- place, as SQLite documents for removing constraints; creating and
-- dropping an index then bumps the schema version so every connection
-- re-reads the definition (the migrating connection is closed afterwards).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql,
    'CONSTRAINT runs_started_when_it_ran CHECK (status NOT IN' || char(10)
        || '        (''running'', ''succeeded'', ''failed'', ''timed_out'', ''interrupted'')'
        || ' OR started_at_ms IS NOT NULL),' || char(10) || '    ',
    '')
WHERE type = 'table' AND name = 'runs';
PRAGMA writable_schema = OFF;
CREATE INDEX runs_schema_version_bump ON runs (id);
DROP INDEX runs_schema_version_bump;
