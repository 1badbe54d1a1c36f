//! Cold click paths on a catalog directory: load and engine-build times, then new customers' click paths (one value chosen after another) on an engine with no warm-up at all, each `propagate` (complete filtering with explanations) timed the first time it is made; what a customer sees right after a load or a merchant's edit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bespoke::catalog;
use bespoke::rules::Engine;

/// `cargo run --release --example cold_clicks -- DIR PRODUCT [PATHS] [STEPS] [SEED]`
/// (defaults: 20 paths of 8 steps, seed 12).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("a catalog directory");
    let id = args.get(2).expect("a product id");
    let arg = |k: usize, d: usize| args.get(k).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (paths, steps, seed) = (arg(3, 20), arg(4, 8), arg(5, 12) as u64);
    let t0 = Instant::now();
    let loaded = catalog::load_dir(std::path::Path::new(dir)).unwrap();
    let load = t0.elapsed();
    assert!(!loaded.has_errors(), "{}", loaded.render());
    let product = loaded
        .catalog
        .unwrap()
        .product(id)
        .expect("no such product")
        .clone();
    let t0 = Instant::now();
    let engine = Engine::new(product);
    let build = t0.elapsed();
    let t0 = Instant::now();
    let first = engine
        .propagate(&bespoke::rules::Selection::default())
        .is_ok();
    let empty = t0.elapsed();
    println!(
        "load {load:?}, engine build {build:?}, first answer (no choice) {empty:?} ok={first}"
    );
    let mut d = bespoke::rules::generate::click_path_latencies(&engine, seed, paths, steps);
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "cold clicks x{} ({paths} paths of {steps} steps, seed {seed}): p50 {:?} p90 {:?} p99 {:?} max {:?}",
        d.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        d[d.len() - 1]
    );
}
