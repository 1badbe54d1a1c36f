//! What the recommender learns from sales, kept exact and incremental (distinct sold rows with their counts, value and value-pair counts), and the scoring methods over it (most popular, naive Bayes, agreement-weighted neighbours).

use std::collections::HashMap;

use super::history::{Domains, Sale};
use crate::catalog::model::OptId;

/// A row's cell for an option the sale does not record.
pub(crate) const UNKNOWN: u16 = u16::MAX;
/// A row bought by no known customer.
pub(crate) const NO_CUSTOMER: u32 = u32::MAX;

/// Laplace pseudo-count of naive Bayes (the textbook choice; it is a baseline, not tuned).
const NB_ALPHA: f64 = 1.0;

/// Neighbours' weight factor below which a row is left out of the vote: `exp(-40)` is about
/// 4e-18, so no realistic count (under 10^15 sales) makes such a row change a vote.
const NEGLIGIBLE: f64 = 40.0;
/// Most distinct history rows that vote in one call recommending many options (configure):
/// bounds its cost on large histories (O(rows × options)) to under 1 ms on the 270-option
/// scale check; the nearest rows are kept (see `Stats::nearest_rows`).
pub(crate) const MAX_SCORED_ROWS: usize = 1_024;

/// How a value is scored among the available ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// The value sold most often (baseline).
    Popular,
    /// Naive Bayes: P(value) times P(chosen value | value) for every choice made, Laplace
    /// smoothed (baseline).
    NaiveBayes,
    /// Every sold configuration votes for its value, weighted by its count and by
    /// `exp(-decay × d)`, where `d` is how many of the current choices it does not share
    /// (unknown counts as not shared): k-nearest-neighbour voters with a soft radius.
    Neighbours { decay: f64 },
    /// As `Neighbours`, but a choice not shared counts by how much that option tells about
    /// the option recommended: `d` sums `I(o; v) / H(v)` (the share of `v`'s entropy that
    /// `o`'s value explains, learned from the sales) over the chosen options `o` the
    /// configuration does not share. Options unrelated to `v` no longer push neighbours away.
    Relevance { decay: f64 },
}

impl Method {
    /// The method `Recommender::new` uses: see docs/personalization.md for the measurements
    /// that chose it and its decay.
    pub const DEFAULT: Method = Method::Relevance { decay: 4.0 };

    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            Method::Popular => "most popular available".to_owned(),
            Method::NaiveBayes => "naive Bayes (available)".to_owned(),
            Method::Neighbours { decay } => format!("neighbours (decay {decay})"),
            Method::Relevance { decay } => format!("relevance (decay {decay})"),
        }
    }
}

/// The sales of one option pair `(a, b)` (a < b) that record both: value-pair counts
/// (`|Da| × |Db|`, row-major by a's value), their margins, and the sums `Σ n ln n` over each,
/// kept up to date cell by cell, so that the pair's mutual information is O(1) to read.
#[derive(Debug, Clone)]
struct PairBlock {
    counts: Box<[u64]>,
    /// Per value of `a`, per value of `b`.
    rows: Box<[u64]>,
    cols: Box<[u64]>,
    n: u64,
    s_counts: f64,
    s_rows: f64,
    s_cols: f64,
}

/// Counts below this get `n ln n` from a table (512 KiB, built once): learning a sale updates
/// three such terms per value pair, and a logarithm costs ten times a table read.
const NLN_TABLE: usize = 1 << 16;

/// `n ln n` (0 for 0).
fn nln(n: u64) -> f64 {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let exact = |n: u64| {
        if n == 0 {
            0.0
        } else {
            let x = n as f64;
            x * x.ln()
        }
    };
    match usize::try_from(n) {
        Ok(i) if i < NLN_TABLE => {
            TABLE.get_or_init(|| (0..NLN_TABLE as u64).map(exact).collect())[i]
        }
        _ => exact(n),
    }
}

/// Moves a count by `c` (up, or down to no less than 0) and its `Σ n ln n` with it.
fn bump(x: &mut u64, s: &mut f64, c: u64, add: bool) {
    let old = *x;
    *x = if add {
        old.saturating_add(c)
    } else {
        old.saturating_sub(c)
    };
    *s += nln(*x) - nln(old);
}

impl PairBlock {
    fn new(sa: usize, sb: usize) -> PairBlock {
        PairBlock {
            counts: vec![0; sa * sb].into_boxed_slice(),
            rows: vec![0; sa].into_boxed_slice(),
            cols: vec![0; sb].into_boxed_slice(),
            n: 0,
            s_counts: 0.0,
            s_rows: 0.0,
            s_cols: 0.0,
        }
    }

    fn update(&mut self, i: usize, j: usize, c: u64, add: bool) {
        let sb = self.cols.len();
        bump(&mut self.counts[i * sb + j], &mut self.s_counts, c, add);
        bump(&mut self.rows[i], &mut self.s_rows, c, add);
        bump(&mut self.cols[j], &mut self.s_cols, c, add);
        self.n = if add {
            self.n.saturating_add(c)
        } else {
            self.n.saturating_sub(c)
        };
    }

    /// The share of one side's entropy that the other side's value explains,
    /// `I(a; b) / H(b)` (`of_b`) or `I(a; b) / H(a)`, in [0, 1]; 0 when that side never varies.
    fn explained(&self, of_b: bool) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let n = self.n as f64;
        let ln_n = n.ln();
        let mi = (self.s_counts - self.s_rows - self.s_cols) / n + ln_n;
        let h = ln_n - if of_b { self.s_cols } else { self.s_rows } / n;
        // Entropies under 1e-9 nats are rounding: the side is constant.
        if h <= 1e-9 {
            0.0
        } else {
            (mi / h).clamp(0.0, 1.0)
        }
    }
}

/// Everything learned from the sales, exactly (integer counts), updated sale by sale.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// Domain size per option (0: not learned).
    pub(crate) sizes: Vec<usize>,
    /// First value feature of each option in `single`.
    offset: Vec<usize>,
    /// Sales (with counts) per value feature.
    single: Vec<u64>,
    /// Sales recording each option.
    known: Vec<u64>,
    /// Per ordered option pair `a < b` (index `a * n + b`): counts of value pairs, allocated when
    /// the pair is first sold together.
    pairs: Vec<Option<Box<PairBlock>>>,
    /// Distinct sold rows (values and customer), column by column: `cols[o][r]`.
    pub(crate) cols: Vec<Vec<u16>>,
    /// How many sales each distinct row stands for.
    pub(crate) count: Vec<u64>,
    pub(crate) customer: Vec<u32>,
    /// Row of each (values, customer).
    index: HashMap<(Box<[u16]>, u32), usize>,
    /// Customer references and their ids (ids are never reused while the model lives).
    customers: HashMap<String, u32>,
    /// Sales in total.
    pub(crate) total: u64,
}

impl Stats {
    pub(crate) fn new(domains: &Domains) -> Stats {
        let n = domains.len();
        let sizes: Vec<usize> = (0..n).map(|o| domains.size(o).unwrap_or(0)).collect();
        let mut offset = Vec::with_capacity(n);
        let mut f = 0;
        for &s in &sizes {
            offset.push(f);
            f += s;
        }
        Stats {
            offset,
            single: vec![0; f],
            known: vec![0; n],
            pairs: (0..n * n).map(|_| None).collect(),
            cols: vec![Vec::new(); n],
            count: Vec::new(),
            customer: Vec::new(),
            index: HashMap::new(),
            customers: HashMap::new(),
            total: 0,
            sizes,
        }
    }

    pub(crate) fn options(&self) -> usize {
        self.sizes.len()
    }

    pub(crate) fn rows(&self) -> usize {
        self.count.len()
    }

    /// The learned values of a sale (others dropped), sorted by option.
    fn learned<'s>(&self, sale: &'s Sale) -> impl Iterator<Item = (OptId, usize)> + 's {
        let sizes = self.sizes.clone();
        sale.values
            .iter()
            .copied()
            .filter(move |&(o, i)| sizes.get(o).is_some_and(|&n| i < n))
    }

    fn key(&self, sale: &Sale) -> Box<[u16]> {
        let mut key = vec![UNKNOWN; self.options()];
        for (o, i) in self.learned(sale) {
            key[o] = u16::try_from(i).unwrap_or(UNKNOWN);
        }
        key.into_boxed_slice()
    }

    /// The id of a customer reference, if it has bought anything.
    pub(crate) fn customer_id(&self, customer: &str) -> Option<u32> {
        self.customers.get(customer).copied()
    }

    /// Adds a sale: O(k²) for a sale recording k options (its value pairs), plus one row
    /// lookup.
    pub(crate) fn add(&mut self, sale: &Sale) {
        let c = sale.count;
        if c == 0 {
            return;
        }
        let key = self.key(sale);
        let cust = match &sale.customer {
            None => NO_CUSTOMER,
            Some(r) => {
                let next = u32::try_from(self.customers.len()).unwrap_or(NO_CUSTOMER - 1);
                *self.customers.entry(r.clone()).or_insert(next)
            }
        };
        self.count_values(&key, c, true);
        match self.index.get(&(key.clone(), cust)) {
            Some(&r) => self.count[r] = self.count[r].saturating_add(c),
            None => {
                let r = self.count.len();
                for (col, &v) in self.cols.iter_mut().zip(key.iter()) {
                    col.push(v);
                }
                self.count.push(c);
                self.customer.push(cust);
                self.index.insert((key, cust), r);
            }
        }
        self.total = self.total.saturating_add(c);
    }

    /// Removes up to `sale.count` sales of exactly this sale (values and customer); returns
    /// how many were removed.
    pub(crate) fn remove(&mut self, sale: &Sale) -> u64 {
        let cust = match &sale.customer {
            None => NO_CUSTOMER,
            Some(r) => match self.customers.get(r) {
                Some(&id) => id,
                None => return 0,
            },
        };
        let key = self.key(sale);
        let Some(&r) = self.index.get(&(key, cust)) else {
            return 0;
        };
        self.remove_from_row(r, sale.count)
    }

    /// Removes every sale of a customer; returns how many were removed.
    pub(crate) fn remove_customer(&mut self, customer: &str) -> u64 {
        let Some(id) = self.customers.remove(customer) else {
            return 0;
        };
        let mut removed = 0u64;
        let mut r = 0;
        while r < self.count.len() {
            if self.customer[r] == id {
                // The last row moves into `r`: look at `r` again.
                removed = removed.saturating_add(self.remove_from_row(r, u64::MAX));
            } else {
                r += 1;
            }
        }
        removed
    }

    fn row_key(&self, r: usize) -> Box<[u16]> {
        self.cols.iter().map(|col| col[r]).collect()
    }

    /// Takes up to `n` sales off row `r` (deleting the row when none is left).
    fn remove_from_row(&mut self, r: usize, n: u64) -> u64 {
        let n = n.min(self.count[r]);
        let key = self.row_key(r);
        self.count_values(&key, n, false);
        self.total -= n;
        self.count[r] -= n;
        if self.count[r] == 0 {
            self.index.remove(&(key, self.customer[r]));
            let last = self.count.len() - 1;
            for col in &mut self.cols {
                col.swap_remove(r);
            }
            self.count.swap_remove(r);
            self.customer.swap_remove(r);
            if r != last {
                let moved = (self.row_key(r), self.customer[r]);
                self.index.insert(moved, r);
            }
        }
        n
    }

    /// Adds (or takes away) `c` sales of the row `key` to the value and pair counts.
    fn count_values(&mut self, key: &[u16], c: u64, add: bool) {
        let n = self.options();
        let vals: Vec<(usize, usize)> = key
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != UNKNOWN)
            .map(|(o, &v)| (o, usize::from(v)))
            .collect();
        let step = |x: &mut u64| {
            *x = if add {
                x.saturating_add(c)
            } else {
                x.saturating_sub(c)
            }
        };
        for (k, &(a, i)) in vals.iter().enumerate() {
            step(&mut self.known[a]);
            step(&mut self.single[self.offset[a] + i]);
            for &(b, j) in &vals[k + 1..] {
                let (sa, sb) = (self.sizes[a], self.sizes[b]);
                self.pairs[a * n + b]
                    .get_or_insert_with(|| Box::new(PairBlock::new(sa, sb)))
                    .update(i, j, c, add);
            }
        }
    }

    /// Sales recording option `o`.
    pub(crate) fn known(&self, o: OptId) -> u64 {
        self.known.get(o).copied().unwrap_or(0)
    }

    /// Sales with value `i` of option `o`.
    pub(crate) fn single(&self, o: OptId, i: usize) -> u64 {
        self.single[self.offset[o] + i]
    }

    /// Sales with value `i` of `a` and value `j` of `b`.
    fn pair(&self, (a, i): (OptId, usize), (b, j): (OptId, usize)) -> u64 {
        let n = self.options();
        let (a, i, b, j) = if a < b { (a, i, b, j) } else { (b, j, a, i) };
        self.pairs[a * n + b]
            .as_ref()
            .map_or(0, |blk| blk.counts[i * self.sizes[b] + j])
    }

    /// How much of `v`'s entropy the value of `o` explains, `I(o; v) / H(v)` over the sales
    /// recording both, in [0, 1] (0 for `o == v`).
    pub(crate) fn relevance(&self, o: OptId, v: OptId) -> f64 {
        let n = self.options();
        match o.cmp(&v) {
            std::cmp::Ordering::Less => self.pairs[o * n + v]
                .as_ref()
                .map_or(0.0, |b| b.explained(true)),
            std::cmp::Ordering::Greater => self.pairs[v * n + o]
                .as_ref()
                .map_or(0.0, |b| b.explained(false)),
            std::cmp::Ordering::Equal => 0.0,
        }
    }
}

/// The current choices as the model sees them, with each row's agreement, updated choice by
/// choice (one pass over the rows per choice).
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) chosen: Vec<(OptId, usize)>,
    /// Per row: how many chosen values it shares.
    shared: Vec<u16>,
    pub(crate) customer: Option<u32>,
}

impl Query {
    pub(crate) fn new(stats: &Stats, customer: Option<u32>) -> Query {
        Query {
            chosen: Vec::new(),
            shared: vec![0; stats.rows()],
            customer,
        }
    }

    /// Adds a choice (ignored for an option that is not learned or already chosen).
    pub(crate) fn choose(&mut self, stats: &Stats, o: OptId, i: usize) {
        if stats.sizes.get(o).is_none_or(|&n| i >= n) || self.chosen.iter().any(|&(x, _)| x == o) {
            return;
        }
        self.chosen.push((o, i));
        let Ok(v) = u16::try_from(i) else { return };
        for (s, &x) in self.shared.iter_mut().zip(&stats.cols[o]) {
            *s += u16::from(x == v);
        }
    }
}

/// The rows' vote weights for one query: `count × exp(-decay × d)` with `d` measured from the
/// best-agreeing row (the common factor cancels in every share), rows under the negligible
/// weight left out. Every row may get a uniform `base` factor, counted through the value
/// totals at once, and then only the rows whose factor differs are listed (with the
/// difference): the base is the most common factor when that lists fewer rows than leaving
/// it at 0, which makes the empty selection (every row alike) cost nothing per row.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// (row, weight minus the base's share) for the rows whose factor is not the base.
    rows: Vec<(u32, f64)>,
    /// Weight factor of every row.
    base: f64,
    /// The customer's rows: (row, weight, count).
    mine: Vec<(u32, f64, u64)>,
}

/// `exp(-decay × (far - nearest))` per distance, 0 under the negligible weight.
fn factors(far: &[f64], decay: f64) -> Vec<f64> {
    let nearest = far.iter().copied().fold(f64::INFINITY, f64::min);
    far.iter()
        .map(|&d| {
            let x = (d - nearest) * decay;
            if x < NEGLIGIBLE { (-x).exp() } else { 0.0 }
        })
        .collect()
}

/// The rows of the history grouped by the set of chosen values they do not share: rows in one
/// group are equally far from the query for every option recommended, so a query that
/// recommends many options weighs each group once per option, not each row.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    /// The rows that vote: all (`None`), or with more than [`MAX_SCORED_ROWS`] distinct rows
    /// the nearest ones (sharing the most chosen values) and every row of the customer's.
    rows: Option<Vec<u32>>,
    /// Per voting row (in `rows` order, or per row): its group.
    of_row: Vec<u32>,
    /// Per group, `bytes` bytes: bit k set when its rows do not share `Query::chosen[k]`.
    missed: Vec<u8>,
    bytes: usize,
    groups: usize,
}

/// Neighbours' votes for the values of one option (by domain index).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Votes {
    /// From every row.
    pub(crate) all: Vec<f64>,
    /// From the customer's rows only (empty without a customer).
    pub(crate) mine: Vec<f64>,
    /// The customer's sales per value, unweighted (empty without a customer).
    pub(crate) mine_sales: Vec<u64>,
}

impl Stats {
    /// The rows' weights under `Neighbours { decay }` for the query (`decay` 0 weighs every row
    /// alike: the most popular value).
    pub(crate) fn weights(&self, q: &Query, decay: f64) -> Weights {
        let best = q.shared.iter().copied().max().unwrap_or(0);
        let table: Vec<f64> = (0..=best)
            .map(|s| {
                let far = f64::from(best - s) * decay;
                if far < NEGLIGIBLE { (-far).exp() } else { 0.0 }
            })
            .collect();
        let mut hist = vec![0usize; table.len()];
        for &s in &q.shared {
            hist[usize::from(s)] += 1;
        }
        let (common, in_common) = hist
            .iter()
            .enumerate()
            .max_by_key(|&(s, &k)| (k, s))
            .map_or((0, 0), |(s, &k)| (s, k));
        let nonzero: usize = hist
            .iter()
            .zip(&table)
            .filter(|&(_, &w)| w > 0.0)
            .map(|(&k, _)| k)
            .sum();
        let base = if q.shared.len() - in_common < nonzero {
            table.get(common).copied().unwrap_or(0.0)
        } else {
            0.0
        };
        let mut rows = Vec::new();
        let mut mine = Vec::new();
        for (r, &s) in q.shared.iter().enumerate() {
            let w = table[usize::from(s)];
            let c = self.count[r] as f64;
            if w != base {
                rows.push((r as u32, c * (w - base)));
            }
            if q.customer.is_some_and(|id| self.customer[r] == id) {
                mine.push((r as u32, c * w, self.count[r]));
            }
        }
        Weights { rows, base, mine }
    }

    /// Neighbours' votes for the values of `v`.
    pub(crate) fn votes(&self, w: &Weights, v: OptId) -> Votes {
        let size = self.sizes[v];
        let col = &self.cols[v];
        let mut all: Vec<f64> = if w.base > 0.0 {
            (0..size)
                .map(|i| w.base * self.single(v, i) as f64)
                .collect()
        } else {
            vec![0.0; size]
        };
        for &(r, x) in &w.rows {
            let a = col[r as usize];
            if a != UNKNOWN {
                all[usize::from(a)] += x;
            }
        }
        // Rounding in the base's correction must not leave a vote negative.
        for x in &mut all {
            *x = x.max(0.0);
        }
        let (mut mine, mut mine_sales) = if w.mine.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (vec![0.0; size], vec![0u64; size])
        };
        for &(r, x, n) in &w.mine {
            let a = col[r as usize];
            if a != UNKNOWN {
                mine[usize::from(a)] += x;
                mine_sales[usize::from(a)] += n;
            }
        }
        Votes {
            all,
            mine,
            mine_sales,
        }
    }

    /// The rows grouped by which chosen values they do not share (see [`Patterns`]): O(rows ×
    /// choices), once per query.
    pub(crate) fn patterns(&self, q: &Query) -> Patterns {
        let rows = self.nearest_rows(q);
        let n = rows.as_ref().map_or(self.rows(), Vec::len);
        let row_at = |k: usize| rows.as_ref().map_or(k, |v| v[k] as usize);
        let bytes = q.chosen.len().div_ceil(8);
        let mut bits = vec![0u8; n * bytes];
        for (c, &(o, x)) in q.chosen.iter().enumerate() {
            let x = u16::try_from(x).unwrap_or(UNKNOWN);
            let col = &self.cols[o];
            for k in 0..n {
                if col[row_at(k)] != x {
                    bits[k * bytes + c / 8] |= 1 << (c % 8);
                }
            }
        }
        let mut ids: HashMap<&[u8], u32> = HashMap::new();
        let mut missed: Vec<u8> = Vec::new();
        let mut groups = 0u32;
        let of_row = (0..n)
            .map(|r| {
                let key = &bits[r * bytes..(r + 1) * bytes];
                *ids.entry(key).or_insert_with(|| {
                    missed.extend_from_slice(key);
                    groups += 1;
                    groups - 1
                })
            })
            .collect();
        Patterns {
            rows,
            of_row,
            missed,
            bytes,
            groups: groups as usize,
        }
    }

    /// With more than [`MAX_SCORED_ROWS`] distinct rows, the rows that vote: the
    /// `MAX_SCORED_ROWS` sharing the most chosen values (more sold first among equals), and
    /// every row of the query's customer; `None` (every row) otherwise. Far rows' votes weigh
    /// `exp(-decay × distance)` of the nearest ones', so leaving them out bounds the work of a
    /// call on a large history and changes little (the Renault history has 939 distinct rows:
    /// no change there).
    fn nearest_rows(&self, q: &Query) -> Option<Vec<u32>> {
        if self.rows() <= MAX_SCORED_ROWS {
            return None;
        }
        let mut order: Vec<u32> = (0..u32::try_from(self.rows()).unwrap_or(u32::MAX)).collect();
        let rank = |r: u32| {
            let r = r as usize;
            (
                std::cmp::Reverse(q.shared[r]),
                std::cmp::Reverse(self.count[r]),
            )
        };
        order.select_nth_unstable_by_key(MAX_SCORED_ROWS, |&r| rank(r));
        let mut keep: Vec<u32> = order[..MAX_SCORED_ROWS].to_vec();
        if let Some(id) = q.customer {
            keep.extend(
                order[MAX_SCORED_ROWS..]
                    .iter()
                    .copied()
                    .filter(|&r| self.customer[r as usize] == id),
            );
        }
        keep.sort_unstable();
        Some(keep)
    }

    /// Relevance-weighted neighbours' votes for the values of `v` (see
    /// [`Method::Relevance`]): O(rows × choices), or with the query's patterns O(patterns ×
    /// choices / 8 + rows).
    pub(crate) fn relevance_votes(
        &self,
        q: &Query,
        v: OptId,
        decay: f64,
        patterns: Option<&Patterns>,
    ) -> Votes {
        match patterns {
            Some(p) => {
                let factor = self.pattern_factors(q, v, p, decay);
                self.votes_from_factors(q, v, &factor, Some((&p.of_row, p.rows.as_deref())))
            }
            None => {
                let far = self.relevance_far(q, v);
                self.votes_from_far(q, v, &far, decay)
            }
        }
    }

    /// Per row: how far it is from the query for `v`, `Σ I(o; v) / H(v)` over the chosen
    /// options `o` it does not share.
    pub(crate) fn relevance_far(&self, q: &Query, v: OptId) -> Vec<f64> {
        let mut far = vec![0.0f64; self.rows()];
        for &(o, x) in &q.chosen {
            let w = self.relevance(o, v);
            if w <= 0.0 {
                continue;
            }
            let x = u16::try_from(x).unwrap_or(UNKNOWN);
            for (d, &y) in far.iter_mut().zip(&self.cols[o]) {
                if y != x {
                    *d += w;
                }
            }
        }
        far
    }

    /// Each pattern's vote factor `exp(-decay × (far - nearest))` for `v`. A pattern's bytes
    /// (8 choices each) look up tables of the 256 sums of that byte's weights (built in 256
    /// additions) and of their exponentials, so that a pattern costs a product of a few table
    /// reads, not an exponential; when the products could underflow (`decay × Σ weights`
    /// over 600) the sums are used instead.
    fn pattern_factors(&self, q: &Query, v: OptId, p: &Patterns, decay: f64) -> Vec<f64> {
        let w: Vec<f64> = q
            .chosen
            .iter()
            .map(|&(o, _)| self.relevance(o, v))
            .collect();
        let mut sums = vec![0.0f64; p.bytes * 256];
        for (c, table) in sums.chunks_mut(256).enumerate() {
            for b in 1..256usize {
                let low = b.trailing_zeros() as usize;
                table[b] = table[b & (b - 1)] + w.get(c * 8 + low).copied().unwrap_or(0.0);
            }
        }
        let key = |g: usize| &p.missed[g * p.bytes..(g + 1) * p.bytes];
        let floor = (-NEGLIGIBLE).exp();
        if decay * w.iter().sum::<f64>() < 600.0 {
            let exps: Vec<f64> = sums.iter().map(|&t| (-decay * t).exp()).collect();
            let prod: Vec<f64> = (0..p.groups)
                .map(|g| {
                    key(g)
                        .iter()
                        .enumerate()
                        .map(|(c, &b)| exps[c * 256 + usize::from(b)])
                        .product()
                })
                .collect();
            let best = prod.iter().copied().fold(0.0f64, f64::max);
            prod.iter()
                .map(|&x| {
                    let f = if best > 0.0 { x / best } else { 0.0 };
                    if f > floor { f } else { 0.0 }
                })
                .collect()
        } else {
            let far: Vec<f64> = (0..p.groups)
                .map(|g| {
                    key(g)
                        .iter()
                        .enumerate()
                        .map(|(c, &b)| sums[c * 256 + usize::from(b)])
                        .sum()
                })
                .collect();
            factors(&far, decay)
        }
    }

    /// The votes for the values of `v` of rows at the given distances.
    pub(crate) fn votes_from_far(&self, q: &Query, v: OptId, far: &[f64], decay: f64) -> Votes {
        self.votes_from_factors(q, v, &factors(far, decay), None)
    }

    /// The votes for the values of `v`: each row's count times its factor (per row, or per
    /// group with `of_row` giving each row's).
    fn votes_from_factors(
        &self,
        q: &Query,
        v: OptId,
        factor: &[f64],
        groups: Option<(&[u32], Option<&[u32]>)>,
    ) -> Votes {
        let size = self.sizes[v];
        let col = &self.cols[v];
        let mut all = vec![0.0; size];
        let (mut mine, mut mine_sales) = match q.customer {
            Some(_) => (vec![0.0; size], vec![0u64; size]),
            None => (Vec::new(), Vec::new()),
        };
        // (row, its factor's index): every row, or the voting subset with its groups.
        let n = match groups {
            Some((ids, _)) => ids.len(),
            None => col.len(),
        };
        for k in 0..n {
            let (r, g) = match groups {
                Some((ids, Some(rows))) => (rows[k] as usize, ids[k] as usize),
                Some((ids, None)) => (k, ids[k] as usize),
                None => (k, k),
            };
            let a = col[r];
            if a == UNKNOWN {
                continue;
            }
            let a = usize::from(a);
            let w = self.count[r] as f64 * factor[g];
            all[a] += w;
            if q.customer.is_some_and(|id| self.customer[r] == id) {
                mine[a] += w;
                mine_sales[a] += self.count[r];
            }
        }
        Votes {
            all,
            mine,
            mine_sales,
        }
    }

    /// Naive Bayes' log-score of value `a` of `v` given the chosen values.
    pub(crate) fn naive_bayes(&self, chosen: &[(OptId, usize)], v: OptId, a: usize) -> f64 {
        let na = self.single(v, a) as f64;
        let mut s =
            ((na + NB_ALPHA) / (self.known[v] as f64 + NB_ALPHA * self.sizes[v] as f64)).ln();
        for &(o, x) in chosen {
            if o == v {
                continue;
            }
            let joint = self.pair((o, x), (v, a)) as f64;
            s += ((joint + NB_ALPHA) / (na + NB_ALPHA * self.sizes[o] as f64)).ln();
        }
        s
    }
}
