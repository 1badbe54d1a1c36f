//! Order use cases: place an order (from a selection or a saved design; completed with defaults as configure completes it, re-validated and re-priced on the pinned catalog version, print files planned (print areas: `print.rs`; the mock-up), stored idempotently), the typed order views, and the order feed.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::configure::{Quote, ValidationView, completion};
use super::values::Choices;
use super::{App, AppError, Snapshot};
use crate::catalog::Product;
use crate::db::DbError;
use crate::orders::{
    NewOrder, Order, OrderEvent, OrderFilter, Page, PrintPlan, Status, fingerprint,
};
use crate::preview::blob::BlobKind;
use crate::rules::{Engine, Selection};

/// What an order is placed from.
#[derive(Debug, Clone)]
pub enum OrderSource {
    /// A selection the storefront configured.
    Selection {
        product: String,
        choices: Choices,
        quantity: Option<i64>,
        /// The product version or catalog version the storefront was shown; the serving one
        /// when `None`.
        version: Option<String>,
    },
    /// A saved design (its pinned version, selection and quantity).
    Design(String),
}

/// An order as the client asks for it. Prices and validity are never taken from the client.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub idempotency_key: String,
    pub source: OrderSource,
    pub customer_ref: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        match e {
            DbError::NotFound => AppError::OrderNotFound(String::new()),
            DbError::IdempotencyConflict { .. } => AppError::IdempotencyConflict,
            DbError::VersionConflict { current } => AppError::VersionConflict { current },
            DbError::IllegalTransition { from, to } => AppError::IllegalTransition {
                from: from.as_str().to_owned(),
                to: to.as_str().to_owned(),
            },
            DbError::BadCursor => AppError::BadRequest("invalid cursor".into()),
            DbError::Invalid(s) => AppError::BadRequest(s.to_string()),
            DbError::Unavailable(m) => AppError::Unavailable(m),
            other => AppError::Internal(other.to_string()),
        }
    }
}

fn not_found(id: &str) -> impl Fn(DbError) -> AppError + '_ {
    move |e| match e {
        DbError::NotFound => AppError::OrderNotFound(id.to_owned()),
        other => other.into(),
    }
}

/// Links from an order to its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderLinks {
    #[serde(rename = "self")]
    pub this: String,
    pub events: String,
    /// The print mock-up (null for products without a preview).
    pub print: Option<String>,
    /// The print areas' files and their state (empty for products without print areas).
    pub files: String,
    /// The design the order was placed from.
    pub design: Option<String>,
}

/// An order as the API shows it: the frozen, typed spec.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderView {
    /// UUID v7: time-ordered.
    pub id: String,
    pub status: OrderStatus,
    /// Starts at 1 and grows by one on each status change (the ETag; send it as If-Match).
    pub version: i64,
    pub idempotency_key: String,
    pub product_id: String,
    /// The catalog version the order was validated and priced against.
    pub catalog_version: String,
    /// The design the order was placed from, if any.
    pub design_id: Option<String>,
    /// The full selection as ordered (the customer's values exactly as given, plus `filled`).
    pub selection: Choices,
    /// Options the server filled with defaults to complete the customer's selection.
    pub filled: Vec<String>,
    pub quote: Quote,
    /// The print file's content reference, when the product has a preview.
    pub preview_ref: Option<String>,
    pub customer_ref: Option<String>,
    /// Free-form JSON the client sent with the order.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// RFC 3339, UTC.
    #[schema(value_type = String)]
    pub created_at: crate::orders::Timestamp,
    #[schema(value_type = String)]
    pub updated_at: crate::orders::Timestamp,
    pub links: OrderLinks,
    /// Every customer upload the order uses (its upload options' values), each with the URL an
    /// order system downloads the original file from (scope `orders:read`).
    pub uploads: Vec<super::uploads::OrderUpload>,
    /// Every option of the configuration that has a value, in product order, with its label,
    /// value label and SKU (empty for orders placed before fulfilment data existed).
    pub options: Vec<super::fulfilment::OrderOption>,
    /// The variant SKU composed by the product's `sku:` template (null without one).
    pub variant_sku: Option<String>,
    /// The bill of materials: what the order consumes, merged per part and unit.
    pub bom: Vec<super::fulfilment::BomLineView>,
    /// Where its print areas' files stand (`links.files` lists them); null for products
    /// without print areas.
    pub files_state: Option<super::print::FilesStateView>,
}

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Submitted,
    Accepted,
    InProduction,
    Shipped,
    Cancelled,
}

impl From<Status> for OrderStatus {
    fn from(s: Status) -> OrderStatus {
        match s {
            Status::Submitted => OrderStatus::Submitted,
            Status::Accepted => OrderStatus::Accepted,
            Status::InProduction => OrderStatus::InProduction,
            Status::Shipped => OrderStatus::Shipped,
            Status::Cancelled => OrderStatus::Cancelled,
        }
    }
}

impl OrderView {
    /// The typed view of a stored order (its JSON fields were written by this module), with
    /// the uploads it uses (see `App::order_view`).
    pub fn of(
        o: &Order,
        uploads: Vec<super::uploads::OrderUpload>,
        files_state: Option<crate::orders::FilesState>,
    ) -> Result<OrderView, AppError> {
        let selection: Choices = serde_json::from_value(o.selection.clone())
            .map_err(|e| AppError::Internal(format!("order {}: stored selection: {e}", o.id)))?;
        let quote: Quote = serde_json::from_value(o.quote.clone())
            .map_err(|e| AppError::Internal(format!("order {}: stored quote: {e}", o.id)))?;
        let fulfilment = super::fulfilment::Fulfilment::from_stored(&o.id, &o.fulfilment)?;
        Ok(OrderView {
            id: o.id.clone(),
            status: o.status.into(),
            version: o.version,
            idempotency_key: o.idempotency_key.clone(),
            product_id: o.product_id.clone(),
            catalog_version: o.catalog_version.clone(),
            design_id: o.design_id.clone(),
            selection,
            filled: o.filled.clone(),
            quote,
            preview_ref: o.preview_ref.clone(),
            customer_ref: o.customer_ref.clone(),
            metadata: o.metadata.as_object().cloned().unwrap_or_default(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            links: OrderLinks {
                this: format!("/v1/orders/{}", o.id),
                events: format!("/v1/orders/{}/events", o.id),
                print: o
                    .preview_ref
                    .as_ref()
                    .map(|_| format!("/v1/orders/{}/print", o.id)),
                design: o.design_id.as_ref().map(|d| format!("/v1/designs/{d}")),
                files: format!("/v1/orders/{}/files", o.id),
            },
            uploads,
            options: fulfilment.options,
            variant_sku: fulfilment.variant_sku,
            bom: fulfilment.bom,
            files_state: files_state.map(Into::into),
        })
    }
}

/// One page of the order feed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    /// Present when more orders follow: pass it back as `cursor`.
    pub next_cursor: Option<String>,
}

/// One entry of an order's history: its creation (`from` is null) or a status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderEventView {
    pub order_id: String,
    /// The order's version after this event (1 for creation).
    pub version: i64,
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub note: Option<String>,
    /// RFC 3339, UTC.
    #[schema(value_type = String)]
    pub at: crate::orders::Timestamp,
}

impl OrderEventView {
    pub fn of(e: &OrderEvent) -> OrderEventView {
        OrderEventView {
            order_id: e.order_id.clone(),
            version: e.version,
            from: e.from.map(Into::into),
            to: e.to.into(),
            note: e.note.clone(),
            at: e.at,
        }
    }
}

/// A selection made whole for an order or a design: the customer's choices exactly as given,
/// completed with defaults as configure's completion does, and valid.
#[derive(Debug, Clone)]
pub struct Finalized {
    pub selection: Selection,
    pub choices: Choices,
    /// Options the server filled.
    pub filled: Vec<String>,
    pub quote: Quote,
}

/// Completes `sel` (defaults first, as configure's `completion`), validates and prices it.
/// Refused (422) when the selection conflicts, or needs a text or upload only the customer can
/// give.
pub fn finalize(engine: &Engine, sel: &Selection) -> Result<Finalized, AppError> {
    let p: &Product = &engine.product;
    let invalid = |sel: &Selection| AppError::Invalid(ValidationView::of(p, &engine.validate(sel)));
    let validation = engine.validate(sel);
    let (selection, filled) = if validation.valid {
        (sel.clone(), Vec::new())
    } else if !validation.violations.is_empty() {
        return Err(invalid(sel));
    } else {
        let Some(solution) = engine.complete(sel)? else {
            return Err(invalid(sel));
        };
        let c = completion(engine, sel, &solution);
        if !c.needs_input.is_empty() {
            return Err(invalid(sel));
        }
        let completed = c.selection.parse(p)?;
        if !engine.validate(&completed).valid {
            return Err(invalid(&completed));
        }
        (completed, c.filled)
    };
    let quote = crate::pricing::quote(p, &selection).map_err(AppError::Pricing)?;
    Ok(Finalized {
        choices: Choices::of(p, &selection),
        selection,
        filled,
        quote: Quote::of(&quote),
    })
}

impl App {
    /// The snapshot of a catalog version: the serving one, a recently used one, or one rebuilt
    /// from the files stored when it was served.
    pub fn snapshot_for(&self, version: Option<&str>) -> Result<Arc<Snapshot>, AppError> {
        let current = self.snapshot();
        let Some(v) = version else {
            return Ok(current);
        };
        if current.version() == v {
            return Ok(current);
        }
        if let Some(s) = self.old_snapshots.get(v) {
            return Ok(s);
        }
        let stored = self.db.get_catalog_version(v).map_err(|e| match e {
            DbError::NotFound => AppError::UnknownCatalogVersion(v.to_owned()),
            other => other.into(),
        })?;
        let mut files = crate::catalog::FileSet::new();
        for (path, bytes) in stored.files {
            files.insert(path, bytes);
        }
        // An older version only re-validates and re-prices orders: no warm-up.
        let snap = Snapshot::build(
            files,
            self.settings.work_limit,
            self.preview_config(),
            crate::config::WarmUpPlan::OFF,
            Some(&current),
            None,
        )
        .map_err(|_| AppError::Internal(format!("stored catalog version {v} no longer loads")))?;
        let snap = Arc::new(snap);
        self.old_snapshots.insert(v.to_owned(), Arc::clone(&snap));
        Ok(snap)
    }

    /// The snapshot a storefront's pin names: `version` is the product version configure
    /// answered with (`version`) or a catalog version (`catalog_version`); the serving snapshot
    /// when `None`.
    pub fn snapshot_pinned(
        &self,
        product: &str,
        version: Option<&str>,
    ) -> Result<Arc<Snapshot>, AppError> {
        let current = self.snapshot();
        let Some(v) = version else {
            return Ok(current);
        };
        if current.version() == v
            || current
                .catalog
                .product(product)
                .is_some_and(|p| p.version == v)
        {
            return Ok(current);
        }
        let catalog_version = match self.db.catalog_version_of(product, v)? {
            Some(c) => c,
            None => v.to_owned(),
        };
        let snap = self.snapshot_for(Some(&catalog_version))?;
        // A product version pins that product: it must be the one the snapshot holds.
        if catalog_version != v && snap.catalog.product(product).is_none_or(|p| p.version != v) {
            return Err(AppError::UnknownCatalogVersion(v.to_owned()));
        }
        Ok(snap)
    }

    /// Places an order: completes the selection with defaults (as configure's completion),
    /// re-validates and re-prices it against the pinned catalog version, renders its print
    /// file, and stores it under the Idempotency-Key. Returns the order and whether this call
    /// created it.
    pub fn place_order(&self, req: PlaceOrder) -> Result<(OrderView, bool), AppError> {
        let (body, snap, product_id, sel, design_id) = match &req.source {
            OrderSource::Selection {
                product,
                choices,
                quantity,
                version,
            } => {
                let snap = self.snapshot_pinned(product, version.as_deref())?;
                let (p, _) = snap.product(product)?;
                let sel = super::typed_selection(p, choices, *quantity)?;
                let body = json!({
                    "product": product, "selection": choices.0, "quantity": quantity,
                    "version": version, "customer_ref": req.customer_ref, "metadata": req.metadata,
                });
                (body, snap, product.clone(), sel, None)
            }
            OrderSource::Design(id) => {
                let design = self.design(id)?;
                let snap = self.snapshot_for(Some(&design.catalog_version))?;
                let (p, _) = snap.product(&design.product)?;
                let sel = design.selection.parse(p)?;
                let body = json!({
                    "design": id, "customer_ref": req.customer_ref, "metadata": req.metadata,
                });
                (body, snap, design.product.clone(), sel, Some(id.clone()))
            }
        };
        let fp = fingerprint(&body);
        let (product, engine) = snap.product(&product_id)?;
        self.check_uploads(product, &sel)?;
        let started = std::time::Instant::now();
        let done = finalize(engine, &sel);
        self.metrics.engine_call("finalize", started.elapsed());
        let done = done?;
        // Its uploads are kept from now on (retention), before the order is stored.
        self.hold_uploads(product, &done.selection, None)?;
        // The print areas' files (rendered now when small, else a job), and the mock-up's
        // reference: rendered now only for products without print areas (with areas,
        // production takes the areas' files and the mock-up is rendered when first asked for).
        let print = self.plan_print(&snap, product, &done.selection)?;
        let preview_ref = match &print {
            Some(_) => Some(
                snap.previewer
                    .print_etag(product, &done.selection, self.settings.print_dpi)
                    .map_err(super::preview_error)?,
            ),
            None => self.print_preview_ref(&snap, product, &done.selection)?,
        };
        let new = NewOrder {
            idempotency_key: req.idempotency_key,
            fingerprint: fp,
            product_id: product.id.clone(),
            catalog_version: snap.version().to_owned(),
            selection: done.choices.stored(),
            quote: serde_json::to_value(&done.quote)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            preview_ref,
            customer_ref: req.customer_ref,
            metadata: serde_json::Value::Object(req.metadata),
            design_id,
            filled: done.filled,
            fulfilment: super::fulfilment::fulfilment(product, &done.selection)?.stored()?,
        };
        // Its webhook events go to the outbox in the order's own transaction: `order.created`,
        // and `order.files_ready` when its print files were rendered before it.
        let files_state = print.as_ref().map(|p| match p {
            PrintPlan::Ready(_) => crate::orders::FilesState::Ready,
            PrintPlan::Job => crate::orders::FilesState::Pending,
        });
        let events = |o: &Order| {
            // The order's uploads are listed once for both events (inside the transaction).
            let uploads = self.order_uploads(o);
            let ready = files_state == Some(crate::orders::FilesState::Ready);
            let mut list = super::webhooks::order_created(o, uploads.clone(), files_state)?;
            if ready {
                list.push(
                    super::webhooks::order_files_ready(o, uploads, files_state)
                        .map_err(|e| e.to_string())?,
                );
            }
            Ok(list)
        };
        let (order, created) = match &print {
            Some(plan) => self.db.create_order_with_print(new, plan, &events)?,
            None => self.db.create_order_with_events(new, &events)?,
        };
        self.metrics.order(created);
        if created && print == Some(PrintPlan::Job) {
            self.wake_print_workers();
        }
        if created {
            self.outbox.wake();
            // The order is in the history now: the next recommendation knows it.
            self.refresh_history();
        }
        Ok((self.order_view(&order)?, created))
    }

    /// Renders the print preview of a selection and keeps it in the blob store (kind `print`,
    /// by its etag); the reference is that etag. `None` for products without a preview.
    fn print_preview_ref(
        &self,
        snap: &Snapshot,
        product: &crate::catalog::Product,
        sel: &Selection,
    ) -> Result<Option<String>, AppError> {
        if product.preview.is_none() {
            return Ok(None);
        }
        let r = snap
            .previewer
            .render_print(product, sel, self.settings.print_dpi)
            .map_err(super::preview_error)?;
        self.blobs
            .put(BlobKind::Print, &r.etag, r.content_type, &r.bytes)
            .map_err(|e| AppError::Unavailable(format!("cannot store the print file: {e}")))?;
        Ok(Some(r.etag))
    }

    /// The print file of an order (its content reference and PNG bytes): kept from when it was
    /// placed, or rendered again from its pinned catalog version.
    pub fn order_print(&self, id: &str) -> Result<(String, Arc<[u8]>), AppError> {
        let order = self.stored_order(id)?;
        let Some(r) = order.preview_ref.clone() else {
            return Err(AppError::BadRequest(format!(
                "order {id} has no print file (its product has no preview)"
            )));
        };
        // Missing (an order stored before the blob store, whose reference it cannot hold) or
        // unreadable now: rendered again from the pinned version.
        if let Ok(Some(blob)) = self.blobs.get(BlobKind::Print, &r) {
            return Ok((r, blob.bytes.into()));
        }
        let (snap, sel) = self.order_selection(&order)?;
        let (product, _) = snap.product(&order.product_id)?;
        let out = snap
            .previewer
            .render_print(product, &sel, self.settings.print_dpi)
            .map_err(super::preview_error)?;
        // Kept for the next read (products with print areas render their mock-up lazily).
        if let Err(e) = self
            .blobs
            .put(BlobKind::Print, &r, out.content_type, &out.bytes)
        {
            tracing::warn!(order_id = %id, "cannot keep the print mock-up: {e}");
        }
        Ok((r, out.bytes))
    }

    fn stored_order(&self, id: &str) -> Result<Order, AppError> {
        self.db.get_order(id).map_err(not_found(id))
    }

    pub fn order(&self, id: &str) -> Result<OrderView, AppError> {
        self.order_view(&self.stored_order(id)?)
    }

    pub fn orders(
        &self,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<OrderPage, AppError> {
        let page: Page<Order> = self.db.list_orders(OrderFilter { status }, cursor, limit)?;
        let ids: Vec<&str> = page.items.iter().map(|o| o.id.as_str()).collect();
        let states = self.db.print_states(&ids)?;
        Ok(OrderPage {
            items: page
                .items
                .iter()
                .map(|o| self.order_view_with(o, states.get(&o.id).copied()))
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    pub fn order_events(&self, id: &str) -> Result<Vec<OrderEventView>, AppError> {
        self.stored_order(id)?;
        let events = self.db.events(id).map_err(not_found(id))?;
        Ok(events.iter().map(OrderEventView::of).collect())
    }

    pub fn transition(
        &self,
        id: &str,
        to: Status,
        expected_version: i64,
        note: Option<String>,
    ) -> Result<OrderView, AppError> {
        // Read before the transition's transaction (which must not wait for another
        // connection): the print files state the event reports.
        let files_state = self.db.print_states(&[id])?.remove(id);
        let order = self
            .db
            .transition_with_events(id, to, expected_version, note, &|change| {
                super::webhooks::order_status_changed(
                    change,
                    self.order_uploads(&change.0),
                    files_state,
                )
            })
            .map_err(not_found(id))?;
        self.metrics.transition(to.as_str());
        self.outbox.wake();
        self.order_view(&order)
    }

    /// The stored order re-read against its pinned catalog version: the frozen selection parsed
    /// again on that version.
    pub fn order_selection(&self, order: &Order) -> Result<(Arc<Snapshot>, Selection), AppError> {
        let snap = self.snapshot_for(Some(&order.catalog_version))?;
        let (product, _) = snap.product(&order.product_id)?;
        let choices: Choices = serde_json::from_value(order.selection.clone()).map_err(|e| {
            AppError::Internal(format!("order {}: stored selection: {e}", order.id))
        })?;
        let sel = choices.parse(product)?;
        Ok((snap, sel))
    }
}
