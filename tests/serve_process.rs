//! `bespoke serve` as a process: settings from the environment, readiness, a graceful shutdown that finishes an in-flight order, and a kill -9 between an order's commit and its webhook delivery that loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 exchange with `Connection: close`; returns the status and the body.
fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|x| x.1.to_owned())?;
    Some((status, body))
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    )
}

struct Server {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
    /// Leave the directory (database, data) for another server to start on.
    keep_dir: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn start(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("bespoke-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    start_in(dir, &[])
}

/// A server on the database and data in `dir`, with more environment.
fn start_in(dir: std::path::PathBuf, env: &[(&str, String)]) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_bespoke"))
        .arg("serve")
        .arg("--no-watch")
        .env("BESPOKE_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("db.sqlite").display()),
        )
        .env("BESPOKE_CATALOG", common::repo())
        .env("BESPOKE_DATA_DIR", dir.join("data"))
        .env("BESPOKE_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        dir,
        keep_dir: false,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((200, _)) = get(port, "/readyz") {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not become ready");
}

#[test]
fn serves_the_sample_catalog_from_environment_settings() {
    let s = start("env");
    let (status, body) = get(s.port, "/v1/products").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("classic-tee"), "{body}");
    let (status, body) = get(s.port, "/readyz").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("sqlite"), "{body}");
    assert!(
        s.dir.join("db.sqlite").exists(),
        "the database is where DATABASE_URL says"
    );
}

#[test]
fn sigterm_lets_an_in_flight_order_finish() {
    let mut s = start("shutdown");
    let port = s.port;
    // A valid order: the engine's completion of the tee, without its text options.
    let body = r#"{"product": "classic-tee", "selection": {"size": "M", "color": "white", "fabric": "cotton", "sleeve_print": false, "ink": "black", "print_position": "center-chest", "quantity": 1}}"#;
    let request = format!(
        "POST /v1/orders HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nIdempotency-Key: shutdown-1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let client = std::thread::spawn(move || http(port, &request));
    std::thread::sleep(Duration::from_millis(30));
    let pid = s.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let (status, answer) = client.join().unwrap().expect("an answer, not a reset");
    assert_eq!(status, 201, "the in-flight order was answered: {answer}");
    let deadline = Instant::now() + Duration::from_secs(40);
    let exit = loop {
        if let Some(code) = s.child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    // The order it acknowledged is durable: a new server on the same database has it.
    {
        let id = answer
            .split("\"id\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_owned();
        let db =
            bespoke::db::Db::connect(&format!("sqlite://{}", s.dir.join("db.sqlite").display()))
                .unwrap();
        assert_eq!(db.get_order(&id).unwrap().id, id);
    }
}

/// `POST path` with a JSON body and extra headers; returns the status and the body.
fn post(port: u16, path: &str, headers: &str, body: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
             Content-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn a_kill_9_between_commit_and_delivery_loses_no_event() {
    // A receiver that records each request's body and answers 200.
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", receiver.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for stream in receiver.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let body = loop {
                let Ok(n) = stream.read(&mut chunk) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Some(body) = body {
                let _ = tx.send(body);
            }
        }
    });

    let dir = std::env::temp_dir().join(format!("bespoke-serve-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.yaml");
    std::fs::write(
        &keys,
        format!(
            "keys:\n  - name: ops\n    sha256: {}\n    scopes: [admin]\n",
            bespoke::config::ApiKey::hash("ops-secret")
        ),
    )
    .unwrap();
    let env = |workers: &str| {
        vec![
            ("BESPOKE_API_KEYS", keys.display().to_string()),
            ("BESPOKE_WEBHOOK_ALLOW_PRIVATE", "1".to_owned()),
            ("BESPOKE_WEBHOOK_WORKERS", workers.to_owned()),
            ("BESPOKE_WARM_UP", "off".to_owned()),
        ]
    };
    // An instance that delivers nothing: the event stays in the outbox when it dies.
    let mut first = start_in(dir.clone(), &env("0"));
    first.keep_dir = true;
    let (status, body) = post(
        first.port,
        "/v1/admin/webhooks",
        "Authorization: Bearer ops-secret\r\n",
        &format!(
            r#"{{"url": "{hook_url}", "events": ["order.created"], "secret": "0123456789abcdef"}}"#
        ),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        first.port,
        "/v1/orders",
        "Idempotency-Key: kill-9\r\n",
        r#"{"product": "classic-tee", "selection": {}}"#,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let order: serde_json::Value = serde_json::from_str(&body).unwrap();
    // SIGKILL: no shutdown, no flush beyond what was committed.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(first);
    assert!(
        rx.try_recv().is_err(),
        "nothing was delivered before the kill"
    );

    let second = start_in(dir, &env("4"));
    let delivered = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the event is delivered after the restart");
    let event: serde_json::Value = serde_json::from_str(&delivered).unwrap();
    assert_eq!(event["type"], "order.created");
    assert_eq!(event["data"]["order"]["id"], order["id"]);
    drop(second);
}
