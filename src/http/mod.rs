//! The HTTP service (actix-web): routes under /v1 (webhook administration in `webhooks.rs`), the storefront page (`/`, `/p/{product}`), problem+json errors, limits, CORS, request ids, OpenAPI; `serve` runs it.

pub mod admin;
pub mod dto;
pub mod middleware;
pub mod openapi;
pub mod orders;
pub mod preview;
pub mod problem;
pub mod products;
pub mod storefront;
pub mod webhooks;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{HttpResponse, get, web};

use crate::app::{App, AppError};
use crate::http::dto::Health;

/// The actix application for an [`App`]: every route, the limits, CORS and request ids.
pub fn build(
    app: web::Data<App>,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // The print workers run beside the server (once per app, however many times it is built).
    crate::app::print::start_workers(&app);
    let json_limit = app.settings.json_limit;
    let upload_limit = app.settings.upload_limit;
    let cors = cors(&app.settings.cors_origins);
    actix_web::App::new()
        .app_data(app)
        .app_data(
            web::JsonConfig::default()
                .limit(json_limit)
                .error_handler(problem::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(problem::query_error))
        .app_data(web::PathConfig::default().error_handler(problem::path_error))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(problem::problem_responses))
        .wrap(actix_web::middleware::from_fn(middleware::request_id))
        .service(healthz)
        .service(readyz)
        .service(metrics)
        .service(openapi::serve)
        .service(products::list)
        .service(products::get_one)
        .service(products::configure)
        .service(products::explain)
        .service(products::value_image)
        .service(products::save_design)
        .service(products::get_design)
        .service(products::popular)
        .service(
            web::resource("/v1/admin/products/{id}/history")
                .app_data(web::PayloadConfig::new(admin::HISTORY_LIMIT))
                .route(web::post().to(admin::import_history)),
        )
        .service(admin::erase_customer)
        .service(preview::preview)
        .service(
            web::resource("/v1/uploads")
                .app_data(web::PayloadConfig::new(upload_limit))
                .route(web::post().to(preview::upload)),
        )
        .service(preview::get_upload)
        .service(orders::create)
        .service(orders::list)
        .service(orders::get_one)
        .service(orders::transition)
        .service(orders::events)
        .service(orders::print)
        .service(orders::files)
        .service(orders::file)
        .service(admin::versions)
        .service(admin::version_files)
        .service(admin::status)
        .service(admin::reload)
        .service(webhooks::register)
        .service(webhooks::list)
        .service(webhooks::remove)
        .service(webhooks::deliveries)
        .service(
            web::resource("/v1/admin/check")
                .app_data(web::PayloadConfig::new(crate::app::CHECK_LIMIT))
                .route(web::post().to(admin::check)),
        )
        .configure(storefront::routes)
        .default_service(web::to(problem::not_found))
}

/// Runs blocking work (engine, rendering, database) on actix's blocking pool, never on the async workers.
pub async fn off_thread<T: Send + 'static>(
    app: &web::Data<App>,
    f: impl FnOnce(&App) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let app = web::Data::clone(app);
    web::block(move || f(&app))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

fn cors(origins: &[String]) -> Cors {
    let mut c = Cors::default()
        .allowed_methods(["GET", "POST", "DELETE", "OPTIONS"])
        .allowed_header(actix_web::http::header::HeaderName::from_static(
            "x-request-id",
        ))
        .allowed_headers([
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::IF_MATCH,
            actix_web::http::header::IF_NONE_MATCH,
        ])
        .allowed_header("idempotency-key")
        .expose_headers(["etag", "x-request-id"])
        .max_age(3600);
    for o in origins {
        c = if o == "*" {
            c.allow_any_origin()
        } else {
            c.allowed_origin(o)
        };
    }
    c
}

/// Operational metrics in the Prometheus / OpenMetrics text format: requests and latencies per
/// route and status, rules-engine call latencies, preview cache hits and misses, orders, webhook
/// delivery attempts, the outbox backlog and the database pool. Needs a key with the
/// `metrics:read` scope (or `admin`).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses(
        (status = 200, description = "The metrics (OpenMetrics 1.0 text)", content_type = "application/openmetrics-text", body = String),
        (status = 401, body = problem::Problem), (status = 403, body = problem::Problem)),
    security(("bearer" = ["metrics:read"])))]
#[get("/metrics")]
pub async fn metrics(
    app: web::Data<App>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, AppError> {
    if middleware::require(&app, &req, crate::config::Scope::MetricsRead).is_err() {
        middleware::require(&app, &req, crate::config::Scope::Admin)?;
    }
    let text = off_thread(&app, |app| Ok(app.scrape_metrics())).await?;
    Ok(HttpResponse::Ok()
        .content_type(crate::app::metrics::CONTENT_TYPE)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(text))
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz(app: web::Data<App>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
        catalog_version: app.snapshot().version().to_owned(),
        database: Some(app.db.backend().to_owned()),
    })
}

/// Readiness: a catalog is loaded and the database answers.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = problem::Problem)))]
#[get("/readyz")]
pub async fn readyz(app: web::Data<App>) -> Result<HttpResponse, AppError> {
    let version = app.snapshot().version().to_owned();
    let app2 = app.clone();
    web::block(move || app2.db.ping())
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ready".into(),
        catalog_version: version,
        database: Some(app.db.backend().to_owned()),
    }))
}

/// Runs the server until SIGINT/SIGTERM; in-flight requests finish (graceful shutdown).
pub fn serve(app: App) -> std::io::Result<()> {
    let listen = app.settings.listen;
    let app = Arc::new(app);
    App::keep_history_fresh(Arc::downgrade(&app));
    let _watcher = if app.settings.watch {
        match crate::app::watch::watch(Arc::clone(&app)) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the catalog; reload through the admin API");
                None
            }
        }
    } else {
        None
    };
    let app = web::Data::from(app);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    actix_web::rt::System::new().block_on(async move {
        let server = actix_web::HttpServer::new({
            let app = app.clone();
            move || build(app.clone())
        })
        .workers(workers)
        .shutdown_timeout(30)
        .bind(listen)?;
        tracing::info!(%listen, catalog = %app.snapshot().version(), "serving");
        server.run().await
    })
}
