//! Print files use cases: an order's plan (its areas' files rendered before the answer when small, a durable job otherwise; refused beyond the pixel budget), the print job a worker thread runs (claim under a lease, render, store in the blob store, complete or retry or fail), the worker threads themselves, and the typed files list and file reads.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use super::{App, AppError, Snapshot};
use crate::catalog::Product;
use crate::orders::{
    ClaimedJob, FilesState, MAX_PRINT_ATTEMPTS, PrintFileMeta, PrintFiles, PrintPlan,
};
use crate::preview::blob::{BlobKind, sha256_hex};
use crate::preview::print::PrintFormat;
use crate::rules::Selection;

/// How long a worker holds a claimed job before another may take it over (a crashed worker,
/// a restart): well above the longest render (a 50-megapixel area takes seconds), short enough
/// that a job a dead process held is picked up within minutes.
pub const JOB_LEASE: Duration = Duration::from_secs(300);

/// How often an idle worker looks for jobs another instance queued (or whose lease expired);
/// orders placed on this instance wake it at once.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Wait before retrying a failed attempt, per attempt made (30 s, then 60 s).
pub const RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// Wait before retrying an attempt the decode budget refused (the server's load, not the
/// job's fault: the attempt is given back).
pub const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Where an order's print files stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilesStateView {
    /// The durable job has not finished yet; ask again later.
    Pending,
    /// Every file is listed and can be downloaded.
    Ready,
    /// The job gave up (see `error`); the order stands.
    Failed,
}

impl From<FilesState> for FilesStateView {
    fn from(s: FilesState) -> FilesStateView {
        match s {
            FilesState::Pending => FilesStateView::Pending,
            FilesState::Ready => FilesStateView::Ready,
            FilesState::Failed => FilesStateView::Failed,
        }
    }
}

/// A print file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrintFormatView {
    /// Raster at the area's dpi (pHYs chunk set).
    Png,
    /// Vector at the physical size (`width="…mm"`), text converted to paths.
    Svg,
    /// One page of the physical size, vector, fonts embedded (subsets).
    Pdf,
}

/// One print file of an order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PrintFileView {
    /// The print area's id (the product's `print_areas[].id`).
    pub area: String,
    pub format: PrintFormatView,
    pub content_type: String,
    pub width_px: u32,
    pub height_px: u32,
    /// The file's physical width: the trim width plus the bleed on both sides.
    pub width_mm: f64,
    pub height_mm: f64,
    /// Bleed on every side, included in `width_mm` and `height_mm`.
    pub bleed_mm: f64,
    pub dpi: u32,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-256 of the file's bytes (also its ETag).
    pub sha256: String,
    /// Where to download it (scope `orders:read`).
    pub url: String,
}

/// An order's print files (`GET /v1/orders/{id}/files`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderFiles {
    pub order_id: String,
    pub state: FilesStateView,
    /// Why the last attempt failed (while a retry is pending, or when the job gave up).
    pub error: Option<String>,
    /// Render attempts the job made (0 when the files were made with the order).
    pub attempts: i64,
    /// Every file, by area in the product's order then format; empty until `ready`, and for
    /// products without print areas.
    pub files: Vec<PrintFileView>,
}

fn um_to_mm(um: i64) -> f64 {
    um as f64 / 1000.0
}

fn mm_to_um(mm: f64) -> i64 {
    (mm * 1000.0).round() as i64
}

impl PrintFileView {
    fn of(order_id: &str, f: &PrintFileMeta) -> PrintFileView {
        PrintFileView {
            format: match f.format.as_str() {
                "svg" => PrintFormatView::Svg,
                "pdf" => PrintFormatView::Pdf,
                _ => PrintFormatView::Png,
            },
            url: format!("/v1/orders/{order_id}/files/{}.{}", f.area, f.format),
            area: f.area.clone(),
            content_type: f.content_type.clone(),
            width_px: u32::try_from(f.width_px).unwrap_or(0),
            height_px: u32::try_from(f.height_px).unwrap_or(0),
            width_mm: um_to_mm(f.width_um),
            height_mm: um_to_mm(f.height_um),
            bleed_mm: um_to_mm(f.bleed_um),
            dpi: u32::try_from(f.dpi).unwrap_or(0),
            size: u64::try_from(f.size).unwrap_or(0),
            sha256: f.sha256.clone(),
        }
    }
}

impl OrderFiles {
    pub fn of(order_id: &str, stored: Option<&PrintFiles>) -> OrderFiles {
        match stored {
            None => OrderFiles {
                order_id: order_id.to_owned(),
                state: FilesStateView::Ready,
                error: None,
                attempts: 0,
                files: Vec::new(),
            },
            Some(p) => OrderFiles {
                order_id: order_id.to_owned(),
                state: p.state.into(),
                error: p.error.clone(),
                attempts: p.attempts,
                files: p
                    .files
                    .iter()
                    .map(|f| PrintFileView::of(order_id, f))
                    .collect(),
            },
        }
    }
}

/// Wakes idle print workers when this instance queues a job.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    queued: Mutex<bool>,
    cv: Condvar,
}

impl Wake {
    fn notify(&self) {
        if let Ok(mut q) = self.queued.lock() {
            *q = true;
        }
        self.cv.notify_all();
    }

    /// Waits until notified or `timeout` passes.
    fn wait(&self, timeout: Duration) {
        let Ok(q) = self.queued.lock() else { return };
        let mut q = if *q {
            q
        } else {
            match self.cv.wait_timeout(q, timeout) {
                Ok((g, _)) => g,
                Err(_) => return,
            }
        };
        *q = false;
    }
}

/// Starts this process's print workers (`settings.print.workers` threads), once per app: each
/// runs jobs until none is left, then waits to be woken by a new order or `POLL_INTERVAL`. The
/// threads hold the app weakly and stop once it is dropped.
pub fn start_workers(app: &Arc<App>) {
    if app.settings.print.workers == 0 || app.print_started.set(()).is_err() {
        return;
    }
    for n in 0..app.settings.print.workers {
        let weak: Weak<App> = Arc::downgrade(app);
        let wake = Arc::clone(&app.print_wake);
        let spawned = std::thread::Builder::new()
            .name(format!("bespoke-print-{n}"))
            .spawn(move || worker_loop(&weak, &wake));
        if let Err(e) = spawned {
            tracing::warn!("could not start a print worker: {e}");
        }
    }
}

fn worker_loop(weak: &Weak<App>, wake: &Wake) {
    loop {
        let worked = {
            let Some(app) = weak.upgrade() else { return };
            // A panic in a render must not stop the worker: the job's lease runs out and the
            // job is claimed again, and given up once its attempts are spent.
            let ran =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.run_print_job()));
            match ran {
                Ok(Ok(w)) => w,
                Ok(Err(e)) => {
                    tracing::warn!("print job: {e}");
                    false
                }
                Err(_) => {
                    tracing::error!("a print job panicked; it will be retried after its lease");
                    true
                }
            }
        };
        if !worked {
            wake.wait(POLL_INTERVAL);
        }
    }
}

impl App {
    /// What an order records about its print files: `None` for a product without print areas;
    /// the files themselves (rendered and stored now) when its areas together have at most
    /// `settings.print.inline_pixels`; else a job. Refused when an area would exceed the
    /// pixel budget, before anything is stored.
    pub(crate) fn plan_print(
        &self,
        snap: &Snapshot,
        product: &Product,
        sel: &Selection,
    ) -> Result<Option<PrintPlan>, AppError> {
        let has_areas = product
            .preview
            .as_ref()
            .is_some_and(|p| !p.print_areas.is_empty());
        if !has_areas {
            return Ok(None);
        }
        let sizes = snap
            .previewer
            .print_sizes(product, sel)
            .map_err(super::preview_error)?;
        let limit = self.settings.print.max_pixels;
        let mut total = 0u64;
        for (area, size) in &sizes {
            if size.pixels() > limit {
                return Err(AppError::PrintTooLarge {
                    area: area.clone(),
                    width_px: size.width_px,
                    height_px: size.height_px,
                    limit,
                });
            }
            total = total.saturating_add(size.pixels());
        }
        if total <= self.settings.print.inline_pixels {
            Ok(Some(PrintPlan::Ready(
                self.render_print_files(snap, product, sel)?,
            )))
        } else {
            Ok(Some(PrintPlan::Job))
        }
    }

    /// Wakes this instance's print workers (an order just queued a job).
    pub(crate) fn wake_print_workers(&self) {
        self.print_wake.notify();
    }

    /// Renders every print area of a selection and stores the files in the blob store (kind
    /// `print`, id their SHA-256); returns their metadata.
    fn render_print_files(
        &self,
        snap: &Snapshot,
        product: &Product,
        sel: &Selection,
    ) -> Result<Vec<PrintFileMeta>, AppError> {
        let areas: Vec<String> = product
            .preview
            .as_ref()
            .map(|p| p.print_areas.iter().map(|a| a.id.clone()).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (position, area) in areas.iter().enumerate() {
            let files = snap
                .previewer
                .render_area(product, sel, area, self.settings.print.max_pixels)
                .map_err(super::preview_error)?;
            for f in files {
                let sha = sha256_hex(&f.bytes);
                let content_type = f.format.content_type();
                self.blobs
                    .put(BlobKind::Print, &sha, content_type, &f.bytes)
                    .map_err(|e| {
                        AppError::Unavailable(format!("cannot store a print file: {e}"))
                    })?;
                out.push(PrintFileMeta {
                    area: f.area.clone(),
                    format: f.format.as_str().to_owned(),
                    position: i64::try_from(position).unwrap_or(i64::MAX),
                    blob_id: sha.clone(),
                    content_type: content_type.to_owned(),
                    size: i64::try_from(f.bytes.len()).unwrap_or(i64::MAX),
                    sha256: sha,
                    width_px: i64::from(f.size.width_px),
                    height_px: i64::from(f.size.height_px),
                    width_um: mm_to_um(f.size.width_mm),
                    height_um: mm_to_um(f.size.height_mm),
                    bleed_um: mm_to_um(f.size.bleed_mm),
                    dpi: i64::from(f.size.dpi),
                });
            }
        }
        Ok(out)
    }

    /// Runs one print job, if one is pending and free: renders the order's areas from its
    /// pinned catalog version and frozen selection, stores the files, and completes the job
    /// (with the `files_ready` hook) — or records the failure for a retry, giving up after
    /// `MAX_PRINT_ATTEMPTS`. `false` when there was nothing to do. Blocking: call it from a
    /// worker thread, never from an async worker.
    pub fn run_print_job(&self) -> Result<bool, AppError> {
        let Some(job) = self.db.claim_print_job(JOB_LEASE)? else {
            return Ok(false);
        };
        // Attempts that never reported (the process stopped, or the render panicked, while
        // holding the job) count too: past the limit the job is given up.
        if job.attempt > MAX_PRINT_ATTEMPTS {
            self.db.fail_print_job(
                &job,
                &format!(
                    "gave up after {MAX_PRINT_ATTEMPTS} attempts (the last ones stopped before finishing)"
                ),
                None,
                true,
            )?;
            return Ok(true);
        }
        let rendered = self.render_job(&job);
        match rendered {
            Ok(files) => {
                let events = |o: &crate::orders::Order| {
                    super::webhooks::order_files_ready(
                        o,
                        self.order_uploads(o),
                        Some(crate::orders::FilesState::Ready),
                    )
                    .map(|e| vec![e])
                    .map_err(|e| e.to_string())
                };
                if self.db.complete_print_job(&job, &files, &events)? {
                    self.outbox.wake();
                } else {
                    tracing::warn!(order_id = %job.order_id, "print job taken over by another worker; its result was dropped");
                }
            }
            Err(AppError::Busy(b)) => {
                self.db
                    .fail_print_job(&job, &b.to_string(), Some(BUSY_RETRY), false)?;
            }
            Err(e) => {
                let reason = e.to_string();
                let retry = (job.attempt < MAX_PRINT_ATTEMPTS)
                    .then(|| RETRY_BACKOFF.saturating_mul(u32::try_from(job.attempt).unwrap_or(1)));
                tracing::warn!(order_id = %job.order_id, attempt = job.attempt, retry = retry.is_some(), "print job failed: {reason}");
                self.db.fail_print_job(&job, &reason, retry, true)?;
            }
        }
        Ok(true)
    }

    fn render_job(&self, job: &ClaimedJob) -> Result<Vec<PrintFileMeta>, AppError> {
        let order = self.db.get_order(&job.order_id)?;
        let (snap, sel) = self.order_selection(&order)?;
        let (product, _) = snap.product(&order.product_id)?;
        self.render_print_files(&snap, product, &sel)
    }

    /// An order's print files (scope `orders:read`).
    pub fn order_files(&self, id: &str) -> Result<OrderFiles, AppError> {
        let order = self.order(id)?;
        let stored = self.db.print_files(&order.id)?;
        Ok(OrderFiles::of(&order.id, stored.as_ref()))
    }

    /// One print file's bytes: (SHA-256, content type, bytes). 409 while the order's files are
    /// pending; 404 for an area or format the order has no file for.
    pub fn order_file(
        &self,
        id: &str,
        area: &str,
        format: PrintFormat,
    ) -> Result<(String, String, Vec<u8>), AppError> {
        let order = self.order(id)?;
        let file = format!("{area}.{}", format.as_str());
        let missing = || AppError::PrintFileNotFound {
            order: order.id.clone(),
            file: file.clone(),
        };
        let stored = self.db.print_files(&order.id)?.ok_or_else(missing)?;
        match stored.state {
            FilesState::Pending => return Err(AppError::PrintFilesPending(order.id.clone())),
            FilesState::Failed => return Err(missing()),
            FilesState::Ready => {}
        }
        let meta = stored
            .files
            .iter()
            .find(|f| f.area == area && f.format == format.as_str())
            .ok_or_else(missing)?;
        let blob = self
            .blobs
            .get(BlobKind::Print, &meta.blob_id)
            .map_err(|e| AppError::Unavailable(format!("cannot read a print file: {e}")))?
            .ok_or_else(|| {
                AppError::Internal(format!(
                    "order {}: print file {file} is recorded but not stored",
                    order.id
                ))
            })?;
        Ok((meta.sha256.clone(), meta.content_type.clone(), blob.bytes))
    }
}
