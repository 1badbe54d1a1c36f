//! Webhook delivery latency: the app in-process (sample catalog, SQLite in a temp dir or a fresh
//! schema on PostgreSQL) places orders and moves each through accepted → in_production → shipped
//! (four events per order, delivered in order), while a keep-alive HTTP/1.1 receiver on loopback
//! notes when each event arrives. Latency is receipt time minus the event's `created_at`, which
//! is taken inside the change's transaction just before it commits: commit to receipt, plus the
//! commit itself.
//!
//! `cargo run --example webhook_latency -- [--orders 200] [--producers 2] [--workers 4]
//! [--database-url postgres://…]` prints a Markdown row (events, p50, p90, p99, max, events/s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bespoke::app::App;
use bespoke::app::orders::{OrderSource, PlaceOrder};
use bespoke::app::values::Choices;
use bespoke::app::webhooks::RegisterWebhook;
use bespoke::config::{Settings, WarmUp};
use bespoke::orders::Status;
use diesel::{Connection, PgConnection, RunQueryDsl};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_micros() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// Unix microseconds of an RFC 3339 UTC time as the server writes it
/// (`2026-12-07T10:43:27.156149Z`).
fn rfc3339_micros(s: &str) -> i64 {
    let n = |a: usize, b: usize| -> i64 { s[a..b].parse().unwrap() };
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (hh, mm, ss) = (n(11, 13), n(14, 16), n(17, 19));
    let frac = s[19..].trim_start_matches('.').trim_end_matches('Z');
    let micros: i64 = format!("{frac:0<6}")[..6].parse().unwrap_or(0);
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hh) * 60 + mm) * 60_000_000 + ss * 1_000_000 + micros
}

/// Latencies (µs) of the events received so far, by event id.
type Received = Arc<Mutex<HashMap<String, i64>>>;

fn receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Received = Arc::default();
    let record = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || {
                stream.set_nodelay(true).unwrap();
                let mut out = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    let at = now_micros();
                    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let created = rfc3339_micros(event["created_at"].as_str().unwrap());
                    record
                        .lock()
                        .unwrap()
                        .insert(event["id"].as_str().unwrap().to_owned(), at - created);
                    if out
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, got)
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let orders = num("--orders", 200);
    let producers = num("--producers", 2).max(1);
    let workers = num("--workers", 4);
    let dir = std::env::temp_dir().join(format!("bespoke_hook_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // PostgreSQL: a fresh schema, dropped at the end.
    let (database_url, pg) = match arg("--database-url") {
        Some(base) if base.starts_with("postgres") => {
            let schema = format!("hook_bench_{}", std::process::id());
            let mut c = PgConnection::establish(&base).unwrap();
            diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                .execute(&mut c)
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            (
                format!("{base}{sep}options=-csearch_path%3D{schema}"),
                Some((base, schema)),
            )
        }
        Some(other) => (other, None),
        None => (format!("sqlite://{}", dir.join("bench.db").display()), None),
    };
    let mut settings = Settings {
        catalog_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        database_url: database_url.clone(),
        data_dir: dir.join("data"),
        watch: false,
        ..Settings::default()
    };
    settings.warm_up.level = WarmUp::Off;
    settings.warm_up.persist = false;
    settings.webhooks.allow_private = true;
    settings.webhooks.workers = workers;
    let app = Arc::new(App::start(settings).unwrap());
    let (url, got) = receiver();
    app.register_webhook(RegisterWebhook {
        url,
        events: vec!["order.created".into(), "order.status_changed".into()],
        secret: "bench-secret-0123456789".into(),
    })
    .unwrap();

    let choices: Choices = serde_json::from_str("{}").unwrap();
    let start = Instant::now();
    let threads: Vec<_> = (0..producers)
        .map(|p| {
            let app = Arc::clone(&app);
            let choices = choices.clone();
            std::thread::spawn(move || {
                for i in (p..orders).step_by(producers) {
                    let (order, _) = app
                        .place_order(PlaceOrder {
                            idempotency_key: format!("bench-{i}"),
                            source: OrderSource::Selection {
                                product: "classic-tee".into(),
                                choices: choices.clone(),
                                quantity: None,
                                version: None,
                            },
                            customer_ref: None,
                            metadata: serde_json::Map::new(),
                        })
                        .unwrap();
                    for (v, to) in [Status::Accepted, Status::InProduction, Status::Shipped]
                        .into_iter()
                        .enumerate()
                    {
                        app.transition(&order.id, to, v as i64 + 1, None).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let produced = start.elapsed();
    let expected = orders * 4;
    let deadline = Instant::now() + Duration::from_secs(120);
    while got.lock().unwrap().len() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let total = start.elapsed();
    let mut lat: Vec<i64> = got.lock().unwrap().values().copied().collect();
    lat.sort_unstable();
    assert_eq!(lat.len(), expected, "every event delivered once");
    println!(
        "| backend | events | producers | workers | p50 ms | p90 ms | p99 ms | max ms | events/s produced |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
        app.db.backend(),
        expected,
        producers,
        workers,
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        expected as f64 / produced.as_secs_f64(),
    );
    eprintln!(
        "produced in {:.1} s, all received after {:.1} s",
        produced.as_secs_f64(),
        total.as_secs_f64()
    );
    drop(app);
    if let Some((base, schema)) = pg
        && let Ok(mut c) = PgConnection::establish(&base)
    {
        let _ = diesel::sql_query(format!("DROP SCHEMA {schema} CASCADE")).execute(&mut c);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
