//! Saved designs (the cart line): a configuration completed, validated and priced on the version the storefront was shown, stored immutably with a retention period, read back by id, and ordered later at its pinned version.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::configure::{PREVIEW_WIDTH, Quote, preview_url};
use super::orders::finalize;
use super::values::Choices;
use super::{App, AppError};
use crate::db::DbError;
use crate::orders::{Design, NewDesign, Timestamp};

/// How often expired designs are deleted (checked when a design is saved).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// A design to save.
#[derive(Debug, Clone)]
pub struct SaveDesign {
    pub product: String,
    pub choices: Choices,
    pub quantity: Option<i64>,
    /// The product version (configure's `version`) or catalog version the storefront was
    /// shown; the serving one when `None`.
    pub version: Option<String>,
}

/// A saved design.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DesignView {
    /// UUID v7. Put it on the cart line; order it with `{"design": id}`.
    pub id: String,
    pub product: String,
    /// The product version the design is pinned to.
    pub version: String,
    pub catalog_version: String,
    /// The full selection: the customer's values exactly as given, plus `filled`.
    pub selection: Choices,
    /// Options the server filled with defaults.
    pub filled: Vec<String>,
    /// The price at the pinned version (an order from this design is priced the same way).
    pub quote: Quote,
    /// The preview image, pinned to the product version.
    pub preview_url: Option<String>,
    /// The storefront page showing this design.
    pub share_url: String,
    /// RFC 3339, UTC.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it stops being readable (null: kept until deleted).
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Timestamp>,
    /// What an order of this design will freeze for fulfilment, at the pinned version: every
    /// option with a value, with its label, value label and SKU.
    pub options: Vec<super::fulfilment::OrderOption>,
    /// The variant SKU (null when the product has no `sku:` template).
    pub variant_sku: Option<String>,
    /// The bill of materials.
    pub bom: Vec<super::fulfilment::BomLineView>,
}

fn now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .unwrap_or(0);
    Timestamp::from_unix_micros(micros)
}

impl App {
    /// Saves a design: the selection is completed with defaults, validated and priced on the
    /// pinned version (a conflicting or incomplete one is refused, as an order would be).
    pub fn save_design(&self, req: SaveDesign) -> Result<DesignView, AppError> {
        let snap = self.snapshot_pinned(&req.product, req.version.as_deref())?;
        let (product, engine) = snap.product(&req.product)?;
        let sel = super::typed_selection(product, &req.choices, req.quantity)?;
        self.check_uploads(product, &sel)?;
        let done = finalize(engine, &sel)?;
        // A bill the catalog cannot resolve is refused now, as an order of it would be.
        super::fulfilment::fulfilment(product, &done.selection)?;
        let created = now();
        let expires_at = self.settings.design_retention.map(|d| {
            let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
            Timestamp::from_unix_micros(created.unix_micros().saturating_add(micros))
        });
        self.purge_designs_if_due();
        // Its uploads are kept as long as the design (retention), before it is stored.
        self.hold_uploads(product, &done.selection, expires_at)?;
        let events = |d: &Design| {
            super::webhooks::design_created(self.design_view(d).map_err(|e| e.to_string())?)
        };
        let design = self.db.create_design_with_events(
            NewDesign {
                product_id: product.id.clone(),
                product_version: product.version.clone(),
                catalog_version: snap.version().to_owned(),
                selection: done.choices.stored(),
                quote: serde_json::to_value(&done.quote)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
                filled: done.filled,
                expires_at,
            },
            &events,
        )?;
        self.outbox.wake();
        tracing::info!(design = %design.id, product = %design.product_id, "design saved");
        self.design_view(&design)
    }

    /// A saved design by id (404 once it expired).
    pub fn design(&self, id: &str) -> Result<DesignView, AppError> {
        let design = self.db.get_design(id).map_err(|e| match e {
            DbError::NotFound => AppError::DesignNotFound(id.to_owned()),
            other => other.into(),
        })?;
        self.design_view(&design)
    }

    fn design_view(&self, d: &Design) -> Result<DesignView, AppError> {
        let selection: Choices = serde_json::from_value(d.selection.clone())
            .map_err(|e| AppError::Internal(format!("design {}: stored selection: {e}", d.id)))?;
        let quote: Quote = serde_json::from_value(d.quote.clone())
            .map_err(|e| AppError::Internal(format!("design {}: stored quote: {e}", d.id)))?;
        let snap = self.snapshot_for(Some(&d.catalog_version))?;
        let preview = snap
            .catalog
            .product(&d.product_id)
            .filter(|p| p.preview.is_some())
            .map(|p| preview_url(p, &selection, PREVIEW_WIDTH));
        // Resolved at the pinned version, whose files never change: the same as an order freezes.
        let fulfilment = match snap.catalog.product(&d.product_id) {
            Some(p) => super::fulfilment::fulfilment(p, &selection.parse(p)?)?,
            None => super::fulfilment::Fulfilment::default(),
        };
        Ok(DesignView {
            id: d.id.clone(),
            product: d.product_id.clone(),
            version: d.product_version.clone(),
            catalog_version: d.catalog_version.clone(),
            selection,
            filled: d.filled.clone(),
            quote,
            preview_url: preview,
            share_url: format!("/p/{}?design={}", d.product_id, d.id),
            created_at: d.created_at,
            expires_at: d.expires_at,
            options: fulfilment.options,
            variant_sku: fulfilment.variant_sku,
            bom: fulfilment.bom,
        })
    }

    /// Deletes expired designs, at most once per `PURGE_EVERY` (a failure is logged: expired
    /// designs are unreadable anyway).
    pub fn purge_designs_if_due(&self) {
        let due = self.last_design_purge.lock().is_ok_and(|mut t| {
            let due = t.is_none_or(|t| t.elapsed() >= PURGE_EVERY);
            if due {
                *t = Some(std::time::Instant::now());
            }
            due
        });
        if due {
            match self.db.purge_expired_designs(now()) {
                Ok(0) => {}
                Ok(n) => tracing::info!(designs = n, "expired designs deleted"),
                Err(e) => tracing::warn!("cannot delete expired designs: {e}"),
            }
        }
    }
}
