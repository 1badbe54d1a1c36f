//! What an order freezes for fulfilment: per option its label, value label and SKU, the composed variant SKU and the resolved bill of materials (typed, stored as the order's `fulfilment` JSON, read back with defaults for older orders).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppError;
use super::values::{OptionValue, value_label};
use crate::catalog::{OptionKind, Product};
use crate::orders::{BomFrom, BomLine, bill, variant_sku};
use crate::rules::Selection;

/// The fulfilment part of an order. Every field defaults, so orders stored before it read as
/// having none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfilment {
    #[serde(default)]
    pub options: Vec<OrderOption>,
    #[serde(default)]
    pub variant_sku: Option<String>,
    #[serde(default)]
    pub bom: Vec<BomLineView>,
}

/// One option of an ordered configuration, as a workshop reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderOption {
    /// The option id.
    pub option: String,
    /// The option's label.
    pub label: String,
    /// The value, typed as in selections.
    pub value: OptionValue,
    /// The value as a shopper reads it (the choice value's label, "Yes"/"No", the number, the text).
    pub value_label: String,
    /// The choice value's SKU, when the catalog gives one.
    pub sku: Option<String>,
}

/// One line of an order's bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BomLineView {
    /// The part id.
    pub part: String,
    /// The exact total quantity for the order (per-item quantity × order quantity), as a
    /// decimal string.
    #[schema(value_type = String, example = "1.28")]
    pub quantity: Decimal,
    /// The unit the catalog gives (free text), or null.
    pub unit: Option<String>,
    /// The declarations that contributed, in catalog order.
    pub from: Vec<BomSource>,
}

/// A declaration that contributed to a bill-of-materials line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BomSource {
    /// An entry of the product's `bom:` list, by its id (`bom[<index>]` when it has none).
    Rule { id: String },
    /// A choice value's `bom:`.
    Value { option: String, value: String },
}

impl BomLineView {
    pub fn of(l: &BomLine) -> BomLineView {
        BomLineView {
            part: l.part.clone(),
            quantity: l.quantity,
            unit: l.unit.clone(),
            from: l
                .from
                .iter()
                .map(|f| match f {
                    BomFrom::Rule { id } => BomSource::Rule { id: id.clone() },
                    BomFrom::Value { option, value } => BomSource::Value {
                        option: option.clone(),
                        value: value.clone(),
                    },
                })
                .collect(),
        }
    }
}

/// The fulfilment data of a complete, valid selection of `product`: its options in product
/// order (those with a value), the variant SKU and the bill of materials.
pub fn fulfilment(product: &Product, selection: &Selection) -> Result<Fulfilment, AppError> {
    let options = product
        .options
        .iter()
        .enumerate()
        .filter_map(|(o, opt)| {
            let v = selection.get(o)?;
            let sku = match (&opt.kind, v) {
                (OptionKind::Choice(c), crate::catalog::Value::Choice(i)) => {
                    c.values.get(*i).and_then(|x| x.sku.clone())
                }
                _ => None,
            };
            Some(OrderOption {
                option: opt.id.clone(),
                label: opt.label.clone(),
                value: OptionValue::of(product, o, v),
                value_label: value_label(product, o, v),
                sku,
            })
        })
        .collect();
    let bom = bill(product, selection)?;
    Ok(Fulfilment {
        options,
        variant_sku: variant_sku(product, selection),
        bom: bom.iter().map(BomLineView::of).collect(),
    })
}

impl Fulfilment {
    /// As stored in the order's `fulfilment` column.
    pub fn stored(&self) -> Result<serde_json::Value, AppError> {
        serde_json::to_value(self).map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Read back from a stored order (null: an order placed before fulfilment data existed).
    pub fn from_stored(order_id: &str, v: &serde_json::Value) -> Result<Fulfilment, AppError> {
        if v.is_null() {
            return Ok(Fulfilment::default());
        }
        serde_json::from_value(v.clone())
            .map_err(|e| AppError::Internal(format!("order {order_id}: stored fulfilment: {e}")))
    }
}
