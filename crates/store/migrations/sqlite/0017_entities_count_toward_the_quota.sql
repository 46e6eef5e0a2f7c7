-- Custom entity values count toward the storage quota (0014's counter):
-- each value is one key, of the UTF-8 bytes of its entity name, its key and
-- its JSON text. Index entries (`entity_index`) are derived from the values
-- and bounded by the declared indexes: they do not count.
--
-- Written to be run again safely (it then recounts): the SQLite rebuild test
-- of 0010 re-applies every later migration.

-- Recount everything the quota covers, entity values included.
INSERT INTO storage_usage (id, keys, bytes)
SELECT 1,
    (SELECT count(*) FROM kv) + (SELECT count(*) FROM secret)
    + (SELECT count(*) FROM entity_value),
    (SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) FROM kv)
    + (SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(ciphertext)), 0) FROM secret)
    + (SELECT coalesce(sum(length(CAST(entity AS BLOB)) + length(CAST(key AS BLOB))
        + length(CAST(value AS BLOB))), 0) FROM entity_value)
WHERE true
ON CONFLICT (id) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes;

CREATE TRIGGER IF NOT EXISTS entity_value_usage_insert AFTER INSERT ON entity_value BEGIN
    UPDATE storage_usage SET
        keys = keys + 1,
        bytes = bytes + length(CAST(NEW.entity AS BLOB)) + length(CAST(NEW.key AS BLOB))
            + length(CAST(NEW.value AS BLOB));
END;

CREATE TRIGGER IF NOT EXISTS entity_value_usage_update AFTER UPDATE ON entity_value BEGIN
    UPDATE storage_usage SET
        bytes = bytes
            - length(CAST(OLD.entity AS BLOB)) - length(CAST(OLD.key AS BLOB))
            - length(CAST(OLD.value AS BLOB))
            + length(CAST(NEW.entity AS BLOB)) + length(CAST(NEW.key AS BLOB))
            + length(CAST(NEW.value AS BLOB));
END;

CREATE TRIGGER IF NOT EXISTS entity_value_usage_delete AFTER DELETE ON entity_value BEGIN
    UPDATE storage_usage SET
        keys = keys - 1,
        bytes = bytes - length(CAST(OLD.entity AS BLOB)) - length(CAST(OLD.key AS BLOB))
            - length(CAST(OLD.value AS BLOB));
END;
