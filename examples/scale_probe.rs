//! Scale probe: loads generated models and times count, propagate and analyze once (for tuning; the benchmarks are in benches/).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use bespoke::catalog;
use bespoke::rules::generate::{CarParams, car_model_with, feature_model};
use bespoke::rules::{Engine, Selection};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map_or("car", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let t: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(113);
    let tight: u32 = args
        .get(4)
        .and_then(|s| s.parse().ok())
        .unwrap_or(CarParams::calibrated(n).tightness_permille);
    let g = if kind == "car" {
        car_model_with(
            1,
            n,
            t,
            &CarParams {
                tightness_permille: tight,
                planted: std::env::var("PLANTED")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(CarParams::default().planted),
                // `VARIANT_TABLES=4 VARIANT_ROWS=50000`: SAP-VC style variant tables on top.
                variant_tables: std::env::var("VARIANT_TABLES")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                variant_rows: std::env::var("VARIANT_ROWS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(CarParams::default().variant_rows),
            },
        )
    } else {
        feature_model(1, n, t)
    };
    // `WRITE=DIR`: also write the catalog to DIR (for `bespoke count/configure --catalog DIR`).
    if let Some(dir) = std::env::var_os("WRITE") {
        g.files().write_to(std::path::Path::new(&dir)).unwrap();
    }
    let t0 = Instant::now();
    let r = catalog::load(&g.files());
    println!(
        "load: {:?}, {} diagnostics",
        t0.elapsed(),
        r.diagnostics.len()
    );
    let p = r.catalog.unwrap().products()[0].clone();
    let t0 = Instant::now();
    // `MEM_MIB` sets the engine's memory for explanations (default 256 MiB).
    let mut e = Engine::new(p.clone()).with_work_limit(2_000_000_000);
    if let Some(mib) = std::env::var("MEM_MIB")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        e = e.with_explanation_memory(mib << 20);
    }
    println!("compile: {:?}", t0.elapsed());
    // Values the rules treat alike (see `Classes`): the warm-up takes one of each class.
    let values: usize = e.model.vars.iter().map(|v| v.size).sum();
    let classes: usize = (0..e.model.vars.len()).map(|v| e.classes.count(v)).sum();
    println!("values: {values}, classes of alike values: {classes}");
    if args.iter().any(|a| a == "clicks") {
        // As the service warms a loaded catalog version (`WARM=empty` for a customer arriving
        // before that warm-up is through), then new customers' click paths (seed 12, `FRESH`
        // paths of 6 steps), each call timed the first time it is made, then the benchmark's
        // click paths (seed 11) replayed `ROUNDS` times.
        let env = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(d)
        };
        let level = match std::env::var("WARM").as_deref() {
            Ok("empty") => bespoke::rules::Warmth::Empty,
            Ok("pairs") => bespoke::rules::Warmth::Pairs,
            _ => bespoke::rules::Warmth::Choices,
        };
        let t0 = Instant::now();
        // `WARM_LOG=1` prints each warm-up selection's time as it goes (with one thread).
        let last = std::sync::Mutex::new((0usize, Instant::now()));
        let log = std::env::var_os("WARM_LOG").is_some();
        // `WARM_SECS` stops the warm-up after that long, as the benchmark does; `WARM_THREADS`
        // runs it on that many threads.
        let limit = std::time::Duration::from_secs(env("WARM_SECS", usize::MAX) as u64);
        // `WARM=off`: no warm-up at all (a customer right after a load or an edit).
        let off = std::env::var("WARM").as_deref() == Ok("off");
        let w = e.warm_on(level, env("WARM_THREADS", 1), &|| {
            if off {
                return true;
            }
            if log && let Ok(mut l) = last.lock() {
                eprintln!("warm {} {:?}", l.0, l.1.elapsed());
                *l = (l.0 + 1, Instant::now());
            }
            t0.elapsed() > limit
        });
        println!(
            "warm-up ({level:?}): {} selections in {:?}",
            w.selections,
            t0.elapsed()
        );
        // `LEARNED=1`: what the warm-up learned, exported as records and imported into a new
        // engine of the same model (as a restart restores it from the database).
        if std::env::var_os("LEARNED").is_some() {
            let t0 = Instant::now();
            let records = e.export_learned(bespoke::rules::Export::Everything);
            let bytes: usize = records.iter().map(Vec::len).sum();
            println!(
                "export: {} records, {bytes} bytes in {:?} ({} bytes of explanations in memory)",
                records.len(),
                t0.elapsed(),
                e.explanation_bytes()
            );
            let import = |into: &Engine, journal: bool| {
                let mut got = bespoke::rules::Imported::default();
                for r in &records {
                    got += into.import_learned(r, journal).unwrap();
                }
                got
            };
            let restored = Engine::new(p.clone()).with_work_limit(2_000_000_000);
            let t0 = Instant::now();
            let got = import(&restored, false);
            println!(
                "import: {got:?} in {:?}; explanation bytes equal: {}",
                t0.elapsed(),
                restored.explanation_bytes() == e.explanation_bytes()
            );
            // `EDIT=k`: a merchant's edit (the k-th rule dropped) after the warm-up. What holds
            // of the records is carried into the edited model's engine, whose first-time
            // latency is then measured without a warm-up of its own (as right after a reload),
            // against an engine of the edited model that starts empty.
            if let Some(k) = std::env::var("EDIT")
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            {
                let mut edited = g.clone();
                let blocks: Vec<&str> = edited.rules_yaml.split("\n  - id: ").collect();
                let k = 1 + k % (blocks.len() - 1);
                let mut text = blocks[0].to_owned();
                for (j, b) in blocks.iter().enumerate().skip(1) {
                    if j != k {
                        text.push_str("\n  - id: ");
                        text.push_str(b);
                    }
                }
                edited.rules_yaml = text;
                let q = catalog::load(&edited.files()).catalog.unwrap().products()[0].clone();
                let carried = Engine::new(q.clone()).with_work_limit(2_000_000_000);
                let t0 = Instant::now();
                let got = import(&carried, true);
                println!(
                    "edit (rule {k} dropped): carried {got:?} in {:?}",
                    t0.elapsed()
                );
                // The edited model's own pair warm-up, from the carried records and from nothing.
                if std::env::var_os("EDIT_WARM").is_some() {
                    for (name, from) in [("carried", Some(&records)), ("empty", None)] {
                        let w = Engine::new(q.clone()).with_work_limit(2_000_000_000);
                        for r in from.into_iter().flatten() {
                            w.import_learned(r, true).unwrap();
                        }
                        let t0 = Instant::now();
                        let done = w.warm(bespoke::rules::Warmth::Pairs, &|| false);
                        println!(
                            "edited model, {name}: warm-up {done:?} in {:?}",
                            t0.elapsed()
                        );
                    }
                }
                for (name, engine) in [
                    ("carried", &carried),
                    (
                        "empty",
                        &Engine::new(q.clone()).with_work_limit(2_000_000_000),
                    ),
                ] {
                    let _ = engine.propagate(&Selection::default());
                    let mut d = bespoke::rules::generate::click_path_latencies(
                        engine,
                        12,
                        env("FRESH", 20),
                        6,
                    );
                    d.sort();
                    let at = |x: f64| d[((d.len() as f64 - 1.0) * x).round() as usize];
                    println!(
                        "edited model, {name}: first-time x{}: p50 {:?} p90 {:?} p99 {:?} max {:?}",
                        d.len(),
                        at(0.5),
                        at(0.9),
                        at(0.99),
                        d[d.len() - 1]
                    );
                }
            }
        }
        let mut fresh = bespoke::rules::generate::click_path_latencies(&e, 12, env("FRESH", 20), 6);
        fresh.sort();
        let at = |q: f64| fresh[((fresh.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "first-time (seed 12) x{}: p50 {:?} p90 {:?} p95 {:?} p99 {:?} max {:?}",
            fresh.len(),
            at(0.5),
            at(0.9),
            at(0.95),
            at(0.99),
            fresh[fresh.len() - 1]
        );
        let sels = bespoke::rules::generate::click_paths(&e, 11, 6, 6);
        let mut d = Vec::new();
        for _ in 0..env("ROUNDS", 2) {
            for (k, s) in sels.iter().enumerate() {
                let t = Instant::now();
                let r = e.propagate(s);
                d.push((t.elapsed(), k, r.is_ok()));
            }
        }
        d.sort();
        let at = |q: f64| d[((d.len() as f64 - 1.0) * q).round() as usize].0;
        println!(
            "replay (seed 11) x{}: p50 {:?} p99 {:?} max {:?}; slowest {:?}",
            d.len(),
            at(0.5),
            at(0.99),
            d[d.len() - 1].0,
            &d[d.len().saturating_sub(5)..]
        );
        return;
    }
    // Calibration aid: how many values each option could take with every other option fixed
    // to one valid configuration (options left free by the rules show up here).
    if args.iter().any(|a| a == "switches") {
        let sol = e.complete(&Selection::default()).unwrap().unwrap();
        let mut sum = 0.0f64;
        let mut hist = std::collections::BTreeMap::<usize, usize>::new();
        let mut free = Vec::new();
        for x in 0..e.model.vars.len() {
            let choices: Vec<_> = (0..e.model.vars.len())
                .filter(|&y| y != x)
                .filter_map(|y| e.model.vars[y].value(sol[y]).map(|v| (y, v)))
                .collect();
            let pr = e.propagate(&Selection { choices }).unwrap();
            let k = pr.options[x].available.len();
            *hist.entry(k).or_default() += 1;
            sum += (k.max(1) as f64).log10();
            if k >= 2 {
                free.push((p.options[x].id.clone(), k, e.model.var_cons[x].len()));
            }
        }
        println!("switch histogram {hist:?}, sum log10 {sum:.1}");
        println!("free: {free:?}");
        return;
    }
    if args.iter().any(|a| a == "count-only") {
        let t0 = Instant::now();
        let c = e.count(&Selection::default());
        println!(
            "count: {:?} = {:?}",
            t0.elapsed(),
            c.map(|n| n.to_string().len())
        );
        return;
    }
    if args.iter().any(|a| a == "analyze-only") {
        analyze(&e);
        return;
    }
    let checks = e
        .model
        .cons
        .iter()
        .filter(|c| matches!(c.kind, bespoke::rules::model::ConKind::Check(_)))
        .count();
    println!(
        "vars {} cons {} (checked {checks})",
        e.model.vars.len(),
        e.model.cons.len()
    );
    stats(&e);
    let t0 = Instant::now();
    let c = e
        .with_work_limit(50_000_000)
        .complete(&Selection::default());
    println!(
        "complete: {:?} ok={:?}",
        t0.elapsed(),
        c.as_ref().map(|x| x.is_some())
    );
    let e = Engine::new(p.clone()).with_work_limit(2_000_000_000);
    let t0 = Instant::now();
    let prop = e.propagate(&Selection::default());
    println!("propagate(empty): {:?} ok={}", t0.elapsed(), prop.is_ok());
    if let Ok(p) = &prop {
        println!(
            "unavailable {} available {}",
            p.options.iter().map(|o| o.unavailable.len()).sum::<usize>(),
            p.options.iter().map(|o| o.available.len()).sum::<usize>()
        );
    }
    let t0 = Instant::now();
    let _ = e.propagate(&Selection::default());
    println!("propagate(empty) again: {:?}", t0.elapsed());
    // A click path: choose a random available value of a random open option, 12 times.
    let mut sel = Selection::default();
    let mut rng: u64 = 12345;
    for step in 0..12 {
        let t0 = Instant::now();
        let prop = e.propagate(&sel).unwrap();
        let dt = t0.elapsed();
        let open: Vec<_> = prop
            .options
            .iter()
            .filter(|o| o.selected.is_none() && !o.available.is_empty())
            .collect();
        println!(
            "  step {step}: {} choices, propagate {:?}, consistent {}",
            sel.choices.len(),
            dt,
            prop.consistent
        );
        if open.is_empty() {
            break;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let oa = open[(rng % open.len() as u64) as usize];
        let i = oa.available[(rng / 7 % oa.available.len() as u64) as usize];
        if let Some(v) = e.model.vars[oa.option].value(i) {
            sel.choices.push((oa.option, v));
        }
    }
    if args.iter().any(|a| a == "count") {
        let t0 = Instant::now();
        let c = e.count(&Selection::default());
        println!(
            "count: {:?} = {:?}",
            t0.elapsed(),
            c.map(|n| {
                let s = n.to_string();
                format!("{} digits: {}", s.len(), &s[..s.len().min(30)])
            })
        );
    }
    if args.iter().any(|a| a == "analyze") {
        analyze(&e);
    }
}
#[allow(dead_code)]
/// Times `analyze` and prints (dead, forced, redundant, count digits, incomplete parts).
fn analyze(e: &Engine) {
    let t0 = Instant::now();
    let a = e.analyze();
    println!(
        "analyze: {:?} -> {:?}",
        t0.elapsed(),
        a.map(|a| (
            a.dead.len(),
            a.forced.len(),
            a.redundant.len(),
            a.count.map(|n| n.to_string().len()),
            a.incomplete
        ))
    );
}

fn stats(e: &Engine) {
    let mut rows: Vec<(usize, usize, usize)> = e
        .model
        .cons
        .iter()
        .filter_map(|c| match &c.kind {
            bespoke::rules::model::ConKind::Table(t) => Some((t.nrows, t.row_words, c.scope.len())),
            _ => None,
        })
        .collect();
    rows.sort();
    println!(
        "tables (rows, words, arity): total rows {} words {}",
        rows.iter().map(|r| r.0).sum::<usize>(),
        rows.iter().map(|r| r.0 * r.1).sum::<usize>()
    );
    println!("largest: {:?}", &rows[rows.len().saturating_sub(8)..]);
}
