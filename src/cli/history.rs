//! `bespoke history import`: feeds a product's sales history in the database from a file (the use case behind `POST /v1/admin/products/{id}/history`) and prints what it did, as text or JSON.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

use super::{EXIT_CATALOG_ERRORS, EXIT_OK, EXIT_USAGE};
use crate::app::personal::HistoryImport;
use crate::app::{App, AppError};
use crate::config::{Settings, WarmUpPlan};

/// Largest history file read (the HTTP import takes the same).
pub const MAX_HISTORY_FILE: u64 = crate::recommend::MAX_HISTORY_BYTES as u64;

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Import past sales of a product (CSV: a header of option ids, one sold configuration per
    /// row, an optional `count` column; whitespace-separated when the header has no comma).
    /// Idempotent per file content; rows naming unknown options or values are reported by line
    /// and left out; rows today's rules forbid are reported and kept.
    Import(ImportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The product id.
    product: String,
    /// The history file.
    file: PathBuf,
    /// The catalog directory (holding catalog/, rules/ and assets/).
    #[arg(long, default_value = ".", env = "BESPOKE_CATALOG")]
    catalog: PathBuf,
    /// Database: `sqlite://PATH` (default, under ./data) or `postgres://…` (the server's).
    #[arg(long, env = "DATABASE_URL", default_value = crate::db::DEFAULT_URL)]
    database_url: String,
    /// Print one JSON document (the HTTP import's answer).
    #[arg(long)]
    json: bool,
}

/// Runs `bespoke history …`.
pub(crate) fn run(command: HistoryCommand, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match command {
        HistoryCommand::Import(args) => import(&args, out, err),
    }
}

fn import(args: &ImportArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let bytes = match read_bounded(&args.file) {
        Ok(b) => b,
        Err(msg) => {
            let _ = writeln!(err, "error: {}: {msg}", args.file.display());
            return EXIT_USAGE;
        }
    };
    let settings = Settings {
        catalog_dir: args.catalog.clone(),
        database_url: args.database_url.clone(),
        watch: false,
        warm_up: WarmUpPlan::OFF,
        ..Settings::default()
    };
    let app = match App::start(settings) {
        Ok(a) => a,
        Err(AppError::CatalogRejected(_)) => {
            let _ = writeln!(
                err,
                "error: the catalog has errors; run `bespoke check {}` to see them",
                args.catalog.display()
            );
            return EXIT_CATALOG_ERRORS;
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let name = args.file.file_name().and_then(|n| n.to_str());
    match app.import_history(&args.product, name, &bytes) {
        Ok(report) => {
            let _ = if args.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                )
            } else {
                write_report(out, &report)
            };
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_USAGE
        }
    }
}

/// The file's bytes, refusing files over `MAX_HISTORY_FILE` before reading them.
fn read_bounded(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_HISTORY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_HISTORY_FILE {
        return Err(format!(
            "the file is larger than {MAX_HISTORY_FILE} bytes (the history import's limit); split it"
        ));
    }
    Ok(bytes)
}

fn write_report(out: &mut dyn Write, r: &HistoryImport) -> std::io::Result<()> {
    if r.new {
        writeln!(
            out,
            "{}: imported {} rows ({} sales), sha256 {}",
            r.product, r.rows, r.sales, r.content_sha256
        )?;
    } else {
        writeln!(
            out,
            "{}: this file was imported before (sha256 {}); nothing added",
            r.product, r.content_sha256
        )?;
    }
    if r.inconsistent > 0 {
        writeln!(
            out,
            "{} rows are not allowed by today's rules: kept (they inform preferences among the values the rules allow)",
            r.inconsistent
        )?;
    }
    for p in &r.problems {
        let what = if p.skipped { "left out" } else { "kept" };
        writeln!(out, "line {}: {} ({what})", p.line, p.message)?;
    }
    Ok(())
}
