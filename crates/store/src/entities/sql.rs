//! The SQL statements on custom entities. Every text is the same in both
//! dialects: values are JSON text, index positions are byte strings
//! (`BLOB`/`BYTEA`, both compared bytewise) and keys compare by code point.

/// Run first in a write that reads the index declarations: on PostgreSQL it
/// waits for (and then excludes) a concurrent [`crate::Store::entity_declare`];
/// SQLite's `BEGIN IMMEDIATE` already serialises writers.
pub(crate) const LOCK_FOR_DECLARE: &str = "LOCK TABLE entity_value IN SHARE ROW EXCLUSIVE MODE";

/// `$1` entity, `$2` key → `value`.
pub(crate) const GET: &str = "SELECT value FROM entity_value WHERE entity = $1 AND key = $2";

/// `$1` entity, `$2` key, `$3` JSON text, `$4` now. Takes the row's lock, so
/// concurrent writes of one key rewrite its index entries one after the other.
pub(crate) const UPSERT: &str = "INSERT INTO entity_value (entity, key, value, updated_at_ms) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (entity, key) DO UPDATE SET \
         value = excluded.value, updated_at_ms = excluded.updated_at_ms";

/// `$1` entity, `$2` key.
pub(crate) const DELETE: &str = "DELETE FROM entity_value WHERE entity = $1 AND key = $2";

/// `$1` entity → every `key`, `value` (rebuilding an index).
pub(crate) const ALL_VALUES: &str = "SELECT key, value FROM entity_value WHERE entity = $1";

/// `$1` entity → `index_name`, `spec` of the indexes built.
pub(crate) const SPECS: &str =
    "SELECT index_name, spec FROM entity_index_spec WHERE entity = $1 ORDER BY index_name";

/// `$1` entity, `$2` index name, `$3` spec.
pub(crate) const UPSERT_SPEC: &str = "INSERT INTO entity_index_spec (entity, index_name, spec) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (entity, index_name) DO UPDATE SET spec = excluded.spec";

/// `$1` entity, `$2` index name.
pub(crate) const DELETE_SPEC: &str =
    "DELETE FROM entity_index_spec WHERE entity = $1 AND index_name = $2";

/// `$1` entity, `$2` key: the value's entries in every index.
pub(crate) const DELETE_ENTRIES_OF_KEY: &str =
    "DELETE FROM entity_index WHERE entity = $1 AND key = $2";

/// `$1` entity, `$2` index name: every entry of one index.
pub(crate) const DELETE_ENTRIES_OF_INDEX: &str =
    "DELETE FROM entity_index WHERE entity = $1 AND index_name = $2";

/// `$1` entity, `$2` index name, `$3` partition, `$4` range, `$5` key.
pub(crate) const INSERT_ENTRY: &str = "INSERT INTO entity_index (entity, index_name, partition_value, range_value, key) \
     VALUES ($1, $2, $3, $4, $5)";

/// One walk of an index in ascending order: `$1` entity, `$2` index name,
/// `$3` partition, `$4` inclusive lower and `$5` exclusive upper bound of
/// `range_value`, then the position to continue after (`$6` range, `$7`
/// key), `$8` limit → `range_value`, `key`, `value`. The bounds are the
/// primary key's range scan; the position is a residual test on the rows
/// of its own range value only (the lower bound starts there).
pub(crate) const WALK_ASCENDING: &str = concat!(
    "SELECT i.range_value, i.key, v.value \
     FROM entity_index i \
     JOIN entity_value v ON v.entity = i.entity AND v.key = i.key \
     WHERE i.entity = $1 AND i.index_name = $2 AND i.partition_value = $3 \
       AND i.range_value >= $4 AND i.range_value < $5 \
       AND (i.range_value > $6 OR i.key > $7) \
     ORDER BY i.range_value, i.key ",
    crate::sql::bound_limit!("$8")
);

/// As [`WALK_ASCENDING`], in descending order: the position is continued
/// before (`range_value < $6 OR key < $7`).
pub(crate) const WALK_DESCENDING: &str = concat!(
    "SELECT i.range_value, i.key, v.value \
     FROM entity_index i \
     JOIN entity_value v ON v.entity = i.entity AND v.key = i.key \
     WHERE i.entity = $1 AND i.index_name = $2 AND i.partition_value = $3 \
       AND i.range_value >= $4 AND i.range_value < $5 \
       AND (i.range_value < $6 OR i.key < $7) \
     ORDER BY i.range_value DESC, i.key DESC ",
    crate::sql::bound_limit!("$8")
);
