//! `bespoke serve` (the default command): settings from flags and environment, logging, then the HTTP server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::app::App;
use crate::config::Settings;

/// Arguments of `bespoke serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BESPOKE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database: `sqlite://PATH` (default, under ./data) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = crate::db::DEFAULT_URL)]
    pub database_url: String,
    /// The catalog directory (holding catalog/, rules/ and assets/).
    #[arg(long, env = "BESPOKE_CATALOG", default_value = ".")]
    pub catalog: PathBuf,
    /// Where the directory blob store keeps uploads and print files (`--blob-store directory`).
    #[arg(long, env = "BESPOKE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Where uploads, their originals and print files are kept: `database` (every instance on
    /// the same database answers the same) or `directory` (files under --data-dir; single
    /// node only).
    #[arg(
        long,
        env = "BESPOKE_BLOB_STORE",
        value_enum,
        default_value = "database"
    )]
    pub blob_store: crate::config::BlobStoreKind,
    /// MiB all image decodes may hold at once (uploads, previews drawing them); beyond it a
    /// decode is answered 503 with Retry-After.
    #[arg(long, env = "BESPOKE_DECODE_BUDGET_MB", default_value_t = crate::preview::budget::DEFAULT_DECODE_BUDGET_MB, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub decode_budget_mb: u64,
    /// Days an upload no design or order refers to is kept (0 keeps uploads forever).
    #[arg(long, env = "BESPOKE_UPLOAD_RETENTION_DAYS", default_value_t = crate::config::UPLOAD_RETENTION_DAYS, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub upload_retention_days: u64,
    /// API keys file (YAML: `keys: [{name, sha256, scopes}]`).
    #[arg(long, env = "BESPOKE_API_KEYS")]
    pub api_keys: Option<PathBuf>,
    /// Allowed CORS origin (repeatable; `*` for any).
    #[arg(
        long = "cors-origin",
        env = "BESPOKE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Resolution of each order's print file (72–600).
    #[arg(long, env = "BESPOKE_PRINT_DPI", default_value_t = 150, value_parser = clap::value_parser!(u32).range(72..=600))]
    pub print_dpi: u32,
    /// Largest print-area file, in pixels; an order whose file would be larger is refused.
    #[arg(long, env = "BESPOKE_PRINT_MAX_PIXELS", default_value_t = crate::preview::print::DEFAULT_MAX_PIXELS, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub print_max_pixels: u64,
    /// Orders whose print areas together have at most this many pixels get their files before
    /// the answer; larger ones are rendered by the durable print job (0: always the job).
    #[arg(long, env = "BESPOKE_PRINT_INLINE_PIXELS", default_value_t = crate::config::DEFAULT_PRINT_INLINE_PIXELS)]
    pub print_inline_pixels: u64,
    /// Threads running print jobs in this process (0: none; another instance runs them).
    #[arg(long, env = "BESPOKE_PRINT_WORKERS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=64))]
    pub print_workers: u64,
    /// Days a saved design stays readable and orderable (0 keeps designs forever).
    #[arg(long, env = "BESPOKE_DESIGN_RETENTION_DAYS", default_value_t = crate::config::DESIGN_RETENTION_DAYS, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub design_retention_days: u64,
    /// How far each loaded catalog version's rules engines are warmed in the background:
    /// `pairs` precomputes the explanations of every single choice, then of every pair of
    /// choices (one core for minutes to hours after each load, see --warm-up-limit),
    /// `choices` only single choices, `empty` only the empty selection, `off` nothing.
    #[arg(long, env = "BESPOKE_WARM_UP", value_enum, default_value = "pairs")]
    pub warm_up: crate::config::WarmUp,
    /// Seconds a version's warm-up may run at most (what it learned by then stays).
    #[arg(long, env = "BESPOKE_WARM_UP_LIMIT", default_value_t = crate::config::WARM_UP_LIMIT_SECS)]
    pub warm_up_limit: u64,
    /// MiB each product's rules engine may keep of explanations (the warm-up uses three
    /// quarters at most); a bound, not a reservation (a 270-option model's pairs take about
    /// 150 MB, the sample products under 1 MB).
    #[arg(long, env = "BESPOKE_EXPLANATION_MEMORY_MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub explanation_memory_mib: u64,
    /// Milliseconds after a configure request starts during which its unavailable values'
    /// reasons are worked out; past them a reason the engine does not already know is
    /// deferred (`reason_deferred`) and `POST /v1/products/{id}/explain` gives it on request.
    /// Bounds a click on large catalogs (a click can exclude fifty values whose minimal
    /// reasons take seconds together). 0: every reason, however long it takes.
    #[arg(long, env = "BESPOKE_EXPLAIN_WITHIN_MS", default_value_t = crate::config::EXPLAIN_WITHIN_MS, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub explain_within_ms: u64,
    /// Threads each version's warm-up runs on. One leaves the other cores to requests; on a
    /// host with cores to spare, more finish a large model's pairs sooner.
    #[arg(long, env = "BESPOKE_WARM_UP_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub warm_up_threads: u64,
    /// Do not keep what the rules engines learn in the database. By default it is stored as
    /// the warm-up goes (and every few minutes after), and restored when a version loads, so
    /// that a restart or another instance on the same database does not warm from scratch.
    #[arg(long, env = "BESPOKE_NO_PERSIST_LEARNING")]
    pub no_persist_learning: bool,
    /// Accept webhook URLs on loopback or private networks (refused by default, against
    /// server-side request forgery): for tests and private deployments. The variable takes
    /// `1`/`0` as well as `true`/`false`.
    #[arg(long, env = "BESPOKE_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private: bool,
    /// Threads delivering webhooks (0: this instance delivers none; another on the same
    /// database does).
    #[arg(long, env = "BESPOKE_WEBHOOK_WORKERS", default_value_t = 4, value_parser = clap::value_parser!(u64).range(0..=64))]
    pub webhook_workers: u64,
    /// Do not watch the catalog directory for changes.
    #[arg(long)]
    pub no_watch: bool,
    /// Log JSON lines instead of text.
    #[arg(long, env = "BESPOKE_LOG_JSON")]
    pub log_json: bool,
}

impl ServeArgs {
    /// The settings these arguments describe.
    pub fn settings(&self) -> Result<Settings, crate::config::ConfigError> {
        let api_keys = match &self.api_keys {
            Some(p) => Settings::load_keys(p)?,
            None => Vec::new(),
        };
        Ok(Settings {
            listen: self.listen,
            database_url: self.database_url.clone(),
            catalog_dir: self.catalog.clone(),
            data_dir: self.data_dir.clone(),
            blob_store: self.blob_store,
            decode_budget: self.decode_budget_mb << 20,
            upload_retention: (self.upload_retention_days > 0)
                .then(|| std::time::Duration::from_secs(self.upload_retention_days * 24 * 3600)),
            cors_origins: self.cors_origins.clone(),
            api_keys,
            watch: !self.no_watch,
            log_json: self.log_json,
            print_dpi: self.print_dpi,
            print: crate::config::PrintSettings {
                max_pixels: self.print_max_pixels,
                inline_pixels: self.print_inline_pixels,
                workers: usize::try_from(self.print_workers).unwrap_or(1),
            },
            explain_within: (self.explain_within_ms > 0)
                .then(|| std::time::Duration::from_millis(self.explain_within_ms)),
            design_retention: (self.design_retention_days > 0)
                .then(|| std::time::Duration::from_secs(self.design_retention_days * 24 * 3600)),
            warm_up: crate::config::WarmUpPlan {
                level: self.warm_up,
                limit: std::time::Duration::from_secs(self.warm_up_limit),
                memory: usize::try_from(self.explanation_memory_mib)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(1 << 20),
                threads: usize::try_from(self.warm_up_threads).unwrap_or(1),
                persist: !self.no_persist_learning,
            },
            webhooks: crate::config::WebhookSettings {
                allow_private: self.webhook_allow_private,
                workers: usize::try_from(self.webhook_workers).unwrap_or(4),
                ..crate::config::WebhookSettings::default()
            },
            ..Settings::default()
        })
    }
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("BESPOKE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs `bespoke serve`.
pub fn run(args: ServeArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return super::EXIT_USAGE;
        }
    };
    init_logging(settings.log_json);
    let app = match App::start(settings) {
        Ok(a) => a,
        Err(crate::app::AppError::CatalogRejected(rejection)) => {
            let _ = writeln!(
                err,
                "error: the catalog has errors; run `bespoke check` to see them\n{}",
                serde_json::to_string_pretty(&rejection).unwrap_or_default()
            );
            return super::EXIT_CATALOG_ERRORS;
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return super::EXIT_USAGE;
        }
    };
    match crate::http::serve(app) {
        Ok(()) => super::EXIT_OK,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            super::EXIT_CATALOG_ERRORS
        }
    }
}
