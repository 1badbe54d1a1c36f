//! Personalization: learns from order history which value a customer is likely to choose for each open option, and recommends it, always among the values the rules still allow.
//!
//! Pure: no IO, no HTTP, no database. The application keeps one [`Recommender`] per product
//! (and catalog version: it numbers values as that version's engine does), feeds it every
//! order and imported history, and asks it after each `propagate`:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use bespoke::recommend::{Recommender, Sale, parse_history};
//! # use bespoke::rules::{Engine, Selection};
//! # fn demo(engine: &Engine, csv: &[u8], sel: &Selection) -> Result<(), bespoke::rules::EngineError> {
//! let mut rec = Recommender::new(&engine.product);
//! let mut file = parse_history(&engine.product, csv);      // problems with line numbers
//! file.check_rules(engine)?;                               // + rows today's rules forbid
//! rec.import(&file);                                       // false if this content was imported
//! rec.add(&Sale::from_selection(rec.domains(), sel).by("cust-42"));  // one placed order
//! let prop = engine.propagate(sel)?;
//! let recs = rec.recommend(engine, sel, &prop, Some("cust-42"));
//! for r in recs.options.iter().flatten() {
//!     println!("{} → {:?} ({:.0} %)", engine.product.options[r.option].id, r.value, 100.0 * r.confidence);
//! }
//! let full = rec.recommended_completion(engine, sel, &recs)?;  // one index per option
//! let top = rec.popular(engine, 5)?;                        // most sold valid configurations
//! # Ok(()) }
//! ```
//!
//! - [`Recommender::add`] / [`Recommender::remove`] update the model in O(k²) for a sale of k
//!   options (its value-pair counts) plus one row lookup: no retraining, ever.
//!   [`Recommender::remove_customer`] takes a customer's every sale out (privacy).
//! - [`Recommender::recommend`] answers, for every open option with available values, one of
//!   them (never another: the values come from the engine's `Propagation`) and a confidence in
//!   [0, 1] (its share of the votes among the available values; 1 when it is the only one).
//! - [`Recommender::recommended_completion`] turns the recommendations into one valid
//!   configuration (`Engine::complete_preferring`, most confident first).
//! - [`eval`] is the built-in evaluation (`bespoke recommend eval`): the research protocol with
//!   the engine as the filter, the two baselines beside the method. [`eval::choose_decay`]
//!   picks the method's one parameter for a product's own history by the same
//!   cross-validation; [`Recommender::with_method`] applies it.
//!
//! The method (relevance-weighted neighbours) and why: docs/personalization.md.

pub mod eval;
pub mod history;
mod model;

use std::collections::HashMap;

pub use history::{
    Domains, HistoryFile, MAX_HISTORY_BYTES, MAX_LEARNED_VALUES, Problem, RowProblem, Sale,
    SaleRow, consistent, parse_history,
};
pub use model::Method;

use crate::catalog::model::{OptId, Product, Value};
use crate::rules::{Engine, EngineError, Propagation, Selection};
use model::{Query, Stats};

/// How many of a customer's own sales weigh as much as everyone else's together: the
/// customer's share of the vote is `n / (n + CUSTOMER_PRIOR)` for a customer with `n` sales
/// recording the option (1 sale: half the vote; 4 sales: 80 %). One sale is the smallest
/// choice that lets a single earlier order matter ("their usual size").
pub const CUSTOMER_PRIOR: f64 = 1.0;

/// The recommendation for one open option.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    pub option: OptId,
    /// The recommended domain index (as the engine numbers values).
    pub index: usize,
    /// The value (`None`: leave the optional option unset).
    pub value: Option<Value>,
    /// In [0, 1]: the value's share of the votes among the available values.
    pub confidence: f64,
    /// Every available value, best first (the first is `index`).
    pub ranked: Vec<usize>,
}

/// The recommendations for a selection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recommendations {
    /// Per option, in product order: `None` for a chosen option, one no history can speak for
    /// (text, upload) or one without an available value.
    pub options: Vec<Option<Recommendation>>,
}

/// A most-sold configuration that today's rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popular {
    /// The values as sold (the options the history records).
    pub sale: Sale,
    /// How many times it was sold (over all customers).
    pub count: u64,
    /// A full valid configuration keeping them (one index per option), the other options
    /// completed with their recommendations.
    pub completion: Vec<usize>,
}

/// What an import added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// False when a file with the same content was imported before (nothing added).
    pub new: bool,
    /// Sales added (the sum of counts).
    pub sales: u64,
}

/// The recommender of one product version: what it learned from sales, and how it scores.
#[derive(Debug, Clone)]
pub struct Recommender {
    domains: Domains,
    stats: Stats,
    method: Method,
    /// Digests of the history files imported (idempotent imports).
    imported: Vec<String>,
    /// Each option's default index, for options no sale speaks for.
    defaults: Vec<Option<usize>>,
}

impl Recommender {
    /// An empty recommender for a product, using [`Method::DEFAULT`].
    pub fn new(product: &Product) -> Recommender {
        let domains = Domains::of(product);
        let defaults = product
            .options
            .iter()
            .enumerate()
            .map(|(o, def)| def.default.as_ref().and_then(|d| domains.index_of(o, d)))
            .collect();
        Recommender {
            stats: Stats::new(&domains),
            domains,
            method: Method::DEFAULT,
            imported: Vec::new(),
            defaults,
        }
    }

    /// The same recommender scoring with another method (the evaluation's baselines).
    pub fn with_method(mut self, method: Method) -> Recommender {
        self.method = method;
        self
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// How the product's values are numbered (to build [`Sale`]s).
    pub fn domains(&self) -> &Domains {
        &self.domains
    }

    /// Sales learned (the sum of counts).
    pub fn sales(&self) -> u64 {
        self.stats.total
    }

    /// Learns one sale (an order placed, or a history row).
    pub fn add(&mut self, sale: &Sale) {
        self.stats.add(sale);
    }

    /// Forgets up to `sale.count` sales identical to `sale` (same values and customer), e.g.
    /// a cancelled order; returns how many were forgotten.
    pub fn remove(&mut self, sale: &Sale) -> u64 {
        self.stats.remove(sale)
    }

    /// Forgets every sale of a customer; returns how many.
    pub fn remove_customer(&mut self, customer: &str) -> u64 {
        self.stats.remove_customer(customer)
    }

    /// Learns a history file's sales unless a file with the same content was imported before.
    /// Every sale is learned, also the rows today's rules forbid (see docs/personalization.md).
    pub fn import(&mut self, file: &HistoryFile) -> Imported {
        if self.imported.contains(&file.digest) {
            return Imported {
                new: false,
                sales: 0,
            };
        }
        self.imported.push(file.digest.clone());
        for row in &file.sales {
            self.add(&row.sale);
        }
        Imported {
            new: true,
            sales: file.total(),
        }
    }

    /// Whether a history file with this digest was imported.
    pub fn has_imported(&self, digest: &str) -> bool {
        self.imported.iter().any(|d| d == digest)
    }

    /// The model's view of a selection, for a customer.
    fn query(&self, sel: &Selection, customer: Option<&str>) -> Query {
        let mut q = Query::new(
            &self.stats,
            customer.and_then(|c| self.stats.customer_id(c)),
        );
        for (o, i) in Sale::from_selection(&self.domains, sel).values {
            q.choose(&self.stats, o, i);
        }
        q
    }

    /// A recommendation for every open option that has available values (see
    /// [`Recommendations`]); `prop` is the engine's answer for `sel`. Never recommends a value
    /// `prop` does not list as available.
    pub fn recommend(
        &self,
        engine: &Engine,
        sel: &Selection,
        prop: &Propagation,
        customer: Option<&str>,
    ) -> Recommendations {
        let n = self.domains.len();
        let mut out = Recommendations {
            options: vec![None; n],
        };
        if !prop.consistent {
            return out;
        }
        let q = self.query(sel, customer);
        let scorer = Scorer::new(self, &q).for_many();
        for (o, slot) in out.options.iter_mut().enumerate() {
            let Some(av) = prop.options.get(o) else {
                continue;
            };
            // The engine must number this option's values as the model does.
            let same = engine
                .model
                .vars
                .get(o)
                .is_some_and(|v| Some(v.size) == self.domains.size(o));
            if av.selected.is_some() || av.available.is_empty() {
                continue;
            }
            *slot = if same {
                scorer.pick(o, &av.available)
            } else {
                None
            };
        }
        out
    }

    /// The recommendation for one open option given its available values (domain indices);
    /// `None` if none is available or the option is not learned.
    pub fn recommend_option(
        &self,
        sel: &Selection,
        customer: Option<&str>,
        option: OptId,
        available: &[usize],
    ) -> Option<Recommendation> {
        let q = self.query(sel, customer);
        Scorer::new(self, &q).pick(option, available)
    }

    /// One valid configuration (an index per option) that extends `sel` with the
    /// recommendations, the most confident kept first (`Engine::complete_preferring`); the
    /// options without a recommendation get their defaults where the rules allow. `None` when
    /// the selection has no completion.
    pub fn recommended_completion(
        &self,
        engine: &Engine,
        sel: &Selection,
        recs: &Recommendations,
    ) -> Result<Option<Vec<usize>>, EngineError> {
        let mut ranked: Vec<&Recommendation> = recs.options.iter().flatten().collect();
        ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let ranked: Vec<(OptId, Vec<usize>)> = ranked
            .iter()
            .map(|r| (r.option, r.ranked.clone()))
            .collect();
        engine.complete_preferring(sel, &ranked)
    }

    /// The `limit` most sold configurations (over all customers, each as the history records
    /// it) that today's rules allow, most sold first, each with a full valid configuration
    /// that keeps its values (the options it does not record completed by recommendation).
    pub fn popular(&self, engine: &Engine, limit: usize) -> Result<Vec<Popular>, EngineError> {
        let s = &self.stats;
        let mut by_values: HashMap<Vec<u16>, u64> = HashMap::new();
        for r in 0..s.rows() {
            let key: Vec<u16> = s.cols.iter().map(|c| c[r]).collect();
            let e = by_values.entry(key).or_insert(0);
            *e = e.saturating_add(s.count[r]);
        }
        let mut rows: Vec<(Vec<u16>, u64)> = by_values.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut out = Vec::new();
        for (key, count) in rows {
            if out.len() >= limit {
                break;
            }
            let sale = Sale::new(
                key.iter()
                    .enumerate()
                    .filter(|&(_, &v)| v != model::UNKNOWN)
                    .map(|(o, &v)| (o, usize::from(v)))
                    .collect(),
            );
            let sel = sale.selection(&self.domains);
            let q = self.query(&sel, None);
            let scorer = Scorer::new(self, &q).for_many();
            // The sale's own values first (its "not chosen" ones included), then the other
            // options' recommendations over their whole domains (the search keeps it valid).
            let mut ranked: Vec<(OptId, Vec<usize>, f64)> = sale
                .values
                .iter()
                .map(|&(o, i)| (o, vec![i], f64::INFINITY))
                .collect();
            for o in 0..self.domains.len() {
                if sale.values.iter().any(|&(x, _)| x == o) {
                    continue;
                }
                let Some(size) = self.domains.size(o) else {
                    continue;
                };
                let all: Vec<usize> = (0..size).collect();
                if let Some(r) = scorer.pick(o, &all) {
                    ranked.push((o, r.ranked, r.confidence));
                }
            }
            ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
            let ranked: Vec<(OptId, Vec<usize>)> =
                ranked.into_iter().map(|(o, r, _)| (o, r)).collect();
            let Some(completion) = engine.complete_preferring(&sel, &ranked)? else {
                continue;
            };
            if sale
                .values
                .iter()
                .all(|&(o, i)| completion.get(o) == Some(&i))
            {
                out.push(Popular {
                    sale,
                    count,
                    completion,
                });
            }
        }
        Ok(out)
    }
}

/// Scores options' values for one query under the recommender's method.
struct Scorer<'a> {
    rec: &'a Recommender,
    q: &'a Query,
    method: Method,
    weights: Option<model::Weights>,
    /// Whether many options are scored: relevance then groups the rows once (see
    /// `model::Patterns`), when the first option needs it.
    many: bool,
    patterns: std::cell::OnceCell<model::Patterns>,
}

impl<'a> Scorer<'a> {
    fn new(rec: &'a Recommender, q: &'a Query) -> Scorer<'a> {
        Scorer::with_method(rec, q, rec.method)
    }

    fn with_method(rec: &'a Recommender, q: &'a Query, method: Method) -> Scorer<'a> {
        let weights = match method {
            Method::Neighbours { decay } => Some(rec.stats.weights(q, decay)),
            // The baselines weigh the customer's rows by their counts only.
            Method::Popular | Method::NaiveBayes => q.customer.map(|_| rec.stats.weights(q, 0.0)),
            Method::Relevance { .. } => None,
        };
        Scorer {
            rec,
            q,
            method,
            weights,
            many: false,
            patterns: std::cell::OnceCell::new(),
        }
    }

    /// The same scorer, prepared to score many options of one query.
    fn for_many(mut self) -> Scorer<'a> {
        self.many = true;
        self
    }

    /// The best of the available values of `o` with its confidence.
    fn pick(&self, o: OptId, available: &[usize]) -> Option<Recommendation> {
        let stats = &self.rec.stats;
        let size = self.rec.domains.size(o)?;
        let available: Vec<usize> = available.iter().copied().filter(|&i| i < size).collect();
        if available.is_empty() {
            return None;
        }
        if let [only] = available[..] {
            return Some(Recommendation {
                option: o,
                index: only,
                value: self.rec.domains.value(o, only),
                confidence: 1.0,
                ranked: vec![only],
            });
        }
        // No sale records the option: nothing to weigh.
        let votes = if stats.known(o) == 0 {
            None
        } else {
            match self.method {
                Method::Relevance { decay } => {
                    let patterns = self
                        .many
                        .then(|| self.patterns.get_or_init(|| stats.patterns(self.q)));
                    Some(stats.relevance_votes(self.q, o, decay, patterns))
                }
                _ => self.weights.as_ref().map(|w| stats.votes(w, o)),
            }
        };
        self.decide(o, &available, votes)
    }

    /// The best of the available values (at least two, each in the domain) of `o`, given the
    /// votes (the method's; `None` when nothing voted).
    fn decide(
        &self,
        o: OptId,
        available: &[usize],
        votes: Option<model::Votes>,
    ) -> Option<Recommendation> {
        let stats = &self.rec.stats;
        // Everyone's shares among the available values.
        let mut share: Vec<f64> = match self.method {
            Method::Popular => available
                .iter()
                .map(|&i| stats.single(o, i) as f64)
                .collect(),
            Method::NaiveBayes => {
                let logs: Vec<f64> = available
                    .iter()
                    .map(|&i| stats.naive_bayes(&self.q.chosen, o, i))
                    .collect();
                let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                logs.iter().map(|l| (l - top).exp()).collect()
            }
            Method::Neighbours { .. } | Method::Relevance { .. } => available
                .iter()
                .map(|&i| votes.as_ref().map_or(0.0, |v| v.all[i]))
                .collect(),
        };
        normalize(&mut share);
        // The customer's own sales, weighted in by how many they are.
        if let Some(v) = votes.as_ref().filter(|v| !v.mine.is_empty()) {
            let n: u64 = available.iter().map(|&i| v.mine_sales[i]).sum();
            let mut mine: Vec<f64> = available.iter().map(|&i| v.mine[i]).collect();
            if n > 0 && normalize(&mut mine) {
                let lambda = n as f64 / (n as f64 + CUSTOMER_PRIOR);
                for (s, m) in share.iter_mut().zip(&mine) {
                    *s = (1.0 - lambda) * *s + lambda * m;
                }
            }
        }
        if share.iter().all(|&s| s == 0.0) {
            // No sale speaks for any available value: the default if available, else the
            // first, all equally likely.
            let k = available.len() as f64;
            share = vec![1.0 / k; available.len()];
        }
        // Best first; ties go to the default, then to the more sold value, then to the lower
        // index.
        let default = self.rec.defaults.get(o).copied().flatten();
        let mut order: Vec<usize> = (0..available.len()).collect();
        order.sort_by(|&a, &b| {
            share[b]
                .total_cmp(&share[a])
                .then_with(|| (Some(available[b]) == default).cmp(&(Some(available[a]) == default)))
                .then_with(|| {
                    stats
                        .single(o, available[b])
                        .cmp(&stats.single(o, available[a]))
                })
                .then_with(|| available[a].cmp(&available[b]))
        });
        let best = *order.first()?;
        let index = available[best];
        Some(Recommendation {
            option: o,
            index,
            value: self.rec.domains.value(o, index),
            confidence: share[best].clamp(0.0, 1.0),
            ranked: order.iter().map(|&k| available[k]).collect(),
        })
    }
}

/// Scales to sum 1; false (and unchanged) when the sum is not positive.
fn normalize(x: &mut [f64]) -> bool {
    let total: f64 = x.iter().sum();
    if total > 0.0 && total.is_finite() {
        for v in x.iter_mut() {
            *v /= total;
        }
        true
    } else {
        false
    }
}
