//! Rules-engine benchmarks: propagate, validate, repair, count and analyze on the sample products and on generated real-size models.
//!
//! Run with `cargo bench --bench engine`. Besides criterion's timings, each propagate scenario
//! replays seeded "click paths" (a customer choosing one available value after another) and prints
//! the p50/p99 latency of the propagate calls, which is what BENCHMARKS.md records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bespoke::catalog::{self, Product, Value};
use bespoke::rules::{Engine, Selection};
use criterion::{Criterion, criterion_group, criterion_main};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn sample_products() -> Vec<Arc<Product>> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    catalog::load_dir(&root)
        .unwrap()
        .catalog
        .unwrap()
        .products()
        .to_vec()
}

/// Replays click paths: each step picks an unselected option and one of its available values.
/// Returns the selections seen along the way (each one a propagate call in a storefront).
fn click_paths(engine: &Engine, seed: u64, paths: usize, steps: usize) -> Vec<Selection> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for _ in 0..paths {
        let mut sel = Selection::default();
        out.push(sel.clone());
        for _ in 0..steps {
            let prop = engine.propagate(&sel).unwrap();
            let open: Vec<_> = prop
                .options
                .iter()
                .filter(|o| o.selected.is_none() && !o.available.is_empty())
                .collect();
            if open.is_empty() {
                break;
            }
            let oa = open[rng.below(open.len())];
            let i = oa.available[rng.below(oa.available.len())];
            let Some(v) = engine.model.vars[oa.option].value(i) else {
                continue;
            };
            let v = match (&engine.product.options[oa.option].kind, v) {
                (bespoke::catalog::OptionKind::Text(_), Value::Int(n)) => {
                    Value::Text("x".repeat(n as usize))
                }
                (_, v) => v,
            };
            sel.choices.push((oa.option, v));
            out.push(sel.clone());
        }
    }
    out
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), *d.last().unwrap())
}

fn report_latency(name: &str, engine: &Engine, sels: &[Selection], rounds: usize) {
    let mut d = Vec::with_capacity(sels.len() * rounds);
    for _ in 0..rounds {
        for s in sels {
            let t = Instant::now();
            let r = engine.propagate(s);
            d.push(t.elapsed());
            assert!(r.is_ok(), "{name}: {r:?}");
        }
    }
    let (p50, p99, max) = percentiles(d);
    println!(
        "latency {name}: propagate over {} click-path selections: p50 {p50:?}, p99 {p99:?}, max {max:?}",
        sels.len() * rounds
    );
}

fn samples(c: &mut Criterion) {
    let mut g = c.benchmark_group("sample");
    for p in sample_products() {
        let engine = Engine::new(p.clone());
        let sels = click_paths(&engine, 7, 20, 6);
        report_latency(&format!("sample/{}", p.id), &engine, &sels, 5);
        let mid = sels[sels.len() / 2].clone();
        g.bench_function(format!("propagate/{}", p.id), |b| {
            b.iter(|| engine.propagate(&mid).unwrap())
        });
        g.bench_function(format!("validate/{}", p.id), |b| {
            b.iter(|| engine.validate(&mid))
        });
        g.bench_function(format!("count/{}", p.id), |b| {
            b.iter(|| engine.count(&Selection::default()).unwrap())
        });
        g.bench_function(format!("analyze/{}", p.id), |b| {
            b.iter(|| engine.analyze().unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = samples
}
criterion_main!(benches);
