-- The storage quota's counter: how many keys and bytes the key-value entries
-- and secrets of this installation hold, kept exact by the triggers below in
-- the same transaction as every write, so checking the quota never scans.
-- Bytes are the UTF-8 key plus the value's JSON text (entries) or plus the
-- ciphertext (secrets). An expired entry counts until it is deleted.
--
-- Every write of kv or secret locks this row first (`FOR UPDATE`) and
-- updates it through the triggers: the row is the one lock that orders
-- writers of storage, so two of them can never both pass the quota check.
-- Run again, this migration recounts (as the SQLite one does).
CREATE TABLE IF NOT EXISTS storage_usage (
    id    SMALLINT NOT NULL PRIMARY KEY,
    keys  BIGINT   NOT NULL,
    bytes BIGINT   NOT NULL,
    CONSTRAINT storage_usage_single_row CHECK (id = 1)
);

-- Backfill from the data already stored.
INSERT INTO storage_usage (id, keys, bytes)
SELECT 1,
    (SELECT count(*) FROM kv) + (SELECT count(*) FROM secret),
    (SELECT coalesce(sum(octet_length(key) + octet_length(value::text)), 0) FROM kv)
    + (SELECT coalesce(sum(octet_length(key) + octet_length(ciphertext)), 0) FROM secret)
ON CONFLICT (id) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes;

-- Statement-level triggers with transition tables: one update of the row
-- per statement, however many rows it writes. (A row-level trigger would
-- add a version of this one row per written row, and each update walks the
-- versions its transaction made: quadratic for a large DELETE.) PostgreSQL
-- allows a transition table only on a trigger of one event: three each.
CREATE OR REPLACE FUNCTION kv_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added_keys    BIGINT := 0;
    added_bytes   BIGINT := 0;
    removed_keys  BIGINT := 0;
    removed_bytes BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value::text)), 0)
            INTO added_keys, added_bytes FROM added;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT count(*), coalesce(sum(octet_length(key) + octet_length(value::text)), 0)
            INTO removed_keys, removed_bytes FROM removed;
    END IF;
    IF added_keys <> removed_keys OR added_bytes <> removed_bytes THEN
        UPDATE storage_usage
            SET keys = keys + added_keys - removed_keys,
                bytes = bytes + added_bytes - removed_bytes
            WHERE id = 1;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION secret_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added_keys    BIGINT := 0;
    added_bytes   BIGINT := 0;
    removed_keys  BIGINT := 0;
    removed_bytes BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*), coalesce(sum(octet_length(key) + octet_length(ciphertext)), 0)
            INTO added_keys, added_bytes FROM added;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT count(*), coalesce(sum(octet_length(key) + octet_length(ciphertext)), 0)
            INTO removed_keys, removed_bytes FROM removed;
    END IF;
    IF added_keys <> removed_keys OR added_bytes <> removed_bytes THEN
        UPDATE storage_usage
            SET keys = keys + added_keys - removed_keys,
                bytes = bytes + added_bytes - removed_bytes
            WHERE id = 1;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER kv_usage_insert AFTER INSERT ON kv
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION kv_usage();
CREATE OR REPLACE TRIGGER kv_usage_update AFTER UPDATE ON kv
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION kv_usage();
CREATE OR REPLACE TRIGGER kv_usage_delete AFTER DELETE ON kv
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION kv_usage();
CREATE OR REPLACE TRIGGER secret_usage_insert AFTER INSERT ON secret
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION secret_usage();
CREATE OR REPLACE TRIGGER secret_usage_update AFTER UPDATE ON secret
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION secret_usage();
CREATE OR REPLACE TRIGGER secret_usage_delete AFTER DELETE ON secret
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION secret_usage();
