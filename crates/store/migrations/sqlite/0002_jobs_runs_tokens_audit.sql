-- Jobs with every version kept, runs with their logs, API tokens, the audit
-- log and notification channels. Instants are Unix milliseconds; JSON is
-- checked text (the same text round-trips on both engines). The run state
-- machine is written in store/src/runs/transition.rs; the constraints below
-- make the database refuse any row that machine could never produce.

-- The current state of each job. The spec of its current version lives in
-- job_versions; the columns here are what the scheduler and lists need
-- without reading scripts.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
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
    updated_at_ms   INTEGER NOT NULL,
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

CREATE UNIQUE INDEX jobs_name ON jobs (name);
-- The scheduler's start-up read and its heap order.
CREATE INDEX jobs_next_fire ON jobs (next_fire_at_ms) WHERE next_fire_at_ms IS NOT NULL;

-- Every saved version of every job, never changed once written.
CREATE TABLE job_versions (
    job_id        INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    spec          TEXT    NOT NULL,
    actor         TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, version),
    CONSTRAINT job_versions_version_positive CHECK (version >= 1),
    CONSTRAINT job_versions_spec_is_json CHECK (json_valid(spec)),
    CONSTRAINT job_versions_spec_size CHECK (length(CAST(spec AS BLOB)) <= 8388608)
) STRICT, WITHOUT ROWID;

-- One execution attempt of one job version, or one occurrence that did not
-- run (skipped, missed).
CREATE TABLE runs (
    id                  INTEGER PRIMARY KEY,
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
    log_lines           INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT runs_trigger_known CHECK (trigger IN
        ('schedule', 'manual', 'api', 'retry', 'catch_up', 'continuation', 'event')),
    CONSTRAINT runs_status_known CHECK (status IN ('queued', 'running', 'succeeded', 'failed',
        'timed_out', 'cancelled', 'interrupted', 'skipped', 'missed')),
    CONSTRAINT runs_attempt_positive CHECK (attempt >= 1),
    CONSTRAINT runs_log_lines_not_negative CHECK (log_lines >= 0),
    CONSTRAINT runs_cancel_requested_is_bool CHECK (cancel_requested IN (0, 1)),
    CONSTRAINT runs_finished_iff_terminal
        CHECK ((status IN ('queued', 'running')) = (finished_at_ms IS NULL)),
    CONSTRAINT runs_started_when_it_ran CHECK (status NOT IN
        ('running', 'succeeded', 'failed', 'timed_out', 'interrupted') OR started_at_ms IS NOT NULL),
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

-- A second row for one occurrence of one job is impossible, whatever the code does.
CREATE UNIQUE INDEX runs_one_row_per_occurrence ON runs (job_id, scheduled_for_ms)
    WHERE trigger IN ('schedule', 'catch_up');
-- History pages, newest first, per job and per job and status.
CREATE INDEX runs_by_job ON runs (job_id, id);
CREATE INDEX runs_by_job_status ON runs (job_id, status, id);
-- Overlap decisions and per-job ordering look at a job's live runs only.
CREATE INDEX runs_active ON runs (job_id, status) WHERE status IN ('queued', 'running');
-- Workers claim queued runs whose time has come, oldest first.
CREATE INDEX runs_queued ON runs (not_before_ms, id) WHERE status = 'queued';
-- The sweeper finds expired leases.
CREATE INDEX runs_lease ON runs (lease_expires_at_ms) WHERE status = 'running';

-- Log lines of a run, numbered from 1 in the order they were written.
CREATE TABLE run_logs (
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL,
    level   TEXT    NOT NULL,
    message TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq),
    CONSTRAINT run_logs_seq_positive CHECK (seq >= 1),
    CONSTRAINT run_logs_level_known CHECK (level IN ('debug', 'info', 'warn', 'error'))
) STRICT, WITHOUT ROWID;

-- API tokens: only the SHA-256 hash of the secret is kept.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
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

CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);

-- Who changed what, when.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL,
    CONSTRAINT audit_log_detail_is_json CHECK (json_valid(detail))
) STRICT;

-- Where failure alerts go.
CREATE TABLE notification_channels (
    id            INTEGER PRIMARY KEY,
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

CREATE UNIQUE INDEX notification_channels_name ON notification_channels (name);

-- One alert to one channel, retried until delivered or given up.
CREATE TABLE notification_deliveries (
    id                 INTEGER PRIMARY KEY,
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

-- One alert per channel, run and event, however many nodes see the run end.
CREATE UNIQUE INDEX notification_deliveries_once
    ON notification_deliveries (channel_id, run_id, event);
CREATE INDEX notification_deliveries_due
    ON notification_deliveries (next_attempt_at_ms) WHERE status = 'pending';
