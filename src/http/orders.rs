//! Orders: placing one (Idempotency-Key), and the order feed for order systems (get, list with cursor, status changes with If-Match, events, the print mock-up, and the print areas' files).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::app::orders::{OrderEventView, OrderPage, OrderSource, OrderView, PlaceOrder};
use crate::app::print::OrderFiles;
use crate::app::values::Choices;
use crate::app::{App, AppError};
use crate::config::Scope;
use crate::http::middleware::require;
use crate::http::problem::Problem;
use crate::orders::Status;
use crate::preview::print::PrintFormat;

/// An order request: a `design` id, or a `product` with its `selection`. Price and validity
/// are computed by the server, never taken from here.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// A saved design to order (then leave out product, selection, quantity and version).
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub design: Option<String>,
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub product: Option<String>,
    /// The selection (option id → value), in the order chosen; options left out are completed
    /// with defaults as configure's `completion` does (the order lists them in `filled`).
    #[serde(default)]
    pub selection: Choices,
    #[validate(range(min = 1, max = 1_000_000_000))]
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub quantity: Option<i64>,
    /// The `version` configure answered with (or its `catalog_version`): the order is
    /// validated and priced at that version. Default: the serving one.
    #[serde(alias = "version")]
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub catalog_version: Option<String>,
    #[validate(length(min = 1, max = 255))]
    #[schema(min_length = 1, max_length = 255)]
    pub customer_ref: Option<String>,
    /// Free-form JSON object kept with the order.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// What an order request asks for: its source, customer reference and metadata.
type OrderParts = (
    OrderSource,
    Option<String>,
    serde_json::Map<String, serde_json::Value>,
);

impl OrderRequest {
    fn source(self) -> Result<OrderParts, AppError> {
        let source = match (self.design, self.product) {
            (Some(d), None) => {
                if !self.selection.0.is_empty()
                    || self.quantity.is_some()
                    || self.catalog_version.is_some()
                {
                    return Err(AppError::BadRequest(
                        "an order from a design takes its selection, quantity and version from \
                         the design: leave them out"
                            .into(),
                    ));
                }
                OrderSource::Design(d)
            }
            (None, Some(product)) => OrderSource::Selection {
                product,
                choices: self.selection,
                quantity: self.quantity,
                version: self.catalog_version,
            },
            (Some(_), Some(_)) => {
                return Err(AppError::BadRequest(
                    "give either `design` or `product`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(AppError::BadRequest(
                    "give `design` (a saved design's id) or `product` with its `selection`".into(),
                ));
            }
        };
        Ok((source, self.customer_ref, self.metadata))
    }
}

/// A status change.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `accepted`, `in_production`, `shipped` or `cancelled`.
    #[schema(value_type = crate::app::orders::OrderStatus)]
    pub to: String,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// The order version the caller read (alternative to an `If-Match` header).
    pub expected_version: Option<i64>,
}

/// Feed query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Only orders in this status.
    #[param(value_type = Option<crate::app::orders::OrderStatus>)]
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn etag(order: &OrderView) -> String {
    format!("\"{}\"", order.version)
}

fn order_response(status: StatusCode, order: &OrderView) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(order)))
        .json(order)
}

/// Place an order. Requires an `Idempotency-Key` header: the same key with the same body returns
/// the same order (200); the same key with another body is a 409. The selection (or the design's)
/// is completed with defaults, re-validated and re-priced at the version named (or the current
/// one), and the print file rendered.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = OrderRequest,
    params(("Idempotency-Key" = String, Header, description = "Unique per order attempt, 1–255 printable ASCII")),
    responses((status = 201, description = "Created", body = OrderView),
        (status = 200, description = "Replayed: the order this key created", body = OrderView),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem)))]
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
    let (source, customer_ref, metadata) = body.into_inner().source()?;
    let place = PlaceOrder {
        idempotency_key: key,
        source,
        customer_ref,
        metadata,
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
    responses((status = 200, description = "The order", body = OrderView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
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
    responses((status = 200, description = "One page, oldest first", body = OrderPage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
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
    let limit = q.limit.unwrap_or(50);
    if !(1..=crate::orders::MAX_PAGE_LIMIT).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit {limit} is outside 1–{}",
            crate::orders::MAX_PAGE_LIMIT
        )));
    }
    let page = super::off_thread(&app, move |app| {
        app.orders(status, q.cursor.as_deref(), limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Change an order's status (scope `orders:write`). Needs the version read, as `If-Match`
/// (the ETag) or `expected_version`; a stale version is a 412, an illegal move a 409.
#[utoipa::path(post, path = "/v1/orders/{id}/status", tag = "orders", request_body = TransitionRequest,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The order's ETag")),
    responses((status = 200, description = "The order after the change", body = OrderView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 428, body = Problem)),
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
    responses((status = 200, description = "Events, oldest first", body = [OrderEventView]),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
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

/// The order's print mock-up (the storefront preview as PNG at the configured DPI; scope
/// `orders:read`), from its pinned catalog version. Production files are under `/files`.
#[utoipa::path(get, path = "/v1/orders/{id}/print", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, description = "PNG", content_type = "image/png"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}/print")]
pub async fn print(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let (etag, bytes) = super::off_thread(&app, move |app| app.order_print(&id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("image/png")))
        .insert_header((header::ETAG, format!("\"{etag}\"")))
        .insert_header((
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        ))
        .body(bytes.to_vec()))
}

/// The order's print files, a PDF, a PNG and an SVG per print area (scope `orders:read`): `state`
/// is `pending` until the durable print job has stored them, then `ready` (or `failed` with
/// `error`). Products without print areas list none.
#[utoipa::path(get, path = "/v1/orders/{id}/files", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, description = "The order's print files", body = OrderFiles),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}/files")]
pub async fn files(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let files = super::off_thread(&app, move |app| app.order_files(&id)).await?;
    Ok(HttpResponse::Ok().json(files))
}

/// One print file's bytes (scope `orders:read`): `{area}.png`, `{area}.svg` or `{area}.pdf`. Immutable, its
/// ETag the SHA-256 the files list gives; 409 with Retry-After while the files are pending.
#[utoipa::path(get, path = "/v1/orders/{id}/files/{file}", tag = "orders",
    params(("id" = String, Path), ("file" = String, Path, description = "`{area}.png`, `{area}.svg` or `{area}.pdf`"),
        ("If-None-Match" = Option<String>, Header, description = "The file's ETag")),
    responses((status = 200, description = "The file", content(("image/png"), ("image/svg+xml"), ("application/pdf"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/orders/{id}/files/{file}")]
pub async fn file(
    app: web::Data<App>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let (id, file) = path.into_inner();
    let parsed = file
        .rsplit_once('.')
        .and_then(|(area, ext)| PrintFormat::parse(ext).map(|f| (area.to_owned(), f)));
    let Some((area, format)) = parsed else {
        return Err(AppError::PrintFileNotFound {
            order: id,
            file: file.chars().take(100).collect(),
        });
    };
    let (sha, content_type, bytes) =
        super::off_thread(&app, move |app| app.order_file(&id, &area, format)).await?;
    let etag = format!("\"{sha}\"");
    let cache = (
        header::CACHE_CONTROL,
        "private, max-age=31536000, immutable",
    );
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header(cache)
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header(cache)
        .body(bytes))
}
