//! The search core: generalized arc consistency on compressed tables, forward checking of expressions, and depth-first search with a trail and a work budget.

use std::collections::VecDeque;

use super::model::{ConKind, Model, bit, count_bits, iter_bits};
use crate::catalog::expr::Val;

/// A work budget shared by one engine operation: search nodes and propagation steps.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub remaining: u64,
    pub limit: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            remaining: limit,
            limit,
        }
    }

    /// Spends `n` units; false when exhausted.
    pub fn spend(&mut self, n: u64) -> bool {
        if self.remaining < n {
            self.remaining = 0;
            return false;
        }
        self.remaining -= n;
        true
    }

    pub fn used(&self) -> u64 {
        self.limit - self.remaining
    }
}

/// The work budget ran out before the answer was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfWork;

/// Domains plus a trail for undo, and propagation scratch space.
#[derive(Debug)]
pub struct Solver<'m> {
    pub model: &'m Model,
    pub doms: Vec<u64>,
    trail: Vec<(u32, u64)>,
    queue: VecDeque<usize>,
    queued: Vec<bool>,
    supp: Vec<u64>,
    /// Which constraints take part (all when `None`).
    active: Option<Vec<bool>>,
    /// Extra constraints (e.g. a negated rule), propagated like the model's.
    extra: &'m [super::model::Con],
}

impl<'m> Solver<'m> {
    pub fn new(model: &'m Model, doms: Vec<u64>) -> Solver<'m> {
        Solver {
            model,
            doms,
            trail: Vec::new(),
            queue: VecDeque::new(),
            queued: Vec::new(),
            supp: Vec::new(),
            active: None,
            extra: &[],
        }
    }

    /// Adds constraints beyond the model's (indexed after them).
    pub fn with_extra(mut self, extra: &'m [super::model::Con]) -> Self {
        self.extra = extra;
        self
    }

    /// Restricts propagation to the constraints marked true.
    pub fn with_active(mut self, active: Vec<bool>) -> Self {
        self.active = Some(active);
        self
    }

    fn ncons(&self) -> usize {
        self.model.cons.len() + self.extra.len()
    }

    fn con(&self, c: usize) -> &'m super::model::Con {
        let extra: &'m [super::model::Con] = self.extra;
        if c < self.model.cons.len() {
            &self.model.cons[c]
        } else {
            &extra[c - self.model.cons.len()]
        }
    }

    fn is_active(&self, c: usize) -> bool {
        c >= self.model.cons.len()
            || self
                .active
                .as_ref()
                .is_none_or(|a| a.get(c).copied().unwrap_or(false))
    }

    pub fn mark(&self) -> usize {
        self.trail.len()
    }

    pub fn undo(&mut self, mark: usize) {
        while self.trail.len() > mark {
            if let Some((i, w)) = self.trail.pop() {
                self.doms[i as usize] = w;
            }
        }
    }

    fn set_word(&mut self, i: usize, w: u64) {
        let old = self.doms[i];
        if old != w {
            self.trail.push((u32::try_from(i).unwrap_or(u32::MAX), old));
            self.doms[i] = w;
        }
    }

    pub fn size(&self, v: usize) -> usize {
        count_bits(self.model.dom(&self.doms, v))
    }

    pub fn has(&self, v: usize, i: usize) -> bool {
        bit(self.model.dom(&self.doms, v), i)
    }

    /// The single index of a fixed variable.
    pub fn fixed(&self, v: usize) -> Option<usize> {
        let d = self.model.dom(&self.doms, v);
        if count_bits(d) == 1 {
            iter_bits(d).next()
        } else {
            None
        }
    }

    /// Restricts `v` to the single index `i`. False if `i` is not in its domain.
    pub fn assign(&mut self, v: usize, i: usize) -> bool {
        if !self.has(v, i) {
            return false;
        }
        let off = self.model.offset[v];
        for w in 0..self.model.nwords[v] {
            let keep = if w == i / 64 { 1u64 << (i % 64) } else { 0 };
            self.set_word(off + w, keep);
        }
        true
    }

    /// Removes index `i` from `v`'s domain. False if that empties it.
    pub fn remove(&mut self, v: usize, i: usize) -> bool {
        let off = self.model.offset[v] + i / 64;
        let w = self.doms[off] & !(1u64 << (i % 64));
        self.set_word(off, w);
        self.size(v) > 0
    }

    /// Queues every active constraint.
    pub fn queue_all(&mut self) {
        for c in 0..self.ncons() {
            self.enqueue(c);
        }
    }

    /// Queues the constraints of variable `v`.
    pub fn queue_var(&mut self, v: usize) {
        for k in 0..self.model.var_cons[v].len() {
            let c = self.model.var_cons[v][k];
            self.enqueue(c);
        }
        let extra: &'m [super::model::Con] = self.extra;
        for (k, x) in extra.iter().enumerate() {
            if x.scope.contains(&v) {
                self.enqueue(self.model.cons.len() + k);
            }
        }
    }

    fn enqueue(&mut self, c: usize) {
        if self.queued.len() < self.ncons() {
            self.queued.resize(self.ncons(), false);
        }
        if self.is_active(c) && !self.queued[c] {
            self.queued[c] = true;
            self.queue.push_back(c);
        }
    }

    /// Runs queued constraints to a fixpoint. False on a conflict (an empty domain).
    pub fn propagate(&mut self, budget: &mut Budget) -> Result<bool, OutOfWork> {
        while let Some(c) = self.queue.pop_front() {
            self.queued[c] = false;
            let ok = self.revise(c, budget)?;
            if !ok {
                while let Some(c) = self.queue.pop_front() {
                    self.queued[c] = false;
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn revise(&mut self, c: usize, budget: &mut Budget) -> Result<bool, OutOfWork> {
        let model: &'m Model = self.model;
        let con = self.con(c);
        let extra: &'m [super::model::Con] = self.extra;
        match &con.kind {
            ConKind::Table {
                rows,
                nrows,
                row_words,
                cell_off,
            } => {
                let (rows, nrows, row_words) = (rows.as_slice(), *nrows, *row_words);
                let scope = &con.scope;
                if !budget.spend(1 + (nrows * row_words) as u64 / 64) {
                    return Err(OutOfWork);
                }
                self.supp.clear();
                self.supp.resize(row_words, 0);
                let mut any = false;
                for r in 0..nrows {
                    let row = &rows[r * row_words..(r + 1) * row_words];
                    let alive = scope.iter().enumerate().all(|(j, &v)| {
                        let d = model.dom(&self.doms, v);
                        let cell = &row[cell_off[j]..cell_off[j] + d.len()];
                        cell.iter().zip(d).any(|(a, b)| a & b != 0)
                    });
                    if alive {
                        any = true;
                        for (j, &v) in scope.iter().enumerate() {
                            let d = model.dom(&self.doms, v);
                            let o = cell_off[j];
                            for (k, w) in d.iter().enumerate() {
                                self.supp[o + k] |= row[o + k] & w;
                            }
                        }
                    }
                }
                if !any {
                    return Ok(false);
                }
                for (j, &v) in scope.iter().enumerate() {
                    let off = model.offset[v];
                    let mut changed = false;
                    for k in 0..model.nwords[v] {
                        let nw = self.supp[cell_off[j] + k];
                        if nw != self.doms[off + k] {
                            self.set_word(off + k, nw);
                            changed = true;
                        }
                    }
                    if changed {
                        if self.size(v) == 0 {
                            return Ok(false);
                        }
                        for k in 0..model.var_cons[v].len() {
                            let c2 = model.var_cons[v][k];
                            if c2 != c {
                                self.enqueue(c2);
                            }
                        }
                        for (k, x) in extra.iter().enumerate() {
                            let c2 = model.cons.len() + k;
                            if c2 != c && x.scope.contains(&v) {
                                self.enqueue(c2);
                            }
                        }
                    }
                }
                Ok(true)
            }
            ConKind::Check(e) => {
                if !budget.spend(1) {
                    return Err(OutOfWork);
                }
                let scope = &con.scope;
                let open: Vec<usize> = scope
                    .iter()
                    .copied()
                    .filter(|&v| self.fixed(v).is_none())
                    .collect();
                let val_of = |s: &Self, o: usize| -> Option<Val> {
                    s.fixed(o).and_then(|i| model.vars[o].val(i))
                };
                match open.as_slice() {
                    [] => Ok(e.eval(&|o| val_of(self, o))),
                    [v] => {
                        let v = *v;
                        let idxs: Vec<usize> = iter_bits(model.dom(&self.doms, v)).collect();
                        let mut changed = false;
                        for i in idxs {
                            let vi = model.vars[v].val(i);
                            let holds = e.eval(&|o| if o == v { vi } else { val_of(self, o) });
                            if !holds {
                                changed = true;
                                if !self.remove(v, i) {
                                    return Ok(false);
                                }
                            }
                        }
                        if changed {
                            self.queue_var(v);
                        }
                        Ok(true)
                    }
                    _ => Ok(true),
                }
            }
        }
    }

    /// Whether constraint `c` holds for every combination of the current domains (used by counting).
    pub fn entailed(&self, c: usize) -> bool {
        let con = self.con(c);
        let open = con
            .scope
            .iter()
            .filter(|&&v| self.fixed(v).is_none())
            .count();
        if open <= 1 {
            return true;
        }
        match &con.kind {
            ConKind::Table {
                rows,
                nrows,
                row_words,
                cell_off,
            } => (0..*nrows).any(|r| {
                let row = &rows[r * row_words..(r + 1) * row_words];
                con.scope.iter().enumerate().all(|(j, &v)| {
                    let d = self.model.dom(&self.doms, v);
                    d.iter()
                        .zip(&row[cell_off[j]..])
                        .all(|(dw, cw)| dw & !cw == 0)
                })
            }),
            ConKind::Check(_) => false,
        }
    }

    pub fn is_active_pub(&self, c: usize) -> bool {
        self.is_active(c)
    }

    /// Depth-first search for one solution, preferring `prefer[v]` (then the lowest index).
    /// Returns the solution's index per variable.
    pub fn solve(
        &mut self,
        prefer: &[Option<usize>],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        let start = self.mark();
        self.queue_all();
        if !self.propagate(budget)? {
            self.undo(start);
            return Ok(None);
        }
        let r = self.dfs(prefer, budget);
        let out = match r {
            Ok(true) => Ok(Some(
                (0..self.model.vars.len())
                    .map(|v| self.fixed(v).unwrap_or(0))
                    .collect(),
            )),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        self.undo(start);
        out
    }

    fn pick(&self) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        for v in 0..self.model.vars.len() {
            let s = self.size(v);
            if s > 1 && best.is_none_or(|(bs, _)| s < bs) {
                best = Some((s, v));
                if s == 2 {
                    break;
                }
            }
        }
        best.map(|(_, v)| v)
    }

    /// Leaves the solution in the domains when it returns true.
    fn dfs(&mut self, prefer: &[Option<usize>], budget: &mut Budget) -> Result<bool, OutOfWork> {
        let Some(v) = self.pick() else {
            return Ok(true);
        };
        let mut order: Vec<usize> = iter_bits(self.model.dom(&self.doms, v)).collect();
        if let Some(p) = prefer.get(v).copied().flatten()
            && let Some(pos) = order.iter().position(|&i| i == p)
        {
            order.remove(pos);
            order.insert(0, p);
        }
        for i in order {
            if !budget.spend(1) {
                return Err(OutOfWork);
            }
            let m = self.mark();
            self.assign(v, i);
            self.queue_var(v);
            if self.propagate(budget)? && self.dfs(prefer, budget)? {
                return Ok(true);
            }
            self.undo(m);
        }
        Ok(false)
    }
}
