//! The SAT back end: owns the CNF encodings of a compiled model (one selector literal per rule), the incremental CDCL solvers (batsat) that answer the engine's feasibility oracle, and the core-guided explanations built on them.
//!
//! Two encodings:
//! - **Boolean models** (every variable has two domain indices; index 1 is the literal "true")
//!   whose constraints each become a few clauses: a negative table row forbids one cube (one
//!   clause); a positive table or checked expression over at most [`ENUM_VARS`] variables is
//!   enumerated and its forbidden assignments are covered by clauses. This is the general back
//!   end of such models: feasibility, witnesses, explanations, analysis.
//! - **Finite-domain models** of real size (see [`FdEncoder`]): one-hot values, tables through
//!   row literals. This one answers only explanations' exact checks, where clause learning and
//!   unsat cores beat the finite-domain search on critically constrained subsets of rules;
//!   availability and witnesses stay with the finite-domain search, which branches only on the
//!   variables in play. A core is minimised on a *sub-instance* holding only its rules and the
//!   variables they read, so each check decides a few dozen values rather than all of them.
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

use foldhash::HashMap;
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
/// Lists of at most this many rules are switched on at once rather than lazily.
const EAGER_LISTED: usize = 400;
/// Idle solvers kept per kind.
const IDLE: usize = 4;

/// The pools of solvers (see `SatModel`'s fields of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Full,
    Selector,
    Diverse,
}

impl Kind {
    fn of(selectors: bool) -> Kind {
        if selectors {
            Kind::Selector
        } else {
            Kind::Full
        }
    }
}

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

/// Clauses stored flat: every literal in one vector and each clause's end in another, so that
/// the millions of short clauses of a large table's encoding cost no allocation each.
#[derive(Debug, Default, Clone)]
struct Cnf {
    lits: Vec<L>,
    ends: Vec<usize>,
}

impl Cnf {
    /// Number of clauses.
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Number of literals in all clauses.
    fn lit_count(&self) -> usize {
        self.lits.len()
    }

    /// Appends one clause.
    fn push(&mut self, clause: impl IntoIterator<Item = L>) {
        self.lits.extend(clause);
        self.ends.push(self.lits.len());
    }

    /// Clause `i`.
    fn clause(&self, i: usize) -> &[L] {
        let from = i.checked_sub(1).map_or(0, |j| self.ends[j]);
        &self.lits[from..self.ends[i]]
    }

    /// Clauses `from..to`, in order.
    fn range(&self, from: usize, to: usize) -> impl Iterator<Item = &[L]> {
        (from..to).map(|i| self.clause(i))
    }

    /// Every clause, in order.
    fn iter(&self) -> impl Iterator<Item = &[L]> {
        self.range(0, self.len())
    }
}

/// Charges a solve to the budget: polled by batsat at every decision and learnt clause.
#[derive(Debug, Default)]
struct Charge {
    used: AtomicU64,
    allowance: AtomicU64,
    /// The budget's deadline (see `Budget::until`), read every `CLOCK_EVERY` polls.
    deadline: Option<std::time::Instant>,
    /// Whether the solve stopped at the deadline.
    expired: std::sync::atomic::AtomicBool,
    /// Polls of `stop` (the clock is read on every `CLOCK_EVERY`-th; `used` also counts learnt
    /// clauses, so it cannot tell when).
    polls: AtomicU64,
}

/// Polls between two readings of the clock when the budget has a deadline.
const CLOCK_EVERY: u64 = 64;

impl Callbacks for Charge {
    fn stop(&self) -> bool {
        let u = self.used.load(Ordering::Relaxed).saturating_add(1);
        self.used.store(u, Ordering::Relaxed);
        // Sticky: batsat polls again after a stopped search, and must see the same answer.
        if self.expired.load(Ordering::Relaxed) {
            return true;
        }
        if let Some(deadline) = self.deadline
            && self
                .polls
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(CLOCK_EVERY)
            && std::time::Instant::now() >= deadline
        {
            self.expired.store(true, Ordering::Relaxed);
            return true;
        }
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
        cb.deadline = budget.deadline();
        *cb.expired.get_mut() = false;
        let r = self.s.solve_limited(assumptions);
        let cb = self.s.cb_mut();
        let used = cb.used.get_mut().saturating_sub(1);
        if *cb.expired.get_mut() {
            // Stopped at the deadline: the work done is charged and the rest kept.
            budget.spend(used);
            budget.expire();
            return Err(OutOfWork);
        }
        if !budget.spend(used) || r == lbool::UNDEF {
            if !budget.expired() {
                budget.remaining = 0;
            }
            return Err(OutOfWork);
        }
        Ok(r == lbool::TRUE)
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
    /// Model variables.
    nvars: usize,
    /// SAT variables before the selectors: the model variables' (see `first`), then auxiliary
    /// ones (table rows, at-most-one ladders, negative cells).
    nsat: usize,
    /// The SAT variables of the model's values (`0..decisions`) are decision variables; the
    /// auxiliary ones after them are not: every rule fixes them by unit propagation once the
    /// values are chosen, so a solve decides a few hundred values, not tens of thousands of rows.
    decisions: usize,
    /// The first SAT variable of each model variable: a two-valued variable is one SAT variable
    /// (index 1 is "true"); a larger domain has one per index (one-hot).
    first: Vec<u32>,
    /// Domain size of each model variable.
    size: Vec<usize>,
    /// Clauses that hold whatever rules are on: exactly one index per one-hot variable, and the
    /// definitions of auxiliary literals.
    domain: Cnf,
    /// Per decision variable: whether it is a one-hot value (tried true first).
    one_hot: Vec<bool>,
    /// Finite-domain encodings: the range of `domain` holding each variable's exactly-one
    /// clauses, and of the definition of each auxiliary literal (for sub-instances).
    domain_of: Vec<(usize, usize)>,
    aux_def: HashMap<u32, (usize, usize)>,
    /// Whether every model variable is two-valued and every clause is over model variables only
    /// (the general back end, also used for witnesses and analysis).
    boolean: bool,
    /// The clauses of each rule (over model variables; selectors are added per solver kind).
    rules: Vec<Cnf>,
    /// Rules per variable (the rules whose clauses mention it).
    var_rules: Vec<Vec<usize>>,
    full: Mutex<Vec<Inst>>,
    selector: Mutex<Vec<Inst>>,
    /// Full solvers that choose each decision's polarity at random (seeded), for witness
    /// searches: saved phases would make each solution repeat the one before, so that it
    /// witnesses one or two new values instead of about half of those left.
    diverse: Mutex<Vec<Inst>>,
    /// Literals proven to hold in every solution (found by analysis), added to full solvers.
    units: Mutex<Vec<L>>,
    /// Idle sub-instances (see `sub`).
    subs: Mutex<Vec<Sub>>,
}

impl std::fmt::Debug for SatModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatModel")
            .field("vars", &self.nvars)
            .field("sat_vars", &self.nsat)
            .field("rules", &self.rules.len())
            .field("clauses", &self.rules.iter().map(Cnf::len).sum::<usize>())
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
        // Negative tables are encoded as for finite-domain models (with two values per
        // variable, one SAT variable each and no auxiliary literals).
        let mut rows = FdEncoder::new(model)?;
        let mut lits = 0usize;
        let mut rules = Vec::with_capacity(model.cons.len());
        for c in &model.cons {
            let clauses = match c.kind {
                ConKind::NegTable(_) => rows.con(model, c)?,
                ConKind::Table(_) | ConKind::Check(_) => encode_enumerated(model, c, &mut scratch)?,
            };
            lits += clauses.lit_count() + clauses.len();
            if lits > LIT_CAP {
                return None;
            }
            rules.push(clauses);
        }
        let first = (0..nvars)
            .map(|v| u32::try_from(v).ok())
            .collect::<Option<_>>()?;
        Some(SatModel::new(
            model,
            nvars,
            first,
            Cnf::default(),
            rules,
            true,
        ))
    }

    /// The encoding of any model whose domains and checked expressions are small enough, for
    /// explanations (see [`FdEncoder`]): one-hot variables, a selector per rule, tables through
    /// one literal per row. `None` when a domain or expression is too large or the encoding
    /// would exceed [`LIT_CAP`] literals.
    pub fn encode_fd(model: &Model) -> Option<SatModel> {
        let mut enc = FdEncoder::new(model)?;
        let mut rules = Vec::with_capacity(model.cons.len());
        for c in &model.cons {
            let clauses = enc.con(model, c)?;
            enc.lits += clauses.lit_count() + clauses.len();
            if enc.lits > LIT_CAP {
                return None;
            }
            rules.push(clauses);
        }
        u32::try_from(enc.next + model.cons.len()).ok()?;
        let FdEncoder {
            first,
            next,
            domain,
            domain_of,
            aux_def,
            ..
        } = enc;
        let mut sat = SatModel::new(model, next, first, domain, rules, false);
        sat.domain_of = domain_of;
        sat.aux_def = aux_def;
        Some(sat)
    }

    fn new(
        model: &Model,
        nsat: usize,
        first: Vec<u32>,
        domain: Cnf,
        rules: Vec<Cnf>,
        boolean: bool,
    ) -> SatModel {
        let decisions = first.last().zip(model.vars.last()).map_or(0, |(&f, v)| {
            f as usize + if v.size == 2 { 1 } else { v.size }
        });
        let mut one_hot = vec![false; decisions];
        for (v, &f) in first.iter().enumerate() {
            let size = model.vars[v].size;
            if size != 2 {
                let end = (f as usize + size).min(decisions);
                if let Some(block) = one_hot.get_mut(f as usize..end) {
                    block.fill(true);
                }
            }
        }
        SatModel {
            nvars: model.vars.len(),
            nsat,
            decisions,
            one_hot,
            first,
            size: model.vars.iter().map(|v| v.size).collect(),
            domain,
            domain_of: Vec::new(),
            aux_def: HashMap::default(),
            boolean,
            rules,
            var_rules: model.var_cons.clone(),
            full: Mutex::new(Vec::new()),
            selector: Mutex::new(Vec::new()),
            diverse: Mutex::new(Vec::new()),
            units: Mutex::new(Vec::new()),
            subs: Mutex::new(Vec::new()),
        }
    }

    /// Whether this is the general back end of a Boolean model (witnesses, analysis), rather
    /// than an encoding for explanations only.
    pub fn is_boolean(&self) -> bool {
        self.boolean
    }

    /// The literal "variable `v` takes index `i`" (`None` outside the domain).
    fn is(&self, v: usize, i: usize) -> Option<L> {
        let (&first, &size) = (self.first.get(v)?, self.size.get(v)?);
        if i >= size {
            None
        } else if size == 2 {
            Some(L {
                var: first,
                pos: i == 1,
            })
        } else {
            Some(L {
                var: first + u32::try_from(i).ok()?,
                pos: true,
            })
        }
    }

    /// The solver's last model, as one domain index per model variable.
    fn decode(&self, inst: &Inst) -> Vec<usize> {
        let m = inst.s.get_model();
        let truth = |x: u32| {
            let k = inst.vars[x as usize].idx() as usize;
            m.get(k).is_some_and(|b| *b == lbool::TRUE)
        };
        (0..self.nvars)
            .map(|v| {
                let (first, size) = (self.first[v], self.size[v]);
                if size == 2 {
                    usize::from(truth(first))
                } else {
                    (0..size)
                        .find(|&i| u32::try_from(i).is_ok_and(|i| truth(first + i)))
                        .unwrap_or(0)
                }
            })
            .collect()
    }

    /// Number of clauses of rule `r`.
    pub fn clauses_of(&self, r: usize) -> usize {
        self.rules.get(r).map_or(0, Cnf::len)
    }

    fn build(&self, kind: Kind) -> Inst {
        let selectors = kind == Kind::Selector;
        let opts = SolverOpts {
            rnd_pol: kind == Kind::Diverse,
            ..SolverOpts::default()
        };
        let mut s = batsat::Solver::new(opts, Charge::default());
        // A one-hot value is tried true first: one decision then fixes its variable (the
        // exactly-one clauses propagate the rest), instead of one per value tried false.
        let mut vars: Vec<Var> = (0..self.nsat)
            .map(|k| {
                let pol = if self.one_hot.get(k).copied().unwrap_or(false) {
                    lbool::TRUE
                } else {
                    lbool::UNDEF
                };
                s.new_var(pol, k < self.decisions)
            })
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
        for c in self.domain.iter() {
            buf.clear();
            buf.extend(c.iter().map(|&l| inst.lit(l)));
            let _ = inst.s.add_clause_reuse(&mut buf);
        }
        for (r, clauses) in self.rules.iter().enumerate() {
            for c in clauses.iter() {
                buf.clear();
                buf.extend(c.iter().map(|&l| inst.lit(l)));
                if selectors {
                    buf.push(!Lit::new(inst.vars[self.nsat + r], true));
                }
                // `false` means the clause set is already unsatisfiable (an impossible product
                // for a full solver); the solver then answers every call "infeasible".
                let _ = inst.s.add_clause_reuse(&mut buf);
            }
        }
        inst
    }

    fn pool(&self, kind: Kind) -> &Mutex<Vec<Inst>> {
        match kind {
            Kind::Full => &self.full,
            Kind::Selector => &self.selector,
            Kind::Diverse => &self.diverse,
        }
    }

    fn take(&self, kind: Kind) -> Inst {
        let idle = self.pool(kind).lock().ok().and_then(|mut p| p.pop());
        let mut inst = idle.unwrap_or_else(|| self.build(kind));
        if kind != Kind::Selector {
            self.sync_units(&mut inst);
        }
        inst
    }

    fn put(&self, kind: Kind, inst: Inst) {
        if let Ok(mut p) = self.pool(kind).lock()
            && p.len() < IDLE
        {
            p.push(inst);
        }
    }

    /// A solution with the `fixed` values, from a solver of the `diverse` pool (see there);
    /// `None` if there is none.
    pub(crate) fn solve_diverse(
        &self,
        fixed: &[(usize, usize)],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        let mut lits: Vec<L> = Vec::with_capacity(fixed.len());
        for &(v, i) in fixed {
            match self.is(v, i) {
                Some(l) => lits.push(l),
                None => return Ok(None),
            }
        }
        let mut inst = self.take(Kind::Diverse);
        let assumptions: Vec<Lit> = lits.iter().map(|&l| inst.lit(l)).collect();
        let out = inst
            .run(&assumptions, budget)
            .map(|ok| ok.then(|| self.decode(&inst)));
        self.put(Kind::Diverse, inst);
        out
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
        model: &Model,
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
                lits.push(Lit::new(inst.vars[self.nsat + r], true));
            }
        };
        if listed.iter().filter(|&&l| l).count() <= EAGER_LISTED {
            // A short list is cheaper assumed at once than found by repeated solves.
            for r in 0..m {
                switch_on(r, &mut on, &mut lits);
            }
        }
        for &v in start {
            for &r in self.var_rules.get(v).map_or(&[][..], Vec::as_slice) {
                switch_on(r, &mut on, &mut lits);
            }
        }
        loop {
            if !inst.run(&lits, budget)? {
                return Ok(None);
            }
            let sol = self.decode(inst);
            let mut broken = false;
            for r in 0..m {
                if listed[r] && !on[r] && self.breaks(model, inst, r, &sol) {
                    broken = true;
                    on[r] = true;
                    lits.push(Lit::new(inst.vars[self.nsat + r], true));
                }
            }
            if !broken {
                return Ok(Some(sol));
            }
        }
    }

    /// Whether the selector solver's last solution `sol` breaks rule `r` (not switched on). In a
    /// Boolean encoding every literal of a rule's clauses is a decision variable, so once all are
    /// assigned a broken clause has propagated its selector false, and a kept rule's selector is
    /// never false (it is not a decision variable and learnt clauses only imply what the rule
    /// does): one read instead of a pass over the rule. Finite-domain encodings have auxiliary
    /// literals that may stay unassigned, so the rule is checked on `sol` there.
    fn breaks(&self, model: &Model, inst: &Inst, r: usize, sol: &[usize]) -> bool {
        if self.boolean
            && let Some(&sel) = inst.vars.get(self.nsat + r)
        {
            return inst.s.value_var(sel) == lbool::FALSE;
        }
        !model.holds(&model.cons[r], sol)
    }

    /// Whether the fixed values, the chosen elements' values and the listed rules (only those)
    /// have a solution.
    pub(crate) fn solve(
        &self,
        model: &Model,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Result<Answer, OutOfWork> {
        self.solve_with(model, fixed, elems, false, None, budget)
    }

    /// `solve`; with `cores`, a selector solver answers even when every rule is listed, so that
    /// an infeasible answer names the rules it used rather than all of them.
    fn solve_with(
        &self,
        model: &Model,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        cores: bool,
        sub: Option<&mut Inst>,
        budget: &mut Budget,
    ) -> Result<Answer, OutOfWork> {
        let m = self.rules.len();
        let mut listed = vec![false; m];
        let mut distinct = 0usize;
        let mut choices: Vec<(L, Elem)> = Vec::new();
        let mut fixed_lits: Vec<L> = Vec::with_capacity(fixed.len());
        for &(v, i) in fixed {
            match self.is(v, i) {
                Some(l) => fixed_lits.push(l),
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
                Elem::Choice(v, i) => match self.is(v, i) {
                    Some(l) => choices.push((l, *e)),
                    _ => return Ok(Answer::Unsat(vec![*e])),
                },
            }
        }
        let selectors = cores || distinct < m || sub.is_some();
        let mut own: Option<Inst> = None;
        let inst: &mut Inst = match sub {
            Some(i) => i,
            None => own.insert(self.take(Kind::of(selectors))),
        };
        let mut assumptions: Vec<Lit> = Vec::with_capacity(fixed.len() + elems.len());
        assumptions.extend(fixed_lits.iter().map(|&l| inst.lit(l)));
        assumptions.extend(choices.iter().map(|&(l, _)| inst.lit(l)));
        let found = if selectors {
            let start: Vec<usize> = fixed
                .iter()
                .map(|&(v, _)| v)
                .chain(elems.iter().filter_map(|e| match *e {
                    Elem::Choice(v, _) => Some(v),
                    Elem::Rule(_) => None,
                }))
                .collect();
            self.run_lazy(model, inst, &assumptions, &start, &listed, budget)
        } else {
            inst.run(&assumptions, budget)
                .map(|ok| ok.then(|| self.decode(inst)))
        };
        let out = match found {
            Ok(Some(sol)) => Ok(Answer::Sat(sol)),
            Ok(None) => {
                let mut core: Vec<Elem> = Vec::new();
                let mut choice_of: HashMap<L, Elem> = HashMap::default();
                for &(l, e) in &choices {
                    choice_of.insert(l, e);
                }
                for &c in inst.s.unsat_core() {
                    // The core holds the negations of the failed assumptions.
                    let a = !c;
                    let Some(&x) = inst.back.get(a.var().idx() as usize) else {
                        continue;
                    };
                    if let Some(r) = x.checked_sub(self.nsat) {
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
        if let Some(i) = own {
            self.put(Kind::of(selectors), i);
        }
        out
    }

    /// A solver over a few rules of a finite-domain encoding, for explanations to minimise a
    /// core on: their clauses (each with its selector), the exactly-one clauses of the
    /// variables they read and of `vars`, and the definitions of the auxiliary literals they
    /// use; variables outside decode to index 0. Deciding only the values in play, a call costs
    /// a fraction of one on the whole encoding. Sub-instances are pooled (see `Sub`): the
    /// pooled one cheapest to reuse is extended by what it lacks, else a new one is built.
    /// `None` for a Boolean encoding. Give it back with `put_sub`.
    fn sub(&self, model: &Model, rules: &[usize], vars: &[usize]) -> Option<Sub> {
        if self.boolean {
            return None;
        }
        let wanted: usize = rules
            .iter()
            .filter_map(|&r| self.rules.get(r))
            .map(Cnf::len)
            .sum();
        let pooled = self.subs.lock().ok().and_then(|mut pool| {
            // Reusing one costs the clauses it lacks, and a share of those it holds that this
            // explanation does not need (every call propagates them); building costs all.
            let cost = |sub: &Sub| {
                let (mut missing, mut held) = (0usize, 0usize);
                for &r in rules {
                    let n = self.rules.get(r).map_or(0, Cnf::len);
                    if sub.rules.get(r).copied().unwrap_or(false) {
                        held += n;
                    } else {
                        missing += n;
                    }
                }
                missing + sub.clauses.saturating_sub(held) / UNNEEDED_SHARE
            };
            let (k, c) = pool
                .iter()
                .enumerate()
                .map(|(k, sub)| (k, cost(sub)))
                .min_by_key(|&(_, c)| c)?;
            (c < wanted).then(|| pool.swap_remove(k))
        });
        let mut sub = pooled.unwrap_or_else(|| Sub::new(self));
        self.extend(model, &mut sub, rules, vars)?;
        Some(sub)
    }

    /// Gives back a sub-instance for later explanations (the oldest goes past `SUBS`).
    fn put_sub(&self, sub: Sub) {
        if let Ok(mut pool) = self.subs.lock() {
            if pool.len() >= SUBS {
                pool.remove(0);
            }
            pool.push(sub);
        }
    }

    /// Adds to `sub` the clauses of `rules` and the exactly-one clauses of `vars` that it
    /// lacks (see `sub`). `None` for an index out of range.
    fn extend(&self, model: &Model, sub: &mut Sub, rules: &[usize], vars: &[usize]) -> Option<()> {
        let Sub {
            inst,
            rules: has_rule,
            vars: has_var,
            clauses,
        } = sub;
        let mut relevant: Vec<usize> = Vec::new();
        for &v in vars {
            if !*has_var.get(v)? {
                relevant.push(v);
            }
        }
        let mut new_rules: Vec<usize> = Vec::new();
        for &r in rules {
            if !*has_rule.get(r)? && !new_rules.contains(&r) {
                new_rules.push(r);
                relevant.extend(model.cons.get(r)?.scope.iter().filter(|&&v| !has_var[v]));
            }
        }
        relevant.sort_unstable();
        relevant.dedup();
        let Inst {
            s,
            vars: inst_vars,
            back,
            ..
        } = inst;
        let set_back = |back: &mut Vec<usize>, var: Var, k: usize| {
            let idx = var.idx() as usize;
            if back.len() <= idx {
                back.resize(idx + 1, usize::MAX);
            }
            back[idx] = k;
        };
        let sels: Vec<Var> = new_rules
            .iter()
            .map(|&r| {
                let sel = s.new_var(lbool::UNDEF, false);
                inst_vars[self.nsat + r] = sel;
                set_back(back, sel, self.nsat + r);
                sel
            })
            .collect();
        let mut pending: Vec<(usize, usize)> = Vec::new();
        let mut map = |l: L, s: &mut batsat::Solver<Charge>, pending: &mut Vec<(usize, usize)>| {
            let k = l.var as usize;
            if inst_vars[k] == Var::UNDEF {
                let pol = if self.one_hot.get(k).copied().unwrap_or(false) {
                    lbool::TRUE
                } else {
                    lbool::UNDEF
                };
                let var = s.new_var(pol, k < self.decisions);
                inst_vars[k] = var;
                set_back(back, var, k);
                if let Some(&range) = self.aux_def.get(&l.var) {
                    pending.push(range);
                }
            }
            Lit::new(inst_vars[k], l.pos)
        };
        let mut buf: Vec<Lit> = Vec::new();
        for v in relevant {
            has_var[v] = true;
            let (from, to) = self.domain_of[v];
            if self.size[v] == 2 {
                map(
                    L {
                        var: self.first[v],
                        pos: true,
                    },
                    s,
                    &mut pending,
                );
            }
            for c in self.domain.range(from, to) {
                buf.clear();
                for &l in c {
                    buf.push(map(l, s, &mut pending));
                }
                let _ = s.add_clause_reuse(&mut buf);
            }
        }
        for (r, sel) in new_rules.into_iter().zip(sels) {
            has_rule[r] = true;
            for c in self.rules[r].iter() {
                buf.clear();
                for &l in c {
                    buf.push(map(l, s, &mut pending));
                }
                buf.push(!Lit::new(sel, true));
                let _ = s.add_clause_reuse(&mut buf);
            }
            *clauses += self.rules[r].len();
        }
        while let Some((from, to)) = pending.pop() {
            for c in self.domain.range(from, to) {
                buf.clear();
                for &l in c {
                    buf.push(map(l, s, &mut pending));
                }
                let _ = s.add_clause_reuse(&mut buf);
            }
        }
        Some(())
    }
}

/// A pooled sub-instance (see `SatModel::sub`): its solver, which rules and variables it holds,
/// and how many rule clauses. Nothing is ever pinned in it (every call assumes what it needs),
/// so any later explanation can reuse it: a rule whose selector is not assumed is off.
struct Sub {
    inst: Inst,
    rules: Vec<bool>,
    vars: Vec<bool>,
    clauses: usize,
}

impl Sub {
    fn new(sat: &SatModel) -> Sub {
        Sub {
            inst: Inst {
                s: batsat::Solver::new(SolverOpts::default(), Charge::default()),
                vars: vec![Var::UNDEF; sat.nsat + sat.rules.len()],
                back: Vec::new(),
                units: 0,
            },
            rules: vec![false; sat.rules.len()],
            vars: vec![false; sat.nvars],
            clauses: 0,
        }
    }
}

/// Idle sub-instances kept per encoding (see `SatModel::sub`).
const SUBS: usize = 4;

/// A pooled sub-instance's clauses that an explanation does not need count this fraction of
/// building them anew, when choosing whether to reuse it (see `SatModel::sub`).
const UNNEEDED_SHARE: usize = 2;

/// The clauses of a positive table or checked expression of a Boolean model (its forbidden
/// assignments enumerated and covered by cubes), or `None` if its scope is too large.
fn encode_enumerated(model: &Model, c: &Con, scratch: &mut [usize]) -> Option<Cnf> {
    let lit = |v: usize, pos: bool| -> Option<L> {
        Some(L {
            var: u32::try_from(v).ok()?,
            pos,
        })
    };
    match &c.kind {
        ConKind::NegTable(_) => None,
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
            let mut out = Cnf::default();
            let mut clause = Vec::new();
            for (care, value) in cover(&forbidden, k) {
                clause.clear();
                for (j, &v) in c.scope.iter().enumerate() {
                    if care & (1 << j) != 0 {
                        // The cube has v = bit j of `value`; the clause needs the other value.
                        clause.push(lit(v, (value >> j) & 1 == 0)?);
                    }
                }
                out.push(clause.iter().copied());
            }
            Some(out)
        }
    }
}

/// Largest domain a one-hot encoding takes (a larger one keeps the model finite-domain only).
const FD_DOMAIN_CAP: usize = 4096;
/// Most assignments of a checked expression's scope enumerated into clauses.
const FD_ENUM_CAP: usize = 1 << 14;
/// Domains up to this size take pairwise at-most-one clauses; larger ones a ladder.
const PAIRWISE_AMO: usize = 6;
/// A negative-table cell is written as the disjunction of the values it leaves out when there
/// are at most this many; otherwise through an auxiliary literal (shared per variable and cell).
const NEG_CELL_DIRECT: usize = 8;

/// Builds the clauses of a finite-domain model: a two-valued variable is one SAT variable, a
/// larger one has a SAT variable per index with exactly-one clauses (a ladder for long domains).
/// Rules:
/// - a positive table gets one literal per live row, the clause "some row", "row → each of its
///   cells" and, per value, "value → some row that allows it" (so unit propagation is arc
///   consistency on the table);
/// - a negative table, one clause per row ("some cell does not hold");
/// - a checked expression, one clause per forbidden assignment of its scope (up to
///   [`FD_ENUM_CAP`] assignments).
struct FdEncoder {
    first: Vec<u32>,
    size: Vec<usize>,
    /// Next free SAT variable.
    next: usize,
    domain: Cnf,
    /// Auxiliary literal per (variable, cell words) meaning "the variable is in the cell".
    in_cell: HashMap<(usize, Vec<u64>), u32>,
    /// The range of `domain` holding each variable's exactly-one clauses.
    domain_of: Vec<(usize, usize)>,
    /// The range of `domain` defining each auxiliary literal of `in_cell`.
    aux_def: HashMap<u32, (usize, usize)>,
    lits: usize,
}

impl FdEncoder {
    fn new(model: &Model) -> Option<FdEncoder> {
        let mut first = Vec::with_capacity(model.vars.len());
        let mut next = 0usize;
        for v in &model.vars {
            if v.size == 0 || v.size > FD_DOMAIN_CAP {
                return None;
            }
            first.push(u32::try_from(next).ok()?);
            next += if v.size == 2 { 1 } else { v.size };
        }
        let mut enc = FdEncoder {
            first,
            size: model.vars.iter().map(|v| v.size).collect(),
            next,
            domain: Cnf::default(),
            in_cell: HashMap::default(),
            domain_of: Vec::with_capacity(model.vars.len()),
            aux_def: HashMap::default(),
            lits: 0,
        };
        for v in 0..model.vars.len() {
            let from = enc.domain.len();
            enc.exactly_one(v)?;
            enc.domain_of.push((from, enc.domain.len()));
        }
        Some(enc)
    }

    fn fresh(&mut self) -> Option<u32> {
        let x = u32::try_from(self.next).ok()?;
        self.next += 1;
        Some(x)
    }

    /// "Variable `v` takes index `i`" (`i` within the domain).
    fn is(&self, v: usize, i: usize) -> L {
        let first = self.first[v];
        if self.size[v] == 2 {
            L {
                var: first,
                pos: i == 1,
            }
        } else {
            L {
                var: first + u32::try_from(i).unwrap_or(0),
                pos: true,
            }
        }
    }

    fn not(l: L) -> L {
        L { pos: !l.pos, ..l }
    }

    fn always(&mut self, clause: impl IntoIterator<Item = L>) {
        let before = self.domain.lit_count();
        self.domain.push(clause);
        self.lits += self.domain.lit_count() - before;
    }

    fn exactly_one(&mut self, v: usize) -> Option<()> {
        let d = self.size[v];
        if d == 2 {
            return Some(());
        }
        let all: Vec<L> = (0..d).map(|i| self.is(v, i)).collect();
        self.always(all);
        if d <= PAIRWISE_AMO {
            for i in 0..d {
                for j in i + 1..d {
                    self.always([Self::not(self.is(v, i)), Self::not(self.is(v, j))]);
                }
            }
            return Some(());
        }
        // Ladder: s_i means "the index is at most i".
        let mut prev: Option<u32> = None;
        for i in 0..d - 1 {
            let s = self.fresh()?;
            let x = self.is(v, i);
            self.always([Self::not(x), L { var: s, pos: true }]);
            if let Some(p) = prev {
                self.always([L { var: p, pos: false }, L { var: s, pos: true }]);
            }
            let y = self.is(v, i + 1);
            self.always([Self::not(y), L { var: s, pos: false }]);
            prev = Some(s);
        }
        Some(())
    }

    /// The indices of `v`'s domain in a cell.
    fn members(&self, v: usize, cell: &[u64]) -> Vec<usize> {
        (0..self.size[v]).filter(|&i| bit(cell, i)).collect()
    }

    /// A literal that implies "`v` is not in the cell" (some of its other indices, as a
    /// disjunction).
    fn not_in(
        &mut self,
        v: usize,
        cell: &[u64],
        members: &[usize],
        out: &mut Vec<L>,
    ) -> Option<()> {
        let d = self.size[v];
        if let [i] = members {
            out.push(Self::not(self.is(v, *i)));
            return Some(());
        }
        if d - members.len() <= NEG_CELL_DIRECT {
            out.extend((0..d).filter(|&i| !bit(cell, i)).map(|i| self.is(v, i)));
            return Some(());
        }
        let key = (v, cell[..self.size[v].div_ceil(64)].to_vec());
        let a = match self.in_cell.get(&key) {
            Some(&a) => a,
            None => {
                let a = self.fresh()?;
                let from = self.domain.len();
                for &i in members {
                    let x = self.is(v, i);
                    self.always([Self::not(x), L { var: a, pos: true }]);
                }
                self.aux_def.insert(a, (from, self.domain.len()));
                self.in_cell.insert(key, a);
                a
            }
        };
        out.push(L { var: a, pos: false });
        Some(())
    }

    fn con(&mut self, model: &Model, c: &Con) -> Option<Cnf> {
        match &c.kind {
            ConKind::Table(t) => {
                // Live rows (every cell non-empty) and their members per scope position, flat:
                // cell `j` of live row `r` is `members[starts[r * k + j]..starts[r * k + j + 1]]`.
                let k = c.scope.len();
                let mut members: Vec<usize> = Vec::new();
                let mut starts: Vec<usize> = vec![0];
                for row in t.iter() {
                    let (mark, marks) = (members.len(), starts.len());
                    let mut live = true;
                    for (j, &v) in c.scope.iter().enumerate() {
                        let cell = t.cell(row, j);
                        members.extend((0..self.size[v]).filter(|&i| bit(cell, i)));
                        live &= members.len() > *starts.last().unwrap_or(&0);
                        starts.push(members.len());
                    }
                    if !live {
                        members.truncate(mark);
                        starts.truncate(marks);
                    }
                }
                // (A table over no options has no cells: every row is live.)
                let nrows = (starts.len() - 1).checked_div(k).unwrap_or(t.nrows);
                let cell = |r: usize, j: usize| &members[starts[r * k + j]..starts[r * k + j + 1]];
                let mut out = Cnf::default();
                let mut row_lits = Vec::with_capacity(nrows);
                for _ in 0..nrows {
                    row_lits.push(L {
                        var: self.fresh()?,
                        pos: true,
                    });
                }
                out.push(row_lits.iter().copied());
                // Supports: a value needs a live row allowing it (collected in one pass).
                let mut supp: Vec<Vec<Vec<L>>> = c
                    .scope
                    .iter()
                    .map(|&v| vec![Vec::new(); self.size[v]])
                    .collect();
                for (r, &row_lit) in row_lits.iter().enumerate() {
                    for (j, &v) in c.scope.iter().enumerate() {
                        let m = cell(r, j);
                        for &i in m {
                            supp[j][i].push(row_lit);
                        }
                        let d = self.size[v];
                        if m.len() == d {
                            continue;
                        }
                        let not_row = Self::not(row_lit);
                        if m.len() <= d - m.len() {
                            out.push(
                                std::iter::once(not_row).chain(m.iter().map(|&i| self.is(v, i))),
                            );
                        } else {
                            for i in (0..d).filter(|i| m.binary_search(i).is_err()) {
                                out.push([not_row, Self::not(self.is(v, i))]);
                            }
                        }
                    }
                }
                for (j, &v) in c.scope.iter().enumerate() {
                    for (i, rows) in std::mem::take(&mut supp[j]).into_iter().enumerate() {
                        if rows.len() == nrows {
                            continue;
                        }
                        out.push(std::iter::once(Self::not(self.is(v, i))).chain(rows));
                    }
                }
                Some(out)
            }
            ConKind::NegTable(t) => {
                let mut out = Cnf::default();
                let mut clause = Vec::new();
                'rows: for row in t.iter() {
                    clause.clear();
                    for (j, &v) in c.scope.iter().enumerate() {
                        let cell = t.cell(row, j);
                        let m = self.members(v, cell);
                        if m.is_empty() {
                            continue 'rows; // the row never matches
                        }
                        if m.len() < self.size[v] {
                            self.not_in(v, cell, &m, &mut clause)?;
                        }
                    }
                    out.push(clause.iter().copied());
                }
                Some(out)
            }
            ConKind::Check(_) => {
                let mut total = 1usize;
                for &v in &c.scope {
                    total = total.checked_mul(self.size[v])?;
                    if total > FD_ENUM_CAP {
                        return None;
                    }
                }
                let mut assignment = vec![0usize; model.vars.len()];
                let mut out = Cnf::default();
                for mut a in 0..total {
                    for &v in &c.scope {
                        assignment[v] = a % self.size[v];
                        a /= self.size[v];
                    }
                    if !model.holds(c, &assignment) {
                        out.push(
                            c.scope
                                .iter()
                                .map(|&v| Self::not(self.is(v, assignment[v]))),
                        );
                    }
                }
                Some(out)
            }
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

    /// Whether the SAT back end answers this engine's feasibility questions (a Boolean model)
    /// or its explanations' exact checks (a finite-domain model).
    pub fn uses_sat(&self) -> bool {
        self.sat.is_some()
    }

    /// The engine with the SAT encoding for explanations even when the model is smaller than
    /// the size that gets it by default (the property tests check both paths); unchanged when
    /// the model cannot be encoded or already uses the Boolean back end.
    pub fn with_sat_explanations(mut self) -> Engine {
        if self.sat.is_none() {
            self.sat = SatModel::encode_fd(&self.model).map(std::sync::Arc::new);
        }
        self
    }

    /// The SAT back end's answer to `feasible`, if it is on. A solution of every rule is
    /// remembered as a witness.
    pub(crate) fn sat_feasible(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Option<Result<bool, OutOfWork>> {
        // A finite-domain model's encoding is for explanations only: the finite-domain search
        // answers general feasibility faster (it branches only on the variables in play).
        let sat = self.sat.as_ref().filter(|s| s.boolean)?;
        Some(match sat.solve(&self.model, fixed, elems, budget) {
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
        let sat = self.sat.as_ref().filter(|s| s.boolean)?;
        let mut fixed = base.to_vec();
        fixed.push(target);
        Some(sat.solve_diverse(&fixed, budget))
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
        // Callers guarantee b ∪ c is inconsistent; if not, every element is needed to say so.
        Some(
            sat_explain(
                &self.model,
                sat,
                fixed,
                (b, has_delta),
                (c, &[]),
                &[],
                budget,
            )
            .map(|r| r.map_or_else(|| c.to_vec(), |(e, _)| e)),
        )
    }
}

impl Engine {
    /// A minimal subset of `c` inconsistent with `fixed`, with the SAT back end if it is on,
    /// also returning for each element kept a solution of the result without it (the proof
    /// that it is needed), as `minimize_proving` does; `Ok(None)` if `c` is consistent.
    ///
    /// With `more`, `c` is where to start: while `c` has a solution, the elements of `more` it
    /// breaks join `c`, so the set minimised holds only what takes part (`Ok(None)` if `c ∪ more`
    /// is consistent).
    pub(crate) fn sat_explain_proving(
        &self,
        fixed: &[(usize, usize)],
        (c, more): (&[Elem], &[Elem]),
        seeds: &[&[usize]],
        budget: &mut Budget,
    ) -> Option<Result<Option<Explained>, OutOfWork>> {
        let sat = self.sat.as_ref()?;
        Some(sat_explain(
            &self.model,
            sat,
            fixed,
            (&[], false),
            (c, more),
            seeds,
            budget,
        ))
    }

    /// A solution of the fixed values, the chosen elements and their rules from the SAT back
    /// end, if it is on.
    pub(crate) fn sat_solution(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Option<Result<Option<Vec<usize>>, OutOfWork>> {
        let sat = self.sat.as_ref().filter(|s| s.boolean)?;
        Some(match sat.solve(&self.model, fixed, elems, budget) {
            Ok(Answer::Sat(sol)) => Ok(Some(sol)),
            Ok(Answer::Unsat(_)) => Ok(None),
            Err(e) => Err(e),
        })
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

/// A minimal set of elements, with one proof per element (a solution without it).
pub(crate) type Explained = (Vec<Elem>, Vec<Vec<usize>>);

/// QuickXplain's contract with the SAT back end (see `Engine::sat_quickxplain`), for the
/// background `b` (with `has_delta`, QuickXplain's flag that `b` changed); `None` when `b ∪ c`
/// is feasible after all. With `more`, `c` grows by counterexamples from `more` first (see
/// `Engine::sat_explain_proving`).
fn sat_explain(
    model: &Model,
    sat: &SatModel,
    fixed: &[(usize, usize)],
    (b, has_delta): (&[Elem], bool),
    (c, more): (&[Elem], &[Elem]),
    seeds: &[&[usize]],
    budget: &mut Budget,
) -> Result<Option<Explained>, OutOfWork> {
    if has_delta
        && !matches!(
            sat.solve_with(model, fixed, b, true, None, budget)?,
            Answer::Sat(_)
        )
    {
        return Ok(Some((Vec::new(), Vec::new())));
    }
    let in_c = |e: &Elem, set: &[Elem]| set.contains(e);
    // Counterexample-guided: while `b ∪ c` has a solution, the elements of `more` it breaks join
    // `c` (none broken: `b ∪ c ∪ more` is feasible), so `c` grows only by what takes part.
    let mut c: Vec<Elem> = c.to_vec();
    let mut more: Vec<Elem> = more.iter().filter(|e| !c.contains(e)).copied().collect();
    let sub_of = |elems: &[Elem]| {
        let mut rules: Vec<usize> = Vec::new();
        let mut vars: Vec<usize> = fixed.iter().map(|&(v, _)| v).collect();
        for e in b.iter().chain(elems) {
            match *e {
                Elem::Rule(r) => rules.push(r),
                Elem::Choice(v, _) => vars.push(v),
            }
        }
        sat.sub(model, &rules, &vars)
    };
    // With nothing to grow by, the first (core) call is made on the sub-instance of `b ∪ c`
    // already (exact for them: the variables no rule of theirs reads are free): a call on the
    // whole encoding costs milliseconds on models with large tables.
    let mut first_sub = if more.is_empty() { sub_of(&c) } else { None };
    let mut cand: Vec<Elem> = loop {
        let mut elems: Vec<Elem> = b.to_vec();
        elems.extend_from_slice(&c);
        let inst = first_sub.as_mut().map(|s| &mut s.inst);
        match sat.solve_with(model, fixed, &elems, true, inst, budget)? {
            Answer::Sat(sol) => {
                let (broken, kept): (Vec<Elem>, Vec<Elem>) =
                    more.iter().partition(|e| !e.holds(model, &sol));
                // Callers guarantee b ∪ c ∪ more is inconsistent; if not, every element is
                // needed to say so.
                if broken.is_empty() {
                    return Ok(None);
                }
                c.extend(broken);
                more = kept;
            }
            Answer::Unsat(core) => break c.iter().copied().filter(|e| in_c(e, &core)).collect(),
        }
    };
    // Minimise on a sub-instance of what is left (finite-domain encodings): the first call's,
    // when the core kept every element.
    let mut sub = match first_sub {
        Some(inst) if cand.len() == c.len() => Some(inst),
        other => {
            if let Some(first) = other {
                sat.put_sub(first);
            }
            sub_of(&cand)
        }
    };
    // Trim the core on the sub-instance first: its own core of the same set is often smaller.
    for _ in 0..TRIMS {
        let mut all: Vec<Elem> = b.to_vec();
        all.extend_from_slice(&cand);
        match sat.solve_with(
            model,
            fixed,
            &all,
            true,
            sub.as_mut().map(|s| &mut s.inst),
            budget,
        )? {
            Answer::Unsat(core) if core.len() < all.len() => {
                cand.retain(|e| in_c(e, &core));
            }
            _ => break,
        }
    }
    // Deletion with core refinement and model rotation: `proofs[k]` is a solution of
    // everything but `cand[k]` once `cand[k]` is known necessary (such a solution stays one of
    // every subset of the candidates without it).
    let mut proofs: Vec<Option<Vec<usize>>> = vec![None; cand.len()];
    let mut prover = Prover {
        model,
        fixed,
        b,
        work: ROTATION_WORK,
    };
    // Seeds first: those of this call's other explanations often prove many elements at once.
    let scanned = prover.scan_seeds(&cand, seeds);
    prover.use_seeds(&cand, &mut proofs, &scanned);
    while let Some(k) = proofs.iter().position(Option::is_none) {
        let mut trial: Vec<Elem> = b.to_vec();
        trial.extend(
            cand.iter()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .map(|(_, e)| *e),
        );
        match sat.solve_with(
            model,
            fixed,
            &trial,
            true,
            sub.as_mut().map(|s| &mut s.inst),
            budget,
        )? {
            Answer::Sat(sol) => {
                proofs[k] = Some(sol);
                prover.rotate(&cand, &mut proofs, k);
            }
            Answer::Unsat(core) => {
                // Without cand[k] still infeasible: drop it, and whatever the core left out
                // (except the elements already known necessary, which every core holds anyway).
                let (kept, kept_proofs): (Vec<Elem>, Vec<Option<Vec<usize>>>) = cand
                    .iter()
                    .zip(proofs)
                    .enumerate()
                    .filter(|(j, (e, p))| *j != k && (p.is_some() || in_c(e, &core)))
                    .map(|(_, (e, p))| (*e, p))
                    .unzip();
                cand = kept;
                proofs = kept_proofs;
                // Fewer candidates: seeds that broke a dropped one may prove others now.
                prover.use_seeds(&cand, &mut proofs, &scanned);
            }
        }
    }
    if let Some(sub) = sub {
        sat.put_sub(sub);
    }
    Ok(Some((cand, proofs.into_iter().flatten().collect())))
}

/// Most times the core is trimmed on the sub-instance before the deletion loop (it stops as
/// soon as a trim keeps every element).
const TRIMS: usize = 8;

/// Work `rotate` and the seeds may do per explanation, in table rows visited (see `elem_cost`):
/// about a millisecond.
const ROTATION_WORK: usize = 1_000_000;

/// The work of checking an element on an assignment, or of one pass over a rule's rows.
fn elem_cost(model: &Model, e: &Elem) -> usize {
    match *e {
        Elem::Choice(..) => 1,
        Elem::Rule(r) => match model.cons.get(r).map(|c| &c.kind) {
            Some(ConKind::Table(t) | ConKind::NegTable(t)) => t.nrows.max(1),
            _ => 16,
        },
    }
}

/// What proves elements necessary without a solver call, within one explanation: the model, the
/// fixed values and the background `b` (which no proof may break), and the work left (in table
/// rows visited, see `elem_cost`).
struct Prover<'a> {
    model: &'a Model,
    fixed: &'a [(usize, usize)],
    b: &'a [Elem],
    work: usize,
}

impl Prover<'_> {
    /// Model rotation (Marques-Silva and Lynce, 2011) on the constraint level: `proofs[k]`
    /// satisfies the fixed values, `b` and every candidate but `cand[k]`. Changing one variable
    /// that `cand[k]` reads so that it holds, where exactly one other candidate `cand[j]` then
    /// breaks (and no fixed value or element of `b` does), proves `cand[j]` necessary with no
    /// solver call: the changed solution satisfies everything but it. Each new proof is rotated
    /// in turn.
    fn rotate(&mut self, cand: &[Elem], proofs: &mut [Option<Vec<usize>>], k: usize) {
        let (model, fixed, b) = (self.model, self.fixed, self.b);
        let work = &mut self.work;
        let n = model.vars.len();
        // Variables that may not change: fixed ones and those of `b`'s choices.
        let mut pinned = vec![false; n];
        for &(v, _) in fixed {
            if let Some(p) = pinned.get_mut(v) {
                *p = true;
            }
        }
        let mut b_rules: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in b {
            match *e {
                Elem::Choice(v, _) => {
                    if let Some(p) = pinned.get_mut(v) {
                        *p = true;
                    }
                }
                Elem::Rule(r) => {
                    for &v in model.cons.get(r).map_or(&[][..], |c| c.scope.as_slice()) {
                        b_rules[v].push(r);
                    }
                }
            }
        }
        let mut touching: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (j, e) in cand.iter().enumerate() {
            for &v in e.reads(model) {
                if let Some(t) = touching.get_mut(v) {
                    t.push(j);
                }
            }
        }
        // Extended rotation: a change that breaks an element already known necessary is followed
        // too (from the changed solution), a few times per element, since it may lead on to
        // elements not known yet.
        let mut visits = vec![0u8; cand.len()];
        let mut stack: Vec<(usize, Vec<usize>)> = match proofs.get(k).cloned().flatten() {
            Some(s) if s.len() == n => vec![(k, s)],
            _ => return,
        };
        while let Some((k, mut s)) = stack.pop() {
            for &x in cand[k].reads(model) {
                if pinned[x] {
                    continue;
                }
                if *work == 0 {
                    return;
                }
                let passes = touching[x]
                    .iter()
                    .map(|&j| &cand[j])
                    .chain(std::iter::once(&cand[k]))
                    .map(|e| elem_cost(model, e))
                    .chain(b_rules[x].iter().map(|&r| elem_cost(model, &Elem::Rule(r))))
                    .fold(0usize, usize::saturating_add);
                *work = work.saturating_sub(passes);
                let orig = s[x];
                let mut ok = cand[k].holding(model, x, &s);
                for &r in &b_rules[x] {
                    for (o, h) in ok
                        .iter_mut()
                        .zip(model.holding_values(&model.cons[r], x, &s))
                    {
                        *o &= h;
                    }
                }
                if !(0..model.vars[x].size).any(|i| i != orig && bit(&ok, i)) {
                    continue;
                }
                let others: Vec<(usize, Vec<u64>)> = touching[x]
                    .iter()
                    .filter(|&&j| j != k)
                    .map(|&j| (j, cand[j].holding(model, x, &s)))
                    .collect();
                for val in (0..model.vars[x].size).filter(|&i| i != orig && bit(&ok, i)) {
                    let mut broken = others.iter().filter(|(_, h)| !bit(h, val));
                    if let (Some(&(j, _)), None) = (broken.next(), broken.next()) {
                        let fresh = proofs[j].is_none();
                        if fresh || visits[j] < REVISITS {
                            s[x] = val;
                            if fresh {
                                proofs[j] = Some(s.clone());
                            } else {
                                visits[j] += 1;
                            }
                            stack.push((j, s.clone()));
                            s[x] = orig;
                        }
                    }
                }
            }
        }
    }

    /// Assignments found for other explanations (`seeds`), each with the fixed values substituted,
    /// that satisfy `b` and break at most two of the candidates, with the ones they break: such an
    /// assignment proves necessary the one candidate it breaks, or the other once one of two is
    /// dropped (see `use_seeds`).
    fn scan_seeds(&mut self, cand: &[Elem], seeds: &[&[usize]]) -> Vec<(Vec<usize>, Vec<Elem>)> {
        let (model, fixed, b) = (self.model, self.fixed, self.b);
        let work = &mut self.work;
        let n = model.vars.len();
        // Candidates reading a fixed variable first, then choices: a seed found for another value
        // most often breaks those, so most seeds are rejected after a few checks.
        let reads_fixed = |e: &Elem| match *e {
            Elem::Rule(r) => model
                .cons
                .get(r)
                .is_some_and(|c| fixed.iter().any(|&(v, _)| c.scope.contains(&v))),
            Elem::Choice(..) => false,
        };
        let mut order: Vec<&Elem> = cand.iter().collect();
        order.sort_by_key(|e| (!reads_fixed(e), !matches!(e, Elem::Choice(..))));
        let mut out = Vec::new();
        for seed in seeds.iter().filter(|x| x.len() == n) {
            if *work == 0 {
                break;
            }
            let mut s = seed.to_vec();
            for &(v, i) in fixed {
                if let Some(x) = s.get_mut(v) {
                    *x = i;
                }
            }
            if !b.iter().all(|e| e.holds(model, &s)) {
                continue;
            }
            let mut broken = Vec::new();
            for e in &order {
                *work = work.saturating_sub(elem_cost(model, e));
                if !e.holds(model, &s) {
                    broken.push(**e);
                    if broken.len() > 2 {
                        break;
                    }
                }
            }
            if broken.len() <= 2 {
                out.push((s, broken));
            }
        }
        out
    }

    /// Proves necessary, and rotates, each candidate that is the only one a scanned seed breaks
    /// among the candidates left.
    fn use_seeds(
        &mut self,
        cand: &[Elem],
        proofs: &mut [Option<Vec<usize>>],
        seeds: &[(Vec<usize>, Vec<Elem>)],
    ) {
        for (s, broken) in seeds {
            let mut left = broken
                .iter()
                .filter_map(|e| cand.iter().position(|c| c == e));
            if let (Some(j), None) = (left.next(), left.next())
                && proofs[j].is_none()
            {
                proofs[j] = Some(s.clone());
                self.rotate(cand, proofs, j);
            }
        }
    }
}

/// Times `rotate` follows a change onto an element already known necessary.
const REVISITS: u8 = 2;

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
        let mut inst = self.take(Kind::Full);
        let mut out = Liveness {
            possible: vec![[false; 2]; self.nvars],
            solutions: Vec::new(),
        };
        let r = self.liveness_in(&mut inst, &mut out, budget);
        self.put(Kind::Full, inst);
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
        mark(self.decode(inst), out);
        for v in 0..self.nvars {
            for i in 0..2 {
                if out.possible[v][i] {
                    continue;
                }
                let Some(l) = L::choice(v, i) else { continue };
                if inst.run(&[inst.lit(l)], budget)? {
                    mark(self.decode(inst), out);
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
        model: &Model,
        solutions: &[Vec<usize>],
        budget: &mut Budget,
    ) -> Result<Vec<usize>, (Vec<usize>, OutOfWork)> {
        let m = self.rules.len();
        let mut active = vec![true; m];
        let mut found = Vec::new();
        let mut inst = self.take(Kind::Selector);
        let mut scratch: Vec<usize> = Vec::new();
        let mut result = Ok(());
        for r in 0..m {
            active[r] = false;
            let mut implied = true;
            for clause in self.rules[r].iter() {
                if self.refuted(clause, &active, solutions, &mut scratch) {
                    implied = false;
                    break;
                }
                match self.implied_in(model, &mut inst, clause, &active, budget) {
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
        self.put(Kind::Selector, inst);
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
        model: &Model,
        inst: &mut Inst,
        clause: &[L],
        active: &[bool],
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        let assumptions: Vec<Lit> = clause.iter().map(|&l| !inst.lit(l)).collect();
        let start: Vec<usize> = clause.iter().map(|l| l.var as usize).collect();
        Ok(self
            .run_lazy(model, inst, &assumptions, &start, active, budget)?
            .is_none())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::rules::generate::{CarParams, car_model_with};

    /// Whether `proof` proves `elems[k]` necessary: it keeps the fixed values and satisfies every
    /// other element, and breaks `elems[k]`.
    fn proves(
        model: &Model,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        k: usize,
        proof: &[usize],
    ) -> bool {
        proof.len() == model.vars.len()
            && fixed.iter().all(|&(v, i)| proof[v] == i)
            && elems
                .iter()
                .enumerate()
                .all(|(j, e)| e.holds(model, proof) != (j == k))
    }

    /// The engine of a generated 40-option car model (seed `seed`).
    fn car_engine(seed: u64) -> Engine {
        let g = car_model_with(seed, 40, 45, &CarParams::calibrated(40));
        let loaded = crate::catalog::load(&g.files());
        Engine::new(loaded.catalog.unwrap().products()[0].clone())
    }

    /// A budget whose deadline has passed stops a solve at once (batsat polls `stop` again
    /// after a stopped search, so the stop must hold), keeps the work left, and says why.
    #[test]
    fn a_passed_deadline_stops_a_solve_and_keeps_the_work_left() {
        let engine = car_engine(3);
        let Some(sat) = engine.sat.as_ref() else {
            panic!("the car model has a SAT encoding");
        };
        let all: Vec<Elem> = (0..engine.model.cons.len()).map(Elem::Rule).collect();
        let mut budget = Budget::new(1_000_000);
        budget.until(Some(std::time::Instant::now()));
        let r = sat.solve_with(&engine.model, &[], &all, true, None, &mut budget);
        assert!(r.is_err());
        assert!(budget.expired());
        assert!(budget.remaining > 900_000, "{}", budget.remaining);
        budget.until(None);
        assert!(!budget.expired());
        let r = sat.solve_with(&engine.model, &[], &all, true, None, &mut budget);
        assert!(matches!(r, Ok(Answer::Sat(_))));
    }

    /// On a generated car model (finite-domain encoding), explanations of random infeasible
    /// sets come back infeasible and minimal, every element with a valid proof, whether the
    /// proof came from the solver, a rotation or a seed (the proofs of earlier explanations);
    /// and rotation alone, started from one proof, finds others that are valid.
    #[test]
    fn rotated_and_seeded_proofs_are_valid() {
        let engine = car_engine(5);
        let model = &engine.model;
        let sat = engine
            .sat
            .as_ref()
            .expect("a 40-option model gets the SAT encoding");
        assert!(!sat.is_boolean());
        let n = model.vars.len();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |m: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            usize::try_from(rng % m as u64).unwrap()
        };
        let mut seeds: Vec<Vec<usize>> = Vec::new();
        let (mut explained, mut rotated) = (0, 0);
        for _ in 0..400 {
            if explained >= 12 {
                break;
            }
            let x = next(n);
            let fixed = [(x, next(model.vars[x].size))];
            let mut c: Vec<Elem> = (0..model.cons.len()).map(Elem::Rule).collect();
            for _ in 0..4 {
                let v = next(n);
                if v != x {
                    c.push(Elem::Choice(v, next(model.vars[v].size)));
                }
            }
            let mut budget = Budget::new(50_000_000);
            if matches!(
                sat.solve(model, &fixed, &c, &mut budget).unwrap(),
                Answer::Sat(_)
            ) {
                continue;
            }
            let refs: Vec<&[usize]> = seeds.iter().rev().map(Vec::as_slice).take(128).collect();
            let (elems, proofs) = sat_explain(
                model,
                sat,
                &fixed,
                (&[], false),
                (&c, &[]),
                &refs,
                &mut budget,
            )
            .unwrap()
            .expect("infeasible");
            assert!(matches!(
                sat.solve(model, &fixed, &elems, &mut budget).unwrap(),
                Answer::Unsat(_)
            ));
            assert_eq!(proofs.len(), elems.len());
            for (k, p) in proofs.iter().enumerate() {
                assert!(
                    proves(model, &fixed, &elems, k, p),
                    "proof {k} of {elems:?}"
                );
            }
            // Rotation alone from the first proof.
            let mut only: Vec<Option<Vec<usize>>> = vec![None; elems.len()];
            only[0] = Some(proofs[0].clone());
            let mut prover = Prover {
                model,
                fixed: &fixed,
                b: &[],
                work: ROTATION_WORK,
            };
            prover.rotate(&elems, &mut only, 0);
            for (k, p) in only.iter().enumerate().skip(1) {
                if let Some(p) = p {
                    rotated += 1;
                    assert!(
                        proves(model, &fixed, &elems, k, p),
                        "rotated proof {k} of {elems:?}"
                    );
                }
            }
            seeds.extend(proofs);
            explained += 1;
        }
        assert!(explained >= 12, "only {explained} infeasible sets found");
        assert!(rotated > 0, "rotation never found a proof");
    }

    /// Starting from a few candidates and growing by counterexamples gives the same guarantees
    /// as starting from all of them: an infeasible, minimal set (each element with a valid
    /// proof) drawn from the candidates, and `None` exactly when they are all feasible.
    #[test]
    fn growing_from_a_narrow_start_stays_exact() {
        let engine = car_engine(7);
        let model = &engine.model;
        let sat = engine.sat.as_ref().expect("SAT encoding");
        let n = model.vars.len();
        let (mut grown, mut feasible) = (0, 0);
        for x in 0..n {
            for i in 0..model.vars[x].size {
                let fixed = [(x, i)];
                let choice = ((x + 1) % n, i % model.vars[(x + 1) % n].size);
                let all: Vec<Elem> = std::iter::once(Elem::Choice(choice.0, choice.1))
                    .chain((0..model.cons.len()).map(Elem::Rule))
                    .collect();
                // The choice and the rules reading the target to start with; the rest to grow by.
                let (start, rest): (Vec<Elem>, Vec<Elem>) = all.iter().partition(|e| match **e {
                    Elem::Choice(..) => true,
                    Elem::Rule(r) => model.var_cons[x].contains(&r),
                });
                let mut budget = Budget::new(50_000_000);
                let whole = sat.solve(model, &fixed, &all, &mut budget).unwrap();
                let r = sat_explain(
                    model,
                    sat,
                    &fixed,
                    (&[], false),
                    (&start, &rest),
                    &[],
                    &mut budget,
                )
                .unwrap();
                match (whole, r) {
                    (Answer::Sat(_), None) => feasible += 1,
                    (Answer::Unsat(_), Some((elems, proofs))) => {
                        assert!(elems.iter().all(|e| all.contains(e)));
                        assert!(matches!(
                            sat.solve(model, &fixed, &elems, &mut budget).unwrap(),
                            Answer::Unsat(_)
                        ));
                        assert_eq!(proofs.len(), elems.len());
                        for (k, p) in proofs.iter().enumerate() {
                            assert!(proves(model, &fixed, &elems, k, p), "proof {k}");
                        }
                        if elems.iter().any(|e| rest.contains(e)) {
                            grown += 1;
                        }
                    }
                    (w, r) => panic!("({x},{i}): whole set {w:?}, grown {r:?}"),
                }
            }
        }
        assert!(grown > 0, "no explanation needed a rule outside the start");
        assert!(feasible > 0, "every value was excluded");
        // Each explanation after the first ran on sub-instances pooled by earlier ones (and
        // extended by what they lacked): the answers above stayed exact through that reuse.
        assert!(
            !sat.subs.lock().unwrap().is_empty(),
            "no sub-instance was pooled"
        );
    }

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
