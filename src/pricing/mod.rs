//! Pricing: exact, explained quotes of complete selections and exact price ranges of partial ones.
//!
//! Design (full description with a worked example in docs/pricing.md):
//!
//! - **Money** is `rust_decimal::Decimal`, never floating point. Every breakdown line is rounded
//!   to the currency's minor units, half to even, when it is computed; the running price is a sum
//!   of rounded lines, so the lines sum exactly to the total with no rounding left at the end.
//! - **Stages**, in this order: *unit* (the base price, or the quantity tier's `unit_price`;
//!   option prices in option order; `stage: unit` rules in file order), *tier* (the tier's
//!   `discount` off the unit price), *order* (unit × quantity; `stage: order` rules in file
//!   order). A unit or tier line carries its per-unit amount and its amount × quantity.
//! - **Ranges** are exact: a branch-and-bound search on the price rules' inputs over the rules
//!   engine's propagators (`range.rs`), with the exact least/greatest option-price sum of the
//!   configurations left computed by independent components and cached (`optimize.rs`) and fed
//!   through interval bounds of the price pipeline (`bound.rs`); a minimum or maximum is
//!   reported only with a valid configuration that attains it, and running out of work is an
//!   error.
//! - **Overflow** is an error ([`PricingError::Overflow`]), never a wrap or a panic.

mod bound;
mod eval;
mod optimize;
pub mod overlap;
mod range;

use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use crate::catalog::expr::Val;
use crate::catalog::model::{OptId, OptionKind, Product, Value};
use crate::catalog::money::Currency;
use crate::rules::Selection;

pub use range::{PriceRange, range};

/// Why a price could not be computed. Every variant is a problem with the request or the
/// catalog's numbers (HTTP 422), never a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("a quote needs a complete selection; no value for {}", list(.options))]
    Incomplete { options: Vec<String> },
    #[error("`{value}` is not a value of `{option}`")]
    InvalidValue { option: String, value: String },
    #[error("the price is too large to compute exactly (decimal overflow)")]
    Overflow,
    #[error("the total is negative ({total}); the price rules subtract more than the price")]
    NegativeTotal { total: Decimal },
    #[error("no valid configuration extends this selection")]
    NoCompletion,
    #[error(
        "the price range stopped at its work limit of {limit} steps; the answer is unknown, not wrong"
    )]
    WorkLimit { limit: u64 },
}

fn list(options: &[String]) -> String {
    options
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a breakdown line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The product's base price.
    Base,
    /// The quantity tier starting at `min` pieces.
    Tier { min: i64 },
    /// An option's price for its value (text: its length).
    Option { option: String, value: String },
    /// A price rule, by id.
    Rule(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Base => f.write_str("base"),
            Source::Tier { min } => write!(f, "tier:{min}"),
            Source::Option { option, value } => write!(f, "{option}={value}"),
            Source::Rule(id) => write!(f, "rule:{id}"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The stage a line belongs to (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineStage {
    Unit,
    Tier,
    Order,
}

/// One contribution to the price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteLine {
    /// `base`, `tier:<min>`, `<option>=<value>` or `rule:<id>`.
    pub source: Source,
    pub label: String,
    pub stage: LineStage,
    /// For unit and tier lines: the amount per unit (`amount` = this × quantity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<Decimal>,
    /// The line's share of the total (negative for reductions).
    pub amount: Decimal,
}

/// An exact, explained price. The `amount`s of `lines` sum exactly to `total`; the
/// `unit_amount`s sum exactly to `unit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub currency: Currency,
    pub quantity: i64,
    /// The unit price after unit and tier stages.
    pub unit: Decimal,
    pub total: Decimal,
    pub lines: Vec<QuoteLine>,
}

/// Prices a complete selection of `product`. Unchosen booleans are false, unchosen optional
/// options are unset, an unchosen quantity is its default (a product without a quantity option
/// has quantity 1); any other unchosen required option is an error. Rules are not checked here
/// (the engine's `validate` does that): the selection is priced as it stands.
pub fn quote(product: &Product, selection: &Selection) -> Result<Quote, PricingError> {
    let vals = selection_vals(product, selection)?;
    let mut lines = Vec::new();
    let p = eval::evaluate(
        product,
        &|o| vals.get(o).copied().flatten(),
        Some(&mut lines),
    )?;
    let mu = product.currency.minor_units();
    if p.total < 0 {
        return Err(PricingError::NegativeTotal {
            total: eval::to_decimal(p.total, mu)?,
        });
    }
    Ok(Quote {
        currency: product.currency,
        quantity: p.quantity,
        unit: eval::to_decimal(p.unit, mu)?,
        total: eval::to_decimal(p.total, mu)?,
        lines,
    })
}

/// The evaluator's view of every option of a selection, with the defaults `quote` documents.
fn selection_vals(
    product: &Product,
    selection: &Selection,
) -> Result<Vec<Option<Val>>, PricingError> {
    let mut missing = Vec::new();
    let mut vals = Vec::with_capacity(product.options.len());
    for (o, opt) in product.options.iter().enumerate() {
        let chosen = selection.get(o);
        let invalid = |v: &Value| PricingError::InvalidValue {
            option: opt.id.clone(),
            value: crate::rules::selection::value_text(product, o, v),
        };
        let val = match (&opt.kind, chosen) {
            (OptionKind::Choice(c), Some(v @ Value::Choice(i))) => {
                if *i >= c.values.len() {
                    return Err(invalid(v));
                }
                Some(Val::Choice(*i))
            }
            (OptionKind::Boolean { .. }, Some(Value::Bool(b))) => Some(Val::Bool(*b)),
            (OptionKind::Boolean { .. }, None) => Some(Val::Bool(false)),
            (OptionKind::Integer(r) | OptionKind::Quantity(r), Some(v @ Value::Int(n))) => {
                if !r.contains(*n) {
                    return Err(invalid(v));
                }
                Some(Val::Int(*n))
            }
            (OptionKind::Quantity(r), None) => {
                let d = match &opt.default {
                    Some(Value::Int(n)) => *n,
                    _ => r.min,
                };
                Some(Val::Int(d))
            }
            (OptionKind::Text(t), Some(v @ (Value::Text(_) | Value::Int(_)))) => {
                let n = match v {
                    Value::Text(s) => i64::try_from(s.chars().count()).unwrap_or(i64::MAX),
                    Value::Int(n) => *n,
                    _ => 0,
                };
                if n < 0 || n > i64::from(t.max_len) {
                    return Err(invalid(v));
                }
                if n == 0 && opt.required {
                    missing.push(opt.id.clone());
                }
                Some(Val::Int(n))
            }
            (OptionKind::Text(_), None) => {
                if opt.required {
                    missing.push(opt.id.clone());
                }
                Some(Val::Int(0))
            }
            // An upload takes part by presence: the engine models it as a text of length 64 (its id).
            // (A range's `cheapest`/`dearest` report it by that length, as texts.)
            (OptionKind::Upload(_), Some(Value::Text(_))) => Some(Val::Int(UPLOAD_LEN)),
            (OptionKind::Upload(_), Some(Value::Int(n))) if *n == UPLOAD_LEN => {
                Some(Val::Int(UPLOAD_LEN))
            }
            (OptionKind::Upload(_), None) => {
                if opt.required {
                    missing.push(opt.id.clone());
                }
                Some(Val::Int(0))
            }
            (_, Some(v)) => return Err(invalid(v)),
            (_, None) => {
                if opt.required {
                    missing.push(opt.id.clone());
                }
                None
            }
        };
        vals.push(val);
    }
    if !missing.is_empty() {
        return Err(PricingError::Incomplete { options: missing });
    }
    Ok(vals)
}

/// The length the engine gives a present upload (its content-hash id).
pub(crate) const UPLOAD_LEN: i64 = 64;

/// Whether an option of this kind has a price of its own.
pub(crate) fn price_relevant_kind(kind: &OptionKind) -> bool {
    match kind {
        OptionKind::Choice(c) => c.values.iter().any(|v| v.price.is_some()),
        OptionKind::Boolean { price } => price.is_some(),
        OptionKind::Integer(r) => r.price_per_unit.is_some(),
        OptionKind::Text(t) => t.price.is_some() || t.price_per_char.is_some(),
        OptionKind::Quantity(_) => false,
        OptionKind::Upload(u) => u.price.is_some(),
    }
}

/// The options whose values can change a price: priced options, the quantity, and every option
/// a price rule reads.
pub(crate) fn price_relevant(product: &Product) -> Vec<bool> {
    let mut rel: Vec<bool> = product
        .options
        .iter()
        .map(|o| price_relevant_kind(&o.kind) || matches!(o.kind, OptionKind::Quantity(_)))
        .collect();
    let mut scope = std::collections::BTreeSet::<OptId>::new();
    for r in &product.price_rules {
        if let Some(c) = &r.condition {
            c.options(&mut scope);
        }
        if let crate::catalog::model::PriceEffect::Formula(t) = &r.effect {
            t.options(&mut scope);
        }
    }
    for o in scope {
        if let Some(x) = rel.get_mut(o) {
            *x = true;
        }
    }
    rel
}

#[cfg(test)]
mod tests {
    use super::eval::{Fx, to_decimal};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn rounding_is_half_even() {
        let r = |s: &str, mu| {
            let u = Fx::dec(Decimal::from_str(s).unwrap()).units(mu).unwrap();
            to_decimal(u, mu).unwrap().to_string()
        };
        assert_eq!(r("0.125", 2), "0.12");
        assert_eq!(r("0.135", 2), "0.14");
        assert_eq!(r("-0.125", 2), "-0.12");
        assert_eq!(r("2.5", 0), "2");
        assert_eq!(r("3.5", 0), "4");
        assert_eq!(r("-2.5", 0), "-2");
        assert_eq!(r("-3.5", 0), "-4");
        assert_eq!(r("0.126", 2), "0.13");
        assert_eq!(r("-0.126", 2), "-0.13");
        assert_eq!(r("7", 3), "7.000");
    }
}
