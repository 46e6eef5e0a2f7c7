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

CREATE OR REPLACE FUNCTION kv_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added_keys  BIGINT := 0;
    added_bytes BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        added_keys := 1;
        added_bytes := octet_length(NEW.key) + octet_length(NEW.value::text);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        added_keys := added_keys - 1;
        added_bytes := added_bytes - octet_length(OLD.key) - octet_length(OLD.value::text);
    END IF;
    UPDATE storage_usage
        SET keys = keys + added_keys, bytes = bytes + added_bytes
        WHERE id = 1;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION secret_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added_keys  BIGINT := 0;
    added_bytes BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        added_keys := 1;
        added_bytes := octet_length(NEW.key) + octet_length(NEW.ciphertext);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        added_keys := added_keys - 1;
        added_bytes := added_bytes - octet_length(OLD.key) - octet_length(OLD.ciphertext);
    END IF;
    UPDATE storage_usage
        SET keys = keys + added_keys, bytes = bytes + added_bytes
        WHERE id = 1;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER kv_usage AFTER INSERT OR UPDATE OR DELETE ON kv
    FOR EACH ROW EXECUTE FUNCTION kv_usage();
CREATE OR REPLACE TRIGGER secret_usage AFTER INSERT OR UPDATE OR DELETE ON secret
    FOR EACH ROW EXECUTE FUNCTION secret_usage();
