//! What a configuration consumes and is called: its bill of materials (the catalog's `bom:` entries resolved exactly over one selection, merged per part and unit) and its composed variant SKU. Pure: no IO.

use std::fmt;

use rust_decimal::Decimal;

use crate::catalog::expr::{Term, Val};
use crate::catalog::model::{BomOrigin, OptId, OptionKind, Product, SkuPart, Value};
use crate::rules::Selection;

/// An upload takes part in rules by presence; the engine models it as a text of its id's length.
const UPLOAD_LEN: i64 = 64;

/// Why a bill cannot be resolved: the catalog's quantities give a number no warehouse can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BomError {
    #[error("the quantity of part `{part}` from {from} is negative ({quantity})")]
    Negative {
        part: String,
        from: BomFrom,
        quantity: Decimal,
    },
    #[error("the quantity of part `{part}` from {from} is too large to compute exactly")]
    Overflow { part: String, from: BomFrom },
}

/// Which declaration contributed to a line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum BomFrom {
    /// An entry of the product's `bom:` list, by its id (`bom[<index>]` when it has none).
    Rule { id: String },
    /// A choice value's `bom:`.
    Value { option: String, value: String },
}

impl fmt::Display for BomFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BomFrom::Rule { id } => write!(f, "rule `{id}`"),
            BomFrom::Value { option, value } => write!(f, "`{option}={value}`"),
        }
    }
}

/// One line of a bill: a part, its exact total quantity for the order, its unit, and every
/// declaration that contributed to it (in catalog order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BomLine {
    pub part: String,
    /// Exact and normalized (`1.28`, not `1.2800`); always positive.
    pub quantity: Decimal,
    pub unit: Option<String>,
    pub from: Vec<BomFrom>,
}

/// The bill of materials of a complete selection: every entry whose condition holds, its
/// per-item quantity times the order quantity, merged by part and unit in the order parts first
/// appear. An entry whose quantity reads an unset option, or is zero, contributes nothing.
pub fn bill(product: &Product, selection: &Selection) -> Result<Vec<BomLine>, BomError> {
    if product.bom.is_empty() {
        return Ok(Vec::new());
    }
    let vals = vals(product, selection);
    let get = |o: OptId| vals.get(o).copied().flatten();
    let items = match product.quantity_option().and_then(get) {
        Some(Val::Int(q)) => Decimal::from(q),
        _ => Decimal::ONE,
    };
    let mut lines: Vec<BomLine> = Vec::new();
    for e in &product.bom {
        if !e.condition.as_ref().is_none_or(|c| c.eval(&get)) {
            continue;
        }
        let from = match &e.origin {
            BomOrigin::Product { id } => BomFrom::Rule { id: id.clone() },
            BomOrigin::Value { option, value } => BomFrom::Value {
                option: product.options[*option].id.clone(),
                value: value_id(product, *option, *value),
            },
        };
        let overflow = || BomError::Overflow {
            part: e.part.clone(),
            from: from.clone(),
        };
        let Some(per_item) = exact(&e.quantity, &get).map_err(|()| overflow())? else {
            continue;
        };
        let quantity = per_item.checked_mul(items).ok_or_else(overflow)?;
        if quantity.is_zero() {
            continue;
        }
        if quantity.is_sign_negative() {
            return Err(BomError::Negative {
                part: e.part.clone(),
                from,
                quantity: quantity.normalize(),
            });
        }
        match lines
            .iter_mut()
            .find(|l| l.part == e.part && l.unit == e.unit)
        {
            Some(line) => {
                line.quantity = line.quantity.checked_add(quantity).ok_or_else(overflow)?;
                if !line.from.contains(&from) {
                    line.from.push(from);
                }
            }
            None => lines.push(BomLine {
                part: e.part.clone(),
                quantity,
                unit: e.unit.clone(),
                from: vec![from],
            }),
        }
    }
    for l in &mut lines {
        l.quantity = l.quantity.normalize();
    }
    Ok(lines)
}

/// The variant SKU of a selection by the product's `sku:` template (`None` without one): each
/// placeholder gives its choice value's `sku` (else the value id), the number, or
/// `true`/`false`; an unset option gives nothing.
pub fn variant_sku(product: &Product, selection: &Selection) -> Option<String> {
    let template = product.sku.as_ref()?;
    let mut out = String::new();
    for part in &template.parts {
        match part {
            SkuPart::Literal(s) => out.push_str(s),
            SkuPart::Option(o) => out.push_str(&sku_of(product, *o, selection)),
        }
    }
    Some(out)
}

/// The SKU text of one option's value in a selection.
fn sku_of(product: &Product, o: OptId, selection: &Selection) -> String {
    let opt = &product.options[o];
    let value = selection.get(o).or(match opt.kind {
        OptionKind::Quantity(_) | OptionKind::Boolean { .. } => opt.default.as_ref(),
        _ => None,
    });
    match (&opt.kind, value) {
        (OptionKind::Choice(c), Some(Value::Choice(i))) => c
            .values
            .get(*i)
            .map(|v| v.sku.clone().unwrap_or_else(|| v.id.clone()))
            .unwrap_or_default(),
        (_, Some(Value::Int(n))) => n.to_string(),
        (_, Some(Value::Bool(b))) => b.to_string(),
        (OptionKind::Boolean { .. }, None) => "false".to_owned(),
        _ => String::new(),
    }
}

fn value_id(product: &Product, o: OptId, v: usize) -> String {
    match &product.options[o].kind {
        OptionKind::Choice(c) => c.values.get(v).map(|x| x.id.clone()).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The evaluator's view of every option: text by its length, an unchosen boolean false, an
/// unchosen quantity its default, anything else unchosen unset.
fn vals(product: &Product, selection: &Selection) -> Vec<Option<Val>> {
    product
        .options
        .iter()
        .enumerate()
        .map(|(o, opt)| match (&opt.kind, selection.get(o)) {
            (OptionKind::Choice(_), Some(Value::Choice(i))) => Some(Val::Choice(*i)),
            (OptionKind::Boolean { .. }, Some(Value::Bool(b))) => Some(Val::Bool(*b)),
            (OptionKind::Boolean { .. }, None) => Some(Val::Bool(false)),
            (OptionKind::Upload(_), Some(_)) => Some(Val::Int(UPLOAD_LEN)),
            (OptionKind::Text(_), Some(Value::Text(s))) => Some(Val::Int(
                i64::try_from(s.chars().count()).unwrap_or(i64::MAX),
            )),
            (OptionKind::Text(_), None) => Some(Val::Int(0)),
            (_, Some(Value::Int(n))) => Some(Val::Int(*n)),
            (OptionKind::Quantity(r), None) => Some(Val::Int(match opt.default {
                Some(Value::Int(n)) => n,
                _ => r.min,
            })),
            _ => None,
        })
        .collect()
}

/// Exact value of a quantity: `Ok(None)` when it reads an unset option, `Err` on overflow.
fn exact(t: &Term, get: &dyn Fn(OptId) -> Option<Val>) -> Result<Option<Decimal>, ()> {
    Ok(Some(match t {
        Term::Int(n) => Decimal::from(*n),
        Term::Dec(d) => *d,
        Term::Opt(o) | Term::Len(o) => match get(*o) {
            Some(Val::Int(n)) => Decimal::from(n),
            _ => return Ok(None),
        },
        Term::Add(a, b) | Term::Sub(a, b) | Term::Mul(a, b) => {
            let (Some(x), Some(y)) = (exact(a, get)?, exact(b, get)?) else {
                return Ok(None);
            };
            match t {
                Term::Add(..) => x.checked_add(y),
                Term::Sub(..) => x.checked_sub(y),
                _ => x.checked_mul(y),
            }
            .ok_or(())?
        }
        Term::Neg(a) => match exact(a, get)? {
            Some(x) => -x,
            None => return Ok(None),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_products_past_28_places_round_rather_than_fail() {
        let tiny = Decimal::new(3, 20);
        let got = tiny.checked_mul(tiny);
        assert!(got.is_some_and(|d| d.scale() <= 28), "{got:?}");
        assert_eq!(
            Decimal::from(160) * Decimal::from(80) * Decimal::new(1, 4),
            Decimal::new(128, 2)
        );
    }
}
