//! Exact counting of valid configurations: search with propagation, decomposition into independent components, and a component cache.
//!
//! Every domain index counts once: a choice value, a boolean value, an integer value on its step,
//! "unset" for an optional option, and each allowed length of a text option (text takes part in
//! rules only through its length, so texts of the same length are one configuration).

use foldhash::HashMap;

use num_bigint::BigUint;
use num_traits::{One, Zero};

use super::engine::{Engine, EngineError};
use super::model::iter_bits;
use super::selection::Selection;
use super::solver::{Budget, OutOfWork, Solver};

/// Most cached components before the cache is cleared (bounds memory, not correctness).
const CACHE_CAP: usize = 200_000;

struct Counter<'a, 'm> {
    s: Solver<'m>,
    cache: HashMap<Vec<u64>, BigUint>,
    budget: &'a mut Budget,
}

impl Engine {
    /// The exact number of valid full configurations that extend the selection.
    pub fn count(&self, sel: &Selection) -> Result<BigUint, EngineError> {
        let mut budget = self.budget();
        self.count_with(sel, &mut budget)
            .map_err(|_| self.limit("count"))
    }

    pub(crate) fn count_with(
        &self,
        sel: &Selection,
        budget: &mut Budget,
    ) -> Result<BigUint, OutOfWork> {
        let mut s = Solver::new(&self.model, self.model.initial());
        for (v, i) in self.indices(sel) {
            match i {
                Some(i) if s.assign(v, i) => {}
                _ => return Ok(BigUint::zero()),
            }
        }
        s.queue_all();
        if !s.propagate(budget)? {
            return Ok(BigUint::zero());
        }
        let vars: Vec<usize> = (0..self.model.vars.len()).collect();
        let mut c = Counter {
            s,
            cache: HashMap::default(),
            budget,
        };
        c.count_vars(&vars)
    }
}

impl Counter<'_, '_> {
    /// Counts the solutions over `vars` (all other variables are fixed or independent of them).
    fn count_vars(&mut self, vars: &[usize]) -> Result<BigUint, OutOfWork> {
        let mut total = BigUint::one();
        let (comps, visits) = self.components(vars);
        // Decomposition is charged as propagation is, one unit per constraint looked at: on a
        // large loose model it, not branching, is most of the work.
        if !self.budget.spend(visits) {
            return Err(OutOfWork);
        }
        for comp in comps {
            if comp.len() == 1 {
                total *= BigUint::from(self.s.size(comp[0]));
                continue;
            }
            let n = self.count_component(&comp)?;
            if n.is_zero() {
                return Ok(n);
            }
            total *= n;
        }
        Ok(total)
    }

    fn components(&self, vars: &[usize]) -> (Vec<Vec<usize>>, u64) {
        components_of(&self.s, vars)
    }

    fn key(&self, comp: &[usize]) -> Vec<u64> {
        component_key(&self.s, comp)
    }

    fn count_component(&mut self, comp: &[usize]) -> Result<BigUint, OutOfWork> {
        let model = self.s.model;
        // The key reads each member's constraints once.
        let reads: usize = comp.iter().map(|&v| model.var_cons[v].len()).sum();
        if !self.budget.spend(reads as u64) {
            return Err(OutOfWork);
        }
        let key = self.key(comp);
        if let Some(n) = self.cache.get(&key) {
            return Ok(n.clone());
        }
        let v = branch_var(&self.s, comp);
        let values: Vec<usize> = iter_bits(model.dom(&self.s.doms, v)).collect();
        let mut total = BigUint::zero();
        for i in values {
            if !self.budget.spend(1) {
                return Err(OutOfWork);
            }
            let m = self.s.mark();
            self.s.assign(v, i);
            self.s.queue_var(v);
            if self.s.propagate(self.budget)? {
                total += self.count_vars(comp)?;
            }
            self.s.undo(m);
        }
        if self.cache.len() >= CACHE_CAP {
            self.cache.clear();
        }
        self.cache.insert(key, total.clone());
        Ok(total)
    }
}

/// Most cached components of a support pass before its cache is cleared.
const SUPPORT_CACHE_CAP: usize = 100_000;

/// Complete filtering by the counting search: which values some valid configuration has,
/// found in one pass that decomposes into independent components and caches each component's
/// supported values (by the same key as counting). Its cost is that of an exact count, bounded
/// by the decomposition rather than by the number of values to refute one by one: where search
/// must prove hundreds of values impossible separately, this pass proves them all at once.
struct Supporter<'a, 'm> {
    s: Solver<'m>,
    /// Per component key: its variables' supported values (their domain words, in order), or
    /// `None` when it has no solution.
    cache: HashMap<Vec<u64>, Option<Vec<u64>>>,
    budget: &'a mut Budget,
}

impl Engine {
    /// The values, per variable (domain words laid out as the model's domains), that some valid
    /// configuration extending the fixed values has; all empty when none does.
    pub(crate) fn supports_with(
        &self,
        fixed: &[(usize, usize)],
        budget: &mut Budget,
    ) -> Result<Vec<u64>, OutOfWork> {
        let mut acc = vec![0u64; self.model.initial_domains.len()];
        let Some(s) = self.propagated(fixed, false, budget)? else {
            return Ok(acc);
        };
        let vars: Vec<usize> = (0..self.model.vars.len()).collect();
        let mut c = Supporter {
            s,
            cache: HashMap::default(),
            budget,
        };
        // `support_vars` writes `acc` only when the variables have a solution.
        c.support_vars(&vars, &mut acc)?;
        Ok(acc)
    }
}

impl Supporter<'_, '_> {
    /// Whether `vars` (every other variable fixed or independent of them) have a solution; if
    /// so, every value of theirs some solution has is added to `acc`.
    fn support_vars(&mut self, vars: &[usize], acc: &mut [u64]) -> Result<bool, OutOfWork> {
        let model = self.s.model;
        let (comps, visits) = components_of(&self.s, vars);
        if !self.budget.spend(visits) {
            return Err(OutOfWork);
        }
        let mut found: Vec<(Vec<usize>, Vec<u64>)> = Vec::with_capacity(comps.len());
        for comp in comps {
            if comp.len() == 1 {
                continue; // independent: every value left in its domain is supported
            }
            match self.support_component(&comp)? {
                Some(bits) => found.push((comp, bits)),
                None => return Ok(false),
            }
        }
        // Every component has a solution: the variables of one get what it supports; fixed
        // and independent ones keep their whole (propagated) domains.
        let mut in_comp = vec![false; model.vars.len()];
        for (comp, bits) in &found {
            let mut at = 0;
            for &v in comp {
                in_comp[v] = true;
                let off = model.offset[v];
                for k in 0..model.nwords[v] {
                    acc[off + k] |= bits[at];
                    at += 1;
                }
            }
        }
        for &v in vars.iter().filter(|&&v| !in_comp[v]) {
            let off = model.offset[v];
            for k in 0..model.nwords[v] {
                acc[off + k] |= self.s.doms[off + k];
            }
        }
        Ok(true)
    }

    fn support_component(&mut self, comp: &[usize]) -> Result<Option<Vec<u64>>, OutOfWork> {
        let model = self.s.model;
        let reads: usize = comp.iter().map(|&v| model.var_cons[v].len()).sum();
        if !self.budget.spend(reads as u64) {
            return Err(OutOfWork);
        }
        let key = component_key(&self.s, comp);
        if let Some(r) = self.cache.get(&key) {
            return Ok(r.clone());
        }
        let v = branch_var(&self.s, comp);
        let values: Vec<usize> = iter_bits(model.dom(&self.s.doms, v)).collect();
        let mut acc = vec![0u64; self.s.doms.len()];
        let mut any = false;
        for i in values {
            // Once every value of the component is supported, the rest cannot add any.
            if any
                && comp.iter().all(|&w| {
                    let off = model.offset[w];
                    (0..model.nwords[w]).all(|k| self.s.doms[off + k] & !acc[off + k] == 0)
                })
            {
                break;
            }
            if !self.budget.spend(1) {
                return Err(OutOfWork);
            }
            let m = self.s.mark();
            self.s.assign(v, i);
            self.s.queue_var(v);
            if self.s.propagate(self.budget)? {
                let mut branch = vec![0u64; acc.len()];
                if self.support_vars(comp, &mut branch)? {
                    any = true;
                    for &w in comp {
                        let off = model.offset[w];
                        for k in 0..model.nwords[w] {
                            acc[off + k] |= branch[off + k];
                        }
                    }
                }
            }
            self.s.undo(m);
        }
        let out = any.then(|| {
            comp.iter()
                .flat_map(|&w| {
                    let off = model.offset[w];
                    acc[off..off + model.nwords[w]].iter().copied()
                })
                .collect::<Vec<u64>>()
        });
        if self.cache.len() >= SUPPORT_CACHE_CAP {
            self.cache.clear();
        }
        self.cache.insert(key, out.clone());
        Ok(out)
    }
}

/// The variable a component search branches on: the one with the most constraints (smallest
/// domain on ties). `comp` is never empty.
fn branch_var(s: &Solver<'_>, comp: &[usize]) -> usize {
    comp.iter()
        .copied()
        .max_by_key(|&v| (s.model.var_cons[v].len(), usize::MAX - s.size(v)))
        .unwrap_or(comp[0])
}

/// Splits the open variables among `vars` into groups linked by non-entailed constraints;
/// with the number of constraints looked at. (Counting and the support pass.)
fn components_of(s: &Solver<'_>, vars: &[usize]) -> (Vec<Vec<usize>>, u64) {
    let model = s.model;
    let open: Vec<usize> = vars.iter().copied().filter(|&v| s.size(v) > 1).collect();
    let mut comp_of: HashMap<usize, usize> = HashMap::default();
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut visits = 0u64;
    for &start in &open {
        if comp_of.contains_key(&start) {
            continue;
        }
        let id = out.len();
        let mut stack = vec![start];
        comp_of.insert(start, id);
        let mut members = Vec::new();
        while let Some(v) = stack.pop() {
            members.push(v);
            visits += model.var_cons[v].len() as u64;
            for &c in &model.var_cons[v] {
                if !s.is_active_pub(c) || s.entailed(c) {
                    continue;
                }
                for &w in &model.cons[c].scope {
                    if s.size(w) > 1 && !comp_of.contains_key(&w) {
                        comp_of.insert(w, id);
                        stack.push(w);
                    }
                }
            }
        }
        members.sort_unstable();
        out.push(members);
    }
    (out, visits)
}

/// The number of combinations of a set of domains (no rules): the product of their sizes.
pub fn product_of_domains(sizes: impl IntoIterator<Item = usize>) -> BigUint {
    sizes
        .into_iter()
        .fold(BigUint::one(), |acc, s| acc * BigUint::from(s))
}

/// The cache key of a component (sorted variables): its variables' domains, and the domains of
/// the variables outside it that its non-entailed constraints read (fixed values change what it
/// counts). Shared by exact counting and the price-range optimizer's component caches.
pub(crate) fn component_key(s: &Solver<'_>, comp: &[usize]) -> Vec<u64> {
    let model = s.model;
    let mut k = Vec::with_capacity(comp.len() * 2);
    for &v in comp {
        k.push(v as u64);
        k.extend_from_slice(model.dom(&s.doms, v));
    }
    k.push(u64::MAX);
    let mut outside: Vec<usize> = Vec::new();
    for &v in comp {
        for &c in &model.var_cons[v] {
            if !s.is_active_pub(c) || s.entailed(c) {
                continue;
            }
            outside.extend(
                model.cons[c]
                    .scope
                    .iter()
                    .copied()
                    .filter(|w| comp.binary_search(w).is_err()),
            );
        }
    }
    outside.sort_unstable();
    outside.dedup();
    for v in outside {
        k.push(v as u64);
        k.extend_from_slice(model.dom(&s.doms, v));
    }
    k
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::rules::generate::feature_model;
    use crate::rules::model::bit;

    /// The support pass agrees with exact counting: a value is supported exactly when some
    /// configuration has it (its count is not zero), at the root and under choices, on car
    /// models (tables) and feature models (expressions).
    #[test]
    fn supports_are_the_values_with_a_nonzero_count() {
        use crate::rules::generate::car_model;
        for (k, g) in [
            car_model(3, 10, 9),
            car_model(5, 12, 11),
            feature_model(7, 12, 24),
        ]
        .into_iter()
        .enumerate()
        {
            let loaded = crate::catalog::load(&g.files());
            let engine = Engine::new(loaded.catalog.unwrap().products()[0].clone());
            let model = &engine.model;
            // Counts by domain index (an index may be "unset" or a text length, which a
            // selection cannot name).
            let count_with = |fixed: &[(usize, usize)]| {
                let mut s = Solver::new(model, model.initial());
                if !fixed.iter().all(|&(v, i)| s.assign(v, i)) {
                    return BigUint::zero();
                }
                s.queue_all();
                let mut budget = Budget::new(u64::MAX);
                if !s.propagate(&mut budget).unwrap() {
                    return BigUint::zero();
                }
                let vars: Vec<usize> = (0..model.vars.len()).collect();
                let mut c = Counter {
                    s,
                    cache: HashMap::default(),
                    budget: &mut budget,
                };
                c.count_vars(&vars).unwrap()
            };
            // The root, then one choice of a value that has configurations, then two.
            let mut seen = [0usize; 2];
            let mut fixed: Vec<(usize, usize)> = Vec::new();
            for step in 0..3 {
                let sup = engine
                    .supports_with(&fixed, &mut Budget::new(u64::MAX))
                    .unwrap();
                let mut next = None;
                for v in 0..model.vars.len() {
                    for i in 0..model.vars[v].size {
                        let mut with = fixed.clone();
                        if let Some(k) = with.iter().position(|&(x, _)| x == v) {
                            with[k] = (v, i);
                        } else {
                            with.push((v, i));
                        }
                        let fixed_here = fixed.iter().any(|&(x, j)| x == v && j != i);
                        let n = count_with(&with);
                        let expected = !fixed_here && !n.is_zero();
                        seen[usize::from(expected)] += 1;
                        assert_eq!(
                            bit(model.dom(&sup, v), i),
                            expected,
                            "model {k}, step {step}, {fixed:?}: var {v} value {i}"
                        );
                        if expected && next.is_none() && !fixed.iter().any(|&(x, _)| x == v) {
                            next = Some((v, i));
                        }
                    }
                }
                match next {
                    Some(p) => fixed.push(p),
                    None => break,
                }
            }
            assert!(seen[0] > 0 && seen[1] > 0, "model {k}: {seen:?}");
        }
    }

    /// The work limit bounds decomposition as well as branching: on a large loose model most of
    /// a count's work is finding components, and one pass looks at every constraint of every
    /// open variable. A budget that cannot pay for that pass stops the count before it counts
    /// any component (none is cached); a full count pays for it.
    #[test]
    fn decomposition_is_charged_to_the_budget() {
        let g = feature_model(4, 60, 150);
        let loaded = crate::catalog::load(&g.files());
        let engine = Engine::new(loaded.catalog.unwrap().products()[0].clone());
        let model = &engine.model;
        let root = || {
            let mut s = Solver::new(model, model.initial());
            s.queue_all();
            assert!(s.propagate(&mut Budget::new(u64::MAX)).unwrap());
            s
        };
        let s = root();
        let vars: Vec<usize> = (0..model.vars.len()).collect();
        let pass: u64 = vars
            .iter()
            .filter(|&&v| s.size(v) > 1)
            .map(|&v| model.var_cons[v].len() as u64)
            .sum();
        assert!(pass > 100);
        let count = |limit: u64| {
            let mut budget = Budget::new(limit);
            let mut c = Counter {
                s: root(),
                cache: HashMap::default(),
                budget: &mut budget,
            };
            let n = c.count_vars(&vars);
            let cached = c.cache.len();
            (n, budget.used(), cached)
        };
        let (n, used, cached) = count(pass - 1);
        assert!(n.is_err());
        assert_eq!(used, pass - 1, "nothing spent beyond the limit");
        assert_eq!(
            cached, 0,
            "no component counted before the pass is paid for"
        );
        let (n, used, cached) = count(u64::MAX);
        assert!(cached > 0);
        let n = n.unwrap();
        assert_eq!(
            Ok(n),
            engine.count_with(&Selection::default(), &mut Budget::new(u64::MAX))
        );
        assert!(used >= pass, "used {used}, one pass {pass}");
    }
}
