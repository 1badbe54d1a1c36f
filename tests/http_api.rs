//! The HTTP API, in-process (actix test server): storefront, admin and error mapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::{ApiKey, Scope, Settings, WarmUp, WarmUpPlan};
use serde_json::{Value, json};

const ADMIN: &str = "admin-secret";
const FEED: &str = "feed-secret";

fn settings(catalog: &std::path::Path, db: &common::db::TestDb) -> Settings {
    Settings {
        catalog_dir: catalog.to_owned(),
        database_url: db.url.clone(),
        data_dir: db.dir().join("data"),
        cors_origins: vec!["https://shop.example".into()],
        api_keys: vec![
            ApiKey {
                name: "ops".into(),
                sha256: ApiKey::hash(ADMIN),
                scopes: vec![Scope::Admin, Scope::OrdersRead, Scope::OrdersWrite],
            },
            ApiKey {
                name: "erp".into(),
                sha256: ApiKey::hash(FEED),
                scopes: vec![Scope::OrdersRead],
            },
        ],
        // Single choices only: these tests start many short-lived apps, and a debug build's
        // pair warm-up of the sample catalog is a second of CPU each (tests/http_reload.rs
        // runs the default).
        warm_up: WarmUpPlan {
            level: WarmUp::Choices,
            limit: std::time::Duration::from_secs(60),
            memory: bespoke::rules::engine::DEFAULT_EXPLANATION_MEMORY,
            threads: 1,
            persist: true,
        },
        ..Settings::default()
    }
}

/// The app on a fresh SQLite database (kept alive by the returned guard).
struct TestApp(web::Data<App>, #[allow(dead_code)] common::db::TestDb);

impl std::ops::Deref for TestApp {
    type Target = web::Data<App>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

fn app() -> TestApp {
    let db = common::db::TestDb::sqlite();
    TestApp(
        web::Data::new(App::start(settings(&common::repo(), &db)).unwrap()),
        db,
    )
}

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let svc = test::init_service(common::contract::checked(web::Data::clone(&$app))).await;
        let res = test::call_service(&svc, $req.to_request()).await;
        let status = res.status();
        let ctype = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = test::read_body(res).await;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, ctype, json)
    }};
}

#[actix_web::test]
async fn products_are_listed_with_versions_and_thumbnails() {
    let app = app();
    let (status, _, body) = call!(app, test::TestRequest::get().uri("/v1/products"));
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"classic-tee") && ids.contains(&"custom-desk"),
        "{ids:?}"
    );
    let tee = body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "classic-tee")
        .unwrap();
    assert_eq!(tee["currency"], "EUR");
    assert!(
        tee["thumbnail"]
            .as_str()
            .unwrap()
            .starts_with("/v1/products/classic-tee/preview?v=")
    );
}

#[actix_web::test]
async fn product_schema_has_options_values_and_swatches() {
    let app = app();
    let (status, _, body) = call!(
        app,
        test::TestRequest::get().uri("/v1/products/classic-tee")
    );
    assert_eq!(status, StatusCode::OK);
    let options = body["options"].as_array().unwrap();
    let color = options.iter().find(|o| o["id"] == "color").unwrap();
    assert_eq!(color["type"], "choice");
    assert!(
        color["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["swatch"].as_str().is_some_and(|s| s.starts_with('#')))
    );
}

#[actix_web::test]
async fn unknown_product_is_a_problem_with_a_suggestion() {
    let app = app();
    let (status, ctype, body) = call!(app, test::TestRequest::get().uri("/v1/products/clasic-tee"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(body["type"], "/problems/unknown-product");
    assert_eq!(body["status"], 404);
    assert_eq!(body["suggestion"], "classic-tee");
}

#[actix_web::test]
async fn configure_reports_availability_with_explanations() {
    let app = app();
    let (status, _, body) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .set_json(json!({"selection": {"fabric": "polyester"}}))
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["consistent"], true);
    let color = body["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "color")
        .unwrap();
    let values = color["values"].as_array().unwrap();
    assert!(values.iter().any(|v| v["available"] == true));
    let unavailable: Vec<&Value> = values.iter().filter(|v| v["available"] == false).collect();
    assert!(
        !unavailable.is_empty(),
        "polyester restricts colours: {color}"
    );
    for v in unavailable {
        let why = &v["reason"];
        assert!(!why["rules"].as_array().unwrap().is_empty());
        assert_eq!(why["choices"][0]["option"], "fabric");
        assert_eq!(why["choices"][0]["value"], "polyester");
    }
    assert!(body["completion"]["selection"].is_object());
    assert!(
        body["preview_url"]
            .as_str()
            .unwrap()
            .contains("o.fabric=polyester")
    );
}

#[actix_web::test]
async fn configure_bad_input_gets_problems() {
    let app = app();
    let cases = [
        (
            json!({"selection": {"colour": "red"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/unknown-option",
        ),
        (
            json!({"selection": {"size": "XXXL"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/unknown-value",
        ),
        (
            json!({"selection": {"size": ["M"]}}),
            StatusCode::BAD_REQUEST,
            "/problems/malformed-json",
        ),
        (
            json!({"selection": {"quantity": 100000}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/out-of-range",
        ),
        (
            json!({"selection": {"quantity": "many"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/wrong-type",
        ),
        (
            json!({"selection": {"quantity": "30"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/wrong-type",
        ),
        (
            json!({"selection": {"sleeve_print": "yes"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/wrong-type",
        ),
        (
            json!({"selection": {"size": 3}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/wrong-type",
        ),
        (
            json!({"selection": {}, "quantity": 0}),
            StatusCode::BAD_REQUEST,
            "/problems/bad-request",
        ),
        (
            json!({"selection": {"front_text": "<script>"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/problems/invalid-text",
        ),
        (
            json!({"selection": {}, "extra": 1}),
            StatusCode::BAD_REQUEST,
            "/problems/malformed-json",
        ),
        (
            json!({"selection": "M"}),
            StatusCode::BAD_REQUEST,
            "/problems/malformed-json",
        ),
    ];
    for (body, want, kind) in cases {
        let (status, ctype, problem) = call!(
            app,
            test::TestRequest::post()
                .uri("/v1/products/classic-tee/configure")
                .set_json(&body)
        );
        assert_eq!(
            (status, problem["type"].as_str().unwrap()),
            (want, kind),
            "{body} → {problem}"
        );
        assert_eq!(ctype, "application/problem+json");
    }
    let (status, _, problem) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .insert_header(("content-type", "application/json"))
            .set_payload("{\"selection\": {")
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["type"], "/problems/malformed-json");
    let big = format!(
        "{{\"selection\": {{\"front_text\": \"{}\"}}}}",
        "a".repeat(300_000)
    );
    let (status, _, problem) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .insert_header(("content-type", "application/json"))
            .set_payload(big)
    );
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
}

#[actix_web::test]
async fn admin_needs_a_key_with_the_admin_scope() {
    let app = app();
    let (status, _, problem) = call!(app, test::TestRequest::get().uri("/v1/admin/catalog"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["type"], "/problems/unauthorized");
    let (status, _, _) = call!(
        app,
        test::TestRequest::get()
            .uri("/v1/admin/catalog")
            .insert_header(("authorization", "Bearer wrong"))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, problem) = call!(
        app,
        test::TestRequest::get()
            .uri("/v1/admin/catalog")
            .insert_header(("authorization", format!("Bearer {FEED}")))
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["scope"], "admin");
    let (status, _, body) = call!(
        app,
        test::TestRequest::get()
            .uri("/v1/admin/catalog")
            .insert_header(("authorization", format!("Bearer {ADMIN}")))
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["last_reload"]["outcome"], "ok");
}

#[actix_web::test]
async fn health_openapi_and_unknown_routes() {
    let app = app();
    let (status, _, body) = call!(app, test::TestRequest::get().uri("/healthz"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, _, body) = call!(app, test::TestRequest::get().uri("/readyz"));
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, doc) = call!(app, test::TestRequest::get().uri("/openapi.json"));
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (path, method) in [
        ("/v1/products", "get"),
        ("/v1/products/{id}", "get"),
        ("/v1/products/{id}/configure", "post"),
        ("/v1/products/{id}/preview", "get"),
        ("/v1/uploads", "post"),
        ("/v1/orders", "post"),
        ("/v1/orders", "get"),
        ("/v1/orders/{id}", "get"),
        ("/v1/orders/{id}/status", "post"),
        ("/v1/orders/{id}/events", "get"),
        ("/v1/orders/{id}/print", "get"),
        ("/v1/admin/catalog", "get"),
        ("/v1/admin/reload", "post"),
        ("/v1/admin/check", "post"),
        ("/v1/admin/catalog-versions", "get"),
        ("/v1/admin/catalog-versions/{hash}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    assert!(doc["components"]["schemas"]["ConfigureRequest"].is_object());
    // Every schema the document refers to is in it (nested ones too, e.g. the warm-up's
    // `Restored` inside the admin status).
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_owned()),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.iter().any(|r| r.ends_with("/Restored")), "{all:?}");
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} is not in the document"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let (status, ctype, _) = call!(app, test::TestRequest::get().uri("/v2/nothing"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ctype, "application/problem+json");
}

#[actix_web::test]
async fn responses_carry_a_request_id() {
    let app = app();
    let svc = test::init_service(common::contract::checked(web::Data::clone(&app))).await;
    let res = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/healthz")
            .insert_header(("x-request-id", "abc-123"))
            .to_request(),
    )
    .await;
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    let res = test::call_service(&svc, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert!(!res.headers().get("x-request-id").unwrap().is_empty());
}

#[actix_web::test]
async fn admin_check_reports_diagnostics_without_deploying() {
    let app = app();
    let v0 = app.snapshot().version().to_owned();
    let tee = std::fs::read_to_string(common::repo().join("catalog/classic-tee.yaml")).unwrap();
    let broken = tee.replacen("name:", "nmae:", 1);
    let (status, _, report) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/admin/check")
            .insert_header(("authorization", format!("Bearer {ADMIN}")))
            .set_json(json!({"files": {"catalog/classic-tee.yaml": broken}}))
    );
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], false);
    let d = &report["diagnostics"];
    let text = d.to_string();
    assert!(
        text.contains("catalog/classic-tee.yaml") && text.contains("nmae"),
        "{text}"
    );
    // Overlay mode: the other products still load from the serving catalog.
    assert!(
        report["products"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "custom-desk")
    );
    // Nothing was deployed.
    assert_eq!(app.snapshot().version(), v0);

    let (status, _, report) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/admin/check")
            .insert_header(("authorization", format!("Bearer {ADMIN}")))
            .set_json(json!({"files": {"catalog/classic-tee.yaml": tee}, "mode": "replace"}))
    );
    assert_eq!(status, StatusCode::OK);
    // Alone, the tee misses its shared rules file and template: errors, located.
    assert_eq!(report["ok"], false, "{report}");

    let (status, _, _) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/admin/check")
            .set_json(json!({"files": {}}))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn configure_prices_partial_selections_as_ranges_and_complete_ones_as_quotes() {
    use rust_decimal::Decimal;
    use std::str::FromStr;
    let app = app();
    let (status, _, partial) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .set_json(json!({"selection": {"size": "M"}}))
    );
    assert_eq!(status, StatusCode::OK, "{partial}");
    let price = &partial["price"];
    assert_eq!(price["kind"], "range", "{price}");
    let min = Decimal::from_str(price["min"].as_str().unwrap()).unwrap();
    let max = Decimal::from_str(price["max"].as_str().unwrap()).unwrap();
    assert!(min <= max && min > Decimal::ZERO);

    // Finish the configuration with the engine's completion: now it is a quote.
    let completion = partial["completion"]["selection"]
        .as_object()
        .unwrap()
        .clone();
    let mut selection = serde_json::Map::new();
    for (k, v) in completion {
        if !v.is_null() {
            selection.insert(k, v);
        }
    }
    let (status, _, full) = call!(
        app,
        test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .set_json(json!({"selection": selection}))
    );
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(full["validation"]["valid"], true, "{full}");
    let q = &full["price"];
    assert_eq!(q["kind"], "quote", "{q}");
    assert_eq!(q["currency"], "EUR");
    let total = Decimal::from_str(q["total"].as_str().unwrap()).unwrap();
    let sum: Decimal = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| Decimal::from_str(l["amount"].as_str().unwrap()).unwrap())
        .sum();
    assert_eq!(sum, total);
    assert!(min <= total && total <= max, "{min} ≤ {total} ≤ {max}");

    // The product list shows the "from" price: the minimum over all configurations.
    let (_, _, list) = call!(app, test::TestRequest::get().uri("/v1/products"));
    let tee = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "classic-tee")
        .unwrap();
    let from = Decimal::from_str(tee["from_price"].as_str().unwrap()).unwrap();
    assert!(from <= min);
}

#[actix_web::test]
async fn cors_allows_the_configured_storefront_origin_only() {
    let app = app();
    let svc = test::init_service(common::contract::checked(web::Data::clone(&app))).await;
    let preflight = |origin: &str| {
        test::TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/v1/products/classic-tee/configure")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "content-type"))
            .to_request()
    };
    let res = test::call_service(&svc, preflight("https://shop.example")).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://shop.example"
    );
    let res = test::call_service(&svc, preflight("https://evil.example")).await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/v1/products")
            .insert_header(("origin", "https://shop.example"))
            .to_request(),
    )
    .await;
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://shop.example"
    );
}
