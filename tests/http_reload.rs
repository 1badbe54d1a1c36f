//! Safe reload over HTTP: a broken edit never replaces the serving catalog; good edits swap in; the watcher reloads on change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::{ApiKey, Scope, Settings};
use serde_json::Value;

const ADMIN: &str = "admin-secret";

/// A private copy of the sample catalog.
fn sample_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bespoke-reload-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_sample(&dir);
    dir
}

fn app(dir: &Path) -> Arc<App> {
    app_with(dir, "test", Settings::default().warm_up)
}

/// An app on the catalog in `dir` with its own database `data/{db}.sqlite` and warm-up plan.
fn app_with(dir: &Path, db: &str, warm_up: bespoke::config::WarmUpPlan) -> Arc<App> {
    Arc::new(
        App::start(Settings {
            catalog_dir: dir.to_owned(),
            database_url: format!(
                "sqlite://{}",
                dir.join(format!("data/{db}.sqlite")).display()
            ),
            data_dir: dir.join("data"),
            api_keys: vec![ApiKey {
                name: "ops".into(),
                sha256: ApiKey::hash(ADMIN),
                scopes: vec![Scope::Admin],
            }],
            warm_up,
            ..Settings::default()
        })
        .unwrap(),
    )
}

async fn get(app: &Arc<App>, uri: &str, post: bool) -> (StatusCode, Value) {
    let svc = test::init_service(common::contract::checked(web::Data::from(Arc::clone(app)))).await;
    let req = if post {
        test::TestRequest::post()
    } else {
        test::TestRequest::get()
    };
    let res = test::call_service(
        &svc,
        req.uri(uri)
            .insert_header(("authorization", format!("Bearer {ADMIN}")))
            .to_request(),
    )
    .await;
    let status = res.status();
    let body = test::read_body(res).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

#[actix_web::test]
async fn a_broken_edit_keeps_the_old_version_serving() {
    let dir = sample_copy("broken");
    let app = app(&dir);
    let (_, before) = get(&app, "/v1/products/classic-tee", false).await;
    let v0 = before["version"].as_str().unwrap().to_owned();

    // Break the product: an unknown key and a bad price.
    edit(&dir, "catalog/classic-tee.yaml", "name:", "nmae:");
    let (status, problem) = get(&app, "/v1/admin/reload", true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "/problems/catalog-rejected");
    let diags = problem["diagnostics"].to_string();
    assert!(
        diags.contains("classic-tee.yaml"),
        "diagnostics name the file: {diags}"
    );

    // Still serving the old version, and the status says the attempt was rejected.
    let (status, after) = get(&app, "/v1/products/classic-tee", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["version"], v0.as_str());
    let (_, st) = get(&app, "/v1/admin/catalog", false).await;
    assert_eq!(st["last_reload"]["outcome"], "rejected");
    assert_eq!(st["last_reload"]["trigger"], "admin");

    // Fix it with a real change: the new version swaps in.
    edit(&dir, "catalog/classic-tee.yaml", "nmae:", "name:");
    edit(&dir, "catalog/classic-tee.yaml", "name: ", "name: Renamed ");
    let (status, ok) = get(&app, "/v1/admin/reload", true).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok["outcome"], "ok");
    let (_, now) = get(&app, "/v1/products/classic-tee", false).await;
    assert_ne!(now["version"], v0.as_str());
    assert!(now["name"].as_str().unwrap().starts_with("Renamed "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn in_flight_work_finishes_on_the_version_it_started_with() {
    let dir = sample_copy("inflight");
    let app = app(&dir);
    let held = app.snapshot();
    let v0 = held.version().to_owned();
    edit(&dir, "catalog/classic-tee.yaml", "name: ", "name: Changed ");
    assert_eq!(
        app.reload(bespoke::app::ReloadTrigger::Admin).outcome,
        bespoke::app::ReloadOutcome::Ok
    );
    assert_ne!(app.snapshot().version(), v0);
    // The request that started before the swap still sees its own, whole snapshot.
    assert_eq!(held.version(), v0);
    let (p, engine) = held.product("classic-tee").unwrap();
    assert!(!p.name.starts_with("Changed "));
    assert!(engine.propagate(&Default::default()).unwrap().consistent);
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn the_watcher_reloads_on_change_and_ignores_broken_saves() {
    let dir = sample_copy("watch");
    let app = app(&dir);
    let v0 = app.snapshot().version().to_owned();
    let _w = bespoke::app::watch::watch(Arc::clone(&app)).unwrap();
    let wait_for = |pred: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pred() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        pred()
    };

    edit(&dir, "rules/apparel.yaml", "constraints:", "constraints: [");
    assert!(
        wait_for(&|| app
            .last_reload()
            .is_some_and(|s| s.trigger == bespoke::app::ReloadTrigger::Watch)),
        "the watcher saw the broken save"
    );
    assert_eq!(
        app.last_reload().unwrap().outcome,
        bespoke::app::ReloadOutcome::Rejected
    );
    assert_eq!(app.snapshot().version(), v0);

    edit(&dir, "rules/apparel.yaml", "constraints: [", "constraints:");
    edit(&dir, "catalog/classic-tee.yaml", "name: ", "name: Watched ");
    assert!(
        wait_for(&|| app.snapshot().version() != v0),
        "the watcher swapped in the fixed catalog"
    );
    let snap = app.snapshot();
    assert!(
        snap.product("classic-tee")
            .unwrap()
            .0
            .name
            .starts_with("Watched ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The admin status follows the background warm-up (the default `pairs`: every product's
/// single choices, then every product's pairs) until it is done; `--warm-up off` says so, and
/// engines with too little memory for every pair's explanations end it `partial`.
#[actix_web::test]
async fn the_admin_status_follows_the_warm_up() {
    let dir = sample_copy("warmup");
    let app = app(&dir);
    let done = |st: &Value| st["warm_up"]["state"] == "done";
    let mut st = get(&app, "/v1/admin/catalog", false).await.1;
    assert_eq!(st["warm_up"]["level"], "pairs", "{st}");
    let t = Instant::now();
    while !done(&st) {
        assert_eq!(st["warm_up"]["state"], "running", "{st}");
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "still warming: {st}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        st = get(&app, "/v1/admin/catalog", false).await.1;
    }
    let products = st["warm_up"]["products"].as_array().unwrap();
    assert_eq!(products.len(), st["products"].as_array().unwrap().len());
    for p in products {
        assert_eq!(p["done"], "pairs", "{p}");
        // The empty selection and single choices twice (once per pass), and the pairs.
        assert!(p["selections"].as_u64().unwrap() > 10, "{p}");
        assert!(p["explanation_bytes"].as_u64().unwrap() > 0, "{p}");
    }
    // The custom desk has more values than the tee, hence far more pairs.
    let sels = |id: &str| {
        products.iter().find(|p| p["product"] == id).unwrap()["selections"]
            .as_u64()
            .unwrap()
    };
    assert!(sels("custom-desk") > 4 * sels("classic-tee"), "{st}");
    assert!(st["warm_up"]["seconds"].as_f64().unwrap() > 0.0);

    // Off: nothing runs, and the status says so.
    let quiet = app_with(&dir, "quiet", bespoke::config::WarmUpPlan::OFF);
    let st = get(&quiet, "/v1/admin/catalog", false).await.1;
    assert_eq!(st["warm_up"]["state"], "off", "{st}");
    assert_eq!(st["warm_up"]["products"][0]["selections"], 0, "{st}");

    // Engines with little memory for explanations: the pairs of the products with many stop
    // at the warm-up's share of it, and the warm-up ends `partial`.
    let small = app_with(
        &dir,
        "small",
        bespoke::config::WarmUpPlan {
            memory: 4096,
            ..Settings::default().warm_up
        },
    );
    let st = warmed(&small).await;
    assert_eq!(st["warm_up"]["state"], "partial", "{st}");
    let products = st["warm_up"]["products"].as_array().unwrap();
    assert!(products.iter().any(|p| p["done"] == "choices"), "{st}");
    assert!(products.iter().all(|p| p["done"].is_string()), "{st}");
    let _ = std::fs::remove_dir_all(&dir);
}

async fn configure(app: &Arc<App>, product: &str, selection: Value) -> Value {
    let svc = test::init_service(common::contract::checked(web::Data::from(Arc::clone(app)))).await;
    test::call_and_read_body_json(
        &svc,
        test::TestRequest::post()
            .uri(&format!("/v1/products/{product}/configure"))
            .set_json(serde_json::json!({ "selection": selection }))
            .to_request(),
    )
    .await
}

/// The widest desk a laminate top allows, as the app answers.
async fn laminate_desk_max_width(app: &Arc<App>) -> Value {
    let body = configure(
        app,
        "custom-desk",
        serde_json::json!({"top_material": "laminate"}),
    )
    .await;
    body["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "width_cm")
        .unwrap()["range"]["max"]
        .clone()
}

fn price_min(body: &Value) -> rust_decimal::Decimal {
    body["price"]["min"].as_str().unwrap().parse().unwrap()
}

/// Polls the admin status until the serving version's warm-up has ended.
async fn warmed(app: &Arc<App>) -> Value {
    let t = Instant::now();
    loop {
        let st = get(app, "/v1/admin/catalog", false).await.1;
        if st["warm_up"]["state"] != "running" {
            return st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "still warming: {st}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A reload keeps what the engines learned for every product whose options and rules are
/// unchanged: the new version's warm-up has nothing left to do for them (no selection
/// propagated), while a product whose rules changed warms from scratch; answers follow the new
/// files (a changed price, a changed rule).
#[actix_web::test]
async fn a_reload_keeps_unchanged_products_warm() {
    let dir = sample_copy("inherit");
    let app = app(&dir);
    let first = warmed(&app).await;
    assert_eq!(first["warm_up"]["state"], "done", "{first}");
    let version = first["version"].clone();
    let before = configure(&app, "classic-tee", serde_json::json!({})).await;
    edit(
        &dir,
        "catalog/classic-tee.yaml",
        "base_price: \"19.00\"",
        "base_price: \"21.00\"",
    );
    edit(
        &dir,
        "rules/custom-desk.yaml",
        "then: width_cm <= 180",
        "then: width_cm <= 170",
    );
    let (status, ok) = get(&app, "/v1/admin/reload", true).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    let st = warmed(&app).await;
    assert_ne!(st["version"], version, "{st}");
    assert_eq!(st["warm_up"]["state"], "done", "{st}");
    for p in st["warm_up"]["products"].as_array().unwrap() {
        assert_eq!(p["done"], "pairs", "{p}");
        let sels = p["selections"].as_u64().unwrap();
        if p["product"] == "custom-desk" {
            assert!(sels > 10, "its rules changed, so it warms again: {p}");
        } else {
            assert_eq!(sels, 0, "unchanged rules: nothing left to warm: {p}");
            // What the earlier version's warm-up kept.
            let earlier = first["warm_up"]["products"]
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["product"] == p["product"])
                .unwrap();
            assert_eq!(p["explanation_bytes"], earlier["explanation_bytes"], "{p}");
        }
    }
    // The new version answers with its own prices and rules.
    let tee = configure(&app, "classic-tee", serde_json::json!({})).await;
    assert_eq!(
        price_min(&tee) - price_min(&before),
        rust_decimal::Decimal::TWO,
        "{tee}"
    );
    assert_eq!(laminate_desk_max_width(&app).await, 170);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per product id, one field of the warm-up status.
fn by_product<'a>(st: &'a Value, id: &str) -> &'a Value {
    st["warm_up"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product"] == id)
        .unwrap()
}

/// The available values of every option in a configure answer.
fn availability(body: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for o in body["options"].as_array().unwrap() {
        let available: Vec<&Value> = o["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["available"] == true)
            .map(|v| &v["value"])
            .collect();
        out.insert(
            o["id"].as_str().unwrap().to_owned(),
            serde_json::json!([available, o["range"]["min"], o["range"]["max"], o["unset"]]),
        );
    }
    Value::Object(out)
}

/// What the engines learned is kept in the database: an app started again on it restores
/// every product from its own records and has nothing left to warm; a rule edited while no app
/// served restores from the earlier model's records what still holds of them; a reload that
/// changes a product's rules carries over what still holds from the engine serving until then.
/// Answers stay those of an app that learned nothing.
#[actix_web::test]
async fn what_the_engines_learned_survives_restarts_and_edits() {
    let dir = sample_copy("persist");
    let plan = Settings::default().warm_up;
    assert!(plan.persist, "on by default");
    let first = app_with(&dir, "learned", plan);
    let st = warmed(&first).await;
    assert_eq!(st["warm_up"]["state"], "done", "{st}");
    let ids: Vec<String> = st["warm_up"]["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        let p = by_product(&st, id);
        assert!(p["restored"].is_null(), "nothing stored yet: {p}");
        assert!(p["saved_records"].as_u64().unwrap() >= 1, "{p}");
        assert!(p["saved_bytes"].as_u64().unwrap() > 100, "{p}");
    }
    let learned = st.clone();
    drop(first);

    // A restart: everything restored, nothing left to warm.
    let second = app_with(&dir, "learned", plan);
    let st = warmed(&second).await;
    assert_eq!(st["warm_up"]["state"], "done", "{st}");
    for id in &ids {
        let p = by_product(&st, id);
        assert_eq!(p["restored"]["from"], "database", "{p}");
        assert_eq!(p["restored"]["skipped"], 0, "{p}");
        assert_eq!(p["selections"], 0, "{p}");
        assert_eq!(p["done"], "pairs", "{p}");
        assert_eq!(
            p["explanation_bytes"],
            by_product(&learned, id)["explanation_bytes"],
            "{p}"
        );
    }
    let fresh = app_with(&dir, "fresh", bespoke::config::WarmUpPlan::OFF);
    for (product, sel) in [
        (
            "custom-desk",
            serde_json::json!({"top_material": "laminate"}),
        ),
        (
            "custom-desk",
            serde_json::json!({"leg_style": "a-frame", "width_cm": 140}),
        ),
        ("classic-tee", serde_json::json!({"color": "heather"})),
    ] {
        assert_eq!(
            availability(&configure(&second, product, sel.clone()).await),
            availability(&configure(&fresh, product, sel.clone()).await),
            "{product} {sel}"
        );
    }
    drop(second);

    // A rule edited while no app served: the desk starts from what still holds of its earlier
    // model's records; the other products from their own.
    edit(
        &dir,
        "rules/custom-desk.yaml",
        "then: width_cm <= 180",
        "then: width_cm <= 170",
    );
    let third = app_with(&dir, "learned", plan);
    let st = warmed(&third).await;
    let desk = by_product(&st, "custom-desk");
    assert_eq!(
        desk["restored"]["from"], "database, earlier model",
        "{desk}"
    );
    assert!(desk["restored"]["skipped"].as_u64().unwrap() > 0, "{desk}");
    assert!(
        desk["restored"]["explanations"].as_u64().unwrap() > 0,
        "{desk}"
    );
    assert!(
        desk["selections"].as_u64().unwrap() > 10,
        "it warms again: {desk}"
    );
    assert_eq!(
        by_product(&st, "classic-tee")["restored"]["from"],
        "database"
    );
    assert_eq!(laminate_desk_max_width(&third).await, 170);

    // A reload that changes the desk's rules again: it carries over from the engine serving
    // until then; the others inherit their stores whole (nothing to restore).
    edit(
        &dir,
        "rules/custom-desk.yaml",
        "then: width_cm <= 170",
        "then: width_cm <= 160",
    );
    let (status, ok) = get(&third, "/v1/admin/reload", true).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    let st = warmed(&third).await;
    let desk = by_product(&st, "custom-desk");
    assert_eq!(desk["restored"]["from"], "previous version", "{desk}");
    assert!(
        desk["restored"]["explanations"].as_u64().unwrap() > 0,
        "{desk}"
    );
    assert!(by_product(&st, "classic-tee")["restored"].is_null(), "{st}");
    assert_eq!(by_product(&st, "classic-tee")["selections"], 0, "{st}");
    assert_eq!(laminate_desk_max_width(&third).await, 160);
    let _ = std::fs::remove_dir_all(&dir);
}
