//! AppError: every way a use case can fail, typed; `http/problem.rs` maps it to problem+json in one place.

use crate::rules::{EngineError, SelectionError};

/// A use-case failure. The HTTP layer maps each variant to a status and a problem type.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("unknown product `{id}`{}", hint(.suggestion))]
    UnknownProduct {
        id: String,
        suggestion: Option<String>,
    },
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the selection is not a valid configuration: {}", .0.summary())]
    Invalid(crate::app::configure::ValidationView),
    #[error(transparent)]
    Pricing(#[from] crate::pricing::PricingError),
    #[error(transparent)]
    Bom(#[from] crate::orders::BomError),
    #[error("{0}")]
    Preview(String),
    #[error("{0}")]
    Upload(String),
    #[error("no upload `{id}` is stored (option `{option}`): upload the image first")]
    UnknownUpload { option: String, id: String },
    #[error("upload `{0}` not found")]
    UploadNotFound(String),
    #[error(transparent)]
    Busy(#[from] crate::preview::budget::BudgetExceeded),
    #[error("{0}")]
    NotFound(String),
    #[error("design `{0}` not found (it may have expired)")]
    DesignNotFound(String),
    #[error("catalog version `{0}` is not known to this server")]
    UnknownCatalogVersion(String),
    #[error("order `{0}` not found")]
    OrderNotFound(String),
    #[error("the Idempotency-Key was already used with a different request body")]
    IdempotencyConflict,
    #[error("the order changed meanwhile (current version {current}); re-read it and retry")]
    VersionConflict { current: i64 },
    #[error(
        "a status change needs the order version read: send If-Match (the ETag) or expected_version"
    )]
    PreconditionRequired,
    #[error("an order cannot go from `{from}` to `{to}`")]
    IllegalTransition { from: String, to: String },
    #[error("this request needs an API key with the `{0}` scope")]
    Unauthorized(&'static str),
    #[error("the API key lacks the `{0}` scope")]
    Forbidden(&'static str),
    #[error(transparent)]
    Webhook(#[from] crate::app::webhooks::WebhookError),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the catalog has errors; it was not deployed")]
    CatalogRejected(crate::app::Rejection),
    #[error(
        "the print area `{area}` would be {width_px} x {height_px} pixels; this server makes print files of at most {limit} pixels"
    )]
    PrintTooLarge {
        area: String,
        width_px: u32,
        height_px: u32,
        limit: u64,
    },
    #[error("the print files of order `{0}` are not ready yet")]
    PrintFilesPending(String),
    #[error("order `{order}` has no print file `{file}`")]
    PrintFileNotFound { order: String, file: String },
    #[error("internal error: {0}")]
    Internal(String),
}

fn hint(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

impl From<crate::preview::upload::UploadError> for AppError {
    fn from(e: crate::preview::upload::UploadError) -> AppError {
        use crate::preview::upload::UploadError;
        match e {
            UploadError::Busy(b) => AppError::Busy(b),
            UploadError::Store(s) => AppError::Unavailable(format!("upload store: {s}")),
            other => AppError::Upload(other.to_string()),
        }
    }
}
