//! Settings: one value loaded explicitly (flags, environment, defaults) and passed down; no globals.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A permission an API key can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Scope {
    /// Read the order feed (list, get, events).
    #[serde(rename = "orders:read")]
    OrdersRead,
    /// Change an order's status.
    #[serde(rename = "orders:write")]
    OrdersWrite,
    /// Reload and inspect catalogs, check catalogs without deploying them.
    #[serde(rename = "admin")]
    Admin,
    /// Read the operational metrics (`GET /metrics`), for a Prometheus scraper.
    #[serde(rename = "metrics:read")]
    MetricsRead,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
            Scope::Admin => "admin",
            Scope::MetricsRead => "metrics:read",
        }
    }
}

/// One API key, stored as the hex SHA-256 of the secret (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Who holds the key (shown in logs, never the secret).
    pub name: String,
    /// Lower-case hex SHA-256 of the bearer token.
    pub sha256: String,
    pub scopes: Vec<Scope>,
}

impl ApiKey {
    /// The stored form of a secret.
    pub fn hash(secret: &str) -> String {
        hex(&Sha256::digest(secret.as_bytes()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The keys file: `keys: [{name, sha256, scopes}]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<ApiKey>,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the API keys file {path}: {source}")]
    KeysRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the API keys file {path} is not valid: {message}")]
    KeysInvalid { path: PathBuf, message: String },
}

/// How far a loaded catalog version's rules engines are warmed in the background (see
/// `rules::Engine::warm`). The version serves meanwhile; warming only makes answers faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WarmUp {
    /// Nothing: the first customers pay for what the engines learn.
    Off,
    /// The empty selection of every product (dead values, a first pool of solutions).
    Empty,
    /// Also every single choice of every product: the explanations most unavailable values
    /// need later. One core for a while after each load (minutes for a 270-option model).
    Choices,
    /// Then, once every product's single choices are done, every pair of choices that can go
    /// together: the explanations that combinations of two choices need, which otherwise cost
    /// a new customer's click milliseconds each. One core for minutes (100-option model) to
    /// hours (larger ones) after each load, bounded by the plan's time limit and by each
    /// engine's memory for explanations.
    Pairs,
}

impl WarmUp {
    /// The engine's level, `None` for `Off`.
    pub fn level(self) -> Option<crate::rules::Warmth> {
        match self {
            WarmUp::Off => None,
            WarmUp::Empty => Some(crate::rules::Warmth::Empty),
            WarmUp::Choices => Some(crate::rules::Warmth::Choices),
            WarmUp::Pairs => Some(crate::rules::Warmth::Pairs),
        }
    }
}

/// How far a loaded catalog version is warmed, for how long at most, and how much each of its
/// engines may remember.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmUpPlan {
    pub level: WarmUp,
    /// The warm-up of one version stops after this long; what it learned stays.
    pub limit: std::time::Duration,
    /// Bytes each engine may keep of explanations (what the warm-up and customers' selections
    /// learn; the pair warm-up uses three quarters at most).
    pub memory: usize,
    /// Threads the warm-up runs on (each on its own core; requests share the rest).
    pub threads: usize,
    /// Keep what the engines learn in the database (as the warm-up goes, then every few
    /// minutes), and restore it when a version loads: a restart, or another instance on the
    /// same database, resumes where the last left off instead of warming from scratch.
    pub persist: bool,
}

impl WarmUpPlan {
    /// No warm-up (versions loaded only to re-check orders).
    pub const OFF: WarmUpPlan = WarmUpPlan {
        level: WarmUp::Off,
        limit: std::time::Duration::ZERO,
        memory: crate::rules::engine::DEFAULT_EXPLANATION_MEMORY,
        threads: 1,
        persist: false,
    };
}

/// The default time limit of a version's warm-up: two hours of one core, enough for every pair of
/// a 270-option car model (the sample catalog takes well under a second). What a warm-up has
/// learned carries over to later versions for every product whose rules are unchanged.
pub const WARM_UP_LIMIT_SECS: u64 = 7200;

/// Where blobs (uploads and their originals, print files) are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BlobStoreKind {
    /// In the database (`blobs` table): every instance on the same database answers the same.
    Database,
    /// As files under `--data-dir`: single node only (another instance does not see them).
    Directory,
}

/// Days an upload no design or order refers to is kept by default: long enough for a customer
/// to come back to a cart, short enough not to keep every abandoned photo.
pub const UPLOAD_RETENTION_DAYS: u64 = 30;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// `sqlite://path`, a bare path, or `postgres://…`.
    pub database_url: String,
    /// The catalog directory (holding catalog/, rules/ and assets/).
    pub catalog_dir: PathBuf,
    /// Where the directory blob store keeps its files (uploads, originals, print files).
    pub data_dir: PathBuf,
    /// Where blobs are kept. Default: `database` (`--blob-store`).
    pub blob_store: BlobStoreKind,
    /// Bytes all image decodes of the process may hold at once (uploads, and the uploads a
    /// preview draws); beyond it a decode is answered 503 with Retry-After. Default: 512 MiB
    /// (`--decode-budget-mb`).
    pub decode_budget: u64,
    /// How long an upload that no design or order refers to is kept; `None` keeps uploads
    /// forever. Default: 30 days (`--upload-retention-days`, 0 = forever).
    pub upload_retention: Option<std::time::Duration>,
    /// Origins allowed by CORS (`*` allows any).
    pub cors_origins: Vec<String>,
    pub api_keys: Vec<ApiKey>,
    /// Largest JSON request body, in bytes.
    pub json_limit: usize,
    /// Largest upload, in bytes.
    pub upload_limit: usize,
    /// Watch the catalog directory and reload on change.
    pub watch: bool,
    /// Work limit for the rules engine per request.
    pub work_limit: u64,
    /// How long after a configure request starts its unavailable values' reasons are worked
    /// out; past it a reason the engine does not already know is deferred (`reason_deferred`,
    /// given by `POST /v1/products/{id}/explain`). `None`: every reason, however long it takes.
    /// Default: 25 ms (`--explain-within-ms`, 0 = every reason).
    pub explain_within: Option<std::time::Duration>,
    /// How far each catalog version's engines are warmed, in the background, when it loads.
    pub warm_up: WarmUpPlan,
    /// Print logs as JSON lines.
    pub log_json: bool,
    /// Resolution of the print file rendered for each order.
    pub print_dpi: u32,
    /// Print areas' files: the per-file pixel budget, the inline threshold and the job's
    /// worker threads (see [`PrintSettings`]).
    pub print: PrintSettings,
    /// How long a saved design stays readable (and can be ordered) after it is saved; `None`
    /// keeps designs forever. Default: 90 days (`--design-retention-days`, 0 = forever).
    pub design_retention: Option<std::time::Duration>,
    /// Webhook delivery (see [`WebhookSettings`]).
    pub webhooks: WebhookSettings,
}

/// How webhooks are checked and delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Accept webhook URLs that resolve to loopback, private, link-local, unique-local,
    /// unspecified or multicast addresses (refused by default: server-side request forgery).
    /// Default: false (`--webhook-allow-private`, `BESPOKE_WEBHOOK_ALLOW_PRIVATE=1`).
    pub allow_private: bool,
    /// Delivery threads of this instance; 0 delivers nothing (another instance does).
    /// Default: 4 (`--webhook-workers`).
    pub workers: usize,
    /// How often an idle worker looks for due deliveries (an event written by this process wakes
    /// it at once; this catches retries that fall due and other instances' events). Default: 1 s.
    pub poll: std::time::Duration,
    /// How long a claimed delivery stays with its worker: a worker that dies holding one gives
    /// it up after this. Must exceed `timeout`. Default: 60 s.
    pub lease: std::time::Duration,
    /// Time limit of one delivery request (connect, send, answer). Default: 10 s.
    pub timeout: std::time::Duration,
    /// Retry schedule. Default: 10 s doubling to 1 h, given up after 25 h.
    pub retry: crate::orders::RetryPolicy,
    /// How long events and their delivery log are kept once no delivery of theirs is pending
    /// (checked hourly by the workers). Default: 30 days.
    pub retention: std::time::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            workers: 4,
            poll: std::time::Duration::from_secs(1),
            lease: std::time::Duration::from_secs(60),
            timeout: std::time::Duration::from_secs(10),
            retry: crate::orders::RetryPolicy::default(),
            retention: std::time::Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// How orders' print-area files are made (docs/persistence.md, "Print files").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintSettings {
    /// Largest file, in pixels; an order whose area would be larger is refused (422).
    /// Default: [`crate::preview::print::DEFAULT_MAX_PIXELS`] (`--print-max-pixels`).
    pub max_pixels: u64,
    /// An order whose areas together have at most this many pixels gets its files rendered
    /// before it is answered; larger ones go to the durable print job. Default:
    /// [`DEFAULT_PRINT_INLINE_PIXELS`] (`--print-inline-pixels`, 0 sends every order to the job).
    pub inline_pixels: u64,
    /// Threads that run print jobs in this process; 0 runs none (another instance on the same
    /// database does). Default: 1 (`--print-workers`).
    pub workers: usize,
}

/// Default inline threshold, in pixels: 2 megapixels (a 20 x 20 cm print at 150 dpi is 1.4 MP)
/// render in about a tenth of a second, within an order request's time; larger files would
/// hold the request (and its blocking thread) for seconds.
pub const DEFAULT_PRINT_INLINE_PIXELS: u64 = 2_000_000;

impl Default for PrintSettings {
    fn default() -> Self {
        PrintSettings {
            max_pixels: crate::preview::print::DEFAULT_MAX_PIXELS,
            inline_pixels: DEFAULT_PRINT_INLINE_PIXELS,
            workers: 1,
        }
    }
}

/// Milliseconds a configure answer works out reasons for by default (`--explain-within-ms`).
pub const EXPLAIN_WITHIN_MS: u64 = 25;

/// Days a saved design is kept by default: a season of carts and shared links.
pub const DESIGN_RETENTION_DAYS: u64 = 90;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: crate::db::DEFAULT_URL.to_owned(),
            catalog_dir: PathBuf::from("."),
            data_dir: PathBuf::from("data"),
            blob_store: BlobStoreKind::Database,
            decode_budget: crate::preview::budget::DEFAULT_DECODE_BUDGET_MB << 20,
            upload_retention: Some(std::time::Duration::from_secs(
                UPLOAD_RETENTION_DAYS * 24 * 3600,
            )),
            cors_origins: Vec::new(),
            api_keys: Vec::new(),
            json_limit: 256 * 1024,
            upload_limit: 8 * 1024 * 1024,
            watch: true,
            work_limit: crate::rules::engine::DEFAULT_WORK_LIMIT,
            explain_within: Some(std::time::Duration::from_millis(EXPLAIN_WITHIN_MS)),
            warm_up: WarmUpPlan {
                level: WarmUp::Pairs,
                limit: std::time::Duration::from_secs(WARM_UP_LIMIT_SECS),
                memory: crate::rules::engine::DEFAULT_EXPLANATION_MEMORY,
                threads: 1,
                persist: true,
            },
            log_json: false,
            print_dpi: 150,
            print: PrintSettings::default(),
            design_retention: Some(std::time::Duration::from_secs(
                DESIGN_RETENTION_DAYS * 24 * 3600,
            )),
            webhooks: WebhookSettings::default(),
        }
    }
}

impl Settings {
    /// Reads API keys from a YAML file (`keys: [{name, sha256, scopes: [orders:read, …]}]`).
    pub fn load_keys(path: &Path) -> Result<Vec<ApiKey>, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::KeysRead {
            path: path.to_owned(),
            source,
        })?;
        let file: KeysFile =
            serde_saphyr::from_str(&text).map_err(|e| ConfigError::KeysInvalid {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        for k in &file.keys {
            if k.sha256.len() != 64 || !k.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::KeysInvalid {
                    path: path.to_owned(),
                    message: format!(
                        "key `{}`: sha256 must be 64 hex digits (the SHA-256 of the secret, e.g. `printf %s SECRET | sha256sum`)",
                        k.name
                    ),
                });
            }
        }
        Ok(file
            .keys
            .into_iter()
            .map(|mut k| {
                k.sha256.make_ascii_lowercase();
                k
            })
            .collect())
    }

    /// The key a bearer token belongs to, compared by hash.
    pub fn key_for(&self, token: &str) -> Option<&ApiKey> {
        let h = ApiKey::hash(token);
        self.api_keys.iter().find(|k| k.sha256 == h)
    }
}
