//! Exact price evaluation of one configuration: the staged pipeline (unit, tier, order) with half-even rounding per line.

use rust_decimal::{Decimal, RoundingStrategy};

use super::{LineStage, PricingError, QuoteLine, Source};
use crate::catalog::expr::{Term, Val};
use crate::catalog::model::{
    OptId, OptionKind, PriceEffect, PriceRule, Product, QuantityTier, Stage, TierEffect,
};

/// Rounds to the currency's minor units, half to even (banker's rounding).
pub(crate) fn round(d: Decimal, minor_units: u32) -> Decimal {
    d.round_dp_with_strategy(minor_units, RoundingStrategy::MidpointNearestEven)
}

/// Gives `d` exactly `minor_units` decimals (for display), when that fits.
pub(crate) fn fix(d: Decimal, minor_units: u32) -> Decimal {
    let mut x = round(d, minor_units);
    if x.scale() < minor_units {
        x.rescale(minor_units);
    }
    x
}

/// `x × pct / 100`, rounded to minor units.
pub(crate) fn percent_of(x: Decimal, pct: Decimal, mu: u32) -> Result<Decimal, PricingError> {
    let v = x
        .checked_mul(pct)
        .and_then(|v| v.checked_div(Decimal::ONE_HUNDRED))
        .ok_or(PricingError::Overflow)?;
    Ok(round(v, mu))
}

pub(crate) fn add(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_add(b).ok_or(PricingError::Overflow)
}

/// The tier that applies to `quantity`: the one with the largest `min` ≤ quantity.
pub(crate) fn tier_for(tiers: &[QuantityTier], quantity: i64) -> Option<&QuantityTier> {
    tiers
        .iter()
        .filter(|t| t.min <= quantity)
        .max_by_key(|t| t.min)
}

/// The flat price an option adds when it is "present": a boolean that is true, a text that is
/// not empty (and, later, an upload that was made). Shared so every presence-priced kind agrees.
pub(crate) fn present_price(kind: &OptionKind, val: Option<Val>) -> Option<Decimal> {
    match (kind, val) {
        (OptionKind::Boolean { price }, Some(Val::Bool(true))) => *price,
        (OptionKind::Text(t), Some(Val::Int(n))) if n > 0 => t.price,
        _ => None,
    }
}

/// The unit-stage contributions of one option for its value, each already rounded:
/// `(amount, what)` where `what` says which part of the option's price it is.
pub(crate) fn option_parts(
    kind: &OptionKind,
    val: Option<Val>,
    mu: u32,
) -> Result<[Option<(Decimal, Part)>; 2], PricingError> {
    let mut out = [None, None];
    if let Some(p) = present_price(kind, val) {
        out[0] = Some((p, Part::Flat));
    }
    match (kind, val) {
        (OptionKind::Choice(c), Some(Val::Choice(i))) => {
            if let Some(p) = c.values.get(i).and_then(|v| v.price) {
                out[0] = Some((p, Part::Flat));
            }
        }
        (OptionKind::Integer(spec), Some(Val::Int(n))) => {
            if let Some(rate) = spec.price_per_unit {
                let v = rate
                    .checked_mul(Decimal::from(n))
                    .ok_or(PricingError::Overflow)?;
                out[1] = Some((round(v, mu), Part::PerUnit(n)));
            }
        }
        (OptionKind::Text(t), Some(Val::Int(n))) if n > 0 => {
            if let Some(rate) = t.price_per_char {
                let v = rate
                    .checked_mul(Decimal::from(n))
                    .ok_or(PricingError::Overflow)?;
                out[1] = Some((round(v, mu), Part::PerUnit(n)));
            }
        }
        _ => {}
    }
    Ok(out)
}

/// Which part of an option's price a contribution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Flat,
    /// A rate times this many units (integer value, characters).
    PerUnit(i64),
}

/// Whether every option a formula reads has a value.
fn formula_set(t: &Term, get: &dyn Fn(OptId) -> Option<Val>) -> bool {
    match t {
        Term::Int(_) | Term::Dec(_) => true,
        Term::Opt(o) | Term::Len(o) => get(*o).is_some(),
        Term::Add(a, b) | Term::Sub(a, b) | Term::Mul(a, b) => {
            formula_set(a, get) && formula_set(b, get)
        }
        Term::Neg(a) => formula_set(a, get),
    }
}

/// The change a price rule makes to the running price, or `None` when it does not apply
/// (condition false, a formula reading an unset option, or a floor/ceiling that does not bind).
pub(crate) fn rule_delta(
    rule: &PriceRule,
    running: Decimal,
    get: &dyn Fn(OptId) -> Option<Val>,
    mu: u32,
) -> Result<Option<Decimal>, PricingError> {
    if let Some(c) = &rule.condition
        && !c.eval(get)
    {
        return Ok(None);
    }
    let zero = Decimal::ZERO;
    let d = match &rule.effect {
        PriceEffect::Add(a) => *a,
        PriceEffect::Subtract(a) => -*a,
        PriceEffect::Formula(t) => {
            if !formula_set(t, get) {
                return Ok(None);
            }
            round(t.eval_decimal(get).ok_or(PricingError::Overflow)?, mu)
        }
        PriceEffect::Discount(p) => -percent_of(running, *p, mu)?,
        PriceEffect::Markup(p) => percent_of(running, *p, mu)?,
        PriceEffect::Set(a) => a.checked_sub(running).ok_or(PricingError::Overflow)?,
        PriceEffect::Min(a) => {
            let d = a.checked_sub(running).ok_or(PricingError::Overflow)?;
            if d <= zero {
                return Ok(None);
            }
            d
        }
        PriceEffect::Max(a) => {
            let d = a.checked_sub(running).ok_or(PricingError::Overflow)?;
            if d >= zero {
                return Ok(None);
            }
            d
        }
    };
    Ok(Some(d))
}

/// The result of pricing one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priced {
    pub quantity: i64,
    pub unit: Decimal,
    pub total: Decimal,
}

/// Collects breakdown lines when asked to (the range search prices without them).
pub(crate) struct Lines<'a> {
    pub out: Option<&'a mut Vec<QuoteLine>>,
    pub quantity: Decimal,
    pub mu: u32,
}

impl Lines<'_> {
    fn push(
        &mut self,
        stage: LineStage,
        source: impl FnOnce() -> (Source, String),
        amount: Decimal,
    ) -> Result<(), PricingError> {
        let Some(out) = self.out.as_deref_mut() else {
            return Ok(());
        };
        let (source, label) = source();
        let (unit_amount, amount) = match stage {
            LineStage::Order => (None, amount),
            LineStage::Unit | LineStage::Tier => (
                Some(fix(amount, self.mu)),
                amount
                    .checked_mul(self.quantity)
                    .ok_or(PricingError::Overflow)?,
            ),
        };
        out.push(QuoteLine {
            source,
            label,
            stage,
            unit_amount,
            amount: fix(amount, self.mu),
        });
        Ok(())
    }
}

/// Prices one configuration. `get(o)` is the evaluator's view of option `o` (text by its
/// length, `None` when unset); options nobody prices or reads may be `None`.
pub(crate) fn evaluate(
    product: &Product,
    get: &dyn Fn(OptId) -> Option<Val>,
    lines: Option<&mut Vec<QuoteLine>>,
) -> Result<Priced, PricingError> {
    let mu = product.currency.minor_units();
    let quantity = match product.quantity_option().and_then(get) {
        Some(Val::Int(q)) => q,
        _ => 1,
    };
    let mut lines = Lines {
        out: lines,
        quantity: Decimal::from(quantity),
        mu,
    };
    // 1. Unit stage: base (or the tier's unit price), options, unit rules.
    let tier = tier_for(&product.quantity_tiers, quantity);
    let mut running = match tier.map(|t| &t.effect) {
        Some(TierEffect::UnitPrice(p)) => {
            let min = tier.map_or(0, |t| t.min);
            lines.push(
                LineStage::Tier,
                || {
                    (
                        Source::Tier { min },
                        format!("Unit price from {min} pieces"),
                    )
                },
                *p,
            )?;
            *p
        }
        _ => {
            lines.push(
                LineStage::Unit,
                || (Source::Base, "Base price".to_owned()),
                product.base_price,
            )?;
            product.base_price
        }
    };
    for (o, opt) in product.options.iter().enumerate() {
        let val = get(o);
        for (amount, part) in option_parts(&opt.kind, val, mu)?.into_iter().flatten() {
            running = add(running, amount)?;
            lines.push(LineStage::Unit, || option_line(product, o, val, part), amount)?;
        }
    }
    running = apply_rules(product, Stage::Unit, running, get, &mut lines)?;
    // 2. Tier stage: a percentage off the unit price.
    if let Some(t) = tier
        && let TierEffect::Discount(p) = &t.effect
    {
        let d = -percent_of(running, *p, mu)?;
        running = add(running, d)?;
        let min = t.min;
        lines.push(
            LineStage::Tier,
            || {
                (
                    Source::Tier { min },
                    format!("{}% off from {min} pieces", p.normalize()),
                )
            },
            d,
        )?;
    }
    let unit = running;
    // 3. Order stage: unit × quantity, then order rules.
    let subtotal = unit
        .checked_mul(Decimal::from(quantity))
        .ok_or(PricingError::Overflow)?;
    let total = apply_rules(product, Stage::Order, subtotal, get, &mut lines)?;
    Ok(Priced {
        quantity,
        unit,
        total,
    })
}

fn apply_rules(
    product: &Product,
    stage: Stage,
    mut running: Decimal,
    get: &dyn Fn(OptId) -> Option<Val>,
    lines: &mut Lines<'_>,
) -> Result<Decimal, PricingError> {
    let mu = product.currency.minor_units();
    let line_stage = match stage {
        Stage::Unit => LineStage::Unit,
        Stage::Order => LineStage::Order,
    };
    for rule in product.price_rules.iter().filter(|r| r.stage == stage) {
        if let Some(d) = rule_delta(rule, running, get, mu)? {
            running = add(running, d)?;
            lines.push(
                line_stage,
                || (Source::Rule(rule.id.clone()), rule.label.clone()),
                d,
            )?;
        }
    }
    Ok(running)
}

fn option_line(product: &Product, o: OptId, val: Option<Val>, part: Part) -> (Source, String) {
    let Some(opt) = product.options.get(o) else {
        return (Source::Base, String::new());
    };
    let (value, label) = match (&opt.kind, val) {
        (OptionKind::Choice(c), Some(Val::Choice(i))) => {
            let v = c.values.get(i);
            (
                v.map_or_else(|| i.to_string(), |v| v.id.clone()),
                format!(
                    "{}: {}",
                    opt.label,
                    v.map_or_else(|| i.to_string(), |v| v.label.clone())
                ),
            )
        }
        (OptionKind::Boolean { .. }, Some(Val::Bool(b))) => (b.to_string(), opt.label.clone()),
        (OptionKind::Integer(_), Some(Val::Int(n))) => {
            (n.to_string(), format!("{}: {n}", opt.label))
        }
        (OptionKind::Text(_), Some(Val::Int(n))) => {
            let what = match part {
                Part::Flat => format!("{} (flat)", opt.label),
                Part::PerUnit(_) => format!(
                    "{}: {n} character{}",
                    opt.label,
                    if n == 1 { "" } else { "s" }
                ),
            };
            (format!("{n} characters"), what)
        }
        _ => (String::new(), opt.label.clone()),
    };
    (
        Source::Option {
            option: opt.id.clone(),
            value,
        },
        label,
    )
}
