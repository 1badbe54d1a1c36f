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

/// Problem documents are `application/problem+json` (RFC 9457): every response whose body is a
/// `Problem` is declared so, and every operation declares a `default` problem response (500,
/// 503 and the like), so a client generator knows every answer's shape.
#[derive(Debug)]
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let problem = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
                .build()
        };
        let is_problem = |c: &utoipa::openapi::Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response
                        && r.content.get("application/json").is_some_and(is_problem)
                    {
                        r.content.shift_remove("application/json");
                        r.content
                            .insert("application/problem+json".to_owned(), problem());
                        if r.description.is_empty() {
                            r.description = "A problem (RFC 9457)".to_owned();
                        }
                    }
                }
                op.responses
                    .responses
                    .entry("default".to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description("Any other error, as a problem (RFC 9457)")
                                .content("application/problem+json", problem())
                                .build(),
                        )
                    });
            }
        }
    }
}

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Bespoke", description = "Product-customization configurator: products, configure, previews, orders."),
    paths(
        serve,
        super::healthz,
        super::metrics,
        super::readyz,
        super::products::list,
        super::products::get_one,
        super::products::configure,
        super::products::explain,
        super::products::value_image,
        super::products::save_design,
        super::products::get_design,
        super::products::popular,
        super::admin::import_history,
        super::admin::erase_customer,
        super::preview::preview,
        super::preview::upload,
        super::preview::get_upload,
        super::orders::create,
        super::orders::list,
        super::orders::get_one,
        super::orders::transition,
        super::orders::events,
        super::orders::print,
        super::orders::files,
        super::orders::file,
        super::admin::versions,
        super::admin::version_files,
        super::admin::status,
        super::admin::reload,
        super::admin::check,
        super::webhooks::register,
        super::webhooks::list,
        super::webhooks::remove,
        super::webhooks::deliveries,
    ),
    components(schemas(super::preview::ImageFormatParam, crate::app::webhooks::WebhookEvent)),
    modifiers(&Security, &ProblemResponses),
)]
pub struct ApiDoc;

/// The OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object)))]
#[get("/openapi.json")]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The methods the document declares for a request path (templates' `{param}` segments match
/// any one segment); empty when no documented path matches. The fallback answers a known path
/// with a method it does not take as 405 with these in `Allow`.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, Vec<&'static str>)>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let mut methods = Vec::new();
                for (m, op) in [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("DELETE", &item.delete),
                    ("PATCH", &item.patch),
                ] {
                    if op.is_some() {
                        methods.push(m);
                    }
                }
                let segments = template.split('/').map(str::to_owned).collect();
                (segments, methods)
            })
            .collect()
    });
    let parts: Vec<&str> = path.split('/').collect();
    let mut out: Vec<&'static str> = Vec::new();
    for (template, methods) in routes {
        let matches = template.len() == parts.len()
            && template.iter().zip(&parts).all(|(t, p)| {
                if t.starts_with('{') && t.ends_with('}') {
                    !p.is_empty()
                } else {
                    t == p
                }
            });
        if matches {
            for m in methods {
                if !out.contains(m) {
                    out.push(m);
                }
            }
        }
    }
    out
}
