//! `bespoke recommend eval`: reads a history and a fold file, runs the recommender evaluation (`recommend::eval`) and prints its figures as text or JSON, with the per-step curve as CSV.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::{Common, EXIT_CATALOG_ERRORS, EXIT_OK, EXIT_USAGE, find_product, load_catalog};
use crate::recommend::eval::{EvalOptions, EvalReport, Latency, Tally, evaluate};
use crate::recommend::{Method, parse_history};
use crate::rules::Engine;

/// Problems of the history file printed before the figures (the rest are counted).
const SHOWN_PROBLEMS: usize = 20;

#[derive(Debug, Subcommand)]
pub enum RecommendCommand {
    /// Evaluate the recommender on a sales history (K-fold cross-validation, each test sale
    /// replayed in a random order, the engine as the filter), beside the two baselines.
    Eval(EvalArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The product id.
    product: String,
    /// The history: CSV (comma, or whitespace when the header has no comma), a header of
    /// option ids, one sold configuration per row, an optional `count` column.
    file: PathBuf,
    #[command(flatten)]
    common: Common,
    /// Folds of the cross-validation (when no fold file is given).
    #[arg(long, default_value_t = 10)]
    folds: usize,
    /// The fold of each data row, one integer per line (the published split).
    #[arg(long)]
    fold_file: Option<PathBuf>,
    /// How many seeded replay orders per test sale (seeds 1..=S).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Write the per-step precision curve of every method to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: the available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Also evaluate plain neighbours with this decay (repeatable), for comparisons.
    #[arg(long)]
    neighbours: Vec<f64>,
    /// Also evaluate relevance-weighted neighbours with this decay (repeatable).
    #[arg(long)]
    relevance: Vec<f64>,
    /// Skip choosing the relevance decay by inner cross-validation.
    #[arg(long)]
    no_tune: bool,
    /// Skip the ceiling (the most sold value among the sales sharing every choice, the test
    /// sale included).
    #[arg(long)]
    no_ceiling: bool,
    /// Steps sampled after the run to time a configure call's `propagate` plus
    /// recommendations for every open option (0: skip).
    #[arg(long, default_value_t = 1000)]
    serving_samples: usize,
}

/// Runs `bespoke recommend …`.
pub(crate) fn run(command: RecommendCommand, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match command {
        RecommendCommand::Eval(args) => eval(&args, out, err),
    }
}

fn eval(args: &EvalArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let usage = |err: &mut dyn Write, msg: String| {
        let _ = writeln!(err, "error: {msg}");
        EXIT_USAGE
    };
    let cat = match load_catalog(&args.common, err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let product = match find_product(&cat, &args.product, err) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => return usage(err, format!("{}: {e}", args.file.display())),
    };
    let file = parse_history(&product, &bytes);
    for p in file.problems.iter().take(SHOWN_PROBLEMS) {
        let _ = writeln!(err, "{}:{}: {}", args.file.display(), p.line, p.problem);
    }
    if file.problems.len() > SHOWN_PROBLEMS {
        let _ = writeln!(
            err,
            "… and {} more problems",
            file.problems.len() - SHOWN_PROBLEMS
        );
    }
    let fold_of = match &args.fold_file {
        None => None,
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => return usage(err, format!("{}: {e}", path.display())),
            };
            let mut folds = Vec::new();
            for (k, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                match line.trim().parse::<usize>() {
                    Ok(f) => folds.push(f),
                    Err(_) => {
                        return usage(
                            err,
                            format!(
                                "{}:{}: `{line}` is not a fold number",
                                path.display(),
                                k + 1
                            ),
                        );
                    }
                }
            }
            Some(folds)
        }
    };
    let mut methods = EvalOptions::default().methods;
    methods.extend(
        args.neighbours
            .iter()
            .map(|&decay| Method::Neighbours { decay }),
    );
    methods.extend(
        args.relevance
            .iter()
            .map(|&decay| Method::Relevance { decay }),
    );
    let defaults = EvalOptions::default();
    let opts = EvalOptions {
        folds: args.folds,
        fold_of,
        seeds: (1..=args.seeds.max(1)).collect(),
        methods,
        tune: !args.no_tune,
        ceiling: !args.no_ceiling,
        threads: args.threads.unwrap_or(defaults.threads),
        serving_samples: args.serving_samples,
    };
    let engine = Engine::new(product.clone()).with_work_limit(args.common.work_limit);
    let report = match evaluate(&engine, &file, &opts) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_CATALOG_ERRORS;
        }
    };
    if let Some(path) = &args.out
        && let Err(e) = std::fs::write(path, curve_csv(&report))
    {
        return usage(err, format!("{}: {e}", path.display()));
    }
    let sales = file.total();
    if args.common.json {
        let doc = json(&product.id, sales, &report);
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = write!(out, "{}", text(&product.id, sales, &report));
    }
    EXIT_OK
}

/// The per-step curve: `step,steps,<method>…` with each method's precision in percent.
fn curve_csv(r: &EvalReport) -> String {
    let mut s = String::from("step,steps");
    for m in &r.methods {
        s.push_str(&format!(",\"{}\"", m.name()));
    }
    s.push('\n');
    let steps = r.methods.first().map_or(0, |m| m.curve.len());
    for h in 0..steps {
        let n = r
            .methods
            .first()
            .and_then(|m| m.curve.get(h))
            .map_or(0, |t| t.steps);
        s.push_str(&format!("{},{n}", h + 1));
        for m in &r.methods {
            let t = m.curve.get(h).copied().unwrap_or_default();
            s.push_str(&format!(",{:.3}", t.percent()));
        }
        s.push('\n');
    }
    s
}

fn latency_json(l: &Latency) -> serde_json::Value {
    serde_json::json!({"p50_us": l.p50_us, "p99_us": l.p99_us, "max_us": l.max_us, "samples": l.samples})
}

fn tally_json(t: &Tally) -> serde_json::Value {
    serde_json::json!({"precision": t.percent(), "hits": t.hits, "steps": t.steps})
}

fn json(product: &str, sales: u64, r: &EvalReport) -> serde_json::Value {
    serde_json::json!({
        "product": product,
        "sales": sales,
        "folds": r.folds,
        "seeds": r.seeds,
        "replays": r.replays,
        "unscored_steps": r.unscored,
        "methods": r.methods.iter().map(|m| serde_json::json!({
            "method": m.name(),
            "decay_per_fold": m.tuned,
            "all_steps": tally_json(&m.all),
            "multi_steps": tally_json(&m.multi),
            "folds": m.folds.iter().map(tally_json).collect::<Vec<_>>(),
            "curve": m.curve.iter().map(Tally::percent).collect::<Vec<_>>(),
            "recommend": latency_json(&m.recommend),
        })).collect::<Vec<_>>(),
        "filter": latency_json(&r.filter),
        "step": latency_json(&r.step),
        "serving": r.serving.map(|s| serde_json::json!({
            "filter": latency_json(&s.filter),
            "filter_and_recommend": latency_json(&s.filter_and_recommend),
            "propagate": latency_json(&s.propagate),
            "recommend_all": latency_json(&s.recommend_all),
            "total": latency_json(&s.total),
        })),
        "threads": r.threads,
        "filter_seconds": r.filter_seconds,
        "seconds": r.seconds,
    })
}

fn text(product: &str, sales: u64, r: &EvalReport) -> String {
    let mut s = String::new();
    let all = r.methods.first().map(|m| m.all).unwrap_or_default();
    let multi = r.methods.first().map(|m| m.multi).unwrap_or_default();
    s.push_str(&format!(
        "{product}: {sales} sales, {} folds, {} seed(s): {} replays, {} steps scored ({:.1} % with at least 2 available values), {} unscored (sold value not available)\n\n",
        r.folds,
        r.seeds,
        r.replays,
        all.steps,
        if all.steps == 0 { 0.0 } else { 100.0 * multi.steps as f64 / all.steps as f64 },
        r.unscored,
    ));
    s.push_str(&format!(
        "{:<30} {:>10} {:>14} {:>10} {:>10}\n",
        "method", "all steps", ">= 2 values", "p50 us", "p99 us"
    ));
    for m in &r.methods {
        s.push_str(&format!(
            "{:<30} {:>9.2}% {:>13.2}% {:>10.1} {:>10.1}\n",
            m.name(),
            m.all.percent(),
            m.multi.percent(),
            m.recommend.p50_us,
            m.recommend.p99_us
        ));
    }
    for m in &r.methods {
        if let Some(d) = &m.tuned {
            let d: Vec<String> = d.iter().map(f64::to_string).collect();
            s.push_str(&format!(
                "\ndecay chosen by inner cross-validation, per fold: {}\n",
                d.join(" ")
            ));
        }
    }
    s.push_str("\nper fold (all steps):\n");
    for m in &r.methods {
        s.push_str(&format!("{:<30}", m.name()));
        for t in &m.folds {
            s.push_str(&format!(" {:6.2}", t.percent()));
        }
        s.push('\n');
    }
    s.push_str("\nper step (precision %, step 1 first):\n");
    for m in &r.methods {
        s.push_str(&format!("{:<30}", m.name()));
        for t in &m.curve {
            s.push_str(&format!(" {:.1}", t.percent()));
        }
        s.push('\n');
    }
    s.push_str(&format!(
        "\nfilter (engine: available values of the next option): p50 {:.1} us, p99 {:.1} us\n",
        r.filter.p50_us, r.filter.p99_us
    ));
    s.push_str(&format!(
        "per step, filter + recommendation ({}): p50 {:.1} us, p99 {:.1} us\n",
        r.methods.first().map(|m| m.name()).unwrap_or_default(),
        r.step.p50_us,
        r.step.p99_us
    ));
    if let Some(sv) = &r.serving {
        s.push_str(&format!(
            "on the warm engine ({} samples): filter p50 {:.1} us, p99 {:.1} us; filter + recommendation p50 {:.1} us, p99 {:.1} us\n",
            sv.filter.samples,
            sv.filter.p50_us,
            sv.filter.p99_us,
            sv.filter_and_recommend.p50_us,
            sv.filter_and_recommend.p99_us,
        ));
        s.push_str(&format!(
            "configure on the warm engine ({} samples): propagate p50 {:.1} us, p99 {:.1} us; recommend every open option p50 {:.1} us, p99 {:.1} us; together p50 {:.1} us, p99 {:.1} us\n",
            sv.total.samples,
            sv.propagate.p50_us,
            sv.propagate.p99_us,
            sv.recommend_all.p50_us,
            sv.recommend_all.p99_us,
            sv.total.p50_us,
            sv.total.p99_us
        ));
    }
    s.push_str(&format!(
        "run time: {:.1} s on {} thread(s), of which the engine's filter {:.1} s\n",
        r.seconds, r.threads, r.filter_seconds
    ));
    s
}
