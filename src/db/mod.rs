//! Persistence (diesel): one `Db` handle over SQLite or PostgreSQL (a derived MultiConnection,
//! chosen by the URL), an r2d2 pool, embedded migrations run at connect, and the order,
//! saved-design, catalog-version, product-version, engine-knowledge, sales-history, print-job and
//! webhook (with its transactional outbox) repositories, and the database blob store
//! (`DbBlobStore`) with upload references. The only
//! module that names diesel. Synchronous: call it from blocking threads (actix `web::block`).

mod blobs;
mod catalog_versions;
mod conn;
mod designs;
mod error;
mod history;
mod knowledge;
mod orders;
mod print_jobs;
mod product_versions;
mod schema;
mod webhooks;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::RunQueryDsl;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};

pub use blobs::DbBlobStore;
pub use catalog_versions::{
    CatalogVersion, CatalogVersionInfo, MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_FILE_BYTES,
    MAX_SNAPSHOT_FILES,
};
pub use error::DbError;
pub use knowledge::{
    KEEP_FINGERPRINTS, KnowledgeInfo, MAX_KNOWLEDGE_BYTES, MAX_KNOWLEDGE_RECORD_BYTES,
};
pub use orders::EventsOf;
pub use product_versions::MAX_PRODUCTS_PER_VERSION;

use crate::orders::{
    Attempt, ClaimedDelivery, ClaimedJob, Delivery, Design, EventType, FilesState, HistoryState,
    ImportInfo, NewDesign, NewOrder, NewOutboxEvent, NewSale, Order, OrderEvent, OrderFilter,
    Outcome, Page, PrintFileMeta, PrintFiles, PrintPlan, Sale, Status, Timestamp, Webhook,
};
use conn::{Manager, Target};

/// The default database: a SQLite file under ./data.
pub const DEFAULT_URL: &str = "sqlite://data/bespoke.db";

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Most open connections in the pool.
    pub max_connections: u32,
    /// How long a call waits for a free connection (or to connect) before `Unavailable`.
    pub connection_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 8,
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// A handle on the database: cheap to clone, shareable across threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: &'static str,
    migrations_run: usize,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("state", &self.pool.state())
            .finish()
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .unwrap_or(0)
}

impl Db {
    /// Connects with default pool settings and runs pending migrations. `postgres://…` or
    /// `postgresql://…` selects PostgreSQL; `sqlite://path`, `sqlite:path` or a bare path a SQLite
    /// file (its folder is created).
    pub fn connect(url: &str) -> Result<Db, DbError> {
        Db::connect_with(url, &DbOptions::default())
    }

    pub fn connect_with(url: &str, options: &DbOptions) -> Result<Db, DbError> {
        let target = Target::parse(url)?;
        conn::prepare(&target)?;
        let backend = target.backend();
        let manager = Manager { target };
        // Migrate on one connection before the pool opens the others.
        let mut first = manager.connect().map_err(|e| {
            let text = e.to_string();
            if text.contains("SSL support is not compiled in") {
                DbError::BadUrl(format!(
                    "{text}: this build has no TLS client; connect over a local socket, a \
                     TLS-terminating sidecar or a private network (docs/persistence.md)"
                ))
            } else {
                DbError::Unavailable(text)
            }
        })?;
        let migrations_run = conn::migrate(&mut first)?;
        drop(first);
        let pool = Pool::builder()
            .max_size(options.max_connections.max(1))
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .build(manager)?;
        Ok(Db {
            pool,
            backend,
            migrations_run,
        })
    }

    fn conn(&self) -> Result<PooledConnection<Manager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// How many migrations the connect call applied (0 when the schema was current).
    pub fn migrations_run(&self) -> usize {
        self.migrations_run
    }

    /// Readiness: a connection within two seconds and a trivial query.
    pub fn ping(&self) -> Result<(), DbError> {
        let mut c = self.pool.get_timeout(Duration::from_secs(2))?;
        diesel::sql_query("SELECT 1").execute(&mut *c)?;
        Ok(())
    }

    /// The durability settings in force on a pooled connection, read back from the database
    /// (SQLite: journal_mode, synchronous, busy_timeout, foreign_keys; PostgreSQL:
    /// synchronous_commit, fsync, default_transaction_isolation).
    pub fn settings(&self) -> Result<Vec<(&'static str, String)>, DbError> {
        conn::settings(&mut *self.conn()?)
    }

    /// Stores a new order, or — for an Idempotency-Key already used with the same fingerprint —
    /// returns the stored one. `true` when this call created it. The same key with another
    /// fingerprint is `IdempotencyConflict`. Safe under concurrent calls and several instances.
    /// A created order feeds the sales history (one sale, source `order`) in the same
    /// transaction; a replay feeds nothing.
    pub fn create_order(&self, new: NewOrder) -> Result<(Order, bool), DbError> {
        self.create_order_with_events(new, &|_| Ok(Vec::new()))
    }

    /// `create_order`, writing the webhook events `events` builds from the created order to the
    /// outbox in the same transaction (a replay writes none).
    pub fn create_order_with_events(
        &self,
        new: NewOrder,
        events: EventsOf<'_, Order>,
    ) -> Result<(Order, bool), DbError> {
        orders::create(&mut *self.conn()?, &new, events, None, now_micros())
    }

    /// As [`Db::create_order_with_events`], also recording the order's print files in its
    /// transaction: the files rendered before (`PrintPlan::Ready`) or a pending job
    /// (`PrintPlan::Job`). A replay records nothing.
    pub fn create_order_with_print(
        &self,
        new: NewOrder,
        print: &PrintPlan,
        events: EventsOf<'_, Order>,
    ) -> Result<(Order, bool), DbError> {
        orders::create(&mut *self.conn()?, &new, events, Some(print), now_micros())
    }

    /// Claims the oldest pending print job whose lease is free, for `lease`; `None` when there
    /// is none. The claim's attempt number fences the worker's later writes.
    pub fn claim_print_job(&self, lease: Duration) -> Result<Option<ClaimedJob>, DbError> {
        let lease = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
        print_jobs::claim(&mut *self.conn()?, now_micros(), lease)
    }

    /// Completes a claimed print job with its files and the `order.files_ready` events
    /// `events` builds, in one transaction; `false` when the claim was lost to another worker.
    pub fn complete_print_job(
        &self,
        job: &ClaimedJob,
        files: &[PrintFileMeta],
        events: EventsOf<'_, Order>,
    ) -> Result<bool, DbError> {
        print_jobs::complete(&mut *self.conn()?, job, files, now_micros(), events)
    }

    /// Records a failed attempt: retried after `retry_after` (`count` false gives the attempt
    /// back), or with `None` the order's files are marked failed. `false` when the claim was lost.
    pub fn fail_print_job(
        &self,
        job: &ClaimedJob,
        error: &str,
        retry_after: Option<Duration>,
        count: bool,
    ) -> Result<bool, DbError> {
        let now = now_micros();
        let retry_at = retry_after
            .map(|d| now.saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)));
        print_jobs::fail(&mut *self.conn()?, job, error, retry_at, count, now)
    }

    /// An order's print files state and files; `None` when it has none recorded.
    pub fn print_files(&self, order_id: &str) -> Result<Option<PrintFiles>, DbError> {
        print_jobs::get(&mut *self.conn()?, order_id)
    }

    /// The print files state of each of these orders that has print files (one query).
    pub fn print_states(
        &self,
        order_ids: &[&str],
    ) -> Result<std::collections::HashMap<String, FilesState>, DbError> {
        Ok(print_jobs::states(&mut *self.conn()?, order_ids)?
            .into_iter()
            .collect())
    }

    /// How many orders' print files are pending.
    pub fn pending_print_jobs(&self) -> Result<i64, DbError> {
        print_jobs::pending(&mut *self.conn()?)
    }

    pub fn get_order(&self, id: &str) -> Result<Order, DbError> {
        orders::get(&mut *self.conn()?, id)
    }

    /// One page of the feed, oldest first, `limit` clamped to 1..=`MAX_PAGE_LIMIT`. Pages are
    /// keyset pages (after the cursor's order id), so inserts never shift them.
    pub fn list_orders(
        &self,
        filter: OrderFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Order>, DbError> {
        orders::list(&mut *self.conn()?, filter, cursor, limit)
    }

    /// Moves an order to `to` if it is still at `expected_version` and the move is legal;
    /// records the event. Returns the order as written.
    pub fn transition(
        &self,
        id: &str,
        to: Status,
        expected_version: i64,
        note: Option<String>,
    ) -> Result<Order, DbError> {
        self.transition_with_events(id, to, expected_version, note, &|_| Ok(Vec::new()))
    }

    /// `transition`, writing the webhook events `events` builds from the order as written and
    /// its previous status to the outbox in the same transaction.
    pub fn transition_with_events(
        &self,
        id: &str,
        to: Status,
        expected_version: i64,
        note: Option<String>,
        events: EventsOf<'_, (Order, Status)>,
    ) -> Result<Order, DbError> {
        orders::transition(
            &mut *self.conn()?,
            id,
            to,
            expected_version,
            note,
            events,
            now_micros(),
        )
    }

    /// The order's history, oldest first (creation, then each transition).
    pub fn events(&self, id: &str) -> Result<Vec<OrderEvent>, DbError> {
        orders::events(&mut *self.conn()?, id)
    }

    /// Stores a catalog version's files (path, bytes) under its hash. Idempotent: `false` when the
    /// version was already stored (the stored files are kept).
    pub fn put_catalog_version<'a>(
        &self,
        hash: &str,
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<bool, DbError> {
        catalog_versions::put(&mut *self.conn()?, hash, files, now_micros())
    }

    pub fn get_catalog_version(&self, hash: &str) -> Result<CatalogVersion, DbError> {
        catalog_versions::get(&mut *self.conn()?, hash)
    }

    /// Every stored catalog version (without files), oldest first.
    pub fn list_catalog_versions(&self) -> Result<Vec<CatalogVersionInfo>, DbError> {
        catalog_versions::list(&mut *self.conn()?)
    }

    /// Stores a saved design under a new UUID v7 id (created now).
    pub fn create_design(&self, new: NewDesign) -> Result<Design, DbError> {
        self.create_design_with_events(new, &|_| Ok(Vec::new()))
    }

    /// `create_design`, writing the webhook events `events` builds from the design to the
    /// outbox in the same transaction.
    pub fn create_design_with_events(
        &self,
        new: NewDesign,
        events: EventsOf<'_, Design>,
    ) -> Result<Design, DbError> {
        designs::create(&mut *self.conn()?, new, events, now_micros())
    }

    /// A saved design; `NotFound` when the id is malformed, unknown or the design has expired.
    pub fn get_design(&self, id: &str) -> Result<Design, DbError> {
        designs::get(&mut *self.conn()?, id, now_micros())
    }

    /// Deletes every design expired at `now` (expiry at or before it); returns how many.
    pub fn purge_expired_designs(&self, now: Timestamp) -> Result<u64, DbError> {
        designs::purge_expired(&mut *self.conn()?, now.unix_micros())
    }

    /// Records that `catalog_version` contains each (product id, product version). Idempotent:
    /// rows already stored keep their time, so a version put again does not become the newest.
    pub fn put_product_versions(
        &self,
        catalog_version: &str,
        products: &[(String, String)],
    ) -> Result<(), DbError> {
        product_versions::put(&mut *self.conn()?, catalog_version, products, now_micros())
    }

    /// The most recently recorded catalog version containing the product version, if any.
    pub fn catalog_version_of(
        &self,
        product_id: &str,
        product_version: &str,
    ) -> Result<Option<String>, DbError> {
        product_versions::catalog_version_of(&mut *self.conn()?, product_id, product_version)
    }

    /// Stores one record of what a product's rules engine learned, under its model's
    /// fingerprint; returns its sequence number. Keeps only the newest `KEEP_FINGERPRINTS`
    /// fingerprints of the product.
    pub fn append_knowledge(
        &self,
        product_id: &str,
        fingerprint: &str,
        record: &[u8],
    ) -> Result<i64, DbError> {
        knowledge::append(
            &mut *self.conn()?,
            product_id,
            fingerprint,
            record,
            now_micros(),
        )
    }

    /// What is stored of a product's engines, per fingerprint, newest first.
    pub fn list_knowledge(&self, product_id: &str) -> Result<Vec<KnowledgeInfo>, DbError> {
        knowledge::list(&mut *self.conn()?, product_id)
    }

    /// One stored record.
    pub fn get_knowledge(&self, fingerprint: &str, seq: i64) -> Result<Vec<u8>, DbError> {
        knowledge::get(&mut *self.conn()?, fingerprint, seq)
    }

    /// Imports past sales of a product in one transaction: the import (`true`), or — when the
    /// product already has an import of the same content — that one (`false`), storing nothing.
    /// Every sale must be of `product_id`; at most `orders::MAX_IMPORT_SALES`, else `Invalid`.
    pub fn import_history(
        &self,
        product_id: &str,
        content_sha256: &str,
        file_name: Option<&str>,
        sales: Vec<NewSale>,
    ) -> Result<(ImportInfo, bool), DbError> {
        history::import(
            &mut *self.conn()?,
            product_id,
            content_sha256,
            file_name,
            sales,
            now_micros(),
        )
    }

    /// The product's history imports, oldest first.
    pub fn history_imports(&self, product_id: &str) -> Result<Vec<ImportInfo>, DbError> {
        history::imports(&mut *self.conn()?, product_id)
    }

    /// One page of a product's sales (orders and imports), oldest first: the sales with ids after
    /// `after_id` (from the start when `None`), `limit` clamped to 1..=`orders::MAX_HISTORY_PAGE`.
    /// Ids increase in commit order, so a reader that resumes after the last id it read misses
    /// no sale committed since.
    pub fn history(
        &self,
        product_id: &str,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Sale>, DbError> {
        history::page(&mut *self.conn()?, product_id, after_id, limit)
    }

    /// Every sale of a product after `after_id` (all when `None`), oldest first.
    pub fn history_since(
        &self,
        product_id: &str,
        after_id: Option<i64>,
    ) -> Result<Vec<Sale>, DbError> {
        history::since(&mut *self.conn()?, product_id, after_id)
    }

    /// Where the history stands: the last sale id issued and how many customer deletions removed
    /// sales (when that changes, a reader should read the history again).
    pub fn history_state(&self) -> Result<HistoryState, DbError> {
        history::state(&mut *self.conn()?)
    }

    /// Deletes a customer's sales from the history, across products; returns how many. Their
    /// orders stay.
    pub fn delete_customer_history(&self, customer_ref: &str) -> Result<u64, DbError> {
        history::delete_customer(&mut *self.conn()?, customer_ref)
    }
}

/// Webhooks and their outbox (`webhooks.rs`).
impl Db {
    /// Writes events to the outbox in a transaction of their own, with a delivery per subscribed
    /// webhook; returns how many deliveries. For changes that commit elsewhere (a print file
    /// rendered after its order): prefer writing events in the change's own transaction.
    pub fn enqueue_events(&self, events: &[NewOutboxEvent]) -> Result<usize, DbError> {
        webhooks::enqueue_alone(&mut *self.conn()?, events, now_micros())
    }

    /// Registers a webhook (`TooMany` past `orders::MAX_WEBHOOKS`). Inputs are checked by the
    /// caller.
    pub fn create_webhook(
        &self,
        url: &str,
        events: &[EventType],
        secret: &str,
    ) -> Result<Webhook, DbError> {
        webhooks::create(&mut *self.conn()?, url, events, secret, now_micros())
    }

    /// Every webhook, oldest first.
    pub fn list_webhooks(&self) -> Result<Vec<Webhook>, DbError> {
        webhooks::list(&mut *self.conn()?)
    }

    pub fn get_webhook(&self, id: &str) -> Result<Webhook, DbError> {
        webhooks::get(&mut *self.conn()?, id)
    }

    /// Deletes a webhook with its deliveries and their log.
    pub fn delete_webhook(&self, id: &str) -> Result<(), DbError> {
        webhooks::delete(&mut *self.conn()?, id)
    }

    /// A webhook's deliveries with their attempts, newest first (at most `limit`).
    pub fn webhook_deliveries(&self, id: &str, limit: u32) -> Result<Vec<Delivery>, DbError> {
        webhooks::deliveries(&mut *self.conn()?, id, limit)
    }

    /// Claims up to `limit` due deliveries for `worker`, leased for `lease` (see `webhooks.rs`).
    pub fn claim_deliveries(
        &self,
        worker: &str,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, DbError> {
        let now = now_micros();
        let lease = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX);
        webhooks::claim(
            &mut *self.conn()?,
            worker,
            now,
            now.saturating_add(lease),
            limit,
        )
    }

    /// Records an attempt of a claimed delivery and its outcome; `false` when the claim was
    /// lost meanwhile (nothing is written then).
    pub fn record_attempt(
        &self,
        worker: &str,
        delivery_id: i64,
        attempt: &Attempt,
        outcome: &Outcome,
    ) -> Result<bool, DbError> {
        webhooks::record(
            &mut *self.conn()?,
            worker,
            delivery_id,
            attempt,
            outcome,
            now_micros(),
        )
    }

    /// Deletes the outbox events written before `before` that have no pending delivery, with
    /// their deliveries and attempt log; returns how many events.
    pub fn purge_webhook_events(&self, before: Timestamp) -> Result<u64, DbError> {
        webhooks::purge(&mut *self.conn()?, before.unix_micros())
    }

    /// Webhook deliveries waiting to be sent (the outbox backlog).
    pub fn webhook_backlog(&self) -> Result<i64, DbError> {
        webhooks::backlog(&mut *self.conn()?)
    }

    /// The connection pool now: open connections, idle ones, and its size limit.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }
}

/// The connection pool's state (see [`Db::pool_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

// The HTTP layer shares one handle across workers.
const _: fn() = || {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Db>();
};
