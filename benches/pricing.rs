//! Pricing benchmarks: quotes of complete selections of the sample products, and exact price ranges on the 100-option generated car model with seeded prices.
//!
//! Run with `cargo bench --bench pricing`. Besides criterion's timings, it prints the p50/p99
//! latency of single calls (quotes over every sample product; ranges over seeded partial
//! selections), which is what the targets are about (quote p99 ≤ 20 µs, range ≤ 10 ms).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bespoke::catalog::{self, Product};
use bespoke::pricing;
use bespoke::rules::generate::{CarParams, Rng, car_model_with, with_prices};
use bespoke::rules::{Engine, Selection};
use criterion::{Criterion, criterion_group, criterion_main};

fn sample_products() -> Vec<Arc<Product>> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    catalog::load_dir(&root)
        .unwrap()
        .catalog
        .unwrap()
        .products()
        .to_vec()
}

/// A full valid configuration of the engine's product, as a selection.
fn completion(engine: &Engine, sel: &Selection) -> Selection {
    let sol = engine.complete(sel).unwrap().unwrap();
    Selection {
        choices: engine
            .model
            .vars
            .iter()
            .zip(&sol)
            .filter_map(|(var, &i)| var.value(i).map(|v| (var.opt, v)))
            .collect(),
    }
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99), d[d.len() - 1])
}

/// Full selections of a product: the default completion, and completions of seeded partial ones.
fn full_selections(engine: &Engine, n: usize, seed: u64) -> Vec<Selection> {
    let mut rng = Rng::new(seed);
    let mut out = vec![completion(engine, &Selection::default())];
    while out.len() < n {
        let partial = partial(engine, &mut rng, 3);
        if engine.complete(&partial).unwrap().is_some() {
            out.push(completion(engine, &partial));
        }
    }
    out
}

/// A few options chosen at random values that keep the selection consistent.
fn partial(engine: &Engine, rng: &mut Rng, picks: usize) -> Selection {
    let mut sel = Selection::default();
    for _ in 0..picks {
        let v = rng.below(engine.model.vars.len());
        let var = &engine.model.vars[v];
        if sel.get(var.opt).is_some() {
            continue;
        }
        if let Some(value) = var.value(rng.below(var.size)) {
            sel.choices.push((var.opt, value));
            if engine.complete(&sel).unwrap().is_none() {
                sel.choices.pop();
            }
        }
    }
    sel
}

fn quotes(c: &mut Criterion) {
    let mut all = Vec::new();
    for p in sample_products() {
        let engine = Engine::new(p.clone());
        let sels = full_selections(&engine, 20, 7);
        c.bench_function(&format!("quote/{}", p.id), |b| {
            b.iter(|| pricing::quote(&p, &sels[0]).unwrap())
        });
        all.push((p, sels));
    }
    let mut d = Vec::new();
    for _ in 0..200 {
        for (p, sels) in &all {
            for s in sels {
                let t = Instant::now();
                let q = pricing::quote(p, s);
                d.push(t.elapsed());
                assert!(q.is_ok(), "{} {:?}: {:?}", p.id, s, q);
            }
        }
    }
    let n = d.len();
    let (p50, p99, max) = percentiles(d);
    println!(
        "latency quote: {n} quotes over the sample products: p50 {p50:?}, p99 {p99:?}, max {max:?}"
    );
}

fn ranges(c: &mut Criterion) {
    // Ranges on the sample products (empty selection: the storefront's first "from" price).
    for p in sample_products() {
        let engine = Engine::new(p.clone());
        c.bench_function(&format!("range/{}", p.id), |b| {
            b.iter(|| pricing::range(&engine, &Selection::default()).unwrap())
        });
    }
    // The engine benchmark's 100-option model (`CarParams::calibrated`, as in
    // benches/engine.rs), with seeded prices; timed one call at a time (a call may stop at the
    // work limit).
    let g = car_model_with(1, 100, 113, &CarParams::calibrated(100));
    let result = catalog::load(&g.files());
    let product = result.catalog.unwrap().products()[0].clone();
    let priced = Arc::new(with_prices(&product, 1));
    let engine = Engine::new(priced);
    let mut rng = Rng::new(11);
    let sels: Vec<Selection> = (0..12)
        .map(|k| partial(&engine, &mut rng, [0, 5, 10, 20, 40, 60][k % 6]))
        .collect();
    let mut d = Vec::new();
    let mut limited = 0;
    for s in &sels {
        let t = Instant::now();
        let r = pricing::range(&engine, s);
        d.push(t.elapsed());
        if std::env::var_os("BESPOKE_BENCH_VERBOSE").is_some() {
            println!("range {} choices: {:?}", s.choices.len(), t.elapsed());
        }
        match r {
            Ok(_) => {}
            Err(pricing::PricingError::WorkLimit { .. }) => limited += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let n = d.len();
    let (p50, p99, max) = percentiles(d);
    println!(
        "latency range: car-100 with prices, {n} selections (0-60 choice attempts): p50 {p50:?}, p99 {p99:?}, max {max:?}; {limited} stopped at the work limit ({} steps)",
        engine.work_limit
    );
}

criterion_group!(benches, quotes, ranges);
criterion_main!(benches);
