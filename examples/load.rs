//! Load test: the real HTTP service in-process (actix, SQLite in a temp dir) driven by keep-alive
//! HTTP/1.1 client threads over loopback, beside two ceilings measured in the same run: an actix
//! handler returning fixed JSON and one returning static bytes.
//!
//! `cargo run --release --example load -- [--seconds 5] [--connections 8] [--workers 1]`
//! prints a Markdown table (requests/s, p50, p99) for BENCHMARKS.md; `--only-orders 1` runs the
//! order rows alone (the mock-up order, and orders with print-area files: made with the order,
//! or left to the print job, whose drain is timed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use bespoke::app::App;
use bespoke::config::Settings;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive connection: sends a request, reads one response (Content-Length bodies).
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(s),
        }
    }

    fn call(&mut self, req: &[u8]) -> u16 {
        self.reader.get_mut().write_all(req).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        status
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes()
}

fn post(path: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

struct Outcome {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `make(i)` requests from `conns` threads for `secs` seconds.
fn run(
    addr: SocketAddr,
    conns: u64,
    secs: u64,
    make: Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>,
    expect: u16,
) -> Outcome {
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let make = Arc::clone(&make);
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut c = Conn::new(addr);
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let req = make(counter.fetch_add(1, Ordering::Relaxed));
                    let t = Instant::now();
                    let status = c.call(&req);
                    lat.push(t.elapsed());
                    assert_eq!(status, expect, "unexpected status");
                }
                lat
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    let pct = |p: usize| all[(all.len() * p / 100).min(all.len() - 1)];
    Outcome {
        rps: all.len() as f64 / secs as f64,
        p50: pct(50),
        p99: pct(99),
    }
}

fn main() {
    let secs = arg("--seconds", 5);
    let conns = arg("--connections", 8);
    let workers = arg("--workers", 1) as usize;
    let tmp = std::env::temp_dir().join(format!("bespoke-load-{}", std::process::id()));
    let settings = Settings {
        catalog_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        database_url: format!("sqlite://{}", tmp.join("load.sqlite").display()),
        data_dir: tmp.join("data"),
        watch: false,
        ..Settings::default()
    };
    let app = web::Data::from(Arc::new(App::start(settings).unwrap()));

    // The preview a storefront shows, cached after the first request; the static ceiling
    // serves the same number of bytes.
    let snap = app.snapshot();
    let (tee, _) = snap.product("classic-tee").unwrap();
    let preview_path = format!(
        "/v1/products/classic-tee/preview?v={}&width=512&color=black&size=L",
        tee.version
    );
    let configure_body = r#"{"selection": {"fabric": "polyester", "size": "L"}}"#;
    let preview_len = {
        let (p, _) = snap.product("classic-tee").unwrap();
        let sel = bespoke::rules::Selection::parse(
            p,
            &[
                ("color".into(), "black".into()),
                ("size".into(), "L".into()),
            ],
        )
        .unwrap();
        snap.previewer
            .render(
                p,
                &sel,
                &bespoke::preview::RenderRequest {
                    width: 512,
                    format: bespoke::preview::render::ImageFormat::Png,
                },
            )
            .unwrap()
            .bytes
            .len()
    };
    // The static ceiling's body: as many bytes as the preview.
    let static_body = web::Data::new(vec![0u8; preview_len]);
    // A complete, valid order: the engine's completion of nothing.
    let (_, engine) = snap.product("classic-tee").unwrap();
    let full = engine.complete(&Default::default()).unwrap().unwrap();
    let full_sel = bespoke::rules::Selection {
        choices: engine
            .model
            .vars
            .iter()
            .zip(&full)
            .filter_map(|(var, &i)| var.value(i).map(|v| (var.opt, v)))
            .filter(|(o, _)| {
                !matches!(
                    engine.product.options[*o].kind,
                    bespoke::catalog::OptionKind::Text(_)
                )
            })
            .collect(),
    };
    let order_body = serde_json::json!({
        "product": "classic-tee",
        "selection": bespoke::app::values::Choices::of(&engine.product, &full_sel),
    })
    .to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let app2 = app.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                bespoke::http::build(app2.clone())
                    .app_data(static_body.clone())
                    .route(
                        "/ceiling/json",
                        web::get().to(|| async {
                            HttpResponse::Ok().json(serde_json::json!({
                                "product": "classic-tee", "consistent": true,
                                "options": {"size": {"available": ["S", "M", "L"]}}
                            }))
                        }),
                    )
                    .route(
                        "/ceiling/static",
                        web::get().to(|body: web::Data<Vec<u8>>| async move {
                            HttpResponse::Ok()
                                .content_type("image/png")
                                .body(body.get_ref().clone())
                        }),
                    )
            })
            .workers(workers)
            .bind("127.0.0.1:0")
            .unwrap();
            tx.send(server.addrs()[0]).unwrap();
            server.run().await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    let mut warm = Conn::new(addr);
    assert_eq!(warm.call(&get(&preview_path)), 200);
    println!(
        "load: {secs} s per row, {conns} connections, {workers} server worker(s), loopback, same process\n"
    );
    println!("| endpoint | requests/s | p50 | p99 | ratio to its ceiling |");
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, o: &Outcome, ceiling: Option<f64>| {
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            o.rps,
            o.p50.as_secs_f64() * 1e3,
            o.p99.as_secs_f64() * 1e3,
            ceiling.map_or("—".to_owned(), |c| format!("{:.2}", o.rps / c))
        );
    };
    if arg("--only-orders", 0) == 1 {
        print_orders(&app, addr, conns, secs, &order_body);
        let _ = std::fs::remove_dir_all(&tmp);
        std::process::exit(0);
    }
    let json_ceiling = run(addr, conns, secs, Arc::new(|_| get("/ceiling/json")), 200);
    row("ceiling: fixed JSON", &json_ceiling, None);
    let body = configure_body.to_owned();
    let configure = run(
        addr,
        conns,
        secs,
        Arc::new(move |_| post("/v1/products/classic-tee/configure", &body, "")),
        200,
    );
    row(
        "POST configure (classic-tee, 2 choices; repeated: cache hit)",
        &configure,
        Some(json_ceiling.rps),
    );
    let miss = run(
        addr,
        conns,
        secs,
        Arc::new(move |i| {
            let body = format!(
                r#"{{"selection": {{"fabric": "polyester", "size": "L", "front_text": "T{i}"}}}}"#
            );
            post("/v1/products/classic-tee/configure", &body, "")
        }),
        200,
    );
    row(
        "POST configure (3 choices, unique text each: cache miss)",
        &miss,
        Some(json_ceiling.rps),
    );
    let static_ceiling = run(addr, conns, secs, Arc::new(|_| get("/ceiling/static")), 200);
    row("ceiling: static bytes", &static_ceiling, None);
    let p = preview_path.clone();
    let preview = run(addr, conns, secs, Arc::new(move |_| get(&p)), 200);
    row(
        "GET preview (cached, 512 px PNG)",
        &preview,
        Some(static_ceiling.rps),
    );
    let order = run(
        addr,
        conns,
        secs,
        Arc::new(move |i| {
            post(
                "/v1/orders",
                &order_body,
                &format!("Idempotency-Key: load-{}-{i}\r\n", std::process::id()),
            )
        }),
        201,
    );
    row(
        "POST order (validate, price, print file, SQLite)",
        &order,
        None,
    );
    print_rows(&app, addr, conns, secs);
    let _ = std::fs::remove_dir_all(&tmp);
    std::process::exit(0);
}

fn print_row(name: &str, o: &Outcome) {
    println!(
        "| {name} | {:.0} | {:.2} ms | {:.2} ms | — |",
        o.rps,
        o.p50.as_secs_f64() * 1e3,
        o.p99.as_secs_f64() * 1e3,
    );
}

/// `--only-orders 1`: the order rows alone (the mock-up order, then the print-area rows).
fn print_orders(app: &web::Data<App>, addr: SocketAddr, conns: u64, secs: u64, body: &str) {
    let body = body.to_owned();
    let order = run(
        addr,
        conns,
        secs,
        Arc::new(move |i| {
            post(
                "/v1/orders",
                &body,
                &format!("Idempotency-Key: load-{}-{i}\r\n", std::process::id()),
            )
        }),
        201,
    );
    print_row(
        "POST order (classic-tee: validate, price, mock-up print file, SQLite)",
        &order,
    );
    print_rows(app, addr, conns, secs);
}

/// Orders of the framed print with print files: a small area made with the order, and a large
/// one left to the durable job (acknowledged at once; the job's drain is timed after).
fn print_rows(app: &web::Data<App>, addr: SocketAddr, conns: u64, secs: u64) {
    for (name, tag, w, h) in [
        (
            "POST order (framed-print 20 x 20 cm: 1.5 MP area PDF + PNG + SVG made with the order)",
            "s",
            20,
            20,
        ),
        (
            "POST order (framed-print 60 x 40 cm: 8.6 MP area left to the print job)",
            "l",
            60,
            40,
        ),
    ] {
        let before = app.db.pending_print_jobs().unwrap();
        let o = run(
            addr,
            conns,
            secs,
            Arc::new(move |i| {
                let body = format!(
                    r#"{{"product": "framed-print", "selection": {{"width_cm": {w}, "height_cm": {h}}}}}"#
                );
                post(
                    "/v1/orders",
                    &body,
                    &format!(
                        "Idempotency-Key: print-{tag}-{}-{i}\r\n",
                        std::process::id()
                    ),
                )
            }),
            201,
        );
        print_row(name, &o);
        let queued = app.db.pending_print_jobs().unwrap();
        if queued > before {
            // The job's rate: how many orders' files it completes in a window (`--drain-seconds`,
            // default 20) after the row, with nothing else running.
            let window = Duration::from_secs(arg("--drain-seconds", 20));
            std::thread::sleep(window);
            let left = app.db.pending_print_jobs().unwrap();
            let done = queued - left;
            println!(
                "| print job, {} s after the row ({queued} orders pending): files of {done} orders made | {:.2} orders/s | — | — | — |",
                window.as_secs(),
                done as f64 / window.as_secs_f64()
            );
        }
    }
}
