-- The storage quota's counter: how many keys and bytes the key-value entries
-- and secrets of this installation hold, kept exact by the triggers below in
-- the same transaction as every write, so checking the quota never scans.
-- Bytes are the UTF-8 key plus the value's JSON text (entries) or plus the
-- ciphertext (secrets). An expired entry counts until it is deleted.
--
-- Written to be run again safely (it then recounts): the SQLite rebuild test
-- of 0010 re-applies every later migration.
CREATE TABLE IF NOT EXISTS storage_usage (
    id    INTEGER NOT NULL PRIMARY KEY,
    keys  INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    CONSTRAINT storage_usage_single_row CHECK (id = 1)
) STRICT;

-- Backfill from the data already stored.
INSERT INTO storage_usage (id, keys, bytes)
SELECT 1,
    (SELECT count(*) FROM kv) + (SELECT count(*) FROM secret),
    (SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) FROM kv)
    + (SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(ciphertext)), 0) FROM secret)
WHERE true
ON CONFLICT (id) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes;

CREATE TRIGGER IF NOT EXISTS kv_usage_insert AFTER INSERT ON kv BEGIN
    UPDATE storage_usage SET
        keys = keys + 1,
        bytes = bytes + length(CAST(NEW.key AS BLOB)) + length(CAST(NEW.value AS BLOB));
END;

CREATE TRIGGER IF NOT EXISTS kv_usage_update AFTER UPDATE ON kv BEGIN
    UPDATE storage_usage SET
        bytes = bytes
            - length(CAST(OLD.key AS BLOB)) - length(CAST(OLD.value AS BLOB))
            + length(CAST(NEW.key AS BLOB)) + length(CAST(NEW.value AS BLOB));
END;

CREATE TRIGGER IF NOT EXISTS kv_usage_delete AFTER DELETE ON kv BEGIN
    UPDATE storage_usage SET
        keys = keys - 1,
        bytes = bytes - length(CAST(OLD.key AS BLOB)) - length(CAST(OLD.value AS BLOB));
END;

CREATE TRIGGER IF NOT EXISTS secret_usage_insert AFTER INSERT ON secret BEGIN
    UPDATE storage_usage SET
        keys = keys + 1,
        bytes = bytes + length(CAST(NEW.key AS BLOB)) + length(NEW.ciphertext);
END;

CREATE TRIGGER IF NOT EXISTS secret_usage_update AFTER UPDATE ON secret BEGIN
    UPDATE storage_usage SET
        bytes = bytes
            - length(CAST(OLD.key AS BLOB)) - length(OLD.ciphertext)
            + length(CAST(NEW.key AS BLOB)) + length(NEW.ciphertext);
END;

CREATE TRIGGER IF NOT EXISTS secret_usage_delete AFTER DELETE ON secret BEGIN
    UPDATE storage_usage SET
        keys = keys - 1,
        bytes = bytes - length(CAST(OLD.key AS BLOB)) - length(OLD.ciphertext);
END;
