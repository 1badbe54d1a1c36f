//! The SAT back end for Boolean models: owns the CNF encoding of a compiled model (one selector literal per rule), the incremental CDCL solvers (batsat) that answer the engine's feasibility oracle on such models, and the core-guided explanations built on them.
//!
//! A model qualifies when every variable has exactly two domain indices (index 1 is the literal
//! "true") and every constraint becomes a few clauses: a negative table row forbids one cube (one
//! clause); a positive table or checked expression over at most [`ENUM_VARS`] variables is
//! enumerated and its forbidden assignments are covered by clauses. Any other model stays with the
//! finite-domain solver.
//!
//! Two kinds of solver serve the queries:
//! - a *full* solver holds every rule as plain clauses and answers the common question "is this
//!   set of choices feasible under all rules" (witnesses, consistency, dead values) with the
//!   choices as assumptions;
//! - a *selector* solver adds the literal ¬s_r to every clause of rule r, so that any subset of
//!   rules is switched on by assuming its selectors (explanations, redundancy). Selectors are not
//!   decision variables: one that is not assumed is propagated false when its rule would fail,
//!   i.e. rules are off unless listed.
//!
//! Solvers keep their learnt clauses between calls (every learnt clause is implied by the clause
//! set, so reuse is sound). An engine is shared by request threads, so solvers are pooled: a call
//! takes an idle solver or, when all are busy, builds a fresh one (encoding a 10,000-rule model
//! takes a few milliseconds, far less than queueing behind another request's search), and returns
//! it afterwards; at most [`IDLE`] idle solvers of each kind are kept.
//!
//! Work is charged to the caller's [`Budget`]: one unit per call, per decision (assumption levels
//! included; batsat polls `Callbacks::stop` there) and per conflict (`on_new_clause` for a learnt
//! clause). When the budget runs out the solver is interrupted and the call returns `OutOfWork`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use batsat::{Callbacks, ClauseKind, Lit, SolverInterface, SolverOpts, Var, lbool};

use super::engine::{Elem, Engine};
use super::model::{Con, ConKind, Model, bit};
use super::solver::{Budget, OutOfWork};

/// Largest scope of a positive table or checked expression that is turned into clauses.
pub const ENUM_VARS: usize = 12;
/// Most literals in the whole encoding; a larger model stays with the finite-domain engine.
const LIT_CAP: usize = 8_000_000;
/// Idle solvers kept per kind.
const IDLE: usize = 4;

/// A literal of the encoding: variable `var` (a model variable, or `nvars + r` for the selector
/// of rule r) is true (`pos`) or false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct L {
    pub var: u32,
    pub pos: bool,
}

impl L {
    /// The literal "variable `v` takes domain index `i`" (`None` for an index outside {0, 1}).
    fn choice(v: usize, i: usize) -> Option<L> {
        (i < 2).then(|| L {
            var: u32::try_from(v).unwrap_or(u32::MAX),
            pos: i == 1,
        })
    }
}

/// Charges a solve to the budget: polled by batsat at every decision and learnt clause.
#[derive(Debug, Default)]
struct Charge {
    used: AtomicU64,
    allowance: AtomicU64,
}

impl Callbacks for Charge {
    fn stop(&self) -> bool {
        let u = self.used.load(Ordering::Relaxed).saturating_add(1);
        self.used.store(u, Ordering::Relaxed);
        u > self.allowance.load(Ordering::Relaxed)
    }

    fn on_new_clause(&mut self, _c: &[Lit], k: ClauseKind) {
        if matches!(k, ClauseKind::Learnt) {
            let u = self.used.get_mut();
            *u = u.saturating_add(1);
        }
    }
}

/// One incremental solver with its variables (model variables first, then selectors if any).
struct Inst {
    s: batsat::Solver<Charge>,
    vars: Vec<Var>,
    /// Our index of each batsat variable (by its `idx()`).
    back: Vec<usize>,
    /// How many of the shared proven units this solver has (full solvers only).
    units: usize,
}

impl Inst {
    fn lit(&self, l: L) -> Lit {
        Lit::new(self.vars[l.var as usize], l.pos)
    }

    /// Solves under the assumptions, charging the budget. `Ok(true)`: satisfiable.
    fn run(&mut self, assumptions: &[Lit], budget: &mut Budget) -> Result<bool, OutOfWork> {
        let cb = self.s.cb_mut();
        *cb.used.get_mut() = 0;
        // batsat also polls `stop` once after the search (not a decision): that poll is free.
        *cb.allowance.get_mut() = budget.remaining.saturating_add(1);
        let r = self.s.solve_limited(assumptions);
        let used = self.s.cb_mut().used.get_mut().saturating_sub(1);
        if !budget.spend(used) || r == lbool::UNDEF {
            budget.remaining = 0;
            return Err(OutOfWork);
        }
        Ok(r == lbool::TRUE)
    }

    /// The last model, as one domain index per model variable.
    fn solution(&self, nvars: usize) -> Vec<usize> {
        let m = self.s.get_model();
        (0..nvars)
            .map(|v| {
                let x = self.vars[v].idx() as usize;
                usize::from(m.get(x).is_some_and(|b| *b == lbool::TRUE))
            })
            .collect()
    }
}

/// What a SAT call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A solution of the fixed values, the chosen elements and the listed rules (one index per
    /// variable). It satisfies every rule only when every rule was listed.
    Sat(Vec<usize>),
    /// Infeasible: the elements among the failed assumptions (a sufficient, not necessarily
    /// minimal, subset of the elements: with the fixed values they are infeasible).
    Unsat(Vec<Elem>),
}

/// The CNF encoding of a Boolean model and its pooled solvers.
pub struct SatModel {
    nvars: usize,
    /// The clauses of each rule (over model variables; selectors are added per solver kind).
    rules: Vec<Vec<Vec<L>>>,
    /// Rules per variable (the rules whose clauses mention it).
    var_rules: Vec<Vec<usize>>,
    full: Mutex<Vec<Inst>>,
    selector: Mutex<Vec<Inst>>,
    /// Literals proven to hold in every solution (found by analysis), added to full solvers.
    units: Mutex<Vec<L>>,
}

impl std::fmt::Debug for SatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatModel")
            .field("vars", &self.nvars)
            .field("rules", &self.rules.len())
            .field("clauses", &self.rules.iter().map(Vec::len).sum::<usize>())
            .finish_non_exhaustive()
    }
}

impl SatModel {
    /// The encoding of a model whose variables are all Boolean (two domain indices) and whose
    /// constraints all become clauses within the caps; `None` otherwise.
    pub fn encode(model: &Model) -> Option<SatModel> {
        let nvars = model.vars.len();
        if u32::try_from(nvars + model.cons.len()).is_err()
            || model.vars.iter().any(|v| v.size != 2)
        {
            return None;
        }
        let mut scratch = vec![0usize; nvars];
        let mut lits = 0usize;
        let mut rules = Vec::with_capacity(model.cons.len());
        for c in &model.cons {
            let clauses = encode_con(model, c, &mut scratch)?;
            lits += clauses.iter().map(|c| c.len() + 1).sum::<usize>();
            if lits > LIT_CAP {
                return None;
            }
            rules.push(clauses);
        }
        let mut var_rules = vec![Vec::new(); nvars];
        for (r, clauses) in rules.iter().enumerate() {
            let mut vs: Vec<usize> = clauses.iter().flatten().map(|l| l.var as usize).collect();
            vs.sort_unstable();
            vs.dedup();
            for v in vs {
                var_rules[v].push(r);
            }
        }
        Some(SatModel {
            nvars,
            rules,
            var_rules,
            full: Mutex::new(Vec::new()),
            selector: Mutex::new(Vec::new()),
            units: Mutex::new(Vec::new()),
        })
    }

    /// Number of clauses of rule `r`.
    pub fn clauses_of(&self, r: usize) -> usize {
        self.rules.get(r).map_or(0, Vec::len)
    }

    fn build(&self, selectors: bool) -> Inst {
        let mut s = batsat::Solver::new(SolverOpts::default(), Charge::default());
        let mut vars: Vec<Var> = (0..self.nvars)
            .map(|_| s.new_var(lbool::UNDEF, true))
            .collect();
        if selectors {
            vars.extend((0..self.rules.len()).map(|_| s.new_var(lbool::UNDEF, false)));
        }
        let mut back =
            vec![usize::MAX; vars.iter().map(|v| v.idx() as usize + 1).max().unwrap_or(0)];
        for (k, v) in vars.iter().enumerate() {
            back[v.idx() as usize] = k;
        }
        let mut inst = Inst {
            s,
            vars,
            back,
            units: 0,
        };
        let mut buf: Vec<Lit> = Vec::new();
        for (r, clauses) in self.rules.iter().enumerate() {
            for c in clauses {
                buf.clear();
                buf.extend(c.iter().map(|&l| inst.lit(l)));
                if selectors {
                    buf.push(!Lit::new(inst.vars[self.nvars + r], true));
                }
                // `false` means the clause set is already unsatisfiable (an impossible product
                // for a full solver); the solver then answers every call "infeasible".
                let _ = inst.s.add_clause_reuse(&mut buf);
            }
        }
        inst
    }

    fn take(&self, selectors: bool) -> Inst {
        let pool = if selectors {
            &self.selector
        } else {
            &self.full
        };
        let idle = pool.lock().ok().and_then(|mut p| p.pop());
        let mut inst = idle.unwrap_or_else(|| self.build(selectors));
        if !selectors {
            self.sync_units(&mut inst);
        }
        inst
    }

    fn put(&self, selectors: bool, inst: Inst) {
        let pool = if selectors {
            &self.selector
        } else {
            &self.full
        };
        if let Ok(mut p) = pool.lock()
            && p.len() < IDLE
        {
            p.push(inst);
        }
    }

    /// Adds the proven units this full solver does not have yet.
    fn sync_units(&self, inst: &mut Inst) {
        let Ok(units) = self.units.lock() else { return };
        for &u in units.iter().skip(inst.units) {
            let mut c = vec![inst.lit(u)];
            let _ = inst.s.add_clause_reuse(&mut c);
        }
        inst.units = units.len();
    }

    /// Records a literal that holds in every solution of all the rules.
    fn prove_unit(&self, l: L) {
        if let Ok(mut u) = self.units.lock()
            && !u.contains(&l)
        {
            u.push(l);
        }
    }

    /// Solves a selector solver under `assumptions` and the listed rules, switching rules on
    /// lazily: first the listed rules that read a variable of `start`, then, while the solution
    /// found breaks some listed rule not switched on yet, those rules too. Exact either way: an
    /// infeasible subset of the listed rules makes them all infeasible, and a solution that
    /// breaks none of them is a solution of them all. Most questions involve a few rules near
    /// the chosen values, so this avoids assuming thousands of selectors per call. `Ok(None)`:
    /// infeasible, with the core left in the solver.
    fn run_lazy(
        &self,
        inst: &mut Inst,
        assumptions: &[Lit],
        start: &[usize],
        listed: &[bool],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        let m = self.rules.len();
        let mut on = vec![false; m];
        let mut lits: Vec<Lit> = assumptions.to_vec();
        let switch_on = |r: usize, on: &mut [bool], lits: &mut Vec<Lit>| {
            if listed[r] && !on[r] {
                on[r] = true;
                lits.push(Lit::new(inst.vars[self.nvars + r], true));
            }
        };
        for &v in start {
            for &r in self.var_rules.get(v).map_or(&[][..], Vec::as_slice) {
                switch_on(r, &mut on, &mut lits);
            }
        }
        loop {
            if !inst.run(&lits, budget)? {
                return Ok(None);
            }
            let sol = inst.solution(self.nvars);
            let mut broken = false;
            for r in 0..m {
                if listed[r] && !on[r] && !self.holds(r, &sol) {
                    broken = true;
                    on[r] = true;
                    lits.push(Lit::new(inst.vars[self.nvars + r], true));
                }
            }
            if !broken {
                return Ok(Some(sol));
            }
        }
    }

    /// Whether rule `r` holds for a full assignment.
    fn holds(&self, r: usize, sol: &[usize]) -> bool {
        self.rules[r]
            .iter()
            .all(|c| c.iter().any(|l| (sol[l.var as usize] == 1) == l.pos))
    }

    /// Whether the fixed values, the chosen elements' values and the listed rules (only those)
    /// have a solution.
    pub(crate) fn solve(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Result<Answer, OutOfWork> {
        let m = self.rules.len();
        let mut listed = vec![false; m];
        let mut distinct = 0usize;
        let mut choices: Vec<(L, Elem)> = Vec::new();
        let mut fixed_lits: Vec<L> = Vec::with_capacity(fixed.len());
        for &(v, i) in fixed {
            match L::choice(v, i) {
                Some(l) if v < self.nvars => fixed_lits.push(l),
                // A value outside the domain: no solution, whatever the elements.
                _ => return Ok(Answer::Unsat(Vec::new())),
            }
        }
        for e in elems {
            match *e {
                Elem::Rule(r) => {
                    if r < m && !listed[r] {
                        listed[r] = true;
                        distinct += 1;
                    }
                }
                Elem::Choice(v, i) => match L::choice(v, i) {
                    Some(l) if v < self.nvars => choices.push((l, *e)),
                    _ => return Ok(Answer::Unsat(vec![*e])),
                },
            }
        }
        let selectors = distinct < m;
        let mut inst = self.take(selectors);
        let mut assumptions: Vec<Lit> = Vec::with_capacity(fixed.len() + elems.len());
        assumptions.extend(fixed_lits.iter().map(|&l| inst.lit(l)));
        assumptions.extend(choices.iter().map(|&(l, _)| inst.lit(l)));
        let found = if selectors {
            let start: Vec<usize> = fixed_lits
                .iter()
                .chain(choices.iter().map(|(l, _)| l))
                .map(|l| l.var as usize)
                .collect();
            self.run_lazy(&mut inst, &assumptions, &start, &listed, budget)
        } else {
            inst.run(&assumptions, budget)
                .map(|ok| ok.then(|| inst.solution(self.nvars)))
        };
        let out = match found {
            Ok(Some(sol)) => Ok(Answer::Sat(sol)),
            Ok(None) => {
                let mut core: Vec<Elem> = Vec::new();
                let mut choice_of: HashMap<L, Elem> = HashMap::new();
                for &(l, e) in &choices {
                    choice_of.insert(l, e);
                }
                for &c in inst.s.unsat_core() {
                    // The core holds the negations of the failed assumptions.
                    let a = !c;
                    let Some(&x) = inst.back.get(a.var().idx() as usize) else {
                        continue;
                    };
                    if let Some(r) = x.checked_sub(self.nvars) {
                        if selectors && r < m {
                            core.push(Elem::Rule(r));
                        }
                    } else if let Some(&e) = choice_of.get(&L {
                        var: u32::try_from(x).unwrap_or(u32::MAX),
                        pos: a.sign(),
                    }) && !core.contains(&e)
                    {
                        core.push(e);
                    }
                }
                if !selectors {
                    // A full solver holds every rule: all of them take part.
                    core.extend((0..m).map(Elem::Rule));
                }
                Ok(Answer::Unsat(core))
            }
            Err(e) => Err(e),
        };
        self.put(selectors, inst);
        out
    }
}

/// The clauses of one constraint (over model variables), or `None` if it is too large.
fn encode_con(model: &Model, c: &Con, scratch: &mut [usize]) -> Option<Vec<Vec<L>>> {
    let lit = |v: usize, pos: bool| -> Option<L> {
        Some(L {
            var: u32::try_from(v).ok()?,
            pos,
        })
    };
    match &c.kind {
        ConKind::NegTable(t) => {
            let mut out = Vec::with_capacity(t.nrows);
            'rows: for row in t.iter() {
                let mut clause = Vec::new();
                for (j, &v) in c.scope.iter().enumerate() {
                    let cell = t.cell(row, j);
                    match (bit(cell, 0), bit(cell, 1)) {
                        (true, true) => {}
                        (false, false) => continue 'rows, // the row never matches
                        // The row forbids v = 0 (cell {0}): the clause needs v = 1, and vice versa.
                        (zero, _) => clause.push(lit(v, zero)?),
                    }
                }
                out.push(clause);
            }
            Some(out)
        }
        ConKind::Table(_) | ConKind::Check(_) => {
            let k = c.scope.len();
            if k > ENUM_VARS {
                return None;
            }
            let n = 1usize << k;
            let mut forbidden = vec![false; n];
            for (a, f) in forbidden.iter_mut().enumerate() {
                for (j, &v) in c.scope.iter().enumerate() {
                    scratch[v] = (a >> j) & 1;
                }
                *f = !model.holds(c, scratch);
            }
            let mut out = Vec::new();
            for (care, value) in cover(&forbidden, k) {
                let mut clause = Vec::new();
                for (j, &v) in c.scope.iter().enumerate() {
                    if care & (1 << j) != 0 {
                        // The cube has v = bit j of `value`; the clause needs the other value.
                        clause.push(lit(v, (value >> j) & 1 == 0)?);
                    }
                }
                out.push(clause);
            }
            Some(out)
        }
    }
}

/// Covers the forbidden assignments (bit j of an index = variable j) by cubes, as (care mask,
/// value): each cube is grown greedily from an uncovered assignment by dropping variables while
/// every assignment it then contains is still forbidden.
fn cover(forbidden: &[bool], k: usize) -> Vec<(usize, usize)> {
    let all = (1usize << k) - 1;
    let mut covered = vec![false; forbidden.len()];
    let mut out = Vec::new();
    // Every assignment of the cube (care, value).
    let members = |care: usize, value: usize| {
        let free = all & !care;
        let base = value & care;
        let mut sub = free;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let m = base | sub;
            if sub == 0 {
                done = true;
            } else {
                sub = (sub - 1) & free;
            }
            Some(m)
        })
    };
    for a in 0..forbidden.len() {
        if !forbidden[a] || covered[a] {
            continue;
        }
        let mut care = all;
        for j in 0..k {
            let bitj = 1usize << j;
            let trial = care & !bitj;
            // The new half of the cube: the current cube with variable j flipped.
            if members(care, a ^ bitj).all(|m| forbidden[m]) {
                care = trial;
            }
        }
        for m in members(care, a) {
            covered[m] = true;
        }
        out.push((care, a & care));
    }
    out
}

impl Engine {
    /// The engine without the SAT back end (the finite-domain solver answers everything).
    pub fn without_sat(mut self) -> Engine {
        self.sat = None;
        self
    }

    /// Whether the SAT back end answers this engine's feasibility questions.
    pub fn uses_sat(&self) -> bool {
        self.sat.is_some()
    }

    /// The SAT back end's answer to `feasible`, if it is on. A solution of every rule is
    /// remembered as a witness.
    pub(crate) fn sat_feasible(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Option<Result<bool, OutOfWork>> {
        let sat = self.sat.as_ref()?;
        Some(match sat.solve(fixed, elems, budget) {
            Ok(Answer::Sat(sol)) => {
                if all_rules(elems, sat.rules.len()) {
                    self.shared.remember(vec![sol]);
                }
                Ok(true)
            }
            Ok(Answer::Unsat(_)) => Ok(false),
            Err(e) => Err(e),
        })
    }

    /// The SAT back end's witness search (a solution of every rule with `base` and `target`),
    /// if it is on.
    pub(crate) fn sat_witness(
        &self,
        base: &[(usize, usize)],
        target: (usize, usize),
        budget: &mut Budget,
    ) -> Option<Result<Option<Vec<usize>>, OutOfWork>> {
        let sat = self.sat.as_ref()?;
        let mut fixed = base.to_vec();
        fixed.push(target);
        let all: Vec<Elem> = (0..sat.rules.len()).map(Elem::Rule).collect();
        Some(match sat.solve(&fixed, &all, budget) {
            Ok(Answer::Sat(sol)) => Ok(Some(sol)),
            Ok(Answer::Unsat(_)) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// QuickXplain's contract (a minimal subset of `c` inconsistent with `fixed` and `b`; empty
    /// if `has_delta` and `b` alone is inconsistent) answered with the SAT back end, if it is on:
    /// the unsat core of `b ∪ c` narrows `c` first, then deletion with core refinement makes it
    /// minimal (each element is tried without; an infeasible answer's core drops the others it
    /// does not need).
    pub(crate) fn sat_quickxplain(
        &self,
        fixed: &[(usize, usize)],
        b: &[Elem],
        has_delta: bool,
        c: &[Elem],
        budget: &mut Budget,
    ) -> Option<Result<Vec<Elem>, OutOfWork>> {
        let sat = self.sat.as_ref()?;
        Some(sat_explain(sat, fixed, b, has_delta, c, budget))
    }
}

/// Whether the elements list every rule.
fn all_rules(elems: &[Elem], m: usize) -> bool {
    let mut seen = vec![false; m];
    let mut n = 0;
    for e in elems {
        if let Elem::Rule(r) = *e
            && r < m
            && !seen[r]
        {
            seen[r] = true;
            n += 1;
        }
    }
    n == m
}

fn sat_explain(
    sat: &SatModel,
    fixed: &[(usize, usize)],
    b: &[Elem],
    has_delta: bool,
    c: &[Elem],
    budget: &mut Budget,
) -> Result<Vec<Elem>, OutOfWork> {
    if has_delta && !matches!(sat.solve(fixed, b, budget)?, Answer::Sat(_)) {
        return Ok(Vec::new());
    }
    let in_c = |e: &Elem, set: &[Elem]| set.contains(e);
    let mut elems: Vec<Elem> = b.to_vec();
    elems.extend_from_slice(c);
    let mut cand: Vec<Elem> = match sat.solve(fixed, &elems, budget)? {
        // Callers guarantee b ∪ c is inconsistent; if not, every element is needed to say so.
        Answer::Sat(_) => return Ok(c.to_vec()),
        Answer::Unsat(core) => c.iter().copied().filter(|e| in_c(e, &core)).collect(),
    };
    // Deletion with core refinement: `cand[..keep]` is known necessary.
    let mut keep = 0;
    while keep < cand.len() {
        let mut trial: Vec<Elem> = b.to_vec();
        trial.extend_from_slice(&cand[..keep]);
        trial.extend_from_slice(&cand[keep + 1..]);
        match sat.solve(fixed, &trial, budget)? {
            Answer::Sat(_) => keep += 1,
            Answer::Unsat(core) => {
                // Without cand[keep] still infeasible: drop it, and whatever the core left out
                // (except the elements already known necessary).
                let necessary: Vec<Elem> = cand[..keep].to_vec();
                let rest: Vec<Elem> = cand[keep + 1..]
                    .iter()
                    .copied()
                    .filter(|e| in_c(e, &core))
                    .collect();
                cand = necessary;
                cand.extend(rest);
            }
        }
    }
    Ok(cand)
}

/// What the SAT back end found about dead and forced values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Liveness {
    /// Per variable: whether some solution has index 0, index 1.
    pub possible: Vec<[bool; 2]>,
    /// Solutions found on the way (each satisfies every rule).
    pub solutions: Vec<Vec<usize>>,
}

impl SatModel {
    /// Which values some solution of all the rules has (the complement of the backbone): one
    /// solution, then a call per value no solution found so far has; each solution found
    /// witnesses every value it contains. A value no solution has is proven dead and kept as a
    /// unit clause for later calls. On running out of work, what was found so far is returned
    /// with the error.
    pub(crate) fn liveness(&self, budget: &mut Budget) -> Result<Liveness, (Liveness, OutOfWork)> {
        let mut inst = self.take(false);
        let mut out = Liveness {
            possible: vec![[false; 2]; self.nvars],
            solutions: Vec::new(),
        };
        let r = self.liveness_in(&mut inst, &mut out, budget);
        self.put(false, inst);
        match r {
            Ok(()) => Ok(out),
            Err(e) => Err((out, e)),
        }
    }

    fn liveness_in(
        &self,
        inst: &mut Inst,
        out: &mut Liveness,
        budget: &mut Budget,
    ) -> Result<(), OutOfWork> {
        let mark = |sol: Vec<usize>, out: &mut Liveness| {
            for (v, &i) in sol.iter().enumerate() {
                out.possible[v][i.min(1)] = true;
            }
            out.solutions.push(sol);
        };
        if !inst.run(&[], budget)? {
            return Ok(()); // no solution: nothing is possible
        }
        mark(inst.solution(self.nvars), out);
        for v in 0..self.nvars {
            for i in 0..2 {
                if out.possible[v][i] {
                    continue;
                }
                let Some(l) = L::choice(v, i) else { continue };
                if inst.run(&[inst.lit(l)], budget)? {
                    mark(inst.solution(self.nvars), out);
                } else {
                    self.prove_unit(L { pos: !l.pos, ..l });
                    self.sync_units(inst);
                }
            }
        }
        Ok(())
    }

    /// Rules implied by the others, in rule order: rule r (the conjunction of its clauses) is
    /// redundant when every clause is implied by the rules not yet found redundant other than r,
    /// i.e. assuming their selectors and every literal of the clause false is infeasible.
    /// `solutions` (solutions of every rule) refute many candidates without a call: one changed to
    /// break the clause that still satisfies the other active rules reading the changed variables.
    /// On running out of work, the rules found so far are returned with the error.
    pub(crate) fn redundant(
        &self,
        solutions: &[Vec<usize>],
        budget: &mut Budget,
    ) -> Result<Vec<usize>, (Vec<usize>, OutOfWork)> {
        let m = self.rules.len();
        let mut active = vec![true; m];
        let mut found = Vec::new();
        let mut inst = self.take(true);
        let mut scratch: Vec<usize> = Vec::new();
        let mut result = Ok(());
        for r in 0..m {
            active[r] = false;
            let mut implied = true;
            for clause in &self.rules[r] {
                if self.refuted(clause, &active, solutions, &mut scratch) {
                    implied = false;
                    break;
                }
                match self.implied_in(&mut inst, clause, &active, budget) {
                    Ok(true) => {}
                    Ok(false) => {
                        implied = false;
                        break;
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if result.is_err() {
                active[r] = true;
                break;
            }
            if implied {
                found.push(r);
            } else {
                active[r] = true;
            }
        }
        self.put(true, inst);
        match result {
            Ok(()) => Ok(found),
            Err(e) => Err((found, e)),
        }
    }

    /// Whether some known solution, changed to break `clause`, satisfies every active rule.
    fn refuted(
        &self,
        clause: &[L],
        active: &[bool],
        solutions: &[Vec<usize>],
        scratch: &mut Vec<usize>,
    ) -> bool {
        /// Known solutions tried per clause (the most recent ones).
        const TRIES: usize = 48;
        let holds = |sol: &[usize], c: &[L]| c.iter().any(|l| (sol[l.var as usize] == 1) == l.pos);
        solutions.iter().rev().take(TRIES).any(|sol| {
            scratch.clear();
            scratch.extend_from_slice(sol);
            for l in clause {
                scratch[l.var as usize] = usize::from(!l.pos);
            }
            clause.iter().all(|l| {
                self.var_rules[l.var as usize]
                    .iter()
                    .filter(|&&r| active[r])
                    .all(|&r| self.rules[r].iter().all(|c| holds(scratch, c)))
            })
        })
    }

    /// Whether the active rules imply `clause`: assuming its literals false, the active rules
    /// (switched on lazily from the clause's variables) have no solution.
    fn implied_in(
        &self,
        inst: &mut Inst,
        clause: &[L],
        active: &[bool],
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        let assumptions: Vec<Lit> = clause.iter().map(|&l| !inst.lit(l)).collect();
        let start: Vec<usize> = clause.iter().map(|l| l.var as usize).collect();
        Ok(self
            .run_lazy(inst, &assumptions, &start, active, budget)?
            .is_none())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn cover_is_exact() {
        for k in 0..=4usize {
            let n = 1usize << k;
            for mask in 0..(1u64 << n).min(1 << 16) {
                let forbidden: Vec<bool> = (0..n).map(|a| mask & (1 << a) != 0).collect();
                let cubes = cover(&forbidden, k);
                for (a, f) in forbidden.iter().enumerate() {
                    let hit = cubes.iter().any(|&(care, value)| a & care == value);
                    assert_eq!(hit, *f, "k={k} mask={mask:b} a={a:b}");
                }
                assert!(cubes.len() <= forbidden.iter().filter(|f| **f).count());
            }
        }
    }
}
