//! Cold click paths on a catalog directory: load and engine-build times, then new customers' click paths (one value chosen after another) on an engine with no warm-up at all, each `propagate` (complete filtering with explanations) timed the first time it is made; what a customer sees right after a load or a merchant's edit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use bespoke::catalog;
use bespoke::rules::Engine;

/// `cargo run --release --example cold_clicks -- DIR PRODUCT [PATHS] [STEPS] [SEED]`
/// (defaults: 20 paths of 8 steps, seed 12). With `EXPLAIN_MS=n` each click works out
/// explanations for at most n ms after it starts (`Explain::Until`, as `bespoke serve
/// --explain-within-ms` does), and the run is repeated on a fresh engine asking for `ASK`
/// (default 1) deferred explanations after each click (`Engine::explain_value`, timed apart).
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
    let within = std::env::var("EXPLAIN_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(std::time::Duration::from_millis);
    let ask: usize = std::env::var("ASK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let run = bespoke::rules::generate::timed_click_paths(&engine, seed, paths, steps, within, 0);
    let q = |d: &mut Vec<std::time::Duration>, q: f64| {
        d.sort();
        d.get(((d.len().max(1) as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let mut d = run.clicks.clone();
    println!(
        "cold clicks x{} ({paths} paths of {steps} steps, seed {seed}, explanations {}): p50 {:?} p90 {:?} p99 {:?} max {:?}; deferred explanations per click: mean {:.1}, max {}",
        d.len(),
        within.map_or("all".to_owned(), |w| format!("within {w:?}")),
        q(&mut d, 0.5),
        q(&mut d, 0.9),
        q(&mut d, 0.99),
        q(&mut d, 1.0),
        run.deferred.iter().sum::<usize>() as f64 / run.deferred.len().max(1) as f64,
        run.deferred.iter().max().copied().unwrap_or(0),
    );
    if within.is_some() && ask > 0 {
        let fresh = Engine::new(engine.product.clone());
        let run =
            bespoke::rules::generate::timed_click_paths(&fresh, seed, paths, steps, within, ask);
        let (mut c, mut a) = (run.clicks, run.asked);
        println!(
            "same paths, fresh engine, {ask} deferred explanation(s) asked after each click: clicks p50 {:?} p99 {:?} max {:?}; asked x{} p50 {:?} p90 {:?} p99 {:?} max {:?}",
            q(&mut c, 0.5),
            q(&mut c, 0.99),
            q(&mut c, 1.0),
            a.len(),
            q(&mut a, 0.5),
            q(&mut a, 0.9),
            q(&mut a, 0.99),
            q(&mut a, 1.0),
        );
    }
}
