-- Custom entity values count toward the storage quota (0014's counter):
-- each value is one key, of the UTF-8 bytes of its entity name, its key and
-- its JSON text. Index entries (`entity_index`) are derived from the values
-- and bounded by the declared indexes: they do not count.
--
-- Every entity write locks the usage row first, as writes of kv and secret
-- do (0014). Run again, this migration recounts (as the SQLite one does).

-- Recount everything the quota covers, entity values included.
INSERT INTO storage_usage (id, keys, bytes)
SELECT 1,
    (SELECT count(*) FROM kv) + (SELECT count(*) FROM secret)
    + (SELECT count(*) FROM entity_value),
    (SELECT coalesce(sum(octet_length(key) + octet_length(value::text)), 0) FROM kv)
    + (SELECT coalesce(sum(octet_length(key) + octet_length(ciphertext)), 0) FROM secret)
    + (SELECT coalesce(sum(octet_length(entity) + octet_length(key) + octet_length(value)), 0)
        FROM entity_value)
ON CONFLICT (id) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes;

-- Statement-level, with transition tables, for the reasons given in 0014.
CREATE OR REPLACE FUNCTION entity_value_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added_keys    BIGINT := 0;
    added_bytes   BIGINT := 0;
    removed_keys  BIGINT := 0;
    removed_bytes BIGINT := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*),
               coalesce(sum(octet_length(entity) + octet_length(key) + octet_length(value)), 0)
            INTO added_keys, added_bytes FROM added;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT count(*),
               coalesce(sum(octet_length(entity) + octet_length(key) + octet_length(value)), 0)
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

CREATE OR REPLACE TRIGGER entity_value_usage_insert AFTER INSERT ON entity_value
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION entity_value_usage();
CREATE OR REPLACE TRIGGER entity_value_usage_update AFTER UPDATE ON entity_value
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION entity_value_usage();
CREATE OR REPLACE TRIGGER entity_value_usage_delete AFTER DELETE ON entity_value
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION entity_value_usage();
