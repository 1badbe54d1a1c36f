//! Response views of the product schema (what a configurator UI draws) built from the resolved model.

use serde::Serialize;
use utoipa::ToSchema;

use crate::catalog::model::{OptionKind, Product, Value};

/// A product in the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    /// The lowest total over all valid configurations ("from €X"), as a decimal string.
    pub from_price: Option<String>,
    /// A small preview of the default configuration.
    pub thumbnail: Option<String>,
    /// The product's content version.
    pub version: String,
}

/// A product with everything a configurator UI needs to draw it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDetail {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    pub base_price: String,
    pub version: String,
    pub groups: Vec<GroupView>,
    pub options: Vec<OptionView>,
    /// Preview image size in template units (width, height), when the product has a preview.
    pub preview_size: Option<[u32; 2]>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub label: String,
}

/// One option's schema.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionView {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    /// `choice`, `boolean`, `integer`, `text` or `quantity`.
    #[serde(rename = "type")]
    pub kind: String,
    pub group: Option<String>,
    pub required: bool,
    /// The default value (string, number or boolean).
    #[schema(value_type = Object)]
    pub default: serde_json::Value,
    /// Choice values (choice options only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueView>,
    /// Integer and quantity options: the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,
    /// Text options: length bounds, allowed characters, pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A flat price (boolean on, text present), as a decimal string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Text: price per character; integer: price per unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_unit: Option<String>,
}

/// One value of a choice option.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueView {
    pub id: String,
    pub label: String,
    pub description: Option<String>,
    /// `#rrggbb`.
    pub swatch: Option<String>,
    pub image: Option<String>,
    pub sku: Option<String>,
    /// Surcharge, as a decimal string.
    pub price: Option<String>,
}

fn default_json(product: &Product, o: usize, v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::json!(b),
        Value::Int(n) => serde_json::json!(n),
        _ => serde_json::json!(crate::rules::selection::value_text(product, o, v)),
    }
}

impl ProductDetail {
    pub fn of(p: &Product) -> ProductDetail {
        let dec = |d: &rust_decimal::Decimal| d.to_string();
        let options = p
            .options
            .iter()
            .enumerate()
            .map(|(o, opt)| {
                let mut view = OptionView {
                    id: opt.id.clone(),
                    label: opt.label.clone(),
                    description: opt.description.clone(),
                    kind: opt.kind.type_name().to_owned(),
                    group: opt.group.clone(),
                    required: opt.required,
                    default: opt
                        .default
                        .as_ref()
                        .map_or(serde_json::Value::Null, |v| default_json(p, o, v)),
                    values: Vec::new(),
                    min: None,
                    max: None,
                    step: None,
                    min_length: None,
                    max_length: None,
                    charset: None,
                    pattern: None,
                    price: None,
                    price_per_unit: None,
                };
                match &opt.kind {
                    OptionKind::Choice(c) => {
                        view.values = c
                            .values
                            .iter()
                            .map(|v| ValueView {
                                id: v.id.clone(),
                                label: v.label.clone(),
                                description: v.description.clone(),
                                swatch: v.swatch.map(|s| s.to_hex()),
                                image: v.image.clone(),
                                sku: v.sku.clone(),
                                price: v.price.as_ref().map(dec),
                            })
                            .collect();
                    }
                    OptionKind::Boolean { price } => view.price = price.as_ref().map(dec),
                    OptionKind::Integer(r) | OptionKind::Quantity(r) => {
                        view.min = Some(r.min);
                        view.max = Some(r.max);
                        view.step = Some(r.step);
                        view.price_per_unit = r.price_per_unit.as_ref().map(dec);
                    }
                    OptionKind::Upload(u) => {
                        view.price = u.price.as_ref().map(dec);
                    }
                    OptionKind::Text(t) => {
                        view.min_length = Some(t.min_len);
                        view.max_length = Some(t.max_len);
                        view.charset = t.charset.clone();
                        view.pattern = t.pattern.clone();
                        view.price = t.price.as_ref().map(dec);
                        view.price_per_unit = t.price_per_char.as_ref().map(dec);
                    }
                }
                view
            })
            .collect();
        ProductDetail {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            currency: p.currency.code().to_owned(),
            base_price: p.base_price.to_string(),
            version: p.version.clone(),
            groups: p
                .groups
                .iter()
                .map(|g| GroupView {
                    id: g.id.clone(),
                    label: g.label.clone(),
                })
                .collect(),
            options,
            preview_size: p.preview.as_ref().map(|pv| [pv.width, pv.height]),
        }
    }
}
