//! Order use cases: place an order (re-validated and re-priced from the pinned catalog version, print preview rendered, stored idempotently) and the order feed.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::{App, AppError, Snapshot};
use crate::db::DbError;
use crate::orders::{NewOrder, Order, OrderEvent, OrderFilter, Page, Status, fingerprint};
use crate::rules::Selection;

/// An order as the client asks for it. Prices and validity are never taken from the client.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub idempotency_key: String,
    pub product: String,
    /// Choices in the order they were made (option id, value as text).
    pub choices: Vec<(String, String)>,
    pub quantity: Option<i64>,
    /// The catalog version the storefront configured against; the current one when `None`.
    pub catalog_version: Option<String>,
    pub customer_ref: Option<String>,
    pub metadata: Json,
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

/// The selection as stored: option id → typed value, in the order chosen.
pub fn normalized(snapshot_engine: &crate::rules::Engine, sel: &Selection) -> Json {
    let p = &snapshot_engine.product;
    let mut m = serde_json::Map::new();
    for (o, v) in &sel.choices {
        let value = match v {
            crate::catalog::Value::Bool(b) => json!(b),
            crate::catalog::Value::Int(n) => json!(n),
            other => json!(crate::rules::selection::value_text(p, *o, other)),
        };
        m.insert(p.options[*o].id.clone(), value);
    }
    Json::Object(m)
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
        let store: Arc<dyn crate::preview::upload::UploadStore> = self.uploads.clone();
        // An older version only re-validates and re-prices orders: no warm-up.
        let snap = Snapshot::build(
            files,
            self.settings.work_limit,
            Some(store),
            crate::config::WarmUpPlan::OFF,
            Some(&current),
            None,
        )
        .map_err(|_| AppError::Internal(format!("stored catalog version {v} no longer loads")))?;
        let snap = Arc::new(snap);
        self.old_snapshots.insert(v.to_owned(), Arc::clone(&snap));
        Ok(snap)
    }

    /// Places an order: re-validates and re-prices the selection against the pinned catalog
    /// version, renders its print preview, and stores it under the Idempotency-Key. Returns the
    /// order and whether this call created it.
    pub fn place_order(&self, req: PlaceOrder) -> Result<(Order, bool), AppError> {
        let body = json!({
            "product": req.product,
            "choices": req.choices,
            "quantity": req.quantity,
            "catalog_version": req.catalog_version,
            "customer_ref": req.customer_ref,
            "metadata": req.metadata,
        });
        let fp = fingerprint(&body);
        let snap = self.snapshot_for(req.catalog_version.as_deref())?;
        let (product, engine) = snap.product(&req.product)?;
        let sel = super::selection(product, req.choices.clone(), req.quantity)?;
        let validation = engine.validate(&sel);
        if !validation.valid {
            let details = super::report::validation_json(engine, &validation);
            let summary = summary(&details);
            return Err(AppError::Invalid { summary, details });
        }
        let quote =
            crate::pricing::quote(product, &sel).map_err(|e| AppError::Pricing(e.to_string()))?;
        let preview_ref = self.print_preview_ref(&snap, product, &sel)?;
        let new = NewOrder {
            idempotency_key: req.idempotency_key,
            fingerprint: fp,
            product_id: product.id.clone(),
            catalog_version: snap.version().to_owned(),
            selection: normalized(engine, &sel),
            quote: serde_json::to_value(&quote).map_err(|e| AppError::Internal(e.to_string()))?,
            preview_ref,
            customer_ref: req.customer_ref,
            metadata: req.metadata,
        };
        Ok(self.db.create_order(new)?)
    }

    /// Renders the print preview of a selection and keeps it under `data/prints/<etag>.png`;
    /// the reference is that etag. `None` for products without a preview.
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
            .map_err(|e| AppError::Preview(e.to_string()))?;
        let dir = self.settings.data_dir.join("prints");
        let path = dir.join(format!("{}.png", r.etag));
        if !path.exists() {
            std::fs::create_dir_all(&dir)
                .and_then(|()| {
                    let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::now_v7().simple()));
                    std::fs::write(&tmp, &r.bytes)?;
                    std::fs::rename(&tmp, &path)
                })
                .map_err(|e| AppError::Unavailable(format!("cannot store the print file: {e}")))?;
        }
        Ok(Some(r.etag))
    }

    /// The print file of an order: kept from when it was placed, or rendered again from its
    /// pinned catalog version.
    pub fn order_print(&self, order: &Order) -> Result<Arc<[u8]>, AppError> {
        if let Some(r) = &order.preview_ref
            && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && let Ok(bytes) = std::fs::read(
                self.settings
                    .data_dir
                    .join("prints")
                    .join(format!("{r}.png")),
            )
        {
            return Ok(bytes.into());
        }
        let (snap, sel) = self.order_selection(order)?;
        let (product, _) = snap.product(&order.product_id)?;
        let r = snap
            .previewer
            .render_print(product, &sel, self.settings.print_dpi)
            .map_err(|e| AppError::Preview(e.to_string()))?;
        Ok(r.bytes)
    }

    pub fn order(&self, id: &str) -> Result<Order, AppError> {
        self.db.get_order(id).map_err(not_found(id))
    }

    pub fn orders(
        &self,
        status: Option<Status>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Order>, AppError> {
        Ok(self.db.list_orders(OrderFilter { status }, cursor, limit)?)
    }

    pub fn order_events(&self, id: &str) -> Result<Vec<OrderEvent>, AppError> {
        self.order(id)?;
        self.db.events(id).map_err(not_found(id))
    }

    pub fn transition(
        &self,
        id: &str,
        to: Status,
        expected_version: i64,
        note: Option<String>,
    ) -> Result<Order, AppError> {
        self.db
            .transition(id, to, expected_version, note)
            .map_err(not_found(id))
    }

    /// The stored order re-read against its pinned catalog version: the frozen selection parsed
    /// again (in its stored order) on that version.
    pub fn order_selection(&self, order: &Order) -> Result<(Arc<Snapshot>, Selection), AppError> {
        let snap = self.snapshot_for(Some(&order.catalog_version))?;
        let (product, _) = snap.product(&order.product_id)?;
        let pairs = order
            .selection
            .as_object()
            .map(super::choices_from_json)
            .transpose()?
            .unwrap_or_default();
        let sel = super::selection(product, pairs, None)?;
        Ok((snap, sel))
    }
}

fn summary(details: &Json) -> String {
    let mut parts: Vec<String> = details["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["message"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&str> = details["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    parts.join("; ")
}
