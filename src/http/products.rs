//! Storefront endpoints: the product list, one product's schema, configure, choice values' images, and saved designs.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use validator::Validate;

use crate::app::configure::{Configuration, ValueReason};
use crate::app::designs::{DesignView, SaveDesign};
use crate::app::views::{ProductDetail, ProductSummary};
use crate::app::{App, AppError};
use crate::http::dto::{ConfigureRequest, DesignRequest, ExplainRequest};
use crate::http::problem::Problem;

/// List products.
#[utoipa::path(get, path = "/v1/products", tag = "storefront",
    responses((status = 200, description = "All products", body = [ProductSummary])))]
#[get("/v1/products")]
pub async fn list(app: web::Data<App>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(app.products()))
}

/// One product's full option schema.
#[utoipa::path(get, path = "/v1/products/{id}", tag = "storefront",
    params(("id" = String, Path, description = "Product id")),
    responses((status = 200, body = ProductDetail), (status = 404, body = Problem)))]
#[get("/v1/products/{id}")]
pub async fn get_one(app: web::Data<App>, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(app.product_detail(&id)?))
}

/// Configure: availability with reasons, validity, price, repair and completion.
#[utoipa::path(post, path = "/v1/products/{id}/configure", tag = "storefront",
    params(("id" = String, Path, description = "Product id")),
    request_body = ConfigureRequest,
    responses((status = 200, body = Configuration),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
#[post("/v1/products/{id}/configure")]
pub async fn configure(
    app: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<ConfigureRequest>,
) -> Result<HttpResponse, AppError> {
    body.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let req = body.into_inner();
    let id = id.into_inner();
    // A repeated request is answered from the version's cache without leaving this worker.
    if let Some(answer) = app.cached_configuration(
        &id,
        &req.selection,
        req.quantity,
        req.customer_ref.as_deref(),
    ) {
        return Ok(HttpResponse::Ok().json(&*answer));
    }
    let answer = super::off_thread(&app, move |app| {
        app.configure(
            &id,
            &req.selection,
            req.quantity,
            req.customer_ref.as_deref(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(&*answer))
}

/// Why one value is unavailable: its minimal reason, worked out on request (for values whose
/// reason a configure answer deferred, `reason_deferred`), or that it is available.
#[utoipa::path(post, path = "/v1/products/{id}/explain", tag = "storefront",
    params(("id" = String, Path, description = "Product id")),
    request_body = ExplainRequest,
    responses((status = 200, body = ValueReason),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
#[post("/v1/products/{id}/explain")]
pub async fn explain(
    app: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<ExplainRequest>,
) -> Result<HttpResponse, AppError> {
    body.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let req = body.into_inner();
    let id = id.into_inner();
    let answer = super::off_thread(&app, move |app| {
        app.explain(
            &id,
            &req.selection,
            req.quantity,
            &req.option,
            req.value.as_ref(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(&answer))
}

/// The image of a choice value (`values[].image` in the catalog). With `v` equal to the product
/// version the URL is immutable and cached forever (configure and the product schema give such
/// URLs).
#[utoipa::path(get, path = "/v1/products/{id}/options/{option}/values/{value}/image", tag = "storefront",
    params(("id" = String, Path, description = "Product id"),
        ("option" = String, Path), ("value" = String, Path),
        ("v" = Option<String>, Query, description = "Product version the URL pins")),
    responses((status = 200, description = "The image (SVG, PNG, JPEG or WebP, as the catalog has it)",
            content((Vec<u8> = "image/svg+xml"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"))),
        (status = 404, body = Problem)))]
#[get("/v1/products/{id}/options/{option}/values/{value}/image")]
pub async fn value_image(
    app: web::Data<App>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, option, value) = path.into_inner();
    let pinned_to = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.0.into_iter().find(|(k, _)| k == "v").map(|(_, v)| v));
    let image = app.value_image(&id, &option, &value)?;
    let cache = if pinned_to.as_deref() == Some(image.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(image.content_type),
        ))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // An SVG opened directly runs no script and loads nothing.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        ))
        .body(web::Bytes::from_owner(image.bytes)))
}

/// Save a design (the cart line): the selection is completed with defaults, validated and
/// priced at the version named (configure's `version`), and stored immutably.
#[utoipa::path(post, path = "/v1/designs", tag = "storefront", request_body = DesignRequest,
    responses((status = 201, body = DesignView),
        (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
#[post("/v1/designs")]
pub async fn save_design(
    app: web::Data<App>,
    body: web::Json<DesignRequest>,
) -> Result<HttpResponse, AppError> {
    body.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let b = body.into_inner();
    let req = SaveDesign {
        product: b.product,
        choices: b.selection,
        quantity: b.quantity,
        version: b.version,
    };
    let design = super::off_thread(&app, move |app| app.save_design(req)).await?;
    let mut res = HttpResponse::Created().json(&design);
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/designs/{}", design.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// A saved design (immutable; 404 once it expired).
#[utoipa::path(get, path = "/v1/designs/{id}", tag = "storefront",
    params(("id" = String, Path, description = "Design id")),
    responses((status = 200, body = DesignView), (status = 404, body = Problem)))]
#[get("/v1/designs/{id}")]
pub async fn get_design(
    app: web::Data<App>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let design = super::off_thread(&app, move |app| app.design(&id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .json(design))
}

/// `GET /v1/products/{id}/popular` query.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PopularQuery {
    /// How many configurations, 1–50 (default 5).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<usize>,
}

/// The most ordered complete configurations that are valid under today's rules, most ordered
/// first, each with its price and preview (popular starting points).
#[utoipa::path(get, path = "/v1/products/{id}/popular", tag = "storefront",
    params(("id" = String, Path, description = "Product id"), PopularQuery),
    responses((status = 200, body = [crate::app::personal::PopularConfiguration]),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
#[get("/v1/products/{id}/popular")]
pub async fn popular(
    app: web::Data<App>,
    id: web::Path<String>,
    query: web::Query<PopularQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit {limit} is outside 1–50"
        )));
    }
    let id = id.into_inner();
    let top = super::off_thread(&app, move |app| app.popular(&id, limit)).await?;
    Ok(HttpResponse::Ok().json(top))
}
