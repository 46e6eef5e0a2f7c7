-- Issue 13 point 10: ids are never reused. Without AUTOINCREMENT SQLite
-- gives a new row the largest id + 1, so deleting the newest job (or run,
-- token, user, channel, delivery, queue job or event) handed its id to the
-- next one: /metrics counted a deleted job's runs under the new name, and
-- audit entries became ambiguous. AUTOINCREMENT keeps the largest id ever
-- used (sqlite_sequence) and never goes below it.
--
-- SQLite cannot add AUTOINCREMENT to a table, so each table whose ids leave
-- the database is rebuilt: create it anew, copy the rows (ids kept), drop
-- the old one, rename, recreate its indexes (and, at the end, the triggers
-- on runs). The store runs migrations with foreign keys off (a DROP would
-- otherwise cascade into the children); they are checked at the end.

-- users
CREATE TABLE users_rebuilt (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    CONSTRAINT users_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT users_role_known CHECK (role IN ('admin', 'editor', 'viewer')),
    CONSTRAINT users_password_is_argon2 CHECK (password_hash LIKE '$argon2%'),
    CONSTRAINT users_disabled_is_bool CHECK (disabled IN (0, 1))
) STRICT;
INSERT INTO users_rebuilt (id, name, role, password_hash, disabled, created_at_ms, updated_at_ms)
    SELECT id, name, role, password_hash, disabled, created_at_ms, updated_at_ms FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;

CREATE UNIQUE INDEX users_name ON users (name);

-- api_tokens
CREATE TABLE api_tokens_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    token_hash      BLOB    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    last_used_at_ms INTEGER,
    revoked_at_ms   INTEGER,
    CONSTRAINT api_tokens_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT api_tokens_role_known CHECK (role IN ('admin', 'editor', 'viewer')),
    CONSTRAINT api_tokens_hash_is_sha256 CHECK (length(token_hash) = 32)
) STRICT;
INSERT INTO api_tokens_rebuilt (id, name, role, token_hash, created_at_ms, last_used_at_ms, revoked_at_ms)
    SELECT id, name, role, token_hash, created_at_ms, last_used_at_ms, revoked_at_ms FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_rebuilt RENAME TO api_tokens;

CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);

-- jobs
CREATE TABLE jobs_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    enabled         INTEGER NOT NULL,
    schedule_cron   TEXT,
    schedule_tz     TEXT,
    overlap         TEXT    NOT NULL,
    misfire         TEXT    NOT NULL,
    keep_runs       INTEGER NOT NULL,
    keep_days       INTEGER NOT NULL,
    -- The next occurrence not yet claimed; NULL when the job does not fire.
    next_fire_at_ms INTEGER,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL, queue_key TEXT,
    CONSTRAINT jobs_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT jobs_version_positive CHECK (version >= 1),
    CONSTRAINT jobs_enabled_is_bool CHECK (enabled IN (0, 1)),
    CONSTRAINT jobs_schedule_complete CHECK ((schedule_cron IS NULL) = (schedule_tz IS NULL)),
    CONSTRAINT jobs_overlap_known CHECK (overlap IN ('skip', 'queue_one', 'allow', 'replace')),
    CONSTRAINT jobs_misfire_known CHECK (misfire IN ('run_once', 'skip', 'run_all')),
    CONSTRAINT jobs_retention_positive CHECK (keep_runs >= 1 AND keep_days >= 1),
    CONSTRAINT jobs_fire_only_when_enabled_and_scheduled
        CHECK (next_fire_at_ms IS NULL OR (enabled = 1 AND schedule_cron IS NOT NULL))
) STRICT;
INSERT INTO jobs_rebuilt (id, name, version, enabled, schedule_cron, schedule_tz, overlap, misfire, keep_runs, keep_days, next_fire_at_ms, created_at_ms, updated_at_ms, queue_key)
    SELECT id, name, version, enabled, schedule_cron, schedule_tz, overlap, misfire, keep_runs, keep_days, next_fire_at_ms, created_at_ms, updated_at_ms, queue_key FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_rebuilt RENAME TO jobs;

CREATE UNIQUE INDEX jobs_name ON jobs (name);

CREATE INDEX jobs_next_fire ON jobs (next_fire_at_ms) WHERE next_fire_at_ms IS NOT NULL;

CREATE UNIQUE INDEX jobs_queue_key ON jobs (queue_key) WHERE queue_key IS NOT NULL;

-- runs
CREATE TABLE runs_rebuilt (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id              INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    job_version         INTEGER NOT NULL,
    trigger             TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    attempt             INTEGER NOT NULL,
    scheduled_for_ms    INTEGER,
    queued_at_ms        INTEGER NOT NULL,
    not_before_ms       INTEGER NOT NULL,
    started_at_ms       INTEGER,
    finished_at_ms      INTEGER,
    node                TEXT,
    lease_expires_at_ms INTEGER,
    cancel_requested    INTEGER NOT NULL DEFAULT 0,
    missed_count        INTEGER,
    parent_run_id       INTEGER,
    params              TEXT,
    state               TEXT,
    event               TEXT,
    result              TEXT,
    error               TEXT,
    http_calls          TEXT,
    log_lines           INTEGER NOT NULL DEFAULT 0, chain_id INTEGER, queue_event_id INTEGER
    GENERATED ALWAYS AS (CAST(json_extract(event, '$.eventId') AS INTEGER)) VIRTUAL,
    CONSTRAINT runs_trigger_known CHECK (trigger IN
        ('schedule', 'manual', 'api', 'retry', 'catch_up', 'continuation', 'event')),
    CONSTRAINT runs_status_known CHECK (status IN ('queued', 'running', 'succeeded', 'failed',
        'timed_out', 'cancelled', 'interrupted', 'skipped', 'missed')),
    CONSTRAINT runs_attempt_positive CHECK (attempt >= 1),
    CONSTRAINT runs_log_lines_not_negative CHECK (log_lines >= 0),
    CONSTRAINT runs_cancel_requested_is_bool CHECK (cancel_requested IN (0, 1)),
    CONSTRAINT runs_finished_iff_terminal
        CHECK ((status IN ('queued', 'running')) = (finished_at_ms IS NULL)),
    CONSTRAINT runs_not_started_when_it_never_ran
        CHECK (status NOT IN ('queued', 'skipped', 'missed') OR started_at_ms IS NULL),
    CONSTRAINT runs_finished_after_started
        CHECK (finished_at_ms IS NULL OR started_at_ms IS NULL OR finished_at_ms >= started_at_ms),
    CONSTRAINT runs_running_holds_a_lease
        CHECK (status <> 'running' OR (node IS NOT NULL AND lease_expires_at_ms IS NOT NULL)),
    CONSTRAINT runs_lease_only_while_running
        CHECK (status = 'running' OR lease_expires_at_ms IS NULL),
    CONSTRAINT runs_missed_counts_occurrences
        CHECK ((status = 'missed') = (missed_count IS NOT NULL) AND (missed_count IS NULL OR missed_count >= 1)),
    CONSTRAINT runs_occurrence_has_instant
        CHECK (trigger NOT IN ('schedule', 'catch_up') OR scheduled_for_ms IS NOT NULL),
    CONSTRAINT runs_only_occurrences_are_skipped_or_missed
        CHECK (status NOT IN ('skipped', 'missed') OR trigger = 'schedule'),
    CONSTRAINT runs_params_is_json CHECK (params IS NULL OR json_valid(params)),
    CONSTRAINT runs_state_is_json CHECK (state IS NULL OR json_valid(state)),
    CONSTRAINT runs_event_is_json CHECK (event IS NULL OR json_valid(event)),
    CONSTRAINT runs_result_is_json CHECK (result IS NULL OR json_valid(result)),
    CONSTRAINT runs_error_is_json CHECK (error IS NULL OR json_valid(error)),
    CONSTRAINT runs_http_calls_is_json CHECK (http_calls IS NULL OR json_valid(http_calls))
) STRICT;
INSERT INTO runs_rebuilt (id, job_id, job_version, trigger, status, attempt, scheduled_for_ms, queued_at_ms, not_before_ms, started_at_ms, finished_at_ms, node, lease_expires_at_ms, cancel_requested, missed_count, parent_run_id, params, state, event, result, error, http_calls, log_lines, chain_id)
    SELECT id, job_id, job_version, trigger, status, attempt, scheduled_for_ms, queued_at_ms, not_before_ms, started_at_ms, finished_at_ms, node, lease_expires_at_ms, cancel_requested, missed_count, parent_run_id, params, state, event, result, error, http_calls, log_lines, chain_id FROM runs;
DROP TABLE runs;
ALTER TABLE runs_rebuilt RENAME TO runs;

CREATE UNIQUE INDEX runs_one_row_per_occurrence ON runs (job_id, scheduled_for_ms)
    WHERE trigger IN ('schedule', 'catch_up');

CREATE INDEX runs_by_job ON runs (job_id, id);

CREATE INDEX runs_by_job_status ON runs (job_id, status, id);

CREATE INDEX runs_active ON runs (job_id, status) WHERE status IN ('queued', 'running');

CREATE INDEX runs_queued ON runs (not_before_ms, id) WHERE status = 'queued';

CREATE INDEX runs_lease ON runs (lease_expires_at_ms) WHERE status = 'running';

CREATE INDEX runs_by_chain ON runs (chain_id, id) WHERE chain_id IS NOT NULL;

CREATE INDEX runs_job_chain ON runs (job_id, chain_id) WHERE chain_id IS NOT NULL;

CREATE UNIQUE INDEX runs_one_live_run_per_event ON runs (queue_event_id)
    WHERE queue_event_id IS NOT NULL AND status IN ('queued', 'running');

CREATE INDEX runs_events_by_status ON runs (status, queue_event_id)
    WHERE queue_event_id IS NOT NULL;

-- audit_log
CREATE TABLE audit_log_rebuilt (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms  INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL,
    CONSTRAINT audit_log_detail_is_json CHECK (json_valid(detail))
) STRICT;
INSERT INTO audit_log_rebuilt (id, at_ms, actor, action, target, detail)
    SELECT id, at_ms, actor, action, target, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_rebuilt RENAME TO audit_log;

-- notification_channels
CREATE TABLE notification_channels_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    events        TEXT    NOT NULL,
    enabled       INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    CONSTRAINT notification_channels_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT notification_channels_kind_known CHECK (kind IN ('webhook', 'slack')),
    CONSTRAINT notification_channels_events_is_json CHECK (json_valid(events)),
    CONSTRAINT notification_channels_enabled_is_bool CHECK (enabled IN (0, 1))
) STRICT;
INSERT INTO notification_channels_rebuilt (id, name, kind, url, events, enabled, created_at_ms, updated_at_ms)
    SELECT id, name, kind, url, events, enabled, created_at_ms, updated_at_ms FROM notification_channels;
DROP TABLE notification_channels;
ALTER TABLE notification_channels_rebuilt RENAME TO notification_channels;

CREATE UNIQUE INDEX notification_channels_name ON notification_channels (name);

-- notification_deliveries
CREATE TABLE notification_deliveries_rebuilt (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id         INTEGER NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    job_id             INTEGER NOT NULL,
    run_id             INTEGER NOT NULL,
    event              TEXT    NOT NULL,
    payload            TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER,
    last_error         TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    CONSTRAINT notification_deliveries_event_known CHECK (event IN
        ('failed', 'timed_out', 'interrupted', 'missed', 'recovered')),
    CONSTRAINT notification_deliveries_status_known
        CHECK (status IN ('pending', 'delivered', 'failed')),
    CONSTRAINT notification_deliveries_attempts_not_negative CHECK (attempts >= 0),
    CONSTRAINT notification_deliveries_pending_has_next_attempt
        CHECK ((status = 'pending') = (next_attempt_at_ms IS NOT NULL)),
    CONSTRAINT notification_deliveries_payload_is_json CHECK (json_valid(payload))
) STRICT;
INSERT INTO notification_deliveries_rebuilt (id, channel_id, job_id, run_id, event, payload, status, attempts, next_attempt_at_ms, last_error, created_at_ms, updated_at_ms)
    SELECT id, channel_id, job_id, run_id, event, payload, status, attempts, next_attempt_at_ms, last_error, created_at_ms, updated_at_ms FROM notification_deliveries;
DROP TABLE notification_deliveries;
ALTER TABLE notification_deliveries_rebuilt RENAME TO notification_deliveries;

CREATE UNIQUE INDEX notification_deliveries_once
    ON notification_deliveries (channel_id, run_id, event);

CREATE INDEX notification_deliveries_due
    ON notification_deliveries (next_attempt_at_ms) WHERE status = 'pending';

-- queue_jobs
CREATE TABLE queue_jobs_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    events        INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    CONSTRAINT queue_jobs_events_positive CHECK (events >= 1)
) STRICT;
INSERT INTO queue_jobs_rebuilt (id, queue, job_id, events, created_at_ms)
    SELECT id, queue, job_id, events, created_at_ms FROM queue_jobs;
DROP TABLE queue_jobs;
ALTER TABLE queue_jobs_rebuilt RENAME TO queue_jobs;

CREATE INDEX queue_jobs_by_queue ON queue_jobs (queue, id);

-- queue_events
CREATE TABLE queue_events_rebuilt (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO queue_events_rebuilt (id, queue_job_id, queue, job_id, body, concurrency_limit, status, created_at_ms, settled_at_ms)
    SELECT id, queue_job_id, queue, job_id, body, concurrency_limit, status, created_at_ms, settled_at_ms FROM queue_events;
DROP TABLE queue_events;
ALTER TABLE queue_events_rebuilt RENAME TO queue_events;

CREATE INDEX queue_events_by_job ON queue_events (queue_job_id, status);

CREATE INDEX queue_events_by_queue ON queue_events (queue, status);

CREATE INDEX queue_events_pending ON queue_events (id) WHERE status = 'pending';

-- The triggers on runs, which name queue_events, once both tables exist again.
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

-- Every reference still points at a row (the copy kept every id); a
-- dangling one fails the CHECK and the migration with it, before COMMIT.
CREATE TEMP TABLE migration_0010_dangling (references_broken INTEGER CHECK (references_broken = 0));
INSERT INTO migration_0010_dangling SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE migration_0010_dangling;
