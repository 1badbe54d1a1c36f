//! Print files per print area over HTTP, on SQLite and (when BESPOKE_TEST_POSTGRES_URL is set) PostgreSQL: files made with the order or by the durable job, their sizes, digests and bytes, a job that outlives its instance, the pixel budget, and the job's claims, fencing and retries at the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::Settings;
use bespoke::orders::{FilesState, MAX_PRINT_ATTEMPTS, PrintPlan};
use common::db::TestDb;
use common::http::{ADMIN, FEED, Res, TestApp, send};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn start(db: TestDb, edit: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::start_in(db, &common::repo(), edit)
}

async fn place(app: &web::Data<App>, key: &str, selection: Value) -> Res {
    send(
        app,
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("idempotency-key", key))
            .insert_header(("authorization", format!("Bearer {ADMIN}")))
            .set_json(json!({"product": "framed-print", "selection": selection})),
    )
    .await
}

async fn get(app: &web::Data<App>, uri: &str) -> Res {
    send(
        app,
        test::TestRequest::get()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {FEED}"))),
    )
    .await
}

/// Asks for the files list until its state is no longer pending (or the deadline passes).
async fn files_when_done(app: &web::Data<App>, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = get(app, &format!("/v1/orders/{id}/files")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json());
        let body = r.json();
        if body["state"] != "pending" {
            return body;
        }
        assert!(Instant::now() < deadline, "still pending: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn png_size(b: &[u8]) -> (u64, u64) {
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&b[12..16], b"IHDR");
    let be = |r: std::ops::Range<usize>| u64::from(u32::from_be_bytes(b[r].try_into().unwrap()));
    (be(16..20), be(20..24))
}

/// The first page's MediaBox of a PDF, in millimetres (rounded to 0.01).
fn pdf_page_mm(b: &[u8]) -> (f64, f64) {
    assert!(b.starts_with(b"%PDF-"), "not a PDF");
    let text = String::from_utf8_lossy(b);
    let at = text.find("/MediaBox [").expect("a MediaBox") + "/MediaBox [".len();
    let end = at + text[at..].find(']').unwrap();
    let v: Vec<f64> = text[at..end]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let mm = |pt: f64| (pt / 72.0 * 25.4 * 100.0).round() / 100.0;
    (mm(v[2] - v[0]), mm(v[3] - v[1]))
}

fn px(mm: f64, dpi: f64) -> u64 {
    (mm / 25.4 * dpi).round() as u64
}

/// Checks every listed file against its bytes: digest, PNG size, SVG size in millimetres.
async fn check_files(app: &web::Data<App>, id: &str, files: &Value, w_mm: f64, h_mm: f64) {
    let list = files["files"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{files}");
    let formats: Vec<&str> = list.iter().map(|f| f["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["pdf", "png", "svg"]);
    for f in list {
        assert_eq!(f["area"], "artwork");
        assert_eq!(f["dpi"], 150);
        assert_eq!(f["width_mm"].as_f64(), Some(w_mm), "{f}");
        assert_eq!(f["height_mm"].as_f64(), Some(h_mm), "{f}");
        assert_eq!(f["bleed_mm"].as_f64(), Some(3.0));
        assert_eq!(f["width_px"].as_u64(), Some(px(w_mm, 150.0)));
        assert_eq!(f["height_px"].as_u64(), Some(px(h_mm, 150.0)));
        let url = f["url"].as_str().unwrap();
        assert_eq!(
            url,
            format!(
                "/v1/orders/{id}/files/artwork.{}",
                f["format"].as_str().unwrap()
            )
        );
        let r = get(app, url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.json());
        let sha = bespoke::config::hex(&Sha256::digest(&r.body));
        assert_eq!(
            f["sha256"],
            sha.as_str(),
            "{url}: the digest names the bytes"
        );
        assert_eq!(f["size"].as_u64(), Some(r.body.len() as u64));
        assert_eq!(r.header("etag"), Some(format!("\"{sha}\"")));
        assert!(r.header("cache-control").unwrap().contains("immutable"));
        assert_eq!(r.content_type(), f["content_type"].as_str().unwrap());
        if f["format"] == "png" {
            assert_eq!(r.content_type(), "image/png");
            let (w, h) = png_size(&r.body);
            assert_eq!((w, h), (px(w_mm, 150.0), px(h_mm, 150.0)));
            assert_eq!(w > h, w_mm > h_mm, "the file's orientation is the order's");
        } else if f["format"] == "pdf" {
            assert_eq!(r.content_type(), "application/pdf");
            assert_eq!(pdf_page_mm(&r.body), (w_mm, h_mm), "the page's size");
        } else {
            assert_eq!(r.content_type(), "image/svg+xml");
            let text = std::str::from_utf8(&r.body).unwrap();
            let doc = roxmltree::Document::parse(text).unwrap();
            let root = doc.root_element();
            assert_eq!(root.attribute("width"), Some(format!("{w_mm}mm").as_str()));
            assert_eq!(root.attribute("height"), Some(format!("{h_mm}mm").as_str()));
            assert_eq!(
                root.attribute("viewBox"),
                Some(format!("0 0 {w_mm} {h_mm}").as_str())
            );
            assert!(
                !doc.descendants().any(|n| n.has_tag_name("text")),
                "text is converted to paths"
            );
        }
        // Revalidation.
        let r = send(
            app,
            test::TestRequest::get()
                .uri(url)
                .insert_header(("authorization", format!("Bearer {FEED}")))
                .insert_header(("if-none-match", format!("\"{sha}\""))),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    }
}

#[actix_web::test]
async fn a_small_landscape_order_has_its_files_with_the_answer() {
    for db in TestDb::all("a_small_landscape_order_has_its_files_with_the_answer") {
        let name = db.name;
        // Inline up to 8 MP; no worker, so nothing but the order itself makes the files.
        let app = start(db, |s| {
            s.print.inline_pixels = 8_000_000;
            s.print.workers = 0;
        });
        let r = place(&app, "inline-1", json!({"width_cm": 60, "height_cm": 30})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let order = r.json();
        assert_eq!(order["files_state"], "ready", "{name}: {order}");
        assert_eq!(order["links"]["files"], format!("/v1/orders/{id}/files"));
        let files = get(&app, &format!("/v1/orders/{id}/files")).await;
        assert_eq!(files.status, StatusCode::OK);
        let files = files.json();
        assert_eq!(files["state"], "ready", "{name}: {files}");
        assert_eq!(files["attempts"], 0);
        assert_eq!(files["order_id"], id.as_str());
        check_files(&app, &id, &files, 606.0, 306.0).await;

        // The mock-up stays available (rendered when first asked for).
        let r = get(&app, &format!("/v1/orders/{id}/print")).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
        let again = get(&app, &format!("/v1/orders/{id}/print")).await;
        assert_eq!(again.body, r.body);

        // Unknown files, unknown orders, and the scope.
        for uri in [
            format!("/v1/orders/{id}/files/frame.png"),
            format!("/v1/orders/{id}/files/artwork.tiff"),
            format!("/v1/orders/{id}/files/artwork"),
        ] {
            let r = get(&app, &uri).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(r.json()["type"], "/problems/print-file-not-found");
        }
        let r = get(&app, "/v1/orders/nope/files").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            test::TestRequest::get().uri(&format!("/v1/orders/{id}/files")),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[actix_web::test]
async fn a_large_area_goes_through_the_job_and_becomes_ready() {
    for db in TestDb::all("a_large_area_goes_through_the_job_and_becomes_ready") {
        let name = db.name;
        // The default inline threshold (2 MP): a 40 x 60 cm print (8.6 MP) is the job's.
        let app = start(db, |s| s.webhooks.allow_private = true);
        // A webhook (on a port nothing listens on: its deliveries stay pending) shows which
        // events the order wrote.
        let r = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/admin/webhooks")
                .insert_header(("authorization", format!("Bearer {ADMIN}")))
                .set_json(json!({"url": "http://127.0.0.1:9/hook",
                    "events": ["order.created", "order.files_ready"],
                    "secret": "0123456789abcdef"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
        let hook = r.json()["id"].as_str().unwrap().to_owned();
        let r = place(&app, "job-1", json!({"width_cm": 40, "height_cm": 60})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let files = files_when_done(&app, &id).await;
        assert_eq!(files["state"], "ready", "{name}: {files}");
        assert_eq!(files["attempts"], 1);
        // Portrait this time.
        check_files(&app, &id, &files, 406.0, 606.0).await;
        // order.created with the order, order.files_ready in the job's completing transaction.
        let r = send(
            &app,
            test::TestRequest::get()
                .uri(&format!("/v1/admin/webhooks/{hook}/deliveries"))
                .insert_header(("authorization", format!("Bearer {ADMIN}"))),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let types: Vec<String> = r.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["subject"] == format!("order:{id}"))
            .map(|d| d["event_type"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            types.contains(&"order.created".to_owned()),
            "{name}: {types:?}"
        );
        assert!(
            types.contains(&"order.files_ready".to_owned()),
            "{name}: {types:?}"
        );
    }
}

#[actix_web::test]
async fn a_pending_job_survives_a_restart() {
    for db in TestDb::all("a_pending_job_survives_a_restart") {
        let name = db.name;
        let first = start(db, |s| s.print.workers = 0);
        let r = place(
            &first,
            "restart-1",
            json!({"width_cm": 60, "height_cm": 30}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(r.json()["files_state"], "pending", "{name}");
        let files = get(&first, &format!("/v1/orders/{id}/files")).await.json();
        assert_eq!(files["state"], "pending", "{name}: {files}");
        assert_eq!(files["files"], json!([]));
        let r = get(&first, &format!("/v1/orders/{id}/files/artwork.png")).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.json()["type"], "/problems/print-files-pending");
        assert!(r.header("retry-after").is_some());

        // The instance goes away with the job unfinished; another starts on the same database.
        let TestApp(app, db) = first;
        drop(app);
        let second = start(db, |_| {});
        let files = files_when_done(&second, &id).await;
        assert_eq!(files["state"], "ready", "{name}: {files}");
        check_files(&second, &id, &files, 606.0, 306.0).await;
        // The order and the feed say so too.
        let order = get(&second, &format!("/v1/orders/{id}")).await.json();
        assert_eq!(order["files_state"], "ready", "{name}");
        let feed = get(&second, "/v1/orders").await.json();
        assert_eq!(feed["items"][0]["files_state"], "ready", "{name}");
    }
}

#[actix_web::test]
async fn the_pixel_budget_refuses_the_order() {
    for db in TestDb::all("the_pixel_budget_refuses_the_order") {
        let name = db.name;
        let app = start(db, |s| s.print.max_pixels = 5_000_000);
        let r = place(&app, "big-1", json!({"width_cm": 60, "height_cm": 30})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let p = r.json();
        assert_eq!(p["type"], "/problems/print-too-large", "{p}");
        assert_eq!(p["area"], "artwork");
        assert_eq!(p["width_px"], 3579);
        assert_eq!(p["height_px"], 1807);
        assert_eq!(p["limit_pixels"], 5_000_000);
        // Nothing was stored: a smaller print under the same key is a new order.
        let r = get(&app, "/v1/orders").await;
        assert_eq!(r.json()["items"], json!([]), "{name}");
        let r = place(&app, "big-2", json!({"width_cm": 30, "height_cm": 20})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
    }
}

#[actix_web::test]
async fn products_without_print_areas_list_no_files() {
    let app = TestApp::sample();
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("idempotency-key", "bottle-1"))
            .insert_header(("authorization", format!("Bearer {ADMIN}")))
            .set_json(json!({"product": "engraved-bottle", "selection": {}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["files_state"], Value::Null);
    let files = get(&app, &format!("/v1/orders/{id}/files")).await.json();
    assert_eq!(files["state"], "ready");
    assert_eq!(files["files"], json!([]));
}

#[core::prelude::v1::test]
fn job_claims_are_leased_fenced_and_fail_after_their_attempts() {
    for t in TestDb::all("job_claims_are_leased_fenced_and_fail_after_their_attempts") {
        let db = t.open();
        let (order, created) = db
            .create_order_with_print(
                common::db::new_order("job-a", "{}"),
                &PrintPlan::Job,
                &|_| Ok(Vec::new()),
            )
            .unwrap();
        assert!(created);
        assert_eq!(db.pending_print_jobs().unwrap(), 1, "{}", t.name);
        // A replay records nothing more.
        let (_, again) = db
            .create_order_with_print(
                common::db::new_order("job-a", "{}"),
                &PrintPlan::Job,
                &|_| Ok(Vec::new()),
            )
            .unwrap();
        assert!(!again);
        // A lease of zero expires at once: another worker takes the job over.
        let first = db.claim_print_job(Duration::ZERO).unwrap().unwrap();
        assert_eq!(
            (first.order_id.as_str(), first.attempt),
            (order.id.as_str(), 1)
        );
        let second = db
            .claim_print_job(Duration::from_secs(600))
            .unwrap()
            .unwrap();
        assert_eq!(second.attempt, 2);
        // The held lease keeps a third worker out.
        assert!(
            db.claim_print_job(Duration::from_secs(600))
                .unwrap()
                .is_none()
        );
        // The first worker's result is fenced off.
        assert!(
            !db.complete_print_job(&first, &[], &|_| Ok(Vec::new()))
                .unwrap(),
            "{}",
            t.name
        );
        assert!(!db.fail_print_job(&first, "late", None, true).unwrap());
        // A failure with a retry keeps it pending, with the reason.
        assert!(
            db.fail_print_job(&second, "boom", Some(Duration::ZERO), true)
                .unwrap()
        );
        let files = db.print_files(&order.id).unwrap().unwrap();
        assert_eq!(files.state, FilesState::Pending);
        assert_eq!(files.error.as_deref(), Some("boom"));
        // A refusal for load gives the attempt back.
        let third = db
            .claim_print_job(Duration::from_secs(600))
            .unwrap()
            .unwrap();
        assert_eq!(third.attempt, 3);
        assert!(
            db.fail_print_job(&third, "busy", Some(Duration::ZERO), false)
                .unwrap()
        );
        let last = db
            .claim_print_job(Duration::from_secs(600))
            .unwrap()
            .unwrap();
        assert_eq!(last.attempt, MAX_PRINT_ATTEMPTS);
        assert!(db.fail_print_job(&last, "gave up", None, true).unwrap());
        let files = db.print_files(&order.id).unwrap().unwrap();
        assert_eq!(files.state, FilesState::Failed, "{}", t.name);
        assert_eq!(files.error.as_deref(), Some("gave up"));
        assert_eq!(files.attempts, MAX_PRINT_ATTEMPTS);
        assert_eq!(db.pending_print_jobs().unwrap(), 0);
        assert!(db.claim_print_job(Duration::ZERO).unwrap().is_none());
        // Orders without print areas have no row.
        let (plain, _) = db
            .create_order(common::db::new_order("job-b", "{}"))
            .unwrap();
        assert!(db.print_files(&plain.id).unwrap().is_none());
    }
}

#[actix_web::test]
async fn a_job_whose_attempts_never_finish_is_given_up() {
    for db in TestDb::all("a_job_whose_attempts_never_finish_is_given_up") {
        let name = db.name;
        let app = start(db, |s| s.print.workers = 0);
        let r = place(&app, "stuck-1", json!({"width_cm": 60, "height_cm": 30})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.json());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        // Three workers claimed it and stopped before reporting (their leases ran out).
        for _ in 0..MAX_PRINT_ATTEMPTS {
            assert!(app.db.claim_print_job(Duration::ZERO).unwrap().is_some());
        }
        // The next claim gives it up instead of rendering a fourth time.
        assert!(app.run_print_job().unwrap(), "{name}");
        let files = get(&app, &format!("/v1/orders/{id}/files")).await.json();
        assert_eq!(files["state"], "failed", "{name}: {files}");
        assert!(
            files["error"].as_str().unwrap().contains("gave up"),
            "{files}"
        );
        assert_eq!(files["files"], json!([]));
        let r = get(&app, &format!("/v1/orders/{id}/files/artwork.png")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Nothing is left to do; the order itself stands.
        assert!(!app.run_print_job().unwrap());
        let r = get(&app, &format!("/v1/orders/{id}")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
}
