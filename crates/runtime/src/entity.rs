//! Custom entities (`kvs.entity(name)`, `storage.entity(name)`): their
//! declarations, and the rules a script's entity calls must follow.
//!
//! Entities are declared as a Forge manifest declares them under
//! `app.storage.entities`: a name, typed attributes, and indexes with
//! partition attributes and one range attribute. [`EntityCatalog`] holds
//! the checked declarations of a run. Every entity call is validated here
//! against it (the entity and index exist, values have their attributes'
//! types, query values fit the index) before the [`KvStore`](crate::KvStore)
//! sees it; filters are evaluated here too, on the rows the index found.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::Deserialize;
use serde_json::Value;

/// The type of an attribute, as Forge names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// A JSON string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Float,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value; not indexable.
    Any,
}

impl AttributeType {
    fn holds(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.as_f64().is_some_and(|n| n.fract() == 0.0),
            Self::Float => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Any => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Any => "any",
        }
    }
}

/// An attribute of an entity: `{ type = "integer" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDeclaration {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: AttributeType,
}

/// An index as the manifest writes it: an attribute's name (an index of
/// that name with that range attribute), or a named index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IndexDeclaration {
    /// `- surname`: the index `surname`, range `surname`, no partition.
    Attribute(String),
    /// `{ name, partition?, range }`.
    Named {
        /// The index's name.
        name: String,
        /// Attributes a query must give values for, in this order.
        #[serde(default)]
        partition: Vec<String>,
        /// The one attribute the index orders by.
        range: Vec<String>,
    },
}

/// One entity as declared (in `clockwork.toml`'s `[[entities]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityDeclaration {
    /// The entity's name, as `kvs.entity(name)` gives it.
    pub name: String,
    /// Its attributes by name.
    pub attributes: BTreeMap<String, AttributeDeclaration>,
    /// Its indexes.
    #[serde(default)]
    pub indexes: Vec<IndexDeclaration>,
}

/// A checked index: what the store builds and a query walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityIndex {
    /// Its name.
    pub name: String,
    /// Partition attributes, in order.
    pub partition: Vec<String>,
    /// The range attribute.
    pub range: String,
}

/// A checked entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Its name.
    pub name: String,
    /// Attribute types by name.
    pub attributes: BTreeMap<String, AttributeType>,
    /// Its indexes, in declaration order.
    pub indexes: Vec<EntityIndex>,
}

/// The entities a run can use, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityCatalog {
    entities: BTreeMap<String, Entity>,
}

/// A declaration that cannot be used; the message says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EntityDeclarationError(String);

/// Entity names: 3 to 60 of `a-z 0-9 : - _ .` (Forge's rule).
fn valid_entity_name(name: &str) -> bool {
    (3..=60).contains(&name.len())
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '-' | '_' | '.')
        })
}

/// Attribute and index names: 1 to 64 of `a-z A-Z 0-9 : - _ .`.
fn valid_attribute_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
}

impl EntityCatalog {
    /// Checks every declaration: names, types, and that each index names
    /// declared, indexable attributes.
    pub fn new(declarations: Vec<EntityDeclaration>) -> Result<Self, EntityDeclarationError> {
        let mut entities = BTreeMap::new();
        for declaration in declarations {
            let entity = checked(declaration)?;
            if entities.contains_key(&entity.name) {
                return Err(EntityDeclarationError(format!(
                    "entity '{}' is declared twice",
                    entity.name
                )));
            }
            entities.insert(entity.name.clone(), entity);
        }
        Ok(Self { entities })
    }

    /// Every entity, by name.
    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        self.entities.values()
    }

    /// The entity `name`, or an error that names the declared ones.
    pub(crate) fn entity(&self, name: &str) -> Result<&Entity, String> {
        self.entities.get(name).ok_or_else(|| {
            let declared = if self.entities.is_empty() {
                "no entity is declared".to_owned()
            } else {
                format!("declared entities: {}", names(self.entities.keys()))
            };
            format!(
                "Entity '{name}' is not declared ({declared}); declare it under [[entities]] in clockwork.toml"
            )
        })
    }
}

/// `'a', 'b'`, or `none`.
fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let listed: Vec<String> = names.map(|n| format!("'{n}'")).collect();
    if listed.is_empty() {
        "none".to_owned()
    } else {
        listed.join(", ")
    }
}

fn checked(declaration: EntityDeclaration) -> Result<Entity, EntityDeclarationError> {
    let entity = declaration.name;
    let fail = |message: String| {
        Err(EntityDeclarationError(format!(
            "entity '{entity}': {message}"
        )))
    };
    if !valid_entity_name(&entity) {
        return Err(EntityDeclarationError(format!(
            "invalid entity name '{entity}': use 3 to 60 characters of a-z, 0-9, ':', '-', '_' and '.'"
        )));
    }
    let attributes: BTreeMap<String, AttributeType> = declaration
        .attributes
        .into_iter()
        .map(|(name, attribute)| (name, attribute.kind))
        .collect();
    if let Some(bad) = attributes.keys().find(|name| !valid_attribute_name(name)) {
        return fail(format!(
            "invalid attribute name '{bad}': use 1 to 64 characters of a-z, A-Z, 0-9, ':', '-', '_' and '.'"
        ));
    }
    let mut indexes: Vec<EntityIndex> = Vec::new();
    for index in declaration.indexes {
        let index = match index {
            IndexDeclaration::Attribute(attribute) => EntityIndex {
                name: attribute.clone(),
                partition: Vec::new(),
                range: attribute,
            },
            IndexDeclaration::Named {
                name,
                partition,
                mut range,
            } => {
                if range.len() != 1 {
                    return fail(format!(
                        "index '{name}' has {} range attributes; an index has exactly one",
                        range.len()
                    ));
                }
                EntityIndex {
                    name,
                    partition,
                    range: range.remove(0),
                }
            }
        };
        if !valid_attribute_name(&index.name) {
            return fail(format!(
                "invalid index name '{}': use 1 to 64 characters of a-z, A-Z, 0-9, ':', '-', '_' and '.'",
                index.name
            ));
        }
        if indexes.iter().any(|other| other.name == index.name) {
            return fail(format!("index '{}' is declared twice", index.name));
        }
        for attribute in index.partition.iter().chain([&index.range]) {
            match attributes.get(attribute) {
                None => {
                    return fail(format!(
                        "index '{}' uses attribute '{attribute}', which is not declared (declared: {})",
                        index.name,
                        names(attributes.keys())
                    ));
                }
                Some(AttributeType::Any) => {
                    return fail(format!(
                        "index '{}' uses attribute '{attribute}' of type any; indexes use string, integer, float or boolean attributes",
                        index.name
                    ));
                }
                Some(_) => {}
            }
        }
        indexes.push(index);
    }
    Ok(Entity {
        name: entity,
        attributes,
        indexes,
    })
}

impl Entity {
    /// Checks a value before it is stored: an object whose attributes are
    /// declared and of their declared types.
    pub(crate) fn check_value(&self, key: &str, value: &Value) -> Result<(), String> {
        let Some(object) = value.as_object() else {
            return Err(format!(
                "Value for key \"{key}\" of entity '{}' must be an object of its attributes",
                self.name
            ));
        };
        for (attribute, item) in object {
            let Some(kind) = self.attributes.get(attribute) else {
                return Err(format!(
                    "Entity '{}' has no attribute '{attribute}' (declared: {})",
                    self.name,
                    names(self.attributes.keys())
                ));
            };
            if !kind.holds(item) {
                return Err(format!(
                    "Attribute '{attribute}' of entity '{}' is of type {}, not {item}",
                    self.name,
                    kind.name()
                ));
            }
        }
        Ok(())
    }

    fn index(&self, name: &str) -> Result<&EntityIndex, String> {
        self.indexes
            .iter()
            .find(|index| index.name == name)
            .ok_or_else(|| {
                let declared = if self.indexes.is_empty() {
                    "it declares no index".to_owned()
                } else {
                    format!(
                        "declared indexes: {}",
                        names(self.indexes.iter().map(|index| &index.name))
                    )
                };
                format!("Entity '{}' has no index '{name}' ({declared})", self.name)
            })
    }

    fn kind(&self, attribute: &str) -> AttributeType {
        self.attributes
            .get(attribute)
            .copied()
            .unwrap_or(AttributeType::Any)
    }
}

// ---------------------------------------------------------------------------
// Queries

/// A condition as the prelude sends it: `{ condition: 'BETWEEN', values: [a, b] }`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Condition {
    condition: String,
    #[serde(default)]
    values: Vec<Value>,
}

/// The filters of a query as the prelude sends them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterRequest {
    /// `and` or `or`.
    operator: String,
    conditions: Vec<AttributeCondition>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AttributeCondition {
    attribute: String,
    #[serde(flatten)]
    condition: Condition,
}

/// What a range condition selects.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityRange {
    /// Every value.
    All,
    /// Strings starting with this one.
    Prefix(String),
    /// Values between two bounds.
    Between(Bound<Value>, Bound<Value>),
}

/// One validated page request on an entity's index.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityQuery {
    /// The entity.
    pub entity: String,
    /// The index.
    pub index: String,
    /// The partition's values, in the index's order.
    pub partition: Vec<Value>,
    /// The condition on the range attribute.
    pub range: EntityRange,
    /// Largest first.
    pub descending: bool,
    /// Where the previous page ended.
    pub cursor: Option<String>,
    /// Results per page.
    pub limit: usize,
}

/// The checked query and its filter.
pub(crate) struct CheckedQuery {
    pub(crate) query: EntityQuery,
    pub(crate) filter: Filter,
}

/// Checks a query's index, partition, condition, filters and sort against
/// the entity.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_query(
    entity: &Entity,
    index: Option<String>,
    partition: Option<Vec<Value>>,
    condition: Option<Condition>,
    filters: Option<FilterRequest>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: usize,
) -> Result<CheckedQuery, String> {
    let Some(index) = index else {
        return Err(format!(
            "A query on entity '{}' needs .index(name): every query walks one index",
            entity.name
        ));
    };
    let index = entity.index(&index)?;
    let partition = partition.unwrap_or_default();
    if partition.len() != index.partition.len() {
        return Err(format!(
            "Index '{}' of entity '{}' is partitioned by [{}]: give .index('{}', {{ partition: [...] }}) {} value(s), not {}",
            index.name,
            entity.name,
            index.partition.join(", "),
            index.name,
            index.partition.len(),
            partition.len()
        ));
    }
    for (attribute, value) in index.partition.iter().zip(&partition) {
        check_typed(entity, attribute, value, "partition value")?;
    }
    let range = match condition {
        None => EntityRange::All,
        Some(condition) => range_of(entity, &index.range, condition)?,
    };
    let filter = match filters {
        None => Filter::default(),
        Some(filters) => Filter::checked(entity, filters)?,
    };
    let descending = match sort.as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => {
            return Err(format!(
                "Invalid sort \"{other}\": use Sort.ASC or Sort.DESC"
            ));
        }
    };
    Ok(CheckedQuery {
        query: EntityQuery {
            entity: entity.name.clone(),
            index: index.name.clone(),
            partition,
            range,
            descending,
            cursor,
            limit,
        },
        filter,
    })
}

fn check_typed(entity: &Entity, attribute: &str, value: &Value, what: &str) -> Result<(), String> {
    let kind = entity.kind(attribute);
    if kind.holds(value) && !value.is_null() {
        return Ok(());
    }
    Err(format!(
        "Invalid {what} {value} for attribute '{attribute}' of entity '{}': it is of type {}",
        entity.name,
        kind.name()
    ))
}

fn arity(condition: &Condition, wanted: usize) -> Result<(), String> {
    if condition.values.len() == wanted {
        return Ok(());
    }
    Err(format!(
        "Condition {} takes {wanted} value(s), not {}",
        condition.condition,
        condition.values.len()
    ))
}

fn range_of(entity: &Entity, attribute: &str, condition: Condition) -> Result<EntityRange, String> {
    let name = condition.condition.as_str();
    let one = || -> Result<Value, String> {
        arity(&condition, 1)?;
        check_typed(entity, attribute, &condition.values[0], "condition value")?;
        Ok(condition.values[0].clone())
    };
    Ok(match name {
        "BEGINS_WITH" => {
            if entity.kind(attribute) != AttributeType::String {
                return Err(format!(
                    "beginsWith needs a string range attribute; '{attribute}' of entity '{}' is of type {}",
                    entity.name,
                    entity.kind(attribute).name()
                ));
            }
            match one()? {
                Value::String(prefix) => EntityRange::Prefix(prefix),
                _ => EntityRange::All,
            }
        }
        "EQUAL_TO" => {
            let value = one()?;
            EntityRange::Between(Bound::Included(value.clone()), Bound::Included(value))
        }
        "GREATER_THAN" => EntityRange::Between(Bound::Excluded(one()?), Bound::Unbounded),
        "GREATER_THAN_EQUAL_TO" => EntityRange::Between(Bound::Included(one()?), Bound::Unbounded),
        "LESS_THAN" => EntityRange::Between(Bound::Unbounded, Bound::Excluded(one()?)),
        "LESS_THAN_EQUAL_TO" => EntityRange::Between(Bound::Unbounded, Bound::Included(one()?)),
        "BETWEEN" => {
            arity(&condition, 2)?;
            for value in &condition.values {
                check_typed(entity, attribute, value, "condition value")?;
            }
            EntityRange::Between(
                Bound::Included(condition.values[0].clone()),
                Bound::Included(condition.values[1].clone()),
            )
        }
        other => {
            return Err(format!(
                "where() takes a WhereConditions condition (equalsTo, beginsWith, between, greaterThan, \
                 greaterThanEqualTo, lessThan, lessThanEqualTo), not {other}"
            ));
        }
    })
}

// ---------------------------------------------------------------------------
// Filters

/// Conditions on attributes, all (`and`) or any (`or`) of which a result
/// must meet. Evaluated on the rows the index selects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    any: bool,
    conditions: Vec<(String, FilterOp)>,
}

#[derive(Debug, Clone)]
enum FilterOp {
    Compare(std::cmp::Ordering, bool, Value),
    NotEqual(Value),
    Between(Value, Value),
    BeginsWith(String),
    Contains(Value),
    NotContains(Value),
    Exists,
    NotExists,
}

impl Filter {
    fn checked(entity: &Entity, request: FilterRequest) -> Result<Self, String> {
        let any = match request.operator.as_str() {
            "and" => false,
            "or" => true,
            other => {
                return Err(format!(
                    "Invalid filter operator \"{other}\": use and or or"
                ));
            }
        };
        let mut conditions = Vec::with_capacity(request.conditions.len());
        for AttributeCondition {
            attribute,
            condition,
        } in request.conditions
        {
            if !entity.attributes.contains_key(&attribute) {
                return Err(format!(
                    "Entity '{}' has no attribute '{attribute}' to filter on (declared: {})",
                    entity.name,
                    names(entity.attributes.keys())
                ));
            }
            conditions.push((attribute, filter_op(condition)?));
        }
        Ok(Self { any, conditions })
    }

    /// Whether `value` is a result. No condition: every value is.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        let holds = |(attribute, op): &(String, FilterOp)| op.holds(value.get(attribute));
        if self.any {
            self.conditions.iter().any(holds)
        } else {
            self.conditions.iter().all(holds)
        }
    }
}

fn filter_op(condition: Condition) -> Result<FilterOp, String> {
    use std::cmp::Ordering::{Greater, Less};
    let one = |condition: &Condition| -> Result<Value, String> {
        arity(condition, 1)?;
        Ok(condition.values[0].clone())
    };
    Ok(match condition.condition.as_str() {
        "EQUAL_TO" => FilterOp::Compare(std::cmp::Ordering::Equal, true, one(&condition)?),
        "NOT_EQUAL_TO" => FilterOp::NotEqual(one(&condition)?),
        "GREATER_THAN" => FilterOp::Compare(Greater, false, one(&condition)?),
        "GREATER_THAN_EQUAL_TO" => FilterOp::Compare(Greater, true, one(&condition)?),
        "LESS_THAN" => FilterOp::Compare(Less, false, one(&condition)?),
        "LESS_THAN_EQUAL_TO" => FilterOp::Compare(Less, true, one(&condition)?),
        "BETWEEN" => {
            arity(&condition, 2)?;
            FilterOp::Between(condition.values[0].clone(), condition.values[1].clone())
        }
        "BEGINS_WITH" => match one(&condition)? {
            Value::String(prefix) => FilterOp::BeginsWith(prefix),
            other => return Err(format!("beginsWith takes a string, not {other}")),
        },
        "CONTAINS" => FilterOp::Contains(one(&condition)?),
        "NOT_CONTAINS" => FilterOp::NotContains(one(&condition)?),
        "EXISTS" => FilterOp::Exists,
        "NOT_EXISTS" => FilterOp::NotExists,
        other => {
            return Err(format!(
                "Unknown filter condition {other}: use FilterConditions"
            ));
        }
    })
}

/// Numbers by value, strings by code point, booleans false < true; other
/// pairs do not compare.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn contains(haystack: &Value, needle: &Value) -> Option<bool> {
    match (haystack, needle) {
        (Value::String(text), Value::String(part)) => Some(text.contains(part.as_str())),
        (Value::Array(items), needle) => Some(items.iter().any(|item| {
            compare(item, needle) == Some(std::cmp::Ordering::Equal) || item == needle
        })),
        _ => None,
    }
}

impl FilterOp {
    /// A missing attribute meets only `notExists`.
    fn holds(&self, attribute: Option<&Value>) -> bool {
        let Some(value) = attribute else {
            return matches!(self, Self::NotExists);
        };
        match self {
            Self::Compare(direction, or_equal, other) => {
                compare(value, other).is_some_and(|order| {
                    order == *direction || (*or_equal && order == std::cmp::Ordering::Equal)
                })
            }
            Self::NotEqual(other) => {
                compare(value, other).map_or(value != other, |order| order.is_ne())
            }
            Self::Between(low, high) => {
                compare(value, low).is_some_and(|order| order.is_ge())
                    && compare(value, high).is_some_and(|order| order.is_le())
            }
            Self::BeginsWith(prefix) => value
                .as_str()
                .is_some_and(|text| text.starts_with(prefix.as_str())),
            Self::Contains(needle) => contains(value, needle) == Some(true),
            Self::NotContains(needle) => contains(value, needle) == Some(false),
            Self::Exists => true,
            Self::NotExists => false,
        }
    }
}
