//! `GET /metrics`: the Prometheus / OpenMetrics text over HTTP, behind the `metrics:read` (or
//! `admin`) scope, counting what the app did: requests per route template and status, engine
//! calls, orders, preview cache hits and misses, the database pool and the outbox backlog.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use bespoke::config::{ApiKey, Scope};
use common::http::{ADMIN, FEED, TestApp, send};
use serde_json::json;

const SCRAPER: &str = "scraper-secret";

fn app() -> TestApp {
    TestApp::start(&common::repo(), |s| {
        s.warm_up.level = bespoke::config::WarmUp::Off;
        s.api_keys.push(ApiKey {
            name: "prometheus".into(),
            sha256: ApiKey::hash(SCRAPER),
            scopes: vec![Scope::MetricsRead],
        });
    })
}

async fn scrape(app: &TestApp, key: &str) -> String {
    let r = send(
        app,
        TestRequest::get()
            .uri("/metrics")
            .insert_header(("Authorization", format!("Bearer {key}"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let ct = r.headers.get("content-type").unwrap().to_str().unwrap();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    String::from_utf8(r.body.to_vec()).unwrap()
}

/// The value of the sample whose name and labels are `series` exactly.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

#[actix_web::test]
async fn metrics_need_a_key_with_the_scope() {
    let app = app();
    let r = send(&app, TestRequest::get().uri("/metrics")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        &app,
        TestRequest::get()
            .uri("/metrics")
            .insert_header(("Authorization", format!("Bearer {FEED}"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "orders:read is not enough");
    scrape(&app, SCRAPER).await;
    scrape(&app, ADMIN).await;
}

#[actix_web::test]
async fn metrics_count_what_the_app_did() {
    let app = app();
    for _ in 0..2 {
        let r = send(
            &app,
            TestRequest::post()
                .uri("/v1/products/classic-tee/configure")
                .set_json(json!({"selection": {"size": "L"}})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = send(&app, TestRequest::get().uri("/v1/products/no-such-product")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        let r = send(
            &app,
            TestRequest::post()
                .uri("/v1/orders")
                .insert_header(("Idempotency-Key", "metrics-1"))
                .set_json(json!({"product": "classic-tee", "selection": {"size": "S"}})),
        )
        .await;
        assert!(r.status.is_success(), "{}", r.json());
    }
    for _ in 0..2 {
        let r = send(
            &app,
            TestRequest::get().uri("/v1/products/classic-tee/preview?o.size=XL&width=256"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let text = scrape(&app, SCRAPER).await;
    assert_eq!(
        value(
            &text,
            "bespoke_http_requests_total{method=\"POST\",route=\"/v1/products/{id}/configure\",status=\"200\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "bespoke_http_requests_total{method=\"GET\",route=\"/v1/products/{id}\",status=\"404\"}"
        ),
        Some(1.0),
        "by route template, never by path: {text}"
    );
    assert!(!text.contains("no-such-product"), "{text}");
    assert_eq!(
        value(
            &text,
            "bespoke_engine_call_duration_seconds_count{operation=\"configure\"}"
        ),
        Some(1.0),
        "the second configure came from the answer cache: {text}"
    );
    assert_eq!(
        value(&text, "bespoke_orders_total{outcome=\"created\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "bespoke_orders_total{outcome=\"replayed\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "bespoke_preview_cache_lookups{result=\"miss\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        value(&text, "bespoke_preview_cache_lookups{result=\"hit\"}").unwrap() >= 1.0,
        "{text}"
    );
    assert_eq!(value(&text, "bespoke_outbox_backlog"), Some(0.0), "{text}");
    assert!(value(&text, "bespoke_db_pool_max_connections").unwrap() >= 1.0);
    assert!(text.contains("bespoke_http_request_duration_seconds_bucket{"));
    assert!(text.ends_with("# EOF\n"));
}
