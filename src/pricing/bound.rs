//! Interval bounds of the price pipeline over the engine's current domains, for the exact range search.
//!
//! Soundness: every step maps an interval containing the running price of every configuration
//! left in the domains to an interval containing the next running price. Rounding is monotone,
//! `x ± round(x·p/100)` is monotone for `p ≤ 100`, and a condition that is not decided by the
//! domains keeps the hull of "applied" and "not applied". Overflow gives no bound (`None`).

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::eval::{Fx, Units, option_parts, percent_of, tier_for, units};
use crate::catalog::expr::{Expr, Term, Val};
use crate::catalog::model::{PriceEffect, PriceRule, Product, Stage, TierEffect};
use crate::rules::model::{ConKind, Model, iter_bits};

/// Closed interval `[lo, hi]` of minor units.
pub(crate) type Iv = (Units, Units);

/// Condition combinations enumerated before a condition is called undecided.
const ENUMERATE: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    True,
    False,
    Unknown,
}

/// What the bound needs of one product at one (fixed) quantity, computed once per range call.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub product: &'a Product,
    pub model: &'a Model,
    pub mu: u32,
    pub quantity: Units,
    /// `None` when the base price does not fit (every quote then overflows too).
    base: Option<Units>,
    tier_discount: Option<Decimal>,
    /// Per variable: its unit-stage contribution per domain index (`None` inside on overflow),
    /// or `None` when the option has no price of its own.
    pub contrib: Vec<Option<Vec<Option<Units>>>>,
    /// Positive tables that own priced variables: (constraint index, per scope position whether
    /// this table owns it). Each priced variable is owned by at most one table; the bound takes,
    /// per table, the cheapest (dearest) row still alive for its owned variables together.
    groups: Vec<(usize, Vec<bool>)>,
    /// Priced variables owned by no table: bounded by their own cheapest (dearest) value.
    free: Vec<usize>,
    /// Per price rule: the variables its condition reads.
    cond_scope: Vec<Vec<usize>>,
    /// Per price rule: the variables its formula reads.
    formula_scope: Vec<Vec<usize>>,
    /// Per variable: whether some formula reads it.
    pub in_formula: Vec<bool>,
}

impl<'a> Plan<'a> {
    pub fn new(product: &'a Product, model: &'a Model, quantity: i64) -> Plan<'a> {
        let mu = product.currency.minor_units();
        let tier = tier_for(&product.quantity_tiers, quantity);
        let base = match tier.map(|t| &t.effect) {
            Some(TierEffect::UnitPrice(p)) => units(*p, mu).ok(),
            _ => units(product.base_price, mu).ok(),
        };
        let tier_discount = match tier.map(|t| &t.effect) {
            Some(TierEffect::Discount(p)) => Some(*p),
            _ => None,
        };
        let contrib: Vec<Option<Vec<Option<Units>>>> = model
            .vars
            .iter()
            .map(|var| {
                let opt = product.options.get(var.opt)?;
                let per: Vec<Option<Units>> = (0..var.size)
                    .map(|i| {
                        let parts = option_parts(&opt.kind, var.val(i), mu).ok()?;
                        parts
                            .iter()
                            .flatten()
                            .try_fold(0, |acc: Units, (a, _)| acc.checked_add(*a))
                    })
                    .collect();
                let priced = super::price_relevant_kind(&opt.kind);
                priced.then_some(per)
            })
            .collect();
        let scope = |f: &dyn Fn(&mut std::collections::BTreeSet<usize>)| {
            let mut s = std::collections::BTreeSet::new();
            f(&mut s);
            s.into_iter().collect::<Vec<usize>>()
        };
        let cond_scope = product
            .price_rules
            .iter()
            .map(|r| {
                scope(&|s| {
                    if let Some(c) = &r.condition {
                        c.options(s);
                    }
                })
            })
            .collect();
        let formula_scope = product
            .price_rules
            .iter()
            .map(|r| {
                scope(&|s| {
                    if let PriceEffect::Formula(t) = &r.effect {
                        t.options(s);
                    }
                })
            })
            .collect();
        let (groups, free) = partition(model, &contrib);
        let mut in_formula = vec![false; model.vars.len()];
        for scope in &formula_scope {
            for &v in scope {
                if let Some(x) = in_formula.get_mut(v) {
                    *x = true;
                }
            }
        }
        Plan {
            product,
            model,
            mu,
            quantity: Units::from(quantity),
            base,
            tier_discount,
            contrib,
            groups,
            free,
            cond_scope,
            formula_scope,
            in_formula,
        }
    }

    /// The contribution interval of variable `v` over its domain.
    pub fn var_iv(&self, doms: &[u64], v: usize) -> Option<Option<Iv>> {
        let Some(per) = self.contrib.get(v)?.as_ref() else {
            return Some(None);
        };
        let mut iv: Option<Iv> = None;
        for i in iter_bits(self.model.dom(doms, v)) {
            let c = (*per.get(i)?)?;
            iv = Some(match iv {
                None => (c, c),
                Some((lo, hi)) => (lo.min(c), hi.max(c)),
            });
        }
        Some(iv)
    }

    /// The sum of the option prices over the configurations left in `doms`: `Some(None)` when
    /// a table has no row left (no configuration), `None` when unknown (overflow).
    fn options_iv(&self, doms: &[u64], work: &mut u64) -> Option<Option<Iv>> {
        let (mut lo, mut hi): Iv = (0, 0);
        *work += self.free.len() as u64;
        for &v in &self.free {
            let Some((a, b)) = self.var_iv(doms, v)? else {
                return Some(None);
            };
            lo = lo.checked_add(a)?;
            hi = hi.checked_add(b)?;
        }
        for (c, owned) in &self.groups {
            let con = self.model.cons.get(*c)?;
            let ConKind::Table(rows) = &con.kind else {
                continue;
            };
            let mut best: Option<Iv> = None;
            *work += rows.nrows as u64;
            'rows: for row in rows.iter() {
                let (mut rl, mut rh): Iv = (0, 0);
                for (j, &v) in con.scope.iter().enumerate() {
                    let cell = rows.cell(row, j);
                    let dom = self.model.dom(doms, v);
                    if !owned.get(j).copied().unwrap_or(false) {
                        if !cell.iter().zip(dom).any(|(a, b)| a & b != 0) {
                            continue 'rows;
                        }
                        continue;
                    }
                    let per = self.contrib.get(v)?.as_ref()?;
                    let mut iv: Option<Iv> = None;
                    for (w, (a, b)) in cell.iter().zip(dom).enumerate() {
                        let mut x = a & b;
                        while x != 0 {
                            let i = w * 64 + x.trailing_zeros() as usize;
                            x &= x - 1;
                            let k = (*per.get(i)?)?;
                            iv = Some(iv.map_or((k, k), |(p, q)| (p.min(k), q.max(k))));
                        }
                    }
                    let Some((a, b)) = iv else {
                        continue 'rows;
                    };
                    rl = rl.checked_add(a)?;
                    rh = rh.checked_add(b)?;
                }
                best = Some(best.map_or((rl, rh), |(p, q)| (p.min(rl), q.max(rh))));
            }
            let Some((a, b)) = best else {
                return Some(None);
            };
            lo = lo.checked_add(a)?;
            hi = hi.checked_add(b)?;
        }
        Some(Some((lo, hi)))
    }

    /// An interval containing the total of every configuration left in `doms`.
    /// `work` grows by the rows and variables looked at (charged to the engine's budget).
    pub fn bound(&self, doms: &[u64], work: &mut u64) -> Bound {
        match self.options_iv(doms, work) {
            None => Bound::Unknown,
            Some(None) => Bound::Empty,
            Some(Some(iv)) => self
                .pipeline(iv, doms)
                .map_or(Bound::Unknown, Bound::Within),
        }
    }

    /// Whether, once every rule's condition is decided and every formula is fixed, the total is
    /// a non-decreasing function of the sum of the option prices: every percentage is at least
    /// −100% (so `x ± round(x·p/100)` is monotone), the quantity is not negative, and every
    /// option price is representable. Then the exact range needs only the least and greatest
    /// sum per rule pattern.
    pub fn monotone(&self) -> bool {
        let pct_ok = |k: Decimal| k >= -Decimal::ONE_HUNDRED;
        self.base.is_some()
            && self.quantity >= 0
            && self.tier_discount.is_none_or(|p| pct_ok(-p))
            && self.product.price_rules.iter().all(|r| match &r.effect {
                PriceEffect::Discount(p) => pct_ok(-*p),
                PriceEffect::Markup(p) => pct_ok(*p),
                _ => true,
            })
            && self
                .contrib
                .iter()
                .flatten()
                .all(|per| per.iter().all(Option::is_some))
    }

    /// The total's interval when the option prices sum to exactly `options`, given what the
    /// domains decide of the rules. For a [`Self::monotone`] plan its low end only grows with
    /// `options`, and so does its high end: the low end at the least sum bounds every total from
    /// below, the high end at the greatest sum from above.
    pub fn at(&self, options: Units, doms: &[u64]) -> Option<Iv> {
        self.pipeline((options, options), doms)
    }

    /// A variable to branch on before the total is a function of the option prices alone: one
    /// that a rule's undecided condition reads, or an open variable of a formula that may apply.
    /// `None` when every condition is decided and every such formula reads fixed variables.
    pub fn split(&self, doms: &[u64]) -> Option<Split> {
        let model = self.model;
        let open = |v: usize| crate::rules::model::count_bits(model.dom(doms, v)) > 1;
        for (k, rule) in self.product.price_rules.iter().enumerate() {
            let mut applies = true;
            if let Some(c) = &rule.condition {
                let scope = self.cond_scope.get(k)?;
                let open_vars: Vec<usize> = scope.iter().copied().filter(|&v| open(v)).collect();
                match open_vars.as_slice() {
                    [] => {
                        let get = |o: usize| -> Option<Val> {
                            let i = iter_bits(model.dom(doms, o)).next()?;
                            model.vars.get(o)?.val(i)
                        };
                        applies = c.eval(&get);
                    }
                    [v] => {
                        // Split the one open variable's values by the condition's outcome.
                        let v = *v;
                        let var = model.vars.get(v)?;
                        let mut yes = vec![0u64; model.dom(doms, v).len()];
                        let (mut any_yes, mut any_no) = (false, false);
                        for i in iter_bits(model.dom(doms, v)) {
                            let get = |o: usize| -> Option<Val> {
                                if o == v {
                                    return var.val(i);
                                }
                                let j = iter_bits(model.dom(doms, o)).next()?;
                                model.vars.get(o)?.val(j)
                            };
                            if c.eval(&get) {
                                crate::rules::model::set_bit(&mut yes, i);
                                any_yes = true;
                            } else {
                                any_no = true;
                            }
                        }
                        if any_yes && any_no {
                            return Some(Split::Sets(v, yes));
                        }
                        applies = any_yes;
                    }
                    _ => match self.decide(c, scope, doms) {
                        Tri::True => {}
                        Tri::False => applies = false,
                        Tri::Unknown => {
                            let v = open_vars.iter().copied().min_by_key(|&v| {
                                crate::rules::model::count_bits(model.dom(doms, v))
                            })?;
                            return Some(Split::Values(v));
                        }
                    },
                }
            }
            if applies
                && let Some(scope) = self.formula_scope.get(k)
                && let Some(&v) = scope.iter().find(|&&v| open(v))
            {
                return Some(Split::Values(v));
            }
        }
        None
    }

    /// The stages after the option prices, on an interval.
    fn pipeline(&self, options: Iv, doms: &[u64]) -> Option<Iv> {
        let base = self.base?;
        let mut iv = (base.checked_add(options.0)?, base.checked_add(options.1)?);
        iv = self.rules(Stage::Unit, iv, doms)?;
        if let Some(p) = self.tier_discount {
            iv = self.pct(iv, -p)?;
        }
        let q = self.quantity;
        let (a, b) = (iv.0.checked_mul(q)?, iv.1.checked_mul(q)?);
        iv = (a.min(b), a.max(b));
        self.rules(Stage::Order, iv, doms)
    }

    fn rules(&self, stage: Stage, mut iv: Iv, doms: &[u64]) -> Option<Iv> {
        for (k, rule) in self.product.price_rules.iter().enumerate() {
            if rule.stage != stage {
                continue;
            }
            let cond = match &rule.condition {
                None => Tri::True,
                Some(c) => self.decide(c, self.cond_scope.get(k)?, doms),
            };
            if cond == Tri::False {
                continue;
            }
            let applied = self.effect(rule, k, iv, doms)?;
            iv = match (cond, applied) {
                (_, None) => iv,
                (Tri::True, Some((a, true))) => a,
                (_, Some((a, _))) => hull(iv, a),
            };
        }
        Some(iv)
    }

    /// The interval after the rule's effect, and whether it surely applies (a formula may read
    /// options that may be unset). `Some(None)`: it surely does not apply.
    fn effect(
        &self,
        rule: &PriceRule,
        k: usize,
        (lo, hi): Iv,
        doms: &[u64],
    ) -> Option<Option<(Iv, bool)>> {
        let out = match &rule.effect {
            PriceEffect::Add(a) => {
                let a = units(*a, self.mu).ok()?;
                (lo.checked_add(a)?, hi.checked_add(a)?)
            }
            PriceEffect::Subtract(a) => {
                let a = units(*a, self.mu).ok()?;
                (lo.checked_sub(a)?, hi.checked_sub(a)?)
            }
            PriceEffect::Formula(t) => {
                let scope = self.formula_scope.get(k)?;
                let mut surely = true;
                for &v in scope {
                    let var = self.model.vars.get(v)?;
                    let dom = self.model.dom(doms, v);
                    let has_set = iter_bits(dom).any(|i| Some(i) != var.unset());
                    if !has_set {
                        return Some(None);
                    }
                    if var
                        .unset()
                        .is_some_and(|u| crate::rules::model::bit(dom, u))
                    {
                        surely = false;
                    }
                }
                let (tl, th) = self.term(t, doms)?;
                let (tl, th) = (tl.units(self.mu).ok()?, th.units(self.mu).ok()?);
                return Some(Some(((lo.checked_add(tl)?, hi.checked_add(th)?), surely)));
            }
            PriceEffect::Discount(p) => self.pct((lo, hi), -*p)?,
            PriceEffect::Markup(p) => self.pct((lo, hi), *p)?,
            PriceEffect::Set(a) => {
                let a = units(*a, self.mu).ok()?;
                (a, a)
            }
            PriceEffect::Min(a) => {
                let a = units(*a, self.mu).ok()?;
                (lo.max(a), hi.max(a))
            }
            PriceEffect::Max(a) => {
                let a = units(*a, self.mu).ok()?;
                (lo.min(a), hi.min(a))
            }
        };
        Some(Some((out, true)))
    }

    /// `x + round(x·k/100)` over `[lo, hi]`.
    fn pct(&self, (lo, hi): Iv, k: Decimal) -> Option<Iv> {
        let f = |x: Units| -> Option<Units> { x.checked_add(percent_of(x, k).ok()?) };
        if k >= -Decimal::ONE_HUNDRED {
            Some((f(lo)?, f(hi)?))
        } else {
            // Decreasing overall; bound each part separately.
            Some((
                lo.checked_add(percent_of(hi, k).ok()?)?,
                hi.checked_add(percent_of(lo, k).ok()?)?,
            ))
        }
    }

    /// Interval of an arithmetic term over the set values of the domains (exact fixed point).
    fn term(&self, t: &Term, doms: &[u64]) -> Option<(Fx, Fx)> {
        let min = |a: Fx, b: Fx| -> Option<Fx> {
            Some(if Fx::cmp(a, b).ok()? == Ordering::Greater {
                b
            } else {
                a
            })
        };
        let max = |a: Fx, b: Fx| -> Option<Fx> {
            Some(if Fx::cmp(a, b).ok()? == Ordering::Less {
                b
            } else {
                a
            })
        };
        Some(match t {
            Term::Int(n) => (Fx::int(*n), Fx::int(*n)),
            Term::Dec(d) => (Fx::dec(*d), Fx::dec(*d)),
            Term::Opt(o) | Term::Len(o) => {
                let var = self.model.vars.get(*o)?;
                let mut iv: Option<(i64, i64)> = None;
                for i in iter_bits(self.model.dom(doms, *o)) {
                    if let Some(Val::Int(n)) = var.val(i) {
                        iv = Some(iv.map_or((n, n), |(a, b)| (a.min(n), b.max(n))));
                    }
                }
                let (a, b) = iv?;
                (Fx::int(a), Fx::int(b))
            }
            Term::Add(a, b) => {
                let (a, b) = (self.term(a, doms)?, self.term(b, doms)?);
                (Fx::add(a.0, b.0).ok()?, Fx::add(a.1, b.1).ok()?)
            }
            Term::Sub(a, b) => {
                let (a, b) = (self.term(a, doms)?, self.term(b, doms)?);
                (
                    Fx::add(a.0, Fx::neg(b.1).ok()?).ok()?,
                    Fx::add(a.1, Fx::neg(b.0).ok()?).ok()?,
                )
            }
            Term::Mul(a, b) => {
                let (a, b) = (self.term(a, doms)?, self.term(b, doms)?);
                let ps = [
                    Fx::mul(a.0, b.0).ok()?,
                    Fx::mul(a.0, b.1).ok()?,
                    Fx::mul(a.1, b.0).ok()?,
                    Fx::mul(a.1, b.1).ok()?,
                ];
                let mut lo = ps[0];
                let mut hi = ps[0];
                for &p in &ps[1..] {
                    lo = min(lo, p)?;
                    hi = max(hi, p)?;
                }
                (lo, hi)
            }
            Term::Neg(a) => {
                let a = self.term(a, doms)?;
                (Fx::neg(a.1).ok()?, Fx::neg(a.0).ok()?)
            }
        })
    }

    /// Whether a condition holds for every, no, or some configurations of the domains: exact
    /// when its variables have few combinations; else by three-valued logic over its atoms
    /// (each decided exactly when its own variables have few combinations), which is sound.
    fn decide(&self, e: &Expr, scope: &[usize], doms: &[u64]) -> Tri {
        match self.tri(e, scope, doms) {
            Tri::Unknown => self.kleene(e, doms),
            t => t,
        }
    }

    fn kleene(&self, e: &Expr, doms: &[u64]) -> Tri {
        match e {
            Expr::Const(b) => {
                if *b {
                    Tri::True
                } else {
                    Tri::False
                }
            }
            Expr::Not(x) => match self.kleene(x, doms) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                Tri::Unknown => Tri::Unknown,
            },
            Expr::And(items) | Expr::Or(items) => {
                let (stop, rest) = match e {
                    Expr::And(_) => (Tri::False, Tri::True),
                    _ => (Tri::True, Tri::False),
                };
                let mut out = rest;
                for x in items {
                    match self.kleene(x, doms) {
                        t if t == stop => return stop,
                        Tri::Unknown => out = Tri::Unknown,
                        _ => {}
                    }
                }
                out
            }
            _ => {
                let mut scope = std::collections::BTreeSet::new();
                e.options(&mut scope);
                let scope: Vec<usize> = scope.into_iter().collect();
                self.tri(e, &scope, doms)
            }
        }
    }

    /// Whether a condition holds for every, no, or some configurations of the domains.
    fn tri(&self, e: &Expr, scope: &[usize], doms: &[u64]) -> Tri {
        let lists: Vec<Vec<usize>> = scope
            .iter()
            .map(|&v| iter_bits(self.model.dom(doms, v)).collect())
            .collect();
        let mut combos = 1usize;
        for l in &lists {
            combos = combos.saturating_mul(l.len());
        }
        if combos == 0 || combos > ENUMERATE {
            return Tri::Unknown;
        }
        let mut pos = vec![0usize; lists.len()];
        let (mut any_true, mut any_false) = (false, false);
        loop {
            let get = |o: usize| -> Option<Val> {
                let j = scope.iter().position(|&v| v == o)?;
                let i = *lists.get(j)?.get(*pos.get(j)?)?;
                self.model.vars.get(o)?.val(i)
            };
            if e.eval(&get) {
                any_true = true;
            } else {
                any_false = true;
            }
            if any_true && any_false {
                return Tri::Unknown;
            }
            // Next combination (odometer).
            let mut j = 0;
            loop {
                if j == pos.len() {
                    return if any_true { Tri::True } else { Tri::False };
                }
                pos[j] += 1;
                if pos[j] < lists[j].len() {
                    break;
                }
                pos[j] = 0;
                j += 1;
            }
        }
    }
}

/// How to branch on the rules' inputs (see [`Plan::split`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Split {
    /// One branch per value of the variable.
    Values(usize),
    /// Two branches: the variable within these domain indices (where the condition holds), and
    /// outside them.
    Sets(usize, Vec<u64>),
}

/// What the bound knows about the configurations left in some domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Their totals lie within this interval.
    Within(Iv),
    /// There are none (a table has no row left).
    Empty,
    /// Nothing (an amount overflowed).
    Unknown,
}

/// Gives each priced variable to at most one positive table (tables with the most priced
/// variables first); the rest are free.
fn partition(
    model: &Model,
    contrib: &[Option<Vec<Option<Units>>>],
) -> (Vec<(usize, Vec<bool>)>, Vec<usize>) {
    let priced = |v: usize| contrib.get(v).is_some_and(Option::is_some);
    let mut order: Vec<usize> = (0..model.cons.len())
        .filter(|&c| matches!(model.cons[c].kind, ConKind::Table(_)))
        .collect();
    let count = |c: usize| model.cons[c].scope.iter().filter(|&&v| priced(v)).count();
    order.sort_by_key(|&c| std::cmp::Reverse(count(c)));
    let mut taken = vec![false; model.vars.len()];
    let mut groups = Vec::new();
    for c in order {
        let owned: Vec<bool> = model.cons[c]
            .scope
            .iter()
            .map(|&v| {
                let own = priced(v) && !taken[v];
                if own {
                    taken[v] = true;
                }
                own
            })
            .collect();
        if owned.iter().any(|&o| o) {
            groups.push((c, owned));
        }
    }
    let free = (0..model.vars.len())
        .filter(|&v| priced(v) && !taken[v])
        .collect();
    (groups, free)
}

fn hull(a: Iv, b: Iv) -> Iv {
    (a.0.min(b.0), a.1.max(b.1))
}
