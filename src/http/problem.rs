//! The one place errors become HTTP: `AppError` → RFC 9457 problem+json, plus extractor (JSON, query, path, payload) errors and the middleware that turns every other error response into a problem.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
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

    /// The problem of an error known only by its status (the router's, actix's extractors' and
    /// middleware's errors): its type and title come from the status, e.g. 413 is
    /// `/problems/body-too-large`, 415 `/problems/unsupported-media-type`.
    pub fn of_status(status: StatusCode, detail: impl Into<String>) -> Problem {
        let (slug, title) = match STATUS_PROBLEMS.iter().find(|(s, ..)| *s == status.as_u16()) {
            Some(&(_, slug, title)) => (slug.to_owned(), title.to_owned()),
            None => {
                let reason = status.canonical_reason().unwrap_or("Error");
                let slug: String = reason
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .collect();
                (slug, reason.to_owned())
            }
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title,
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

/// Type slug and title of the problems known only by their status; other statuses take theirs
/// from the status's reason phrase.
const STATUS_PROBLEMS: &[(u16, &str, &str)] = &[
    (400, "bad-request", "Bad request"),
    (401, "unauthorized", "API key required"),
    (403, "forbidden", "Forbidden"),
    (404, "not-found", "Not found"),
    (405, "method-not-allowed", "Method not allowed"),
    (406, "not-acceptable", "Not acceptable"),
    (408, "request-timeout", "Request timeout"),
    (411, "length-required", "Length required"),
    (413, "body-too-large", "Request body too large"),
    (414, "uri-too-long", "URI too long"),
    (415, "unsupported-media-type", "Unsupported media type"),
    (431, "headers-too-large", "Request headers too large"),
    (500, "internal", "Internal error"),
    (503, "unavailable", "Service unavailable"),
];

/// Seconds a client is asked to wait before asking again for print files still pending: a
/// large area takes a few seconds to render.
pub const PRINT_RETRY_AFTER_SECS: u64 = 5;

/// A request body that is not the JSON the endpoint takes (syntax, types, unknown fields).
pub fn malformed_json(e: &serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "malformed-json",
        "Malformed request body",
        e.to_string(),
    )
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
                SelectionError::InvalidUpload { .. } => ("invalid-upload", "Not an upload id"),
                SelectionError::WrongType { .. } => ("wrong-type", "Value of the wrong type"),
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
        AppError::Invalid(validation) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-configuration",
            "Invalid configuration",
            d,
        )
        .with(
            "validation",
            serde_json::to_value(validation).unwrap_or_default(),
        ),
        AppError::UnknownUpload { option, id } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-upload",
            "Unknown upload",
            d,
        )
        .with("option", json!(option))
        .with("upload", json!(id)),
        AppError::UploadNotFound(id) => Problem::new(
            StatusCode::NOT_FOUND,
            "upload-not-found",
            "Upload not found",
            d,
        )
        .with("upload", json!(id)),
        AppError::Busy(b) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Busy decoding other images",
            d,
        )
        .with(
            "retry_after",
            json!(crate::preview::budget::RETRY_AFTER_SECS),
        )
        .with("needed_bytes", json!(b.needed)),
        AppError::DesignNotFound(id) => Problem::new(
            StatusCode::NOT_FOUND,
            "design-not-found",
            "Design not found",
            d,
        )
        .with("design", json!(id)),
        AppError::NotFound(_) => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", d),
        AppError::Pricing(_) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "pricing",
            "The price cannot be computed",
            d,
        ),
        AppError::Bom(_) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bill-of-materials",
            "The bill of materials cannot be resolved",
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
        AppError::Webhook(w) => webhook_problem(w, d),
        AppError::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            d,
        ),
        AppError::CatalogRejected(rejection) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "catalog-rejected",
            "The catalog has errors",
            rejection.error.clone().unwrap_or(d),
        )
        .with(
            "diagnostics",
            serde_json::to_value(&rejection.diagnostics).unwrap_or_default(),
        ),
        AppError::PrintTooLarge {
            area,
            width_px,
            height_px,
            limit,
        } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "print-too-large",
            "The print file would be too large",
            d,
        )
        .with("area", json!(area))
        .with("width_px", json!(width_px))
        .with("height_px", json!(height_px))
        .with("limit_pixels", json!(limit)),
        AppError::PrintFilesPending(id) => Problem::new(
            StatusCode::CONFLICT,
            "print-files-pending",
            "The print files are not ready yet",
            d,
        )
        .with("order", json!(id))
        .with("retry_after", json!(PRINT_RETRY_AFTER_SECS)),
        AppError::PrintFileNotFound { order, file } => Problem::new(
            StatusCode::NOT_FOUND,
            "print-file-not-found",
            "Print file not found",
            d,
        )
        .with("order", json!(order))
        .with("file", json!(file)),
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

/// The problem of a webhook call's failure.
fn webhook_problem(e: &crate::app::webhooks::WebhookError, d: String) -> Problem {
    use crate::app::webhooks::WebhookError as W;
    use serde_json::json;
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    match e {
        W::InvalidUrl(_) => Problem::new(invalid, "invalid-webhook-url", "Invalid webhook URL", d),
        W::PrivateAddress { host, address } => Problem::new(
            invalid,
            "private-webhook-address",
            "Webhook target on a private network",
            d,
        )
        .with("host", json!(host))
        .with("address", json!(address.to_string())),
        W::Unresolvable { host, .. } => Problem::new(
            invalid,
            "unresolvable-webhook-host",
            "Webhook host cannot be resolved",
            d,
        )
        .with("host", json!(host)),
        W::UnknownEvent { event } => {
            Problem::new(invalid, "unknown-event", "Unknown event type", d)
                .with("event", json!(event))
        }
        W::EventCount { .. } => Problem::new(
            invalid,
            "webhook-events",
            "Wrong number of webhook events",
            d,
        ),
        W::SecretLength { .. } => {
            Problem::new(invalid, "webhook-secret", "Unsuitable webhook secret", d)
        }
        W::TooMany { .. } => Problem::new(
            StatusCode::CONFLICT,
            "too-many-webhooks",
            "Too many webhooks",
            d,
        ),
        W::NotFound(id) => Problem::new(
            StatusCode::NOT_FOUND,
            "webhook-not-found",
            "Webhook not found",
            d,
        )
        .with("webhook", json!(id)),
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(problem_of(self).status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = problem_of(self).response();
        if let AppError::Busy(_) = self {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::preview::budget::RETRY_AFTER_SECS),
            );
        }
        if let AppError::PrintFilesPending(_) = self {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(PRINT_RETRY_AFTER_SECS),
            );
        }
        res
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
        E::OverflowKnownLength { length, limit } => Problem::of_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {length} bytes; the limit is {limit}"),
        ),
        E::Overflow { limit } => Problem::of_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body exceeds the limit of {limit} bytes"),
        ),
        E::ContentType => Problem::of_status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        ),
        E::Deserialize(e) => malformed_json(e),
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

/// Raw body errors (uploads, catalog checks).
pub fn payload_too_large(limit: usize) -> actix_web::Error {
    ProblemError(Problem::of_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body exceeds the limit of {limit} bytes"),
    ))
    .into()
}

/// Fallback for unknown routes.
/// A documented path asked with a method it does not take is a 405 with `Allow`.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let allowed = super::openapi::allowed_methods(req.path());
    if !allowed.is_empty() {
        let allow = allowed.join(", ");
        let mut res = Problem::of_status(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} {} is not allowed; allowed: {allow}",
                req.method(),
                req.path()
            ),
        )
        .response();
        if let Ok(v) = HeaderValue::from_str(&allow) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        return res;
    }
    Problem::of_status(
        StatusCode::NOT_FOUND,
        format!("no endpoint at {} {}", req.method(), req.path()),
    )
    .response()
}

/// Middleware: every error response (status ≥ 400) that is not problem+json already becomes
/// the problem of its status ([`Problem::of_status`]), with the attached error's message as
/// its detail. These are the answers no handler mapped: actix's payload limits (413), unmatched
/// methods (405), extractors without an error handler, CORS refusals. Headers (`Allow`,
/// `WWW-Authenticate`, CORS, request id) are kept.
pub async fn problem_responses(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match next.call(req).await {
        Ok(res) if !needs_problem(res.response()) => Ok(res.map_into_left_body()),
        Ok(res) => {
            let (req, res) = res.into_parts();
            let problem = as_problem(&res, || fallback_detail(&req, res.status(), res.headers()));
            Ok(ServiceResponse::new(req, problem).map_into_right_body())
        }
        // An error no inner layer turned into a response: actix renders it after this
        // middleware, so it leaves here already rendered as a problem.
        Err(e) => {
            let res = e.error_response();
            if !needs_problem(&res) {
                return Err(e);
            }
            let problem = as_problem(&res, || res.status().to_string());
            Err(actix_web::error::InternalError::from_response(e, problem).into())
        }
    }
}

/// An error status whose body is not a problem document.
fn needs_problem<B>(res: &HttpResponse<B>) -> bool {
    let problem_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/problem+json")
        });
    res.status().as_u16() >= 400 && !problem_json
}

/// The problem response replacing `res`: the status's problem, the attached error's message as
/// detail (server errors log it and say so instead), `res`'s headers but for the body's.
fn as_problem<B>(res: &HttpResponse<B>, fallback: impl FnOnce() -> String) -> HttpResponse {
    let status = res.status();
    let error = res.error().map(ToString::to_string);
    let detail = if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            error = error.as_deref().unwrap_or(""),
            "error response"
        );
        "an internal error occurred; it has been logged".to_owned()
    } else {
        error.filter(|e| !e.is_empty()).unwrap_or_else(fallback)
    };
    let mut out = Problem::of_status(status, detail).response();
    let body_headers = [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
    ];
    let headers = out.headers_mut();
    for name in res.headers().keys().filter(|n| !body_headers.contains(n)) {
        headers.remove(name);
        for value in res.headers().get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    out
}

/// The detail of an error response that carries no error: what was asked and, for 405, what
/// is allowed.
fn fallback_detail(req: &HttpRequest, status: StatusCode, headers: &HeaderMap) -> String {
    let asked = format!("{} {}", req.method(), req.path());
    match status {
        StatusCode::NOT_FOUND => format!("no endpoint at {asked}"),
        StatusCode::METHOD_NOT_ALLOWED => {
            match headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) {
                Some(allow) if !allow.is_empty() => {
                    format!("{asked}: the method is not allowed; allowed: {allow}")
                }
                _ => format!("{asked}: the method is not allowed"),
            }
        }
        _ => format!("{asked}: {status}"),
    }
}
