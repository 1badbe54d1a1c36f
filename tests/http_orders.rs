//! Orders, the order feed, previews and uploads over HTTP, on SQLite and (when BESPOKE_TEST_POSTGRES_URL is set) PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::{ApiKey, Scope, Settings, WarmUp, WarmUpPlan};
use common::db::TestDb;
use serde_json::{Value, json};

const OPS: &str = "ops-secret";
const READER: &str = "reader-secret";

fn settings(db: &TestDb, catalog: &std::path::Path) -> Settings {
    Settings {
        catalog_dir: catalog.to_owned(),
        database_url: db.url.clone(),
        data_dir: db.dir().join("data"),
        api_keys: vec![
            ApiKey {
                name: "ops".into(),
                sha256: ApiKey::hash(OPS),
                scopes: vec![Scope::OrdersRead, Scope::OrdersWrite, Scope::Admin],
            },
            ApiKey {
                name: "reader".into(),
                sha256: ApiKey::hash(READER),
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

fn start(db: &TestDb) -> web::Data<App> {
    web::Data::from(Arc::new(App::start(settings(db, &common::repo())).unwrap()))
}

struct Res {
    status: StatusCode,
    headers: actix_web::http::header::HeaderMap,
    body: Vec<u8>,
}

impl Res {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

async fn send(app: &web::Data<App>, req: test::TestRequest) -> Res {
    let svc = test::init_service(common::contract::checked(web::Data::clone(app))).await;
    let res = test::call_service(&svc, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await.to_vec();
    Res {
        status,
        headers,
        body,
    }
}

fn bearer(key: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {key}"))
}

/// A complete, valid selection of a product: the engine's completion of nothing.
async fn valid_selection(app: &web::Data<App>, product: &str) -> serde_json::Map<String, Value> {
    let r = send(
        app,
        test::TestRequest::post()
            .uri(&format!("/v1/products/{product}/configure"))
            .set_json(json!({"selection": {}})),
    )
    .await;
    let doc = r.json();
    assert_eq!(doc["completion"]["needs_input"], json!([]), "{doc}");
    doc["completion"]["selection"].as_object().unwrap().clone()
}

fn order_req(key: &str, body: &Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/v1/orders")
        .insert_header(("idempotency-key", key))
        .set_json(body)
}

#[actix_web::test]
async fn orders_are_idempotent_revalidated_repriced_and_frozen() {
    for db in TestDb::all("orders_are_idempotent_revalidated_repriced_and_frozen") {
        let app = start(&db);
        let sel = valid_selection(&app, "classic-tee").await;
        let body = json!({"product": "classic-tee", "selection": sel, "customer_ref": "cust-1",
                          "metadata": {"channel": "web"}});
        let r = send(&app, order_req("key-1", &body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}: {}", db.name, r.json());
        let order = r.json();
        assert_eq!(order["status"], "submitted");
        assert_eq!(order["version"], 1);
        assert_eq!(order["catalog_version"], app.snapshot().version());
        assert_eq!(order["customer_ref"], "cust-1");
        assert!(order["quote"]["total"].is_string());
        assert!(
            order["preview_ref"].is_string(),
            "the print file was rendered"
        );
        assert_eq!(r.header("etag").unwrap(), "\"1\"");
        let id = order["id"].as_str().unwrap().to_owned();

        // Same key, same body: the same order, not a new one.
        let again = send(&app, order_req("key-1", &body)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["id"], id.as_str());
        // Same key, other body: a conflict.
        let mut other = body.clone();
        other["customer_ref"] = json!("cust-2");
        let conflict = send(&app, order_req("key-1", &other)).await;
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_eq!(conflict.json()["type"], "/problems/idempotency-conflict");

        // No key; an invalid configuration; a client-sent price is not a field at all.
        let r = send(
            &app,
            test::TestRequest::post().uri("/v1/orders").set_json(&body),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // A partial selection is completed with defaults, as configure completes it, and the
        // order says which options the server filled.
        let r = send(
            &app,
            order_req(
                "key-2",
                &json!({"product": "classic-tee", "selection": {"size": "M"}}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        assert_eq!(r.json()["selection"]["size"], "M");
        assert!(
            r.json()["filled"]
                .as_array()
                .unwrap()
                .contains(&json!("fabric"))
        );
        // A conflicting one is refused with the validation.
        let r = send(
            &app,
            order_req(
                "key-2b",
                &json!({"product": "classic-tee", "selection": {"color": "heather", "fabric": "polyester"}}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
        assert_eq!(r.json()["type"], "/problems/invalid-configuration");
        assert!(r.json()["validation"]["violations"].as_array().is_some());
        let mut priced = body.clone();
        priced["price"] = json!("0.01");
        let r = send(&app, order_req("key-3", &priced)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = send(
            &app,
            order_req("key-4", &json!({"product": "nope", "selection": {}})),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            order_req(
                "key-5",
                &json!({"product": "classic-tee", "selection": sel, "catalog_version": "f00"}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.json()["type"], "/problems/unknown-catalog-version");

        // The feed needs a key with the right scope.
        let r = send(
            &app,
            test::TestRequest::get().uri(&format!("/v1/orders/{id}")),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = send(
            &app,
            test::TestRequest::get()
                .uri(&format!("/v1/orders/{id}"))
                .insert_header(bearer(READER)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["selection"], order["selection"]);

        // The print file is a PNG.
        let r = send(
            &app,
            test::TestRequest::get()
                .uri(&format!("/v1/orders/{id}/print"))
                .insert_header(bearer(READER)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    }
}

#[actix_web::test]
async fn status_changes_need_scope_version_and_a_legal_move() {
    for db in TestDb::all("status_changes_need_scope_version_and_a_legal_move") {
        let app = start(&db);
        let sel = valid_selection(&app, "engraved-bottle").await;
        let r = send(
            &app,
            order_req(
                "t-1",
                &json!({"product": "engraved-bottle", "selection": sel}),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let uri = format!("/v1/orders/{id}/status");
        let change = |key: &str, body: Value, if_match: Option<&str>| {
            let mut req = test::TestRequest::post()
                .uri(&uri)
                .insert_header(bearer(key))
                .set_json(body);
            if let Some(m) = if_match {
                req = req.insert_header(("if-match", m.to_owned()));
            }
            req
        };
        let r = send(
            &app,
            change(READER, json!({"to": "accepted"}), Some("\"1\"")),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = send(&app, change(OPS, json!({"to": "accepted"}), None)).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
        let r = send(
            &app,
            change(OPS, json!({"to": "accepted", "note": "ok"}), Some("\"1\"")),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json());
        assert_eq!(r.json()["status"], "accepted");
        assert_eq!(r.header("etag").unwrap(), "\"2\"");
        // A second order system still holding version 1 cannot overwrite.
        let r = send(&app, change(OPS, json!({"to": "cancelled"}), Some("\"1\""))).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(r.json()["current_version"], 2);
        let r = send(
            &app,
            change(OPS, json!({"to": "shipped", "expected_version": 2}), None),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "accepted → shipped skips production"
        );
        assert_eq!(r.json()["type"], "/problems/illegal-transition");
        let r = send(&app, change(OPS, json!({"to": "lost"}), Some("\"2\""))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = send(
            &app,
            change(OPS, json!({"to": "in_production"}), Some("W/\"2\"")),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);

        let r = send(
            &app,
            test::TestRequest::get()
                .uri(&format!("/v1/orders/{id}/events"))
                .insert_header(bearer(READER)),
        )
        .await;
        let events = r.json();
        let tos: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["to"].as_str().unwrap())
            .collect();
        assert_eq!(tos, ["submitted", "accepted", "in_production"]);
        assert_eq!(events[1]["note"], "ok");
        let r = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/orders/00000000-0000-0000-0000-000000000000/events")
                .insert_header(bearer(READER)),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}

#[actix_web::test]
async fn the_feed_pages_by_cursor_and_filters_by_status() {
    for db in TestDb::all("the_feed_pages_by_cursor_and_filters_by_status") {
        let app = start(&db);
        let sel = valid_selection(&app, "classic-tee").await;
        let mut ids = Vec::new();
        for i in 0..7 {
            let r = send(
                &app,
                order_req(&format!("f-{i}"), &json!({"product": "classic-tee", "selection": sel, "customer_ref": format!("c{i}")})),
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED);
            ids.push(r.json()["id"].as_str().unwrap().to_owned());
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let uri = match &cursor {
                Some(c) => format!("/v1/orders?limit=3&cursor={c}"),
                None => "/v1/orders?limit=3".to_owned(),
            };
            let page = send(
                &app,
                test::TestRequest::get()
                    .uri(&uri)
                    .insert_header(bearer(READER)),
            )
            .await
            .json();
            // An order placed while paging lands at the end, not in a page already read.
            if pages == 0 {
                let r = send(
                    &app,
                    order_req(
                        "f-late",
                        &json!({"product": "classic-tee", "selection": sel}),
                    ),
                )
                .await;
                ids.push(r.json()["id"].as_str().unwrap().to_owned());
            }
            pages += 1;
            for o in page["items"].as_array().unwrap() {
                seen.push(o["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{}: every order once, oldest first", db.name);
        let r = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/orders?status=accepted")
                .insert_header(bearer(READER)),
        )
        .await;
        assert_eq!(r.json()["items"].as_array().unwrap().len(), 0);
        let r = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/orders?status=sideways")
                .insert_header(bearer(READER)),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/orders?cursor=garbage")
                .insert_header(bearer(READER)),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

#[actix_web::test]
async fn fifty_parallel_posts_with_one_key_make_one_order() {
    for db in TestDb::all("fifty_parallel_posts_with_one_key_make_one_order") {
        let app = start(&db);
        let sel = valid_selection(&app, "classic-tee").await;
        let body = json!({"product": "classic-tee", "selection": sel});
        let svc = test::init_service(common::contract::checked(web::Data::clone(&app))).await;
        let calls =
            (0..50).map(|_| test::call_service(&svc, order_req("race-key", &body).to_request()));
        let responses = futures_util::future::join_all(calls).await;
        let mut ids = std::collections::BTreeSet::new();
        let mut created = 0;
        for res in responses {
            let status = res.status();
            assert!(
                status == StatusCode::CREATED || status == StatusCode::OK,
                "{status}"
            );
            created += usize::from(status == StatusCode::CREATED);
            let v: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
            ids.insert(v["id"].as_str().unwrap().to_owned());
        }
        assert_eq!((ids.len(), created), (1, 1), "{}", db.name);
        let page = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/orders")
                .insert_header(bearer(READER)),
        )
        .await
        .json();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
}

#[actix_web::test]
async fn two_instances_on_one_postgres_share_orders_and_keys() {
    let Some(db) = TestDb::postgres("two_instances_on_one_postgres_share_orders_and_keys") else {
        return;
    };
    let a = start(&db);
    let b = start(&db);
    let sel = valid_selection(&a, "classic-tee").await;
    let body = json!({"product": "classic-tee", "selection": sel});
    let r = send(&a, order_req("shared-key", &body)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(&b, order_req("shared-key", &body)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["id"], id.as_str());
    let r = send(
        &b,
        test::TestRequest::post()
            .uri(&format!("/v1/orders/{id}/status"))
            .insert_header(bearer(OPS))
            .insert_header(("if-match", "\"1\""))
            .set_json(json!({"to": "accepted"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &a,
        test::TestRequest::get()
            .uri(&format!("/v1/orders/{id}"))
            .insert_header(bearer(READER)),
    )
    .await;
    assert_eq!(r.json()["status"], "accepted");
}

#[actix_web::test]
async fn previews_have_etags_304s_and_immutable_pinned_urls() {
    let db = TestDb::sqlite();
    let app = start(&db);
    let products = send(&app, test::TestRequest::get().uri("/v1/products"))
        .await
        .json();
    let tee = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "classic-tee")
        .unwrap()
        .clone();
    let version = tee["version"].as_str().unwrap();
    let uri = format!("/v1/products/classic-tee/preview?v={version}&width=300&color=black");
    let r = send(&app, test::TestRequest::get().uri(&uri)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("content-type").unwrap(), "image/png");
    assert!(r.header("cache-control").unwrap().contains("immutable"));
    let etag = r.header("etag").unwrap();
    let img = image::load_from_memory(&r.body).unwrap();
    assert_eq!(img.width(), 300);
    let r = send(
        &app,
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("if-none-match", etag.clone())),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    // Another colour is another image.
    let r = send(
        &app,
        test::TestRequest::get().uri(&uri.replace("color=black", "color=white")),
    )
    .await;
    assert_ne!(r.header("etag").unwrap(), etag);
    // Unpinned and stale URLs are not immutable.
    let r = send(
        &app,
        test::TestRequest::get().uri("/v1/products/classic-tee/preview?format=webp"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type").unwrap(), "image/webp");
    assert!(!r.header("cache-control").unwrap().contains("immutable"));
    for (bad, status) in [
        (
            "/v1/products/classic-tee/preview?width=5000",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/products/classic-tee/preview?width=abc",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/products/classic-tee/preview?format=gif",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/products/classic-tee/preview?color=plaid",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/v1/products/nope/preview", StatusCode::NOT_FOUND),
    ] {
        let r = send(&app, test::TestRequest::get().uri(bad)).await;
        assert_eq!(
            r.status,
            status,
            "{bad}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(
            r.header("content-type").unwrap(),
            "application/problem+json"
        );
    }
}

#[actix_web::test]
async fn uploads_are_checked_stored_by_hash_and_previewed() {
    let db = TestDb::sqlite();
    let app = start(&db);
    let mut png = Vec::new();
    let img = image::RgbImage::from_fn(40, 30, |x, _| image::Rgb([(x * 6) as u8, 0, 200]));
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/uploads")
            .set_payload(png.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 64);
    assert_eq!(
        (r.json()["width"].as_u64(), r.json()["height"].as_u64()),
        (Some(40), Some(30))
    );
    let again = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/uploads")
            .set_payload(png.clone()),
    )
    .await;
    assert_eq!(again.json()["id"], id.as_str(), "content-addressed");

    let with = send(
        &app,
        test::TestRequest::get().uri(&format!("/v1/products/framed-print/preview?photo={id}")),
    )
    .await;
    assert_eq!(
        with.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&with.body)
    );
    let without = send(
        &app,
        test::TestRequest::get().uri("/v1/products/framed-print/preview"),
    )
    .await;
    assert_ne!(with.header("etag"), without.header("etag"));
    assert_ne!(with.body, without.body);

    for (payload, status) in [
        (
            b"not an image at all".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            png[..png.len() / 2].to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        (vec![0u8; 9 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let r = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/uploads")
                .set_payload(payload),
        )
        .await;
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    }
    let r = send(
        &app,
        test::TestRequest::get().uri("/v1/products/framed-print/preview?photo=abc"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn orders_pinned_to_an_old_catalog_version_are_priced_from_it() {
    let db = TestDb::sqlite();
    let dir = db.dir().join("catalog-copy");
    common::copy_sample(&dir);
    let app = web::Data::from(Arc::new(App::start(settings(&db, &dir)).unwrap()));
    let v0 = app.snapshot().version().to_owned();
    let sel = valid_selection(&app, "engraved-bottle").await;
    let first = send(
        &app,
        order_req(
            "p-1",
            &json!({"product": "engraved-bottle", "selection": sel}),
        ),
    )
    .await
    .json();

    // The merchant raises the base price and reloads.
    let path = dir.join("catalog/engraved-bottle.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("base_price:"))
        .unwrap()
        .to_owned();
    std::fs::write(&path, text.replace(&line, "base_price: \"999.00\"")).unwrap();
    assert_eq!(
        app.reload(bespoke::app::ReloadTrigger::Admin).outcome,
        bespoke::app::ReloadOutcome::Ok
    );
    assert_ne!(app.snapshot().version(), v0);

    // An order naming the old version is priced as before; a new one at the new price.
    let old = send(
        &app,
        order_req(
            "p-2",
            &json!({"product": "engraved-bottle", "selection": sel, "catalog_version": v0}),
        ),
    )
    .await;
    assert_eq!(old.status, StatusCode::CREATED, "{}", old.json());
    assert_eq!(old.json()["quote"]["total"], first["quote"]["total"]);
    assert_eq!(old.json()["catalog_version"], v0.as_str());
    let new = send(
        &app,
        order_req(
            "p-3",
            &json!({"product": "engraved-bottle", "selection": sel}),
        ),
    )
    .await
    .json();
    assert_ne!(new["quote"]["total"], first["quote"]["total"]);
    // The stored version's files can be read back.
    let r = send(
        &app,
        test::TestRequest::get()
            .uri(&format!("/v1/admin/catalog-versions/{v0}"))
            .insert_header(bearer(OPS)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let files = r.json()["files"].to_string();
    assert!(files.contains("catalog/engraved-bottle.yaml"));
    let r = send(
        &app,
        test::TestRequest::get()
            .uri("/v1/admin/catalog-versions")
            .insert_header(bearer(OPS)),
    )
    .await;
    assert_eq!(r.json().as_array().unwrap().len(), 2);
}
