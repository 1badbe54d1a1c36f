//! The engine's operations on one product: propagate (available values with minimal explanations), validate, repair and complete.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::model::{Classes, ConKind, Model, bit, count_bits, iter_bits, set_bit};
use super::pool::Pool;
use super::reasons::{Reasons, Traced};
use super::selection::Selection;
use super::solver::{Budget, OutOfWork, Solver};
use crate::catalog::expr::Val;
use crate::catalog::model::{OptId, Product, Value};

/// Witness searches per call that aim for new values before following the last solution.
const DIVERSIFY: usize = 16;
/// Memory for the explanations an engine keeps, in bytes (2 per rule or option id, 4 in models
/// with more than 65,536 of either, and `KNOWN_ENTRY` per explanation): 256 MiB, about 3
/// million explanations of 20 ids. It is a bound, not a reservation: the sample products keep
/// under a megabyte and a 100-option car model 7 MB after their pair warm-ups, while a
/// 270-option one needs about 150 MB for all its pairs' explanations.
/// `Engine::with_explanation_memory` sets another amount.
const KNOWN_BYTES: usize = 256 << 20;
/// The memory for explanations of an engine, in bytes, unless `Engine::with_explanation_memory`
/// says otherwise.
pub const DEFAULT_EXPLANATION_MEMORY: usize = KNOWN_BYTES;
/// What keeping one explanation costs besides its ids: its slot, its allocation's header and
/// its share of the index.
const KNOWN_ENTRY: usize = 48;
/// Explanations with two or more choices kept per value, to reuse in later calls.
const KEPT_PER_VALUE: usize = 16;
/// A sibling's explanation this large (typically found by a refutation search, so propagation
/// alone does not exclude the value under it) is also tried with an exact check: one search
/// instead of a refutation and a minimization.
const SIBLING_SEARCHED: usize = 8;
/// How many earlier rules-only explanations a dead value tries (by propagation) before its own
/// minimisation, and how many of those (the newest) are also checked by search.
const DEAD_SIBLINGS: usize = 8;
const DEAD_SIBLINGS_SEARCHED: usize = 2;
/// Traced sets larger than this are shrunk with propagation-only checks before the exact ones.
const SHRINK_FIRST: usize = 12;
/// Finite-domain models with at least this many options get the SAT encoding for explanations
/// (on small ones the finite-domain search is as fast and needs no second encoding).
const FD_SAT_MIN_VARS: usize = 24;
/// Explanations kept per engine to retry first in later calls.
const EXPLANATION_CACHE: usize = 256;
/// Work (budget units, about a millisecond per 3,000) that refuting values one search at a
/// time may cost in a `witness` call before the support pass decides the remaining values at
/// once: where refutations are cheap (most catalogs) search stays faster; on large tight models
/// a few refutations cost more than the whole pass.
const REFUTE_BEFORE_SUPPORT: u64 = 20_000;
/// Pooled solutions a `witness` call copies (the newest that agree with its choices) to try
/// single-value changes of before searching.
const LOCAL_KEPT: usize = 64;

/// A (variable, value index) pair: a value, or a choice of it.
type Pair = (usize, usize);

/// The remembered solutions that agree with a selection: the values they witness (per
/// variable), and the newest `LOCAL_KEPT` of them, oldest first.
#[derive(Debug)]
struct PoolView {
    seen: Vec<Vec<u64>>,
    local: Vec<Arc<[usize]>>,
}

/// An explanation found for a value, with the (variable, value) choices it uses.
type KnownExplanation = (Packed, Vec<Pair>);

/// An explanation as an engine keeps it: its rule indices, then its options' (the first
/// `rules` ids are rules), in one allocation of `u16` when every id fits (any model under 65,536
/// rules and options), else of `u32`: a quarter to a half of the memory of an [`Explanation`],
/// which `unpack` rebuilds for the caller.
#[derive(Debug)]
pub(super) struct Packed {
    ids: Ids,
    rules: u32,
}

#[derive(Debug)]
enum Ids {
    Short(Box<[u16]>),
    Long(Box<[u32]>),
}

impl Packed {
    /// `None` if an index does not fit in 32 bits (such an explanation is not kept).
    pub(super) fn new(e: &Explanation) -> Option<Packed> {
        let all = || e.rules.iter().chain(&e.choices);
        let ids = match all()
            .map(|&x| u16::try_from(x).ok())
            .collect::<Option<Box<[u16]>>>()
        {
            Some(short) => Ids::Short(short),
            None => Ids::Long(
                all()
                    .map(|&x| u32::try_from(x).ok())
                    .collect::<Option<Box<[u32]>>>()?,
            ),
        };
        Some(Packed {
            ids,
            rules: u32::try_from(e.rules.len()).ok()?,
        })
    }

    pub(super) fn unpack(&self) -> Explanation {
        fn split<T: Copy + Into<u32>>(ids: &[T], rules: usize) -> Explanation {
            let (r, c) = ids.split_at(rules.min(ids.len()));
            let wide = |x: &T| (*x).into() as usize;
            Explanation {
                rules: r.iter().map(wide).collect(),
                choices: c.iter().map(wide).collect(),
            }
        }
        match &self.ids {
            Ids::Short(ids) => split(ids, self.rules as usize),
            Ids::Long(ids) => split(ids, self.rules as usize),
        }
    }

    /// What keeping it costs, in bytes (see `KNOWN_BYTES`).
    fn bytes(&self) -> usize {
        KNOWN_ENTRY
            + match &self.ids {
                Ids::Short(ids) => ids.len() * 2,
                Ids::Long(ids) => ids.len() * 4,
            }
    }
}

/// Explanations found so far, by the value they explain. Most use one or two choices (a table
/// or an implication excluding the value given one choice, or a combination of two choices that
/// together leave it no configuration): those are indexed by (value, choice), a two-choice one
/// under the smaller of its choices, so that every one found stays usable and a lookup costs one
/// probe per chosen option. The rest (none or more choices) are kept per value, the first
/// `KEPT_PER_VALUE` of each. All of it within `KNOWN_BYTES`.
#[derive(Debug)]
pub(crate) struct Known {
    /// By (target, choice): the explanations that use that choice, alone or with one other.
    by_choice: foldhash::HashMap<(Pair, Pair), ByChoice>,
    multi: foldhash::HashMap<Pair, Vec<KnownExplanation>>,
    /// What the kept explanations cost, in bytes (see `Packed::bytes`), and at most.
    bytes: usize,
    cap: usize,
    /// The model's interchangeable values: explanations are kept and found under the value
    /// standing for each class (of the target and of the choices), since one explains them all.
    pub(super) classes: Arc<Classes>,
}

impl Default for Known {
    fn default() -> Known {
        Known {
            by_choice: foldhash::HashMap::default(),
            multi: foldhash::HashMap::default(),
            bytes: 0,
            cap: KNOWN_BYTES,
            classes: Arc::default(),
        }
    }
}

/// The explanations of one value that use one given choice: with it alone, and with it and one
/// other choice (kept under the smaller of the two, with the other).
#[derive(Debug, Default)]
struct ByChoice {
    alone: Option<Packed>,
    with: Vec<(Pair, Packed)>,
}

impl Known {
    /// An explanation of `target` whose choices are all in `base`: one with a single choice if
    /// there is one, else one with two, else one with more.
    fn find(&self, base: &[Pair], target: Pair) -> Option<&Packed> {
        let rep = |p: Pair| self.classes.rep(p);
        let chosen = |d: &Pair| base.iter().any(|&b| rep(b) == *d);
        let target = rep(target);
        let mut two = None;
        for &c in base {
            let Some(k) = self.by_choice.get(&(target, rep(c))) else {
                continue;
            };
            if let Some(e) = &k.alone {
                return Some(e);
            }
            if two.is_none() {
                two = k.with.iter().find(|(d, _)| chosen(d)).map(|(_, e)| e);
            }
        }
        two.or_else(|| {
            self.multi.get(&target).and_then(|list| {
                list.iter()
                    .find(|(_, ch)| ch.iter().all(chosen))
                    .map(|(e, _)| e)
            })
        })
    }

    /// Whether the warm-up has used its share of the memory: three quarters, so that a quarter
    /// stays for what customers' selections need later (a full store keeps nothing new, and a
    /// selection whose explanations it cannot keep pays for them again each time it is made).
    fn warm_up_full(&self) -> bool {
        self.bytes > self.cap / 4 * 3
    }

    /// Keeps `e`, which explains `target` with the choices `pairs`, while there is room; the key
    /// it is kept under, if it was kept (not when there is no room or one is kept there already).
    pub(super) fn insert(
        &mut self,
        target: Pair,
        e: &Explanation,
        pairs: Vec<Pair>,
    ) -> Option<KnownKey> {
        let e = Packed::new(e)?;
        let bytes = e.bytes();
        if self.bytes + bytes > self.cap {
            return None;
        }
        let target = self.classes.rep(target);
        let pairs: Vec<Pair> = pairs.into_iter().map(|p| self.classes.rep(p)).collect();
        match pairs.as_slice() {
            [one] => {
                let k = self.by_choice.entry((target, *one)).or_default();
                if k.alone.is_some() {
                    return None;
                }
                k.alone = Some(e);
                self.bytes += bytes;
                Some(KnownKey::One(target, *one))
            }
            [c, d] => {
                let (c, d) = (*c.min(d), *c.max(d));
                let k = self.by_choice.entry((target, c)).or_default();
                if k.with.iter().any(|(x, _)| *x == d) {
                    return None;
                }
                k.with.push((d, e));
                self.bytes += bytes;
                Some(KnownKey::Two(target, c, d))
            }
            _ => {
                let list = self.multi.entry(target).or_default();
                if list.len() >= KEPT_PER_VALUE {
                    return None;
                }
                list.push((e, pairs));
                self.bytes += bytes;
                Some(KnownKey::More(target, list.len() - 1))
            }
        }
    }

    /// The explanation kept under `key`, with the choices it uses.
    pub(super) fn get(&self, key: &KnownKey) -> Option<(&Packed, Vec<Pair>)> {
        match *key {
            KnownKey::One(target, c) => self
                .by_choice
                .get(&(target, c))
                .and_then(|k| k.alone.as_ref())
                .map(|e| (e, vec![c])),
            KnownKey::Two(target, c, d) => self
                .by_choice
                .get(&(target, c))
                .and_then(|k| k.with.iter().find(|(x, _)| *x == d))
                .map(|(_, e)| (e, vec![c, d])),
            KnownKey::More(target, at) => self
                .multi
                .get(&target)
                .and_then(|l| l.get(at))
                .map(|(e, pairs)| (e, pairs.clone())),
        }
    }

    /// The keys of every explanation kept.
    pub(super) fn keys(&self) -> Vec<KnownKey> {
        let mut out = Vec::new();
        for (&(target, c), k) in &self.by_choice {
            if k.alone.is_some() {
                out.push(KnownKey::One(target, c));
            }
            out.extend(k.with.iter().map(|(d, _)| KnownKey::Two(target, c, *d)));
        }
        for (&target, list) in &self.multi {
            out.extend((0..list.len()).map(|at| KnownKey::More(target, at)));
        }
        out
    }
}

/// Where [`Known`] keeps an explanation: under (target, choice) alone, under (target, smaller
/// choice) with the other, or at a position of the target's list of explanations with more
/// choices (lists only grow, so a position stays valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KnownKey {
    One(Pair, Pair),
    Two(Pair, Pair, Pair),
    More(Pair, usize),
}

impl KnownKey {
    /// The value the explanation kept there explains.
    pub(super) fn target(&self) -> Pair {
        match *self {
            KnownKey::One(t, _) | KnownKey::Two(t, _, _) | KnownKey::More(t, _) => t,
        }
    }
}

/// What an engine learned since its last export (see `learned.rs`), while it records: the keys
/// of the explanations kept, the values found dead, and how many solutions were remembered.
/// Bounded: past `JOURNAL_MAX` keys it only notes that it lost some (the next export is then a
/// whole one).
#[derive(Debug, Default)]
pub(super) struct Journal {
    pub(super) on: bool,
    pub(super) known: Vec<KnownKey>,
    pub(super) dead: Vec<Pair>,
    pub(super) solutions: usize,
    pub(super) lost: bool,
    /// Solutions written by exports of what is new, in all: they stop at `SOLUTIONS_EXPORTED`
    /// (a pool's worth), since the pool turns over with traffic and would otherwise be written
    /// again and again, while explanations and dead values are bounded by the memory for them.
    pub(super) solutions_exported: usize,
}

/// Solutions that exports of what is new write in all (see `Journal::solutions_exported`).
pub(super) const SOLUTIONS_EXPORTED: usize = super::pool::MAX;

/// Keys a journal holds at most between two exports (about 48 MiB).
const JOURNAL_MAX: usize = 1 << 20;

impl Journal {
    pub(super) fn known(&mut self, key: KnownKey) {
        if !self.on {
            return;
        }
        if self.known.len() < JOURNAL_MAX {
            self.known.push(key);
        } else {
            self.lost = true;
        }
    }
}

/// What an engine learns across calls: solutions (witnesses) and explanations. Both only speed
/// answers up: a witness is a real solution and an explanation is re-checked before reuse.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(super) pool: std::sync::Mutex<Pool>,
    explanations: std::sync::Mutex<Vec<Vec<Elem>>>,
    /// Values that no configuration has, with their (choice-free, hence always valid) explanation.
    pub(super) dead: std::sync::Mutex<foldhash::HashMap<(usize, usize), Explanation>>,
    /// Values seen in some valid configuration (never dead), per variable.
    pub(super) live: std::sync::Mutex<foldhash::HashSet<(usize, usize)>>,
    /// Every value some valid configuration has (domain words as the model's), found once by
    /// the support pass on first need; `None` inside when that pass ran out of work.
    pub(super) root_support: std::sync::OnceLock<Option<Vec<u64>>>,
    /// The root propagation with no choices (see `Engine::root`): its fixpoint, where every
    /// propagation under choices starts, and its removal log, traced to explain dead values;
    /// `None` inside when the rules are inconsistent by propagation alone or it ran out of work.
    root_reasons: std::sync::OnceLock<Option<Reasons>>,
    /// Explanations found per value, with the (variable, value) choices each one uses.
    pub(super) by_target: std::sync::Mutex<Known>,
    /// Values a call found unavailable but did not explain (deferred, see `Explain::Until`),
    /// with the choices they were unavailable under: still so under any selection holding them.
    excluded: std::sync::Mutex<Excluded>,
    /// How far warm-ups of this store have gone (an engine inheriting it resumes there).
    pub(super) warmed: std::sync::Mutex<WarmProgress>,
    /// What was learned since the last export, while the engine records (`learned.rs`). Never
    /// locked while another of these locks is held.
    pub(super) journal: std::sync::Mutex<Journal>,
}

/// Values known unavailable under some choices, without an explanation (one per value of a
/// class, as `Known`): what a time-bounded call's availability found and did not explain. The
/// next click (which keeps those choices) then needs no search to exclude them again.
#[derive(Debug, Default)]
struct Excluded {
    by_target: foldhash::HashMap<Pair, Vec<Box<[Pair]>>>,
    bytes: usize,
}

/// Choice sets kept per value in [`Excluded`], and bytes in all.
const EXCLUDED_PER_VALUE: usize = 16;
const EXCLUDED_BYTES: usize = 16 << 20;

impl Excluded {
    /// Keeps that `target` is unavailable under `base` (both as class representatives).
    fn insert(&mut self, target: Pair, base: &[Pair]) {
        let bytes = std::mem::size_of_val(base) + 16;
        if self.bytes + bytes > EXCLUDED_BYTES {
            return;
        }
        let list = self.by_target.entry(target).or_default();
        if list.len() < EXCLUDED_PER_VALUE
            && !list.iter().any(|b| b.iter().all(|p| base.contains(p)))
        {
            list.push(base.into());
            self.bytes += bytes;
        }
    }

    /// Whether `target` is known unavailable under a subset of `base`.
    fn holds(&self, target: Pair, base: &[Pair]) -> bool {
        self.by_target
            .get(&target)
            .is_some_and(|l| l.iter().any(|b| b.iter().all(|p| base.contains(p))))
    }
}

/// How far [`Engine::warm`] has gone on one store: the levels finished, and at `Pairs` how
/// many pairs (in the warm-up's fixed order) have been propagated.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct WarmProgress {
    pub(super) finished: Option<Warmth>,
    pub(super) pairs: usize,
}

impl Shared {
    pub(crate) fn remember(&self, sols: Vec<Vec<usize>>) {
        self.remember_with(sols, true);
    }

    /// `remember`; with `journal` false, the solutions do not count as newly learned.
    pub(super) fn remember_with(&self, sols: Vec<Vec<usize>>, journal: bool) {
        if sols.is_empty() {
            return;
        }
        if let Ok(mut live) = self.live.lock() {
            for s in &sols {
                for (v, &i) in s.iter().enumerate() {
                    live.insert((v, i));
                }
            }
        }
        let n = sols.len();
        if let Ok(mut pool) = self.pool.lock() {
            for s in sols {
                pool.push(Arc::from(s));
            }
        }
        if journal
            && let Ok(mut j) = self.journal.lock()
            && j.on
        {
            j.solutions = j.solutions.saturating_add(n);
        }
    }

    /// Keeps an explanation found for `target` (see `Known::insert`), and journals it.
    pub(super) fn know(&self, target: Pair, e: &Explanation, pairs: Vec<Pair>) {
        let key = self
            .by_target
            .lock()
            .ok()
            .and_then(|mut m| m.insert(target, e, pairs));
        if let Some(key) = key
            && let Ok(mut j) = self.journal.lock()
        {
            j.known(key);
        }
    }

    /// Keeps a dead value's explanation (made of rules alone), and journals it.
    pub(super) fn bury(&self, target: Pair, e: Explanation) {
        let new = self
            .dead
            .lock()
            .is_ok_and(|mut d| d.insert(target, e).is_none());
        if new
            && let Ok(mut j) = self.journal.lock()
            && j.on
        {
            if j.dead.len() < JOURNAL_MAX {
                j.dead.push(target);
            } else {
                j.lost = true;
            }
        }
    }
}

/// Default work limit per operation (search nodes plus propagation steps).
pub const DEFAULT_WORK_LIMIT: u64 = 20_000_000;

/// How far [`Engine::warm`] goes (each level includes the ones before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Warmth {
    /// The empty selection only.
    Empty,
    /// The empty selection, then every single choice.
    Choices,
    /// As `Choices`, then every pair of choices that can go together.
    Pairs,
}

/// What [`Engine::warm`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warmed {
    /// Selections propagated.
    pub selections: usize,
    /// False when `stop` ended it early.
    pub complete: bool,
}

/// What [`in_order`] ran: the jobs' results by index (`None` for one not run or that gave
/// none), how many it ran, and whether `stop` ended it before the last.
struct Ran<T> {
    results: Vec<Option<T>>,
    run: usize,
    stopped: bool,
}

/// Runs `job(0..n)` on `threads` threads (at least one; with one, on the caller's), each taking
/// the next index not taken yet, so that jobs start in index order; `stop` is asked before each.
fn in_order<T: Send>(
    threads: usize,
    n: usize,
    stop: &(dyn Fn() -> bool + Sync),
    job: &(dyn Fn(usize) -> Option<T> + Sync),
) -> Ran<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let work = || {
        let mut mine: Vec<(usize, Option<T>)> = Vec::new();
        loop {
            if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if k >= n {
                break;
            }
            if stop() {
                stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            mine.push((k, job(k)));
        }
        mine
    };
    let mut done: Vec<(usize, Option<T>)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            // A job that panicked loses only its thread's results (the others stand).
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    let run = done.len();
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    for (k, r) in done.drain(..) {
        results[k] = r;
    }
    Ran {
        results,
        run,
        stopped: stopped.into_inner(),
    }
}

/// Integer options with at most this many values are warmed value by value.
const WARM_INT_VALUES: usize = 64;

/// Why an operation did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("{op} stopped at its work limit of {limit} steps; the answer is unknown, not wrong")]
    WorkLimit { op: &'static str, limit: u64 },
}

/// The rules engine for one product (compiled once per catalog version).
#[derive(Debug, Clone)]
pub struct Engine {
    pub product: Arc<Product>,
    pub model: Model,
    pub work_limit: u64,
    /// Static connected component of each variable (through constraint scopes).
    component: Vec<usize>,
    pub(crate) shared: Arc<Shared>,
    /// Held by this engine and its clones only (not by an engine that inherits `shared`):
    /// whether another clone lives tells a background task that the version still serves.
    serving: Arc<()>,
    /// The SAT back end (see `sat.rs`): for a Boolean model, the general one; for a larger
    /// finite-domain model, the one-hot encoding that answers explanations' exact checks.
    pub(crate) sat: Option<Arc<super::sat::SatModel>>,
    /// The model's content digests (see `learned.rs`), computed when first asked for.
    digests: Arc<std::sync::OnceLock<super::learned::Digests>>,
    /// Per rule, for a positive table: what it admits on its own (see `Engine::admits_alone`),
    /// computed when first asked for.
    alone: Arc<std::sync::OnceLock<Vec<Option<Vec<u64>>>>>,
    /// The model's interchangeable values (see `Classes`).
    pub classes: Arc<Classes>,
}

/// Why a value is unavailable: the rules and the customer's choices that together exclude it.
/// Minimal: without any one of them, the value would be available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explanation {
    /// Indices into `product.constraints`.
    pub rules: Vec<usize>,
    /// Options whose chosen values take part.
    pub choices: Vec<OptId>,
}

/// Availability of one option's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionAvailability {
    pub option: OptId,
    /// The customer's choice for this option, if any.
    pub selected: Option<Value>,
    /// Domain indices that extend to a valid configuration (relative to the other choices).
    pub available: Vec<usize>,
    /// Domain indices that do not, each with its explanation. Every value of a choice or
    /// boolean option is listed; for integer and text options only the values at the edges of
    /// the feasible set (just past each end or hole) and "unset".
    pub unavailable: Vec<(usize, Explanation)>,
    /// Domain indices that do not either, listed as `unavailable` would list them, whose
    /// explanation was not worked out within the call's time (see [`Explain::Until`]);
    /// [`Engine::explain_value`] gives each on request. Always empty with [`Explain::All`].
    pub deferred: Vec<usize>,
}

/// How much explaining a propagation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// Every unavailable value gets its explanation, within the work limit.
    All,
    /// Explanations are worked out until this moment (each search and solver call stops there);
    /// past it an unavailable value gets the explanation the engine already knows (found by an
    /// earlier call, or a dead value's), else it is listed as `deferred`. Availability itself is
    /// never cut short. A storefront answer bounded in time: on large models a click can
    /// exclude fifty values that each need a minimal explanation of seconds' total.
    Until(std::time::Instant),
}

/// Which values one `witness` (or conflict) pass explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// As the caller asked.
    Of(Explain),
    /// Only this domain index (of the one option asked about), whatever `explained` lists.
    Only(usize),
}

/// The answer to `propagate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagation {
    /// Whether the selection as a whole extends to a valid configuration.
    pub consistent: bool,
    /// When inconsistent: a minimal set of choices and rules that conflict.
    pub conflict: Option<Explanation>,
    pub options: Vec<OptionAvailability>,
}

/// A violated rule in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: usize,
    pub options: Vec<OptId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub valid: bool,
    /// Required options without a value.
    pub missing: Vec<OptId>,
    pub violations: Vec<Violation>,
}

/// A repair: which choices to drop (newest kept first) and what the dropped options can become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub drop: Vec<OptId>,
    /// For each dropped option, a value that works with the kept choices (`None`: leave unset).
    pub replace: Vec<(OptId, Option<Value>)>,
}

/// What one `witness` call knows while it explains values: the root propagation's reasons, and
/// the explanations it proved minimal (per option), each with one solution per element (the
/// explanation without that element), so that a sibling value excluded the same way is proven
/// by substituting it into those solutions.
pub(crate) struct Explaining {
    /// Built on the first fresh explanation of the call (a recording re-run of the root
    /// propagation), so calls answered from what the engine remembers pay nothing for it.
    reasons: Option<Reasons>,
    proven: Vec<(usize, Vec<Elem>, Vec<Vec<usize>>)>,
}

/// Assignments kept from the call's earlier explanations that seed a new one's proofs.
const SEEDS: usize = 128;
/// Proven explanations one call keeps (for siblings and seeds).
const PROVEN_KEPT: usize = 4096;

impl Explaining {
    /// Keeps an explanation proven minimal for a value of `v`, with its proofs (up to
    /// `PROVEN_KEPT` per call).
    fn keep(&mut self, v: usize, elems: Vec<Elem>, sols: Vec<Vec<usize>>) {
        if self.proven.len() < PROVEN_KEPT {
            self.proven.push((v, elems, sols));
        }
    }

    /// The newest proof solutions of the call's explanations (see `Prover::scan_seeds` in
    /// sat.rs): an explanation for another value under the same choices often shares most of
    /// its elements.
    fn seeds(&self) -> Vec<&[usize]> {
        self.proven
            .iter()
            .rev()
            .flat_map(|(_, _, sols)| sols.iter().map(Vec::as_slice))
            .take(SEEDS)
            .collect()
    }
}

/// Explanations found earlier, tried first for a new value (a table or choice often excludes
/// several): the engine's shared list (`Shared::explanations`), copied on a call's first fresh
/// explanation only — most calls need none — plus those the call finds.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    items: Vec<Vec<Elem>>,
    /// How many items came from the shared list, once it is loaded.
    loaded: Option<usize>,
}

impl Recent {
    /// A list of its own (not loaded from the engine).
    fn with(first: Vec<Elem>) -> Recent {
        Recent {
            items: vec![first],
            loaded: Some(0),
        }
    }

    fn items(&mut self, engine: &Engine) -> &mut Vec<Vec<Elem>> {
        if self.loaded.is_none() {
            self.items = engine
                .shared
                .explanations
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default();
            self.loaded = Some(self.items.len());
        }
        &mut self.items
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Elem {
    Rule(usize),
    Choice(usize, usize),
}

impl Elem {
    /// Whether an assignment (one index per variable) satisfies the rule or makes the choice.
    pub(crate) fn holds(&self, model: &Model, assignment: &[usize]) -> bool {
        match *self {
            Elem::Rule(r) => model
                .cons
                .get(r)
                .is_some_and(|c| model.holds(c, assignment)),
            Elem::Choice(v, i) => assignment.get(v) == Some(&i),
        }
    }

    /// The variables the element reads: the rule's scope, or the chosen option.
    pub(crate) fn reads<'m>(&'m self, model: &'m Model) -> &'m [usize] {
        match self {
            Elem::Rule(r) => model.cons.get(*r).map_or(&[][..], |c| c.scope.as_slice()),
            Elem::Choice(v, _) => std::slice::from_ref(v),
        }
    }

    /// The values of `x` under which the element holds, the other variables as in `assignment`.
    pub(crate) fn holding(&self, model: &Model, x: usize, assignment: &[usize]) -> Vec<u64> {
        match *self {
            Elem::Rule(r) => model.holding_values(&model.cons[r], x, assignment),
            Elem::Choice(_, i) => {
                let mut o = vec![0u64; model.nwords[x]];
                set_bit(&mut o, i);
                o
            }
        }
    }
}

impl Engine {
    pub fn new(product: Arc<Product>) -> Engine {
        let model = Model::compile(&product);
        let n = model.vars.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], x: usize) -> usize {
            let mut r = x;
            while p[r] != r {
                r = p[r];
            }
            let mut y = x;
            while p[y] != r {
                let nx = p[y];
                p[y] = r;
                y = nx;
            }
            r
        }
        for c in &model.cons {
            if let Some((&first, rest)) = c.scope.split_first() {
                for &v in rest {
                    let (a, b) = (find(&mut parent, first), find(&mut parent, v));
                    parent[a] = b;
                }
            }
        }
        let component = (0..n).map(|v| find(&mut parent, v)).collect();
        let sat = super::sat::SatModel::encode(&model)
            .or_else(|| {
                (model.vars.len() >= FD_SAT_MIN_VARS)
                    .then(|| super::sat::SatModel::encode_fd(&model))
                    .flatten()
            })
            .map(Arc::new);
        let classes = Arc::new(Classes::of(&model));
        let shared = Shared {
            pool: std::sync::Mutex::new(Pool::new(&model)),
            ..Shared::default()
        };
        if let Ok(mut k) = shared.by_target.lock() {
            k.classes = Arc::clone(&classes);
        }
        Engine {
            product,
            model,
            work_limit: DEFAULT_WORK_LIMIT,
            component,
            shared: Arc::new(shared),
            serving: Arc::new(()),
            sat,
            digests: Arc::default(),
            alone: Arc::default(),
            classes,
        }
    }

    /// The model's content digests (see `learned.rs`).
    pub(crate) fn digests(&self) -> &super::learned::Digests {
        self.digests
            .get_or_init(|| super::learned::Digests::of(self))
    }

    /// Takes over what `earlier` (an engine of an earlier catalog version) has learned when
    /// both compile to the same model: its solutions, explanations and warm-up progress all
    /// depend on the model alone (explanations name rules and options by index; their messages
    /// and value names are read from this engine's product), so a reload that leaves a
    /// product's options and rules as they were keeps it warm. The two then share what they
    /// learn from here on. Returns whether it did.
    pub fn inherit(&mut self, earlier: &Engine) -> bool {
        if Arc::ptr_eq(&self.shared, &earlier.shared) {
            return true;
        }
        if self.model != earlier.model {
            return false;
        }
        let cap = self.shared.by_target.lock().map_or(KNOWN_BYTES, |k| k.cap);
        self.shared = Arc::clone(&earlier.shared);
        if let Ok(mut k) = self.shared.by_target.lock() {
            k.cap = cap;
        }
        true
    }

    /// The memory the explanations kept take, in bytes (as counted against
    /// `with_explanation_memory`).
    pub fn explanation_bytes(&self) -> usize {
        self.shared.by_target.lock().map_or(0, |k| k.bytes)
    }

    /// Whether the two engines share what they learn (clones, or one inherited from the other).
    pub fn shares_learning_with(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether an earlier call already proved `target` unavailable under these choices: it is
    /// dead, or an explanation found for it uses only choices that are still chosen (an
    /// explanation excludes the value whatever else is chosen). Saves the failing search.
    fn known_unavailable(&self, base: &[(usize, usize)], target: (usize, usize)) -> bool {
        self.shared
            .dead
            .lock()
            .is_ok_and(|d| d.contains_key(&self.classes.rep(target)))
            || self
                .shared
                .by_target
                .lock()
                .is_ok_and(|m| m.find(base, target).is_some())
            || self.shared.excluded.lock().is_ok_and(|x| {
                let base: Vec<Pair> = base.iter().map(|&p| self.classes.rep(p)).collect();
                x.holds(self.classes.rep(target), &base)
            })
    }

    /// What the remembered solutions say about a selection (`base`) and about each of its
    /// choices left out in turn (the "others" a selected option's values are judged against):
    /// one pass over the pool under one lock, newest solutions first. `.0` is the view of the
    /// whole selection; `.1` has one `(variable, view)` per chosen variable, whose `seen` holds
    /// that variable's values only.
    fn pool_views(&self, base: &[(usize, usize)]) -> (PoolView, Vec<(usize, PoolView)>) {
        let model = &self.model;
        let n = model.vars.len();
        // The view of the whole selection has every variable's words; a chosen variable's only
        // its own (the others stay empty: nothing reads them).
        let empty = |only: Option<usize>| PoolView {
            seen: (0..n)
                .map(|x| {
                    if only.is_none_or(|v| v == x) {
                        vec![0u64; model.nwords[x]]
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            local: Vec::new(),
        };
        let mut all = empty(None);
        let mut vars: Vec<usize> = base.iter().map(|&(v, _)| v).collect();
        vars.sort_unstable();
        vars.dedup();
        let mut per: Vec<(usize, PoolView)> = vars.iter().map(|&v| (v, empty(Some(v)))).collect();
        let Ok(p) = self.shared.pool.lock() else {
            return (all, per);
        };
        // The newest `LOCAL_KEPT` solutions of a set of slots, oldest first.
        let local = |mask: &[u64]| {
            let mut l: Vec<Arc<[usize]>> = p
                .newest_of(mask, LOCAL_KEPT)
                .into_iter()
                .map(|s| Arc::clone(p.get(s)))
                .collect();
            l.reverse();
            l
        };
        let mask = p.agreeing(base.iter().copied());
        let agreeing = count_bits(&mask);
        if agreeing > 0 {
            // Every variable's values witnessed: from the agreeing solutions when they are few,
            // else value by value from the index.
            if agreeing * n <= p.values() * p.words() {
                for slot in iter_bits(&mask) {
                    for (x, &j) in p.get(slot).iter().enumerate() {
                        set_bit(&mut all.seen[x], j);
                    }
                }
            } else {
                for (x, seen) in all.seen.iter_mut().enumerate() {
                    for j in 0..model.vars[x].size {
                        if p.any_with(&mask, x, j) {
                            set_bit(seen, j);
                        }
                    }
                }
            }
            all.local = local(&mask);
        }
        // A chosen variable's values, against the other choices.
        for (v, view) in &mut per {
            let others = p.agreeing(base.iter().copied().filter(|(x, _)| x != v));
            for j in 0..model.vars[*v].size {
                if p.any_with(&others, *v, j) {
                    set_bit(&mut view.seen[*v], j);
                }
            }
            view.local = local(&others);
        }
        (all, per)
    }

    /// Whether another clone of this engine (they share what they learn) still exists: a
    /// background task holding one clone stops when it holds the last.
    pub fn has_other_clones(&self) -> bool {
        Arc::strong_count(&self.serving) > 1
    }

    /// Sets the memory for the explanations the engine keeps (default `KNOWN_BYTES`, 256 MiB;
    /// the pair warm-up uses three quarters of it at most).
    pub fn with_explanation_memory(self, bytes: usize) -> Engine {
        if let Ok(mut k) = self.shared.by_target.lock() {
            k.cap = bytes;
        }
        self
    }

    pub fn with_work_limit(mut self, limit: u64) -> Engine {
        self.work_limit = limit;
        self
    }

    /// Every value some valid configuration has (see `Shared::root_support`): computed once
    /// per engine with a work limit of its own (a property of the product, not of the call
    /// that first needs it); `None` if that limit was reached.
    pub(crate) fn root_support(&self) -> Option<&[u64]> {
        self.shared
            .root_support
            .get_or_init(|| {
                let mut budget = self.budget();
                self.supports_with(&[], &mut budget).ok()
            })
            .as_deref()
    }

    pub(crate) fn budget(&self) -> Budget {
        Budget::new(self.work_limit)
    }

    pub(crate) fn limit(&self, op: &'static str) -> EngineError {
        EngineError::WorkLimit {
            op,
            limit: self.work_limit,
        }
    }

    /// The choices of a selection as (variable, index); a value outside the domain maps to `None`.
    pub(crate) fn indices(&self, sel: &Selection) -> Vec<(usize, Option<usize>)> {
        sel.choices
            .iter()
            .map(|(o, v)| (*o, self.model.vars.get(*o).and_then(|var| var.index_of(v))))
            .collect()
    }

    /// Preferred index per variable: defaults, then "unset" for optional options.
    pub(crate) fn defaults(&self) -> Vec<Option<usize>> {
        self.product
            .options
            .iter()
            .zip(&self.model.vars)
            .map(|(o, var)| {
                o.default
                    .as_ref()
                    .and_then(|d| var.index_of(d))
                    .or(var.unset())
            })
            .collect()
    }

    /// Whether the background (`fixed`) plus the given elements has a solution.
    pub(crate) fn feasible(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        if self.pooled_solution(fixed, elems).is_some() {
            return Ok(true);
        }
        // SAT back end (Boolean models): see sat.rs.
        if let Some(r) = self.sat_feasible(fixed, elems, budget) {
            return r;
        }
        let Some(mut s) = self.subset_solver(fixed, elems) else {
            return Ok(false);
        };
        Ok(s.solve(&[], budget)?.is_some())
    }

    /// A solver over the fixed values, the chosen elements' values and only the elements' rules
    /// (branching only on variables those rules read); `None` if the values clash outright.
    fn subset_solver(&self, fixed: &[(usize, usize)], elems: &[Elem]) -> Option<Solver<'_>> {
        let mut active = vec![false; self.model.cons.len()];
        let mut s = Solver::new(&self.model, self.model.initial_domains.clone());
        for &(v, i) in fixed {
            if !s.assign(v, i) {
                return None;
            }
        }
        let mut relevant = vec![false; self.model.vars.len()];
        for e in elems {
            match *e {
                Elem::Rule(r) => {
                    active[r] = true;
                    for &v in &self.model.cons[r].scope {
                        relevant[v] = true;
                    }
                }
                Elem::Choice(v, i) => {
                    if !s.assign(v, i) {
                        return None;
                    }
                }
            }
        }
        Some(s.with_active(active).with_relevant(relevant))
    }

    /// For a positive table `r` reading `target`'s option: whether the rule on its own, with
    /// nothing chosen, admits `target` (some row whose every cell meets the initial domains
    /// holds it; exactly what propagating the rule alone with `target` assigned decides).
    /// `None` for other rules.
    fn admits_alone(&self, r: usize, (v, i): (usize, usize)) -> Option<bool> {
        let all = self.alone.get_or_init(|| {
            let model = &self.model;
            let initial = &model.initial_domains;
            model
                .cons
                .iter()
                .map(|c| {
                    let ConKind::Table(t) = &c.kind else {
                        return None;
                    };
                    let mut union = vec![0u64; t.row_words];
                    for row in t.iter() {
                        let meets = c.scope.iter().enumerate().all(|(j, &x)| {
                            model
                                .dom(initial, x)
                                .iter()
                                .zip(t.cell(row, j))
                                .any(|(d, w)| d & w != 0)
                        });
                        if meets {
                            for (u, w) in union.iter_mut().zip(row) {
                                *u |= w;
                            }
                        }
                    }
                    Some(union)
                })
                .collect()
        });
        let con = self.model.cons.get(r)?;
        let ConKind::Table(t) = &con.kind else {
            return None;
        };
        let j = con.scope.iter().position(|&x| x == v)?;
        let initial = bit(self.model.dom(&self.model.initial_domains, v), i);
        Some(initial && bit(t.cell(all.get(r)?.as_deref()?, j), i))
    }

    /// Whether propagation alone (no search) finds the fixed values plus the elements inconsistent.
    /// Sound (never claims a consistent set inconsistent) and monotone in the elements.
    fn gac_infeasible(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        let Some(mut s) = self.subset_solver(fixed, elems) else {
            return Ok(true);
        };
        s.queue_all();
        Ok(!s.propagate(budget)?)
    }

    /// QuickXplain: a minimal subset of `c` that is inconsistent with `b` (which is consistent).
    fn quickxplain(
        &self,
        fixed: &[(usize, usize)],
        b: &mut Vec<Elem>,
        has_delta: bool,
        c: &[Elem],
        budget: &mut Budget,
    ) -> Result<Vec<Elem>, OutOfWork> {
        self.quickxplain_with(fixed, b, has_delta, c, false, budget)
    }

    /// QuickXplain with either oracle: exact feasibility, or "propagation alone finds no
    /// conflict" (`gac`), which is cheaper and also monotone in the set of elements.
    fn quickxplain_with(
        &self,
        fixed: &[(usize, usize)],
        b: &mut Vec<Elem>,
        has_delta: bool,
        c: &[Elem],
        gac: bool,
        budget: &mut Budget,
    ) -> Result<Vec<Elem>, OutOfWork> {
        // SAT back end (Boolean models): core-guided, exact for either oracle; see sat.rs.
        if let Some(r) = self.sat_quickxplain(fixed, b, has_delta, c, budget) {
            return r;
        }
        let consistent = |s: &Self, b: &[Elem], budget: &mut Budget| -> Result<bool, OutOfWork> {
            if gac {
                Ok(!s.gac_infeasible(fixed, b, budget)?)
            } else {
                s.feasible(fixed, b, budget)
            }
        };
        if has_delta && !consistent(self, b, budget)? {
            return Ok(Vec::new());
        }
        if c.len() <= 1 {
            return Ok(c.to_vec());
        }
        let (c1, c2) = c.split_at(c.len() / 2);
        let mark = b.len();
        b.extend_from_slice(c1);
        let d2 = self.quickxplain_with(fixed, b, !c1.is_empty(), c2, gac, budget)?;
        b.truncate(mark);
        b.extend_from_slice(&d2);
        let d1 = self.quickxplain_with(fixed, b, !d2.is_empty(), c1, gac, budget)?;
        b.truncate(mark);
        let mut out = d1;
        out.extend(d2);
        Ok(out)
    }

    /// Shrinks an inconsistent set until removing any element makes it consistent.
    fn minimize(
        &self,
        fixed: &[(usize, usize)],
        mut e: Vec<Elem>,
        budget: &mut Budget,
    ) -> Result<Vec<Elem>, OutOfWork> {
        let mut i = 0;
        while i < e.len() {
            let mut without = e.clone();
            without.remove(i);
            if self.feasible(fixed, &without, budget)? {
                i += 1;
            } else {
                e = without;
            }
        }
        Ok(e)
    }

    /// The root propagation of `base`, re-run with its removal log (for traced explanations);
    /// `None` if the choices are inconsistent by propagation alone.
    fn root_reasons(
        &self,
        base: &[(usize, usize)],
        budget: &mut Budget,
    ) -> Result<Option<Reasons>, OutOfWork> {
        Ok(self.propagated(base, true, budget)?.map(|s| self.traced(s)))
    }

    /// The removal log and fixpoint of a recording solver's propagation.
    fn traced(&self, mut s: Solver<'_>) -> Reasons {
        let fp = s.fixpoint();
        Reasons::new(&self.model, s.take_log(), fp)
    }

    /// The root propagation with no choices, recorded (see `Reasons`): computed once per rules
    /// store with its own budget; `None` when the rules are inconsistent by propagation alone
    /// or it ran out of work.
    fn root(&self) -> Option<&Reasons> {
        self.shared
            .root_reasons
            .get_or_init(|| {
                let mut budget = self.budget();
                let s = self.propagated_from_scratch(&[], true, &mut budget);
                s.ok().flatten().map(|s| self.traced(s))
            })
            .as_ref()
    }

    /// A solver propagated under `base` (recording its removals when `record`), or `None` if
    /// propagation fails. It starts at the root fixpoint (see `root`), so that only the rules
    /// the choices reach are revised, and large tables keep the rows the root set aside.
    pub(crate) fn propagated(
        &self,
        base: &[(usize, usize)],
        record: bool,
        budget: &mut Budget,
    ) -> Result<Option<Solver<'_>>, OutOfWork> {
        let Some(root) = self.root() else {
            return self.propagated_from_scratch(base, record, budget);
        };
        let mut s = Solver::at(&self.model, root.fixpoint());
        if record {
            s = s.recording_after(root.log().to_vec());
        }
        for &(v, i) in base {
            if !s.assign(v, i) {
                return Ok(None);
            }
            s.queue_var(v);
        }
        Ok(s.propagate(budget)?.then_some(s))
    }

    /// `propagated` from the initial domains, every rule queued (the root propagation itself,
    /// and every propagation when there is no root fixpoint).
    fn propagated_from_scratch(
        &self,
        base: &[(usize, usize)],
        record: bool,
        budget: &mut Budget,
    ) -> Result<Option<Solver<'_>>, OutOfWork> {
        let mut s = Solver::new(&self.model, self.model.initial());
        if record {
            s = s.recording();
        }
        for &(v, i) in base {
            if !s.assign(v, i) {
                return Ok(None);
            }
        }
        s.queue_all();
        Ok(s.propagate(budget)?.then_some(s))
    }

    /// Like `feasible`, returning a solution of the fixed values plus the elements (over the
    /// variables their rules read; others hold any value).
    fn feasible_solution(
        &self,
        fixed: &[(usize, usize)],
        elems: &[Elem],
        prefer: &[Option<usize>],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        if let Some(sol) = self.pooled_solution(fixed, elems) {
            return Ok(Some(sol));
        }
        if let Some(r) = self.sat_solution(fixed, elems, budget) {
            return r;
        }
        let Some(mut s) = self.subset_solver(fixed, elems) else {
            return Ok(None);
        };
        s.solve(prefer, budget)
    }

    /// The newest remembered solution with the fixed values and the chosen elements' values: it
    /// satisfies every rule, so the set is feasible without a search.
    fn pooled_solution(&self, fixed: &[(usize, usize)], elems: &[Elem]) -> Option<Vec<usize>> {
        let values = fixed
            .iter()
            .copied()
            .chain(elems.iter().filter_map(|e| match *e {
                Elem::Choice(v, i) => Some((v, i)),
                Elem::Rule(_) => None,
            }));
        let p = self.shared.pool.lock().ok()?;
        p.newest_in(&p.agreeing(values)).map(|s| s.to_vec())
    }

    /// `minimize`, also returning for each element kept a solution of the result without it
    /// (the proof that the element is needed).
    fn minimize_proving(
        &self,
        fixed: &[(usize, usize)],
        mut e: Vec<Elem>,
        budget: &mut Budget,
    ) -> Result<(Vec<Elem>, Vec<Vec<usize>>), OutOfWork> {
        let mut sols: Vec<Vec<usize>> = Vec::new();
        // Each search follows the previous element's proof: the sets differ in two elements.
        let mut prefer: Vec<Option<usize>> = Vec::new();
        let mut i = 0;
        while i < e.len() {
            let mut without = e.clone();
            without.remove(i);
            match self.feasible_solution(fixed, &without, &prefer, budget)? {
                Some(sol) => {
                    prefer.clear();
                    prefer.extend(sol.iter().map(|&j| Some(j)));
                    sols.push(sol);
                    i += 1;
                }
                None => e = without,
            }
        }
        Ok((e, sols))
    }

    /// Whether `elems` (which exclude `target`) stay minimal for it: each element's proof
    /// solution, with the target's value substituted, must satisfy the other elements' rules
    /// and choices; where it does not, an exact check decides.
    fn still_minimal(
        &self,
        target: (usize, usize),
        elems: &[Elem],
        sols: &[Vec<usize>],
        budget: &mut Budget,
    ) -> Result<bool, OutOfWork> {
        if sols.len() != elems.len() {
            return Ok(false);
        }
        let mut scratch = Vec::new();
        for (k, sol) in sols.iter().enumerate() {
            scratch.clear();
            scratch.extend_from_slice(sol);
            scratch[target.0] = target.1;
            let holds = elems
                .iter()
                .enumerate()
                .all(|(j, e)| j == k || e.holds(&self.model, &scratch));
            if !holds {
                let mut without = elems.to_vec();
                without.remove(k);
                if !self.feasible(&[target], &without, budget)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn to_explanation(&self, elems: &[Elem]) -> Explanation {
        let mut rules: Vec<usize> = elems
            .iter()
            .filter_map(|e| {
                if let Elem::Rule(r) = e {
                    Some(*r)
                } else {
                    None
                }
            })
            .collect();
        let mut choices: Vec<OptId> = elems
            .iter()
            .filter_map(|e| {
                if let Elem::Choice(v, _) = e {
                    Some(self.model.vars[*v].opt)
                } else {
                    None
                }
            })
            .collect();
        rules.sort_unstable();
        choices.sort_unstable();
        Explanation { rules, choices }
    }

    /// The candidate elements for explaining something about variable `v` (its component only).
    fn candidates(&self, base: &[(usize, usize)], v: Option<usize>) -> Vec<Elem> {
        let comp = v.map(|v| self.component[v]);
        let in_comp = |x: usize| comp.is_none_or(|c| self.component[x] == c);
        let mut out: Vec<Elem> = base
            .iter()
            .filter(|(x, _)| in_comp(*x))
            .map(|&(x, i)| Elem::Choice(x, i))
            .collect();
        for (r, c) in self.model.cons.iter().enumerate() {
            if c.scope.is_empty() || c.scope.iter().any(|&x| in_comp(x)) {
                out.push(Elem::Rule(r));
            }
        }
        out
    }

    /// Finds a minimal explanation of why `target` is infeasible under `base`, reusing earlier ones.
    fn explain(
        &self,
        base: &[(usize, usize)],
        target: (usize, usize),
        reasons: Option<&mut Explaining>,
        cache: &mut Recent,
        budget: &mut Budget,
    ) -> Result<Explanation, OutOfWork> {
        // Sufficiency and minimality of an explanation depend only on the target and the
        // explanation itself, not on the rest of the selection: one found earlier for this value
        // holds whenever its choices are still chosen. (A customer's next click keeps most.)
        if let Some(e) = self.recalled(base, target) {
            return Ok(e);
        }
        let e = self.explain_fresh(base, target, reasons, cache, budget)?;
        let pairs: Vec<(usize, usize)> = e
            .choices
            .iter()
            .filter_map(|&o| base.iter().find(|(v, _)| *v == o).copied())
            .collect();
        // Kept under the chosen values it names (all of them chosen: it was found under `base`).
        if pairs.len() == e.choices.len() {
            self.shared.know(target, &e, pairs);
        }
        Ok(e)
    }

    fn explain_fresh(
        &self,
        base: &[(usize, usize)],
        target: (usize, usize),
        reasons: Option<&mut Explaining>,
        cache: &mut Recent,
        budget: &mut Budget,
    ) -> Result<Explanation, OutOfWork> {
        let cache = cache.items(self);
        let fixed = [target];
        // A value no configuration has is explained by rules alone, the same under any choices.
        if let Some(e) = self
            .shared
            .dead
            .lock()
            .ok()
            .and_then(|d| d.get(&self.classes.rep(target)).cloned())
        {
            return Ok(e);
        }
        // The root support, when known, says it exactly; else a value seen in a solution is
        // live, and any other is searched for once.
        let dead = match self.root_support() {
            Some(sup) => !bit(self.model.dom(sup, target.0), target.1),
            None if self.shared.live.lock().is_ok_and(|l| l.contains(&target)) => false,
            None => {
                let all: Vec<Elem> = (0..self.model.cons.len()).map(Elem::Rule).collect();
                let live = self.feasible(&fixed, &all, budget)?;
                if live && let Ok(mut l) = self.shared.live.lock() {
                    l.insert(target);
                }
                !live
            }
        };
        if dead {
            let e = self.explain_rules_only(target, reasons, budget)?;
            self.shared.bury(self.classes.rep(target), e.clone());
            return Ok(e);
        }
        // Removed by the root propagation: trace the removal back to the rules and choices that
        // made it (cheap), shrink that set with propagation as the oracle, then make it minimal
        // with exact checks.
        // Whether propagation is known not to exclude the value (then only search does).
        let mut gac_fails = false;
        // The usual shapes first: one rule with one or two of the choices it reads (a table or an
        // implication excluding the value given those choices). Such a set is minimal as soon as
        // it is infeasible, because the rule alone is feasible (the value is not dead) and choices
        // without rules always are.
        if let Some(e) = self.small_explanation(base, target, budget)? {
            return Ok(self.to_explanation(&e));
        }
        if let Some(ctx) = reasons {
            // A sibling value excluded the same way: an explanation proven minimal for another
            // value of this option, re-proven for this one by substituting it into the solutions
            // that proved the first one minimal (a search only where substitution fails).
            // Propagation excludes the value under them, or (for a set a refutation search found)
            // an exact check does.
            if let Some(e) = self.sibling(
                target,
                ctx,
                |(v, _)| v == target.0,
                4,
                |_, sols| sols.len() > SIBLING_SEARCHED,
                budget,
            )? {
                return Ok(e);
            }
            // Removed by propagation: trace the removal back to the rules and choices that made
            // it (cheap), then make that set minimal by deletion with exact checks, keeping the
            // solutions that prove each element needed. (Shrinking it first with QuickXplain
            // and propagation as the oracle was measured slower: traced sets are small.)
            if ctx.reasons.is_none() {
                ctx.reasons = self.root_reasons(base, budget)?;
            }
            let traced = match ctx.reasons.as_ref() {
                Some(reasons) => reasons.sufficient(&self.model, base, target, budget)?,
                None => Traced::Unknown,
            };
            match traced {
                Traced::Set(suff) if self.gac_infeasible(&fixed, &suff, budget)? => {
                    // A long deduction chain traces to a large set: shrink it first with
                    // QuickXplain and propagation alone as the oracle (no search), so that the
                    // exact checks below mostly meet feasible sets, which search answers fast
                    // (an element that can go would instead cost a refutation by search).
                    // (The SAT back end instead narrows it by unsat cores and deletes with core
                    // refinement, keeping the proofs.)
                    let seeds = ctx.seeds();
                    let (e, sols) =
                        match self.sat_explain_proving(&fixed, (&suff, &[]), &seeds, budget) {
                            Some(r) => r?.unwrap_or_else(|| (suff, Vec::new())),
                            None => {
                                let suff = if suff.len() > SHRINK_FIRST {
                                    self.quickxplain_with(
                                        &fixed,
                                        &mut Vec::new(),
                                        false,
                                        &suff,
                                        true,
                                        budget,
                                    )?
                                } else {
                                    suff
                                };
                                self.minimize_proving(&fixed, suff, budget)?
                            }
                        };
                    let out = self.to_explanation(&e);
                    ctx.keep(target.0, e.clone(), sols);
                    cache.push(e);
                    return Ok(out);
                }
                // Only search excludes it: the rules and choices a traced refutation uses are
                // a sufficient set; QuickXplain with exact checks makes it minimal.
                Traced::Search => {
                    gac_fails = true;
                    let seeds = ctx.seeds();
                    // The rules and choices a traced refutation search uses (bounded) are a
                    // sufficient set; with the SAT back end it is minimised on a sub-instance
                    // of its rules, which costs a fraction of calls on the whole encoding.
                    if self.sat.is_some()
                        && let Some(reasons) = ctx.reasons.as_ref()
                        && let Some(suff) = reasons.refuted(&self.model, base, target, budget)?
                        && let Some(found) =
                            self.sat_explain_proving(&fixed, (&suff, &[]), &seeds, budget)
                        && let Some((e, sols)) = found?
                    {
                        let out = self.to_explanation(&e);
                        ctx.keep(target.0, e.clone(), sols);
                        cache.push(e);
                        return Ok(out);
                    }
                    // Else the SAT back end refutes the value with clause learning and narrows
                    // the candidates by its unsat cores.
                    let cands = self.candidates(base, Some(target.0));
                    // Start narrow and grow by counterexamples: the choices, the rules that read
                    // this value's option and those of an earlier explanation (the call's
                    // latest, else the newest remembered one that reads the option); while
                    // they have a solution, the rules it breaks join (see `sat_explain`).
                    // Values excluded under the same choices share most of their explanations,
                    // and fewer candidates cost fewer solver calls to minimise.
                    let reads_target = |e: &[Elem]| {
                        e.iter().any(|x| match *x {
                            Elem::Rule(r) => self.model.var_cons[target.0].contains(&r),
                            Elem::Choice(..) => false,
                        })
                    };
                    let prev: Option<&Vec<Elem>> = ctx
                        .proven
                        .last()
                        .map(|(_, prev, _)| prev)
                        .or_else(|| cache.iter().rev().find(|e| reads_target(e)));
                    let (start, rest): (Vec<Elem>, Vec<Elem>) =
                        cands.iter().partition(|e| match **e {
                            Elem::Choice(..) => true,
                            Elem::Rule(r) => {
                                prev.is_some_and(|p| p.contains(e))
                                    || self.model.var_cons[target.0].contains(&r)
                            }
                        });
                    let found = self
                        .sat_explain_proving(&fixed, (&start, &rest), &seeds, budget)
                        .transpose()?
                        .flatten();
                    if let Some((e, sols)) = found {
                        let out = self.to_explanation(&e);
                        ctx.keep(target.0, e.clone(), sols);
                        cache.push(e);
                        return Ok(out);
                    }
                    if let Some(reasons) = ctx.reasons.as_ref()
                        && let Some(suff) = reasons.refuted(&self.model, base, target, budget)?
                        && !self.feasible(&fixed, &suff, budget)?
                    {
                        let (e, sols) = self.minimize_proving(&fixed, suff, budget)?;
                        let out = self.to_explanation(&e);
                        ctx.keep(target.0, e.clone(), sols);
                        cache.push(e);
                        return Ok(out);
                    }
                }
                _ => {}
            }
        }
        let touches = |e: &Vec<Elem>| {
            e.iter().any(
                |x| matches!(x, Elem::Rule(r) if self.model.cons[*r].scope.contains(&target.0)),
            )
        };
        for prev in cache.iter().filter(|e| touches(e)).take(8) {
            // Earlier explanations often exclude this value too (a table or a choice removing many).
            let usable = prev.iter().all(|e| match e {
                Elem::Choice(v, i) => base.contains(&(*v, *i)),
                Elem::Rule(_) => true,
            });
            if usable && !self.feasible(&fixed, prev, budget)? {
                let e = self.minimize(&fixed, prev.clone(), budget)?;
                return Ok(self.to_explanation(&e));
            }
        }
        // When propagation alone excludes the value (the common case), find a set that is minimal
        // for propagation cheaply, then make it minimal for real with exact checks: removing any
        // element of the result makes the value feasible.
        let everything = self.candidates(base, Some(target.0));
        if !gac_fails && self.gac_infeasible(&fixed, &everything, budget)? {
            // Narrow the candidates to the smallest neighbourhood where propagation already fails.
            let mut cands = everything;
            for depth in 1..=6 {
                let near = self.neighbourhood(base, target.0, depth);
                if near.len() >= cands.len() {
                    break;
                }
                if self.gac_infeasible(&fixed, &near, budget)? {
                    cands = near;
                    break;
                }
            }
            let e = self.quickxplain_with(&fixed, &mut Vec::new(), false, &cands, true, budget)?;
            let e = self.minimize(&fixed, e, budget)?;
            let out = self.to_explanation(&e);
            cache.push(e);
            return Ok(out);
        }
        // Most explanations are local: look for a conflict among the rules near the target
        // first (growing the neighbourhood), and only then among everything in its component.
        let mut cands = Vec::new();
        for depth in 1..=3 {
            cands = self.neighbourhood(base, target.0, depth);
            if !self.feasible(&fixed, &cands, budget)? {
                break;
            }
            cands.clear();
        }
        if cands.is_empty() {
            cands = self.candidates(base, Some(target.0));
            // A conflict outside the target's component (among the other choices) excludes it too.
            if self.feasible(&fixed, &cands, budget)? {
                cands = self.candidates(base, None);
            }
        }
        let e = self.quickxplain(&fixed, &mut Vec::new(), false, &cands, budget)?;
        let out = self.to_explanation(&e);
        cache.push(e);
        Ok(out)
    }

    /// The newest of the call's proven explanations (at most `take` distinct ones that `pick`
    /// accepts, given their option and elements) that excludes `target` and stays minimal for
    /// it (see `still_minimal`). Exclusion is decided by propagation, else by an exact check
    /// where `search` (given the explanation's rank and proofs) allows one.
    fn sibling(
        &self,
        target: (usize, usize),
        ctx: &Explaining,
        pick: impl Fn((usize, &[Elem])) -> bool,
        take: usize,
        search: impl Fn(usize, &[Vec<usize>]) -> bool,
        budget: &mut Budget,
    ) -> Result<Option<Explanation>, OutOfWork> {
        let fixed = [target];
        let mut tried: Vec<&[Elem]> = Vec::new();
        let mine = ctx
            .proven
            .iter()
            .rev()
            .filter(|(v, elems, _)| pick((*v, elems)))
            .take(take);
        for (n, (_, elems, sols)) in mine.enumerate() {
            if tried.contains(&elems.as_slice()) {
                continue;
            }
            tried.push(elems);
            let excludes = self.gac_infeasible(&fixed, elems, budget)?
                || (search(n, sols) && !self.feasible(&fixed, elems, budget)?);
            if excludes && self.still_minimal(target, elems, sols, budget)? {
                return Ok(Some(self.to_explanation(elems)));
            }
        }
        Ok(None)
    }

    /// Tries explanations made of one rule touching the target and one or two choices on the
    /// variables that rule reads (each checked for minimality).
    fn small_explanation(
        &self,
        base: &[(usize, usize)],
        target: (usize, usize),
        budget: &mut Budget,
    ) -> Result<Option<Vec<Elem>>, OutOfWork> {
        let fixed = [target];
        for &r in &self.model.var_cons[target.0] {
            let scope = &self.model.cons[r].scope;
            let choices: Vec<(usize, usize)> = base
                .iter()
                .copied()
                .filter(|(x, _)| scope.contains(x) && *x != target.0)
                .collect();
            for &(x, i) in &choices {
                let e = vec![Elem::Rule(r), Elem::Choice(x, i)];
                if !self.feasible(&fixed, &e, budget)? {
                    return Ok(Some(e));
                }
            }
            if choices.len() >= 2 && choices.len() <= 6 {
                for a in 0..choices.len() {
                    for b in a + 1..choices.len() {
                        let e = vec![
                            Elem::Rule(r),
                            Elem::Choice(choices[a].0, choices[a].1),
                            Elem::Choice(choices[b].0, choices[b].1),
                        ];
                        // Each pair alone was feasible (checked above), so the triple is minimal.
                        if !self.feasible(&fixed, &e, budget)? {
                            return Ok(Some(e));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// A minimal set of rules that exclude `target` with no choices at all. `ctx`: the call's
    /// explanations so far, whose rules-only ones (other dead values') are tried first.
    fn explain_rules_only(
        &self,
        target: (usize, usize),
        ctx: Option<&mut Explaining>,
        budget: &mut Budget,
    ) -> Result<Explanation, OutOfWork> {
        let fixed = [target];
        // Most dead values are excluded by one rule on its own (a variant table none of whose
        // rows has the value): that rule is a minimal explanation (no rules at all admit every
        // value), found by propagating each rule reading the option alone (read off the
        // table's admitted values for a positive table).
        for &r in &self.model.var_cons[target.0] {
            let excludes = match self.admits_alone(r, target) {
                Some(admitted) => !admitted,
                None => self.gac_infeasible(&fixed, &[Elem::Rule(r)], budget)?,
            };
            if excludes {
                return Ok(self.to_explanation(&[Elem::Rule(r)]));
            }
        }
        // Dead values come in groups: the rules that kill one value of an option (or of an
        // option they read) often kill its siblings too. A rules-only explanation proven minimal
        // for another value is re-proven for this one by substituting it into the solutions
        // that proved the first minimal (see `still_minimal`); a search only where that fails.
        // (A rules-only explanation is always a dead value's: rules alone admit every live one.)
        if let Some(ctx) = ctx.as_deref() {
            let reads_target = |(_, elems): (usize, &[Elem])| {
                elems.iter().all(|e| matches!(e, Elem::Rule(_)))
                    && elems.iter().any(
                        |e| matches!(e, Elem::Rule(r) if self.model.var_cons[target.0].contains(r)),
                    )
            };
            if let Some(e) = self.sibling(
                target,
                ctx,
                reads_target,
                DEAD_SIBLINGS,
                |n, _| n < DEAD_SIBLINGS_SEARCHED,
                budget,
            )? {
                return Ok(e);
            }
        }
        // The rules the root propagation used to remove the value, or to fail once the value is
        // assigned (singleton consistency), else those of a traced refutation search: a
        // sufficient set, made minimal on a SAT sub-instance of its rules (else by deletion with
        // exact checks). The whole encoding is only needed when neither finds one.
        let reasons = self.root();
        let suff = match reasons {
            Some(reasons) => match reasons.sufficient(&self.model, &[], target, budget)? {
                Traced::Set(suff)
                    if !suff.is_empty() && self.gac_infeasible(&fixed, &suff, budget)? =>
                {
                    Some(suff)
                }
                // Only search refutes it: the rules a traced refutation search used (bounded;
                // `None` past its work).
                Traced::Search => reasons
                    .refuted(&self.model, &[], target, budget)?
                    .filter(|s| !s.is_empty()),
                _ => None,
            },
            None => None,
        };
        if let Some(suff) = suff {
            let seeds = ctx.as_deref().map(Explaining::seeds).unwrap_or_default();
            let found = match self.sat_explain_proving(&fixed, (&suff, &[]), &seeds, budget) {
                Some(r) => r?,
                None if self.feasible(&fixed, &suff, budget)? => None,
                None => Some(self.minimize_proving(&fixed, suff, budget)?),
            };
            if let Some((e, sols)) = found {
                let out = self.to_explanation(&e);
                if let Some(ctx) = ctx {
                    ctx.keep(target.0, e, sols);
                }
                return Ok(out);
            }
        }
        // With the SAT back end, one core-guided minimisation over all rules, starting from the
        // rules reading the option and growing by counterexamples (no neighbourhood searches).
        let (start, rest): (Vec<Elem>, Vec<Elem>) = (0..self.model.cons.len())
            .map(Elem::Rule)
            .partition(|e| matches!(e, Elem::Rule(r) if self.model.var_cons[target.0].contains(r)));
        let seeds = ctx.as_deref().map(Explaining::seeds).unwrap_or_default();
        if let Some(found) = self.sat_explain_proving(&fixed, (&start, &rest), &seeds, budget)
            && let Some((e, sols)) = found?
        {
            let out = self.to_explanation(&e);
            if let Some(ctx) = ctx {
                ctx.keep(target.0, e, sols);
            }
            return Ok(out);
        }
        let mut cands = Vec::new();
        for depth in 1..=3 {
            cands = self.neighbourhood(&[], target.0, depth);
            if !self.feasible(&fixed, &cands, budget)? {
                break;
            }
            cands.clear();
        }
        if cands.is_empty() {
            cands = self.candidates(&[], Some(target.0));
            // A conflict elsewhere (an impossible product) excludes every value.
            if self.feasible(&fixed, &cands, budget)? {
                cands = self.candidates(&[], None);
            }
        }
        let e = self.quickxplain(&fixed, &mut Vec::new(), false, &cands, budget)?;
        Ok(self.to_explanation(&e))
    }

    /// The rules within `depth` constraint hops of variable `v`, and the choices on the variables they read.
    fn neighbourhood(&self, base: &[(usize, usize)], v: usize, depth: usize) -> Vec<Elem> {
        let mut vars = vec![false; self.model.vars.len()];
        vars[v] = true;
        let mut rules = vec![false; self.model.cons.len()];
        let mut frontier = vec![v];
        for _ in 0..depth {
            let mut next = Vec::new();
            for &x in &frontier {
                for &c in &self.model.var_cons[x] {
                    if !rules[c] {
                        rules[c] = true;
                        for &y in &self.model.cons[c].scope {
                            if !vars[y] {
                                vars[y] = true;
                                next.push(y);
                            }
                        }
                    }
                }
            }
            frontier = next;
        }
        let mut out: Vec<Elem> = base
            .iter()
            .filter(|(x, _)| vars[*x])
            .map(|&(x, i)| Elem::Choice(x, i))
            .collect();
        out.extend(
            (0..self.model.cons.len())
                .filter(|&c| rules[c] || self.model.cons[c].scope.is_empty())
                .map(Elem::Rule),
        );
        out
    }

    /// A minimal set of choices and rules that conflict (for an inconsistent selection).
    pub(crate) fn conflict(
        &self,
        base: &[(usize, usize)],
        budget: &mut Budget,
    ) -> Result<(Explanation, Vec<Elem>), OutOfWork> {
        let cands = self.candidates(base, None);
        let e = self.quickxplain(&[], &mut Vec::new(), false, &cands, budget)?;
        Ok((self.to_explanation(&e), e))
    }

    /// Precomputes, for a catalog version about to serve (or serving), what first customers
    /// would otherwise pay for. `Empty`: the empty selection (dead values and their
    /// explanations, a first pool of solutions). `Choices`: then every single choice, option by
    /// option (every available value of each choice and boolean option, and of integer and text
    /// options with at most `WARM_INT_VALUES` classes of alike values; one value per class, see
    /// `Classes`): its witnesses and the explanations of what it excludes. An explanation holds whatever else is chosen, so every later selection that
    /// contains the choice reuses them; most explanations on real-size models use one choice.
    /// `Pairs`: then every pair of choices of two options (each value as above, the second
    /// still available under the first), in the options' order: the explanations that need two
    /// choices, which a new customer's click would otherwise pay for with a search each. It
    /// stops early once it has used its share (three quarters) of the engine's memory for
    /// explanations (`complete` is then false).
    /// `stop` is asked before each selection (e.g. "is this version still served?"); each
    /// selection is bounded by the engine's work limit, and one that reaches it is skipped.
    pub fn warm(&self, level: Warmth, stop: &(dyn Fn() -> bool + Sync)) -> Warmed {
        self.warm_on(level, 1, stop)
    }

    /// `warm` on `threads` threads: the single choices, then the pairs, are handed out in their
    /// order to whichever thread is free (the engine's caches are shared, so the threads learn
    /// from each other as requests do). What it did is the same as with one thread; only the
    /// order in which selections finish differs. The pairs' progress that a later engine
    /// resumes from (see `inherit`) counts the pairs done without a gap.
    pub fn warm_on(
        &self,
        level: Warmth,
        threads: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Warmed {
        let mut out = Warmed {
            selections: 0,
            complete: false,
        };
        // A store already warmed this far (by an earlier version's engine): nothing to do.
        let progress = self.shared.warmed.lock().map(|p| *p).unwrap_or_default();
        if progress.finished >= Some(level) {
            out.complete = true;
            return out;
        }
        if stop() {
            return out;
        }
        let finish = |out: &mut Warmed| {
            out.complete = true;
            if let Ok(mut p) = self.shared.warmed.lock() {
                p.finished = p.finished.max(Some(level));
            }
        };
        out.selections += 1;
        let Ok(empty) = self.propagate(&Selection::default()) else {
            return out;
        };
        if level == Warmth::Empty {
            finish(&mut out);
            return out;
        }
        // The options whose values are warmed one by one: every choice and boolean option, and
        // integer and text options whose values fall into at most `WARM_INT_VALUES` classes of
        // values the rules treat alike (see `Classes`: a text whose rules only ask whether it
        // is set has two). Only one value of each class is warmed: what is learned for it is
        // kept for, and found by, all of them.
        let listed = |v: usize| match self.model.vars[v].kind {
            super::model::VarKind::Choice { .. } | super::model::VarKind::Bool => true,
            super::model::VarKind::Int { .. } | super::model::VarKind::Text { .. } => {
                self.classes.count(v) <= WARM_INT_VALUES
            }
        };
        // For `Pairs`, what each single choice leaves available of the listed options, one bit
        // per value: those of variable `v` start at bit `offsets[v]`.
        let mut offsets = vec![0usize; self.model.vars.len()];
        let mut bits = 0usize;
        for (v, at) in offsets.iter_mut().enumerate() {
            *at = bits;
            if listed(v) {
                bits += self.model.vars[v].size;
            }
        }
        let singles: Vec<(usize, Value, usize)> = empty
            .options
            .iter()
            .filter(|oa| listed(oa.option))
            .flat_map(|oa| {
                let var = &self.model.vars[oa.option];
                oa.available
                    .iter()
                    .filter(|&&i| self.classes.is_rep(oa.option, i))
                    .filter_map(move |&i| var.value(i).map(|value| (oa.option, value, i)))
            })
            .collect();
        let opens = in_order(threads, singles.len(), stop, &|k| {
            let (v, value, _) = &singles[k];
            let p = self
                .propagate(&Selection {
                    choices: vec![(*v, value.clone())],
                })
                .ok()?;
            let mut open = Vec::new();
            if level == Warmth::Pairs {
                open = vec![0u64; bits.div_ceil(64)];
                for (v, o) in p.options.iter().enumerate().filter(|(v, _)| listed(*v)) {
                    for &j in &o.available {
                        set_bit(&mut open, offsets[v] + j);
                    }
                }
            }
            Some(open)
        });
        out.selections += opens.run;
        if opens.stopped {
            return out;
        }
        if level == Warmth::Choices {
            finish(&mut out);
            return out;
        }
        // Pairs of choices of two options, the first still available under the second, in the
        // options' order: every pair among the first options before any with the next (a
        // storefront lists options in that order, and customers mostly choose down the list).
        // The order is fixed by the model, so the pairs an earlier warm-up of this store did
        // (`progress.pairs`, a prefix) are skipped. A single choice whose propagation failed
        // (its work limit) leaves its pairs out.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (k, (w, _, j)) in singles.iter().enumerate() {
            if opens.results[k].is_none() {
                continue;
            }
            for (l, ((v, _, _), open)) in singles[..k].iter().zip(&opens.results).enumerate() {
                let Some(open) = open else { continue };
                if w == v || !bit(open, offsets[*w] + j) {
                    continue;
                }
                if let (Ok(l), Ok(k)) = (u32::try_from(l), u32::try_from(k)) {
                    pairs.push((l, k));
                }
            }
        }
        let from = progress.pairs.min(pairs.len());
        let todo = &pairs[from..];
        // Pairs done beyond the prefix, until the gap before them closes.
        let done = std::sync::Mutex::new((0usize, std::collections::BTreeSet::new()));
        // Its share of the engine's memory for explanations used: the rest is for later. (Asked
        // before `stop`, which may count the selection it lets through.)
        let full = || {
            self.shared
                .by_target
                .lock()
                .map_or(true, |k| k.warm_up_full())
        };
        let ran = in_order(threads, todo.len(), &|| full() || stop(), &|k| {
            let (l, r) = todo[k];
            let ((v, a, _), (w, b, _)) = (&singles[l as usize], &singles[r as usize]);
            let _ = self.propagate(&Selection {
                choices: vec![(*v, a.clone()), (*w, b.clone())],
            });
            if let Ok(mut d) = done.lock() {
                let (prefix, above) = &mut *d;
                above.insert(k);
                while above.remove(prefix) {
                    *prefix += 1;
                }
                if let Ok(mut p) = self.shared.warmed.lock() {
                    p.pairs = p.pairs.max(from + *prefix);
                }
            }
            Some(())
        });
        out.selections += ran.run;
        if !ran.stopped {
            finish(&mut out);
        }
        out
    }

    /// For every option: which values extend to a valid configuration given the other choices,
    /// and a minimal explanation for each that does not.
    pub fn propagate(&self, sel: &Selection) -> Result<Propagation, EngineError> {
        self.propagate_explaining(sel, Explain::All)
    }

    /// `propagate`, explaining as `explain` says: with [`Explain::Until`] some unavailable
    /// values may come back `deferred` instead of explained.
    pub fn propagate_explaining(
        &self,
        sel: &Selection,
        explain: Explain,
    ) -> Result<Propagation, EngineError> {
        let mut budget = self.budget();
        self.propagate_in(sel, None, Policy::Of(explain), &mut budget)
            .map_err(|_| self.limit("propagate"))
    }

    /// The minimal explanation of why value `index` of option `option` is unavailable under
    /// `sel` (relative to the other choices when `option` is chosen, as `propagate` says), or
    /// `None` when it is available. What a storefront asks for a value whose explanation a
    /// time-bounded propagation deferred; any value of the domain may be asked about, not only
    /// those `propagate` lists. Availability of the option's other values is decided on the
    /// way (only this value is explained).
    pub fn explain_value(
        &self,
        sel: &Selection,
        option: OptId,
        index: usize,
    ) -> Result<Option<Explanation>, EngineError> {
        let Some(var) = self.model.vars.get(option) else {
            return Ok(None);
        };
        if index >= var.size {
            return Ok(None);
        }
        let mut budget = self.budget();
        let prop = self
            .propagate_in(sel, Some(option), Policy::Only(index), &mut budget)
            .map_err(|_| self.limit("explain"))?;
        Ok(prop
            .options
            .into_iter()
            .find(|oa| oa.option == option)
            .and_then(|oa| {
                oa.unavailable
                    .into_iter()
                    .find(|(i, _)| *i == index)
                    .map(|(_, e)| e)
            }))
    }

    pub(crate) fn propagate_with(
        &self,
        sel: &Selection,
        budget: &mut Budget,
    ) -> Result<Propagation, OutOfWork> {
        self.propagate_in(sel, None, Policy::Of(Explain::All), budget)
    }

    /// `propagate` of the options `only` names (all when `None`), explaining as `policy` says.
    fn propagate_in(
        &self,
        sel: &Selection,
        only: Option<usize>,
        policy: Policy,
        budget: &mut Budget,
    ) -> Result<Propagation, OutOfWork> {
        let n = self.model.vars.len();
        let idx = self.indices(sel);
        // A value outside its option's domain can never be part of a configuration.
        let base: Vec<(usize, usize)> =
            idx.iter().filter_map(|(v, i)| i.map(|i| (*v, i))).collect();
        let bad_choice = idx.iter().any(|(_, i)| i.is_none());
        let selected: Vec<Option<usize>> = (0..n)
            .map(|v| base.iter().find(|(x, _)| *x == v).map(|(_, i)| *i))
            .collect();
        let mut result: Vec<OptionAvailability> = (0..n)
            .map(|v| OptionAvailability {
                option: self.model.vars[v].opt,
                selected: sel.get(self.model.vars[v].opt).cloned(),
                available: Vec::new(),
                unavailable: Vec::new(),
                deferred: Vec::new(),
            })
            .collect();
        let asked = |v: usize| only.is_none_or(|o| o == v);

        // Unselected options: relative to the whole selection.
        let unselected: Vec<usize> = (0..n)
            .filter(|&v| selected[v].is_none() && asked(v))
            .collect();
        let (view, mut views) = self.pool_views(&base);
        let consistent = !bad_choice
            && (!view.local.is_empty() || {
                let all: Vec<Elem> = (0..self.model.cons.len()).map(Elem::Rule).collect();
                self.feasible(&base, &all, budget)?
            });
        let mut conflict = None;
        if consistent {
            self.witness(&base, &unselected, &mut result, view, policy, budget)?;
        } else {
            let (e, elems) = self.conflict(&base, budget)?;
            let mut cache = Recent::with(elems);
            for &v in &unselected {
                self.explain_conflicted(&base, v, &mut cache, &mut result[v], policy, budget)?;
            }
            conflict = Some(e);
        }
        // Selected options: relative to the other choices.
        for v in 0..n {
            if selected[v].is_none() || !asked(v) {
                continue;
            }
            let others: Vec<(usize, usize)> =
                base.iter().copied().filter(|(x, _)| *x != v).collect();
            let all: Vec<Elem> = (0..self.model.cons.len()).map(Elem::Rule).collect();
            let view = views
                .iter()
                .position(|(x, _)| *x == v)
                .map(|k| views.swap_remove(k).1);
            let pooled = view.as_ref().is_some_and(|w| !w.local.is_empty());
            if pooled || self.feasible(&others, &all, budget)? {
                let view = view.unwrap_or_else(|| self.pool_views(&others).0);
                self.witness(&others, &[v], &mut result, view, policy, budget)?;
            } else {
                let (_, elems) = self.conflict(&others, budget)?;
                let mut cache = Recent::with(elems);
                self.explain_conflicted(&others, v, &mut cache, &mut result[v], policy, budget)?;
            }
        }
        Ok(Propagation {
            consistent,
            conflict,
            options: result,
        })
    }

    /// Finds, for the variables `targets`, which values have a solution under `base`, and explains the others.
    fn witness(
        &self,
        base: &[(usize, usize)],
        targets: &[usize],
        result: &mut [OptionAvailability],
        view: PoolView,
        policy: Policy,
        budget: &mut Budget,
    ) -> Result<(), OutOfWork> {
        let model = &self.model;
        let Some(root) = self.propagated(base, false, budget)? else {
            return Ok(()); // callers check feasibility first
        };
        let mut ctx = Explaining {
            reasons: None,
            proven: Vec::new(),
        };
        let root_doms = root.doms.clone();
        // Solutions found earlier (by any call) that agree with the base witness their values;
        // the newest `LOCAL_KEPT` of them are kept for the single-change check below.
        let PoolView {
            mut seen,
            mut local,
        } = view;
        let mut found: Vec<Vec<usize>> = Vec::new();
        let mut searches = 0usize;
        // Once refuting values has cost `REFUTE_BEFORE_SUPPORT`, the support pass decides every
        // remaining value at once (refuting values one search at a time is what costs seconds
        // on large tight models); `exact` holds its answer, `tried` that it ran.
        let mut exact: Option<Vec<u64>> = None;
        let mut tried = false;
        let mut refuting = 0u64;
        // Only a search needs the defaults (most calls witness everything from the pool).
        let mut defaults: Option<Vec<Option<usize>>> = None;
        for &v in targets {
            if model.var_cons[v].is_empty() && !local.is_empty() {
                // No rule reads `v` (e.g. a quantity that only pricing uses): any solution with
                // `v` changed is one, so every value left by the root propagation is available.
                for (w, &d) in seen[v].iter_mut().zip(model.dom(&root_doms, v)) {
                    *w |= d;
                }
                continue;
            }
            let cands: Vec<usize> = iter_bits(model.dom(&root_doms, v)).collect();
            for i in cands {
                if bit(&seen[v], i) {
                    continue;
                }
                if let Some(sup) = &exact {
                    if bit(model.dom(sup, v), i) {
                        set_bit(&mut seen[v], i);
                    }
                    continue;
                }
                // Alike to a value already witnessed (see `Classes`): available too, by
                // swapping it into that value's solution.
                if self.classes.alike_in((v, i), &seen[v]) {
                    set_bit(&mut seen[v], i);
                    continue;
                }
                if self.known_unavailable(base, (v, i)) {
                    continue;
                }
                // 1. A known solution with only `v` changed: check v's constraints. (With no
                //    constraints on `v` at all, any known solution does.)
                let moved = local.iter().rev().take(LOCAL_KEPT).any(|sol| {
                    model.var_cons[v]
                        .iter()
                        .all(|&c| model.holds_changed(&model.cons[c], sol, (v, i)))
                });
                if moved {
                    set_bit(&mut seen[v], i);
                    continue;
                }
                // 2. A search. The first few prefer values not witnessed yet, so that each
                //    solution witnesses as many new values as possible; later ones (the values
                //    left are the hard ones) follow the last solution found, changing only what
                //    the target forces, which keeps each search short on large models.
                searches += 1;
                let before = budget.used();
                // SAT back end (Boolean models): see sat.rs. Its solutions follow random
                // polarities, not `prefer`, so each is also widened towards the values not
                // witnessed yet (`widen` never changes a variable to its own value, so the
                // solution's values need not be in `seen` first).
                let sols: Vec<Vec<usize>> = if let Some(r) = self.sat_witness(base, (v, i), budget)
                {
                    r?.map(|sol| {
                        let wide = self.widen(&sol, &seen, &root_doms);
                        std::iter::once(sol).chain(wide).collect()
                    })
                    .unwrap_or_default()
                } else {
                    let prefer: Vec<Option<usize>> = match local.last() {
                        Some(last) if searches > DIVERSIFY => {
                            last.iter().map(|&j| Some(j)).collect()
                        }
                        _ => {
                            let defaults = defaults.get_or_insert_with(|| self.defaults());
                            (0..model.vars.len())
                                .map(|x| {
                                    iter_bits(model.dom(&root_doms, x))
                                        .find(|&j| !bit(&seen[x], j))
                                        .or(defaults[x])
                                })
                                .collect()
                        }
                    };
                    let mut s = root.fork();
                    if !s.assign(v, i) {
                        continue;
                    }
                    s.queue_var(v);
                    s.solve_queued(&prefer, budget)?.into_iter().collect()
                };
                if sols.is_empty() {
                    refuting += budget.used().saturating_sub(before);
                }
                if sols.is_empty() && !tried && refuting >= REFUTE_BEFORE_SUPPORT {
                    tried = true;
                    exact = self.supports_within(base, budget)?;
                    if let Some(sup) = &exact
                        && bit(model.dom(sup, v), i)
                    {
                        set_bit(&mut seen[v], i);
                    }
                }
                for sol in sols {
                    for (x, &j) in sol.iter().enumerate() {
                        set_bit(&mut seen[x], j);
                    }
                    local.push(Arc::from(sol.as_slice()));
                    found.push(sol);
                }
            }
        }
        self.shared.remember(found);
        let mut cache = Recent::default();
        for &v in targets {
            let available = &mut result[v].available;
            available.reserve(count_bits(&seen[v]));
            available.extend(iter_bits(&seen[v]).take_while(|&i| i < model.vars[v].size));
            self.explain_listed(
                base,
                v,
                &seen[v],
                Some(&mut ctx),
                &mut cache,
                &mut result[v],
                policy,
                budget,
            )?;
        }
        if let Some(before) = cache.loaded
            && cache.items.len() > before
            && let Ok(mut shared) = self.shared.explanations.lock()
        {
            for e in cache.items.drain(before..) {
                if shared.len() < EXPLANATION_CACHE && !shared.contains(&e) {
                    shared.push(e);
                }
            }
        }
        Ok(())
    }

    /// The support pass under `base` with half the remaining work (charged to `budget`);
    /// `None` when it ran out of it (the caller then goes on searching value by value). With
    /// no choices, the engine's root support is used.
    fn supports_within(
        &self,
        base: &[(usize, usize)],
        budget: &mut Budget,
    ) -> Result<Option<Vec<u64>>, OutOfWork> {
        if base.is_empty() {
            return Ok(self.root_support().map(<[u64]>::to_vec));
        }
        let mut sub = Budget::new(budget.remaining / 2);
        let out = self.supports_with(base, &mut sub).ok();
        if !budget.spend(sub.used()) {
            return Err(OutOfWork);
        }
        Ok(out)
    }

    /// `sol` changed one variable at a time to a value of its domain in `doms` that `seen`
    /// lacks, wherever every rule reading that variable still holds: another solution (each
    /// change keeps all rules), which witnesses those values too. `None` if nothing changed.
    fn widen(&self, sol: &[usize], seen: &[Vec<u64>], doms: &[u64]) -> Option<Vec<usize>> {
        let model = &self.model;
        let mut out = sol.to_vec();
        let mut changed = false;
        for (x, seen_x) in seen.iter().enumerate().take(out.len()) {
            let next = iter_bits(model.dom(doms, x)).find(|&j| {
                j != out[x]
                    && !bit(seen_x, j)
                    && model.var_cons[x]
                        .iter()
                        .all(|&c| model.holds_changed(&model.cons[c], &out, (x, j)))
            });
            if let Some(j) = next {
                out[x] = j;
                changed = true;
            }
        }
        changed.then_some(out)
    }

    /// Explains the unavailable values of `v` (those outside `available` that `explained`
    /// lists, or the one `Policy::Only` names) into `out`, or lists them as deferred.
    #[allow(clippy::too_many_arguments)]
    fn explain_listed(
        &self,
        base: &[(usize, usize)],
        v: usize,
        available: &[u64],
        mut ctx: Option<&mut Explaining>,
        cache: &mut Recent,
        out: &mut OptionAvailability,
        policy: Policy,
        budget: &mut Budget,
    ) -> Result<(), OutOfWork> {
        let listed = match policy {
            Policy::Only(i) => {
                if i < self.model.vars[v].size && !bit(available, i) {
                    vec![i]
                } else {
                    Vec::new()
                }
            }
            Policy::Of(_) => self.explained(v, available),
        };
        for i in listed {
            let target = (v, i);
            let found = match policy {
                Policy::Of(Explain::Until(deadline)) => {
                    if std::time::Instant::now() >= deadline {
                        self.recalled(base, target)
                    } else {
                        budget.until(Some(deadline));
                        let r = self.explain(base, target, ctx.as_deref_mut(), cache, budget);
                        let expired = budget.expired();
                        budget.until(None);
                        match r {
                            Ok(e) => Some(e),
                            // Stopped at the deadline: nothing half-done was kept.
                            Err(OutOfWork) if expired => self.recalled(base, target),
                            Err(e) => return Err(e),
                        }
                    }
                }
                Policy::Of(Explain::All) | Policy::Only(_) => {
                    Some(self.explain(base, target, ctx.as_deref_mut(), cache, budget)?)
                }
            };
            match found {
                Some(e) => out.unavailable.push((i, e)),
                None => {
                    if let Ok(mut x) = self.shared.excluded.lock() {
                        let base: Vec<Pair> = base.iter().map(|&p| self.classes.rep(p)).collect();
                        x.insert(self.classes.rep(target), &base);
                    }
                    out.deferred.push(i);
                }
            }
        }
        Ok(())
    }

    /// `explain_listed` for an option under conflicting choices `base`: none of its values is
    /// available.
    fn explain_conflicted(
        &self,
        base: &[(usize, usize)],
        v: usize,
        cache: &mut Recent,
        out: &mut OptionAvailability,
        policy: Policy,
        budget: &mut Budget,
    ) -> Result<(), OutOfWork> {
        let none = vec![0u64; self.model.nwords[v]];
        self.explain_listed(base, v, &none, None, cache, out, policy, budget)
    }

    /// An explanation of `target` under `base` the engine already has: one an earlier call
    /// found whose choices are all chosen, or a dead value's (rules only).
    fn recalled(&self, base: &[(usize, usize)], target: (usize, usize)) -> Option<Explanation> {
        let known = self
            .shared
            .by_target
            .lock()
            .ok()
            .and_then(|m| m.find(base, target).map(Packed::unpack));
        known.or_else(|| {
            self.shared
                .dead
                .lock()
                .ok()
                .and_then(|d| d.get(&self.classes.rep(target)).cloned())
        })
    }

    /// Which unavailable values of `v` get an explanation. Every value of a choice or boolean;
    /// for integer and text ranges only the edges of the feasible set (the value just past each
    /// end or hole, and "unset"), since a 300-value range would otherwise need 300 explanations.
    pub(crate) fn explained(&self, v: usize, available: &[u64]) -> Vec<usize> {
        let var = &self.model.vars[v];
        let unset = var.unset();
        let all = matches!(
            var.kind,
            super::model::VarKind::Choice { .. } | super::model::VarKind::Bool
        );
        let none_available = available.iter().all(|w| *w == 0);
        (0..var.size)
            .filter(|&i| !bit(available, i))
            .filter(|&i| {
                if all || Some(i) == unset {
                    return true;
                }
                if none_available {
                    return i == 0 || i + 1 == var.size - usize::from(unset.is_some());
                }
                let avail = |j: usize| Some(j) != unset && bit(available, j);
                (i > 0 && avail(i - 1)) || avail(i + 1)
            })
            .collect()
    }

    /// Checks a configuration: every violated rule, and required options without a value.
    pub fn validate(&self, sel: &Selection) -> Validation {
        let product = &self.product;
        let idx = self.indices(sel);
        let mut vals: Vec<Option<Val>> = vec![None; product.options.len()];
        let mut known = vec![false; product.options.len()];
        for (v, i) in &idx {
            if let Some(i) = i {
                vals[*v] = self.model.vars[*v].val(*i);
                known[*v] = true;
            }
        }
        let mut missing = Vec::new();
        for (v, o) in product.options.iter().enumerate() {
            if known[v] {
                continue;
            }
            let var = &self.model.vars[v];
            match &var.kind {
                // Unchosen booleans are false; unchosen text is empty; optional options are unset.
                super::model::VarKind::Bool => {
                    vals[v] = Some(Val::Bool(false));
                    known[v] = true;
                }
                super::model::VarKind::Text { lengths } if lengths.contains(&0) => {
                    vals[v] = Some(Val::Int(0));
                    known[v] = true;
                }
                _ if var.optional => known[v] = true,
                _ => {
                    if o.required {
                        missing.push(v);
                    }
                }
            }
        }
        let mut violations = Vec::new();
        for (r, c) in product.constraints.iter().enumerate() {
            let mut scope = BTreeSet::new();
            c.options(&mut scope);
            if scope.iter().all(|&o| known[o]) && !c.holds(&|o| vals[o]) {
                violations.push(Violation {
                    rule: r,
                    options: scope.into_iter().collect(),
                });
            }
        }
        let bad = idx.iter().any(|(_, i)| i.is_none());
        Validation {
            valid: missing.is_empty() && violations.is_empty() && !bad,
            missing,
            violations,
        }
    }

    /// A full valid configuration extending the selection, using defaults where they are consistent.
    /// Returns one domain index per variable, or `None` if the selection has no completion.
    pub fn complete(&self, sel: &Selection) -> Result<Option<Vec<usize>>, EngineError> {
        let mut budget = self.budget();
        self.complete_with(sel, &mut budget)
            .map_err(|_| self.limit("complete"))
    }

    pub(crate) fn complete_with(
        &self,
        sel: &Selection,
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        let mut s = Solver::new(&self.model, self.model.initial());
        for (v, i) in self.indices(sel) {
            match i {
                Some(i) if s.assign(v, i) => {}
                _ => return Ok(None),
            }
        }
        let prefer = self.defaults();
        // First try to keep every default: only where that fails does the search choose freely.
        let mut with_defaults = Solver::new(&self.model, s.doms.clone());
        let mut ok = true;
        for (v, p) in prefer.iter().enumerate() {
            if let Some(p) = p
                && sel.get(self.model.vars[v].opt).is_none()
                && !with_defaults.assign(v, *p)
            {
                ok = false;
            }
        }
        if ok && let Some(sol) = with_defaults.solve(&prefer, budget)? {
            return Ok(Some(sol));
        }
        s.solve(&prefer, budget)
    }

    /// A minimal set of choices to drop so the selection is consistent again, keeping the most
    /// recent choices where possible, and values the dropped options can take instead.
    pub fn repair(&self, sel: &Selection) -> Result<Repair, EngineError> {
        let mut budget = self.budget();
        self.repair_with(sel, &mut budget)
            .map_err(|_| self.limit("repair"))
    }

    fn repair_with(&self, sel: &Selection, budget: &mut Budget) -> Result<Repair, OutOfWork> {
        let all: Vec<Elem> = (0..self.model.cons.len()).map(Elem::Rule).collect();
        let idx = self.indices(sel);
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut drop = Vec::new();
        // Newest first: a choice is kept if it is consistent with the newer choices kept so far.
        for (v, i) in idx.iter().rev() {
            match i {
                Some(i) => {
                    kept.push((*v, *i));
                    if !self.feasible(&kept, &all, budget)? {
                        kept.pop();
                        drop.push(*v);
                    }
                }
                None => drop.push(*v),
            }
        }
        drop.reverse();
        let kept_sel = Selection {
            choices: sel
                .choices
                .iter()
                .filter(|(o, _)| !drop.contains(o))
                .cloned()
                .collect(),
        };
        let completion = self.complete_with(&kept_sel, budget)?;
        let replace = drop
            .iter()
            .map(|&v| {
                (
                    self.model.vars[v].opt,
                    completion
                        .as_ref()
                        .and_then(|c| self.model.vars[v].value(c[v])),
                )
            })
            .collect();
        Ok(Repair {
            drop: drop.iter().map(|&v| self.model.vars[v].opt).collect(),
            replace,
        })
    }

    /// The values of one option that extend the selection to a valid configuration (domain
    /// indices, ascending), without explanations: for an unselected option, exactly what
    /// `propagate` reports as its `available` values, for callers that need only that (the
    /// recommender's evaluation asks it for one option at a time, hundreds of thousands of
    /// times). For a selected option: its chosen value when the selection is consistent. Empty
    /// when the selection has no completion. Solutions found are remembered, as `propagate`'s.
    pub fn available_values(
        &self,
        sel: &Selection,
        option: OptId,
    ) -> Result<Vec<usize>, EngineError> {
        let mut budget = self.budget();
        self.available_with(sel, option, &mut budget)
            .map_err(|_| self.limit("available_values"))
    }

    fn available_with(
        &self,
        sel: &Selection,
        v: usize,
        budget: &mut Budget,
    ) -> Result<Vec<usize>, OutOfWork> {
        let model = &self.model;
        if v >= model.vars.len() {
            return Ok(Vec::new());
        }
        let mut base: Vec<(usize, usize)> = Vec::with_capacity(sel.choices.len());
        for (x, i) in self.indices(sel) {
            match i {
                Some(i) => base.push((x, i)),
                None => return Ok(Vec::new()),
            }
        }
        let mut root = Solver::new(model, model.initial());
        for &(x, i) in &base {
            if !root.assign(x, i) {
                return Ok(Vec::new());
            }
        }
        root.queue_all();
        if !root.propagate(budget)? {
            return Ok(Vec::new());
        }
        let candidates: Vec<usize> = iter_bits(model.dom(&root.doms, v)).collect();
        // Values witnessed by remembered solutions that agree with the selection.
        let mut seen = vec![0u64; model.nwords[v]];
        if let Ok(p) = self.shared.pool.lock() {
            let mask = p.agreeing(base.iter().copied());
            for &i in &candidates {
                if p.any_with(&mask, v, i) {
                    set_bit(&mut seen, i);
                }
            }
        }
        let mut all: Option<Vec<Elem>> = None;
        let mut found: Vec<Vec<usize>> = Vec::new();
        let mut prefer: Vec<Option<usize>> = Vec::new();
        for i in candidates {
            if bit(&seen, i) {
                continue;
            }
            // Alike to a value already witnessed (see `Classes`): available too.
            if self.classes.alike_in((v, i), &seen) {
                set_bit(&mut seen, i);
                continue;
            }
            if self.known_unavailable(&base, (v, i)) {
                continue;
            }
            let all = all.get_or_insert_with(|| (0..model.cons.len()).map(Elem::Rule).collect());
            let mut fixed = base.clone();
            fixed.push((v, i));
            // SAT back end (Boolean models), else a search from the root propagation.
            let sol = match self.sat_solution(&fixed, all, budget) {
                Some(r) => r?,
                None => {
                    let mut s = Solver::new(model, root.doms.clone());
                    if !s.assign(v, i) {
                        continue;
                    }
                    s.queue_var(v);
                    s.solve_queued(&prefer, budget)?
                }
            };
            if let Some(sol) = sol {
                set_bit(&mut seen, i);
                // The next search starts from this solution: it differs in little more than `v`.
                prefer.clear();
                prefer.extend(sol.iter().map(|&j| Some(j)));
                found.push(sol);
            }
        }
        self.shared.remember(found);
        Ok(iter_bits(&seen)
            .take_while(|&i| i < model.vars[v].size)
            .collect())
    }

    /// A full valid configuration extending the selection that keeps as many preferred values
    /// as it can, most important first: each `(option, values)` of `ranked`, in order, takes the
    /// first of its values (in the order given) that propagation finds consistent with the
    /// selection and the values taken before it; a search then completes the rest, preferring
    /// the values taken, then defaults (as `complete`). Propagation is not search, so a value
    /// taken may still have to change in that search; the answer is always valid. One index per
    /// variable, or `None` if the selection has no completion.
    pub fn complete_preferring(
        &self,
        sel: &Selection,
        ranked: &[(OptId, Vec<usize>)],
    ) -> Result<Option<Vec<usize>>, EngineError> {
        let mut budget = self.budget();
        self.complete_preferring_with(sel, ranked, &mut budget)
            .map_err(|_| self.limit("complete_preferring"))
    }

    fn complete_preferring_with(
        &self,
        sel: &Selection,
        ranked: &[(OptId, Vec<usize>)],
        budget: &mut Budget,
    ) -> Result<Option<Vec<usize>>, OutOfWork> {
        let model = &self.model;
        let mut s = Solver::new(model, model.initial());
        for (v, i) in self.indices(sel) {
            match i {
                Some(i) if s.assign(v, i) => {}
                _ => return Ok(None),
            }
        }
        s.queue_all();
        if !s.propagate(budget)? {
            return Ok(None);
        }
        let root = s.doms.clone();
        let mut prefer = self.defaults();
        for (v, values) in ranked {
            if *v >= model.vars.len() || sel.get(*v).is_some() {
                continue;
            }
            for &i in values {
                if !s.has(*v, i) {
                    continue;
                }
                let mark = s.mark();
                s.assign(*v, i);
                s.queue_var(*v);
                if s.propagate(budget)? {
                    prefer[*v] = Some(i);
                    break;
                }
                s.undo(mark);
            }
        }
        if let Some(sol) = s.solve(&prefer, budget)? {
            return Ok(Some(sol));
        }
        // Propagation let an inconsistent set of values through: search from the selection
        // alone, still preferring them.
        Solver::new(model, root).solve(&prefer, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a positive table admits on its own, read off its rows, is what propagating it alone
    /// decides, for every value of every option it reads (on generated car models, whose
    /// tables leave some values out).
    #[test]
    fn admitted_alone_agrees_with_propagating_the_rule_alone() {
        use super::super::generate::{CarParams, car_model_with};
        let mut excluded = 0;
        for seed in 1..4 {
            let g = car_model_with(seed, 30, 35, &CarParams::calibrated(30));
            let loaded = crate::catalog::load(&g.files());
            let engine = Engine::new(loaded.catalog.unwrap().products()[0].clone());
            let model = &engine.model;
            let mut budget = engine.budget();
            for (r, c) in model.cons.iter().enumerate() {
                if !matches!(c.kind, ConKind::Table(_)) {
                    assert_eq!(engine.admits_alone(r, (c.scope[0], 0)), None);
                    continue;
                }
                for &v in &c.scope {
                    for i in 0..model.vars[v].size {
                        let propagated = !engine
                            .gac_infeasible(&[(v, i)], &[Elem::Rule(r)], &mut budget)
                            .unwrap();
                        assert_eq!(engine.admits_alone(r, (v, i)), Some(propagated));
                        excluded += usize::from(!propagated);
                    }
                }
            }
        }
        assert!(excluded > 0, "no table left a value out");
    }

    fn expl(rules: &[usize], choices: &[usize]) -> Explanation {
        Explanation {
            rules: rules.to_vec(),
            choices: choices.to_vec(),
        }
    }

    /// Explanations with one, two and more choices are found whenever all their choices are in
    /// the selection (in any order), never otherwise, and one with fewer choices comes first.
    #[test]
    fn known_explanations_are_found_by_their_choices() {
        let mut k = Known::default();
        let t = (9, 1);
        k.insert(t, &expl(&[4, 2], &[3, 5]), vec![(5, 0), (3, 2)]);
        assert!(k.find(&[(3, 2)], t).is_none());
        assert!(k.find(&[(5, 0), (3, 1)], t).is_none());
        for base in [[(3, 2), (5, 0)], [(5, 0), (3, 2)]] {
            let e = k.find(&base, t).map(Packed::unpack);
            assert_eq!(e, Some(expl(&[4, 2], &[3, 5])), "{base:?}");
        }
        assert!(k.find(&[(5, 0), (3, 2)], (9, 0)).is_none(), "another value");
        k.insert(t, &expl(&[1], &[7]), vec![(7, 1)]);
        assert_eq!(
            k.find(&[(3, 2), (5, 0), (7, 1)], t).map(Packed::unpack),
            Some(expl(&[1], &[7])),
            "the single-choice explanation first"
        );
        k.insert(t, &expl(&[6], &[1, 2, 3]), vec![(1, 0), (2, 0), (3, 0)]);
        assert!(k.find(&[(1, 0), (2, 0)], t).is_none());
        assert_eq!(
            k.find(&[(2, 0), (3, 0), (1, 0)], t).map(Packed::unpack),
            Some(expl(&[6], &[1, 2, 3]))
        );
        // The same pair again is not kept twice.
        let before = k.bytes;
        k.insert(t, &expl(&[8], &[3, 5]), vec![(3, 2), (5, 0)]);
        assert_eq!(k.bytes, before);
    }

    /// The store keeps explanations until its memory is used up, then none; the warm-up's share
    /// ends at three quarters of it.
    #[test]
    fn known_explanations_stay_within_their_memory() {
        let cap = 100 * (22 * 2 + KNOWN_ENTRY);
        let mut k = Known {
            cap,
            ..Known::default()
        };
        let e = expl(&(0..20).collect::<Vec<_>>(), &[1, 2]);
        let mut kept = Vec::new();
        for x in 0..150 {
            assert_eq!(k.warm_up_full(), x > 75, "{x}");
            k.insert((0, x), &e, vec![(1, 0), (2, 0)]);
            if k.find(&[(1, 0), (2, 0)], (0, x)).is_some() {
                kept.push(x);
            }
        }
        assert_eq!(kept, (0..100).collect::<Vec<_>>());
        assert_eq!(k.bytes, cap);
        // Ids beyond 16 bits take 4 bytes each, and beyond 32 bits are not kept (no truncation).
        let mut k = Known::default();
        let wide = expl(&[70_000, 3], &[1]);
        k.insert((0, 0), &wide, vec![(1, 0)]);
        assert_eq!(k.find(&[(1, 0)], (0, 0)).map(Packed::unpack), Some(wide));
        assert_eq!(k.bytes, 3 * 4 + KNOWN_ENTRY);
        k.insert((0, 1), &expl(&[usize::MAX], &[1]), vec![(1, 0)]);
        assert!(k.find(&[(1, 0)], (0, 1)).is_none());
    }
}
