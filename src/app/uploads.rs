//! Upload use cases: accept an upload (decoded off the async workers under the process's decode budget, stored with its original bytes), read an original back for an order system, hold the uploads a design or order uses, list them on an order, and delete unreferenced uploads past retention.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use utoipa::ToSchema;

use super::values::{Choices, OptionValue};
use super::{App, AppError};
use crate::catalog::Product;
use crate::catalog::model::{OptionKind, Value};
use crate::orders::{Order, Timestamp};
use crate::preview::blob::{BlobKind, Listed, check_id};
use crate::preview::upload::{Upload, UploadLimits, UploadStore, accept_within, is_upload_id};
use crate::rules::Selection;

/// How often unreferenced uploads past retention are deleted (checked when an upload is
/// accepted).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Uploads looked at per purge batch (each costs a reference lookup and two deletes).
const PURGE_BATCH: usize = 500;

/// The file that marks a data directory's files from before the blob store as adopted.
pub const ADOPTED_MARKER: &str = ".blobs-adopted";

/// What adopting a data directory's earlier files did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Adopted {
    pub uploads: u64,
    pub prints: u64,
}

/// An upload an order uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderUpload {
    /// The upload option.
    pub option: String,
    /// The upload id (the option's value).
    pub id: String,
    /// Where the original file is downloaded (scope `orders:read`).
    pub url: String,
}

/// An upload's original bytes, as the customer sent them.
#[derive(Debug, Clone)]
pub struct OriginalUpload {
    pub id: String,
    pub content_type: String,
    /// Hex SHA-256 of `bytes` (a strong ETag).
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// What one purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadPurge {
    /// Uploads past retention looked at.
    pub examined: u64,
    /// Of those, deleted (no design or order refers to them).
    pub deleted: u64,
}

fn timestamp(t: SystemTime) -> Timestamp {
    let micros = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_micros()).ok())
        .unwrap_or(0);
    Timestamp::from_unix_micros(micros)
}

/// The upload ids a selection gives its upload options.
fn upload_values(product: &Product, sel: &Selection) -> Vec<String> {
    sel.choices
        .iter()
        .filter_map(|(o, v)| match (product.options.get(*o), v) {
            (Some(opt), Value::Text(id)) if matches!(opt.kind, OptionKind::Upload(_)) => {
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
}

impl App {
    /// Accepts an uploaded image: decoded (with limits, under the decode budget: `Busy` when it
    /// is spent), re-encoded as PNG, stored with the original bytes. Deletes unreferenced
    /// uploads past retention when that is due. Blocking: call it through `http::off_thread`.
    pub fn accept_upload(&self, bytes: &[u8]) -> Result<Upload, AppError> {
        let limits = UploadLimits {
            max_bytes: self.settings.upload_limit,
            ..UploadLimits::default()
        };
        let up = accept_within(bytes, &limits, Some(&self.decode_budget))?;
        self.uploads.put(&up)?;
        self.purge_uploads_if_due();
        Ok(up)
    }

    /// An upload's original bytes (404 `UploadNotFound` when unknown or malformed).
    pub fn upload_original(&self, id: &str) -> Result<OriginalUpload, AppError> {
        if !is_upload_id(id) {
            return Err(AppError::UploadNotFound(id.chars().take(80).collect()));
        }
        let blob = self
            .uploads
            .original(id)?
            .ok_or_else(|| AppError::UploadNotFound(id.to_owned()))?;
        Ok(OriginalUpload {
            id: id.to_owned(),
            content_type: blob.info.content_type,
            sha256: blob.info.sha256,
            bytes: blob.bytes,
        })
    }

    /// Records that a design (kept until `until`) or an order (`None`: forever) uses the
    /// selection's uploads, then checks they are still stored: from then on retention keeps
    /// them. Call it before the design or order is stored.
    pub fn hold_uploads(
        &self,
        product: &Product,
        sel: &Selection,
        until: Option<Timestamp>,
    ) -> Result<(), AppError> {
        for id in upload_values(product, sel) {
            self.db.reference_upload(&id, until)?;
        }
        self.check_uploads(product, sel)
    }

    /// The uploads a stored order uses: its selection's values of the options that are upload
    /// options at its pinned catalog version.
    pub fn order_uploads(&self, order: &Order) -> Vec<OrderUpload> {
        let choices: Choices = match serde_json::from_value(order.selection.clone()) {
            Ok(c) => c,
            Err(_) => return Vec::new(),
        };
        let snap = match self.snapshot_for(Some(&order.catalog_version)) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(order = %order.id, "cannot read the order's catalog version to list its uploads: {e}");
                return Vec::new();
            }
        };
        let product = snap.catalog.product(&order.product_id);
        choices
            .0
            .iter()
            .filter_map(|(option, value)| {
                let is_upload = product.is_some_and(|p| {
                    p.options
                        .iter()
                        .any(|o| o.id == *option && matches!(o.kind, OptionKind::Upload(_)))
                });
                match value {
                    Some(OptionValue::Text(id)) if is_upload && is_upload_id(id) => {
                        Some(OrderUpload {
                            option: option.clone(),
                            id: id.clone(),
                            url: format!("/v1/uploads/{id}"),
                        })
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The typed view of a stored order, with the uploads it uses.
    pub fn order_view(&self, order: &Order) -> Result<super::orders::OrderView, AppError> {
        let state = self
            .db
            .print_states(&[order.id.as_str()])?
            .remove(&order.id);
        self.order_view_with(order, state)
    }

    /// As [`App::order_view`], with the order's print files state already read.
    pub(crate) fn order_view_with(
        &self,
        order: &Order,
        files_state: Option<crate::orders::FilesState>,
    ) -> Result<super::orders::OrderView, AppError> {
        super::orders::OrderView::of(order, self.order_uploads(order), files_state)
    }

    /// Adopts what a data directory holds from before the blob store (`uploads/<id>.png`,
    /// `prints/<ref>.png`), once (a marker file records it): each upload is stored in the blob
    /// store if it is not there (the database store), with its PNG as its original (the only
    /// bytes that were kept), and held forever (which designs and orders use it was not
    /// recorded); each print file is stored if missing. The files stay where they are.
    pub fn adopt_legacy_files(&self) -> Result<Adopted, AppError> {
        let data = &self.settings.data_dir;
        let marker = data.join(ADOPTED_MARKER);
        let mut done = Adopted::default();
        if marker.exists() {
            return Ok(done);
        }
        let store =
            |e: crate::preview::blob::BlobError| AppError::Unavailable(format!("blob store: {e}"));
        let io = |e: std::io::Error| AppError::Unavailable(format!("data directory: {e}"));
        let pngs = |folder: &str| -> Result<Vec<(String, std::path::PathBuf)>, AppError> {
            let dir = data.join(folder);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io(e)),
            };
            let mut out = Vec::new();
            for entry in entries {
                let path = entry.map_err(io)?.path();
                let id = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".png"))
                    .map(str::to_owned);
                if let Some(id) = id.filter(|id| check_id(id).is_ok()) {
                    out.push((id, path));
                }
            }
            out.sort();
            Ok(out)
        };
        let uploads = pngs("uploads")?;
        let prints = pngs("prints")?;
        if uploads.is_empty() && prints.is_empty() && !data.exists() {
            return Ok(done);
        }
        for (id, path) in uploads.iter().filter(|(id, _)| is_upload_id(id)) {
            if !self.blobs.contains(BlobKind::Original, id).map_err(store)? {
                let bytes = std::fs::read(path).map_err(io)?;
                self.blobs
                    .put(BlobKind::Original, id, "image/png", &bytes)
                    .map_err(store)?;
                self.blobs
                    .put(BlobKind::Upload, id, "image/png", &bytes)
                    .map_err(store)?;
                done.uploads += 1;
            }
            self.db.reference_upload(id, None)?;
        }
        for (id, path) in &prints {
            if !self.blobs.contains(BlobKind::Print, id).map_err(store)? {
                let bytes = std::fs::read(path).map_err(io)?;
                self.blobs
                    .put(BlobKind::Print, id, "image/png", &bytes)
                    .map_err(store)?;
                done.prints += 1;
            }
        }
        std::fs::create_dir_all(data)
            .and_then(|()| std::fs::write(&marker, b"uploads and print files adopted\n"))
            .map_err(io)?;
        if done != Adopted::default() {
            tracing::info!(
                uploads = done.uploads,
                prints = done.prints,
                "files from before the blob store adopted"
            );
        }
        Ok(done)
    }

    /// Deletes unreferenced uploads past retention, at most once per `PURGE_EVERY` (a failure
    /// is logged: they are deleted at a later purge).
    pub fn purge_uploads_if_due(&self) {
        if self.settings.upload_retention.is_none() {
            return;
        }
        let due = self.last_upload_purge.lock().is_ok_and(|mut t| {
            let due = t.is_none_or(|t| t.elapsed() >= PURGE_EVERY);
            if due {
                *t = Some(std::time::Instant::now());
            }
            due
        });
        if due {
            match self.purge_uploads(SystemTime::now()) {
                Ok(p) if p.deleted == 0 => {}
                Ok(p) => tracing::info!(uploads = p.deleted, "unreferenced uploads deleted"),
                Err(e) => tracing::warn!("cannot delete unreferenced uploads: {e}"),
            }
        }
    }

    /// Deletes every upload (and its original) stored before `at` minus the retention that no
    /// design or order refers to at `at`. Nothing with `--upload-retention-days 0`.
    pub fn purge_uploads(&self, at: SystemTime) -> Result<UploadPurge, AppError> {
        let mut done = UploadPurge::default();
        let Some(retention) = self.settings.upload_retention else {
            return Ok(done);
        };
        let cutoff = at.checked_sub(retention).unwrap_or(SystemTime::UNIX_EPOCH);
        let now = timestamp(at);
        let store = |e: crate::preview::blob::BlobError| {
            AppError::Unavailable(format!("upload store: {e}"))
        };
        for kind in [BlobKind::Upload, BlobKind::Original] {
            let mut after: Option<Listed> = None;
            loop {
                let page = self
                    .blobs
                    .list_older_than(kind, cutoff, after.as_ref(), PURGE_BATCH)
                    .map_err(store)?;
                let Some(last) = page.last().cloned() else {
                    break;
                };
                let ids: Vec<String> = page.into_iter().map(|l| l.id).collect();
                let kept: HashSet<String> =
                    self.db.referenced_uploads(&ids, now)?.into_iter().collect();
                for id in ids.iter().filter(|id| !kept.contains(*id)) {
                    if kind == BlobKind::Upload {
                        done.examined += 1;
                        // The normalised image first: the upload is unknown from then on.
                        if self.uploads.delete(id)? {
                            done.deleted += 1;
                        }
                        self.db.forget_upload(id)?;
                    } else if !self.blobs.contains(BlobKind::Upload, id).map_err(store)? {
                        // An original left by an upload deleted between its two deletes.
                        self.blobs.delete(BlobKind::Original, id).map_err(store)?;
                    }
                }
                if kind == BlobKind::Upload {
                    done.examined += u64::try_from(kept.len()).unwrap_or(0);
                }
                after = Some(last);
            }
        }
        Ok(done)
    }
}
