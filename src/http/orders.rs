//! Orders: placing one (Idempotency-Key), and the order feed for order systems (get, list with cursor, status changes with If-Match, events, print file).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::orders::PlaceOrder;
use crate::app::{App, AppError};
use crate::config::Scope;
use crate::http::dto::Choices;
use crate::http::middleware::require;
use crate::orders::{Order, Status};

/// An order request. Price and validity are computed by the server, never taken from here.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    #[validate(length(min = 1, max = 255))]
    pub product: String,
    /// The full selection (option id → value), in the order chosen.
    #[serde(default)]
    pub selection: Choices,
    #[validate(range(min = 1, max = 1_000_000_000))]
    pub quantity: Option<i64>,
    /// The catalog version the customer configured against (default: the current one).
    #[validate(length(min = 1, max = 255))]
    pub catalog_version: Option<String>,
    #[validate(length(min = 1, max = 255))]
    pub customer_ref: Option<String>,
    /// Free-form JSON kept with the order.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
}

/// A status change.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `accepted`, `in_production`, `shipped` or `cancelled`.
    pub to: String,
    #[validate(length(max = 2000))]
    pub note: Option<String>,
    /// The order version the caller read (alternative to an `If-Match` header).
    pub expected_version: Option<i64>,
}

/// Feed query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only orders in this status.
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u32>,
}

fn etag(order: &Order) -> String {
    format!("\"{}\"", order.version)
}

fn order_response(status: StatusCode, order: &Order) -> HttpResponse {
    let mut body = serde_json::to_value(order).unwrap_or_default();
    body["links"] = serde_json::json!({
        "self": format!("/v1/orders/{}", order.id),
        "events": format!("/v1/orders/{}/events", order.id),
        "print": order.preview_ref.as_ref().map(|_| format!("/v1/orders/{}/print", order.id)),
    });
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(order)))
        .json(body)
}

fn blocking_error(e: actix_web::error::BlockingError) -> AppError {
    AppError::Internal(e.to_string())
}

/// Place an order. Requires an `Idempotency-Key` header: the same key with the same body returns
/// the same order (200); the same key with another body is a 409. The selection is re-validated
/// and re-priced from the catalog version named (or the current one), and the print file rendered.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = OrderRequest,
    params(("Idempotency-Key" = String, Header, description = "Unique per order attempt, 1–255 printable ASCII")),
    responses((status = 201, description = "Created"), (status = 200, description = "Replayed: the order this key created"),
        (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)))]
#[post("/v1/orders")]
pub async fn create(
    app: web::Data<App>,
    req: HttpRequest,
    body: web::Json<OrderRequest>,
) -> Result<HttpResponse, AppError> {
    body.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            AppError::BadRequest(
                "an Idempotency-Key header (1–255 printable characters) is required".into(),
            )
        })?
        .to_owned();
    let body = body.into_inner();
    let place = PlaceOrder {
        idempotency_key: key,
        product: body.product,
        choices: body.selection.pairs()?,
        quantity: body.quantity,
        catalog_version: body.catalog_version,
        customer_ref: body.customer_ref,
        metadata: body.metadata,
    };
    let (order, created) = super::off_thread(&app, move |app| app.place_order(place)).await?;
    if created {
        tracing::info!(order = %order.id, product = %order.product_id, "order placed");
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut res = order_response(status, &order);
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/orders/{}", order.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// One order (scope `orders:read`). The ETag is the order version, for `If-Match` on changes.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path)),
    responses((status = 200, description = "The order"), (status = 404, body = crate::http::problem::Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}")]
pub async fn get_one(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let order = super::off_thread(&app, move |app| app.order(&id)).await?;
    Ok(order_response(StatusCode::OK, &order))
}

/// The order feed (scope `orders:read`): oldest first, keyset pages that stay stable while
/// orders are added.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", params(FeedQuery),
    responses((status = 200, description = "{items, next_cursor}"), (status = 400, body = crate::http::problem::Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders")]
pub async fn list(
    app: web::Data<App>,
    req: HttpRequest,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let q = query.into_inner();
    let status = q
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let page = super::off_thread(&app, move |app| {
        app.orders(status, q.cursor.as_deref(), q.limit.unwrap_or(50))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Change an order's status (scope `orders:write`). Needs the version read, as `If-Match`
/// (the ETag) or `expected_version`; a stale version is a 412, an illegal move a 409.
#[utoipa::path(post, path = "/v1/orders/{id}/status", tag = "orders", request_body = TransitionRequest,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The order's ETag")),
    responses((status = 200, description = "The order after the change"),
        (status = 409, body = crate::http::problem::Problem),
        (status = 412, body = crate::http::problem::Problem),
        (status = 428, body = crate::http::problem::Problem)),
    security(("bearer" = ["orders:write"])))]
#[post("/v1/orders/{id}/status")]
pub async fn transition(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<TransitionRequest>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersWrite)?;
    body.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let body = body.into_inner();
    let to: Status = body
        .to
        .parse()
        .map_err(|e: crate::orders::UnknownStatus| AppError::BadRequest(e.to_string()))?;
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_owned()
        });
    let expected = match (if_match, body.expected_version) {
        (Some(m), _) => m
            .parse::<i64>()
            .map_err(|_| AppError::BadRequest(format!("If-Match `{m}` is not an order ETag")))?,
        (None, Some(v)) => v,
        (None, None) => return Err(AppError::PreconditionRequired),
    };
    let order = super::off_thread(&app, move |app| {
        app.transition(&id, to, expected, body.note)
    })
    .await?;
    Ok(order_response(StatusCode::OK, &order))
}

/// An order's history (scope `orders:read`): creation, then each status change.
#[utoipa::path(get, path = "/v1/orders/{id}/events", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, description = "Events, oldest first"), (status = 404, body = crate::http::problem::Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}/events")]
pub async fn events(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let events = super::off_thread(&app, move |app| app.order_events(&id)).await?;
    Ok(HttpResponse::Ok().json(events))
}

/// The order's print file (PNG at the configured DPI; scope `orders:read`), from its pinned catalog version.
#[utoipa::path(get, path = "/v1/orders/{id}/print", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, description = "PNG", content_type = "image/png"), (status = 404, body = crate::http::problem::Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}/print")]
pub async fn print(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let app2 = app.clone();
    let (etag, bytes) = web::block(move || {
        let order = app2.order(&id)?;
        if order.preview_ref.is_none() {
            return Err(AppError::BadRequest(format!(
                "order {id} has no print file (its product has no preview)"
            )));
        }
        let bytes = app2.order_print(&order)?;
        Ok((order.preview_ref.unwrap_or_default(), bytes))
    })
    .await
    .map_err(blocking_error)??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("image/png")))
        .insert_header((header::ETAG, format!("\"{etag}\"")))
        .insert_header((
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        ))
        .body(bytes.to_vec()))
}
