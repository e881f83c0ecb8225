//! `google.protobuf.Struct` ↔ `serde_json::Value`, by hand (prost-types has no serde support).
//!
//! Protobuf numbers are `f64`: an integral number within ±2^53 becomes a JSON integer on the way
//! back, so `replicas: 2` stays `2` and never turns into `2.0`.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value as PbValue};
use serde_json::{Map, Number, Value};

use crate::error::FunctionError;

/// The largest integer an `f64` holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// Converts a protobuf struct into a JSON object.
pub fn struct_to_json(s: &Struct) -> Value {
    Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

/// Converts a protobuf value into JSON (an unset kind is `null`; NaN and infinities too).
pub fn value_to_json(v: &PbValue) -> Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::NumberValue(n)) => number_to_json(*n),
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(value_to_json).collect()),
    }
}

fn number_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // Integral and exactly representable: the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Converts a JSON object into a protobuf struct; anything else is an error.
pub fn json_to_struct(v: &Value) -> Result<Struct, FunctionError> {
    match v {
        Value::Object(m) => Ok(map_to_struct(m)),
        other => Err(FunctionError::NotAnObject { what: json_kind(other).to_owned() }),
    }
}

fn map_to_struct(m: &Map<String, Value>) -> Struct {
    Struct { fields: m.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect() }
}

/// Converts JSON into a protobuf value (numbers become `f64`).
pub fn json_to_value(v: &Value) -> PbValue {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(ListValue { values: a.iter().map(json_to_value).collect() }),
        Value::Object(m) => Kind::StructValue(map_to_struct(m)),
    };
    PbValue { kind: Some(kind) }
}

/// A short name of a JSON value's type, for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-1_000_000i64..1_000_000).prop_map(Value::from),
            (-1000.0f64..1000.0).prop_filter("fractional", |f| f.fract() != 0.0).prop_map(Value::from),
            "[a-z0-9 ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,5}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(m in prop::collection::btree_map("[a-z]{1,5}", arb_json(), 0..5)) {
            let v = Value::Object(m.into_iter().collect());
            let s = json_to_struct(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Key order of protobuf maps is not preserved: compare as sorted values.
            let back = struct_to_json(&s);
            prop_assert_eq!(serde_json::to_string(&sorted(&back)).ok(), serde_json::to_string(&sorted(&v)).ok());
        }
    }

    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: std::collections::BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
                Value::Object(b.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            o => o.clone(),
        }
    }

    #[test]
    fn integers_stay_integers_and_non_objects_are_refused() {
        let s = json_to_struct(&json!({"replicas": 2, "ratio": 0.5})).ok();
        assert_eq!(s.map(|s| struct_to_json(&s)), Some(json!({"replicas": 2, "ratio": 0.5})));
        assert!(json_to_struct(&json!([1])).is_err());
        assert_eq!(number_to_json(f64::NAN), Value::Null);
    }
}
