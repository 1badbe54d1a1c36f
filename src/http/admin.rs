//! Admin endpoints (API key with the `admin` scope): serving catalog status and reload.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, AppError, ReloadStatus, WarmUpStatus};
use crate::config::Scope;
use crate::http::middleware::require;
use crate::http::problem::{self, ProblemError};

/// The serving catalog and the last reload attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogStatus {
    pub version: String,
    pub products: Vec<String>,
    pub last_reload: Option<ReloadStatus>,
    /// How far the background warm-up of the serving version's rules engines has gone.
    pub warm_up: Option<WarmUpStatus>,
}

/// The serving catalog version and the last reload attempt with its diagnostics.
#[utoipa::path(get, path = "/v1/admin/catalog", tag = "admin",
    responses((status = 200, body = CatalogStatus), (status = 401, body = crate::http::problem::Problem),
        (status = 403, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
#[get("/v1/admin/catalog")]
pub async fn status(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let snap = app.snapshot();
    Ok(HttpResponse::Ok().json(CatalogStatus {
        version: snap.version().to_owned(),
        products: snap
            .catalog
            .products()
            .iter()
            .map(|p| p.id.clone())
            .collect(),
        last_reload: app.last_reload(),
        warm_up: snap.warm_up.lock().ok().map(|s| s.clone()),
    }))
}

/// Reload the catalog from disk (validate-then-swap: a catalog with errors is rejected and the
/// serving version stays).
#[utoipa::path(post, path = "/v1/admin/reload", tag = "admin",
    responses((status = 200, body = ReloadStatus), (status = 401, body = crate::http::problem::Problem),
        (status = 403, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
#[post("/v1/admin/reload")]
pub async fn reload(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let outcome = super::off_thread(&app, move |app| {
        Ok(app.reload(crate::app::ReloadTrigger::Admin))
    })
    .await?;
    if outcome.outcome == crate::app::ReloadOutcome::Rejected {
        return Err(AppError::CatalogRejected(crate::app::Rejection {
            error: outcome.error,
            diagnostics: outcome.diagnostics,
        }));
    }
    Ok(HttpResponse::Ok().json(outcome))
}

/// A catalog to check: files (path relative to the catalog directory → text).
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// e.g. `{"catalog/classic-tee.yaml": "id: classic-tee\n…"}`.
    pub files: std::collections::BTreeMap<String, String>,
    /// `overlay` (default): the files replace or add to the serving catalog's files, so a single
    /// edited file can be checked; `replace`: check only the files sent.
    #[serde(default)]
    pub mode: CheckMode,
}

#[derive(Debug, Default, Clone, Copy, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckMode {
    #[default]
    Overlay,
    Replace,
}

/// Check a catalog sent in the body without deploying it: diagnostics as JSON (as `bespoke check --format json`).
#[utoipa::path(post, path = "/v1/admin/check", tag = "admin", request_body = CheckRequest,
    responses((status = 200, description = "The check report: ok, errors, warnings, products, diagnostics (file:line:column, code, message, help)", body = crate::app::CheckReport),
        (status = 400, body = crate::http::problem::Problem), (status = 401, body = crate::http::problem::Problem),
        (status = 403, body = crate::http::problem::Problem), (status = 413, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]

pub async fn check(
    app: web::Data<App>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    require(&app, &req, Scope::Admin)?;
    // Read only once the key is checked, and no further than the limit.
    let limit = crate::app::CHECK_LIMIT;
    let body = match body.to_bytes_limited(limit).await {
        Ok(read) => read?,
        Err(_) => return Err(problem::payload_too_large(limit)),
    };
    // A JSON object only (serde would also read a struct from an array).
    let request: CheckRequest =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
            .and_then(|m| serde_json::from_value(serde_json::Value::Object(m)))
            .map_err(|e| ProblemError(problem::malformed_json(&e)))?;
    let snap = app.snapshot();
    let report = web::block(move || {
        let overlay: Vec<(String, String)> = request.files.into_iter().collect();
        let base = match request.mode {
            CheckMode::Overlay => Some(snap.files.as_ref()),
            CheckMode::Replace => None,
        };
        crate::app::check_files(base, &overlay)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(report))
}

/// Stored catalog versions (every version that served, pinned for its orders), oldest first.
#[utoipa::path(get, path = "/v1/admin/catalog-versions", tag = "admin",
    responses((status = 200, body = [crate::db::CatalogVersionInfo]),
        (status = 401, body = crate::http::problem::Problem), (status = 403, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
#[get("/v1/admin/catalog-versions")]
pub async fn versions(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let list = super::off_thread(&app, move |app| app.catalog_versions()).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A stored catalog version's files (`text` for UTF-8 files).
#[utoipa::path(get, path = "/v1/admin/catalog-versions/{hash}", tag = "admin",
    params(("hash" = String, Path)),
    responses((status = 200, body = crate::app::VersionFiles),
        (status = 401, body = crate::http::problem::Problem), (status = 403, body = crate::http::problem::Problem),
        (status = 404, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
#[get("/v1/admin/catalog-versions/{hash}")]
pub async fn version_files(
    app: web::Data<App>,
    req: HttpRequest,
    hash: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let hash = hash.into_inner();
    let files = super::off_thread(&app, move |app| app.catalog_version_files(&hash)).await?;
    Ok(HttpResponse::Ok().json(files))
}

/// Largest history file accepted, in bytes.
pub const HISTORY_LIMIT: usize = crate::recommend::MAX_HISTORY_BYTES;

/// Import a product's sales history (CSV body: a header of option ids, one sold configuration
/// per row as value ids, optional `count` and `customer` columns; whitespace-separated when
/// the header has no comma). Idempotent per file content.
#[utoipa::path(post, path = "/v1/admin/products/{id}/history", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    request_body(content = String, content_type = "text/csv", description = "The history file"),
    responses((status = 200, body = crate::app::personal::HistoryImport),
        (status = 400, description = "The file as a whole cannot be read (empty, no header line)", body = crate::http::problem::Problem),
        (status = 401, body = crate::http::problem::Problem), (status = 403, body = crate::http::problem::Problem),
        (status = 404, body = crate::http::problem::Problem), (status = 413, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
pub async fn import_history(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let id = id.into_inner();
    let report = super::off_thread(&app, move |app| app.import_history(&id, None, &body)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Erase a customer's history: their past orders no longer influence any recommendation (the
/// orders themselves stay).
#[utoipa::path(delete, path = "/v1/admin/customers/{ref}/history", tag = "admin",
    params(("ref" = String, Path, description = "The customer's opaque reference")),
    responses((status = 200, body = crate::app::personal::CustomerErased),
        (status = 401, body = crate::http::problem::Problem), (status = 403, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
#[actix_web::delete("/v1/admin/customers/{ref}/history")]
pub async fn erase_customer(
    app: web::Data<App>,
    req: HttpRequest,
    customer: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let customer = customer.into_inner();
    let erased = super::off_thread(&app, move |app| app.erase_customer(&customer)).await?;
    Ok(HttpResponse::Ok().json(erased))
}
