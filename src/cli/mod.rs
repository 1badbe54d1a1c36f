//! The command line (clap): parses the commands (check, serve, configure, count, quote, render, test, diff, import, analyze, history, recommend) and runs each through its module, with the exit codes they share.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::report;
use crate::catalog;
use crate::rules::{Engine, Selection};

mod history;
mod merchant;
mod quote;
mod recommend;
mod render;

mod serve;

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
        /// Skip rule analysis (dead values, impossible products, redundant rules, ...).
        #[arg(long)]
        no_analysis: bool,
    },
    /// Serve the catalog over HTTP (the default command).
    Serve(serve::ServeArgs),
    /// Print the exact, explained price of a selection (or its range while partial).
    Quote(quote::QuoteArgs),
    /// Render the preview image of a selection.
    Render(render::RenderArgs),
    /// Run the catalog's rule tests (rule-tests/*.yaml in the catalog directory).
    Test(merchant::TestArgs),
    /// Compare two catalog directories: options, counts, rules, affected orders.
    Diff(merchant::DiffArgs),
    /// Show which values are available for a (partial) selection, with explanations, validity,
    /// a repair for conflicts and a completion.
    Configure {
        /// The product id.
        product: String,
        /// Choices as option=value, in the order they were made.
        choices: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the exact number of valid configurations (extending the choices given).
    Count {
        product: String,
        choices: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Import a model from another configuration tool as a product and its rules.
    Import {
        #[command(subcommand)]
        format: ImportFormat,
    },
    /// Analyse rules: impossible products, dead and forced values, redundant rules, conflicting defaults.
    Analyze {
        /// One product (all when omitted).
        product: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// A product's sales history (what recommendations learn from): `import` feeds it.
    History {
        #[command(subcommand)]
        command: history::HistoryCommand,
    },
    /// Recommendations from order history: `eval` measures them on a sales history.
    Recommend {
        #[command(subcommand)]
        command: recommend::RecommendCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportFormat {
    /// XCSP 2.1 (extension constraints: supports and conflicts tables).
    Xcsp(ImportArgs),
    /// DIMACS CNF (names from `c <n> <name>` comment lines).
    Dimacs(ImportArgs),
    /// A Shopify/WooCommerce-style product CSV (variants, option values, prices, SKUs).
    Csv(ImportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The model file.
    pub(crate) file: PathBuf,
    /// Where the product goes: `<catalog dir>/catalog/<product-id>.yaml`; the rules go to
    /// `<catalog dir>/rules/`.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Options shared by the commands that read a catalog.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The catalog directory (holding catalog/, rules/ and assets/).
    #[arg(long, default_value = ".", env = "BESPOKE_CATALOG")]
    pub(crate) catalog: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    pub(crate) json: bool,
    /// Work limit for the rules engine (search and propagation steps).
    #[arg(long, default_value_t = crate::rules::engine::DEFAULT_WORK_LIMIT)]
    pub(crate) work_limit: u64,
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
    // Unlocked handles: the server logs to stderr from other threads.
    ExitCode::from(execute(cli, &mut std::io::stdout(), &mut std::io::stderr()))
}

/// Runs a parsed command, writing to the given streams; returns the exit code.
pub fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let command = match cli.command {
        Some(c) => c,
        None => match Cli::try_parse_from(["bespoke", "serve"]) {
            Ok(Cli {
                command: Some(c), ..
            }) => c,
            _ => return EXIT_USAGE,
        },
    };
    match command {
        Command::Check {
            dir,
            format,
            no_analysis,
        } => check(&dir, format, !no_analysis, out, err),
        Command::Configure {
            product,
            choices,
            common,
        } => configure(&common, &product, &choices, out, err),
        Command::Count {
            product,
            choices,
            common,
        } => engine_cmd(
            &common,
            &product,
            &choices,
            err,
            |engine, sel| match engine.count(sel) {
                Ok(n) => {
                    if common.json {
                        let _ = writeln!(
                            out,
                            "{}",
                            serde_json::json!({"product": engine.product.id, "count": n.to_string()})
                        );
                    } else {
                        let _ = writeln!(out, "{n}");
                    }
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            },
        ),
        Command::Analyze { product, common } => analyze(&common, product.as_deref(), out, err),
        Command::Import { format } => import(format, out, err),
        Command::Serve(args) => serve::run(args, out, err),
        Command::Quote(args) => quote::run(args, out, err),
        Command::Render(args) => render::run(args, out, err),
        Command::Test(args) => merchant::test(args, out, err),
        Command::Diff(args) => merchant::diff(args, out, err),
        Command::History { command } => history::run(command, out, err),
        Command::Recommend { command } => recommend::run(command, out, err),
    }
}

/// Loads the catalog; on errors prints them and returns the exit code.
pub(crate) fn load_catalog(common: &Common, err: &mut dyn Write) -> Result<catalog::Catalog, u8> {
    let result = match catalog::load_dir(&common.catalog) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Err(EXIT_USAGE);
        }
    };
    if result.has_errors() {
        let _ = write!(err, "{}", result.render());
        let _ = writeln!(
            err,
            "error: the catalog has {} error(s); run `bespoke check`",
            result.error_count()
        );
        return Err(EXIT_CATALOG_ERRORS);
    }
    result.catalog.ok_or(EXIT_CATALOG_ERRORS)
}

pub(crate) fn find_product(
    cat: &catalog::Catalog,
    id: &str,
    err: &mut dyn Write,
) -> Result<std::sync::Arc<catalog::Product>, u8> {
    match cat.product(id) {
        Some(p) => Ok(p.clone()),
        None => {
            let hint =
                catalog::expr::did_you_mean(id, cat.products().iter().map(|p| p.id.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
            let _ = writeln!(err, "error: unknown product `{id}`{hint}");
            Err(EXIT_USAGE)
        }
    }
}

/// Parses `option=value` arguments.
pub(crate) fn parse_choices(
    product: &catalog::Product,
    args: &[String],
    err: &mut dyn Write,
) -> Result<Selection, u8> {
    let mut pairs = Vec::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            let _ = writeln!(err, "error: `{a}` is not option=value");
            return Err(EXIT_USAGE);
        };
        pairs.push((k.trim().to_owned(), v.to_owned()));
    }
    Selection::parse(product, &pairs).map_err(|e| {
        let _ = writeln!(err, "error: {e}");
        EXIT_USAGE
    })
}

pub(crate) fn engine_cmd(
    common: &Common,
    product: &str,
    choices: &[String],
    err: &mut dyn Write,
    run: impl FnOnce(&Engine, &Selection) -> Result<(), String>,
) -> u8 {
    let go = || -> Result<(), u8> {
        let cat = load_catalog(common, err)?;
        let p = find_product(&cat, product, err)?;
        let sel = parse_choices(&p, choices, err)?;
        let engine = Engine::new(p).with_work_limit(common.work_limit);
        run(&engine, &sel).map_err(|e| {
            let _ = writeln!(err, "error: {e}");
            EXIT_CATALOG_ERRORS
        })
    };
    match go() {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

/// `bespoke configure`: the text report, or with `--json` the very document the HTTP API's
/// configure answers (`app::configure::Configuration`).
fn configure(
    common: &Common,
    product: &str,
    choices: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let (cat, p, sel) = match load_catalog(common, err).and_then(|cat| {
        let p = find_product(&cat, product, err)?;
        let sel = parse_choices(&p, choices, err)?;
        Ok((cat, p, sel))
    }) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let engine = Engine::new(p).with_work_limit(common.work_limit);
    let answer = || -> Result<String, String> {
        if common.json {
            // No history here: the recommender of an empty history (defaults), as a fresh
            // server's. `bespoke history import` feeds a server's database.
            let recommender = crate::recommend::Recommender::new(&engine.product);
            let personalize = crate::app::configure::Personalize {
                recommender: &recommender,
                customer: None,
            };
            let doc = crate::app::configure::configure(
                &engine,
                &cat.version,
                &sel,
                Some(personalize),
                crate::rules::Explain::All,
            )
            .map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
            return Ok(format!("{text}\n"));
        }
        let prop = engine.propagate(&sel).map_err(|e| e.to_string())?;
        let val = engine.validate(&sel);
        let rep = if prop.consistent {
            None
        } else {
            Some(engine.repair(&sel).map_err(|e| e.to_string())?)
        };
        let completion = engine.complete(&sel).map_err(|e| e.to_string())?;
        Ok(report::configure_text(
            &engine,
            &sel,
            &prop,
            &val,
            rep.as_ref(),
            completion.as_deref(),
        ))
    };
    match answer() {
        Ok(text) => {
            let _ = write!(out, "{text}");
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_CATALOG_ERRORS
        }
    }
}

fn analyze(common: &Common, product: Option<&str>, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let cat = match load_catalog(common, err) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let products: Vec<std::sync::Arc<catalog::Product>> = match product {
        Some(id) => match find_product(&cat, id, err) {
            Ok(p) => vec![p],
            Err(code) => return code,
        },
        None => cat.products().to_vec(),
    };
    let mut docs = Vec::new();
    let mut diags = Vec::new();
    let mut impossible = false;
    for p in products {
        let engine = Engine::new(p.clone()).with_work_limit(common.work_limit);
        let a = match engine.analyze() {
            Ok(a) => a,
            Err(e) => {
                let _ = writeln!(err, "error: {}: {e}", p.id);
                return EXIT_CATALOG_ERRORS;
            }
        };
        impossible |= a.impossible.is_some();
        let d = crate::rules::analyze::diagnostics(&engine, &a);
        let empty = Selection::default();
        docs.push(serde_json::json!({
            "product": p.id,
            "count": a.count.as_ref().map(|n| n.to_string()),
            "impossible": a.impossible.as_ref().map(|e| report::explanation_json(&engine, &empty, e)),
            "dead": a.dead.iter().map(|(o, i, e)| serde_json::json!({
                "option": p.options[*o].id, "value": report::index_json(&engine, *o, *i),
                "because": report::explanation_json(&engine, &empty, e),
            })).collect::<Vec<_>>(),
            "forced": a.forced.iter().map(|(o, i)| serde_json::json!({"option": p.options[*o].id, "value": report::index_json(&engine, *o, *i)})).collect::<Vec<_>>(),
            "redundant": a.redundant.iter().map(|&r| p.constraints[r].id.clone()).collect::<Vec<_>>(),
            "conflicting_defaults": a.conflicting_defaults.as_ref().map(|e| serde_json::json!({
                "options": e.choices.iter().map(|&o| p.options[o].id.clone()).collect::<Vec<_>>(),
                "rules": e.rules.iter().map(|&r| p.constraints[r].id.clone()).collect::<Vec<_>>(),
            })),
            "incomplete": a.incomplete,
            "diagnostics": cat.sources.to_json(&d),
        }));
        if !common.json {
            let _ = writeln!(
                out,
                "{}: {} valid configuration{}",
                p.id,
                a.count
                    .as_ref()
                    .map_or_else(|| "unknown (work limit)".to_owned(), |n| n.to_string()),
                if a.count
                    .as_ref()
                    .is_some_and(|n| *n == num_bigint::BigUint::from(1u8))
                {
                    ""
                } else {
                    "s"
                }
            );
        }
        diags.extend(d);
    }
    if common.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"products": docs}))
                .unwrap_or_default()
        );
    } else {
        let _ = write!(out, "{}", cat.sources.render(&diags));
    }
    if impossible {
        EXIT_CATALOG_ERRORS
    } else {
        EXIT_OK
    }
}

/// Writes an imported product's files under `root` once they load without errors (checked
/// exactly as `bespoke check` would), refusing to overwrite unless `force`; prints the
/// importer's report. Shared by every `bespoke import` format.
pub(crate) fn write_import(
    files: &catalog::FileSet,
    report: &str,
    root: &std::path::Path,
    force: bool,
    err: &mut dyn Write,
) -> Result<catalog::LoadResult, u8> {
    if !force && let Some(p) = files.paths().find(|p| root.join(p).exists()) {
        let _ = writeln!(
            err,
            "error: {} exists; use --force to overwrite",
            root.join(p).display()
        );
        return Err(EXIT_USAGE);
    }
    let result = catalog::load(files);
    if result.has_errors() {
        let _ = write!(err, "{}", result.render());
        return Err(EXIT_CATALOG_ERRORS);
    }
    if let Err(e) = files.write_to(root) {
        let _ = writeln!(err, "error: writing into {}: {e}", root.display());
        return Err(EXIT_USAGE);
    }
    if !report.is_empty() {
        let _ = write!(err, "{report}");
    }
    Ok(result)
}

fn import(format: ImportFormat, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let (args, xcsp) = match format {
        ImportFormat::Xcsp(a) => (a, true),
        ImportFormat::Dimacs(a) => (a, false),
        ImportFormat::Csv(a) => return merchant::import_csv(a, out, err),
    };
    let usage = |err: &mut dyn Write, msg: String| {
        let _ = writeln!(err, "error: {msg}");
        EXIT_USAGE
    };
    let Some(id) = args
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
    else {
        return usage(
            err,
            format!("{}: --out must name a .yaml file", args.out.display()),
        );
    };
    let in_catalog = args
        .out
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "catalog");
    if !in_catalog || args.out.extension().is_none_or(|e| e != "yaml") {
        return usage(
            err,
            format!(
                "{}: --out must be <catalog dir>/catalog/<product-id>.yaml",
                args.out.display()
            ),
        );
    }
    let root = args
        .out
        .parent()
        .and_then(|p| p.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    let text = match std::fs::read(&args.file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return usage(err, format!("{}: {e}", args.file.display())),
    };
    let imported = if xcsp {
        crate::rules::import::import_xcsp(&text, &id)
    } else {
        crate::rules::import::import_dimacs(&text, &id)
    };
    let imported = match imported {
        Ok(i) => i,
        Err(e) => return usage(err, format!("{}: {e}", args.file.display())),
    };
    let files = imported.files();
    let result = match write_import(&files, &imported.report(), &root, args.force, err) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let p = result.catalog.as_ref().and_then(|c| c.product(&id));
    let _ = writeln!(
        out,
        "imported `{id}`: {} options, {} constraints; wrote {}",
        p.map_or(0, |p| p.options.len()),
        p.map_or(0, |p| p.constraints.len()),
        files
            .paths()
            .map(|x| root.join(x).display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    EXIT_OK
}

fn check(
    dir: &std::path::Path,
    format: Format,
    analysis: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut result = match catalog::load_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    if analysis {
        crate::rules::analyze::check_catalog(
            &mut result,
            crate::rules::analyze::ANALYSIS_WORK_LIMIT,
        );
        crate::pricing::overlap::check_catalog(
            &mut result,
            crate::rules::analyze::ANALYSIS_WORK_LIMIT,
        );
    }
    match format {
        Format::Json => {
            let doc = crate::app::CheckReport::of(&result);
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
