//! Custom entities of [`MemoryKvStore`](crate::MemoryKvStore): the values of
//! each entity by key, and queries that walk a declared index the way the
//! database's does — partition values matched for equality, results in
//! (range value, key) order (types apart: `false < true` < numbers <
//! strings), either direction, resumed after a cursor. Nothing is indexed
//! ahead: a query sorts the entity's values, which suits tests and one-off
//! runs, not large data.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::Value;

use crate::entity::{EntityCatalog, EntityIndex, EntityQuery, EntityRange, compare};
use crate::kv::{KvError, KvPage};

/// Every entity's values, and the declarations queries walk.
#[derive(Debug, Default)]
pub(crate) struct MemoryEntities {
    catalog: EntityCatalog,
    values: BTreeMap<String, BTreeMap<String, Value>>,
}

impl MemoryEntities {
    pub(crate) fn declare(&mut self, catalog: &EntityCatalog) {
        self.catalog = catalog.clone();
    }

    pub(crate) fn get(&self, entity: &str, key: &str) -> Option<Value> {
        self.values.get(entity)?.get(key).cloned()
    }

    pub(crate) fn set(&mut self, entity: &str, key: &str, value: Value) {
        self.values
            .entry(entity.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
    }

    pub(crate) fn delete(&mut self, entity: &str, key: &str) {
        if let Some(values) = self.values.get_mut(entity) {
            values.remove(key);
        }
    }

    /// One page of `query`: up to `limit` values `keep` accepts, after the
    /// cursor's position.
    pub(crate) fn query(
        &self,
        query: &EntityQuery,
        keep: &(dyn for<'v> Fn(&'v Value) -> bool + Send + Sync),
    ) -> Result<KvPage, KvError> {
        let index = self.index(query)?;
        let after = query.cursor.as_deref().map(from_cursor).transpose()?;
        let mut rows: Vec<(&Value, &String, &Value)> = self
            .values
            .get(&query.entity)
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| {
                let range = position(index, value, &query.partition)?;
                in_range(range, &query.range).then_some((range, key, value))
            })
            .collect();
        rows.sort_by(|a, b| order(a.0, b.0).then_with(|| a.1.cmp(b.1)));
        if query.descending {
            rows.reverse();
        }
        let walk_order = |range: &Value, key: &String, (at_range, at_key): &(Value, String)| {
            let ascending = order(range, at_range).then_with(|| key.cmp(at_key));
            if query.descending {
                ascending.reverse()
            } else {
                ascending
            }
        };
        let mut kept = rows
            .into_iter()
            .filter(|(range, key, _)| {
                after
                    .as_ref()
                    .is_none_or(|at| walk_order(range, key, at) == Ordering::Greater)
            })
            .filter(|(_, _, value)| keep(value));
        let items: Vec<(&Value, &String, &Value)> = kept.by_ref().take(query.limit).collect();
        let next_cursor = match (kept.next(), items.last()) {
            (Some(_), Some((range, key, _))) => Some(to_cursor(range, key)),
            _ => None,
        };
        Ok(KvPage {
            items: items
                .into_iter()
                .map(|(_, key, value)| (key.clone(), value.clone()))
                .collect(),
            next_cursor,
        })
    }

    fn index(&self, query: &EntityQuery) -> Result<&EntityIndex, KvError> {
        self.catalog
            .entity(&query.entity)
            .ok()
            .and_then(|entity| entity.indexes.iter().find(|i| i.name == query.index))
            .ok_or_else(|| {
                KvError::Backend(format!(
                    "entity \"{}\" has no index \"{}\"",
                    query.entity, query.index
                ))
            })
    }
}

/// The range value of `value` in `index` when it is in the index and in
/// the partition `partition`.
fn position<'v>(index: &EntityIndex, value: &'v Value, partition: &[Value]) -> Option<&'v Value> {
    let same_partition = index
        .partition
        .iter()
        .zip(partition)
        .all(|(attribute, wanted)| {
            value
                .get(attribute)
                .is_some_and(|found| rank(found).is_some() && order(found, wanted).is_eq())
        });
    let range = value.get(&index.range)?;
    (same_partition && rank(range).is_some()).then_some(range)
}

/// Indexable types apart, in the database's order; `None` for the others.
fn rank(value: &Value) -> Option<u8> {
    match value {
        Value::Bool(_) => Some(0),
        Value::Number(_) => Some(1),
        Value::String(_) => Some(2),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The order of indexable values: by type, then by value.
fn order(a: &Value, b: &Value) -> Ordering {
    rank(a)
        .cmp(&rank(b))
        .then_with(|| compare(a, b).unwrap_or(Ordering::Equal))
}

/// Whether a range value meets the condition; a bound of another type
/// never does, as in the database.
fn in_range(range: &Value, condition: &EntityRange) -> bool {
    let above = |bound: &Bound<Value>| match bound {
        Bound::Unbounded => true,
        Bound::Included(low) => rank(low) == rank(range) && order(range, low).is_ge(),
        Bound::Excluded(low) => rank(low) == rank(range) && order(range, low).is_gt(),
    };
    let below = |bound: &Bound<Value>| match bound {
        Bound::Unbounded => true,
        Bound::Included(high) => rank(high) == rank(range) && order(range, high).is_le(),
        Bound::Excluded(high) => rank(high) == rank(range) && order(range, high).is_lt(),
    };
    match condition {
        EntityRange::All => true,
        EntityRange::Prefix(prefix) => range
            .as_str()
            .is_some_and(|s| s.starts_with(prefix.as_str())),
        EntityRange::Between(lower, upper) => above(lower) && below(upper),
    }
}

fn to_cursor(range: &Value, key: &str) -> String {
    serde_json::json!([range, key]).to_string()
}

fn from_cursor(cursor: &str) -> Result<(Value, String), KvError> {
    serde_json::from_str(cursor)
        .map_err(|_| KvError::Backend("invalid entity query cursor".to_owned()))
}
