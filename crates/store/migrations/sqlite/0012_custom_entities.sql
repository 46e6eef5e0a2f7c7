-- Custom entities (Forge `kvs.entity(name)`): values under (entity, key),
-- apart from the plain key-value entries, and one row per declared index
-- that can hold the value.
-- Written to be run again safely: the SQLite rebuild test of 0010 re-applies
-- every later migration.
CREATE TABLE IF NOT EXISTS entity_value (
    entity        TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (entity, key),
    CONSTRAINT entity_value_key_length CHECK (length(key) BETWEEN 1 AND 500),
    CONSTRAINT entity_value_is_json CHECK (json_valid(value)),
    CONSTRAINT entity_value_size CHECK (length(CAST(value AS BLOB)) <= 1048576)
) STRICT, WITHOUT ROWID;

-- An index entry: partition_value encodes the partition attributes' values
-- (equality only), range_value the range attribute's value in an encoding
-- whose byte order is the values' order. The primary key is the B-tree one
-- query walks: entity, index and partition fixed, a range of range_value,
-- ties broken by key, in either direction.
CREATE TABLE IF NOT EXISTS entity_index (
    entity          TEXT NOT NULL,
    index_name      TEXT NOT NULL,
    partition_value BLOB NOT NULL,
    range_value     BLOB NOT NULL,
    key             TEXT NOT NULL,
    PRIMARY KEY (entity, index_name, partition_value, range_value, key)
) STRICT, WITHOUT ROWID;

-- Replacing or deleting a value removes its entries by key.
CREATE INDEX IF NOT EXISTS entity_index_by_key ON entity_index (entity, key);

-- The declaration each index was built for: a changed declaration rebuilds it.
CREATE TABLE IF NOT EXISTS entity_index_spec (
    entity     TEXT NOT NULL,
    index_name TEXT NOT NULL,
    spec       TEXT NOT NULL,
    PRIMARY KEY (entity, index_name)
) STRICT, WITHOUT ROWID;
