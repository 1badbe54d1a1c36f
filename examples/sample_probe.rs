//! Sample probe: propagate latency on one sample product, replayed and first-time over many freshly warmed engines (for profiling; the benchmarks are in benches/).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bespoke::catalog;
use bespoke::rules::{Engine, Warmth};

/// `cargo run --release --example sample_probe -- [PRODUCT] [ROUNDS]`: the benchmark's click
/// paths (seed 7) replayed ROUNDS times, then first-time click paths (20 paths of 6 steps) on
/// ROUNDS/10 engines, each warmed as the service warms a catalog version (`Pairs`, the
/// service's default).
fn main() {
    let id = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "engraved-bottle".into());
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cat = catalog::load_dir(&root).unwrap().catalog.unwrap();
    let p = cat.product(&id).expect("no such product").clone();
    let e = Engine::new(p.clone());
    e.warm(Warmth::Pairs, &|| false);
    let sels = bespoke::rules::generate::click_paths(&e, 7, 20, 6);
    let t = Instant::now();
    for _ in 0..rounds {
        for s in &sels {
            let _ = e.propagate(s);
        }
    }
    println!(
        "replay: mean {:?} over {} calls",
        t.elapsed() / u32::try_from(rounds * sels.len()).unwrap_or(u32::MAX),
        rounds * sels.len()
    );
    // `PATHS=n`: first-time paths per engine (default 20; more for a profile of those calls).
    let paths: usize = std::env::var("PATHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut d = Vec::new();
    for seed in 100..100 + (rounds as u64 / 10).max(1) {
        let e = Engine::new(p.clone());
        e.warm(Warmth::Pairs, &|| false);
        d.extend(bespoke::rules::generate::click_path_latencies(
            &e, seed, paths, 6,
        ));
    }
    d.sort();
    let n = d.len();
    println!(
        "first-time: {n} calls, p50 {:?} p90 {:?} p99 {:?} max {:?}",
        d[n / 2],
        d[n * 9 / 10],
        d[n * 99 / 100],
        d[n - 1]
    );
}
