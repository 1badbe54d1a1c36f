//! Explanations from propagation reasons: the rules and choices whose deductions removed a value during a root propagation, traced back through the removal log (a sufficient set; the engine then makes it minimal).
//!
//! A recording [`Solver`](super::solver::Solver) logs every removal with the constraint that
//! made it and the point in the log where that deduction started. A removed value's premises are
//! the removals, before that point, without which the constraint would still support it:
//! - positive table: for every row containing the value, the values of one other scope variable
//!   in that row's cell (all of them were gone, which is why the row gave no support);
//! - negative table: a row that forbade the value while every other scope variable's domain lay
//!   inside the row's cells: the values outside those cells;
//! - checked expression: the other scope variables were fixed: their other values;
//! - an assignment: the customer's choice itself.
//!
//! Following premises back ends at choices. Propagation with only the rules and choices met on
//! the way re-derives every removal on the way (propagation is monotone), so the set excludes the
//! value; it is usually far smaller than the candidates QuickXplain would otherwise start from.

use foldhash::HashSet;

use super::engine::Elem;
use super::model::{ConKind, Model, bit, count_bits, iter_bits};
use super::solver::{ASSIGNED, Budget, Fixpoint, OutOfWork, Removal, Solver};

/// Work cap for one traversal (premises visited): beyond it the engine falls back to search.
const MAX_VISITS: usize = 20_000;
/// Work cap for one traversal in table rows read (a premise on a 50,000-row table reads all of
/// them): a trace through large tables stops here, about 20 ms in, and the engine falls back.
const MAX_ROWS: usize = 4_000_000;
/// Work cap (search nodes plus propagation) for tracing one refutation search.
const REFUTE_WORK: u64 = 400_000;

/// What tracing found for a value.
pub(crate) enum Traced {
    /// Propagation alone excludes it under these rules and choices.
    Set(Vec<Elem>),
    /// Propagation after assigning it finds no conflict: only search excludes it.
    Search,
    /// Not traceable (the engine falls back to its general method).
    Unknown,
}

/// What a trace reached: the rules and choices, and the search decisions (variables) it
/// depends on.
#[derive(Debug, Default)]
struct Found {
    elems: Vec<Elem>,
    decisions: Vec<usize>,
}

impl Found {
    /// Adds another trace's findings, except a dependence on the decision on `except`.
    fn merge(&mut self, other: Found, except: Option<usize>) {
        for e in other.elems {
            if !self.elems.contains(&e) {
                self.elems.push(e);
            }
        }
        for d in other.decisions {
            if Some(d) != except && !self.decisions.contains(&d) {
                self.decisions.push(d);
            }
        }
    }
}

/// The outcome of one node of a refutation search.
enum Node {
    /// A solution below it: the value is not refuted.
    Sat,
    Failed(Found),
    /// A trace grew past its cap.
    Untraceable,
}

/// The removal log of one root propagation, indexed by variable.
#[derive(Debug)]
pub(crate) struct Reasons {
    log: Vec<Removal>,
    by_var: Vec<Vec<u32>>,
    /// Where the logged propagation ended (its domains and live rows).
    root: Fixpoint,
}

impl Reasons {
    pub(crate) fn new(model: &Model, log: Vec<Removal>, root: Fixpoint) -> Reasons {
        let mut by_var = vec![Vec::new(); model.vars.len()];
        for (t, r) in log.iter().enumerate() {
            if let (Some(list), Ok(t)) = (by_var.get_mut(r.var as usize), u32::try_from(t)) {
                list.push(t);
            }
        }
        Reasons { log, by_var, root }
    }

    /// Where the logged propagation ended.
    pub(crate) fn fixpoint(&self) -> &Fixpoint {
        &self.root
    }

    /// The removal log.
    pub(crate) fn log(&self) -> &[Removal] {
        &self.log
    }

    /// The log index of the removal of value `i` of `v`, if the root propagation removed it.
    fn removed_at(&self, v: usize, i: usize) -> Option<usize> {
        self.by_var.get(v)?.iter().map(|&t| t as usize).find(|&t| {
            let r = &self.log[t];
            r.word as usize == i / 64 && r.bits & (1u64 << (i % 64)) != 0
        })
    }

    /// Variable `x`'s domain before log index `t`.
    fn dom_before(&self, model: &Model, x: usize, t: usize) -> Vec<u64> {
        let mut d = model.dom(&model.initial_domains, x).to_vec();
        for &k in &self.by_var[x] {
            let k = k as usize;
            if k >= t {
                break;
            }
            let r = &self.log[k];
            if let Some(w) = d.get_mut(r.word as usize) {
                *w &= !r.bits;
            }
        }
        d
    }

    /// A set of rules and choices under which propagation alone excludes `target`: traced from
    /// its removal when the logged propagation removed it, otherwise from the conflict that
    /// propagation meets once `target` is assigned. [`Traced::Search`] when propagation alone
    /// does not exclude it; [`Traced::Unknown`] when a traversal grew past its cap.
    pub(crate) fn sufficient(
        &self,
        model: &Model,
        base: &[(usize, usize)],
        target: (usize, usize),
        budget: &mut Budget,
    ) -> Result<Traced, OutOfWork> {
        let traced = |x: Option<Found>| x.map_or(Traced::Unknown, |f| Traced::Set(f.elems));
        if self.removed_at(target.0, target.1).is_some() {
            return Ok(traced(self.trace(
                model,
                base,
                target.0,
                Vec::new(),
                vec![target],
            )));
        }
        let Some(mut s) = self.assigned(model, target) else {
            return Ok(Traced::Unknown);
        };
        if s.propagate(budget)? {
            return Ok(Traced::Search);
        }
        let Some((c, at)) = s.conflict else {
            return Ok(Traced::Unknown);
        };
        let ext = Reasons::new(model, s.take_log(), Fixpoint::default());
        let c = c as usize;
        let start = ext.conflict_premises(model, c, at as usize);
        Ok(traced(start.and_then(|st| {
            ext.trace(model, base, target.0, vec![c], st)
        })))
    }

    /// A recording solver on the logged propagation's domains with `target` assigned (queued).
    fn assigned<'m>(&self, model: &'m Model, target: (usize, usize)) -> Option<Solver<'m>> {
        if !bit(model.dom(&self.root.doms, target.0), target.1) {
            return None;
        }
        let mut s = Solver::at(model, &self.root).recording_after(self.log.clone());
        if !s.assign(target.0, target.1) {
            return None;
        }
        s.queue_var(target.0);
        Some(s)
    }

    /// For a value only search excludes: searches exhaustively under it and traces every dead
    /// end (the conflict's premises) and every branching that needed all of a variable's
    /// values (why its other values were gone). A dead end whose premises do not use the
    /// decision just made refutes its parent node on its own, so the search jumps back past
    /// that branching (conflict-directed backjumping): branching on a variable that has
    /// nothing to do with the refutation costs one subtree, not all of them, and adds nothing
    /// to the set. The rules and choices met form a refutation: with them alone the same
    /// (pruned) search tree fails everywhere. `None` if the value has a solution after all,
    /// or past the work cap.
    pub(crate) fn refuted(
        &self,
        model: &Model,
        base: &[(usize, usize)],
        target: (usize, usize),
        budget: &mut Budget,
    ) -> Result<Option<Vec<Elem>>, OutOfWork> {
        let Some(mut s) = self.assigned(model, target) else {
            return Ok(None);
        };
        let mut sub = budget.share(REFUTE_WORK.min(budget.remaining));
        let mut search = Reasons {
            log: self.log.clone(),
            by_var: self.by_var.clone(),
            root: Fixpoint::default(),
        };
        let outcome = match s.propagate(&mut sub) {
            Ok(true) => {
                search.sync(&s);
                search.refute(model, base, target.0, &mut s, &mut sub)
            }
            Ok(false) | Err(_) => Ok(Node::Untraceable),
        };
        if !budget.spend(sub.used()) {
            return Err(OutOfWork);
        }
        Ok(match outcome {
            Ok(Node::Failed(found)) => Some(found.elems),
            _ => None,
        })
    }

    /// Appends what the solver logged since the last sync.
    fn sync(&mut self, s: &Solver<'_>) {
        let log = s.log();
        for r in log.get(self.log.len()..).unwrap_or(&[]) {
            if let (Some(list), Ok(t)) = (
                self.by_var.get_mut(r.var as usize),
                u32::try_from(self.log.len()),
            ) {
                list.push(t);
            }
            self.log.push(*r);
        }
    }

    /// Drops the log entries from `len` on (the solver undid them).
    fn truncate(&mut self, len: usize) {
        while self.log.len() > len {
            if let Some(r) = self.log.pop()
                && let Some(list) = self.by_var.get_mut(r.var as usize)
            {
                list.pop();
            }
        }
    }

    /// One node of [`Reasons::refuted`]'s search (see there); `free` is the variable being
    /// explained, whose assignment needs no element.
    fn refute(
        &mut self,
        model: &Model,
        base: &[(usize, usize)],
        free: usize,
        s: &mut Solver<'_>,
        budget: &mut Budget,
    ) -> Result<Node, OutOfWork> {
        let Some(x) = s.branch_var(budget) else {
            return Ok(Node::Sat);
        };
        let mut all = Found::default();
        let values: Vec<usize> = iter_bits(model.dom(&s.doms, x)).collect();
        for i in values {
            if !budget.spend(1) {
                return Err(OutOfWork);
            }
            let (m, len) = (s.mark(), self.log.len());
            s.assign(x, i);
            s.queue_var(x);
            let consistent = s.propagate(budget);
            self.sync(s);
            let child = match consistent {
                Ok(true) => self.refute(model, base, free, s, budget),
                Ok(false) => Ok(match s.conflict {
                    Some((c, at)) => {
                        let c = c as usize;
                        self.conflict_premises(model, c, at as usize)
                            .and_then(|st| self.trace(model, base, free, vec![c], st))
                            .map_or(Node::Untraceable, Node::Failed)
                    }
                    None => Node::Untraceable,
                }),
                Err(e) => Err(e),
            };
            s.undo(m);
            self.truncate(len);
            match child? {
                Node::Failed(found) if !found.decisions.contains(&x) => {
                    return Ok(Node::Failed(found));
                }
                Node::Failed(found) => all.merge(found, Some(x)),
                other => return Ok(other),
            }
        }
        // Every value of `x` failed: the refutation also needs why its other values were gone.
        let gone: Vec<(usize, usize)> = iter_bits(model.dom(&model.initial_domains, x))
            .filter(|&k| !bit(model.dom(&s.doms, x), k))
            .map(|k| (x, k))
            .collect();
        if !gone.is_empty() {
            match self.trace(model, base, free, Vec::new(), gone) {
                Some(found) => all.merge(found, None),
                None => return Ok(Node::Untraceable),
            }
        }
        Ok(Node::Failed(all))
    }

    /// Follows premises back from `start` to the choices. Removals by assigning a variable the
    /// customer did not choose need no element: `free` (the value being explained) or a search
    /// decision, which is reported in [`Found::decisions`].
    fn trace(
        &self,
        model: &Model,
        base: &[(usize, usize)],
        free: usize,
        mut rules: Vec<usize>,
        start: Vec<(usize, usize)>,
    ) -> Option<Found> {
        let mut seen: HashSet<(usize, usize)> = start.iter().copied().collect();
        let mut stack = start;
        let mut choices: Vec<(usize, usize)> = Vec::new();
        let mut decisions: Vec<usize> = Vec::new();
        // Variables some premise already reaches into: preferred when a row can be refuted by
        // several, so that explanations reuse what they already contain.
        let mut touched = vec![false; model.vars.len()];
        let mut rows = 0usize;
        while let Some((v, i)) = stack.pop() {
            if seen.len() > MAX_VISITS {
                return None;
            }
            let t = self.removed_at(v, i)?;
            let r = self.log[t];
            if r.cause == ASSIGNED {
                if let Some(choice) = base.iter().copied().find(|&(x, _)| x == v) {
                    if !choices.contains(&choice) {
                        choices.push(choice);
                    }
                } else if v != free && !decisions.contains(&v) {
                    decisions.push(v);
                }
                continue;
            }
            let c = r.cause as usize;
            if !rules.contains(&c) {
                rules.push(c);
            }
            let premises = self.premises(
                model,
                c,
                Some((v, i)),
                r.since as usize,
                &touched,
                &mut rows,
            )?;
            for p in premises {
                touched[p.0] = true;
                if seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        let mut elems: Vec<Elem> = choices
            .into_iter()
            .map(|(v, i)| Elem::Choice(v, i))
            .collect();
        elems.extend(rules.into_iter().map(Elem::Rule));
        Some(Found { elems, decisions })
    }

    /// The removals that left constraint `c` with no way to hold, given the domains before log
    /// index `at` (a propagation conflict).
    fn conflict_premises(&self, model: &Model, c: usize, at: usize) -> Option<Vec<(usize, usize)>> {
        let touched = vec![false; model.vars.len()];
        self.premises(model, c, None, at, &touched, &mut 0)
    }

    /// The removals that made constraint `c` remove value `i` of `v` (`target` = `(v, i)`), or
    /// with no target, fail outright (see the module doc), given the domains before log index
    /// `since`. Variables in `touched` are preferred where several would do. The table rows
    /// read are added to `rows`; `None` once it passes [`MAX_ROWS`].
    fn premises(
        &self,
        model: &Model,
        c: usize,
        target: Option<(usize, usize)>,
        since: usize,
        touched: &[bool],
        rows: &mut usize,
    ) -> Option<Vec<(usize, usize)>> {
        let con = model.cons.get(c)?;
        if let ConKind::Table(t) | ConKind::NegTable(t) = &con.kind {
            *rows += t.nrows;
            if *rows > MAX_ROWS {
                return None;
            }
        }
        let jv = match target {
            Some((v, _)) => Some(con.scope.iter().position(|&x| x == v)?),
            None => None,
        };
        // Whether a row (or a check) concerns the target value at all.
        let has_target = |cell: &[u64]| target.is_none_or(|(_, i)| bit(cell, i));
        let doms: Vec<Vec<u64>> = con
            .scope
            .iter()
            .map(|&x| self.dom_before(model, x, since))
            .collect();
        let init = |x: usize| model.dom(&model.initial_domains, x);
        let others = || {
            con.scope
                .iter()
                .enumerate()
                .filter(move |&(j, _)| Some(j) != jv)
        };
        let mut out = Vec::new();
        match &con.kind {
            ConKind::Table(t) => {
                // The values given as premises so far, per scope position: a row whose dead
                // cell they already cover adds nothing, so such a cell is preferred (then one on
                // a variable the trace already reaches into, then the fewest new values). Each
                // premise is then given once, and a trace visits far fewer.
                let mut given: Vec<Vec<u64>> =
                    con.scope.iter().map(|&x| vec![0; init(x).len()]).collect();
                for row in t.iter() {
                    if let Some(jv) = jv
                        && !has_target(t.cell(row, jv))
                    {
                        continue;
                    }
                    // One other variable whose cell in this row had no value left.
                    let mut best: Option<(bool, bool, usize, usize)> = None;
                    for (j, &x) in others() {
                        let cell = t.cell(row, j);
                        if !doms[j].iter().zip(cell).all(|(d, c)| d & c == 0) {
                            continue;
                        }
                        let new: usize = init(x)
                            .iter()
                            .zip(cell)
                            .zip(&given[j])
                            .map(|((a, b), g)| (a & b & !g).count_ones() as usize)
                            .sum();
                        let key = (new > 0, !touched[x], new, j);
                        if best.is_none_or(|b| key < b) {
                            best = Some(key);
                        }
                        if new == 0 {
                            break;
                        }
                    }
                    let (_, _, _, j) = best?;
                    let x = con.scope[j];
                    for ((g, a), b) in given[j].iter_mut().zip(init(x)).zip(t.cell(row, j)) {
                        *g |= a & b;
                    }
                }
                for (j, &x) in con.scope.iter().enumerate() {
                    out.extend(iter_bits(&given[j]).map(|k| (x, k)));
                }
            }
            ConKind::NegTable(t) => {
                // A row that forbade it: every other domain lay inside the row's cells.
                let row = t.iter().find(|row| {
                    jv.is_none_or(|jv| has_target(t.cell(row, jv)))
                        && others().all(|(j, _)| {
                            doms[j].iter().zip(t.cell(row, j)).all(|(d, c)| d & !c == 0)
                        })
                })?;
                for (j, &x) in others() {
                    let outside: Vec<u64> = init(x)
                        .iter()
                        .zip(t.cell(row, j))
                        .map(|(a, b)| a & !b)
                        .collect();
                    out.extend(iter_bits(&outside).map(|k| (x, k)));
                }
            }
            ConKind::Check(_) => {
                for (j, &x) in others() {
                    // Removing one value needs the others fixed; a failure needs all it saw.
                    if jv.is_some() && count_bits(&doms[j]) != 1 {
                        return None;
                    }
                    let gone: Vec<u64> =
                        init(x).iter().zip(&doms[j]).map(|(a, d)| a & !d).collect();
                    out.extend(iter_bits(&gone).map(|k| (x, k)));
                }
            }
        }
        Some(out)
    }
}
