//! Typed option values at the edge: one JSON representation per option kind (choice, text and upload: a string; boolean: a JSON boolean; integer and quantity: a JSON integer), and selections as ordered maps of them, read strictly and written the same way in every answer.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::catalog::model::{OptId, OptionKind, Product, Value};
use crate::rules::{Selection, SelectionError};

/// Most options a selection may name.
pub const MAX_CHOICES: usize = 512;

/// One option's value: a string for choice (the value id), text and upload (the upload id)
/// options, a JSON boolean for boolean options, a JSON integer for integer and quantity options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OptionValue {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OptionValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, an integer or a boolean")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<OptionValue, E> {
                Ok(OptionValue::Bool(b))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<OptionValue, E> {
                Ok(OptionValue::Int(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<OptionValue, E> {
                i64::try_from(n)
                    .map(OptionValue::Int)
                    .map_err(|_| E::custom(format!("{n} is too large an integer")))
            }
            /// JSON has one number type: `30.0` is the integer 30 (JSON Schema agrees); `2.5` is
            /// no option's value.
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<OptionValue, E> {
                const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53: exact in an f64
                if x.fract() == 0.0 && x.abs() <= LIMIT {
                    Ok(OptionValue::Int(x as i64))
                } else {
                    Err(E::custom(format!("{x} is not an integer")))
                }
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<OptionValue, E> {
                Ok(OptionValue::Text(s.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<OptionValue, E> {
                Ok(OptionValue::Text(s))
            }
        }
        d.deserialize_any(V)
    }
}

impl OptionValue {
    /// The typed value of `v` for option `o` of `product`.
    pub fn of(product: &Product, o: OptId, v: &Value) -> OptionValue {
        match v {
            Value::Bool(b) => OptionValue::Bool(*b),
            Value::Int(n) => OptionValue::Int(*n),
            Value::Text(s) => OptionValue::Text(s.clone()),
            Value::Choice(_) => {
                OptionValue::Text(crate::rules::selection::value_text(product, o, v))
            }
        }
    }

    /// The text form `Selection::parse` reads (the CLI's and query strings' form).
    pub fn as_text(&self) -> String {
        match self {
            OptionValue::Bool(b) => b.to_string(),
            OptionValue::Int(n) => n.to_string(),
            OptionValue::Text(s) => s.clone(),
        }
    }

    /// Whether this JSON type is the one option kind `kind` takes; else what it takes.
    fn check(&self, kind: &OptionKind) -> Result<(), &'static str> {
        match (kind, self) {
            (OptionKind::Boolean { .. }, OptionValue::Bool(_))
            | (OptionKind::Integer(_) | OptionKind::Quantity(_), OptionValue::Int(_))
            | (
                OptionKind::Choice(_) | OptionKind::Text(_) | OptionKind::Upload(_),
                OptionValue::Text(_),
            ) => Ok(()),
            (OptionKind::Boolean { .. }, _) => Err("a JSON boolean (true or false)"),
            (OptionKind::Integer(_) | OptionKind::Quantity(_), _) => Err("a JSON integer"),
            (OptionKind::Choice(_), _) => Err("a string: one of the option's value ids"),
            (OptionKind::Text(_), _) => Err("a string"),
            (OptionKind::Upload(_), _) => Err("a string: the id of an accepted upload"),
        }
    }
}

/// The label a shopper reads for a value: a choice value's label, "Yes"/"No", the number or the
/// text itself.
pub fn value_label(product: &Product, o: OptId, v: &Value) -> String {
    match (v, product.options.get(o).map(|x| &x.kind)) {
        (Value::Choice(i), Some(OptionKind::Choice(c))) => c
            .values
            .get(*i)
            .map_or_else(|| i.to_string(), |x| x.label.clone()),
        (Value::Bool(true), _) => "Yes".to_owned(),
        (Value::Bool(false), _) => "No".to_owned(),
        _ => crate::rules::selection::value_text(product, o, v),
    }
}

/// A selection as the API carries it: option id → value, **in the order the customer chose
/// them** (oldest first; repairs keep the most recent choices). Read from and written as a JSON
/// object; in a request, `null` means "not chosen".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices(pub Vec<(String, Option<OptionValue>)>);

impl PartialSchema for Choices {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "Option id → value, in the order chosen (oldest first). A choice, text or upload \
                 option takes a string, a boolean option a JSON boolean, an integer or quantity \
                 option a JSON integer.",
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(
                // In requests, `null` means "not chosen"; answers never hold it.
                utoipa::openapi::schema::OneOfBuilder::new()
                    .item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "OptionValue",
                    )))
                    .item(ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null))
                    .into(),
            )))
            .into()
    }
}

impl ToSchema for Choices {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("OptionValue".to_owned(), OptionValue::schema()));
    }
}

impl<'de> Deserialize<'de> for Choices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Choices;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an object mapping option ids to values (string, integer, boolean or null)",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Choices, A::Error> {
                let mut out: Vec<(String, Option<OptionValue>)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Option<OptionValue>>()? {
                    if out.len() >= MAX_CHOICES {
                        return Err(serde::de::Error::custom(format!(
                            "a selection names at most {MAX_CHOICES} options"
                        )));
                    }
                    if out.iter().any(|(x, _)| *x == k) {
                        return Err(serde::de::Error::custom(format!(
                            "`{k}` appears twice in the selection"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Choices(out))
            }
            /// The stored form: `[[option, value], …]`, which keeps the order in any JSON store.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Choices, A::Error> {
                let mut out: Vec<(String, Option<OptionValue>)> = Vec::new();
                while let Some((k, v)) = seq.next_element::<(String, Option<OptionValue>)>()? {
                    if out.len() >= MAX_CHOICES || out.iter().any(|(x, _)| *x == k) {
                        return Err(serde::de::Error::custom(format!(
                            "a stored selection names `{k}` twice or too many options"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Choices(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Choices {
    /// The form kept in the database: `[[option, value], …]` in the order chosen (a JSON object
    /// would lose the order in stores that sort keys). Read back by `Deserialize`, which takes
    /// both forms (rows written before kept objects).
    pub fn stored(&self) -> serde_json::Value {
        serde_json::Value::Array(self.set().map(|(k, v)| serde_json::json!([k, v])).collect())
    }
}

impl Serialize for Choices {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Choices {
    /// The typed choices of a parsed selection, in its order.
    pub fn of(product: &Product, sel: &Selection) -> Choices {
        Choices(
            sel.choices
                .iter()
                .filter_map(|(o, v)| {
                    let id = product.options.get(*o)?.id.clone();
                    Some((id, Some(OptionValue::of(product, *o, v))))
                })
                .collect(),
        )
    }

    /// The choices that are set (`null` left out), in order.
    pub fn set(&self) -> impl Iterator<Item = (&str, &OptionValue)> {
        self.0
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.as_str(), v)))
    }

    /// As a map (order dropped), for comparing selections value for value.
    pub fn to_map(&self) -> BTreeMap<String, OptionValue> {
        self.set().map(|(k, v)| (k.to_owned(), v.clone())).collect()
    }

    /// Reads the choices against `product` strictly: every value must have its option kind's
    /// JSON type (no `"yes"` for `true`, no `"30"` for `30`), then the value itself is checked as
    /// `Selection::parse` checks it.
    pub fn parse(&self, product: &Product) -> Result<Selection, SelectionError> {
        let mut pairs = Vec::with_capacity(self.0.len());
        for (k, v) in self.set() {
            if let Some((_, opt)) = product.option(k) {
                v.check(&opt.kind)
                    .map_err(|expected| SelectionError::WrongType {
                        option: k.to_owned(),
                        expected,
                    })?;
            }
            pairs.push((k.to_owned(), v.as_text()));
        }
        Selection::parse(product, &pairs)
    }
}
