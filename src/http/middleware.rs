//! Request ids and structured request logs (tracing), and bearer API-key checks with scopes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use tracing::Instrument;

use crate::app::{App, AppError};
use crate::config::{ApiKey, Scope};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request (stored in request extensions).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn new_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{t:x}-{n:x}")
}

/// Accepts a caller's `X-Request-Id` if it is short and printable, else makes one; logs one
/// line per request with method, path, status and duration inside a span carrying the id.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(new_id, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    // Metrics by route template, never by path (a series per order id would grow without end).
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = metric_method(req.method());
    let app = req.app_data::<web::Data<App>>().cloned();
    let start = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Some(app) = app {
        app.metrics
            .request(method, &route, res.status().as_u16(), start.elapsed());
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    let status = res.status().as_u16();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::info!(status, micros, "handled"));
    Ok(res)
}

/// A request method as a metrics label: the standard ones, anything else `other` (a client
/// must not be able to create series at will).
fn metric_method(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Checks the bearer token for `scope`; returns the key's holder. A missing or malformed
/// `Authorization` header is unauthorized, as a wrong key is.
pub fn require(app: &App, req: &HttpRequest, scope: Scope) -> Result<ApiKey, AppError> {
    let Some(token) = bearer_token(req) else {
        return Err(AppError::Unauthorized(scope.as_str()));
    };
    let Some(key) = app.settings.key_for(token) else {
        return Err(AppError::Unauthorized(scope.as_str()));
    };
    if !key.scopes.contains(&scope) {
        tracing::warn!(key = %key.name, scope = scope.as_str(), "API key lacks scope");
        return Err(AppError::Forbidden(scope.as_str()));
    }
    Ok(key.clone())
}

/// The token of `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 7235 §2.1:
/// `Bearer`, `bearer`, `BEARER`) and separated from the token by spaces; `None` when the header
/// is missing, not visible ASCII, of another scheme, or without exactly one token.
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let well_formed = !token.is_empty() && !token.contains(|c: char| c.is_ascii_whitespace());
    (scheme.eq_ignore_ascii_case("bearer") && well_formed).then_some(token)
}
