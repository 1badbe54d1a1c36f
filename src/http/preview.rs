//! Preview images (ETag, 304, immutable caching when the URL pins the product version) and customer uploads (accepted under the decode budget; originals downloadable by order systems).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::configure::PREVIEW_CHOICE_PREFIX;
use crate::app::values::MAX_CHOICES;
use crate::app::{self, App, AppError, preview_error};
use crate::config::Scope;
use crate::http::middleware::require;
use crate::preview::RenderRequest;
use crate::preview::render::ImageFormat;

/// Default preview width in pixels.
pub const DEFAULT_WIDTH: u32 = 512;

/// The preview image of a selection. Query: `v` (the product version, pins the URL: the
/// response is then cacheable forever), `width` (64–2048, default 512), `format`
/// (`png`, `webp`, `jpeg`), and the choices as `o.<option>=<value>` (configure's `preview_url`
/// is built so). A plain `<option>=<value>` is read as a choice too, unless the option is named
/// `v`, `width` or `format`: those names always mean the parameters above.
#[utoipa::path(get, path = "/v1/products/{id}/preview", tag = "storefront",
    params(("id" = String, Path, description = "Product id"),
        ("v" = Option<String>, Query, description = "Product version the URL pins"),
        ("width" = Option<u32>, Query, minimum = 64, maximum = 2048, description = "Width in pixels, 64–2048"),
        ("format" = Option<ImageFormatParam>, Query, description = "png (default), webp or jpeg")),
    responses((status = 200, description = "The image",
            content((Vec<u8> = "image/png"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/jpeg"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, body = crate::http::problem::Problem),
        (status = 404, body = crate::http::problem::Problem),
        (status = 422, body = crate::http::problem::Problem),
        (status = 503, description = "Busy decoding other images: retry after `Retry-After` seconds",
            body = crate::http::problem::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))))]
#[get("/v1/products/{id}/preview")]
pub async fn preview(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    if query.len() > MAX_CHOICES + 3 {
        return Err(AppError::BadRequest(format!(
            "at most {MAX_CHOICES} choices in a preview URL"
        )));
    }
    let mut version = None;
    let mut width = DEFAULT_WIDTH;
    let mut format = ImageFormat::Png;
    let mut pairs = Vec::new();
    for (k, v) in query {
        match k.as_str() {
            "v" => version = Some(v),
            "width" => {
                width = v.parse().map_err(|_| {
                    AppError::BadRequest(format!("width `{v}` is not a whole number of pixels"))
                })?;
            }
            "format" => {
                format = ImageFormat::parse(&v).ok_or_else(|| {
                    AppError::BadRequest(format!("format `{v}`: use png, webp or jpeg"))
                })?;
            }
            _ => match k.strip_prefix(PREVIEW_CHOICE_PREFIX) {
                Some(option) => pairs.push((option.to_owned(), v)),
                None => pairs.push((k, v)),
            },
        }
    }
    let snap = app.snapshot();
    let id = id.into_inner();
    let (product, _) = snap.product(&id)?;
    let sel = app::selection(product, pairs, None)?;
    let request = RenderRequest { width, format };
    let key = snap
        .previewer
        .key(product, &sel, &request)
        .map_err(preview_error)?;
    let etag = format!("\"{}\"", key.as_str());
    let pinned = version.as_deref() == Some(product.version.as_str());
    let cache_control = if pinned {
        "public, max-age=31536000, immutable"
    } else if version.is_some() {
        // A stale version: this is the current product's image, which may change again.
        "no-cache"
    } else {
        "public, max-age=60"
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }
    // A cache hit is answered here; only a miss goes to the blocking pool to render.
    let rendered = match snap.previewer.cached(&key) {
        Some(r) => r,
        None => {
            let snap2 = snap.clone();
            super::off_thread(&app, move |app| {
                let (product, _) = snap2.product(&id)?;
                // An unknown upload is the customer's mistake (422), found before rendering.
                app.check_uploads(product, &sel)?;
                snap2
                    .previewer
                    .render(product, &sel, &request)
                    .map_err(preview_error)
            })
            .await?
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(rendered.content_type),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(web::Bytes::from_owner(rendered.bytes)))
}

/// The image formats a preview comes in.
#[derive(Debug, Clone, Copy, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormatParam {
    Png,
    Webp,
    Jpeg,
}

/// A stored upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// Content hash (hex SHA-256 of the re-encoded PNG): use it as the upload option's value.
    pub id: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
}

/// Upload a customer image (PNG, JPEG or WebP as the raw body). It is decoded with limits,
/// re-encoded as PNG (metadata dropped) and stored by content hash, with the original bytes
/// (which `GET /v1/uploads/{id}` returns). Decoding is held against the server's decode budget:
/// beyond it the answer is 503 with `Retry-After`, and the same request can simply be retried.
#[utoipa::path(post, path = "/v1/uploads", tag = "storefront",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The image file"),
    responses((status = 201, body = UploadView),
        (status = 413, body = crate::http::problem::Problem),
        (status = 422, body = crate::http::problem::Problem),
        (status = 503, description = "Busy decoding other images: retry after `Retry-After` seconds",
            body = crate::http::problem::Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))))]
pub async fn upload(app: web::Data<App>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let up = super::off_thread(&app, move |app| app.accept_upload(&body)).await?;
    Ok(HttpResponse::Created().json(UploadView {
        id: up.id,
        content_type: up.content_type.to_owned(),
        width: up.width,
        height: up.height,
    }))
}

/// A customer upload's original file, byte for byte as the customer sent it (scope
/// `orders:read`; an order lists the uploads it uses under `uploads`). Immutable: the ETag is
/// the SHA-256 of the bytes.
#[utoipa::path(get, path = "/v1/uploads/{id}", tag = "orders",
    params(("id" = String, Path, description = "The upload id (64 hex digits)")),
    responses((status = 200, description = "The original file",
            content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp")),
            headers(("ETag" = String, description = "Quoted hex SHA-256 of the bytes"),
                ("X-Content-Type-Options" = String, description = "nosniff"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 401, body = crate::http::problem::Problem),
        (status = 403, body = crate::http::problem::Problem),
        (status = 404, body = crate::http::problem::Problem)),
    security(("bearer" = ["orders:read"])))]
#[get("/v1/uploads/{id}")]
pub async fn get_upload(
    app: web::Data<App>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&app, &req, Scope::OrdersRead)?;
    let id = id.into_inner();
    let up = super::off_thread(&app, move |app| app.upload_original(&id)).await?;
    let etag = format!("\"{}\"", up.sha256);
    let cache_control = "private, max-age=31536000, immutable";
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }
    let content_type = HeaderValue::from_str(&up.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(up.bytes))
}
