//! Personalization at run time: one `Recommender` per product of the serving version, learned from the database's sales history (imports and orders, read incrementally so every instance learns every order), history import, customer erasure and the popular configurations.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::configure::{PREVIEW_WIDTH, Quote, completion, preview_url};
use super::values::Choices;
use super::{App, AppError};
use crate::catalog::Product;
use crate::orders::NewSale;
use crate::recommend::{Recommender, Sale, parse_history};
use crate::rules::Selection;

/// How often the server reads what other instances sold (orders placed elsewhere); an
/// instance's own orders and imports are read at once.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The serving version's recommenders and how far they have read the history.
#[derive(Debug, Default)]
pub struct Learned {
    /// The catalog version they number values for.
    version: String,
    pub recommenders: BTreeMap<String, Arc<Recommender>>,
    /// The last history row read.
    last_sale: Option<i64>,
    /// The database's erasure count when the history was read (a change: read it all again).
    erasures: i64,
    /// Bumped whenever what was learned changes (part of the configure cache key).
    pub generation: u64,
}

/// The recommenders and when they last read the history.
#[derive(Debug, Default)]
pub struct Personal {
    pub learned: RwLock<Learned>,
    /// Held by the refresh that is reading the history.
    refreshing: Mutex<()>,
}

/// A sale as the history stores it, read against today's product: values that no longer
/// exist are left out (the rest still informs preferences).
fn sale_of(product: &Product, recommender: &Recommender, s: &crate::orders::Sale) -> Option<Sale> {
    let choices: Choices = serde_json::from_value(s.selection.clone()).ok()?;
    let mut sel = Selection::default();
    for (k, v) in choices.set() {
        let one = Choices(vec![(k.to_owned(), Some(v.clone()))]);
        if let Ok(parsed) = one.parse(product) {
            sel.choices.extend(parsed.choices);
        }
    }
    let sale = Sale::from_selection(recommender.domains(), &sel)
        .times(u64::try_from(s.count).unwrap_or(1));
    Some(match &s.customer_ref {
        Some(c) => sale.by(c),
        None => sale,
    })
}

/// A popular configuration.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PopularConfiguration {
    /// How many times it was sold (over all customers).
    pub count: u64,
    /// A full valid configuration keeping the sold values (the rest completed by recommendation).
    pub selection: Choices,
    pub price: Quote,
    pub preview_url: Option<String>,
}

/// A history row the import could not use as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryProblem {
    /// 1-based line in the file.
    pub line: usize,
    pub message: String,
    /// Whether the row was left out (an unknown option or value); inconsistent rows are kept.
    pub skipped: bool,
}

/// What a history import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryImport {
    pub product: String,
    /// Hex SHA-256 of the file: the same content is imported once.
    pub content_sha256: String,
    /// False when this content was imported before (nothing was added).
    pub new: bool,
    /// Rows read as sales, and the sales they stand for (`count` column).
    pub rows: usize,
    pub sales: u64,
    /// Rows today's rules do not allow: kept (they still inform preferences among the values
    /// the rules allow), listed here.
    pub inconsistent: usize,
    pub problems: Vec<HistoryProblem>,
}

/// A customer's history erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CustomerErased {
    pub customer_ref: String,
    /// History rows deleted (orders themselves stay).
    pub deleted: u64,
}

impl App {
    /// Reads what is new in the sales history into the serving version's recommenders
    /// (everything, after a reload or an erasure). The database is read without holding the
    /// recommenders' lock (configure keeps answering with what was learned), and one refresh
    /// runs at a time. A database failure is logged: the recommenders keep what they had.
    pub fn refresh_history(&self) {
        let Ok(_one_at_a_time) = self.personal.refreshing.lock() else {
            return;
        };
        let snap = self.snapshot();
        let state = match self.db.history_state() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot read the sales history: {e}");
                return;
            }
        };
        // What was learned, as of this refresh (only refreshes change it, and this is the one).
        let (fresh, after) = match self.personal.learned.read() {
            Ok(l) if l.version == snap.version() && l.erasures == state.erasures => {
                if l.last_sale.is_some_and(|last| last >= state.last_sale_id) {
                    return;
                }
                (None, l.last_sale)
            }
            Ok(_) => {
                let fresh: BTreeMap<String, Arc<Recommender>> = snap
                    .catalog
                    .products()
                    .iter()
                    .map(|p| (p.id.clone(), Arc::new(Recommender::new(p))))
                    .collect();
                (Some(fresh), None)
            }
            Err(_) => return,
        };
        let mut read = Vec::new();
        for p in snap.catalog.products() {
            match self.db.history_since(&p.id, after) {
                // Sales committed after `state` was read are left for the next refresh, which
                // starts after `state.last_sale_id`.
                Ok(mut sales) => {
                    sales.retain(|s| s.id <= state.last_sale_id);
                    if !sales.is_empty() {
                        read.push((p, sales));
                    }
                }
                Err(e) => {
                    tracing::warn!(product = %p.id, "cannot read the sales history: {e}");
                    return;
                }
            }
        }
        let Ok(mut learned) = self.personal.learned.write() else {
            return;
        };
        let rebuilt = fresh.is_some();
        if let Some(fresh) = fresh {
            learned.version = snap.version().to_owned();
            learned.recommenders = fresh;
            learned.erasures = state.erasures;
        }
        let mut changed = rebuilt;
        for (p, sales) in &read {
            if let Some(rec) = learned.recommenders.get_mut(&p.id) {
                let rec = Arc::make_mut(rec);
                for s in sales {
                    if let Some(sale) = sale_of(p, rec, s) {
                        rec.add(&sale);
                        changed = true;
                    }
                }
            }
        }
        learned.last_sale = Some(state.last_sale_id);
        if changed {
            learned.generation += 1;
        }
    }

    /// Starts the thread that reads what other instances sold every `REFRESH_EVERY`, for as
    /// long as the app lives (an instance's own orders and imports are read at once).
    pub fn keep_history_fresh(app: std::sync::Weak<App>) {
        let spawned = std::thread::Builder::new()
            .name("bespoke-history".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(REFRESH_EVERY);
                    let Some(app) = app.upgrade() else {
                        return;
                    };
                    app.refresh_history();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("could not start the sales history reader: {e}");
        }
    }

    /// The recommender of a product of the serving version, and the learning generation.
    pub fn recommender(&self, product: &str) -> (Option<Arc<Recommender>>, u64) {
        match self.personal.learned.read() {
            Ok(l) if l.version == self.snapshot().version() => {
                (l.recommenders.get(product).cloned(), l.generation)
            }
            _ => (None, 0),
        }
    }

    /// Imports a history file (CSV, see docs/personalization.md) for a product: idempotent per
    /// content; rows with unknown options or values are reported by line and left out; rows
    /// today's rules forbid are reported and kept.
    pub fn import_history(
        &self,
        product: &str,
        file_name: Option<&str>,
        bytes: &[u8],
    ) -> Result<HistoryImport, AppError> {
        let snap = self.snapshot();
        let (p, engine) = snap.product(product)?;
        let mut file = parse_history(p, bytes);
        // A problem with the file as a whole (empty, no header, too large): nothing to import.
        if let Some(x) = file
            .problems
            .iter()
            .find(|x| matches!(x.problem, crate::recommend::Problem::File(_)))
        {
            return Err(AppError::BadRequest(format!(
                "the history file cannot be imported: {} (line {})",
                x.problem, x.line
            )));
        }
        let inconsistent = file.check_rules(engine)?.len();
        let domains = crate::recommend::Domains::of(p);
        let sales: Vec<NewSale> = file
            .sales
            .iter()
            .map(|row| NewSale {
                product_id: p.id.clone(),
                catalog_version: Some(snap.version().to_owned()),
                selection: Choices::of(p, &row.sale.selection(&domains)).stored(),
                count: i64::try_from(row.sale.count).unwrap_or(i64::MAX),
                customer_ref: row.sale.customer.clone(),
            })
            .collect();
        let (info, created) = self
            .db
            .import_history(&p.id, &file.digest, file_name, sales)?;
        self.refresh_history();
        Ok(HistoryImport {
            product: p.id.clone(),
            content_sha256: info.content_sha256,
            new: created,
            rows: file.sales.len(),
            sales: file.total(),
            inconsistent,
            problems: file
                .problems
                .iter()
                .map(|x| HistoryProblem {
                    line: x.line,
                    message: x.problem.to_string(),
                    skipped: x.problem.skips_row(),
                })
                .collect(),
        })
    }

    /// Erases a customer's history (every product); orders stay, their influence goes.
    pub fn erase_customer(&self, customer_ref: &str) -> Result<CustomerErased, AppError> {
        let deleted = self.db.delete_customer_history(customer_ref)?;
        self.refresh_history();
        Ok(CustomerErased {
            customer_ref: customer_ref.to_owned(),
            deleted,
        })
    }

    /// The `limit` most ordered complete configurations valid under today's rules.
    pub fn popular(
        &self,
        product: &str,
        limit: usize,
    ) -> Result<Vec<PopularConfiguration>, AppError> {
        let snap = self.snapshot();
        let (p, engine) = snap.product(product)?;
        let (rec, _) = self.recommender(product);
        let rec = rec.unwrap_or_else(|| Arc::new(Recommender::new(p)));
        let mut out = Vec::new();
        for top in rec.popular(engine, limit)? {
            let sel = top.sale.selection(rec.domains());
            let done = completion(engine, &sel, &top.completion);
            let Ok(full) = done.selection.parse(p) else {
                continue;
            };
            if !done.needs_input.is_empty() || !engine.validate(&full).valid {
                continue;
            }
            let quote = crate::pricing::quote(p, &full).map_err(AppError::Pricing)?;
            out.push(PopularConfiguration {
                count: top.count,
                preview_url: p
                    .preview
                    .as_ref()
                    .map(|_| preview_url(p, &done.selection, PREVIEW_WIDTH)),
                selection: done.selection,
                price: Quote::of(&quote),
            });
        }
        Ok(out)
    }
}
