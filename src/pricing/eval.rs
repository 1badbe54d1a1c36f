//! Exact price evaluation of one configuration: the staged pipeline (unit, tier, order) with half-even rounding per line.

use rust_decimal::Decimal;

use super::{LineStage, PricingError, QuoteLine, Source};
use crate::catalog::expr::{Term, Val};
use crate::catalog::model::{
    OptId, OptionKind, PriceEffect, PriceRule, Product, QuantityTier, Stage, TierEffect,
};

/// An amount in minor units of the currency (cents for EUR). All price arithmetic is exact
/// integer arithmetic on these, checked: overflow is [`PricingError::Overflow`].
pub(crate) type Units = i128;

const OVERFLOW: PricingError = PricingError::Overflow;

pub(crate) fn pow10(k: u32) -> Result<i128, PricingError> {
    10i128.checked_pow(k).ok_or(OVERFLOW)
}

/// `n / d` rounded half to even (banker's rounding); `d > 0`.
pub(crate) fn div_round(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, (n % d).abs());
    let rest = d - r;
    let away = r > rest || (r == rest && q % 2 != 0);
    if away { q + n.signum() } else { q }
}

/// An exact fixed-point number: `m × 10^-s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fx {
    pub m: i128,
    pub s: u32,
}

impl Fx {
    pub fn dec(d: Decimal) -> Fx {
        Fx {
            m: d.mantissa(),
            s: d.scale(),
        }
    }

    pub fn int(n: i64) -> Fx {
        Fx {
            m: i128::from(n),
            s: 0,
        }
    }

    fn align(a: Fx, b: Fx) -> Result<(i128, i128, u32), PricingError> {
        let s = a.s.max(b.s);
        let am = a.m.checked_mul(pow10(s - a.s)?).ok_or(OVERFLOW)?;
        let bm = b.m.checked_mul(pow10(s - b.s)?).ok_or(OVERFLOW)?;
        Ok((am, bm, s))
    }

    pub fn add(a: Fx, b: Fx) -> Result<Fx, PricingError> {
        let (am, bm, s) = Fx::align(a, b)?;
        Ok(Fx {
            m: am.checked_add(bm).ok_or(OVERFLOW)?,
            s,
        })
    }

    pub fn mul(a: Fx, b: Fx) -> Result<Fx, PricingError> {
        Ok(Fx {
            m: a.m.checked_mul(b.m).ok_or(OVERFLOW)?,
            s: a.s + b.s,
        })
    }

    pub fn neg(a: Fx) -> Result<Fx, PricingError> {
        Ok(Fx {
            m: a.m.checked_neg().ok_or(OVERFLOW)?,
            s: a.s,
        })
    }

    pub fn cmp(a: Fx, b: Fx) -> Result<std::cmp::Ordering, PricingError> {
        let (am, bm, _) = Fx::align(a, b)?;
        Ok(am.cmp(&bm))
    }

    /// Rounded half to even to minor units.
    pub fn units(self, mu: u32) -> Result<Units, PricingError> {
        if self.s <= mu {
            self.m.checked_mul(pow10(mu - self.s)?).ok_or(OVERFLOW)
        } else {
            Ok(div_round(self.m, pow10(self.s - mu)?))
        }
    }
}

/// A catalog amount in minor units (exact: the loader allows no more decimals than that).
pub(crate) fn units(d: Decimal, mu: u32) -> Result<Units, PricingError> {
    Fx::dec(d).units(mu)
}

/// Minor units back to a decimal with exactly `mu` decimals.
pub(crate) fn to_decimal(u: Units, mu: u32) -> Result<Decimal, PricingError> {
    Decimal::try_from_i128_with_scale(u, mu).map_err(|_| OVERFLOW)
}

/// `x × pct / 100`, rounded half to even to minor units.
pub(crate) fn percent_of(x: Units, pct: Decimal) -> Result<Units, PricingError> {
    let n = x.checked_mul(pct.mantissa()).ok_or(OVERFLOW)?;
    let d = pow10(pct.scale())?.checked_mul(100).ok_or(OVERFLOW)?;
    Ok(div_round(n, d))
}

pub(crate) fn neg(a: Units) -> Result<Units, PricingError> {
    a.checked_neg().ok_or(OVERFLOW)
}

pub(crate) fn add(a: Units, b: Units) -> Result<Units, PricingError> {
    a.checked_add(b).ok_or(OVERFLOW)
}

/// Exact value of a price formula; `None` when it reads an unset option.
pub(crate) fn term_value(
    t: &Term,
    get: &dyn Fn(OptId) -> Option<Val>,
) -> Result<Option<Fx>, PricingError> {
    Ok(Some(match t {
        Term::Int(n) => Fx::int(*n),
        Term::Dec(d) => Fx::dec(*d),
        Term::Opt(o) | Term::Len(o) => match get(*o) {
            Some(Val::Int(n)) => Fx::int(n),
            _ => return Ok(None),
        },
        Term::Add(a, b) | Term::Sub(a, b) | Term::Mul(a, b) => {
            let (Some(x), Some(y)) = (term_value(a, get)?, term_value(b, get)?) else {
                return Ok(None);
            };
            match t {
                Term::Add(..) => Fx::add(x, y)?,
                Term::Sub(..) => Fx::add(x, Fx::neg(y)?)?,
                _ => Fx::mul(x, y)?,
            }
        }
        Term::Neg(a) => match term_value(a, get)? {
            Some(x) => Fx::neg(x)?,
            None => return Ok(None),
        },
    }))
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
        (OptionKind::Upload(u), Some(Val::Int(n))) if n > 0 => u.price,
        _ => None,
    }
}

/// The unit-stage contributions of one option for its value, in minor units, each rounded.
pub(crate) fn option_parts(
    kind: &OptionKind,
    val: Option<Val>,
    mu: u32,
) -> Result<[Option<(Units, Part)>; 2], PricingError> {
    let mut out = [None, None];
    if let Some(p) = present_price(kind, val) {
        out[0] = Some((units(p, mu)?, Part::Flat));
    }
    let per_unit = |rate: Decimal, n: i64| -> Result<Units, PricingError> {
        Fx::mul(Fx::dec(rate), Fx::int(n))?.units(mu)
    };
    match (kind, val) {
        (OptionKind::Choice(c), Some(Val::Choice(i))) => {
            if let Some(p) = c.values.get(i).and_then(|v| v.price) {
                out[0] = Some((units(p, mu)?, Part::Flat));
            }
        }
        (OptionKind::Integer(spec), Some(Val::Int(n))) => {
            if let Some(rate) = spec.price_per_unit {
                out[1] = Some((per_unit(rate, n)?, Part::PerUnit(n)));
            }
        }
        (OptionKind::Text(t), Some(Val::Int(n))) if n > 0 => {
            if let Some(rate) = t.price_per_char {
                out[1] = Some((per_unit(rate, n)?, Part::PerUnit(n)));
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

/// The change a price rule makes to the running price, or `None` when it does not apply
/// (condition false, a formula reading an unset option, or a floor/ceiling that does not bind).
pub(crate) fn rule_delta(
    rule: &PriceRule,
    running: Units,
    get: &dyn Fn(OptId) -> Option<Val>,
    mu: u32,
) -> Result<Option<Units>, PricingError> {
    if let Some(c) = &rule.condition
        && !c.eval(get)
    {
        return Ok(None);
    }
    let sub = |a: &Decimal| -> Result<Units, PricingError> {
        units(*a, mu)?.checked_sub(running).ok_or(OVERFLOW)
    };
    let d = match &rule.effect {
        PriceEffect::Add(a) => units(*a, mu)?,
        PriceEffect::Subtract(a) => neg(units(*a, mu)?)?,
        PriceEffect::Formula(t) => match term_value(t, get)? {
            Some(v) => v.units(mu)?,
            None => return Ok(None),
        },
        PriceEffect::Discount(p) => neg(percent_of(running, *p)?)?,
        PriceEffect::Markup(p) => percent_of(running, *p)?,
        PriceEffect::Set(a) => sub(a)?,
        PriceEffect::Min(a) => {
            let d = sub(a)?;
            if d <= 0 {
                return Ok(None);
            }
            d
        }
        PriceEffect::Max(a) => {
            let d = sub(a)?;
            if d >= 0 {
                return Ok(None);
            }
            d
        }
    };
    Ok(Some(d))
}

/// The result of pricing one configuration, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priced {
    pub quantity: i64,
    pub unit: Units,
    pub total: Units,
}

/// Collects breakdown lines when asked to (the range search prices without them).
pub(crate) struct Lines<'a> {
    pub out: Option<&'a mut Vec<QuoteLine>>,
    pub quantity: i64,
    pub mu: u32,
}

impl Lines<'_> {
    fn push(
        &mut self,
        stage: LineStage,
        source: impl FnOnce() -> (Source, String),
        amount: Units,
    ) -> Result<(), PricingError> {
        let Some(out) = self.out.as_deref_mut() else {
            return Ok(());
        };
        let (source, label) = source();
        let (unit_amount, amount) = match stage {
            LineStage::Order => (None, amount),
            LineStage::Unit | LineStage::Tier => (
                Some(to_decimal(amount, self.mu)?),
                amount
                    .checked_mul(i128::from(self.quantity))
                    .ok_or(OVERFLOW)?,
            ),
        };
        out.push(QuoteLine {
            source,
            label,
            stage,
            unit_amount,
            amount: to_decimal(amount, self.mu)?,
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
        quantity,
        mu,
    };
    // 1. Unit stage: base (or the tier's unit price), options, unit rules.
    let tier = tier_for(&product.quantity_tiers, quantity);
    let mut running = match tier.map(|t| &t.effect) {
        Some(TierEffect::UnitPrice(p)) => {
            let min = tier.map_or(0, |t| t.min);
            let p = units(*p, mu)?;
            lines.push(
                LineStage::Tier,
                || {
                    (
                        Source::Tier { min },
                        format!("Unit price from {min} pieces"),
                    )
                },
                p,
            )?;
            p
        }
        _ => {
            let p = units(product.base_price, mu)?;
            lines.push(
                LineStage::Unit,
                || (Source::Base, "Base price".to_owned()),
                p,
            )?;
            p
        }
    };
    for (o, opt) in product.options.iter().enumerate() {
        let val = get(o);
        for (amount, part) in option_parts(&opt.kind, val, mu)?.into_iter().flatten() {
            running = add(running, amount)?;
            lines.push(
                LineStage::Unit,
                || option_line(product, o, val, part),
                amount,
            )?;
        }
    }
    running = apply_rules(product, Stage::Unit, running, get, &mut lines)?;
    // 2. Tier stage: a percentage off the unit price.
    if let Some(t) = tier
        && let TierEffect::Discount(p) = &t.effect
    {
        let d = neg(percent_of(running, *p)?)?;
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
    let subtotal = unit.checked_mul(i128::from(quantity)).ok_or(OVERFLOW)?;
    let total = apply_rules(product, Stage::Order, subtotal, get, &mut lines)?;
    // Both must be representable as decimals in minor units.
    to_decimal(unit, mu)?;
    to_decimal(total, mu)?;
    Ok(Priced {
        quantity,
        unit,
        total,
    })
}

fn apply_rules(
    product: &Product,
    stage: Stage,
    mut running: Units,
    get: &dyn Fn(OptId) -> Option<Val>,
    lines: &mut Lines<'_>,
) -> Result<Units, PricingError> {
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
        (OptionKind::Upload(_), Some(Val::Int(_))) => ("uploaded".to_owned(), opt.label.clone()),
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
