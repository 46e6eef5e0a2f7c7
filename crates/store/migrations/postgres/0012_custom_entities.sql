-- Custom entities (Forge `kvs.entity(name)`): values under (entity, key),
-- apart from the plain key-value entries, and one row per declared index
-- that can hold the value. Text is "C"-collated (code point order), as kv's.
-- Values are JSON text checked by a cast, so both engines round-trip it alike.
-- Written to be run again safely: the SQLite rebuild test of 0010 re-applies
-- every later migration.
CREATE TABLE IF NOT EXISTS entity_value (
    entity        TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (entity, key),
    CONSTRAINT entity_value_key_length CHECK (char_length(key) BETWEEN 1 AND 500),
    CONSTRAINT entity_value_is_json CHECK ((value::json) IS NOT NULL),
    CONSTRAINT entity_value_size CHECK (octet_length(value) <= 1048576)
);

-- An index entry: partition_value encodes the partition attributes' values
-- (equality only), range_value the range attribute's value in an encoding
-- whose byte order is the values' order. The primary key is the B-tree one
-- query walks: entity, index and partition fixed, a range of range_value,
-- ties broken by key, in either direction.
CREATE TABLE IF NOT EXISTS entity_index (
    entity          TEXT COLLATE "C" NOT NULL,
    index_name      TEXT COLLATE "C" NOT NULL,
    partition_value BYTEA NOT NULL,
    range_value     BYTEA NOT NULL,
    key             TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (entity, index_name, partition_value, range_value, key)
);

-- Replacing or deleting a value removes its entries by key.
CREATE INDEX IF NOT EXISTS entity_index_by_key ON entity_index (entity, key);

-- The declaration each index was built for: a changed declaration rebuilds it.
CREATE TABLE IF NOT EXISTS entity_index_spec (
    entity     TEXT COLLATE "C" NOT NULL,
    index_name TEXT COLLATE "C" NOT NULL,
    spec       TEXT NOT NULL,
    PRIMARY KEY (entity, index_name)
);
