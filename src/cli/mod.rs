//! The command line (clap): `check` today; `serve`, `configure`, `quote`, `render` and the rest as they land.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::catalog;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the catalog has errors.
pub const EXIT_CATALOG_ERRORS: u8 = 1;
/// Exit code: a usage error, or an unknown product, option or value.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "bespoke", version, about = "Product-customization configurator backend", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// rustc-style text with source snippets
    Human,
    /// one JSON document
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a catalog directory and print every problem with its location.
    Check {
        /// The catalog directory (holding catalog/, rules/ and assets/).
        #[arg(default_value = ".", env = "BESPOKE_CATALOG")]
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Serve the catalog over HTTP (the default command).
    Serve,
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    ExitCode::from(execute(
        cli,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    ))
}

/// Runs a parsed command, writing to the given streams; returns the exit code.
pub fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Check { dir, format } => check(&dir, format, out, err),
        Command::Serve => {
            let _ = writeln!(
                err,
                "bespoke: the HTTP server is not built yet; `bespoke check [DIR]` validates a catalog"
            );
            EXIT_USAGE
        }
    }
}

fn check(dir: &std::path::Path, format: Format, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let result = match catalog::load_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "ok": !result.has_errors(),
                "errors": result.error_count(),
                "warnings": result.warning_count(),
                "catalog_version": result.catalog.as_ref().map(|c| c.version.clone()),
                "products": result.catalog.as_ref().map(|c| c.products().iter().map(|p| serde_json::json!({
                    "id": p.id, "version": p.version, "options": p.options.len(),
                    "constraints": p.constraints.len(), "price_rules": p.price_rules.len(),
                })).collect::<Vec<_>>()).unwrap_or_default(),
                "diagnostics": result.sources.to_json(&result.diagnostics),
            });
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            );
        }
        Format::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            if color {
                let mut s = codespan_reporting::term::termcolor::StandardStream::stdout(
                    codespan_reporting::term::termcolor::ColorChoice::Auto,
                );
                result.sources.render_to(&result.diagnostics, &mut s, true);
            } else {
                let _ = write!(out, "{}", result.render());
            }
            let products = result.catalog.as_ref().map_or(0, |c| c.products().len());
            let _ = writeln!(
                out,
                "{}: {} product{} loaded, {} error{}, {} warning{}",
                if result.has_errors() { "failed" } else { "ok" },
                products,
                if products == 1 { "" } else { "s" },
                result.error_count(),
                if result.error_count() == 1 { "" } else { "s" },
                result.warning_count(),
                if result.warning_count() == 1 { "" } else { "s" },
            );
        }
    }
    if result.has_errors() {
        EXIT_CATALOG_ERRORS
    } else {
        EXIT_OK
    }
}
