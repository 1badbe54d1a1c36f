//! Admin endpoints (API key with the `admin` scope): serving catalog status and reload.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, AppError, ReloadStatus};
use crate::config::Scope;
use crate::http::middleware::require;

/// The serving catalog and the last reload attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogStatus {
    pub version: String,
    pub products: Vec<String>,
    pub last_reload: Option<ReloadStatus>,
}

/// The serving catalog version and the last reload attempt with its diagnostics.
#[utoipa::path(get, path = "/v1/admin/catalog", tag = "admin",
    responses((status = 200, body = CatalogStatus), (status = 401, body = crate::http::problem::Problem)),
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
    }))
}

/// Reload the catalog from disk (validate-then-swap: a catalog with errors is rejected and the
/// serving version stays).
#[utoipa::path(post, path = "/v1/admin/reload", tag = "admin",
    responses((status = 200, body = ReloadStatus), (status = 422, body = crate::http::problem::Problem)),
    security(("bearer" = ["admin"])))]
#[post("/v1/admin/reload")]
pub async fn reload(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let app2 = app.clone();
    let outcome = web::block(move || app2.reload("admin"))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if outcome.outcome == "rejected" {
        return Err(AppError::CatalogRejected {
            diagnostics: outcome.diagnostics,
        });
    }
    Ok(HttpResponse::Ok().json(outcome))
}
