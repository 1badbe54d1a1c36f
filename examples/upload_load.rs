//! Upload load tool: sends N parallel `POST /v1/uploads` of one small-file, large-dimension PNG to a running server (each decodes to ~170 MB) and retries the ones answered 503 after `Retry-After`; prints what each attempt got. Measure the server's peak RSS around it (BENCHMARKS.md).
//!
//! `cargo run --example upload_load -- [--addr 127.0.0.1:18080] [--parallel 16] [--side 4096] [--png out.png]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A `side`×`side` RGB PNG that compresses to about 120 KB at 4096 (a coarse pattern, best compression).
fn image(side: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        let cell = (((x / 6) ^ (y / 5)) & 0xff) as u8;
        image::Rgb([cell, cell.wrapping_mul(3), 200])
    });
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    );
    img.write_with_encoder(encoder).unwrap();
    out
}

/// One upload on its own connection: (status, Retry-After seconds).
fn post(addr: &str, body: &[u8]) -> (u16, Option<u64>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(
        s,
        "POST /v1/uploads HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let retry = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("retry-after:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok());
    (status, retry)
}

fn main() {
    let addr = arg("--addr").unwrap_or_else(|| "127.0.0.1:18080".into());
    let parallel: usize = arg("--parallel").and_then(|v| v.parse().ok()).unwrap_or(16);
    let side: u32 = arg("--side").and_then(|v| v.parse().ok()).unwrap_or(4096);
    let png = image(side);
    if let Some(path) = arg("--png") {
        std::fs::write(path, &png).unwrap();
    }
    println!("image: {side}x{side} PNG, {} bytes", png.len());
    let started = Instant::now();
    let threads: Vec<_> = (0..parallel)
        .map(|_| {
            let (addr, png) = (addr.clone(), png.clone());
            std::thread::spawn(move || {
                let mut attempts = Vec::new();
                loop {
                    let (status, retry) = post(&addr, &png);
                    attempts.push(status);
                    if status != 503 {
                        return attempts;
                    }
                    std::thread::sleep(Duration::from_secs(retry.unwrap_or(1)));
                }
            })
        })
        .collect();
    let mut refused = 0;
    let mut created = 0;
    for t in threads {
        let attempts = t.join().unwrap();
        refused += attempts.iter().filter(|s| **s == 503).count();
        created += usize::from(attempts.last() == Some(&201));
        println!("{attempts:?}");
    }
    println!(
        "{created}/{parallel} created, {refused} answers 503 (retried), {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
