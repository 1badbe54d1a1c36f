//! Webhooks over HTTP, against a local receiver: registration checks (private targets refused
//! unless allowed, bad URLs, unknown events, secrets), list and delete, signed bodies of the
//! documented shape, retries after a 500 with the delivery log showing each attempt, one order's
//! events in order, redelivery after a restart and after a worker died holding a claim, and —
//! on PostgreSQL — two instances delivering each event exactly once between them; https
//! endpoints reached over TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{test, web};
use bespoke::app::App;
use bespoke::config::{Settings, WarmUp};
use common::db::TestDb;
use common::http::{ADMIN, FEED, TestApp, send};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "whsec_0123456789abcdef";
/// How long a test waits for deliveries before failing (generous: debug builds, shared CPUs).
const DEADLINE: Duration = Duration::from_secs(60);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    status: u16,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local HTTP endpoint that records every request and answers 500 to the first `fail_first`.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        Receiver::start_failing(fail_first, None)
    }

    /// The same, also answering 500 to every event of type `fail_type`.
    fn start_failing(fail_first: usize, fail_type: Option<&'static str>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failures = Arc::new(AtomicUsize::new(fail_first));
        let record = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = Arc::clone(&record);
                let failures = Arc::clone(&failures);
                std::thread::spawn(move || serve(stream, &record, &failures, fail_type));
            }
        });
        Receiver { addr, got }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/bespoke", self.addr)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// Answers requests on one connection until it closes.
fn serve(
    stream: std::net::TcpStream,
    got: &Mutex<Vec<Received>>,
    failures: &AtomicUsize,
    fail_type: Option<&str>,
) {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let of_failing_type = fail_type
            .is_some_and(|t| serde_json::from_slice::<Value>(&body).is_ok_and(|b| b["type"] == t));
        let fail = of_failing_type
            || failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let status = if fail { 500 } else { 200 };
        got.lock().unwrap().push(Received {
            headers,
            body,
            status,
        });
        let reason = if fail { "Internal Server Error" } else { "OK" };
        let answer = format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\n\r\nok");
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Test settings for webhooks: private targets allowed, quick polling and retries.
fn fast(s: &mut Settings) {
    s.warm_up.level = WarmUp::Off;
    s.webhooks.allow_private = true;
    s.webhooks.poll = Duration::from_millis(50);
    s.webhooks.lease = Duration::from_secs(10);
    s.webhooks.timeout = Duration::from_secs(5);
    s.webhooks.retry.base = Duration::from_millis(100);
    s.webhooks.retry.cap = Duration::from_millis(400);
}

fn admin() -> (&'static str, String) {
    ("authorization", format!("Bearer {ADMIN}"))
}

async fn register(app: &web::Data<App>, body: Value) -> common::http::Res {
    send(
        app,
        test::TestRequest::post()
            .uri("/v1/admin/webhooks")
            .insert_header(admin())
            .set_json(body),
    )
    .await
}

async fn register_ok(app: &web::Data<App>, url: &str, events: &[&str]) -> String {
    let r = register(app, json!({"url": url, "events": events, "secret": SECRET})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn deliveries(app: &web::Data<App>, hook: &str) -> Value {
    let r = send(
        app,
        test::TestRequest::get()
            .uri(&format!("/v1/admin/webhooks/{hook}/deliveries?limit=200"))
            .insert_header(admin()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    r.json()
}

/// Polls the delivery log until `done` holds of it, or fails at the deadline.
async fn wait_for(app: &web::Data<App>, hook: &str, what: &str, done: impl Fn(&Value) -> bool) {
    let start = Instant::now();
    loop {
        let log = deliveries(app, hook).await;
        if done(&log) {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {what}: {log:#}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn delivered(log: &Value, n: usize) -> bool {
    let items = log["items"].as_array().unwrap();
    items.len() == n && items.iter().all(|d| d["state"] == "delivered")
}

/// A complete, valid selection of a product: the engine's completion of nothing.
async fn valid_selection(app: &web::Data<App>, product: &str) -> Value {
    let r = send(
        app,
        test::TestRequest::post()
            .uri(&format!("/v1/products/{product}/configure"))
            .set_json(json!({"selection": {}})),
    )
    .await;
    r.json()["completion"]["selection"].clone()
}

async fn place_order(app: &web::Data<App>, key: &str, selection: &Value) -> String {
    let r = send(
        app,
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("idempotency-key", key))
            .set_json(json!({"product": "classic-tee", "selection": selection})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// Checks `Bespoke-Signature: t=…,v1=…` against the body with the secret, as a receiver does.
fn verify(r: &Received, secret: &str) {
    let header = r.header("bespoke-signature").expect("a signature header");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (t, v1) = (t.unwrap(), v1.unwrap());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&r.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        v1,
        expected,
        "signature of {}",
        String::from_utf8_lossy(&r.body)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t: u64 = t.parse().unwrap();
    assert!(now.abs_diff(t) < 300, "a fresh timestamp: {t} vs {now}");
}

/// Checks a webhook body against the `WebhookEvent` schema of the served OpenAPI document.
fn conforms(body: &Value) {
    let doc = serde_json::to_value(<bespoke::http::openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .unwrap();
    let schema = json!({
        "$ref": "#/components/schemas/WebhookEvent",
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{body:#}");
}

#[actix_web::test]
async fn registration_is_checked_listed_and_deleted() {
    for db in TestDb::all("registration_is_checked_listed_and_deleted") {
        // By default, private targets are refused.
        let strict = TestApp::start_in(db, &common::repo(), |s| {
            s.warm_up.level = WarmUp::Off;
        });
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://10.0.0.7/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:9/hook",
            "http://[::ffff:192.168.1.1]/hook",
            "http://[fd00::1]/hook",
        ] {
            let r = register(
                &strict,
                json!({"url": url, "events": ["order.created"], "secret": SECRET}),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
            assert_eq!(
                r.json()["type"],
                "/problems/private-webhook-address",
                "{url}"
            );
        }
        let TestApp(strict, db) = strict;
        drop(strict);

        let app = TestApp::start_in(db, &common::repo(), fast);
        let url = "http://127.0.0.1:9/hook";
        let cases = [
            (
                json!({"url": "ftp://example.com/x", "events": ["order.created"], "secret": SECRET}),
                "/problems/invalid-webhook-url",
            ),
            (
                json!({"url": "not a url", "events": ["order.created"], "secret": SECRET}),
                "/problems/invalid-webhook-url",
            ),
            (
                json!({"url": format!("http://example.com/{}", "a".repeat(2100)), "events": ["order.created"], "secret": SECRET}),
                "/problems/invalid-webhook-url",
            ),
            (
                json!({"url": url, "events": ["order.deleted"], "secret": SECRET}),
                "/problems/unknown-event",
            ),
            (
                json!({"url": url, "events": [], "secret": SECRET}),
                "/problems/webhook-events",
            ),
            (
                json!({"url": url, "events": vec!["order.created"; 17], "secret": SECRET}),
                "/problems/webhook-events",
            ),
            (
                json!({"url": url, "events": ["order.created"], "secret": "short"}),
                "/problems/webhook-secret",
            ),
            (
                json!({"url": url, "events": ["order.created"], "secret": "s".repeat(257)}),
                "/problems/webhook-secret",
            ),
        ];
        for (body, kind) in cases {
            let r = register(&app, body.clone()).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(r.content_type(), "application/problem+json");
            assert_eq!(r.json()["type"], kind, "{body}: {}", r.json());
        }
        let r = register(
            &app,
            json!({"url": url, "events": ["order.created"], "secret": SECRET, "extra": 1}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/admin/webhooks")
                .set_json(json!({"url": url, "events": ["order.created"], "secret": SECRET})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/admin/webhooks")
                .insert_header(("authorization", format!("Bearer {FEED}"))),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // Registered, listed (without the secret), deleted.
        let r = register(
            &app,
            json!({"url": url, "events": ["order.created", "design.created", "order.created"], "secret": SECRET}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        let hook = r.json();
        let id = hook["id"].as_str().unwrap().to_owned();
        assert_eq!(hook["events"], json!(["order.created", "design.created"]));
        assert_eq!(hook["secret_hint"], "…cdef");
        assert!(hook.get("secret").is_none());
        assert_eq!(
            r.header("location").unwrap(),
            format!("/v1/admin/webhooks/{id}")
        );
        let list = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/admin/webhooks")
                .insert_header(admin()),
        )
        .await;
        assert_eq!(list.status, StatusCode::OK);
        assert_eq!(list.json()["items"], json!([hook]));
        assert!(!String::from_utf8_lossy(&list.body).contains(SECRET));
        assert_eq!(deliveries(&app, &id).await["items"], json!([]));
        let del = || {
            test::TestRequest::delete()
                .uri(&format!("/v1/admin/webhooks/{id}"))
                .insert_header(admin())
        };
        assert_eq!(send(&app, del()).await.status, StatusCode::NO_CONTENT);
        let again = send(&app, del()).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert_eq!(again.json()["type"], "/problems/webhook-not-found");
        let list = send(
            &app,
            test::TestRequest::get()
                .uri("/v1/admin/webhooks")
                .insert_header(admin()),
        )
        .await;
        assert_eq!(list.json()["items"], json!([]));
        let r = send(
            &app,
            test::TestRequest::get()
                .uri(&format!("/v1/admin/webhooks/{id}/deliveries"))
                .insert_header(admin()),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(
            &app,
            test::TestRequest::get()
                .uri(&format!("/v1/admin/webhooks/{id}/deliveries?limit=0"))
                .insert_header(admin()),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

#[actix_web::test]
async fn deliveries_are_signed_retried_logged_and_in_order() {
    for db in TestDb::all("deliveries_are_signed_retried_logged_and_in_order") {
        // The first two requests get a 500.
        let receiver = Receiver::start(2);
        let app = TestApp::start_in(db, &common::repo(), fast);
        let hook = register_ok(
            &app,
            &receiver.url(),
            &[
                "order.created",
                "order.status_changed",
                "design.created",
                "order.files_ready",
            ],
        )
        .await;
        let other = Receiver::start(0);
        let designs_only = register_ok(&app, &other.url(), &["design.created"]).await;

        let selection = valid_selection(&app, "classic-tee").await;
        let order = place_order(&app, "hook-1", &selection).await;
        // Accepted at once: its event must wait for order.created to get through.
        let r = send(
            &app,
            test::TestRequest::post()
                .uri(&format!("/v1/orders/{order}/status"))
                .insert_header(admin())
                .insert_header(("if-match", "\"1\""))
                .set_json(json!({"to": "accepted"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json());
        wait_for(&app, &hook, "both order events", |log| delivered(log, 2)).await;

        let got = receiver.got();
        let kinds: Vec<String> = got
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            kinds,
            [
                "order.created",
                "order.created",
                "order.created",
                "order.status_changed"
            ],
            "retried until a 2xx, and the status change only after the creation"
        );
        assert_eq!(
            got.iter().map(|r| r.status).collect::<Vec<_>>(),
            [500, 500, 200, 200]
        );
        for r in &got {
            verify(r, SECRET);
            conforms(&r.json());
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.header("bespoke-event-id"), r.json()["id"].as_str());
        }
        // Every attempt sends the same event, byte for byte.
        assert_eq!(got[0].body, got[2].body);
        let created = got[2].json();
        assert_eq!(created["data"]["order"]["id"], order.as_str());
        assert_eq!(created["data"]["order"]["status"], "submitted");
        let changed = got[3].json();
        assert_eq!(changed["data"]["order"]["status"], "accepted");
        assert_eq!(changed["data"]["order"]["version"], 2);
        assert_eq!(changed["data"]["previous_status"], "submitted");

        // The delivery log: newest first, every attempt with its status.
        let log = deliveries(&app, &hook).await;
        let items = log["items"].as_array().unwrap();
        assert_eq!(items[1]["event_type"], "order.created");
        assert_eq!(items[1]["event_id"], created["id"]);
        assert_eq!(items[1]["subject"], format!("order:{order}"));
        let statuses: Vec<&Value> = items[1]["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["status_code"])
            .collect();
        assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
        assert_eq!(items[1]["attempts"][0]["error"], "HTTP 500");
        assert!(items[1]["attempts"][2]["error"].is_null());
        assert!(items[1]["next_attempt_at"].is_null());
        assert!(items[1]["finished_at"].is_string());
        assert_eq!(items[0]["event_type"], "order.status_changed");
        assert_eq!(items[0]["attempts"].as_array().unwrap().len(), 1);

        // A replayed order writes no event; a design reaches both subscribers.
        let replay = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/orders")
                .insert_header(("idempotency-key", "hook-1"))
                .set_json(json!({"product": "classic-tee", "selection": selection})),
        )
        .await;
        assert_eq!(replay.status, StatusCode::OK);
        let r = send(
            &app,
            test::TestRequest::post()
                .uri("/v1/designs")
                .set_json(json!({"product": "classic-tee", "selection": selection})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        let design = r.json()["id"].as_str().unwrap().to_owned();
        wait_for(&app, &hook, "the design event", |log| delivered(log, 3)).await;
        wait_for(&app, &designs_only, "the design event", |log| {
            delivered(log, 1)
        })
        .await;
        let body = other.got()[0].json();
        assert_eq!(body["type"], "design.created");
        assert_eq!(body["data"]["design"]["id"], design.as_str());
        verify(&other.got()[0], SECRET);
        conforms(&body);
        assert_eq!(
            other.got().len(),
            1,
            "only design events go to a design-only webhook"
        );

        // order.files_ready, as the print-file pipeline writes it.
        let stored = app.db.get_order(&order).unwrap();
        let event =
            bespoke::app::webhooks::order_files_ready(&stored, app.order_uploads(&stored), None)
                .unwrap();
        assert_eq!(app.db.enqueue_events(&[event]).unwrap(), 1);
        app.outbox.wake();
        wait_for(&app, &hook, "the files event", |log| delivered(log, 4)).await;
        let last = receiver.got().last().unwrap().json();
        assert_eq!(last["type"], "order.files_ready");
        assert_eq!(last["data"]["order"]["id"], order.as_str());
        conforms(&last);

        // Retention: finished events go with their log.
        let later = bespoke::orders::Timestamp::from_unix_micros(i64::MAX);
        assert_eq!(app.db.purge_webhook_events(later).unwrap(), 4);
        assert_eq!(deliveries(&app, &hook).await["items"], json!([]));
    }
}

#[actix_web::test]
async fn an_event_committed_before_a_crash_is_delivered_after_restart() {
    for db in TestDb::all("an_event_committed_before_a_crash_is_delivered_after_restart") {
        let receiver = Receiver::start(0);
        // An instance that stops (as if killed) before delivering anything.
        let first = TestApp::start_in(db, &common::repo(), |s| {
            fast(s);
            s.webhooks.workers = 0;
        });
        let hook = register_ok(&first, &receiver.url(), &["order.created"]).await;
        let selection = valid_selection(&first, "classic-tee").await;
        let one = place_order(&first, "crash-1", &selection).await;
        let two = place_order(&first, "crash-2", &selection).await;
        let log = deliveries(&first, &hook).await;
        assert_eq!(log["items"][0]["state"], "pending");
        assert_eq!(log["items"][0]["attempts"], json!([]));
        let TestApp(first, db) = first;
        drop(first);
        // Another worker claimed one of the events and died before recording anything.
        let claimed = db
            .open()
            .claim_deliveries("a-worker-that-died", Duration::from_millis(300), 1)
            .unwrap();
        assert_eq!(claimed.len(), 1);
        // Pending events are never purged.
        let later = bespoke::orders::Timestamp::from_unix_micros(i64::MAX);
        assert_eq!(db.open().purge_webhook_events(later).unwrap(), 0);
        assert!(receiver.got().is_empty());

        let second = TestApp::start_in(db, &common::repo(), fast);
        wait_for(&second, &hook, "both events after the restart", |log| {
            delivered(log, 2)
        })
        .await;
        let ids: BTreeSet<String> = receiver
            .got()
            .iter()
            .map(|r| r.json()["data"]["order"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, BTreeSet::from([one, two]));
        assert_eq!(receiver.got().len(), 2);
    }
}

#[actix_web::test]
async fn two_instances_deliver_each_event_once_on_postgres() {
    let Some(db) = TestDb::postgres("two_instances_deliver_each_event_once_on_postgres") else {
        return;
    };
    const N: usize = 24;
    let receiver = Receiver::start(0);
    let a = TestApp::start_in(db, &common::repo(), fast);
    let mut settings = common::http::settings(&common::repo(), &a.1);
    fast(&mut settings);
    let b = web::Data::new(App::start(settings).unwrap());
    let hook = register_ok(
        &a,
        &receiver.url(),
        &["order.created", "order.status_changed"],
    )
    .await;
    let selection = valid_selection(&a, "classic-tee").await;
    for i in 0..N {
        let app = if i % 2 == 0 { &*a } else { &b };
        let order = place_order(app, &format!("pair-{i}"), &selection).await;
        let r = send(
            app,
            test::TestRequest::post()
                .uri(&format!("/v1/orders/{order}/status"))
                .insert_header(admin())
                .insert_header(("if-match", "\"1\""))
                .set_json(json!({"to": "accepted"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    wait_for(&b, &hook, "every event", |log| delivered(log, 2 * N)).await;
    let log = deliveries(&a, &hook).await;
    for d in log["items"].as_array().unwrap() {
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1, "{d}");
    }
    let got = receiver.got();
    let ids: BTreeSet<String> = got
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got.len(), 2 * N, "no event delivered twice");
    assert_eq!(ids.len(), 2 * N);
    // Per order, the creation arrived before the status change.
    let mut seen_created = BTreeSet::new();
    for r in &got {
        let body = r.json();
        let order = body["data"]["order"]["id"].as_str().unwrap().to_owned();
        if body["type"] == "order.created" {
            seen_created.insert(order);
        } else {
            assert!(
                seen_created.contains(&order),
                "status change before creation of {order}"
            );
        }
    }
}

#[cfg(feature = "webhook-tls")]
#[actix_web::test]
async fn https_endpoints_are_reached_over_tls() {
    // A listener that closes every connection: the attempt fails in the TLS handshake, which
    // shows the client speaks TLS (a build without it fails before connecting).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let app = TestApp::start(&common::repo(), fast);
    let hook = register_ok(&app, &format!("https://{addr}/hook"), &["design.created"]).await;
    let selection = valid_selection(&app, "classic-tee").await;
    let r = send(
        &app,
        test::TestRequest::post()
            .uri("/v1/designs")
            .set_json(json!({"product": "classic-tee", "selection": selection})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    wait_for(&app, &hook, "a failed attempt", |log| {
        log["items"][0]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let log = deliveries(&app, &hook).await;
    let attempt = &log["items"][0]["attempts"][0];
    assert!(attempt["status_code"].is_null(), "{attempt}");
    let error = attempt["error"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        !error.contains("tls required") && !error.contains("no tls"),
        "{error}"
    );
    assert_eq!(log["items"][0]["state"], "pending", "retried later");
}

#[actix_web::test]
async fn a_delivery_given_up_is_failed_and_releases_the_next_event() {
    for db in TestDb::all("a_delivery_given_up_is_failed_and_releases_the_next_event") {
        let receiver = Receiver::start_failing(0, Some("order.created"));
        let app = TestApp::start_in(db, &common::repo(), |s| {
            fast(s);
            s.webhooks.retry.give_up_after = Duration::from_millis(700);
        });
        let hook = register_ok(
            &app,
            &receiver.url(),
            &["order.created", "order.status_changed"],
        )
        .await;
        let selection = valid_selection(&app, "classic-tee").await;
        let order = place_order(&app, "give-up-1", &selection).await;
        let r = send(
            &app,
            test::TestRequest::post()
                .uri(&format!("/v1/orders/{order}/status"))
                .insert_header(admin())
                .insert_header(("if-match", "\"1\""))
                .set_json(json!({"to": "accepted"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        wait_for(
            &app,
            &hook,
            "the creation given up, the change delivered",
            |log| {
                let items = log["items"].as_array().unwrap();
                items.len() == 2
                    && items[0]["state"] == "delivered"
                    && items[1]["state"] == "failed"
            },
        )
        .await;
        let log = deliveries(&app, &hook).await;
        let failed = &log["items"][1];
        assert_eq!(failed["event_type"], "order.created");
        assert!(failed["finished_at"].is_string());
        assert!(failed["next_attempt_at"].is_null());
        let attempts = failed["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 2, "retried before giving up: {failed}");
        assert!(attempts.iter().all(|a| a["status_code"] == 500));
        // The status change went out only once the creation was given up.
        let kinds: Vec<Value> = receiver
            .got()
            .iter()
            .map(|r| r.json()["type"].clone())
            .collect();
        assert_eq!(kinds.last(), Some(&json!("order.status_changed")));
        assert_eq!(
            kinds.iter().filter(|k| *k == "order.created").count(),
            attempts.len()
        );
    }
}

#[actix_web::test]
async fn a_private_target_is_refused_again_when_connecting() {
    // Registered while private targets were allowed; delivered by an instance that refuses them.
    let receiver = Receiver::start(0);
    let lax = TestApp::start(&common::repo(), |s| {
        fast(s);
        s.webhooks.workers = 0;
    });
    let hook = register_ok(&lax, &receiver.url(), &["design.created"]).await;
    let TestApp(lax, db) = lax;
    drop(lax);
    let strict = TestApp::start_in(db, &common::repo(), |s| {
        fast(s);
        s.webhooks.allow_private = false;
    });
    let selection = valid_selection(&strict, "classic-tee").await;
    let r = send(
        &strict,
        test::TestRequest::post()
            .uri("/v1/designs")
            .set_json(json!({"product": "classic-tee", "selection": selection})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    wait_for(&strict, &hook, "a refused attempt", |log| {
        log["items"][0]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let log = deliveries(&strict, &hook).await;
    let error = log["items"][0]["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("non-public address"), "{error}");
    assert!(
        receiver.got().is_empty(),
        "nothing reached the private address"
    );
}
