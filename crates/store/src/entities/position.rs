//! Where a value sits in an index: byte strings whose bytewise order (the
//! order of `BLOB` on SQLite and `BYTEA` on PostgreSQL) is the order of the
//! values they encode, so one B-tree range scan answers a range condition.
//!
//! A scalar is a type tag then its payload: `false < true`, numbers by
//! value (integers and floats alike, as JavaScript numbers), strings by
//! code point. Tags keep the types apart, so a bound of one type never
//! reaches values of another.

use std::ops::Bound;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

const BOOLEAN: u8 = 0x01;
const NUMBER: u8 = 0x02;
const STRING: u8 = 0x03;
/// Above every tag: the upper end of an index.
const TOP: u8 = 0xff;

/// The encoding of a boolean, number or string; `None` for the other JSON
/// types, which no index holds.
pub(crate) fn scalar(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::Bool(flag) => Some(vec![BOOLEAN, u8::from(*flag)]),
        Value::Number(number) => {
            let mut bytes = vec![NUMBER];
            bytes.extend(ordered_f64(number.as_f64()?));
            Some(bytes)
        }
        Value::String(text) => {
            let mut bytes = vec![STRING];
            bytes.extend_from_slice(text.as_bytes());
            Some(bytes)
        }
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// IEEE 754 bits rearranged so unsigned byte order is numeric order:
/// negatives have every bit flipped, the rest only the sign bit.
fn ordered_f64(number: f64) -> [u8; 8] {
    // -0 and 0 are one number to JavaScript.
    let number = if number == 0.0 { 0.0 } else { number };
    let bits = number.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

/// The partition's values, each length-prefixed (partitions only compare
/// for equality); `None` when one is not a scalar.
pub(crate) fn partition(values: &[Value]) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    for value in values {
        let encoded = scalar(value)?;
        let len = u32::try_from(encoded.len()).ok()?;
        bytes.extend(len.to_be_bytes());
        bytes.extend(encoded);
    }
    Some(bytes)
}

/// The least byte string greater than `bytes`.
fn successor(bytes: &[u8]) -> Vec<u8> {
    let mut next = bytes.to_vec();
    next.push(0);
    next
}

/// `[lower, upper)` in byte space: the index positions a range condition
/// selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) lower: Vec<u8>,
    pub(crate) upper: Vec<u8>,
}

impl Span {
    /// Every position.
    pub(crate) fn all() -> Self {
        Self {
            lower: Vec::new(),
            upper: vec![TOP],
        }
    }

    /// The strings that start with `prefix`: no UTF-8 byte is `0xff`.
    pub(crate) fn prefix(prefix: &str) -> Self {
        let lower = scalar(&Value::String(prefix.to_owned())).unwrap_or_default();
        let mut upper = lower.clone();
        upper.push(TOP);
        Self { lower, upper }
    }

    /// The values between two bounds; an unbounded side stops at the end
    /// of the other bound's type. `None` when a bound is not a scalar.
    pub(crate) fn between(lower: &Bound<Value>, upper: &Bound<Value>) -> Option<Self> {
        let encoded = |bound: &Bound<Value>| match bound {
            Bound::Included(value) | Bound::Excluded(value) => scalar(value).map(Some),
            Bound::Unbounded => Some(None),
        };
        let (low, high) = (encoded(lower)?, encoded(upper)?);
        let tag = low
            .as_ref()
            .or(high.as_ref())
            .and_then(|b| b.first().copied());
        let lower = match (lower, low) {
            (Bound::Excluded(_), Some(bytes)) => successor(&bytes),
            (_, Some(bytes)) => bytes,
            (_, None) => tag.map_or_else(Vec::new, |tag| vec![tag]),
        };
        let upper = match (upper, high) {
            (Bound::Included(_), Some(bytes)) => successor(&bytes),
            (_, Some(bytes)) => bytes,
            (_, None) => vec![tag.map_or(TOP, |tag| tag.saturating_add(1))],
        };
        Some(Self { lower, upper })
    }

    /// The part of the span after (ascending) or before (descending) `at`.
    pub(crate) fn resumed(&self, at: &Position, descending: bool) -> Self {
        let mut span = self.clone();
        if descending {
            span.upper = span.upper.min(successor(&at.range));
        } else {
            span.lower = span.lower.max(at.range.clone());
        }
        span
    }
}

/// A row's place in an index walk: its range value, then its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) range: Vec<u8>,
    pub(crate) key: String,
}

impl Position {
    /// Before every row of an ascending walk (no key is empty), or after
    /// every row of a descending one.
    pub(crate) fn start(descending: bool) -> Self {
        Self {
            range: if descending {
                vec![TOP, TOP]
            } else {
                Vec::new()
            },
            key: String::new(),
        }
    }

    /// The opaque cursor handed to the caller.
    pub(crate) fn cursor(&self) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&self.range),
            URL_SAFE_NO_PAD.encode(&self.key)
        )
    }

    /// The position a [`Position::cursor`] names; `None` for other text.
    pub(crate) fn from_cursor(cursor: &str) -> Option<Self> {
        let (range, key) = cursor.split_once('.')?;
        let range = URL_SAFE_NO_PAD.decode(range).ok()?;
        let key = String::from_utf8(URL_SAFE_NO_PAD.decode(key).ok()?).ok()?;
        (!range.is_empty() && !key.is_empty()).then_some(Self { range, key })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn byte_order_is_value_order() {
        let ordered = [
            json!(false),
            json!(true),
            json!(-1e300),
            json!(-2.5),
            json!(-1),
            json!(-0.0),
            json!(0),
            json!(1e-300),
            json!(1),
            json!(1.5),
            json!(2),
            json!(9007199254740993u64),
            json!(1e300),
            json!(""),
            json!("A"),
            json!("a"),
            json!("a\u{0}"),
            json!("ab"),
            json!("é"),
            json!("日本"),
            json!("😀"),
        ];
        let encoded: Vec<Vec<u8>> = ordered.iter().map(|v| scalar(v).unwrap()).collect();
        for pair in encoded.windows(2) {
            assert!(pair[0] <= pair[1], "{pair:?}");
        }
        assert_eq!(scalar(&json!(-0.0)), scalar(&json!(0)));
        assert_eq!(scalar(&json!(1.0)), scalar(&json!(1)));
        assert_eq!(scalar(&json!(null)), None);
        assert_eq!(scalar(&json!([1])), None);
    }

    fn inside(span: &Span, value: &Value) -> bool {
        let bytes = scalar(value).unwrap();
        span.lower <= bytes && bytes < span.upper
    }

    #[test]
    fn spans_select_what_their_bounds_say() {
        let values = [json!(true), json!(1), json!(2), json!(3), json!("2")];
        let span = |lower, upper| Span::between(&lower, &upper).unwrap();
        let picked = |span: Span| -> Vec<Value> {
            values
                .iter()
                .filter(|v| inside(&span, v))
                .cloned()
                .collect()
        };
        use Bound::{Excluded, Included, Unbounded};
        assert_eq!(
            picked(span(Included(json!(2)), Unbounded)),
            [json!(2), json!(3)]
        );
        assert_eq!(picked(span(Excluded(json!(2)), Unbounded)), [json!(3)]);
        assert_eq!(
            picked(span(Unbounded, Included(json!(2)))),
            [json!(1), json!(2)]
        );
        assert_eq!(picked(span(Unbounded, Excluded(json!(2)))), [json!(1)]);
        assert_eq!(
            picked(span(Included(json!(1)), Included(json!(3)))),
            [json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            picked(span(Included(json!(2)), Included(json!(2)))),
            [json!(2)]
        );
        assert_eq!(picked(Span::all()).len(), values.len());
        let words = ["a", "ab", "abc", "abd", "ac", "b"].map(|w| json!(w));
        let prefixed: Vec<&Value> = words
            .iter()
            .filter(|w| inside(&Span::prefix("ab"), w))
            .collect();
        assert_eq!(prefixed, [&json!("ab"), &json!("abc"), &json!("abd")]);
    }

    #[test]
    fn cursors_round_trip_and_refuse_foreign_text() {
        let at = Position {
            range: scalar(&json!("x.y")).unwrap(),
            key: "k.1 日本".into(),
        };
        assert_eq!(Position::from_cursor(&at.cursor()), Some(at));
        for bad in ["", ".", "!!.a", "AQ", "AQ.", ".YQ", "AQ.__8"] {
            assert_eq!(Position::from_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn partitions_are_unambiguous() {
        let ab = partition(&[json!("a"), json!("b")]).unwrap();
        let a_b = partition(&[json!("ab"), json!("")]).unwrap();
        assert_ne!(ab, a_b);
        assert_eq!(partition(&[json!(1)]), partition(&[json!(1.0)]));
        assert_eq!(partition(&[json!({"a": 1})]), None);
        assert_eq!(partition(&[]), Some(Vec::new()));
    }
}
