//! Use cases (products, configure, quote, preview, orders, reload) over the serving catalog snapshot; no HTTP here.
//!
//! [`App`] owns the serving [`Snapshot`] behind an `RwLock<Arc<_>>`: a request clones the `Arc`
//! once and finishes on that version even if a reload swaps in a new one meanwhile. Reload is
//! validate-then-swap: a catalog with errors never replaces the one that is serving.

pub mod configure;
pub mod designs;
pub mod error;
pub mod fulfilment;
pub mod metrics;
pub mod orders;
pub mod personal;
pub mod print;
pub mod report;
pub mod uploads;
pub mod values;
pub mod views;
pub mod watch;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use crate::catalog::diagnostic::DiagnosticRecord;
use crate::catalog::{self, Catalog, FileSet, Product};
use crate::config::Settings;
use crate::db::Db;
use crate::preview::blob::{BlobStore, FsBlobStore};
use crate::preview::budget::DecodeBudget;
use crate::preview::upload::{StoredUploads, UploadStore};
use crate::preview::{PreviewConfig, Previewer};
use crate::rules::{Engine, Selection};

pub use error::AppError;

/// One loaded, validated catalog version with everything compiled from it.
#[derive(Debug)]
pub struct Snapshot {
    pub catalog: Catalog,
    pub engines: BTreeMap<String, Engine>,
    pub previewer: Previewer,
    pub files: Arc<FileSet>,
    /// The version's warnings (it has no errors, or it would not serve).
    pub warnings: Vec<DiagnosticRecord>,
    pub loaded_at: SystemTime,
    /// Per product: the lowest total over all valid configurations ("from" price), when known.
    pub from_prices: BTreeMap<String, Option<rust_decimal::Decimal>>,
    /// Configure answers of this version, by request (product, choices in order, quantity): a
    /// pure function of them, so storefront traffic, which repeats the same paths, is answered
    /// once. Bounded by (estimated) bytes; dropped with the snapshot on reload.
    pub configure_cache: moka::sync::Cache<String, Arc<configure::Configuration>>,
    /// How far the background warm-up of this version's engines has gone.
    pub warm_up: Arc<Mutex<WarmUpStatus>>,
}

/// How far a version's background warm-up has gone (see `warm`), as `GET /v1/admin/catalog`
/// shows it: answers do not depend on it, only their speed (a version is fully warm at `done`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WarmUpStatus {
    /// The level asked for: `off`, `empty`, `choices` or `pairs` (`--warm-up`).
    pub level: String,
    /// `off`, `running`, `done` (every product reached the level), `partial` (it ran through,
    /// but some product's pairs stopped at its engine's share of memory for explanations), or
    /// `stopped` (at the time limit, or because the version no longer serves).
    pub state: String,
    /// Seconds the warm-up has run (so far, or in all once it ended).
    pub seconds: f64,
    pub products: Vec<ProductWarmUp>,
}

/// One product's warm-up.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProductWarmUp {
    pub product: String,
    /// The highest level completed for it (`empty`, `choices`, `pairs`), if any.
    pub done: Option<String>,
    /// Selections propagated for it so far (the empty one, single choices, pairs).
    pub selections: u64,
    /// Bytes its engine's kept explanations take (see `--explanation-memory-mib`), as of the
    /// last selection warmed (including what a reload inherited).
    pub explanation_bytes: u64,
    /// What its engine started from when the version loaded, besides what a reload of an
    /// unchanged model inherits (then `null`): see [`Restored`].
    pub restored: Option<Restored>,
    /// Records of what its engine learned stored in the database so far (`--no-persist-learning`
    /// turns this off), and their bytes.
    pub saved_records: u64,
    pub saved_bytes: u64,
}

/// What an engine was given to start from when its version loaded (see `rules::learned`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Restored {
    /// `database`: records of this very model (a restart, or another instance); everything
    /// is kept, warm-up progress included. `database, earlier model`: the newest records of
    /// another model of the product (it was edited while no instance served it); `previous
    /// version`: the engine serving until a reload changed the product's rules or options.
    /// Of those two, only what still holds is kept: explanations whose rules and options are
    /// unchanged, and solutions that are valid configurations of the new model.
    pub from: String,
    pub explanations: u64,
    /// Explanations left out (they involve a changed rule or option).
    pub skipped: u64,
    pub solutions: u64,
    /// Seconds the restore took.
    pub seconds: f64,
}

fn level_name(level: crate::rules::Warmth) -> &'static str {
    match level {
        crate::rules::Warmth::Empty => "empty",
        crate::rules::Warmth::Choices => "choices",
        crate::rules::Warmth::Pairs => "pairs",
    }
}

/// Work limit for each product's "from" price when a snapshot is built.
pub const FROM_PRICE_WORK_LIMIT: u64 = 2_000_000;

/// Bound on a snapshot's configure cache, in bytes of JSON.
pub const CONFIGURE_CACHE_BYTES: u64 = 32 * 1024 * 1024;

impl Snapshot {
    /// Builds a snapshot from catalog files; `Err` holds the diagnostics (as JSON) when the files
    /// have errors. A product whose options and rules compile to the same model as in `earlier`
    /// (the version serving until now) keeps what its engine learned there (see
    /// `Engine::inherit`): its warm-up resumes where that one stopped instead of starting over.
    ///
    /// With `warm_up.persist` and a database, the background thread that warms the engines
    /// first restores what is stored of each engine that inherited nothing (see `background`),
    /// and stores what they learn.
    pub fn build(
        files: FileSet,
        work_limit: u64,
        preview: PreviewConfig,
        warm_up: crate::config::WarmUpPlan,
        earlier: Option<&Snapshot>,
        db: Option<&Db>,
    ) -> Result<Snapshot, Rejection> {
        let result = catalog::load(&files);
        let diagnostics = result.sources.records(&result.diagnostics);
        let catalog = match result.catalog {
            Some(c) if !result.has_errors() => c,
            _ => {
                return Err(Rejection {
                    error: None,
                    diagnostics,
                });
            }
        };
        let previewer =
            Previewer::with_config(&catalog, &files, preview).map_err(|e| Rejection {
                error: Some(format!("previews: {e}")),
                diagnostics: diagnostics.clone(),
            })?;
        // Per product whose engine inherits nothing (a new model to this process): the engine
        // serving it until now if any (its model changed), whose knowledge that still holds is
        // carried over in the background.
        let mut fresh: BTreeMap<String, Option<Engine>> = BTreeMap::new();
        let db = db.filter(|_| warm_up.persist && warm_up.level.level().is_some());
        let persist = db.is_some();
        let engines = catalog
            .products()
            .iter()
            .map(|p| {
                let mut e = Engine::new(Arc::clone(p))
                    .with_work_limit(work_limit)
                    .with_explanation_memory(warm_up.memory);
                let old = earlier.and_then(|s| s.engines.get(&p.id));
                if !old.is_some_and(|old| e.inherit(old)) && warm_up.level.level().is_some() {
                    fresh.insert(p.id.clone(), old.cloned());
                }
                if persist {
                    // From the start, so that every save has all it learned.
                    e.record_learning();
                }
                (p.id.clone(), e)
            })
            .collect::<BTreeMap<_, _>>();
        let status = Arc::new(Mutex::new(WarmUpStatus {
            level: warm_up.level.level().map_or("off", level_name).to_owned(),
            state: if warm_up.level.level().is_some() {
                "running"
            } else {
                "off"
            }
            .to_owned(),
            seconds: 0.0,
            products: engines
                .keys()
                .map(|id| ProductWarmUp {
                    product: id.clone(),
                    done: None,
                    selections: 0,
                    explanation_bytes: 0,
                    restored: None,
                    saved_records: 0,
                    saved_bytes: 0,
                })
                .collect(),
        }));
        if let Some(level) = warm_up.level.level() {
            background(
                &engines,
                Background {
                    level,
                    threads: warm_up.threads,
                    limit: warm_up.limit,
                    version: catalog.version.clone(),
                    status: Arc::clone(&status),
                    db: db.cloned(),
                    fresh,
                },
            );
        }
        let from_prices = engines
            .iter()
            .map(|(id, e)| {
                // Bounded: a product whose range needs more work shows no "from" price.
                let bounded = e
                    .clone()
                    .with_work_limit(FROM_PRICE_WORK_LIMIT.min(work_limit));
                let min = crate::pricing::range(&bounded, &Selection::default())
                    .ok()
                    .map(|r| r.min);
                (id.clone(), min)
            })
            .collect();
        Ok(Snapshot {
            catalog,
            engines,
            previewer,
            files: Arc::new(files),
            warnings: diagnostics,
            loaded_at: SystemTime::now(),
            from_prices,
            configure_cache: moka::sync::Cache::builder()
                .max_capacity(CONFIGURE_CACHE_BYTES)
                .weigher(|k: &String, v: &Arc<configure::Configuration>| {
                    u32::try_from(k.len() + configure_weight(v)).unwrap_or(u32::MAX)
                })
                .build(),
            warm_up: status,
        })
    }

    pub fn version(&self) -> &str {
        &self.catalog.version
    }

    /// The product and its engine.
    pub fn product(&self, id: &str) -> Result<(&Arc<Product>, &Engine), AppError> {
        match (self.catalog.product(id), self.engines.get(id)) {
            (Some(p), Some(e)) => Ok((p, e)),
            _ => Err(AppError::UnknownProduct {
                id: id.to_owned(),
                suggestion: catalog::expr::did_you_mean(
                    id,
                    self.catalog.products().iter().map(|p| p.id.as_str()),
                ),
            }),
        }
    }
}

/// Why a catalog was not deployed: its diagnostics (with at least one error), or another error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Rejection {
    /// A failure that is not a diagnostic (the directory could not be read, the database could
    /// not store the version, previews could not be prepared).
    pub error: Option<String>,
    pub diagnostics: Vec<DiagnosticRecord>,
}

/// What a reload attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// Swapped in.
    Ok,
    /// Loaded, and the same version as the one serving.
    Unchanged,
    /// It has errors; the old version keeps serving.
    Rejected,
}

/// What triggered a reload attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReloadTrigger {
    Startup,
    Watch,
    Admin,
}

/// The outcome of the last reload attempt.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReloadStatus {
    pub outcome: ReloadOutcome,
    pub trigger: ReloadTrigger,
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// The version the attempt produced (when it loaded).
    pub version: Option<String>,
    /// Diagnostics of the attempt (errors and warnings) as `bespoke check --format json` prints them.
    pub diagnostics: Vec<DiagnosticRecord>,
    /// A failure that is not a diagnostic (see [`Rejection`]).
    pub error: Option<String>,
}

/// Application state shared by all workers.
#[derive(Debug)]
pub struct App {
    pub settings: Settings,
    pub db: Db,
    /// Where uploads, their originals and print files are kept (`--blob-store`).
    pub blobs: Arc<dyn BlobStore>,
    /// Uploads, in `blobs`.
    pub uploads: Arc<StoredUploads>,
    /// What every image decode of the process is held against (`--decode-budget-mb`).
    pub decode_budget: Arc<DecodeBudget>,
    current: RwLock<Arc<Snapshot>>,
    last_reload: Mutex<Option<ReloadStatus>>,
    /// Recently used older catalog versions (orders pinned to them), rebuilt from the database.
    old_snapshots: moka::sync::Cache<String, Arc<Snapshot>>,
    /// When expired designs were last deleted (see `designs.rs`).
    last_design_purge: Mutex<Option<std::time::Instant>>,
    /// When unreferenced uploads past retention were last deleted (see `uploads.rs`).
    last_upload_purge: Mutex<Option<std::time::Instant>>,
    /// What the serving version's recommenders learned from the sales history.
    pub personal: personal::Personal,
    /// The webhook delivery workers (stopped when the app is dropped).
    pub outbox: webhooks::Outbox,
    /// What `GET /metrics` reports (shared with the webhook workers).
    pub metrics: Arc<metrics::Metrics>,
    /// Wakes this process's print workers when an order queues a print job.
    print_wake: Arc<print::Wake>,
    /// Set once the print workers are started (`print::start_workers`).
    print_started: std::sync::OnceLock<()>,
}

/// What a version's background thread works with (see [`background`]).
struct Background {
    level: crate::rules::Warmth,
    threads: usize,
    limit: std::time::Duration,
    version: String,
    status: Arc<Mutex<WarmUpStatus>>,
    /// Where what the engines learn is kept (`--no-persist-learning`: nowhere).
    db: Option<Db>,
    /// The products whose engine inherited nothing, each with the engine that served it until a
    /// reload changed its model, if any.
    fresh: BTreeMap<String, Option<Engine>>,
}

/// How often what the engines learned is stored while the version serves (during a pass, and
/// after the warm-up, from customers' selections).
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// One background thread per version: it first gives each engine that inherited nothing what
/// it can start from (`restore`), then warms every engine (see `Engine::warm`; each product's
/// selections on `threads` threads, `--warm-up-threads`): the empty selection's answer (dead
/// values, a first pool of solutions), at `Choices` every single choice's explanations, which
/// later selections containing that choice reuse, and at `Pairs` then every pair's. Every
/// product gets its single choices before any gets its pairs (a large product's pairs take
/// long). The snapshot serves meanwhile; an engine's caches are shared by its clones, so a
/// request that arrives first just does part of the work itself. With a database, what the
/// engines learn is stored as they go: after each product's pass, every `SAVE_EVERY` during
/// one, and every `SAVE_EVERY` after the warm-up (customers' selections). The warm-up stops
/// after `limit`; the thread stops as soon as the version no longer serves (its clone is the
/// last one left). `status` follows it.
fn background(engines: &BTreeMap<String, Engine>, job: Background) {
    use crate::rules::Warmth;
    let warm: Vec<(String, Engine)> = engines
        .iter()
        .map(|(id, e)| (id.clone(), e.clone()))
        .collect();
    let passes: &[Warmth] = match job.level {
        Warmth::Pairs => &[Warmth::Choices, Warmth::Pairs],
        Warmth::Choices => &[Warmth::Choices],
        Warmth::Empty => &[Warmth::Empty],
    };
    let spawned = std::thread::Builder::new()
        .name("bespoke-warm".to_owned())
        .spawn(move || {
            let Background {
                level,
                threads,
                limit,
                version,
                status,
                db,
                mut fresh,
            } = job;
            let began = std::time::Instant::now();
            let note = |k: usize, f: &dyn Fn(&mut ProductWarmUp)| {
                if let Ok(mut s) = status.lock() {
                    s.seconds = began.elapsed().as_secs_f64();
                    if let Some(p) = s.products.get_mut(k) {
                        f(p);
                    }
                }
            };
            let end = |state: &str| {
                if let Ok(mut s) = status.lock() {
                    s.seconds = began.elapsed().as_secs_f64();
                    state.clone_into(&mut s.state);
                }
            };
            let serving = || warm.iter().any(|(_, e)| e.has_other_clones());
            for (k, (id, e)) in warm.iter().enumerate() {
                // Taken out, so that the earlier version's engine is dropped once used.
                let Some(earlier) = fresh.remove(id) else {
                    continue;
                };
                if let Some(r) = restore(e, id, db.as_ref(), earlier) {
                    tracing::info!(product = %id, version = %version, from = %r.from,
                        explanations = r.explanations, skipped = r.skipped,
                        solutions = r.solutions, "rules engine restored what it had learned");
                    note(k, &|p| p.restored = Some(r.clone()));
                }
            }
            let save = |k: usize, id: &str, e: &Engine| {
                if let Some(db) = &db {
                    let (records, bytes) = save(db, id, e);
                    if records > 0 {
                        note(k, &|p| {
                            p.saved_records += records;
                            p.saved_bytes += bytes;
                        });
                    }
                }
            };
            for &pass in passes {
                // The status lists the engines in the same (product id) order.
                for (k, (id, e)) in warm.iter().enumerate() {
                    let started = std::time::Instant::now();
                    let last_save = Mutex::new(std::time::Instant::now());
                    let done = e.warm_on(pass, threads, &|| {
                        let stop = !e.has_other_clones() || began.elapsed() > limit;
                        if !stop {
                            let bytes = u64::try_from(e.explanation_bytes()).unwrap_or(u64::MAX);
                            note(k, &|p| {
                                p.selections += 1;
                                p.explanation_bytes = bytes;
                            });
                            let due = last_save.lock().is_ok_and(|mut t| {
                                let due = t.elapsed() >= SAVE_EVERY;
                                if due {
                                    *t = std::time::Instant::now();
                                }
                                due
                            });
                            if due {
                                save(k, id, e);
                            }
                        }
                        stop
                    });
                    let bytes = u64::try_from(e.explanation_bytes()).unwrap_or(u64::MAX);
                    note(k, &|p| {
                        p.explanation_bytes = bytes;
                        if done.complete {
                            p.done = Some(level_name(pass).to_owned());
                        }
                    });
                    save(k, id, e);
                    tracing::debug!(
                        product = %id,
                        version = %version,
                        level = ?pass,
                        selections = done.selections,
                        complete = done.complete,
                        seconds = started.elapsed().as_secs_f64(),
                        "rules engine warmed"
                    );
                    if !e.has_other_clones() || began.elapsed() > limit {
                        end("stopped");
                        return keep_saving(&warm, &serving, &save, db.is_some());
                    }
                }
            }
            let reached = status.lock().is_ok_and(|s| {
                s.products
                    .iter()
                    .all(|p| p.done.as_deref() == Some(level_name(level)))
            });
            end(if reached { "done" } else { "partial" });
            keep_saving(&warm, &serving, &save, db.is_some());
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the engine warm-up thread: {e}");
    }
}

/// After the warm-up, while the version serves: stores what customers' selections taught the
/// engines every `SAVE_EVERY`.
fn keep_saving(
    warm: &[(String, Engine)],
    serving: &dyn Fn() -> bool,
    save: &dyn Fn(usize, &str, &Engine),
    persist: bool,
) {
    if !persist {
        return;
    }
    let mut since = std::time::Instant::now();
    while serving() {
        std::thread::sleep(std::time::Duration::from_millis(250));
        if since.elapsed() >= SAVE_EVERY {
            since = std::time::Instant::now();
            for (k, (id, e)) in warm.iter().enumerate() {
                save(k, id, e);
            }
        }
    }
}

/// Gives an engine that inherited no store what it can start from: the stored records of its
/// own model; else what the engine that served its product until a reload knew (`earlier`,
/// another model), or the newest records of another model of the product. Of another model's,
/// only what still holds is kept (`rules::learned`). What the engine learned meanwhile (the
/// snapshot serves while this runs) stays: records only add to it.
fn restore(e: &Engine, id: &str, db: Option<&Db>, earlier: Option<Engine>) -> Option<Restored> {
    let t = std::time::Instant::now();
    let stored = db
        .map(|db| db.list_knowledge(id))
        .transpose()
        .unwrap_or_else(|err| {
            tracing::warn!(product = %id, "cannot read what the engine learned before: {err}");
            None
        })
        .unwrap_or_default();
    let fingerprint = e.fingerprint();
    let mut got = crate::rules::Imported::default();
    let import = |got: &mut crate::rules::Imported, record: &[u8], journal: bool| match e
        .import_learned(record, journal)
    {
        Ok(i) => *got += i,
        Err(err) => tracing::warn!(product = %id, "a stored learning record is not used: {err}"),
    };
    let from_db = |info: &crate::db::KnowledgeInfo, got: &mut crate::rules::Imported| {
        for &seq in &info.seqs {
            match db.map(|db| db.get_knowledge(&info.fingerprint, seq)) {
                Some(Ok(record)) => import(got, &record, info.fingerprint != fingerprint),
                Some(Err(err)) => {
                    tracing::warn!(product = %id, "cannot read a learning record: {err}");
                }
                None => {}
            }
        }
    };
    let from = if let Some(own) = stored.iter().find(|k| k.fingerprint == fingerprint) {
        from_db(own, &mut got);
        "database"
    } else if let Some(old) = earlier {
        for record in old.export_learned(crate::rules::Export::Everything) {
            import(&mut got, &record, true);
        }
        "previous version"
    } else if let Some(other) = stored.first() {
        from_db(other, &mut got);
        "database, earlier model"
    } else {
        return None;
    };
    Some(Restored {
        from: from.to_owned(),
        explanations: got.explanations as u64,
        skipped: got.skipped as u64,
        solutions: got.solutions as u64,
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Stores what `e` learned since it last did; returns the records and bytes stored. A failure
/// is logged: the engine keeps working, and what was not stored is learned again after a
/// restart.
fn save(db: &Db, id: &str, e: &Engine) -> (u64, u64) {
    let fingerprint = e.fingerprint();
    let (mut records, mut bytes) = (0, 0);
    for record in e.export_learned(crate::rules::Export::New) {
        match db.append_knowledge(id, &fingerprint, &record) {
            Ok(_) => {
                records += 1;
                bytes += record.len() as u64;
            }
            Err(err) => {
                tracing::warn!(product = %id, "cannot store what the engine learned: {err}");
            }
        }
    }
    (records, bytes)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl App {
    /// Loads the catalog directory; fails if it has errors (nothing to serve yet).
    pub fn start(settings: Settings) -> Result<App, AppError> {
        let files = FileSet::from_dir(&settings.catalog_dir)
            .map_err(|e| AppError::BadRequest(format!("cannot read the catalog: {e}")))?;
        let db = Db::connect(&settings.database_url)
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        let blobs: Arc<dyn BlobStore> = match settings.blob_store {
            crate::config::BlobStoreKind::Database => {
                Arc::new(crate::db::DbBlobStore::new(db.clone()))
            }
            crate::config::BlobStoreKind::Directory => Arc::new(
                FsBlobStore::new(&settings.data_dir)
                    .map_err(|e| AppError::Unavailable(format!("blob store: {e}")))?,
            ),
        };
        let uploads = Arc::new(StoredUploads::new(Arc::clone(&blobs)));
        let decode_budget = DecodeBudget::new(settings.decode_budget);
        let snapshot = Snapshot::build(
            files,
            settings.work_limit,
            preview_config(&uploads, &decode_budget),
            settings.warm_up,
            None,
            Some(&db),
        )
        .map_err(AppError::CatalogRejected)?;
        pin_version(&db, &snapshot)?;
        let metrics = Arc::new(metrics::Metrics::new());
        let status = ReloadStatus {
            outcome: ReloadOutcome::Ok,
            trigger: ReloadTrigger::Startup,
            at: now_secs(),
            version: Some(snapshot.version().to_owned()),
            diagnostics: snapshot.warnings.clone(),
            error: None,
        };
        Ok(App {
            db: db.clone(),
            blobs,
            uploads,
            decode_budget,
            current: RwLock::new(Arc::new(snapshot)),
            last_reload: Mutex::new(Some(status)),
            old_snapshots: moka::sync::Cache::new(8),
            last_design_purge: Mutex::new(None),
            last_upload_purge: Mutex::new(None),
            personal: personal::Personal::default(),
            outbox: webhooks::Outbox::start(&db, &settings.webhooks, &metrics),
            metrics,
            settings,
            print_wake: Arc::default(),
            print_started: std::sync::OnceLock::new(),
        })
        .inspect(App::refresh_history)
        .and_then(|app| {
            // Before serving: uploads and print files an earlier version kept as files.
            app.adopt_legacy_files()?;
            Ok(app)
        })
    }

    /// The metrics text for `GET /metrics`, with the outbox backlog and the database pool read
    /// now (a database failure leaves the backlog at -1: the scrape itself still answers).
    pub fn scrape_metrics(&self) -> String {
        let pool = self.db.pool_state();
        let (preview_hits, preview_misses) = self.snapshot().previewer.cache_stats();
        self.metrics.render(metrics::ScrapeState {
            outbox_backlog: self.db.webhook_backlog().unwrap_or(-1),
            db_connections: i64::from(pool.connections),
            db_idle_connections: i64::from(pool.idle),
            db_max_connections: i64::from(pool.max),
            preview_hits,
            preview_misses,
        })
    }

    /// The serving snapshot; the caller keeps it for the whole request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// The last reload attempt.
    pub fn last_reload(&self) -> Option<ReloadStatus> {
        match self.last_reload.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Validate-then-swap: reads the catalog directory again and swaps it in only if it is clean
    /// of errors. Returns the status recorded (also on rejection).
    pub fn reload(&self, trigger: ReloadTrigger) -> ReloadStatus {
        let status = match FileSet::from_dir(&self.settings.catalog_dir) {
            Err(e) => ReloadStatus {
                outcome: ReloadOutcome::Rejected,
                trigger,
                at: now_secs(),
                version: None,
                diagnostics: Vec::new(),
                error: Some(format!("cannot read the catalog: {e}")),
            },
            Ok(files) => self.install(files, trigger),
        };
        if let Ok(mut g) = self.last_reload.lock() {
            *g = Some(status.clone());
        }
        status
    }

    fn install(&self, files: FileSet, trigger: ReloadTrigger) -> ReloadStatus {
        let built = Snapshot::build(
            files,
            self.settings.work_limit,
            self.preview_config(),
            self.settings.warm_up,
            Some(&self.snapshot()),
            Some(&self.db),
        )
        .and_then(|s| {
            // A version is pinned (stored) before it serves, so its orders can always be re-read.
            match pin_version(&self.db, &s) {
                Ok(()) => Ok(s),
                Err(e) => Err(Rejection {
                    error: Some(e.to_string()),
                    diagnostics: s.warnings.clone(),
                }),
            }
        });
        match built {
            Err(rejection) => {
                tracing::warn!(
                    ?trigger,
                    "catalog reload rejected: it has errors; the serving version stays"
                );
                ReloadStatus {
                    outcome: ReloadOutcome::Rejected,
                    trigger,
                    at: now_secs(),
                    version: None,
                    diagnostics: rejection.diagnostics,
                    error: rejection.error,
                }
            }
            Ok(snapshot) => {
                let version = snapshot.version().to_owned();
                let diagnostics = snapshot.warnings.clone();
                let unchanged = self.snapshot().version() == version;
                if !unchanged {
                    match self.current.write() {
                        Ok(mut g) => *g = Arc::new(snapshot),
                        Err(p) => *p.into_inner() = Arc::new(snapshot),
                    }
                    tracing::info!(?trigger, %version, "catalog reloaded");
                    self.refresh_history();
                }
                ReloadStatus {
                    outcome: if unchanged {
                        ReloadOutcome::Unchanged
                    } else {
                        ReloadOutcome::Ok
                    },
                    trigger,
                    at: now_secs(),
                    version: Some(version),
                    diagnostics,
                    error: None,
                }
            }
        }
    }
}

/// How a version's previewer reads uploads: from the app's store, under its decode budget.
fn preview_config(uploads: &Arc<StoredUploads>, budget: &Arc<DecodeBudget>) -> PreviewConfig {
    let store: Arc<dyn UploadStore> = uploads.clone();
    PreviewConfig {
        uploads: Some(store),
        budget: Some(Arc::clone(budget)),
        ..PreviewConfig::default()
    }
}

impl App {
    /// The preview setup of every version this app builds.
    pub fn preview_config(&self) -> PreviewConfig {
        preview_config(&self.uploads, &self.decode_budget)
    }
}

/// Stores a catalog version's files in the database (idempotent).
fn pin_version(db: &Db, snapshot: &Snapshot) -> Result<(), AppError> {
    let files: Vec<(&str, &[u8])> = snapshot
        .files
        .paths()
        .filter_map(|p| snapshot.files.get(p).map(|b| (p, b)))
        .collect();
    db.put_catalog_version(snapshot.version(), files)
        .map(|_| ())
        .map_err(|e| AppError::Unavailable(format!("cannot store the catalog version: {e}")))?;
    // Which product versions it holds: storefronts pin the product version they were shown.
    let products: Vec<(String, String)> = snapshot
        .catalog
        .products()
        .iter()
        .map(|p| (p.id.clone(), p.version.clone()))
        .collect();
    db.put_product_versions(snapshot.version(), &products)
        .map_err(|e| AppError::Unavailable(format!("cannot store the product versions: {e}")))
}

/// A preview failure as a use-case error: the caller's mistakes (size, resolution, an upload
/// that cannot be placed) are theirs; the rest is ours.
pub fn preview_error(e: crate::preview::PreviewError) -> AppError {
    use crate::preview::PreviewError;
    match e {
        PreviewError::Width { .. }
        | PreviewError::Dpi { .. }
        | PreviewError::Size { .. }
        | PreviewError::NoPreview(_) => AppError::BadRequest(e.to_string()),
        PreviewError::Upload(_) => AppError::Upload(e.to_string()),
        PreviewError::Busy(b) => AppError::Busy(b),
        PreviewError::PrintTooLarge {
            area,
            width_px,
            height_px,
            limit,
        } => AppError::PrintTooLarge {
            area,
            width_px,
            height_px,
            limit,
        },
        PreviewError::AreaSize { .. } | PreviewError::UnknownArea(_) => {
            AppError::BadRequest(e.to_string())
        }
        other => AppError::Preview(other.to_string()),
    }
}

/// About how many bytes a configure answer takes in memory (for the cache's bound).
fn configure_weight(c: &configure::Configuration) -> usize {
    512 + c
        .options
        .iter()
        .map(|o| {
            384 + 320 * o.values.len()
                + o.range.as_ref().map_or(0, |r| {
                    160 * r.excluded.len() + 8 * r.values.as_ref().map_or(0, Vec::len)
                })
        })
        .sum::<usize>()
}

/// Reads typed choices (and an optional quantity) against a product: the JSON type of each value
/// must be its option kind's (see `values::OptionValue`).
pub fn typed_selection(
    product: &Product,
    choices: &values::Choices,
    quantity: Option<i64>,
) -> Result<Selection, AppError> {
    let mut choices = choices.clone();
    if let Some(q) = quantity {
        let Some(o) = product.quantity_option() else {
            return Err(AppError::BadRequest(format!(
                "product `{}` has no quantity option",
                product.id
            )));
        };
        let id = product.options[o].id.clone();
        if choices.set().any(|(k, _)| *k == id) {
            return Err(AppError::BadRequest(format!(
                "quantity given twice: as `quantity` and as the option `{id}`"
            )));
        }
        choices.0.push((id, Some(values::OptionValue::Int(q))));
    }
    Ok(choices.parse(product)?)
}

/// Parses a selection given as text pairs (query strings; an optional quantity) against a product.
pub fn selection(
    product: &Product,
    mut pairs: Vec<(String, String)>,
    quantity: Option<i64>,
) -> Result<Selection, AppError> {
    if let Some(q) = quantity {
        let Some(o) = product.quantity_option() else {
            return Err(AppError::BadRequest(format!(
                "product `{}` has no quantity option",
                product.id
            )));
        };
        let id = product.options[o].id.clone();
        if pairs.iter().any(|(k, _)| *k == id) {
            return Err(AppError::BadRequest(format!(
                "quantity given twice: as `quantity` and as the option `{id}`"
            )));
        }
        pairs.push((id, q.to_string()));
    }
    Ok(Selection::parse(product, &pairs)?)
}

/// Most bytes a catalog sent for checking may hold.
pub const CHECK_LIMIT: usize = 8 * 1024 * 1024;

/// Checks catalog files without deploying them: load + rule analysis, as `bespoke check --format json`
/// reports it. `overlay` files are laid over `base` (the serving catalog) unless `base` is `None`.
pub fn check_files(base: Option<&FileSet>, overlay: &[(String, String)]) -> CheckReport {
    let mut files = base.cloned().unwrap_or_default();
    for (path, text) in overlay {
        files.insert(path.clone(), text.clone().into_bytes());
    }
    let mut result = catalog::load(&files);
    crate::rules::analyze::check_catalog(&mut result, crate::rules::analyze::ANALYSIS_WORK_LIMIT);
    crate::pricing::overlap::check_catalog(&mut result, crate::rules::analyze::ANALYSIS_WORK_LIMIT);
    CheckReport::of(&result)
}

/// The report of a checked catalog (`bespoke check --format json` and `POST /v1/admin/check`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// No errors (warnings allowed).
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    /// The version the catalog would have (when it loads).
    pub catalog_version: Option<String>,
    pub products: Vec<CheckedProduct>,
    pub diagnostics: Vec<DiagnosticRecord>,
}

/// A product of a checked catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CheckedProduct {
    pub id: String,
    pub version: String,
    pub options: usize,
    pub constraints: usize,
    pub price_rules: usize,
}

impl CheckReport {
    pub fn of(result: &catalog::LoadResult) -> CheckReport {
        CheckReport {
            ok: !result.has_errors(),
            errors: result.error_count(),
            warnings: result.warning_count(),
            catalog_version: result.catalog.as_ref().map(|c| c.version.clone()),
            products: result
                .catalog
                .as_ref()
                .map(|c| {
                    c.products()
                        .iter()
                        .map(|p| CheckedProduct {
                            id: p.id.clone(),
                            version: p.version.clone(),
                            options: p.options.len(),
                            constraints: p.constraints.len(),
                            price_rules: p.price_rules.len(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            diagnostics: result.sources.records(&result.diagnostics),
        }
    }
}

/// A stored catalog version's files (`GET /v1/admin/catalog-versions/{hash}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VersionFiles {
    pub version: crate::db::CatalogVersionInfo,
    pub files: Vec<VersionFile>,
}

/// One file of a stored catalog version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VersionFile {
    pub path: String,
    pub bytes: usize,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// The content, for UTF-8 files.
    pub text: Option<String>,
}

impl App {
    /// Every stored catalog version (each one that served), oldest first.
    pub fn catalog_versions(&self) -> Result<Vec<crate::db::CatalogVersionInfo>, AppError> {
        Ok(self.db.list_catalog_versions()?)
    }

    /// A stored catalog version's files.
    pub fn catalog_version_files(&self, hash: &str) -> Result<VersionFiles, AppError> {
        use sha2::Digest;
        let v = self.db.get_catalog_version(hash).map_err(|e| match e {
            crate::db::DbError::NotFound => AppError::UnknownCatalogVersion(hash.to_owned()),
            other => other.into(),
        })?;
        let files = v
            .files
            .iter()
            .map(|(path, bytes)| VersionFile {
                path: path.clone(),
                bytes: bytes.len(),
                sha256: crate::config::hex(&sha2::Sha256::digest(bytes)),
                text: std::str::from_utf8(bytes).ok().map(str::to_owned),
            })
            .collect();
        Ok(VersionFiles {
            version: v.info,
            files,
        })
    }
}
