//! The one place errors become HTTP: `AppError` → RFC 9457 problem+json, plus extractor (JSON, query, path, payload) errors.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::rules::SelectionError;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type, e.g. `/problems/unknown-product`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Problem-specific members (option, suggestion, violations, diagnostics, ...).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: serde_json::Value) -> Problem {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = HttpResponse::build(status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.body(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// The problem document for an application error.
pub fn problem_of(e: &AppError) -> Problem {
    use serde_json::json;
    let d = e.to_string();
    match e {
        AppError::UnknownProduct { id, suggestion } => Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-product",
            "Unknown product",
            d,
        )
        .with("product", json!(id))
        .with("suggestion", json!(suggestion)),
        AppError::Selection(s) => {
            let (slug, title) = match s {
                SelectionError::UnknownOption { .. } => ("unknown-option", "Unknown option"),
                SelectionError::UnknownValue { .. } => ("unknown-value", "Unknown value"),
                SelectionError::OutOfRange { .. } => ("out-of-range", "Value out of range"),
                SelectionError::InvalidText { .. } => ("invalid-text", "Text not allowed"),
                SelectionError::Repeated { .. } => ("repeated-option", "Option chosen twice"),
                SelectionError::InvalidUpload { .. } => ("invalid-upload", "Unknown upload"),
            };
            let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title, d)
                .with("option", json!(s.option()));
            if let SelectionError::UnknownOption { suggestion, .. }
            | SelectionError::UnknownValue { suggestion, .. } = s
            {
                p = p.with("suggestion", json!(suggestion));
            }
            p
        }
        AppError::BadRequest(_) => {
            Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", d)
        }
        AppError::Engine(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "work-limit",
            "The rules engine hit its work limit",
            d,
        ),
        AppError::Invalid { details, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-configuration",
            "Invalid configuration",
            d,
        )
        .with("validation", details.clone()),
        AppError::Pricing(_) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "pricing",
            "The price cannot be computed",
            d,
        ),
        AppError::Preview(_) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "preview-failed",
            "The preview could not be rendered",
            d,
        ),
        AppError::Upload(_) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-upload",
            "The upload was refused",
            d,
        ),
        AppError::UnknownCatalogVersion(v) => Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-catalog-version",
            "Unknown catalog version",
            d,
        )
        .with("catalog_version", json!(v)),
        AppError::OrderNotFound(_) => Problem::new(
            StatusCode::NOT_FOUND,
            "order-not-found",
            "Order not found",
            d,
        ),
        AppError::IdempotencyConflict => Problem::new(
            StatusCode::CONFLICT,
            "idempotency-conflict",
            "Idempotency-Key reused with a different body",
            d,
        ),
        AppError::VersionConflict { current } => Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "version-conflict",
            "The order changed meanwhile",
            d,
        )
        .with("current_version", json!(current)),
        AppError::PreconditionRequired => Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Order version required",
            d,
        ),
        AppError::IllegalTransition { from, to } => Problem::new(
            StatusCode::CONFLICT,
            "illegal-transition",
            "Illegal status transition",
            d,
        )
        .with("from", json!(from))
        .with("to", json!(to)),
        AppError::Unauthorized(scope) => Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "API key required",
            d,
        )
        .with("scope", json!(scope)),
        AppError::Forbidden(scope) => {
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Missing scope", d)
                .with("scope", json!(scope))
        }
        AppError::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            d,
        ),
        AppError::CatalogRejected { diagnostics } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "catalog-rejected",
            "The catalog has errors",
            d,
        )
        .with("diagnostics", diagnostics.clone()),
        AppError::Internal(_) => {
            tracing::error!(error = %d, "internal error");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "an internal error occurred; it has been logged",
            )
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(problem_of(self).status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        problem_of(self).response()
    }
}

/// A problem as an actix error (for extractor error handlers and middleware).
#[derive(Debug)]
pub struct ProblemError(pub Problem);

impl std::fmt::Display for ProblemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.detail)
    }
}

impl ResponseError for ProblemError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        self.0.response()
    }
}

/// JSON body errors: malformed JSON, wrong types, wrong content type, body too large.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let p = match &err {
        E::OverflowKnownLength { length, limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("the body is {length} bytes; the limit is {limit}"),
        ),
        E::Overflow { limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("the body exceeds the limit of {limit} bytes"),
        ),
        E::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            "Unsupported content type",
            "send the body as application/json",
        ),
        E::Deserialize(e) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed request body",
            e.to_string(),
        ),
        other => Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-body",
            "Unreadable request body",
            other.to_string(),
        ),
    };
    ProblemError(p).into()
}

/// Query-string errors.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ProblemError(Problem::new(
        StatusCode::BAD_REQUEST,
        "bad-query",
        "Malformed query string",
        err.to_string(),
    ))
    .into()
}

/// Path errors.
pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ProblemError(Problem::new(
        StatusCode::NOT_FOUND,
        "bad-path",
        "Malformed path",
        err.to_string(),
    ))
    .into()
}

/// Raw body errors (uploads).
pub fn payload_too_large(limit: usize) -> actix_web::Error {
    ProblemError(Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("the body exceeds the limit of {limit} bytes"),
    ))
    .into()
}

/// Fallback for unknown routes.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no endpoint at {} {}", req.method(), req.path()),
    )
    .response()
}
