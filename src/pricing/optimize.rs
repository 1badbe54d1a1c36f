//! Exact minimum of an additive weight (the option prices) over the valid configurations left in the engine's domains: search by components with a component cache.
//!
//! After propagation the open variables split into independent components (variables linked by
//! constraints that are not yet entailed, as in `rules::count`). The minimum of a sum of
//! per-variable weights is the sum of the components' minima, each found by a depth-first search
//! with propagation (cheapest value first, pruned by the sum of the variables' cheapest values)
//! and cached by the component's domains and the fixed values its constraints read. Every
//! minimum comes with a witness: one domain index per variable of the component, a valid
//! assignment of it (so the witnesses of independent components combine into a valid
//! configuration).

use foldhash::HashMap;
use std::rc::Rc;

use super::eval::Units;
use crate::rules::model::{Model, iter_bits};
use crate::rules::solver::{Budget, OutOfWork, Solver};

/// Most cached components before the cache is cleared (bounds memory, not correctness).
const CACHE_CAP: usize = 100_000;

/// Why an optimisation stopped.
pub(crate) enum Halt {
    Work,
    Overflow,
}

impl From<OutOfWork> for Halt {
    fn from(_: OutOfWork) -> Halt {
        Halt::Work
    }
}

/// The least weight of some variables and an assignment attaining it, as a tree: the variables
/// fixed at this level, then the parts (independent components).
#[derive(Debug)]
pub(crate) struct Best {
    pub value: Units,
    assign: Vec<(usize, usize)>,
    parts: Vec<Rc<Best>>,
}

impl Best {
    /// Writes the witness into `out` (one domain index per variable).
    pub fn fill(&self, out: &mut [usize]) {
        for &(v, i) in &self.assign {
            if let Some(x) = out.get_mut(v) {
                *x = i;
            }
        }
        for p in &self.parts {
            p.fill(out);
        }
    }
}

/// Minimises `Σ weight[v][index of v]` over the valid configurations of a solver's domains.
pub(crate) struct Optimizer<'m> {
    model: &'m Model,
    /// Per variable: its weight per domain index (`None`: weight 0 everywhere).
    weight: Vec<Option<Vec<Units>>>,
    cache: HashMap<Vec<u64>, Option<Rc<Best>>>,
}

impl<'m> Optimizer<'m> {
    pub fn new(model: &'m Model, weight: Vec<Option<Vec<Units>>>) -> Optimizer<'m> {
        Optimizer {
            model,
            weight,
            cache: HashMap::default(),
        }
    }

    fn w(&self, v: usize, i: usize) -> Units {
        self.weight
            .get(v)
            .and_then(Option::as_ref)
            .and_then(|w| w.get(i).copied())
            .unwrap_or(0)
    }

    /// The least weight of `v` over its current domain (0 for an empty domain).
    fn min_w(&self, s: &Solver<'_>, v: usize) -> Units {
        match self.weight.get(v).and_then(Option::as_ref) {
            None => 0,
            Some(w) => iter_bits(self.model.dom(&s.doms, v))
                .filter_map(|i| w.get(i).copied())
                .min()
                .unwrap_or(0),
        }
    }

    /// The spread of `v`'s weight over its current domain (`None` when it has no weight).
    fn spread(&self, s: &Solver<'_>, v: usize) -> Option<Units> {
        let w = self.weight.get(v).and_then(Option::as_ref)?;
        let mut it = iter_bits(self.model.dom(&s.doms, v)).filter_map(|i| w.get(i).copied());
        let first = it.next()?;
        let (lo, hi) = it.fold((first, first), |(a, b), x| (a.min(x), b.max(x)));
        Some(hi - lo)
    }

    /// A lower bound of the weight of `vars`: the sum of their cheapest values.
    fn lower(&self, s: &Solver<'_>, vars: &[usize]) -> Result<Units, Halt> {
        vars.iter().try_fold(0 as Units, |acc, &v| {
            acc.checked_add(self.min_w(s, v)).ok_or(Halt::Overflow)
        })
    }

    /// The least weight of `vars` over the valid configurations of the solver's domains (which
    /// must be at a propagation fixpoint), with a witness; `None` when there is none. The other
    /// variables must be fixed or independent of `vars`.
    pub fn best(
        &mut self,
        s: &mut Solver<'_>,
        vars: &[usize],
        budget: &mut Budget,
    ) -> Result<Option<Rc<Best>>, Halt> {
        let mut value: Units = 0;
        let mut assign = Vec::new();
        let mut parts = Vec::new();
        let (fixed, comps) = components(s, vars);
        for v in fixed {
            let Some(i) = s.fixed(v) else {
                return Ok(None);
            };
            value = value.checked_add(self.w(v, i)).ok_or(Halt::Overflow)?;
            assign.push((v, i));
        }
        for comp in comps {
            if let [v] = comp.as_slice() {
                // Unconstrained: its cheapest value.
                let v = *v;
                let Some(i) = iter_bits(self.model.dom(&s.doms, v)).min_by_key(|&i| self.w(v, i))
                else {
                    return Ok(None);
                };
                value = value.checked_add(self.w(v, i)).ok_or(Halt::Overflow)?;
                assign.push((v, i));
                continue;
            }
            match self.component(s, &comp, budget)? {
                None => return Ok(None),
                Some(b) => {
                    value = value.checked_add(b.value).ok_or(Halt::Overflow)?;
                    parts.push(b);
                }
            }
        }
        Ok(Some(Rc::new(Best {
            value,
            assign,
            parts,
        })))
    }

    fn component(
        &mut self,
        s: &mut Solver<'_>,
        comp: &[usize],
        budget: &mut Budget,
    ) -> Result<Option<Rc<Best>>, Halt> {
        let key = key(s, comp);
        if let Some(b) = self.cache.get(&key) {
            return Ok(b.clone());
        }
        let model = self.model;
        let floor = self.lower(s, comp)?;
        // Branch on the weighted variable whose weight spreads most; without one, on the
        // variable with the most constraints (smallest domain on ties).
        let v = comp
            .iter()
            .copied()
            .max_by_key(|&v| {
                (
                    model.var_cons[v].len(),
                    self.spread(s, v).unwrap_or(-1),
                    usize::MAX - s.size(v),
                )
            })
            .unwrap_or(comp[0]);
        let mut order: Vec<usize> = iter_bits(model.dom(&s.doms, v)).collect();
        order.sort_by_key(|&i| self.w(v, i));
        let mut best: Option<Rc<Best>> = None;
        for i in order {
            if best.as_ref().is_some_and(|b| b.value <= floor) {
                break; // nothing can beat the sum of the cheapest values
            }
            if !budget.spend(1) {
                return Err(Halt::Work);
            }
            let m = s.mark();
            s.assign(v, i);
            s.queue_var(v);
            if s.propagate(budget)? {
                let hope = self.lower(s, comp)?;
                if best.as_ref().is_none_or(|b| hope < b.value)
                    && let Some(b) = self.best(s, comp, budget)?
                    && best.as_ref().is_none_or(|x| b.value < x.value)
                {
                    best = Some(b);
                }
            }
            s.undo(m);
        }
        if self.cache.len() >= CACHE_CAP {
            self.cache.clear();
        }
        self.cache.insert(key, best.clone());
        Ok(best)
    }
}

/// The fixed variables among `vars`, and the open ones split into groups linked by active
/// constraints that are not entailed.
fn components(s: &Solver<'_>, vars: &[usize]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let model = s.model;
    let mut fixed = Vec::new();
    let mut seen: HashMap<usize, ()> = HashMap::default();
    let mut out: Vec<Vec<usize>> = Vec::new();
    let open: Vec<usize> = vars
        .iter()
        .copied()
        .filter(|&v| {
            if s.size(v) > 1 {
                true
            } else {
                fixed.push(v);
                false
            }
        })
        .collect();
    for &start in &open {
        if seen.contains_key(&start) {
            continue;
        }
        let mut stack = vec![start];
        seen.insert(start, ());
        let mut members = Vec::new();
        while let Some(v) = stack.pop() {
            members.push(v);
            for &c in &model.var_cons[v] {
                if !s.is_active_pub(c) || s.entailed(c) {
                    continue;
                }
                for &w in &model.cons[c].scope {
                    if s.size(w) > 1 && !seen.contains_key(&w) {
                        seen.insert(w, ());
                        stack.push(w);
                    }
                }
            }
        }
        members.sort_unstable();
        out.push(members);
    }
    (fixed, out)
}

/// The cache key of a component (as exact counting keys its cache).
fn key(s: &Solver<'_>, comp: &[usize]) -> Vec<u64> {
    crate::rules::count::component_key(s, comp)
}
