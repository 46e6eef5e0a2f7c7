//! Reads a parsed JSON value as a request type the way the API documents
//! it: a struct only from a JSON object. serde's derived structs also read
//! a JSON array as their fields in order (`[null, null]` as a `UserPatch`),
//! which no client means and the OpenAPI document does not allow.

use serde::de::{
    self, IntoDeserializer, Unexpected, Visitor,
    value::{MapAccessDeserializer, MapDeserializer, SeqDeserializer},
};
use serde_json::{Error, Value};

/// A JSON value read strictly: see the module's documentation.
pub(crate) struct Strict(pub(crate) Value);

impl<'de> IntoDeserializer<'de, Error> for Strict {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => n
            .as_u64()
            .map(Unexpected::Unsigned)
            .or_else(|| n.as_i64().map(Unexpected::Signed))
            .unwrap_or_else(|| Unexpected::Float(n.as_f64().unwrap_or_default())),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

fn members(
    object: serde_json::Map<String, Value>,
) -> MapDeserializer<'static, impl Iterator<Item = (String, Strict)>, Error> {
    MapDeserializer::new(object.into_iter().map(|(key, value)| (key, Strict(value))))
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => de::Deserializer::deserialize_any(
                SeqDeserializer::new(items.into_iter().map(Strict)),
                visitor,
            ),
            Value::Object(object) => de::Deserializer::deserialize_any(members(object), visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(object) => de::Deserializer::deserialize_any(members(object), visitor),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Strict(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            Value::Object(object) => {
                visitor.visit_enum(MapAccessDeserializer::new(members(object)))
            }
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// Reads `value` as a `T` through [`Strict`], keeping the path of the
/// field an error concerns.
pub(crate) fn from_value<T: de::DeserializeOwned>(
    value: Value,
) -> Result<T, serde_path_to_error::Error<Error>> {
    serde_path_to_error::deserialize(Strict(value))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Skip,
        Queue { depth: u32 },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Option<Inner>,
        mode: Option<Mode>,
        list: Option<Vec<u8>>,
        map: Option<BTreeMap<String, String>>,
        any: Option<Value>,
    }

    fn read(value: Value) -> Result<Outer, String> {
        from_value::<Outer>(value).map_err(|error| format!("{}: {}", error.path(), error.inner()))
    }

    #[test]
    fn objects_read_as_structs_and_everything_else_as_before() {
        let outer = read(serde_json::json!({
            "inner": {"a": 1}, "mode": {"queue": {"depth": 2}}, "list": [1, 2],
            "map": {"k": "v"}, "any": [1, {"x": null}]
        }))
        .unwrap();
        assert_eq!(outer.inner, Some(Inner { a: Some(1) }));
        assert_eq!(outer.mode, Some(Mode::Queue { depth: 2 }));
        assert_eq!(outer.list, Some(vec![1, 2]));
        assert_eq!(outer.any, Some(serde_json::json!([1, {"x": null}])));
        assert_eq!(
            read(serde_json::json!({"mode": "skip"})).unwrap().mode,
            Some(Mode::Skip)
        );
    }

    #[test]
    fn an_array_is_not_a_struct_at_any_depth() {
        assert!(
            read(serde_json::json!([null, null, null, null, null]))
                .unwrap_err()
                .contains("invalid type: sequence")
        );
        let nested = read(serde_json::json!({"inner": [1]})).unwrap_err();
        assert!(
            nested.starts_with("inner: invalid type: sequence"),
            "{nested}"
        );
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_their_path() {
        let error = read(serde_json::json!({"inner": {"a": "x"}})).unwrap_err();
        assert!(
            error.starts_with("inner.a: invalid type: string"),
            "{error}"
        );
        let error = read(serde_json::json!({"inner": {"b": 1}})).unwrap_err();
        assert!(error.contains("unknown field `b`"), "{error}");
        let error = read(serde_json::json!({"mode": {}})).unwrap_err();
        assert!(error.starts_with("mode:"), "{error}");
    }
}
