//! The built-in evaluation of recommenders (the research protocol): K-fold cross-validation over a history, each test sale replayed in a seeded random order with the engine as the filter, precision per step for the method and the baselines, the decay chosen by inner cross-validation, and timings.
//!
//! At step h of a replay the first h sold values are chosen, the engine gives the values
//! still available for the next option (`Engine::available_values`), every method picks one,
//! and a pick scores 1 when it is the sold value. Steps where the sold value is not available
//! (a sale today's rules forbid) are not scored, and counted apart. A sale with count c is
//! replayed c times, each in its own order.
//!
//! The work is split in two: the engine's answers for every step of every replay first (they
//! depend on the sale and the order only, not on what was learned), then every method over
//! those steps. So adding methods, or choosing the relevance decay by inner cross-validation
//! (for each test fold, the decay that scores best over the other folds, each predicted from
//! the folds left), costs no engine work. Pure: threads, no IO.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::history::{HistoryFile, Sale};
use super::model::Query;
use super::{Method, Recommender, Scorer};
use crate::catalog::model::OptId;
use crate::rules::{Engine, EngineError, Selection};

/// The decays inner cross-validation chooses from (powers of two: the measured precision
/// changes by tenths of a point across them, see docs/personalization.md).
pub const DECAYS: [f64; 5] = [1.0, 2.0, 4.0, 8.0, 16.0];

/// The ceiling's decay: a row not sharing a choice weighs `exp(-40)` (about 4e-18) of one that
/// does, under what the votes ignore, so only the sales sharing every choice vote.
const CEILING_DECAY: f64 = 40.0;

/// Replays per inner fold that inner cross-validation scores (seeded sample): enough to rank
/// decays whose precision differs by a tenth of a point on this many steps (a few thousand
/// steps with two values or more), at a tenth of the cost of all.
pub const INNER_REPLAYS: usize = 100;

/// What to run.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Folds when no fold assignment is given. Default: 10.
    pub folds: usize,
    /// The fold of each data row of the history (a fold file); `None`: rows are dealt into
    /// `folds` folds in a seeded random order. Default: `None`.
    pub fold_of: Option<Vec<usize>>,
    /// Seeds of the replay orders: each seed replays every test sale once more. Default: `[1]`.
    pub seeds: Vec<u64>,
    /// The methods compared, the first being "the method" (its timings are the step's).
    /// Default: [`Method::DEFAULT`], then the two baselines.
    pub methods: Vec<Method>,
    /// Also run the relevance method with its decay chosen per test fold by inner
    /// cross-validation over [`DECAYS`]. Default: true.
    pub tune: bool,
    /// Also score a ceiling that cheats: the most sold value among the sales sharing every
    /// choice, the test sale itself included (what the data allows at best, not a method).
    /// Default: true.
    pub ceiling: bool,
    /// Worker threads. Default: the available cores.
    pub threads: usize,
    /// Steps sampled, after the run (engine warm), to time what a configure call adds:
    /// `propagate` plus recommendations for every open option. Default: 1000.
    pub serving_samples: usize,
}

impl Default for EvalOptions {
    fn default() -> EvalOptions {
        EvalOptions {
            folds: 10,
            fold_of: None,
            seeds: vec![1],
            methods: vec![Method::DEFAULT, Method::Popular, Method::NaiveBayes],
            tune: true,
            ceiling: true,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            serving_samples: 1000,
        }
    }
}

/// Why an evaluation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("the fold file has {found} lines for {expected} data rows")]
    FoldCount { expected: usize, found: usize },
    #[error("at least 2 folds are needed (got {0})")]
    Folds(usize),
    #[error("the history has no sales to evaluate")]
    NoSales,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Hits over steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub hits: u64,
    pub steps: u64,
}

impl Tally {
    /// Precision in percent (0 with no steps).
    pub fn percent(&self) -> f64 {
        if self.steps == 0 {
            0.0
        } else {
            100.0 * self.hits as f64 / self.steps as f64
        }
    }

    fn add(&mut self, hit: bool) {
        self.steps += 1;
        self.hits += u64::from(hit);
    }

    fn merge(&mut self, o: &Tally) {
        self.hits += o.hits;
        self.steps += o.steps;
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub samples: usize,
}

impl Latency {
    fn of(mut ns: Vec<u64>) -> Latency {
        if ns.is_empty() {
            return Latency::default();
        }
        ns.sort_unstable();
        let at = |q: f64| {
            let k = ((ns.len() as f64 * q).ceil() as usize).clamp(1, ns.len()) - 1;
            ns[k] as f64 / 1000.0
        };
        Latency {
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: ns[ns.len() - 1] as f64 / 1000.0,
            samples: ns.len(),
        }
    }
}

/// One method's results.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResult {
    /// The method (for the tuned relevance row, with the decay most folds chose).
    pub method: Method,
    /// For the tuned relevance row: the decay inner cross-validation chose for each fold.
    pub tuned: Option<Vec<f64>>,
    /// The ceiling row (trained on every sale, the test sale included).
    pub ceiling: bool,
    /// Every scored step.
    pub all: Tally,
    /// Steps with at least two available values.
    pub multi: Tally,
    /// Per step h (0-based): hits over the steps at that position.
    pub curve: Vec<Tally>,
    /// Per fold.
    pub folds: Vec<Tally>,
    /// The method's own time per recommendation (filtering excluded).
    pub recommend: Latency,
}

impl MethodResult {
    /// A name for reports.
    pub fn name(&self) -> String {
        match (&self.tuned, self.method) {
            _ if self.ceiling => "ceiling (reads the test sale)".to_owned(),
            (Some(_), Method::Relevance { .. }) => "relevance (decay by inner CV)".to_owned(),
            _ => self.method.name(),
        }
    }
}

/// Latencies on the warm engine (after the run), over sampled steps of the first fold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Serving {
    /// The protocol's filter: `available_values` of the next option.
    pub filter: Latency,
    /// The filter plus the first method's recommendation for that option.
    pub filter_and_recommend: Latency,
    /// What a configure call runs: `propagate` for the whole selection (every option, with
    /// explanations)...
    pub propagate: Latency,
    /// ...and then recommendations for every open option...
    pub recommend_all: Latency,
    /// ...together.
    pub total: Latency,
}

/// The evaluation's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub folds: usize,
    pub seeds: usize,
    /// Test replays (sales × counts × seeds).
    pub replays: u64,
    /// Steps where the sold value was not available (not scored).
    pub unscored: u64,
    pub methods: Vec<MethodResult>,
    /// The engine's filter per step (`available_values`, or the prefix cache).
    pub filter: Latency,
    /// Filter plus the first method's recommendation, per step.
    pub step: Latency,
    pub serving: Option<Serving>,
    pub threads: usize,
    /// Wall-clock time of the engine's part (every step's available values).
    pub filter_seconds: f64,
    pub seconds: f64,
}

/// SplitMix64: a small seeded generator (permutations and fold deals must not depend on the
/// platform or a crate's version).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            xs.swap(i, self.below(i + 1));
        }
    }
}

/// One step of a replay: the option asked, the value sold, what the engine allowed.
#[derive(Debug, Clone)]
struct Step {
    option: OptId,
    sold: usize,
    available: Vec<usize>,
    filter_ns: u64,
}

/// One test sale replayed in one order.
#[derive(Debug, Clone)]
struct Replay {
    fold: usize,
    steps: Vec<Step>,
}

/// The availability of options under selections of at most one choice, shared by all replays
/// (every replay starts with the empty selection; most second steps repeat).
type PrefixCache = Mutex<HashMap<(Option<(OptId, usize)>, OptId), Vec<usize>>>;

/// Runs `job(0..n)` on `threads` threads, each taking the next index; results by index.
fn parallel<T: Send>(threads: usize, n: usize, job: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let work = || {
        let mut mine = Vec::new();
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= n {
                break;
            }
            mine.push((k, job(k)));
        }
        mine
    };
    let mut done: Vec<(usize, T)> = if threads <= 1 {
        work()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    done.sort_by_key(|(k, _)| *k);
    done.into_iter().map(|(_, t)| t).collect()
}

/// A recommender trained on the sales (each with its fold) whose fold is not in `left_out`
/// (identical sales added once with their count).
fn trained(engine: &Engine, sales: &[(usize, &Sale)], left_out: &[usize]) -> Recommender {
    let mut merged: HashMap<&Sale, u64> = HashMap::new();
    let mut order: Vec<&Sale> = Vec::new();
    for &(f, sale) in sales {
        if left_out.contains(&f) {
            continue;
        }
        let e = merged.entry(sale).or_insert_with(|| {
            order.push(sale);
            0
        });
        *e += 1;
    }
    let mut rec = Recommender::new(&engine.product);
    for sale in order {
        let n = merged.get(sale).copied().unwrap_or(0);
        rec.add(&sale.clone().times(sale.count.saturating_mul(n)));
    }
    rec
}

/// Replays one sale in the order `order_seed` gives its options: the engine's available
/// values at every step (see the module documentation).
fn replay(
    engine: &Engine,
    sale: &Sale,
    fold: usize,
    order_seed: u64,
    cache: &PrefixCache,
) -> Result<Replay, EngineError> {
    let domains = super::history::Domains::of(&engine.product);
    let mut order: Vec<(OptId, usize)> = sale
        .values
        .iter()
        .copied()
        .filter(|&(o, _)| domains.size(o).is_some())
        .collect();
    Rng(order_seed).shuffle(&mut order);
    let mut steps = Vec::with_capacity(order.len());
    let mut sel = Selection::default();
    for (h, &(option, sold)) in order.iter().enumerate() {
        let t = Instant::now();
        let key = match h {
            0 => Some((None, option)),
            1 => Some((Some(order[0]), option)),
            _ => None,
        };
        let cached = key
            .as_ref()
            .and_then(|k| cache.lock().ok().and_then(|c| c.get(k).cloned()));
        let available = match cached {
            Some(a) => a,
            None => {
                let a = engine.available_values(&sel, option)?;
                if let (Some(k), Ok(mut c)) = (key, cache.lock()) {
                    c.insert(k, a.clone());
                }
                a
            }
        };
        steps.push(Step {
            option,
            sold,
            available,
            filter_ns: since(t),
        });
        // A "not chosen" value cannot be a selection's choice: the filter does not see it
        // (the recommender does).
        if let Some(value) = domains.value(option, sold) {
            sel.choices.push((option, value));
        }
    }
    Ok(Replay { fold, steps })
}

/// Hits of relevance with each of [`DECAYS`] over one replay (distances computed once per
/// step for all decays).
fn hits_per_decay(rec: &Recommender, r: &Replay) -> [u64; DECAYS.len()] {
    let stats = &rec.stats;
    let mut hits = [0u64; DECAYS.len()];
    let mut q = Query::new(stats, None);
    for s in &r.steps {
        if s.available.contains(&s.sold) {
            if s.available.len() == 1 {
                for h in &mut hits {
                    *h += 1;
                }
            } else {
                let far = stats.relevance_far(&q, s.option);
                for (h, &decay) in hits.iter_mut().zip(&DECAYS) {
                    let votes = (stats.known(s.option) > 0)
                        .then(|| stats.votes_from_far(&q, s.option, &far, decay));
                    let pick = Scorer::with_method(rec, &q, Method::Relevance { decay }).decide(
                        s.option,
                        &s.available,
                        votes,
                    );
                    *h += u64::from(pick.is_some_and(|p| p.index == s.sold));
                }
            }
        }
        q.choose(stats, s.option, s.sold);
    }
    hits
}

/// The decay of [`DECAYS`] that scores best over the replays of the folds `inner`, each fold's
/// predicted by a recommender trained on the sales of neither it nor `left_out`, from at most
/// [`INNER_REPLAYS`] replays per fold (a seeded sample). Ties go to the smaller decay (the
/// smoother vote).
fn cross_validated_decay(
    engine: &Engine,
    sales: &[(usize, &Sale)],
    replays: &[Replay],
    inner: &[usize],
    left_out: Option<usize>,
) -> f64 {
    let mut hits = [0u64; DECAYS.len()];
    for &g in inner {
        let out: Vec<usize> = std::iter::once(g).chain(left_out).collect();
        let rec = trained(engine, sales, &out);
        let mut mine: Vec<&Replay> = replays.iter().filter(|r| r.fold == g).collect();
        Rng(0x1AE5 ^ g as u64).shuffle(&mut mine);
        mine.truncate(INNER_REPLAYS);
        for r in mine {
            for (t, h) in hits.iter_mut().zip(hits_per_decay(&rec, r)) {
                *t += h;
            }
        }
    }
    let best = (0..DECAYS.len())
        .max_by(|&a, &b| hits[a].cmp(&hits[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    DECAYS[best]
}

/// Folds [`choose_decay`] deals a history into.
const CHOICE_FOLDS: usize = 5;

/// Chooses the decay of [`Method::Relevance`] for a history by cross-validation under the
/// protocol, with the engine as the filter (as `evaluate` does per test fold): the sales are
/// dealt into 5 folds (seeded), [`INNER_REPLAYS`] of each fold are replayed, and the decay of
/// [`DECAYS`] that predicts them best from the other folds wins. The engine's part is about
/// 500 replays, whatever the history's size. For `Recommender::with_method`, after an import
/// or when the history has grown (see docs/personalization.md).
pub fn choose_decay(
    engine: &Engine,
    sales: &[Sale],
    seed: u64,
    threads: usize,
) -> Result<f64, EngineError> {
    let mut deal: Vec<usize> = (0..sales.len()).collect();
    let mut rng = Rng(seed ^ 0xDECA);
    rng.shuffle(&mut deal);
    let mut fold_of = vec![0; sales.len()];
    for (k, &i) in deal.iter().enumerate() {
        fold_of[i] = k % CHOICE_FOLDS;
    }
    let with_folds: Vec<(usize, &Sale)> = fold_of.iter().copied().zip(sales).collect();
    // The replayed sales: the first INNER_REPLAYS of each fold in the dealt order.
    let mut taken = [0usize; CHOICE_FOLDS];
    let picked: Vec<usize> = deal
        .iter()
        .copied()
        .filter(|&i| {
            let t = &mut taken[fold_of[i]];
            *t += 1;
            *t <= INNER_REPLAYS
        })
        .collect();
    let cache: PrefixCache = Mutex::new(HashMap::new());
    let replays = parallel(threads.max(1), picked.len(), &|k| {
        let i = picked[k];
        replay(
            engine,
            &sales[i],
            fold_of[i],
            seed ^ ((i as u64) << 20),
            &cache,
        )
    });
    let replays: Vec<Replay> = replays.into_iter().collect::<Result<_, _>>()?;
    let inner: Vec<usize> = (0..CHOICE_FOLDS).collect();
    Ok(cross_validated_decay(
        engine,
        &with_folds,
        &replays,
        &inner,
        None,
    ))
}

/// Runs the protocol on `file`'s sales against `engine` (see the module documentation).
pub fn evaluate(
    engine: &Engine,
    file: &HistoryFile,
    opts: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let started = Instant::now();
    let rows = &file.sales;
    if rows.is_empty() {
        return Err(EvalError::NoSales);
    }
    let data_rows = rows.iter().map(|r| r.row + 1).max().unwrap_or(0);
    let fold_of: Vec<usize> = match &opts.fold_of {
        Some(f) => {
            if f.len() < data_rows {
                return Err(EvalError::FoldCount {
                    expected: data_rows,
                    found: f.len(),
                });
            }
            rows.iter().map(|r| f[r.row]).collect()
        }
        None => {
            if opts.folds < 2 {
                return Err(EvalError::Folds(opts.folds));
            }
            let mut order: Vec<usize> = (0..rows.len()).collect();
            Rng(0xF01D ^ opts.seeds.first().copied().unwrap_or(1)).shuffle(&mut order);
            let mut f = vec![0; rows.len()];
            for (k, &i) in order.iter().enumerate() {
                f[i] = k % opts.folds;
            }
            f
        }
    };
    let folds = fold_of.iter().copied().max().map_or(0, |m| m + 1);
    if folds < 2 {
        return Err(EvalError::Folds(folds));
    }
    let threads = opts.threads.max(1);

    // 1. The engine's part: every step's available values.
    let mut jobs: Vec<(usize, u64)> = Vec::new();
    for &seed in &opts.seeds {
        for (k, row) in rows.iter().enumerate() {
            for copy in 0..row.sale.count {
                let order_seed = seed
                    .wrapping_mul(0x2545_F491_4F6C_DD1D)
                    .wrapping_add((k as u64) << 20)
                    .wrapping_add(copy);
                jobs.push((k, order_seed));
            }
        }
    }
    let cache: PrefixCache = Mutex::new(HashMap::new());
    let replays: Vec<Result<Replay, EngineError>> = parallel(threads, jobs.len(), &|j| {
        let (k, seed) = jobs[j];
        replay(engine, &rows[k].sale, fold_of[k], seed, &cache)
    });
    let replays: Vec<Replay> = replays.into_iter().collect::<Result<_, _>>()?;
    let filter_seconds = started.elapsed().as_secs_f64();

    // 2. The methods over those steps.
    let all_folds: Vec<usize> = (0..folds).collect();
    let with_folds: Vec<(usize, &Sale)> = fold_of
        .iter()
        .copied()
        .zip(rows.iter().map(|r| &r.sale))
        .collect();
    let recommenders: Vec<Recommender> =
        parallel(threads, folds, &|f| trained(engine, &with_folds, &[f]));
    let methods = if opts.methods.is_empty() {
        EvalOptions::default().methods
    } else {
        opts.methods.clone()
    };
    let mut results: Vec<MethodResult> = Vec::new();
    let mut step_ns: Vec<u64> = Vec::new();
    for (m, &method) in methods.iter().enumerate() {
        let scored = score(&recommenders, &replays, &|_| method, folds, threads);
        if m == 0 {
            step_ns = scored.step_ns.clone();
        }
        results.push(scored.into_result(method, None));
    }
    if opts.tune {
        // For each test fold, the decay that scores best on the other folds, each predicted
        // from the folds left (the test fold never seen).
        let inner: Vec<f64> = parallel(threads, folds, &|f| {
            let others: Vec<usize> = all_folds.iter().copied().filter(|&g| g != f).collect();
            cross_validated_decay(engine, &with_folds, &replays, &others, Some(f))
        });
        let scored = score(
            &recommenders,
            &replays,
            &|f| Method::Relevance { decay: inner[f] },
            folds,
            threads,
        );
        let mut picks: Vec<f64> = inner.clone();
        picks.sort_by(f64::total_cmp);
        let typical = picks.get(picks.len() / 2).copied().unwrap_or(DECAYS[0]);
        results.push(scored.into_result(Method::Relevance { decay: typical }, Some(inner)));
    }
    if opts.ceiling {
        let everything = trained(engine, &with_folds, &[]);
        let same: Vec<Recommender> = (0..folds).map(|_| everything.clone()).collect();
        let method = Method::Neighbours {
            decay: CEILING_DECAY,
        };
        let scored = score(&same, &replays, &|_| method, folds, threads);
        let mut r = scored.into_result(method, None);
        r.ceiling = true;
        results.push(r);
    }
    let filter_ns: Vec<u64> = replays
        .iter()
        .flat_map(|r| r.steps.iter())
        .filter(|s| s.available.contains(&s.sold))
        .map(|s| s.filter_ns)
        .collect();
    let step: Vec<u64> = filter_ns.iter().zip(&step_ns).map(|(a, b)| a + b).collect();
    let unscored = replays
        .iter()
        .flat_map(|r| r.steps.iter())
        .filter(|s| !s.available.contains(&s.sold))
        .count() as u64;
    let serving = if opts.serving_samples > 0 {
        Some(serving(
            engine,
            &recommenders[0],
            methods[0],
            file,
            &fold_of,
            opts.serving_samples,
        )?)
    } else {
        None
    };
    Ok(EvalReport {
        folds,
        seeds: opts.seeds.len(),
        replays: replays.len() as u64,
        unscored,
        methods: results,
        filter: Latency::of(
            replays
                .iter()
                .flat_map(|r| r.steps.iter().map(|s| s.filter_ns))
                .collect(),
        ),
        step: Latency::of(step),
        serving,
        threads,
        filter_seconds,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One method's tallies and times over all replays.
#[derive(Debug, Default)]
struct Scored {
    all: Tally,
    multi: Tally,
    curve: Vec<Tally>,
    folds: Vec<Tally>,
    /// Per scored step, in replay order.
    step_ns: Vec<u64>,
}

impl Scored {
    fn into_result(self, method: Method, tuned: Option<Vec<f64>>) -> MethodResult {
        MethodResult {
            method,
            tuned,
            ceiling: false,
            all: self.all,
            multi: self.multi,
            curve: self.curve,
            folds: self.folds,
            recommend: Latency::of(self.step_ns),
        }
    }
}

/// Scores a method (chosen per fold) over every replay, in parallel.
fn score(
    recommenders: &[Recommender],
    replays: &[Replay],
    method: &(dyn Fn(usize) -> Method + Sync),
    folds: usize,
    threads: usize,
) -> Scored {
    let per: Vec<Scored> = parallel(threads, replays.len(), &|k| {
        let r = &replays[k];
        let rec = &recommenders[r.fold];
        let method = method(r.fold);
        let mut out = Scored {
            folds: vec![Tally::default(); folds],
            ..Scored::default()
        };
        let mut q = Query::new(&rec.stats, None);
        for (h, s) in r.steps.iter().enumerate() {
            if s.available.contains(&s.sold) {
                let t = Instant::now();
                let pick = Scorer::with_method(rec, &q, method).pick(s.option, &s.available);
                out.step_ns.push(since(t));
                let hit = pick.is_some_and(|p| p.index == s.sold);
                out.all.add(hit);
                if s.available.len() >= 2 {
                    out.multi.add(hit);
                }
                if out.curve.len() <= h {
                    out.curve.resize(h + 1, Tally::default());
                }
                out.curve[h].add(hit);
                out.folds[r.fold].add(hit);
            }
            q.choose(&rec.stats, s.option, s.sold);
        }
        out
    });
    let mut total = Scored {
        folds: vec![Tally::default(); folds],
        ..Scored::default()
    };
    for p in per {
        total.all.merge(&p.all);
        total.multi.merge(&p.multi);
        if total.curve.len() < p.curve.len() {
            total.curve.resize(p.curve.len(), Tally::default());
        }
        for (a, b) in total.curve.iter_mut().zip(&p.curve) {
            a.merge(b);
        }
        for (a, b) in total.folds.iter_mut().zip(&p.folds) {
            a.merge(b);
        }
        total.step_ns.extend(p.step_ns);
    }
    total
}

/// Nanoseconds since `t`.
fn since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Times what a configure call adds on the warm engine, over `samples` prefixes of the first
/// fold's test sales (seeded): `propagate`, then `recommend` for every open option.
fn serving(
    engine: &Engine,
    rec: &Recommender,
    method: Method,
    file: &HistoryFile,
    fold_of: &[usize],
    samples: usize,
) -> Result<Serving, EngineError> {
    let tests: Vec<&Sale> = file
        .sales
        .iter()
        .zip(fold_of)
        .filter(|(_, f)| **f == 0)
        .map(|(r, _)| &r.sale)
        .collect();
    let (mut prop_ns, mut rec_ns, mut total_ns) = (Vec::new(), Vec::new(), Vec::new());
    let (mut filter_ns, mut one_ns) = (Vec::new(), Vec::new());
    let mut rng = Rng(0x5E41);
    for _ in 0..samples {
        let Some(sale) = tests.get(rng.below(tests.len().max(1))) else {
            break;
        };
        let mut order = sale.values.clone();
        rng.shuffle(&mut order);
        let h = rng.below(order.len() + 1);
        let sel = Selection {
            choices: order[..h]
                .iter()
                .filter_map(|&(o, i)| Some((o, rec.domains().value(o, i)?)))
                .collect(),
        };
        if let Some(&(next, _)) = order.get(h) {
            let t = Instant::now();
            let available = engine.available_values(&sel, next)?;
            let f = since(t);
            let mut q = Query::new(&rec.stats, None);
            for &(o, i) in &order[..h] {
                q.choose(&rec.stats, o, i);
            }
            let t = Instant::now();
            let pick = Scorer::with_method(rec, &q, method).pick(next, &available);
            let r = since(t);
            std::hint::black_box(pick);
            filter_ns.push(f);
            one_ns.push(f + r);
        }
        let t = Instant::now();
        let prop = engine.propagate(&sel)?;
        let p = since(t);
        let t = Instant::now();
        let recs = rec.recommend(engine, &sel, &prop, None);
        let r = since(t);
        std::hint::black_box(recs);
        prop_ns.push(p);
        rec_ns.push(r);
        total_ns.push(p + r);
    }
    Ok(Serving {
        filter: Latency::of(filter_ns),
        filter_and_recommend: Latency::of(one_ns),
        propagate: Latency::of(prop_ns),
        recommend_all: Latency::of(rec_ns),
        total: Latency::of(total_ns),
    })
}
