//! Personalization over HTTP: history import (bad rows by line, idempotent), recommendations
//! in configure (always available values, a valid recommended completion), orders feeding the
//! next recommendation, customer weighting and erasure, popular configurations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test as web_test;
use actix_web::web;
use bespoke::app::App;
use common::http::{ADMIN, TestApp, send};
use serde_json::{Value, json};

fn app() -> TestApp {
    TestApp::start(&common::repo(), |s| {
        s.warm_up.level = bespoke::config::WarmUp::Off;
    })
}

async fn configure(app: &web::Data<App>, body: Value) -> Value {
    let r = send(
        app,
        web_test::TestRequest::post()
            .uri("/v1/products/classic-tee/configure")
            .set_json(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    r.json()
}

fn recommended<'a>(answer: &'a Value, id: &str) -> &'a Value {
    &answer["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .unwrap()["recommended"]
}

async fn import(app: &TestApp, csv: &str) -> Value {
    let r = send(
        app,
        web_test::TestRequest::post()
            .uri("/v1/admin/products/classic-tee/history")
            .insert_header(("Authorization", format!("Bearer {ADMIN}")))
            .insert_header(("content-type", "text/csv"))
            .set_payload(csv.to_owned()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    r.json()
}

async fn order(app: &web::Data<App>, key: &str, selection: Value, customer: Option<&str>) {
    let r = send(
        app,
        web_test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("Idempotency-Key", key))
            .set_json(
                json!({"product": "classic-tee", "selection": selection, "customer_ref": customer}),
            ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
}

#[actix_web::test]
async fn history_import_reports_bad_rows_by_line_and_is_idempotent() {
    let app = app();
    let csv = "size,color,fabric,count\nXL,black,cotton,3\nXXXL,black,cotton,1\nL,heather,polyester,1\nS,white,organic,2\n";
    let report = import(&app, csv).await;
    assert_eq!(report["new"], true, "{report}");
    assert_eq!(
        report["sales"], 7,
        "3 + 1 (size unknown) + 1 (heather/polyester kept) + 2: {report}"
    );
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["line"] == 3 && p["message"].as_str().unwrap().contains("XXXL")),
        "the unknown size on line 3 (the option is left unknown for that sale): {report}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["line"] == 4 && p["skipped"] == false),
        "heather + polyester breaks today's rules, kept: {report}"
    );
    assert_eq!(report["inconsistent"], 1);
    let again = import(&app, csv).await;
    assert_eq!(again["new"], false, "{again}");
    // A file with nothing to read is refused, not recorded as an empty import.
    for body in ["", "\n  \n"] {
        let r = send(
            &app,
            web_test::TestRequest::post()
                .uri("/v1/admin/products/classic-tee/history")
                .insert_header(("Authorization", format!("Bearer {ADMIN}")))
                .insert_header(("content-type", "text/csv"))
                .set_payload(body),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json());
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .contains("no header line")
        );
    }
}

/// Recommendations are available values; their completion is valid and orderable; an order
/// placed changes the next recommendation.
#[actix_web::test]
async fn orders_feed_the_next_recommendation() {
    let app = app();
    import(&app, "size,color\nM,white\nM,white\n").await;
    let before = configure(&app, json!({"selection": {}})).await;
    assert_eq!(recommended(&before, "size")["value"], "M", "{before}");
    for k in 0..4 {
        order(
            &app,
            &format!("xs-{k}"),
            json!({"size": "XS", "color": "navy"}),
            None,
        )
        .await;
    }
    let after = configure(&app, json!({"selection": {}})).await;
    assert_eq!(recommended(&after, "size")["value"], "XS", "{after}");
    // Always an available value: with heather chosen, fabric is cotton or organic.
    let heather = configure(&app, json!({"selection": {"color": "heather"}})).await;
    let fabric = heather["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "fabric")
        .unwrap();
    let value = &fabric["recommended"]["value"];
    let available = fabric["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| &v["value"] == value)
        .unwrap();
    assert_eq!(available["available"], true);
    let c = fabric["recommended"]["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
    // The recommended completion keeps the customer's values and is an order as it is.
    let rc = &heather["recommended_completion"];
    assert_eq!(rc["selection"]["color"], "heather");
    assert_eq!(rc["needs_input"], json!([]));
    order(&app, "rc", rc["selection"].clone(), None).await;
}

/// A customer's own orders weigh more; erasing the customer removes their influence.
#[actix_web::test]
async fn customer_weighting_and_erasure() {
    let app = app();
    for k in 0..5 {
        order(
            &app,
            &format!("crowd-{k}"),
            json!({"size": "S"}),
            Some(&format!("c{k}")),
        )
        .await;
    }
    order(&app, "mine", json!({"size": "XXL"}), Some("me-42")).await;
    let anyone = configure(&app, json!({"selection": {}})).await;
    assert_eq!(recommended(&anyone, "size")["value"], "S", "{anyone}");
    let me = configure(&app, json!({"selection": {}, "customer_ref": "me-42"})).await;
    assert_eq!(recommended(&me, "size")["value"], "XXL", "{me}");
    let r = send(
        &app,
        web_test::TestRequest::delete()
            .uri("/v1/admin/customers/me-42/history")
            .insert_header(("Authorization", format!("Bearer {ADMIN}"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["deleted"], 1);
    let me = configure(&app, json!({"selection": {}, "customer_ref": "me-42"})).await;
    assert_eq!(recommended(&me, "size")["value"], "S", "{me}");
}

#[actix_web::test]
async fn popular_configurations_are_valid_and_priced() {
    let app = app();
    import(
        &app,
        "size,color,fabric,count\nL,black,cotton,5\nM,white,organic,2\nL,heather,polyester,9\n",
    )
    .await;
    let r = send(
        &app,
        web_test::TestRequest::get().uri("/v1/products/classic-tee/popular?limit=2"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let top = r.json();
    let top = top.as_array().unwrap();
    assert_eq!(top.len(), 2, "{top:?}");
    // The most sold row breaks today's rules: it is not offered.
    assert_eq!(top[0]["count"], 5);
    assert_eq!(top[0]["selection"]["size"], "L");
    assert_eq!(top[0]["selection"]["color"], "black");
    assert_eq!(top[1]["count"], 2);
    assert!(top[0]["price"]["total"].is_string());
}

/// `bespoke history import` feeds the database a server reads: its JSON is the HTTP import's
/// answer (checked against the document), bad rows come with line numbers, a second run adds
/// nothing, and the server recommends from what it imported.
#[actix_web::test]
async fn the_cli_import_feeds_the_history_the_server_reads() {
    let db = common::db::TestDb::sqlite();
    let file = db.dir().join("sales.csv");
    let mut csv = String::from("size,color,fabric,count\n");
    csv.push_str("XXXL,black,cotton,1\n");
    for _ in 0..5 {
        csv.push_str("S,white,organic,4\n");
    }
    std::fs::write(&file, &csv).unwrap();
    let repo = common::repo();
    let args = [
        "history",
        "import",
        "classic-tee",
        file.to_str().unwrap(),
        "--catalog",
        repo.to_str().unwrap(),
        "--database-url",
        &db.url,
        "--json",
    ];
    let (code, out, err) = common::bespoke(&args);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let checked = common::contract::Contract::served().check(
        "POST",
        "/v1/admin/products/classic-tee/history",
        200,
        Some("application/json"),
        out.as_bytes(),
    );
    assert!(
        matches!(checked, Ok(Some(_))),
        "{checked:?}: the CLI prints the HTTP answer's type"
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["new"], true, "{report}");
    assert_eq!(report["sales"], 21, "{report}");
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["line"] == 2 && p["message"].as_str().unwrap().contains("XXXL")),
        "{report}"
    );
    let (code, text, _) = common::bespoke(&args[..args.len() - 1]);
    assert_eq!(code, 0);
    assert!(text.contains("imported before"), "{text}");

    let app = TestApp::start_in(db, &repo, |s| {
        s.warm_up.level = bespoke::config::WarmUp::Off;
    });
    let answer = configure(&app, json!({"selection": {}})).await;
    assert_eq!(
        recommended(&answer, "fabric")["value"],
        "organic",
        "{answer}"
    );
}

/// Every instance learns what the others sell: an order placed on one changes the next
/// recommendation on another (read by its background history reader, within seconds).
#[actix_web::test]
async fn another_instance_learns_the_orders_within_seconds() {
    let a = app();
    let b = a.another();
    App::keep_history_fresh(std::sync::Arc::downgrade(&b.clone().into_inner()));
    let before = configure(&b, json!({"selection": {}})).await;
    assert_eq!(
        recommended(&before, "size")["value"],
        "M",
        "the default: {before}"
    );
    for k in 0..3 {
        order(&a, &format!("xl-{k}"), json!({"size": "XL"}), None).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = configure(&b, json!({"selection": {}})).await;
        if recommended(&now, "size")["value"] == "XL" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "instance B never learned A's orders: {now}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
