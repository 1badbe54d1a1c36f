//! Rules-engine benchmarks: propagate, validate, repair, count and analyze on the sample products and on generated real-size models.
//!
//! Run with `cargo bench --bench engine`. Besides criterion's timings, each propagate scenario
//! warms its engine as the service does when a catalog version loads (`Engine::warm` at
//! `Pairs`, the default), replays seeded "click paths" (a customer choosing one available value
//! after another) and prints the p50/p99 latency of the propagate calls, then walks new paths
//! and prints the latency of each call the first time it is made; for the generated models also
//! the first-time latency on an engine warmed with the empty selection only, and with single
//! choices only (customers arriving before the warm-up is through). BENCHMARKS.md records them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bespoke::catalog::{self, Product};
use bespoke::rules::generate::{
    CarParams, Generated, car_model_with, click_path_latencies, click_paths, feature_model,
};
use bespoke::rules::{Engine, Selection, Warmth};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

fn sample_products() -> Vec<Arc<Product>> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    catalog::load_dir(&root)
        .unwrap()
        .catalog
        .unwrap()
        .products()
        .to_vec()
}

fn percentiles(mut d: Vec<Duration>) -> (Duration, Duration, Duration) {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), *d.last().unwrap())
}

fn report_latency(name: &str, engine: &Engine, sels: &[Selection], rounds: usize) {
    let mut d = Vec::with_capacity(sels.len() * rounds);
    let mut limited = 0;
    for _ in 0..rounds {
        for s in sels {
            let t = Instant::now();
            let r = engine.propagate(s);
            d.push(t.elapsed());
            limited += usize::from(r.is_err());
        }
    }
    let (p50, p99, max) = percentiles(d);
    println!(
        "latency {name}: propagate over {} click-path selections: p50 {p50:?}, p99 {p99:?}, max {max:?}; {limited} stopped at the work limit",
        sels.len() * rounds
    );
}

/// New customers: other click paths on the same (warm) engine, each call timed the first time
/// it is made, so nothing the engine remembers from an identical earlier call helps.
fn report_first_time(name: &str, engine: &Engine, seed: u64, paths: usize, steps: usize) {
    let mut d = click_path_latencies(engine, seed, paths, steps);
    let n = d.len();
    d.sort();
    let p90 = d[((n as f64 - 1.0) * 0.9).round() as usize];
    let (p50, p99, max) = percentiles(d);
    println!(
        "latency {name}: first-time propagate over {n} calls of new click paths: p50 {p50:?}, p90 {p90:?}, p99 {p99:?}, max {max:?}"
    );
}

/// An engine warmed as the service warms each product of a loaded catalog version (see
/// `warm_more`), and when its warm-up time started.
fn warmed(name: &str, p: &Arc<Product>, level: Warmth, limit: u64) -> (Engine, Instant) {
    let engine = Engine::new(p.clone()).with_work_limit(limit);
    let began = Instant::now();
    warm_more(name, &engine, level, began);
    (engine, began)
}

/// Warms `engine` to `level` until `BESPOKE_BENCH_WARM_SECS` seconds after `began` (default:
/// the service's limit for a version's whole warm-up, `WARM_UP_LIMIT_SECS`; the 270-option
/// model's pairs then take over an hour of the run); the line printed says whether the warm-up
/// was complete.
fn warm_more(name: &str, engine: &Engine, level: Warmth, began: Instant) {
    let secs: u64 = std::env::var("BESPOKE_BENCH_WARM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(bespoke::config::WARM_UP_LIMIT_SECS);
    let t = Instant::now();
    let w = engine.warm(level, &|| began.elapsed() > Duration::from_secs(secs));
    println!(
        "warm-up {name} ({level:?}): {} selections in {:?}, explanations kept: {:.1} MB{}",
        w.selections,
        t.elapsed(),
        engine.explanation_bytes() as f64 / 1e6,
        if w.complete {
            ""
        } else {
            " (stopped at the bench's time limit or the engine's memory for explanations: incomplete)"
        }
    );
}

fn samples(c: &mut Criterion) {
    let mut g = c.benchmark_group("sample");
    for p in sample_products() {
        let (engine, _) = warmed(
            &format!("sample/{}", p.id),
            &p,
            Warmth::Pairs,
            bespoke::rules::engine::DEFAULT_WORK_LIMIT,
        );
        let sels = click_paths(&engine, 7, 20, 6);
        report_latency(&format!("sample/{}", p.id), &engine, &sels, 5);
        // 100 paths (600 calls): with 120, the p99 is the second slowest call alone.
        report_first_time(&format!("sample/{}", p.id), &engine, 8, 100, 6);
        let mid = sels[sels.len() / 2].clone();
        g.bench_function(format!("propagate/{}", p.id), |b| {
            b.iter(|| engine.propagate(&mid))
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
        if let Some(bad) = conflicting(&engine, &sels) {
            g.bench_function(format!("repair/{}", p.id), |b| {
                b.iter(|| engine.repair(&bad).unwrap())
            });
        }
    }
    g.finish();
}

fn product_of(g: &Generated) -> Arc<Product> {
    let r = catalog::load(&g.files());
    assert!(!r.has_errors(), "{}", r.render());
    r.catalog.unwrap().products()[0].clone()
}

fn generated(c: &mut Criterion) {
    // `BESPOKE_BENCH_SAMPLES_ONLY=1 cargo bench --bench engine -- sample` skips the generated
    // models' latency replays, counts and analysis (criterion's filter skips only its timings).
    if std::env::var_os("BESPOKE_BENCH_SAMPLES_ONLY").is_some() {
        return;
    }
    let mut g = c.benchmark_group("generated");
    g.sample_size(10);
    // `BESPOKE_BENCH_MODELS=car-270x330` (a comma-separated list) runs only those generated
    // models (`feature-2500x10000` is the analysis); all by default.
    let only = std::env::var("BESPOKE_BENCH_MODELS").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|x| x == name))
    };
    for (name, opts, tables) in [
        ("car-100x113", 100usize, 113usize),
        ("car-270x330", 270, 330),
    ] {
        if !wanted(name) {
            continue;
        }
        // Tightness tuned so that counts fall in the 10^12–10^22 range real car configurators have.
        let p = product_of(&car_model_with(
            1,
            opts,
            tables,
            &CarParams::calibrated(opts),
        ));
        // Cold: the first call on a fresh engine (no learned solutions or explanations).
        let t = Instant::now();
        let fresh = Engine::new(p.clone()).with_work_limit(200_000_000);
        let _ = fresh.propagate(&Selection::default()).unwrap();
        println!(
            "latency {name}: cold first propagate (compile + empty selection) {:?}",
            t.elapsed()
        );
        // A customer arriving before the choice warm-up is through (fewer paths on the larger
        // model: its first-time calls take seconds).
        let early_paths = if opts > 100 { 6 } else { 20 };
        let (early, _) = warmed(name, &p, Warmth::Empty, 200_000_000);
        report_first_time(
            &format!("{name} (warm-up: empty only)"),
            &early,
            12,
            early_paths,
            6,
        );
        drop(early);
        // A customer arriving after the single choices, before the pairs are through (other
        // paths than those measured below, which the engine then has not seen either).
        let (engine, began) = warmed(name, &p, Warmth::Choices, 200_000_000);
        report_first_time(
            &format!("{name} (warm-up: single choices only)"),
            &engine,
            13,
            100,
            6,
        );
        // Then the rest of the service's warm-up: every pair of choices, within what is left
        // of the version's time limit after the single choices (and the measurement above).
        warm_more(name, &engine, Warmth::Pairs, began);
        // 100 new paths (600 calls): with 120 calls, the p99 is the second slowest call alone.
        report_first_time(name, &engine, 12, 100, 6);
        storefront_calls(&mut g, name, &engine);
        // A count keeps nothing between calls, so the warm engine counts as a fresh one would;
        // the line printed also times compiling an engine first.
        g.bench_function(format!("count/{name}"), |b| {
            b.iter(|| engine.count(&Selection::default()).unwrap())
        });
        let t = Instant::now();
        let fresh = Engine::new(p.clone());
        let compiled = t.elapsed();
        let n = fresh.count(&Selection::default()).unwrap();
        println!(
            "count {name}: {} ({} digits) in {:?} after compiling the engine in {compiled:?}",
            n,
            n.to_string().len(),
            t.elapsed() - compiled
        );
        report_analysis(name, &Engine::new(p.clone()));
        g.bench_function(format!("analyze/{name}"), |b| {
            b.iter(|| Engine::new(p.clone()).analyze().unwrap())
        });
    }
    // Real-shape models with SAP-VC style variant tables (4 tables of up to 50,000 rows, arity
    // 8–12, read from CSV files), measured cold: the engine answers with no warm-up at all, as
    // right after a load or a merchant's edit (issue 25's targets are for this case).
    for (name, options, rules) in [
        ("car-100x113-variants", 100, 113),
        ("car-270x330-variants", 270, 330),
    ] {
        if !wanted(name) {
            continue;
        }
        let g_model = car_model_with(
            1,
            options,
            rules,
            &CarParams {
                variant_tables: 4,
                variant_rows: 50_000,
                ..CarParams::calibrated(options)
            },
        );
        let t = Instant::now();
        let p = product_of(&g_model);
        let loaded = t.elapsed();
        let t = Instant::now();
        let fresh = Engine::new(p.clone()).with_work_limit(200_000_000);
        let built = t.elapsed();
        let t = Instant::now();
        let first = fresh.propagate(&Selection::default()).is_ok();
        println!(
            "latency {name}: load {loaded:?}, engine build {built:?}, cold first propagate {:?} (answered: {first})",
            t.elapsed()
        );
        report_first_time(&format!("{name} (no warm-up)"), &fresh, 12, 10, 6);
        let t = Instant::now();
        match Engine::new(p.clone()).count(&Selection::default()) {
            Ok(n) => println!("count {name}: {n} in {:?}", t.elapsed()),
            Err(e) => println!("count {name}: {e} after {:?}", t.elapsed()),
        }
    }
    if !wanted("feature-2500x10000") {
        g.finish();
        return;
    }
    let name = "feature-2500x10000";
    let fm = product_of(&feature_model(1, 2500, 10_000));
    report_analysis(name, &Engine::new(fm.clone()).with_work_limit(100_000_000));
    // Propagate, validate and repair as a storefront calls them, with the service's work limit:
    // first on an engine warmed with the empty selection only, then after the single choices
    // (5,000 selections, a few minutes; the service would go on with the pairs, 12.5 million
    // of them, for the rest of its time limit).
    let (engine, began) = warmed(
        name,
        &fm,
        Warmth::Empty,
        bespoke::rules::engine::DEFAULT_WORK_LIMIT,
    );
    report_first_time(&format!("{name} (warm-up: empty only)"), &engine, 13, 20, 6);
    warm_more(name, &engine, Warmth::Choices, began);
    report_first_time(
        &format!("{name} (warm-up: single choices)"),
        &engine,
        12,
        100,
        6,
    );
    storefront_calls(&mut g, name, &engine);
    // An exact count of this model is beyond the service's work limit (a random Boolean model
    // of this size has few independent components): the line says how soon the limit stops it.
    let t = Instant::now();
    let n = engine.count(&Selection::default());
    println!(
        "count {name}: {:?} in {:?} (work limit {})",
        n.map(|n| format!("{} digits", n.to_string().len())),
        t.elapsed(),
        bespoke::rules::engine::DEFAULT_WORK_LIMIT
    );
    g.finish();
}

/// A storefront's calls on a warm engine: replayed click paths (seed 11) with their latency
/// printed, then criterion's propagate and validate of a mid-path selection, and repair of a
/// conflicting one (two choices the rules keep apart, found by search).
fn storefront_calls(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, engine: &Engine) {
    let sels = click_paths(engine, 11, 6, 6);
    report_latency(name, engine, &sels, 2);
    let mid = sels[sels.len() / 2].clone();
    g.bench_function(format!("propagate/{name}"), |b| {
        b.iter(|| engine.propagate(&mid))
    });
    g.bench_function(format!("validate/{name}"), |b| {
        b.iter(|| engine.validate(&mid))
    });
    if let Some(bad) = conflicting(engine, &sels) {
        g.bench_function(format!("repair/{name}"), |b| {
            b.iter(|| engine.repair(&bad).unwrap())
        });
    }
}

/// Times one analysis and prints (dead values, forced values, redundant rules, digits of the
/// count, parts left incomplete at the work limit).
fn report_analysis(name: &str, engine: &Engine) {
    let t = Instant::now();
    let a = engine.analyze();
    println!(
        "analyze {name}: {:?} -> {:?}",
        t.elapsed(),
        a.map(|a| (
            a.dead.len(),
            a.forced.len(),
            a.redundant.len(),
            a.count.map(|n| n.to_string().len()),
            a.incomplete
        ))
    );
}

/// A selection with a conflict: a consistent selection plus an unavailable value of another option.
fn conflicting(engine: &Engine, sels: &[Selection]) -> Option<Selection> {
    for s in sels.iter().rev() {
        let prop = engine.propagate(s).ok()?;
        for oa in prop.options.iter().filter(|o| o.selected.is_none()) {
            if let Some((i, _)) = oa.unavailable.first()
                && let Some(v) = engine.model.vars[oa.option].value(*i)
            {
                let mut bad = s.clone();
                bad.choices.push((oa.option, v));
                return Some(bad);
            }
        }
    }
    None
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = samples, generated
}
criterion_main!(benches);
