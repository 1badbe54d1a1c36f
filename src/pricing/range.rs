//! Exact price ranges of partial selections: branch and bound on the price rules' inputs, with exact per-component option-price optima at every node.
//!
//! When the total is a non-decreasing function of the option prices' sum once the rules are
//! decided ([`Plan::monotone`]), the search branches only on what the price rules read and, at
//! every node, takes the exact least (greatest) option sum over the valid configurations left
//! ([`Optimizer`]: components and a cache); that sum bounds the subtree, and where the rules are
//! decided its witness attains it. Otherwise a plain search branches on every price-relevant
//! option under an interval bound. Either way a total counts only with a full valid
//! configuration that attains it, so the reported minimum and maximum are attained.

use rust_decimal::Decimal;
use serde::Serialize;

use super::PricingError;
use super::bound::{Bound, Plan, Split};
use super::eval::{self, Units, to_decimal};
use super::optimize::{Halt, Optimizer};
use crate::catalog::expr::Val;
use crate::catalog::model::{OptionKind, Value};
use crate::catalog::money::Currency;
use crate::rules::model::iter_bits;
use crate::rules::solver::{Budget, OutOfWork, Solver};
use crate::rules::{Engine, Selection};

/// The lowest and highest total over all valid completions of a selection (at its quantity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriceRange {
    pub currency: Currency,
    /// The quantity priced: the chosen one, or the quantity option's default.
    pub quantity: i64,
    pub min: Decimal,
    pub max: Decimal,
    /// A valid full configuration whose total is `min` (every option; text by its length).
    #[serde(skip)]
    pub cheapest: Selection,
    /// A valid full configuration whose total is `max`.
    #[serde(skip)]
    pub dearest: Selection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Min,
    Max,
}

/// The values left to `v`, cheapest first when minimising (dearest first when maximising), by
/// the option's own price contribution: good totals are found early and prune more.
fn value_order(plan: &Plan<'_>, dir: Dir, doms: &[u64], v: usize) -> Vec<usize> {
    let mut order: Vec<usize> = iter_bits(plan.model.dom(doms, v)).collect();
    if let Some(Some(per)) = plan.contrib.get(v) {
        let key = |i: &usize| per.get(*i).copied().flatten().unwrap_or(0);
        match dir {
            Dir::Min => order.sort_by_key(key),
            Dir::Max => order.sort_by_key(|i| std::cmp::Reverse(key(i))),
        }
    }
    order
}

enum Stop {
    Work,
    Price(PricingError),
    /// The decomposed search met a witness it could not confirm: redo with the plain search.
    Fallback,
}

impl From<Halt> for Stop {
    fn from(h: Halt) -> Stop {
        match h {
            Halt::Work => Stop::Work,
            Halt::Overflow => Stop::Price(PricingError::Overflow),
        }
    }
}

impl From<OutOfWork> for Stop {
    fn from(_: OutOfWork) -> Stop {
        Stop::Work
    }
}

impl From<PricingError> for Stop {
    fn from(e: PricingError) -> Stop {
        Stop::Price(e)
    }
}

/// The exact minimum and maximum total over all valid completions of `selection`. The quantity
/// is not ranged over: an unchosen quantity is its default (as in [`super::quote`]). Bounded by
/// the engine's work limit ([`PricingError::WorkLimit`], never a wrong answer).
pub fn range(engine: &Engine, selection: &Selection) -> Result<PriceRange, PricingError> {
    let product = &*engine.product;
    let model = &engine.model;
    let mut sel = selection.clone();
    if let Some(q) = product.quantity_option()
        && sel.get(q).is_none()
        && let Some(OptionKind::Quantity(r)) = product.options.get(q).map(|o| &o.kind)
    {
        let d = match product.options.get(q).and_then(|o| o.default.clone()) {
            Some(Value::Int(n)) => n,
            _ => r.min,
        };
        sel.choices.push((q, Value::Int(d)));
    }
    let quantity = product
        .quantity_option()
        .and_then(|q| sel.get(q))
        .map_or(1, |v| match v {
            Value::Int(n) => *n,
            _ => 1,
        });
    let limit = engine.work_limit;
    let work = |_: OutOfWork| PricingError::WorkLimit { limit };
    let mut budget = Budget::new(limit);
    let mut solver = Solver::new(model, model.initial());
    for (o, v) in &sel.choices {
        let Some(i) = model.vars.get(*o).and_then(|var| var.index_of(v)) else {
            return Err(PricingError::InvalidValue {
                option: product
                    .options
                    .get(*o)
                    .map_or_else(String::new, |x| x.id.clone()),
                value: crate::rules::selection::value_text(product, *o, v),
            });
        };
        if !solver.assign(*o, i) {
            return Err(PricingError::NoCompletion);
        }
    }
    solver.queue_all();
    if !solver.propagate(&mut budget).map_err(work)? {
        return Err(PricingError::NoCompletion);
    }
    let prefer = engine.defaults();
    let first = solver
        .solve(&prefer, &mut budget)
        .map_err(work)?
        .ok_or(PricingError::NoCompletion)?;
    let plan = Plan::new(product, model, quantity);
    let relevant = super::price_relevant(product);
    let first_total = total_of(&plan, &first)?;
    let first_sol = first.clone();
    let mut out = [(first_total, first.clone()), (first_total, first)];
    let decomposed = plan.monotone();
    for (k, dir) in [Dir::Min, Dir::Max].into_iter().enumerate() {
        let (best, sol) = &mut out[k];
        if decomposed {
            let sign: Units = if dir == Dir::Min { 1 } else { -1 };
            let weight = plan
                .contrib
                .iter()
                .map(|per| {
                    per.as_ref()
                        .map(|per| per.iter().map(|c| c.unwrap_or(0) * sign).collect())
                })
                .collect();
            let mut search = Patterns {
                plan: &plan,
                dir,
                opt: Optimizer::new(model, weight),
                best,
                best_sol: sol,
                budget: &mut budget,
            };
            let m = solver.mark();
            let outcome = search.dfs(&mut solver, None);
            solver.undo(m);
            match outcome {
                Ok(()) => continue,
                Err(Stop::Work) => return Err(PricingError::WorkLimit { limit }),
                Err(Stop::Price(e)) => return Err(e),
                Err(Stop::Fallback) => {
                    *best = first_total;
                    *sol = first_sol.clone();
                }
            }
        }
        let mut search = Search {
            plan: &plan,
            relevant: &relevant,
            dir,
            best,
            best_sol: sol,
            budget: &mut budget,
            prefer: &prefer,
        };
        match search.dfs(&mut solver) {
            Ok(()) => {}
            Err(Stop::Work) => return Err(PricingError::WorkLimit { limit }),
            Err(Stop::Price(e)) => return Err(e),
            Err(Stop::Fallback) => return Err(PricingError::WorkLimit { limit }),
        }
    }
    let [(min, cheapest), (max, dearest)] = out;
    let mu = product.currency.minor_units();
    if min < 0 {
        return Err(PricingError::NegativeTotal {
            total: to_decimal(min, mu)?,
        });
    }
    let as_sel = |sol: &[usize]| Selection {
        choices: model
            .vars
            .iter()
            .zip(sol)
            .filter_map(|(var, &i)| var.value(i).map(|v| (var.opt, v)))
            .collect(),
    };
    Ok(PriceRange {
        currency: product.currency,
        quantity,
        min: to_decimal(min, mu)?,
        max: to_decimal(max, mu)?,
        cheapest: as_sel(&cheapest),
        dearest: as_sel(&dearest),
    })
}

/// The total of a configuration given as one domain index per variable.
fn total_of(plan: &Plan<'_>, sol: &[usize]) -> Result<Units, PricingError> {
    let vars = &plan.model.vars;
    let get = |o: usize| -> Option<Val> { vars.get(o)?.val(*sol.get(o)?) };
    Ok(eval::evaluate(plan.product, &get, None)?.total)
}

/// Branching preference: formula variable, price spread, then smaller domain.
type BranchKey = (bool, Units, std::cmp::Reverse<usize>);

struct Search<'s, 'p> {
    plan: &'s Plan<'p>,
    relevant: &'s [bool],
    dir: Dir,
    best: &'s mut Units,
    best_sol: &'s mut Vec<usize>,
    budget: &'s mut Budget,
    prefer: &'s [Option<usize>],
}

impl Search<'_, '_> {
    fn better(&self, total: Units) -> bool {
        match self.dir {
            Dir::Min => total < *self.best,
            Dir::Max => total > *self.best,
        }
    }

    fn dfs(&mut self, s: &mut Solver<'_>) -> Result<(), Stop> {
        if !self.budget.spend(1) {
            return Err(Stop::Work);
        }
        let mut work = 0;
        let bound = self.plan.bound(&s.doms, &mut work);
        if !self.budget.spend(work / 8) {
            return Err(Stop::Work);
        }
        match bound {
            Bound::Empty => return Ok(()),
            Bound::Within((lo, hi)) => {
                let cannot_improve = match self.dir {
                    Dir::Min => lo >= *self.best,
                    Dir::Max => hi <= *self.best,
                };
                if cannot_improve {
                    return Ok(());
                }
            }
            Bound::Unknown => {}
        }
        // Branch on formula variables first (a formula's bound is exact only once they are
        // fixed), then on the variable whose prices spread the most (it moves the bound most),
        // then the smallest domain.
        let mut pick: Option<(usize, BranchKey)> = None;
        for (v, &rel) in self.relevant.iter().enumerate() {
            if !rel {
                continue;
            }
            let size = s.size(v);
            if size <= 1 {
                continue;
            }
            let spread = match self.plan.var_iv(&s.doms, v) {
                Some(Some((lo, hi))) => hi - lo,
                _ => 0,
            };
            let in_formula = self.plan.in_formula.get(v).copied().unwrap_or(false);
            let key = (in_formula, spread, std::cmp::Reverse(size));
            if pick.is_none_or(|(_, best)| key > best) {
                pick = Some((v, key));
            }
        }
        let Some((v, _)) = pick else {
            // Every price-relevant option is fixed: the price is known; is it attainable?
            let model = self.plan.model;
            let fixed: Vec<Option<Val>> = (0..model.vars.len())
                .map(|v| s.fixed(v).and_then(|i| model.vars.get(v)?.val(i)))
                .collect();
            let total = eval::evaluate(
                self.plan.product,
                &|o| fixed.get(o).copied().flatten(),
                None,
            )?
            .total;
            if self.better(total)
                && let Some(sol) = s.solve(self.prefer, self.budget)?
            {
                *self.best = total;
                *self.best_sol = sol;
            }
            return Ok(());
        };
        for i in value_order(self.plan, self.dir, &s.doms, v) {
            let m = s.mark();
            s.assign(v, i);
            s.queue_var(v);
            if s.propagate(self.budget)? {
                self.dfs(s)?;
            }
            s.undo(m);
        }
        Ok(())
    }
}

/// The exact search when the total is a non-decreasing function of the option prices' sum once
/// the price rules' inputs are decided ([`Plan::monotone`]): branch only on those inputs (the
/// rule pattern), and at each node take the exact least (greatest) sum of the option prices over
/// the valid configurations left, by components ([`Optimizer`]). That sum bounds the subtree;
/// where the pattern is decided it is attained, by the optimizer's witness.
struct Patterns<'s, 'p> {
    plan: &'s Plan<'p>,
    dir: Dir,
    /// Minimises the option prices (negated for the maximum).
    opt: Optimizer<'p>,
    best: &'s mut Units,
    best_sol: &'s mut Vec<usize>,
    budget: &'s mut Budget,
}

impl Patterns<'_, '_> {
    fn better(&self, total: Units) -> bool {
        match self.dir {
            Dir::Min => total < *self.best,
            Dir::Max => total > *self.best,
        }
    }

    /// Whether no total of the domains can beat the best found, when the option prices sum to
    /// at least (for the maximum: at most) `sum` there.
    fn hopeless(&self, sum: Units, doms: &[u64]) -> bool {
        match (self.plan.at(sum, doms), self.dir) {
            (Some((lo, _)), Dir::Min) => lo >= *self.best,
            (Some((_, hi)), Dir::Max) => hi <= *self.best,
            (None, _) => false,
        }
    }

    /// `parent`: the parent's least (greatest) option sum, a bound for this subtree too.
    fn dfs(&mut self, s: &mut Solver<'_>, parent: Option<Units>) -> Result<(), Stop> {
        if !self.budget.spend(1) {
            return Err(Stop::Work);
        }
        // First the parent's option sum against this subtree's decided rules (cheap).
        if parent.is_some_and(|sum| self.hopeless(sum, &s.doms)) {
            return Ok(());
        }
        let model = self.plan.model;
        let all: Vec<usize> = (0..model.vars.len()).collect();
        let Some(best) = self.opt.best(s, &all, self.budget)? else {
            return Ok(()); // no valid configuration here
        };
        let sum = match self.dir {
            Dir::Min => best.value,
            Dir::Max => best
                .value
                .checked_neg()
                .ok_or(Stop::Price(PricingError::Overflow))?,
        };
        if self.hopeless(sum, &s.doms) {
            return Ok(());
        }
        // The witness of the least (greatest) option sum: a valid configuration of this subtree.
        let mut sol: Vec<usize> = (0..model.vars.len())
            .map(|v| s.fixed(v).unwrap_or(0))
            .collect();
        best.fill(&mut sol);
        let valid = model.cons.iter().all(|c| model.holds(c, &sol))
            && sol
                .iter()
                .enumerate()
                .all(|(v, &i)| crate::rules::model::bit(model.dom(&s.doms, v), i));
        if !valid {
            // Cannot happen (components are independent); never report an unchecked total.
            return Err(Stop::Fallback);
        }
        let split = self.plan.split(&s.doms);
        let total = match total_of(self.plan, &sol) {
            Ok(t) => t,
            // Where the rules are decided the witness is the answer: its error is the answer.
            Err(e) if split.is_none() => return Err(Stop::Price(e)),
            Err(_) => return self.branch(s, split, sum),
        };
        if self.better(total) {
            *self.best = total;
            *self.best_sol = sol;
        }
        // Where the rules are decided the witness attains the subtree's best total; elsewhere
        // too when it meets the subtree's bound.
        let end = self.plan.at(sum, &s.doms).map(|(lo, hi)| match self.dir {
            Dir::Min => lo,
            Dir::Max => hi,
        });
        if split.is_none() || end == Some(total) {
            return Ok(());
        }
        self.branch(s, split, sum)
    }

    /// Explores the branches of a split, each bounded first by this node's option sum.
    fn branch(&mut self, s: &mut Solver<'_>, split: Option<Split>, sum: Units) -> Result<(), Stop> {
        let model = self.plan.model;
        let Some(split) = split else {
            return Ok(());
        };
        match split {
            Split::Values(v) => {
                for i in value_order(self.plan, self.dir, &s.doms, v) {
                    let m = s.mark();
                    s.assign(v, i);
                    s.queue_var(v);
                    if s.propagate(self.budget)? {
                        self.dfs(s, Some(sum))?;
                    }
                    s.undo(m);
                }
            }
            Split::Sets(v, yes) => {
                for keep_yes in [true, false] {
                    let m = s.mark();
                    let drop: Vec<usize> = iter_bits(model.dom(&s.doms, v))
                        .filter(|&i| crate::rules::model::bit(&yes, i) != keep_yes)
                        .collect();
                    let mut ok = true;
                    for i in drop {
                        ok &= s.remove(v, i);
                    }
                    if ok {
                        s.queue_var(v);
                    }
                    if ok && s.propagate(self.budget)? {
                        self.dfs(s, Some(sum))?;
                    }
                    s.undo(m);
                }
            }
        }
        Ok(())
    }
}
