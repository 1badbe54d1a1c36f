//! Storefront endpoints: the product list, one product's schema, and configure (availability, validity, price, repair, completion).

use actix_web::{HttpResponse, get, post, web};
use validator::Validate;

use crate::app::views::{ProductDetail, ProductSummary};
use crate::app::{self, App, AppError, report};
use crate::http::dto::{ConfigureRequest, ConfigureResponse};

/// The preview URL of a selection, pinned to the product version.
pub fn preview_url(product: &str, version: &str, pairs: &[(String, String)], width: u32) -> String {
    let mut q: Vec<(&str, &str)> = vec![("v", version)];
    let w = width.to_string();
    q.push(("width", &w));
    q.extend(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let query = serde_urlencoded::to_string(&q).unwrap_or_default();
    format!("/v1/products/{product}/preview?{query}")
}

/// List products.
#[utoipa::path(get, path = "/v1/products", tag = "storefront",
    responses((status = 200, description = "All products", body = [ProductSummary])))]
#[get("/v1/products")]
pub async fn list(app: web::Data<App>) -> Result<HttpResponse, AppError> {
    let snap = app.snapshot();
    let items: Vec<ProductSummary> = snap
        .catalog
        .products()
        .iter()
        .map(|p| ProductSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            currency: p.currency.code().to_owned(),
            from_price: snap
                .from_prices
                .get(&p.id)
                .copied()
                .flatten()
                .map(|d| d.to_string()),
            thumbnail: p
                .preview
                .as_ref()
                .map(|_| preview_url(&p.id, &p.version, &[], 256)),
            version: p.version.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// One product's full option schema.
#[utoipa::path(get, path = "/v1/products/{id}", tag = "storefront",
    params(("id" = String, Path, description = "Product id")),
    responses((status = 200, body = ProductDetail), (status = 404, body = crate::http::problem::Problem)))]
#[get("/v1/products/{id}")]
pub async fn get_one(app: web::Data<App>, id: web::Path<String>) -> Result<HttpResponse, AppError> {
    let snap = app.snapshot();
    let (p, _) = snap.product(&id)?;
    Ok(HttpResponse::Ok().json(ProductDetail::of(p)))
}

/// Configure: availability with explanations, validity, price, repair and completion.
#[utoipa::path(post, path = "/v1/products/{id}/configure", tag = "storefront",
    params(("id" = String, Path, description = "Product id")),
    request_body = ConfigureRequest,
    responses((status = 200, body = ConfigureResponse),
        (status = 404, body = crate::http::problem::Problem),
        (status = 422, body = crate::http::problem::Problem)))]
#[post("/v1/products/{id}/configure")]
pub async fn configure(
    app: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<ConfigureRequest>,
) -> Result<HttpResponse, AppError> {
    body.validate()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let snap = app.snapshot();
    let req = body.into_inner();
    let id = id.into_inner();
    let key = serde_json::to_string(&(&id, req.selection.pairs()?, req.quantity))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let bytes = match snap.configure_cache.get(&key) {
        Some(b) => b,
        None => {
            let snap2 = snap.clone();
            let res = web::block(move || configure_sync(&snap2, &id, &req))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
            let bytes: std::sync::Arc<[u8]> = serde_json::to_vec(&res)
                .map_err(|e| AppError::Internal(e.to_string()))?
                .into();
            snap.configure_cache.insert(key, bytes.clone());
            bytes
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(web::Bytes::from_owner(bytes)))
}

fn configure_sync(
    snap: &app::Snapshot,
    id: &str,
    req: &ConfigureRequest,
) -> Result<ConfigureResponse, AppError> {
    let (p, engine) = snap.product(id)?;
    let pairs = req.selection.pairs()?;
    let sel = app::selection(p, pairs.clone(), req.quantity)?;
    let prop = engine.propagate(&sel)?;
    let val = engine.validate(&sel);
    let repair = if prop.consistent {
        serde_json::Value::Null
    } else {
        report::repair_json(engine, &engine.repair(&sel)?)
    };
    let completion = engine.complete(&sel)?.map_or(serde_json::Value::Null, |c| {
        report::completion_json(engine, &c)
    });
    let doc = report::propagation_json(engine, &sel, &prop);
    let mut all_pairs = pairs;
    if let Some(q) = req.quantity
        && let Some(o) = p.quantity_option()
    {
        all_pairs.push((p.options[o].id.clone(), q.to_string()));
    }
    Ok(ConfigureResponse {
        product: p.id.clone(),
        version: p.version.clone(),
        consistent: prop.consistent,
        conflict: doc["conflict"].clone(),
        options: doc["options"].clone(),
        validation: report::validation_json(engine, &val),
        price: app::price_json(engine, &sel, val.valid, prop.consistent)?,
        repair,
        completion,
        preview_url: p
            .preview
            .as_ref()
            .map(|_| preview_url(&p.id, &p.version, &all_pairs, 512)),
    })
}
