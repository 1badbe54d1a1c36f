//! Webhook administration (API key with the `admin` scope): register, list and delete endpoints,
//! and read an endpoint's delivery log. Delivery itself runs in `app::webhooks`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::webhooks::{DeliveryLog, RegisterWebhook, WebhookList, WebhookView};
use crate::app::{App, AppError};
use crate::config::Scope;
use crate::http::middleware::require;
use crate::http::problem::Problem;
use crate::orders::{
    MAX_DELIVERY_PAGE, MAX_WEBHOOK_EVENTS, MAX_WEBHOOK_SECRET_LEN, MAX_WEBHOOK_URL_LEN,
    MIN_WEBHOOK_SECRET_LEN,
};

/// An endpoint to register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// `http` or `https`; its host must resolve to public addresses unless the server runs with
    /// `--webhook-allow-private`.
    #[schema(
        min_length = 1,
        max_length = 2048,
        example = "https://erp.example/hooks/bespoke"
    )]
    pub url: String,
    /// Event types: `order.created`, `order.files_ready`, `order.status_changed`,
    /// `design.created`.
    #[schema(value_type = Vec<crate::orders::EventType>, min_items = 1, max_items = 16)]
    pub events: Vec<String>,
    /// Signs every request (HMAC-SHA256, see `Bespoke-Signature`); 16–256 bytes. Never shown
    /// again.
    #[schema(min_length = 16, max_length = 256)]
    pub secret: String,
}

/// Delivery log query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// How many of the latest deliveries, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

// The documented bounds are the ones the app enforces.
const _: () = assert!(
    MAX_WEBHOOK_URL_LEN == 2048
        && MAX_WEBHOOK_EVENTS == 16
        && MIN_WEBHOOK_SECRET_LEN == 16
        && MAX_WEBHOOK_SECRET_LEN == 256
        && MAX_DELIVERY_PAGE == 200
);

/// Register a webhook: every later event of the types it names is POSTed to its URL, signed
/// with its secret.
#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "webhooks", request_body = WebhookRequest,
    responses((status = 201, description = "Registered", body = WebhookView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = ["admin"])))]
#[post("/v1/admin/webhooks")]
pub async fn register(
    app: web::Data<App>,
    req: HttpRequest,
    body: web::Json<WebhookRequest>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let body = body.into_inner();
    let register = RegisterWebhook {
        url: body.url,
        events: body.events,
        secret: body.secret,
    };
    let hook = super::off_thread(&app, move |app| app.register_webhook(register)).await?;
    let mut res = HttpResponse::build(StatusCode::CREATED).json(&hook);
    if let Ok(v) = HeaderValue::from_str(&hook.links.this) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Every registered webhook (secrets are not shown).
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "webhooks",
    responses((status = 200, description = "The webhooks", body = WebhookList),
        (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = ["admin"])))]
#[get("/v1/admin/webhooks")]
pub async fn list(app: web::Data<App>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let hooks = super::off_thread(&app, |app| app.webhooks()).await?;
    Ok(HttpResponse::Ok().json(hooks))
}

/// Delete a webhook: nothing more is sent to it, and its delivery log goes with it.
#[utoipa::path(delete, path = "/v1/admin/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = ["admin"])))]
#[delete("/v1/admin/webhooks/{id}")]
pub async fn remove(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let id = id.into_inner();
    super::off_thread(&app, move |app| app.delete_webhook(&id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A webhook's delivery log: its latest deliveries, newest first, each with every attempt
/// (time, HTTP status or error) and its state (`pending`, `delivered`, `failed`).
#[utoipa::path(get, path = "/v1/admin/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), DeliveriesQuery),
    responses((status = 200, description = "The delivery log", body = DeliveryLog),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = ["admin"])))]
#[get("/v1/admin/webhooks/{id}/deliveries")]
pub async fn deliveries(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::Admin)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit {limit} is outside 1–{MAX_DELIVERY_PAGE}"
        )));
    }
    let id = id.into_inner();
    let log = super::off_thread(&app, move |app| app.webhook_deliveries(&id, limit)).await?;
    Ok(HttpResponse::Ok().json(log))
}
