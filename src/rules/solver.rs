//! The search core: generalized arc consistency on compressed tables, forward checking of expressions, and depth-first search with a trail and a work budget.

use std::collections::VecDeque;
use std::sync::Arc;

use super::model::{ConKind, Model, bit, count_bits, iter_bits};
use crate::catalog::expr::Val;

/// Tables with at least this many rows keep their live rows (simple tabular reduction): a row
/// that no longer matches the domains is set aside until the search backtracks past the point
/// where it stopped matching, so deep in a search a 50,000-row variant table is scanned over the
/// few rows still alive instead of all of them. Smaller tables are scanned whole (cheaper than
/// the bookkeeping).
const LIVE_ROWS_MIN: usize = 32;
/// Trail entries with this bit set record a table's live-row count (the constraint in the low
/// bits, the count before the change as the word), not a domain word.
const LIVE_TAG: u32 = 1 << 31;

/// The live rows of one large table: a permutation of its row indices whose first `len` are the
/// rows still matching the domains (the others were set aside after the trail mark that
/// restores `len`).
#[derive(Debug, Clone, Default)]
struct LiveRows {
    order: Vec<u32>,
    len: usize,
}

/// Where a propagation stopped: the domains and the live rows of large tables. Propagating more
/// choices from it reaches the same fixpoint as from the initial domains (propagation is
/// monotone), without re-scanning the rows it already set aside.
/// Solvers started from it share its live rows and copy a table's only when they first revise
/// it.
#[derive(Debug, Clone, Default)]
pub struct Fixpoint {
    pub doms: Vec<u64>,
    live: Arc<Vec<LiveRows>>,
}

/// A work budget shared by one engine operation: search nodes and propagation steps.
#[derive(Debug, Clone)]
pub struct Budget {
    pub remaining: u64,
    pub limit: u64,
    /// Conflict weights per constraint (dom/wdeg), learned across the searches of one operation.
    pub weights: Vec<u64>,
    /// Per variable: the sum over its constraints of their learned weight (weight − 1), kept
    /// up to date by `bump` so that choosing a variable does not re-add weights at every node.
    var_learned: Vec<u64>,
    /// State of the tie-breaking generator (deterministic).
    rng: u64,
    /// A moment past which spending fails too (see `Budget::until`): a configure answer's
    /// explanations stop at a time, not only at a work limit.
    deadline: Option<std::time::Instant>,
    /// Spends since the clock was last read (read once per `CLOCK_EVERY`).
    ticks: u32,
    /// Whether spending failed because the deadline passed (the work left is kept).
    expired: bool,
}

/// How many spends pass between two readings of the clock when a deadline is set.
const CLOCK_EVERY: u32 = 64;

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            remaining: limit,
            limit,
            weights: Vec::new(),
            var_learned: Vec::new(),
            rng: 0x2545_F491_4F6C_DD1D,
            deadline: None,
            ticks: 0,
            expired: false,
        }
    }

    /// A budget of its own (`limit` units) that keeps this one's deadline.
    pub fn share(&self, limit: u64) -> Budget {
        Budget {
            deadline: self.deadline,
            ..Budget::new(limit)
        }
    }

    /// Sets (or clears) the moment past which spending fails; clears `expired`.
    pub fn until(&mut self, deadline: Option<std::time::Instant>) {
        self.deadline = deadline;
        self.ticks = 0;
        self.expired = false;
    }

    /// The deadline set by `until`, if any.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }

    /// Whether spending failed because the deadline passed (not because work ran out).
    pub fn expired(&self) -> bool {
        self.expired
    }

    /// Reads the clock now and then (every `CLOCK_EVERY` spends): true once past the deadline.
    fn late(&mut self) -> bool {
        let Some(deadline) = self.deadline else {
            return false;
        };
        if self.expired {
            return true;
        }
        self.ticks += 1;
        if self.ticks < CLOCK_EVERY {
            return false;
        }
        self.ticks = 0;
        self.expired = std::time::Instant::now() >= deadline;
        self.expired
    }

    /// Marks the deadline as passed (a solver that reads the clock itself found it so).
    pub(crate) fn expire(&mut self) {
        self.expired = self.deadline.is_some();
    }

    /// Records a failure of constraint `c`; `scope` is given for the model's own constraints
    /// (the ones variable selection weighs).
    fn bump(&mut self, c: usize, scope: Option<&[usize]>) {
        if self.weights.len() <= c {
            self.weights.resize(c + 1, 1);
        }
        self.weights[c] = self.weights[c].saturating_add(1);
        for &v in scope.unwrap_or(&[]) {
            if self.var_learned.len() <= v {
                self.var_learned.resize(v + 1, 0);
            }
            self.var_learned[v] = self.var_learned[v].saturating_add(1);
        }
    }

    fn learned(&self, v: usize) -> u64 {
        self.var_learned.get(v).copied().unwrap_or(0)
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Spends `n` units; false when exhausted.
    pub fn spend(&mut self, n: u64) -> bool {
        if self.late() {
            return false;
        }
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

/// One removal of values from a domain, logged when a solver is `recording` (root propagation
/// only, where nothing is undone): which constraint (or an assignment) removed which bits, and
/// where in the log the deduction started (its premises are the removals before that point).
#[derive(Debug, Clone, Copy)]
pub struct Removal {
    pub var: u32,
    /// Word index within the variable's domain.
    pub word: u32,
    pub bits: u64,
    /// The constraint that removed them, or [`ASSIGNED`].
    pub cause: u32,
    pub since: u32,
    /// The trail length when it was logged (an undo to a mark at or below drops it).
    pub trail: u32,
}

/// [`Removal::cause`] of values removed by assigning the variable (a customer's choice).
pub const ASSIGNED: u32 = u32::MAX;

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
    /// When set, only these variables are branched on; the others are unconstrained by the
    /// active constraints and keep any value of their domain.
    relevant: Option<Vec<usize>>,
    /// The removal log, when recording.
    log: Option<Vec<Removal>>,
    /// The cause and start of the deduction now changing domains (for the log).
    cause: u32,
    since: u32,
    /// The constraint whose revision failed last, and where in the log that revision started.
    pub conflict: Option<(u32, u32)>,
    /// Log entries inherited from an earlier propagation (`recording_after`): never undone.
    log_floor: usize,
    /// Per model constraint, its live rows (empty until a large table is first revised).
    live: Vec<LiveRows>,
    /// The live rows of the fixpoint the solver started at (see [`Fixpoint`]): a table's are
    /// copied into `live` when it is first revised.
    base_live: Arc<Vec<LiveRows>>,
}

impl<'m> Solver<'m> {
    pub fn new(model: &'m Model, doms: Vec<u64>) -> Solver<'m> {
        // Sized once for a typical search (every domain word changed a few times, every
        // constraint queued): growing them push by push was a tenth of a small product's call.
        let words = doms.len();
        let ncons = model.cons.len();
        Solver {
            model,
            doms,
            trail: Vec::with_capacity(4 * words + 16),
            queue: VecDeque::with_capacity(ncons + 1),
            queued: vec![false; ncons],
            supp: Vec::new(),
            active: None,
            extra: &[],
            relevant: None,
            log: None,
            cause: ASSIGNED,
            since: 0,
            conflict: None,
            log_floor: 0,
            live: Vec::new(),
            base_live: Arc::default(),
        }
    }

    /// A solver at `fp` (its domains and live rows), with an empty trail and queue.
    pub fn at(model: &'m Model, fp: &Fixpoint) -> Solver<'m> {
        let mut s = Solver::new(model, fp.doms.clone());
        s.base_live = Arc::clone(&fp.live);
        s
    }

    /// Where this solver is: its domains and live rows (see [`Fixpoint`]).
    pub fn fixpoint(&self) -> Fixpoint {
        let n = self.live.len().max(self.base_live.len());
        Fixpoint {
            doms: self.doms.clone(),
            live: Arc::new(
                (0..n)
                    .map(|c| self.live_rows(c).cloned().unwrap_or_default())
                    .collect(),
            ),
        }
    }

    /// Constraint `c`'s live rows, its own or else the starting fixpoint's; `None` before a
    /// large table is first revised.
    fn live_rows(&self, c: usize) -> Option<&LiveRows> {
        [self.live.get(c), self.base_live.get(c)]
            .into_iter()
            .flatten()
            .find(|l| !l.order.is_empty())
    }

    /// A solver on the same domains with the same live rows of large tables, with an empty
    /// trail: a search started from a propagated root skips re-scanning the rows the root's
    /// propagation already set aside.
    pub fn fork(&self) -> Solver<'m> {
        let mut s = Solver::new(self.model, self.doms.clone());
        s.live.clone_from(&self.live);
        s.base_live = Arc::clone(&self.base_live);
        s
    }

    /// Logs every removal with its cause (see [`Removal`]); for a root propagation.
    pub fn recording(mut self) -> Self {
        self.log = Some(Vec::new());
        self
    }

    /// Continues recording after an earlier log (of the propagation that led to these domains).
    pub fn recording_after(mut self, log: Vec<Removal>) -> Self {
        self.log_floor = log.len();
        self.log = Some(log);
        self
    }

    /// The removals logged so far (empty when not recording).
    pub fn take_log(&mut self) -> Vec<Removal> {
        self.log.take().unwrap_or_default()
    }

    /// Marks the start of a deduction by `cause` (its premises are what is logged before now).
    fn deduce(&mut self, cause: u32) {
        self.cause = cause;
        self.since = self
            .log
            .as_ref()
            .map_or(0, |l| u32::try_from(l.len()).unwrap_or(u32::MAX));
    }

    /// Branches only on the variables marked true (see the field's doc).
    pub fn with_relevant(mut self, relevant: Vec<bool>) -> Self {
        self.relevant = Some(
            relevant
                .iter()
                .enumerate()
                .filter_map(|(v, &r)| r.then_some(v))
                .collect(),
        );
        self
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
                if i & LIVE_TAG != 0 {
                    if let Some(l) = self.live.get_mut((i & !LIVE_TAG) as usize) {
                        l.len = usize::try_from(w).unwrap_or(l.len);
                    }
                } else {
                    self.doms[i as usize] = w;
                }
            }
        }
        if let Some(log) = self.log.as_mut() {
            while log.len() > self.log_floor && log.last().is_some_and(|r| r.trail as usize >= mark)
            {
                log.pop();
            }
        }
    }

    /// The removals logged so far.
    pub fn log(&self) -> &[Removal] {
        self.log.as_deref().unwrap_or(&[])
    }

    /// The variable a depth-first search would branch on next (dom/wdeg), `None` when every
    /// variable it may branch on is fixed.
    pub fn branch_var(&self, budget: &mut Budget) -> Option<usize> {
        self.pick(budget, false)
    }

    fn set_word(&mut self, i: usize, w: u64) {
        let old = self.doms[i];
        if old != w {
            self.trail.push((u32::try_from(i).unwrap_or(u32::MAX), old));
            self.doms[i] = w;
            if let Some(log) = self.log.as_mut()
                && old & !w != 0
            {
                let var = self.model.word_var[i];
                let first = self.model.offset[var as usize];
                log.push(Removal {
                    var,
                    word: u32::try_from(i - first).unwrap_or(u32::MAX),
                    bits: old & !w,
                    cause: self.cause,
                    since: self.since,
                    trail: u32::try_from(self.trail.len() - 1).unwrap_or(u32::MAX),
                });
            }
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
        self.deduce(ASSIGNED);
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
                let now = self.log.as_ref().map_or(0, Vec::len);
                self.conflict = Some((
                    u32::try_from(c).unwrap_or(u32::MAX - 1),
                    u32::try_from(now).unwrap_or(u32::MAX),
                ));
                let scope =
                    (c < self.model.cons.len()).then(|| self.model.cons[c].scope.as_slice());
                budget.bump(c, scope);
                while let Some(c) = self.queue.pop_front() {
                    self.queued[c] = false;
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Queues the constraints of `v` other than `c`, after `v`'s domain changed.
    fn notify(&mut self, v: usize, c: usize) {
        let model: &'m Model = self.model;
        let extra: &'m [super::model::Con] = self.extra;
        for &c2 in &model.var_cons[v] {
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

    /// A negative compressed table: a row whose cells contain every current value of all scope
    /// variables but one forbids, for that one, the values in its cell; if it contains them all,
    /// every remaining combination is forbidden.
    fn revise_negative(
        &mut self,
        c: usize,
        scope: &[usize],
        t: &super::model::Rows,
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        let mut live = self.take_live(c, t.nrows);
        let before = live.as_ref().map_or(t.nrows, |l| l.len);
        let out = self.revise_negative_rows(c, scope, t, live.as_mut(), budget);
        self.put_live(c, live, before);
        out
    }

    /// `revise_negative` over all rows, or over the live ones (a forbidden row that can no
    /// longer match is set aside: domains only shrink until the search backtracks).
    fn revise_negative_rows(
        &mut self,
        c: usize,
        scope: &[usize],
        t: &super::model::Rows,
        mut live: Option<&mut LiveRows>,
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        let (rows, row_words, cell_off) = (t.words.as_slice(), t.row_words, &t.cell_off);
        let model: &'m Model = self.model;
        loop {
            let nrows = live.as_ref().map_or(t.nrows, |l| l.len);
            if !budget.spend(1 + (nrows * row_words) as u64 / 64) {
                return Err(OutOfWork);
            }
            let mut changed_any = false;
            let mut k = 0;
            while k < live.as_ref().map_or(t.nrows, |l| l.len) {
                let r = live.as_ref().map_or(k, |l| l.order[k] as usize);
                k += 1;
                let row = &rows[r * row_words..(r + 1) * row_words];
                let mut outside: Option<usize> = None;
                let mut skip = false;
                for (j, &v) in scope.iter().enumerate() {
                    let d = model.dom(&self.doms, v);
                    let cell = &row[cell_off[j]..cell_off[j] + d.len()];
                    if cell.iter().zip(d).all(|(a, b)| a & b == 0) {
                        skip = true; // the row cannot match
                        if let Some(l) = live.as_deref_mut() {
                            k -= 1;
                            l.len -= 1;
                            l.order.swap(k, l.len);
                        }
                        break;
                    }
                    if cell.iter().zip(d).any(|(a, b)| b & !a != 0) {
                        if outside.is_some() {
                            skip = true; // two variables escape the row: nothing to infer
                            break;
                        }
                        outside = Some(j);
                    }
                }
                if skip {
                    continue;
                }
                let Some(j) = outside else { return Ok(false) };
                self.deduce(u32::try_from(c).unwrap_or(u32::MAX - 1));
                let v = scope[j];
                let off = model.offset[v];
                for k in 0..model.nwords[v] {
                    let nw = self.doms[off + k] & !row[cell_off[j] + k];
                    self.set_word(off + k, nw);
                }
                if self.size(v) == 0 {
                    return Ok(false);
                }
                changed_any = true;
                self.notify(v, c);
            }
            if !changed_any {
                return Ok(true);
            }
        }
    }

    /// Takes constraint `c`'s live rows out of the solver (to scan them while the domains are
    /// borrowed), creating them on first use; `None` for small tables and extra constraints.
    fn take_live(&mut self, c: usize, nrows: usize) -> Option<LiveRows> {
        if nrows < LIVE_ROWS_MIN || c >= self.model.cons.len() {
            return None;
        }
        if self.live.len() <= c {
            self.live
                .resize_with(self.model.cons.len(), LiveRows::default);
        }
        let mut l = std::mem::take(&mut self.live[c]);
        if l.order.is_empty() {
            match self.base_live.get(c).filter(|b| !b.order.is_empty()) {
                Some(b) => l.clone_from(b),
                None => {
                    l.order = (0..u32::try_from(nrows).unwrap_or(u32::MAX)).collect();
                    l.len = l.order.len();
                }
            }
        }
        Some(l)
    }

    /// Puts back live rows taken by `take_live`, trailing the count they had (`before`) if
    /// rows were set aside.
    fn put_live(&mut self, c: usize, live: Option<LiveRows>, before: usize) {
        if let Some(l) = live {
            if l.len != before {
                let tag = LIVE_TAG | u32::try_from(c).unwrap_or(0);
                self.trail.push((tag, before as u64));
            }
            self.live[c] = l;
        }
    }

    fn revise(&mut self, c: usize, budget: &mut Budget) -> Result<bool, OutOfWork> {
        let model: &'m Model = self.model;
        let con = self.con(c);
        match &con.kind {
            ConKind::NegTable(t) => self.revise_negative(c, &con.scope, t, budget),
            ConKind::Table(t) => {
                let (rows, row_words, cell_off) = (t.words.as_slice(), t.row_words, &t.cell_off);
                let scope = &con.scope;
                let mut live = self.take_live(c, t.nrows);
                let nrows = live.as_ref().map_or(t.nrows, |l| l.len);
                if !budget.spend(1 + (nrows * row_words) as u64 / 64) {
                    self.put_live(c, live, nrows);
                    return Err(OutOfWork);
                }
                self.supp.clear();
                self.supp.resize(row_words, 0);
                let doms = &self.doms;
                let supp = &mut self.supp;
                let matches = |row: &[u64]| {
                    scope.iter().enumerate().all(|(j, &v)| {
                        let d = model.dom(doms, v);
                        let cell = &row[cell_off[j]..cell_off[j] + d.len()];
                        cell.iter().zip(d).any(|(a, b)| a & b != 0)
                    })
                };
                let mut support = |row: &[u64]| {
                    for (j, &v) in scope.iter().enumerate() {
                        let d = model.dom(doms, v);
                        let o = cell_off[j];
                        for (k, w) in d.iter().enumerate() {
                            supp[o + k] |= row[o + k] & w;
                        }
                    }
                };
                let any = match live.as_mut() {
                    Some(l) => {
                        // Rows that stopped matching move past `len` (simple tabular reduction).
                        let mut k = 0;
                        while k < l.len {
                            let r = l.order[k] as usize;
                            let row = &rows[r * row_words..(r + 1) * row_words];
                            if matches(row) {
                                support(row);
                                k += 1;
                            } else {
                                l.len -= 1;
                                l.order.swap(k, l.len);
                            }
                        }
                        l.len > 0
                    }
                    None => {
                        let mut any = false;
                        for row in rows.chunks_exact(row_words.max(1)).take(t.nrows) {
                            if matches(row) {
                                any = true;
                                support(row);
                            }
                        }
                        any
                    }
                };
                self.put_live(c, live, nrows);
                if !any {
                    return Ok(false);
                }
                self.deduce(u32::try_from(c).unwrap_or(u32::MAX - 1));
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
                        self.notify(v, c);
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
                        self.deduce(u32::try_from(c).unwrap_or(u32::MAX - 1));
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
        let dom = |v: usize| self.model.dom(&self.doms, v);
        // A large table's live rows hold every row that still matches the domains (rows are set
        // aside only once they cannot match): only those can admit every combination, or
        // still forbid one.
        let live = self.live_rows(c).map(|l| &l.order[..l.len]);
        let any_row = |t: &super::model::Rows, f: &dyn Fn(&[u64]) -> bool| match live {
            Some(order) => order.iter().any(|&r| f(t.row(r as usize))),
            None => t.iter().any(f),
        };
        match &con.kind {
            // Entailed when one row admits every remaining combination.
            ConKind::Table(t) => any_row(t, &|row| {
                con.scope.iter().enumerate().all(|(j, &v)| {
                    dom(v)
                        .iter()
                        .zip(t.cell(row, j))
                        .all(|(dw, cw)| dw & !cw == 0)
                })
            }),
            // Entailed when no forbidden row can match any more.
            ConKind::NegTable(t) => !any_row(t, &|row| {
                con.scope.iter().enumerate().all(|(j, &v)| {
                    dom(v)
                        .iter()
                        .zip(t.cell(row, j))
                        .any(|(dw, cw)| dw & cw != 0)
                })
            }),
            ConKind::Check(_) => false,
        }
    }

    pub fn is_active_pub(&self, c: usize) -> bool {
        self.is_active(c)
    }

    /// Depth-first search for one solution, preferring `prefer[v]` (then the lowest index).
    /// Variables are chosen by dom/wdeg (domain size over learned conflict weight); the search
    /// restarts with growing node limits so that early wrong choices are not explored forever.
    /// Returns the solution's index per variable.
    pub fn solve(
        &mut self,
        prefer: &[Option<usize>],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        self.queue_all();
        self.solve_queued(prefer, budget)
    }

    /// Like `solve`, when the domains were at a fixpoint before the caller changed some variables
    /// and queued their constraints (`queue_var`): only those are propagated first.
    pub fn solve_queued(
        &mut self,
        prefer: &[Option<usize>],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        let start = self.mark();
        if !self.propagate(budget)? {
            self.undo(start);
            return Ok(None);
        }
        // The first run can at least reach a leaf: a descent alone takes one node per variable.
        let first: u64 = 64 + 2 * self.model.vars.len() as u64;
        let mut limit = first;
        let out = loop {
            let mut nodes = limit;
            match self.dfs(prefer, budget, &mut nodes, limit > first) {
                Ok(Some(true)) => {
                    break Ok(Some(
                        (0..self.model.vars.len())
                            .map(|v| self.fixed(v).unwrap_or(0))
                            .collect(),
                    ));
                }
                Ok(Some(false)) => break Ok(None),
                // The run's node limit: restart (weights persist), with a larger limit.
                Ok(None) => limit = limit.saturating_mul(3) / 2,
                Err(e) => break Err(e),
            }
        };
        self.undo(start);
        out
    }

    fn pick(&self, budget: &mut Budget, randomize: bool) -> Option<usize> {
        // Minimise size / weight, comparing by cross-multiplication.
        let mut best: Option<(usize, u64, usize)> = None;
        let noise = if randomize { budget.random() } else { 0 };
        let all = 0..self.model.vars.len();
        let vars: &mut dyn Iterator<Item = usize> = match &self.relevant {
            Some(r) => &mut r.iter().copied(),
            None => &mut all.clone(),
        };
        for v in vars {
            let s = self.size(v);
            if s <= 1 {
                continue;
            }
            // 1 + the sum of its constraints' weights (each starts at 1).
            let w: u64 =
                (1 + self.model.var_cons[v].len() as u64).saturating_add(budget.learned(v));
            let better = match best {
                None => true,
                Some((bs, bw, bv)) => {
                    let (l, r) = ((s as u128) * (bw as u128), (bs as u128) * (w as u128));
                    l < r
                        || (l == r
                            && randomize
                            && (noise.rotate_left(v as u32 % 64) & 1 == 1)
                            && bv != v)
                }
            };
            if better {
                best = Some((s, w, v));
            }
        }
        best.map(|(_, _, v)| v)
    }

    /// Leaves the solution in the domains when it returns `Some(true)`; `Some(false)` when the
    /// subtree has no solution; `None` when the run's node limit was reached.
    fn dfs(
        &mut self,
        prefer: &[Option<usize>],
        budget: &mut Budget,
        nodes: &mut u64,
        randomize: bool,
    ) -> Result<Option<bool>, OutOfWork> {
        let Some(v) = self.pick(budget, randomize) else {
            return Ok(Some(true));
        };
        // The domain as it is now (an undo brings it back after each value tried), on the
        // stack for domains of up to 256 values: this runs at every node.
        let dom = self.model.dom(&self.doms, v);
        let mut small = [0u64; 4];
        let large: Vec<u64>;
        let dom: &[u64] = if dom.len() <= small.len() {
            small[..dom.len()].copy_from_slice(dom);
            &small[..dom.len()]
        } else {
            large = dom.to_vec();
            &large
        };
        // The preferred value first, then the others in order.
        let first = prefer.get(v).copied().flatten().filter(|&p| bit(dom, p));
        for i in first
            .into_iter()
            .chain(iter_bits(dom).filter(|&i| Some(i) != first))
        {
            if !budget.spend(1) {
                return Err(OutOfWork);
            }
            if *nodes == 0 {
                return Ok(None);
            }
            *nodes -= 1;
            let m = self.mark();
            self.assign(v, i);
            self.queue_var(v);
            if self.propagate(budget)? {
                match self.dfs(prefer, budget, nodes, randomize)? {
                    Some(true) => return Ok(Some(true)),
                    Some(false) => {}
                    None => {
                        self.undo(m);
                        return Ok(None);
                    }
                }
            }
            self.undo(m);
        }
        Ok(Some(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past its deadline a budget refuses to spend within `CLOCK_EVERY` spends, keeps what is
    /// left and says the deadline, not the work, stopped it; clearing the deadline spends again.
    #[test]
    fn a_deadline_stops_spending_and_keeps_the_rest() {
        let mut b = Budget::new(1000);
        b.until(Some(std::time::Instant::now()));
        let spent = (0..=CLOCK_EVERY).take_while(|_| b.spend(1)).count();
        assert!(spent < CLOCK_EVERY as usize + 1);
        assert!(b.expired());
        assert_eq!(b.remaining, 1000 - spent as u64);
        let shared = b.share(10);
        assert_eq!(shared.deadline(), b.deadline());
        b.until(None);
        assert!(!b.expired() && b.spend(1));
    }
}
