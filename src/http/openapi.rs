//! The OpenAPI 3.1 document, generated from the handlers and DTOs by utoipa, served at /openapi.json.

use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Bespoke", description = "Product-customization configurator: products, configure, previews, orders."),
    paths(
        super::healthz,
        super::readyz,
        super::products::list,
        super::products::get_one,
        super::products::configure,
        super::products::value_image,
        super::products::save_design,
        super::products::get_design,
        super::preview::preview,
        super::preview::upload,
        super::orders::create,
        super::orders::list,
        super::orders::get_one,
        super::orders::transition,
        super::orders::events,
        super::orders::print,
        super::admin::versions,
        super::admin::version_files,
        super::admin::status,
        super::admin::reload,
        super::admin::check,
    ),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/openapi.json")]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
