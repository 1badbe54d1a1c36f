//! Overlapping price rules: pairs of rules of one stage that compete (two `set`s, two percentages, two floors or two ceilings) and can fire together in a valid configuration (W106).

use crate::catalog::expr::Expr;
use crate::catalog::model::{PriceEffect, Product};
use crate::catalog::{Code, Diagnostic, LoadResult};
use crate::rules::solver::Solver;
use crate::rules::{Engine, EngineError};

/// Two price rules (indices into `product.price_rules`, `first < second`) that compete and
/// can both apply to one valid configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    pub first: usize,
    pub second: usize,
}

/// Which effects compete: applied together, their order or stacking changes the price in a way
/// a merchant rarely means. Additive effects (`add`, `subtract`, `formula`) simply add up.
fn family(e: &PriceEffect) -> Option<u8> {
    match e {
        PriceEffect::Set(_) => Some(0),
        PriceEffect::Discount(_) | PriceEffect::Markup(_) => Some(1),
        PriceEffect::Min(_) => Some(2),
        PriceEffect::Max(_) => Some(3),
        PriceEffect::Add(_) | PriceEffect::Subtract(_) | PriceEffect::Formula(_) => None,
    }
}

/// Every overlapping pair of the engine's product, checked with the engine (exact: a pair is
/// reported only with a valid configuration where both conditions hold).
pub fn overlaps(engine: &Engine) -> Result<Vec<Overlap>, EngineError> {
    let rules = &engine.product.price_rules;
    let mut budget = engine.budget();
    let prefer = vec![None; engine.model.vars.len()];
    let mut out = Vec::new();
    for (i, a) in rules.iter().enumerate() {
        let Some(fa) = family(&a.effect) else {
            continue;
        };
        for (j, b) in rules.iter().enumerate().skip(i + 1) {
            if a.stage != b.stage || family(&b.effect) != Some(fa) {
                continue;
            }
            let cond = |c: &Option<Expr>| c.clone().unwrap_or(Expr::Const(true));
            let both = Expr::And(vec![cond(&a.condition), cond(&b.condition)]);
            let extra = [engine.model.compile_expr(&both)];
            let mut s = Solver::new(&engine.model, engine.model.initial()).with_extra(&extra);
            match s.solve(&prefer, &mut budget) {
                Ok(Some(_)) => out.push(Overlap {
                    first: i,
                    second: j,
                }),
                Ok(None) => {}
                Err(_) => return Err(engine.limit("overlapping price rules")),
            }
        }
    }
    Ok(out)
}

/// W106 diagnostics for a product's overlapping price rules.
pub fn diagnostics(product: &Product, overlaps: &[Overlap]) -> Vec<Diagnostic> {
    overlaps
        .iter()
        .filter_map(|o| {
            let (a, b) = (product.price_rules.get(o.first)?, product.price_rules.get(o.second)?);
            let what = match family(&a.effect) {
                Some(0) => "both set the price: the later one wins",
                Some(1) => "both take a percentage: they stack",
                Some(2) => "both set a floor: the higher one wins",
                _ => "both set a ceiling: the lower one wins",
            };
            Some(
                Diagnostic::new(
                    Code::OverlappingPriceRules,
                    b.span,
                    format!(
                        "price rules `{}` and `{}` of `{}` can apply together and {what}",
                        a.id, b.id, product.id
                    ),
                )
                .with_label(a.span, "overlaps this rule")
                .with_help(
                    "merge the two rules, or make their conditions exclusive if only one should apply",
                ),
            )
        })
        .collect()
}

/// Adds W106 diagnostics for every loaded product to a load result (as `bespoke check` does).
/// A rules file shared by several products reports each overlap once.
pub fn check_catalog(result: &mut LoadResult, work_limit: u64) {
    let Some(cat) = &result.catalog else { return };
    let mut extra: Vec<Diagnostic> = Vec::new();
    for p in cat.products() {
        let engine = Engine::new(p.clone()).with_work_limit(work_limit);
        // Running out of work here is already reported by the rules analysis (W105).
        let Ok(found) = overlaps(&engine) else {
            continue;
        };
        for d in diagnostics(p, &found) {
            let dup = extra.iter().any(|e| {
                e.span == d.span
                    && e.labels.first().map(|l| l.span) == d.labels.first().map(|l| l.span)
            });
            if !dup {
                extra.push(d);
            }
        }
    }
    result.diagnostics.extend(extra);
    result.diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.start, a.code).cmp(&(b.span.file, b.span.start, b.code))
    });
}
