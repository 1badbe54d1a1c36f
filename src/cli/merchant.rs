//! Merchant tools on the command line: `bespoke test` (rule tests), `bespoke diff` (change impact) and `bespoke import csv` (shop CSV import); the logic lives in `crate::merchant`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{Common, EXIT_CATALOG_ERRORS, EXIT_OK, EXIT_USAGE, ImportArgs, load_catalog};
use crate::catalog;
use crate::merchant::{csv, diff, tests};

/// Where rule tests live, relative to the catalog directory (see docs/merchant.md for why not
/// `rules/tests/`: the loader reads every YAML file under `rules/` as a rules file).
pub const TESTS_DIR: &str = "rule-tests";

/// Arguments of `bespoke test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Run only the cases whose product id or name contains this text.
    pub(crate) filter: Option<String>,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Arguments of `bespoke diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// The catalog directory before the change.
    pub(crate) old: PathBuf,
    /// The catalog directory after the change.
    pub(crate) new: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    pub(crate) json: bool,
    /// Work limit for the rules engine (per count).
    #[arg(long, default_value_t = crate::rules::engine::DEFAULT_WORK_LIMIT)]
    pub(crate) work_limit: u64,
    /// Also check the open orders stored in this database (sqlite://path or postgres://...)
    /// against NEW: which would now be invalid or priced differently.
    #[arg(long)]
    pub(crate) database_url: Option<String>,
}

/// Most stored orders `bespoke diff --database-url` reads.
pub const MAX_ORDERS: usize = 1_000_000;

/// Reads the open (not shipped or cancelled) orders of a database, at most [`MAX_ORDERS`].
fn open_orders(url: &str) -> Result<(Vec<diff::StoredOrder>, bool), String> {
    let db = crate::db::Db::connect(url).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut read = 0usize;
    loop {
        let page = db
            .list_orders(
                crate::orders::OrderFilter::default(),
                cursor.as_deref(),
                crate::orders::MAX_PAGE_LIMIT,
            )
            .map_err(|e| e.to_string())?;
        for o in &page.items {
            read += 1;
            if !o.status.is_terminal() {
                out.push(diff::StoredOrder::from_json(
                    &o.id,
                    &o.product_id,
                    &o.selection,
                    &o.quote,
                ));
            }
        }
        match page.next_cursor {
            Some(c) if read < MAX_ORDERS => cursor = Some(c),
            Some(_) => return Ok((out, true)),
            None => return Ok((out, false)),
        }
    }
}

/// Reads `<dir>/rule-tests/*.yaml` (sorted, bounded). `Ok(None)`: the folder does not exist.
fn read_tests(dir: &Path) -> Result<Option<Vec<(String, String)>>, String> {
    let folder = dir.join(TESTS_DIR);
    if !folder.is_dir() {
        return Ok(None);
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    if paths.len() > tests::MAX_FILES {
        return Err(format!(
            "{}: more than {} test files",
            folder.display(),
            tests::MAX_FILES
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        let mut bytes = Vec::new();
        std::fs::File::open(&p)
            .and_then(|f| {
                f.take(catalog::yaml::MAX_YAML_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(|e| format!("{}: {e}", p.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{}: the file is not UTF-8 text", p.display()))?;
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        out.push((format!("{TESTS_DIR}/{name}"), text));
    }
    Ok(Some(out))
}

/// Runs `bespoke test`.
pub fn test(args: TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let cat = match load_catalog(&args.common, err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let files = match read_tests(&args.common.catalog) {
        Ok(Some(f)) if !f.is_empty() => f,
        Ok(_) => {
            let _ = writeln!(
                err,
                "error: no rule tests: add {}/{TESTS_DIR}/<product>.yaml (see docs/merchant.md)",
                args.common.catalog.display()
            );
            return EXIT_USAGE;
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let suite = tests::Suite::read(&cat, &files);
    let report = suite.run(args.common.work_limit, args.filter.as_deref());
    if args.common.json {
        let mut doc = report.to_json();
        doc["ok"] = serde_json::json!(report.ok() && !suite.has_errors());
        doc["diagnostics"] = suite.sources.to_json(&suite.diagnostics);
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        if !suite.diagnostics.is_empty() {
            let _ = write!(err, "{}", suite.sources.render(&suite.diagnostics));
        }
        let _ = write!(out, "{}", report.to_text());
        if suite.has_errors() {
            let _ = writeln!(
                err,
                "error: the rule tests have errors; the cases with errors did not run"
            );
        }
    }
    if report.ok() && !suite.has_errors() {
        EXIT_OK
    } else {
        EXIT_CATALOG_ERRORS
    }
}

/// Runs `bespoke diff`.
pub fn diff(args: DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let common = |dir: &PathBuf| Common {
        catalog: dir.clone(),
        json: args.json,
        work_limit: args.work_limit,
    };
    let old = match load_catalog(&common(&args.old), err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let new = match load_catalog(&common(&args.new), err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let orders = match &args.database_url {
        None => None,
        Some(url) => match open_orders(url) {
            Ok((orders, truncated)) => {
                let found = diff::check_orders(&new, &orders, &diff::quoted_total);
                Some((orders.len(), truncated, found))
            }
            Err(e) => {
                let _ = writeln!(err, "error: reading orders: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let d = diff::diff_catalogs(&old, &new, args.work_limit);
    if args.json {
        let mut doc = d.to_json();
        if let Some((checked, truncated, found)) = &orders {
            doc["orders"] = serde_json::json!({
                "checked": checked,
                "truncated": truncated,
                "affected": diff::orders_json(found),
            });
        }
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = write!(out, "{}", d.to_text());
        if let Some((checked, truncated, found)) = &orders {
            let _ = write!(out, "{}", diff::orders_text(found));
            let _ = writeln!(
                out,
                "{} of {checked} open order{} affected{}",
                found.len(),
                if *checked == 1 { "" } else { "s" },
                if *truncated {
                    format!(" (stopped after reading {MAX_ORDERS} orders)")
                } else {
                    String::new()
                }
            );
        }
    }
    EXIT_OK
}

/// Splits `--out <dir>/catalog/<id>.yaml` into the catalog directory and the product id.
fn out_target(out: &Path) -> Result<(PathBuf, String), String> {
    let id = out
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("{}: --out must name a .yaml file", out.display()))?;
    let in_catalog = out
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "catalog");
    if !in_catalog || out.extension().is_none_or(|e| e != "yaml") {
        return Err(format!(
            "{}: --out must be <catalog dir>/catalog/<product-id>.yaml",
            out.display()
        ));
    }
    let root = out
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    Ok((root, id))
}

/// Runs `bespoke import csv`.
pub fn import_csv(args: ImportArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let usage = |err: &mut dyn Write, msg: String| {
        let _ = writeln!(err, "error: {msg}");
        EXIT_USAGE
    };
    let (root, id) = match out_target(&args.out) {
        Ok(t) => t,
        Err(m) => return usage(err, m),
    };
    let mut bytes = Vec::new();
    if let Err(e) = std::fs::File::open(&args.file).and_then(|f| {
        f.take(csv::MAX_INPUT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
    }) {
        return usage(err, format!("{}: {e}", args.file.display()));
    }
    let text = String::from_utf8_lossy(&bytes);
    let imported = match csv::import_csv(&text, &id) {
        Ok(i) => i,
        Err(e) => return usage(err, format!("{}: {e}", args.file.display())),
    };
    let files = imported.files();
    let report = imported.report();
    if let Err(code) = super::write_import(&files, &report, &root, args.force, err) {
        return code;
    }
    let _ = writeln!(
        out,
        "imported `{id}`: {} options, {} variants{}; wrote {}",
        imported.options.len(),
        imported.variants.len(),
        if imported.all_combinations {
            " (every combination sold)"
        } else {
            ""
        },
        files
            .paths()
            .map(|x| root.join(x).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    EXIT_OK
}
