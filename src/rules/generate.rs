//! Seeded, deterministic generators of benchmark catalogs (car-configurator and feature-model shaped, and small random models for property tests), written as catalog YAML text.
//!
//! Everything here produces *text* (a product file and a rules file) that
//! [`crate::catalog::load`] then loads, so a generated model passes through the same loader as a
//! merchant's catalog. Randomness comes from [`Rng`], a SplitMix64 written out here, and no
//! floating point is used: a seed gives byte-identical output on every platform and with every
//! version of every dependency.
//!
//! - [`car_model`] / [`car_model_with`]: options grouped into subsystems, table constraints
//!   (mostly within a subsystem), a few implications and an arithmetic rule; satisfiable by
//!   construction (hidden configurations are planted and returned in [`Generated::witnesses`]).
//! - [`feature_model`]: a Boolean feature tree plus cross-tree constraints, one `require:` clause
//!   per constraint; satisfiable by construction.
//! - [`random_small`]: tiny random models of every option type, *not* guaranteed satisfiable, for
//!   property tests against brute force.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::catalog::FileSet;
use crate::catalog::yaml::{MAX_EVENTS, MAX_YAML_BYTES};

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a tiny, fast, portable PRNG. The same seed gives the same stream everywhere.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (0 when `n` is 0 or 1), without modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let n = n as u64;
        let limit = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < limit {
                return (x % n) as usize;
            }
        }
    }

    /// A uniform integer in `lo..=hi` (`lo` when `hi <= lo`).
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// True with probability `permille / 1000`.
    pub fn chance(&mut self, permille: u32) -> bool {
        (self.below(1000) as u64) < u64::from(permille)
    }

    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }

    /// `k` distinct integers from `0..n` (all of them if `k >= n`), in random order.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let k = k.min(n);
        let mut v: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }

    /// Two distinct integers from `0..n` (`n >= 2`; `(0, 0)` otherwise).
    pub fn pair(&mut self, n: usize) -> (usize, usize) {
        if n < 2 {
            return (0, 0);
        }
        let a = self.below(n);
        let mut b = self.below(n - 1);
        if b >= a {
            b += 1;
        }
        (a, b)
    }

    /// Picks an index with probability proportional to its weight (0 for an empty or all-zero list).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.below(total as usize) as u64;
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }
}

// ---------------------------------------------------------------------------------------------
// The generated (or imported) catalog text
// ---------------------------------------------------------------------------------------------

/// A valid configuration: option id → value as written in rules (`v3`, `true`, `42`).
/// Optional options left unset are absent.
pub type Witness = BTreeMap<String, String>;

/// One product as catalog YAML text: the product file and its rules file(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The product id; the files are `catalog/<id>.yaml` and `rules/<id>.yaml`.
    pub product_id: String,
    pub product_yaml: String,
    pub rules_yaml: String,
    /// Further rules files, only when the rules exceed what one file may hold (1 MiB, 200,000
    /// YAML nodes): `rules/<id>-2.yaml`, `rules/<id>-3.yaml`, … The product lists them all.
    /// Always empty for the generators at the documented sizes; used by large imports.
    pub extra_rules_yaml: Vec<String>,
    /// Table files (path under `rules/`, CSV text) for the tables too large to read well as
    /// YAML (more than [`CSV_TABLE_ROWS`] rows): `rules/<id>/<rule id>.csv`.
    pub table_files: Vec<(String, String)>,
    /// Configurations known to be valid (planted by the generator); empty when none is known.
    pub witnesses: Vec<Witness>,
}

impl Generated {
    /// `catalog/<id>.yaml`.
    pub fn product_path(&self) -> String {
        format!("catalog/{}.yaml", self.product_id)
    }

    /// `rules/<id>.yaml`, then `rules/<id>-2.yaml`, … for the extra rules files.
    pub fn rules_paths(&self) -> Vec<String> {
        rules_paths(&self.product_id, 1 + self.extra_rules_yaml.len())
    }

    /// The files, ready for [`crate::catalog::load`]. (Writing them to disk is left to the
    /// caller: the rules engine does no file IO, see ARCHITECTURE.md.)
    pub fn files(&self) -> FileSet {
        let mut set = FileSet::new();
        set.insert(self.product_path(), self.product_yaml.clone().into_bytes());
        let texts = std::iter::once(&self.rules_yaml).chain(&self.extra_rules_yaml);
        for (path, text) in self.rules_paths().into_iter().zip(texts) {
            set.insert(path, text.clone().into_bytes());
        }
        for (path, text) in &self.table_files {
            set.insert(path.clone(), text.clone().into_bytes());
        }
        set
    }
}

fn rules_paths(id: &str, n: usize) -> Vec<String> {
    (0..n.max(1))
        .map(|i| {
            if i == 0 {
                format!("rules/{id}.yaml")
            } else {
                format!("rules/{id}-{}.yaml", i + 1)
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A small model of catalog text, and its YAML writer (shared with the importers)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Choice {
        values: Vec<String>,
        required: bool,
    },
    Boolean,
    Integer {
        min: i64,
        max: i64,
        step: i64,
        required: bool,
    },
    Text {
        min_len: u32,
        max_len: u32,
        required: bool,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Opt {
    pub id: String,
    pub label: Option<String>,
    pub group: Option<String>,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cell {
    Any,
    /// One value (written as a scalar) or several (written as a list).
    Values(Vec<String>),
}

#[derive(Debug, Clone)]
pub(crate) enum Form {
    Require(String),
    Forbid(String),
    IfThen(String, String),
    Table {
        options: Vec<String>,
        allow: bool,
        rows: Vec<Vec<Cell>>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    pub message: String,
    pub form: Form,
}

/// A product and its rules, before they are written as YAML.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `#` comment lines at the top of both files.
    pub comment: Vec<String>,
    pub groups: Vec<(String, String)>,
    pub options: Vec<Opt>,
    pub rules: Vec<Rule>,
}

/// The written model with the size figures the loader's limits are about.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub generated: Generated,
    /// Estimated YAML events (nodes plus collection ends) of the product file.
    pub product_events: usize,
    /// Estimated YAML events of each rules file, in order.
    pub rules_events: Vec<usize>,
}

/// What one rules file may hold, with a margin below the loader's limits.
pub(crate) const CHUNK_BYTES: usize = MAX_YAML_BYTES / 8 * 7;
pub(crate) const CHUNK_EVENTS: usize = MAX_EVENTS / 8 * 7;

impl Rendered {
    /// Describes the first file that the loader would refuse as too large, if any.
    pub(crate) fn over_limits(&self) -> Option<String> {
        let g = &self.generated;
        if g.product_yaml.len() > CHUNK_BYTES || self.product_events > CHUNK_EVENTS {
            return Some(format!(
                "the product file would be {} bytes with about {} YAML nodes; the loader takes at most {} bytes and {} nodes per file",
                g.product_yaml.len(),
                self.product_events,
                MAX_YAML_BYTES,
                MAX_EVENTS
            ));
        }
        let texts = std::iter::once(&g.rules_yaml).chain(&g.extra_rules_yaml);
        for ((text, &events), path) in texts.zip(&self.rules_events).zip(g.rules_paths()) {
            if text.len() > CHUNK_BYTES || events > CHUNK_EVENTS {
                return Some(format!(
                    "{path} would be {} bytes with about {events} YAML nodes (a single rule is too large); the loader takes at most {} bytes and {} nodes per file",
                    text.len(),
                    MAX_YAML_BYTES,
                    MAX_EVENTS
                ));
            }
        }
        None
    }
}

const YAML_SPECIAL: &[&str] = &[
    "null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf",
];

fn yaml_special(s: &str) -> bool {
    YAML_SPECIAL.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// Whether `s` is written by YAML as `i64::to_string` would write it.
fn canonical_int(s: &str) -> bool {
    s.parse::<i64>().is_ok_and(|n| n.to_string() == s)
}

/// A double-quoted YAML string; everything outside printable ASCII is escaped.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// An id (option, value, rule, group) as a YAML scalar that reads back as exactly this text.
pub(crate) fn id_scalar(s: &str) -> String {
    let b = s.as_bytes();
    let word = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-');
    if (word && !yaml_special(s)) || canonical_int(s) || s == "true" || s == "false" {
        s.to_owned()
    } else {
        quote(s)
    }
}

/// Free text (a message, an expression) as a YAML scalar inside a flow mapping.
pub(crate) fn text_scalar(s: &str) -> String {
    let b = s.as_bytes();
    let plain = !b.is_empty()
        && b[0].is_ascii_alphabetic()
        && !s.ends_with(' ')
        && !s.contains("  ")
        && b.iter().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b' ' | b'_' | b'-' | b'.' | b'<' | b'=' | b'>' | b'+' | b'*' | b'(' | b')'
                )
        })
        && !yaml_special(s);
    if plain { s.to_owned() } else { quote(s) }
}

impl Model {
    /// Writes the model as YAML. Rules go to as many files as needed to stay within one file's
    /// limits; the product file is not split (see [`Rendered::over_limits`]).
    pub(crate) fn render(&self, witnesses: Vec<Witness>) -> Rendered {
        let mut comment = String::new();
        for line in &self.comment {
            let clean: String = line
                .chars()
                .map(|c| {
                    if c == ' ' || c.is_ascii_graphic() {
                        c
                    } else {
                        '?'
                    }
                })
                .collect();
            comment.push_str("# ");
            comment.push_str(clean.trim_end());
            comment.push('\n');
        }
        // Rules first: the product lists the rules files.
        let mut chunks: Vec<(String, usize)> = Vec::new();
        let mut cur = String::new();
        let mut cur_events = 0usize;
        let mut table_files = Vec::new();
        for r in &self.rules {
            let (text, events) = match &r.form {
                Form::Table {
                    options,
                    allow,
                    rows,
                } if rows.len() > CSV_TABLE_ROWS => {
                    let path = format!("rules/{}/{}.csv", self.id, r.id);
                    table_files.push((path.clone(), table_csv(options, rows)));
                    (
                        format!(
                            "  - {{ id: {}, message: {}, table: {path}, {}: true }}\n",
                            r.id,
                            text_scalar(&r.message),
                            if *allow { "allow" } else { "forbid" }
                        ),
                        12,
                    )
                }
                _ => rule_text(r),
            };
            if !cur.is_empty()
                && (cur.len() + text.len() > CHUNK_BYTES - 4096
                    || cur_events + events > CHUNK_EVENTS - 64)
            {
                chunks.push((std::mem::take(&mut cur), cur_events));
                cur_events = 0;
            }
            cur.push_str(&text);
            cur_events += events;
        }
        if !cur.is_empty() || chunks.is_empty() {
            chunks.push((cur, cur_events));
        }
        let n_files = chunks.len();
        let mut rules_texts = Vec::new();
        let mut rules_events = Vec::new();
        for (i, (body, events)) in chunks.into_iter().enumerate() {
            let mut t = comment.clone();
            if n_files > 1 {
                let _ = writeln!(t, "# Part {} of {n_files}.", i + 1);
            }
            if body.is_empty() {
                t.push_str("constraints: []\n");
            } else {
                t.push_str("constraints:\n");
                t.push_str(&body);
            }
            rules_texts.push(t);
            rules_events.push(events + 8);
        }

        let mut p = comment;
        let mut events = 8usize;
        let _ = writeln!(p, "id: {}", id_scalar(&self.id));
        let _ = writeln!(p, "name: {}", quote(&self.name));
        if let Some(d) = &self.description {
            let _ = writeln!(p, "description: {}", quote(d));
            events += 2;
        }
        p.push_str("currency: EUR\nbase_price: \"0.00\"\n");
        let paths = rules_paths(&self.id, n_files);
        let _ = writeln!(p, "rules: [{}]", paths.join(", "));
        events += 12 + paths.len();
        if !self.groups.is_empty() {
            p.push_str("groups:\n");
            for (g, label) in &self.groups {
                let _ = writeln!(p, "  {}: {}", id_scalar(g), quote(label));
                events += 2;
            }
            events += 3;
        }
        p.push_str("options:\n");
        events += 3;
        for o in &self.options {
            let mut fields: Vec<(&str, String)> = Vec::new();
            let ty = match &o.kind {
                Kind::Choice { .. } => "choice",
                Kind::Boolean => "boolean",
                Kind::Integer { .. } => "integer",
                Kind::Text { .. } => "text",
            };
            fields.push(("type", ty.to_owned()));
            if let Some(l) = &o.label {
                fields.push(("label", quote(l)));
            }
            if let Some(g) = &o.group {
                fields.push(("group", id_scalar(g)));
            }
            match &o.kind {
                Kind::Choice { values, required } => {
                    if !required {
                        fields.push(("required", "false".into()));
                    }
                    let vs: Vec<String> = values.iter().map(|v| id_scalar(v)).collect();
                    events += vs.len() + 1;
                    fields.push(("values", format!("[{}]", vs.join(", "))));
                }
                Kind::Boolean => {}
                Kind::Integer {
                    min,
                    max,
                    step,
                    required,
                } => {
                    if !required {
                        fields.push(("required", "false".into()));
                    }
                    fields.push(("min", min.to_string()));
                    fields.push(("max", max.to_string()));
                    if *step != 1 {
                        fields.push(("step", step.to_string()));
                    }
                }
                Kind::Text {
                    min_len,
                    max_len,
                    required,
                } => {
                    if *required {
                        fields.push(("required", "true".into()));
                    }
                    if *min_len > 0 {
                        fields.push(("min_length", min_len.to_string()));
                    }
                    fields.push(("max_length", max_len.to_string()));
                }
            }
            events += 4 + 2 * fields.len();
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let _ = writeln!(p, "  {}: {{ {} }}", id_scalar(&o.id), body.join(", "));
        }

        let mut texts = rules_texts.into_iter();
        let rules_yaml = texts.next().unwrap_or_default();
        Rendered {
            generated: Generated {
                product_id: self.id.clone(),
                product_yaml: p,
                rules_yaml,
                extra_rules_yaml: texts.collect(),
                table_files,
                witnesses,
            },
            product_events: events,
            rules_events,
        }
    }
}

/// Tables with more rows than this are written to their own CSV file (see
/// docs/catalog-format.md, "Tables in their own files"): a spreadsheet edits them, and the
/// loader reads them without YAML's per-node cost.
pub const CSV_TABLE_ROWS: usize = 100;

/// A table as CSV: the header of option ids, one line per row, `*` for any, `a|b` for several
/// values, a cell quoted when it holds a comma, a quote or leading/trailing spaces.
fn table_csv(options: &[String], rows: &[Vec<Cell>]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) || s.trim() != s {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let mut t = options
        .iter()
        .map(|o| field(o))
        .collect::<Vec<_>>()
        .join(",");
    t.push('\n');
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Any => "*".to_owned(),
                Cell::Values(vs) => field(&vs.join("|")),
            })
            .collect();
        t.push_str(&cells.join(","));
        t.push('\n');
    }
    t
}

fn cell_text(c: &Cell) -> (String, usize) {
    match c {
        Cell::Any => ("\"*\"".to_owned(), 1),
        Cell::Values(vs) if vs.len() == 1 => (id_scalar(&vs[0]), 1),
        Cell::Values(vs) => {
            let items: Vec<String> = vs.iter().map(|v| id_scalar(v)).collect();
            (format!("[{}]", items.join(", ")), 2 + vs.len())
        }
    }
}

/// One constraint as a YAML sequence item, and its estimated event count.
fn rule_text(r: &Rule) -> (String, usize) {
    let head = format!("id: {}, message: {}", r.id, text_scalar(&r.message));
    match &r.form {
        Form::Require(e) => (
            format!("  - {{ {head}, require: {} }}\n", text_scalar(e)),
            8,
        ),
        Form::Forbid(e) => (format!("  - {{ {head}, forbid: {} }}\n", text_scalar(e)), 8),
        Form::IfThen(a, b) => (
            format!(
                "  - {{ {head}, if: {}, then: {} }}\n",
                text_scalar(a),
                text_scalar(b)
            ),
            10,
        ),
        Form::Table {
            options,
            allow,
            rows,
        } => {
            let mut t = format!(
                "  - id: {}\n    message: {}\n    table: [{}]\n    {}:",
                r.id,
                text_scalar(&r.message),
                options
                    .iter()
                    .map(|o| id_scalar(o))
                    .collect::<Vec<_>>()
                    .join(", "),
                if *allow { "allow" } else { "forbid" }
            );
            let mut events = 14 + options.len();
            if rows.is_empty() {
                t.push_str(" []\n");
            } else {
                t.push('\n');
                for row in rows {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|c| {
                            let (s, e) = cell_text(c);
                            events += e;
                            s
                        })
                        .collect();
                    events += 2;
                    let _ = writeln!(t, "      - [{}]", cells.join(", "));
                }
            }
            (t, events)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Car-configurator shaped models
// ---------------------------------------------------------------------------------------------

const SUBSYSTEMS: [&str; 24] = [
    "engine",
    "transmission",
    "drivetrain",
    "suspension",
    "brakes",
    "trim",
    "paint",
    "exterior",
    "wheels",
    "tyres",
    "lighting",
    "interior",
    "upholstery",
    "seats",
    "climate",
    "infotainment",
    "audio",
    "assistance",
    "safety",
    "comfort",
    "storage",
    "towing",
    "roof",
    "packages",
];

/// Small domain sizes 2..=12 and their weights (per cent).
const SMALL_DOMAIN_WEIGHTS: [u32; 11] = [18, 16, 14, 11, 10, 7, 7, 5, 5, 3, 4];

/// Knobs of [`car_model_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarParams {
    /// How much a table rules out, in per mille of the tuples over its options (0–1000),
    /// approximately. An `allow` table (3 in 4) has a row for every value of its first option
    /// admitting about `1000 - tightness` ‰ of the other options' tuples (jittered ±40% per
    /// row, never less than the planted configurations need); a `forbid` table (1 in 4) lists
    /// exceptions and excludes about `tightness / 3` ‰. Tables overlap, so the number of valid
    /// configurations is not a simple product; [`CarParams::calibrated`] gives the tightness
    /// tuned with the exact counter for the benchmark sizes.
    pub tightness_permille: u32,
    /// How many hidden full configurations are planted (at least 1); every rule admits them,
    /// so the model is satisfiable. They are returned in [`Generated::witnesses`]. Default 3.
    pub planted: usize,
    /// Variant tables added to the `tables` above, SAP-VC style: `allow` tables of arity
    /// 8–12 listing sellable combinations row by row (no value lists, no `*`), each with
    /// `variant_rows` distinct rows drawn around the planted configurations. Default 0.
    pub variant_tables: usize,
    /// Rows of each variant table. Default 50,000.
    pub variant_rows: usize,
}

impl CarParams {
    /// The parameters of the benchmark models: tightness tuned with the exact counter so that
    /// seed 1 has a number of valid configurations in the range real car configurators have
    /// (10^12–10^22) at both benchmark sizes. A larger model needs tighter tables to stay in that
    /// range (its options multiply): 900 ‰ at 100 options (10^13 configurations, 113 tables),
    /// 970 ‰ at 270 (10^20, 330 tables), linear in between and clamped to 850–990 ‰ outside.
    /// The count responds steeply and not monotonically to the tightness (another tightness
    /// draws other rows), so other seeds and sizes may fall outside the range.
    pub fn calibrated(options: usize) -> CarParams {
        let n = i64::try_from(options).unwrap_or(i64::MAX);
        let t = (900 + (n.saturating_sub(100)).saturating_mul(70) / 170).clamp(850, 990);
        CarParams {
            tightness_permille: u32::try_from(t).unwrap_or(900),
            ..CarParams::default()
        }
    }
}

impl Default for CarParams {
    fn default() -> Self {
        CarParams {
            tightness_permille: 850,
            planted: 3,
            variant_tables: 0,
            variant_rows: 50_000,
        }
    }
}

#[derive(Debug, Clone)]
enum CarKind {
    /// `n` values; `big` ones are paint/upholstery-code style (20–300 values).
    Choice {
        n: usize,
        required: bool,
        big: bool,
    },
    Bool,
    Int {
        min: i64,
        max: i64,
    },
}

#[derive(Debug, Clone)]
struct CarOpt {
    id: String,
    sub: usize,
    kind: CarKind,
}

impl CarOpt {
    fn domain(&self) -> usize {
        match self.kind {
            CarKind::Choice { n, .. } => n,
            CarKind::Bool => 2,
            CarKind::Int { min, max } => usize::try_from(max - min + 1).unwrap_or(1),
        }
    }

    /// The text of value index `i` as rules write it.
    fn value(&self, i: usize) -> String {
        match self.kind {
            CarKind::Choice { big: true, .. } => format!("C{:03}", i + 1),
            CarKind::Choice { .. } => format!("v{}", i + 1),
            CarKind::Bool => (i == 1).to_string(),
            CarKind::Int { min, .. } => (min + i as i64).to_string(),
        }
    }

    fn in_tables(&self) -> bool {
        matches!(
            self.kind,
            CarKind::Bool | CarKind::Choice { required: true, .. }
        )
    }
}

/// A car-configurator shaped model with the default [`CarParams`]. Supported sizes include
/// (100 options, 113 tables) and (270 options, 330 tables); any size works, but fewer tables are
/// generated when there are not two options to link.
pub fn car_model(seed: u64, options: usize, tables: usize) -> Generated {
    car_model_with(seed, options, tables, &CarParams::default())
}

/// A car-configurator shaped model: `options` options grouped into subsystems (engine, trim,
/// paint, …), `tables` table constraints of arity 2–12 (mostly 2–4; most within a subsystem),
/// `allow` and `forbid` tables with value lists and `"*"`, a few `if`/`then` rules and an
/// arithmetic rule on two integer options. Satisfiable: see [`CarParams::planted`].
pub fn car_model_with(seed: u64, options: usize, tables: usize, params: &CarParams) -> Generated {
    let mut rng = Rng::new(seed ^ 0xCA12_0000_0000_0001);
    let n = options.max(1);
    let tight = params.tightness_permille.min(1000);
    let n_subs = (n / 11).clamp(1, 48);
    let sub_names: Vec<String> = (0..n_subs)
        .map(|s| {
            let base = SUBSYSTEMS[s % SUBSYSTEMS.len()];
            if s < SUBSYSTEMS.len() {
                base.to_owned()
            } else {
                format!("{base}{}", s / SUBSYSTEMS.len() + 1)
            }
        })
        .collect();
    // Subsystem sizes: n split evenly, the remainder spread at random.
    let mut sizes = vec![n / n_subs; n_subs];
    for _ in 0..n % n_subs {
        let s = rng.below(n_subs);
        sizes[s] += 1;
    }
    let mut opts: Vec<CarOpt> = Vec::with_capacity(n);
    for (s, &size) in sizes.iter().enumerate() {
        for k in 0..size {
            opts.push(CarOpt {
                id: format!("{}_{}", sub_names[s], k + 1),
                sub: s,
                kind: CarKind::Bool,
            });
        }
    }
    // Kinds: two integers, a few large code lists, some optional choices, ~15% booleans.
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let n_int = if n >= 6 { 2 } else { 0 };
    let n_big = if n >= 10 { (n / 40).max(1) } else { 0 };
    let n_optional = if n >= 10 { (n / 20).max(1) } else { 0 };
    for (rank, &o) in order.iter().enumerate() {
        opts[o].kind = if rank < n_int {
            if rank == 0 {
                CarKind::Int { min: 0, max: 8 }
            } else {
                CarKind::Int { min: 0, max: 6 }
            }
        } else if rank < n_int + n_big {
            let size = if rank == n_int {
                rng.between(200, 300)
            } else {
                rng.between(20, 200)
            };
            CarKind::Choice {
                n: size,
                required: true,
                big: true,
            }
        } else if rank < n_int + n_big + n_optional {
            CarKind::Choice {
                n: 2 + rng.weighted(&SMALL_DOMAIN_WEIGHTS),
                required: false,
                big: false,
            }
        } else if rng.chance(150) {
            CarKind::Bool
        } else {
            CarKind::Choice {
                n: 2 + rng.weighted(&SMALL_DOMAIN_WEIGHTS),
                required: true,
                big: false,
            }
        };
    }

    // Planted configurations: value index per option, None for an unset optional option.
    let planted: Vec<Vec<Option<usize>>> = (0..params.planted.max(1))
        .map(|_| {
            opts.iter()
                .map(|o| match o.kind {
                    CarKind::Choice {
                        required: false, ..
                    } if rng.chance(333) => None,
                    _ => Some(rng.below(o.domain())),
                })
                .collect()
        })
        .collect();

    let mut rules: Vec<Rule> = Vec::new();
    // Tables.
    let eligible_by_sub: Vec<Vec<usize>> = (0..n_subs)
        .map(|s| {
            (0..n)
                .filter(|&o| opts[o].sub == s && opts[o].in_tables())
                .collect()
        })
        .collect();
    let all_eligible: Vec<usize> = (0..n).filter(|&o| opts[o].in_tables()).collect();
    // How much each option is constrained by the tables so far: tables prefer the options least
    // covered, so that every option takes part (none is left free by chance).
    let mut cover = vec![0usize; n];
    let mut made = 0usize;
    for t in 0..tables {
        if all_eligible.len() < 2 {
            break;
        }
        let arity = if tables >= 10 && t == tables / 2 {
            12
        } else {
            match rng.weighted(&[40, 30, 17, 9, 4]) {
                0 => 2,
                1 => 3,
                2 => 4,
                3 => rng.between(5, 8),
                _ => rng.between(9, 12),
            }
        };
        let cross = rng.chance(200);
        let scope = car_scope(
            &mut rng,
            &opts,
            &eligible_by_sub,
            &all_eligible,
            arity,
            cross,
            &cover,
        );
        if scope.len() < 2 {
            continue;
        }
        // The key column is constrained least by its own table.
        cover[scope[0]] += 1;
        for &o in &scope[1..] {
            cover[o] += 2;
        }
        let allow = rng.chance(750);
        let rows = car_rows(&mut rng, &opts, &planted, &scope, allow, tight);
        made += 1;
        let names: Vec<&str> = scope.iter().map(|&o| opts[o].id.as_str()).collect();
        let message = if allow {
            format!(
                "This {} is offered only with certain {}.",
                names[0],
                and_list(&names[1..])
            )
        } else {
            format!("This combination of {} is not available.", and_list(&names))
        };
        rules.push(Rule {
            id: format!("t{made}"),
            message,
            form: Form::Table {
                options: names.iter().map(|s| (*s).to_owned()).collect(),
                allow,
                rows,
            },
        });
    }
    // Variant tables: long lists of sellable combinations over many options.
    for v in 0..params.variant_tables {
        if all_eligible.len() < 8 {
            break;
        }
        let arity = rng.between(8, 12).min(all_eligible.len());
        let scope = car_scope(
            &mut rng,
            &opts,
            &eligible_by_sub,
            &all_eligible,
            arity,
            true,
            &cover,
        );
        if scope.len() < 2 {
            continue;
        }
        for &o in &scope {
            cover[o] += 2;
        }
        let rows = variant_rows(&mut rng, &opts, &planted, &scope, params.variant_rows);
        let names: Vec<String> = scope.iter().map(|&o| opts[o].id.clone()).collect();
        rules.push(Rule {
            id: format!("variants{}", v + 1),
            message: format!("Not a sellable variant of {}.", names[0]),
            form: Form::Table {
                options: names,
                allow: true,
                rows,
            },
        });
    }
    // Implications and the arithmetic rule.
    car_implications(&mut rng, &opts, &planted, n, &mut rules);

    let witnesses: Vec<Witness> = planted
        .iter()
        .map(|p| {
            opts.iter()
                .zip(p)
                .filter_map(|(o, v)| v.map(|i| (o.id.clone(), o.value(i))))
                .collect()
        })
        .collect();
    let model = Model {
        id: format!("car-{options}-{tables}-s{seed}"),
        name: format!("Generated car ({options} options, {tables} tables)"),
        description: Some(format!(
            "A car-configurator shaped benchmark model (seed {seed}, tightness {tight} per mille)."
        )),
        comment: vec![format!(
            "Generated by bespoke::rules::generate::car_model_with(seed {seed}, {options} options, {tables} tables, tightness {tight}, {} planted).",
            planted.len()
        )],
        groups: sub_names
            .iter()
            .map(|s| (s.clone(), capitalize(s)))
            .collect(),
        options: opts
            .iter()
            .map(|o| Opt {
                id: o.id.clone(),
                label: None,
                group: Some(sub_names[o.sub].clone()),
                kind: match o.kind {
                    CarKind::Choice { n, required, .. } => Kind::Choice {
                        values: (0..n).map(|i| o.value(i)).collect(),
                        required,
                    },
                    CarKind::Bool => Kind::Boolean,
                    CarKind::Int { min, max } => Kind::Integer {
                        min,
                        max,
                        step: 1,
                        required: true,
                    },
                },
            })
            .collect(),
        rules,
    };
    model.render(witnesses).generated
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The options of one table: mostly from one subsystem; at most one large code list, and none
/// in wide tables. The option with the largest domain comes first (it keys the rows).
fn car_scope(
    rng: &mut Rng,
    opts: &[CarOpt],
    by_sub: &[Vec<usize>],
    all: &[usize],
    arity: usize,
    cross: bool,
    cover: &[usize],
) -> Vec<usize> {
    let nonempty: Vec<usize> = (0..by_sub.len())
        .filter(|&s| !by_sub[s].is_empty())
        .collect();
    let mut pool: Vec<usize> = Vec::new();
    if !nonempty.is_empty() {
        let mut subs: Vec<usize> = nonempty.clone();
        rng.shuffle(&mut subs);
        let take = if cross { rng.between(2, 3) } else { 1 };
        let mut lists: Vec<Vec<usize>> = subs
            .iter()
            .take(take)
            .map(|&s| {
                let mut l = by_sub[s].clone();
                rng.shuffle(&mut l);
                // Least covered first (ties in random order).
                l.sort_by_key(|&o| cover[o]);
                l
            })
            .collect();
        // Round-robin over the chosen subsystems.
        let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for l in &mut lists {
                if let Some(&o) = l.get(i) {
                    pool.push(o);
                }
            }
        }
    }
    let mut rest = all.to_vec();
    rng.shuffle(&mut rest);
    rest.sort_by_key(|&o| cover[o]);
    pool.extend(rest);
    let mut scope: Vec<usize> = Vec::new();
    let mut has_big = false;
    for o in pool {
        if scope.len() >= arity {
            break;
        }
        if scope.contains(&o) {
            continue;
        }
        if let CarKind::Choice { big: true, .. } = opts[o].kind {
            if has_big || arity > 4 || rng.chance(400) {
                continue;
            }
            has_big = true;
        }
        scope.push(o);
    }
    // Key column first: the largest domain.
    if let Some(best) = (0..scope.len()).max_by_key(|&i| (opts[scope[i]].domain(), usize::MAX - i))
    {
        let key = scope.remove(best);
        scope.insert(0, key);
    }
    scope
}

/// `count` distinct rows of a variant table over `scope`: every planted configuration's
/// projection, then rows that each take a planted projection and redraw about half of its
/// cells, as sellable variants vary around a few base models (fewer rows when the scope has
/// fewer tuples, or when draws keep repeating).
fn variant_rows(
    rng: &mut Rng,
    opts: &[CarOpt],
    planted: &[Vec<Option<usize>>],
    scope: &[usize],
    count: usize,
) -> Vec<Vec<Cell>> {
    let mut seen: BTreeSet<Vec<usize>> = BTreeSet::new();
    for p in planted {
        seen.insert(scope.iter().map(|&o| p[o].unwrap_or(0)).collect());
    }
    let mut misses = 0usize;
    while seen.len() < count && misses < count.saturating_mul(4) {
        let base = &planted[rng.below(planted.len())];
        let row: Vec<usize> = scope
            .iter()
            .map(|&o| {
                if rng.chance(500) {
                    rng.below(opts[o].domain())
                } else {
                    base[o].unwrap_or(0)
                }
            })
            .collect();
        if !seen.insert(row) {
            misses += 1;
        }
    }
    seen.into_iter()
        .map(|row| {
            row.iter()
                .zip(scope)
                .map(|(&i, &o)| Cell::Values(vec![opts[o].value(i)]))
                .collect()
        })
        .collect()
}

/// The rows of one table over `scope` (key column first). Allow rows include every planted
/// configuration; forbid rows match none.
fn car_rows(
    rng: &mut Rng,
    opts: &[CarOpt],
    planted: &[Vec<Option<usize>>],
    scope: &[usize],
    allow: bool,
    tight: u32,
) -> Vec<Vec<Cell>> {
    let dims: Vec<usize> = scope.iter().map(|&o| opts[o].domain()).collect();
    let k = scope.len();
    let prod = |s: &[usize]| -> u128 {
        s.iter()
            .skip(1)
            .fold(1u128, |acc, &x| acc.saturating_mul(x as u128))
    };
    let full = prod(&dims);
    // (key values, tail cells) with the key values merged when tails are equal.
    let mut by_tail: Vec<(Vec<Cell>, Vec<usize>)> = Vec::new();
    for v in 0..dims[0] {
        let pv: Vec<&Vec<Option<usize>>> =
            planted.iter().filter(|p| p[scope[0]] == Some(v)).collect();
        let mut sets: Vec<Vec<usize>> = Vec::with_capacity(k);
        sets.push(vec![v]);
        if allow {
            // Every key value gets a row admitting about `1000 - tight` ‰ of the other
            // columns' tuples (jittered ±40%).
            let base = 1000 - u128::from(tight);
            let target = (base * rng.between(60, 140) as u128 / 100).clamp(1, 1000);
            let req: Vec<BTreeSet<usize>> = scope
                .iter()
                .map(|&o| pv.iter().filter_map(|p| p[o]).collect())
                .collect();
            let mut s = dims.clone();
            let mut cand: Vec<usize> = (1..k).filter(|&j| s[j] > req[j].len().max(1)).collect();
            while !cand.is_empty() {
                let ci = rng.below(cand.len());
                let j = cand[ci];
                s[j] -= 1;
                if prod(&s).saturating_mul(1000) >= target.saturating_mul(full) {
                    if s[j] <= req[j].len().max(1) {
                        cand.swap_remove(ci);
                    }
                } else {
                    s[j] += 1;
                    cand.swap_remove(ci);
                }
            }
            for j in 1..k {
                let mut set: Vec<usize> = req[j].iter().copied().collect();
                let mut others: Vec<usize> = (0..dims[j]).filter(|x| !req[j].contains(x)).collect();
                rng.shuffle(&mut others);
                for x in others {
                    if set.len() >= s[j] {
                        break;
                    }
                    set.push(x);
                }
                set.sort_unstable();
                sets.push(set);
            }
        } else {
            // Forbid tables list exceptions: half the key values get a row excluding about
            // `2/3 × tight` ‰ of the other columns' tuples, so about `tight / 3` ‰ in all.
            if !rng.chance(500) {
                continue;
            }
            let base = (2 * u128::from(tight) / 3).min(1000);
            let target = (base * rng.between(60, 140) as u128 / 100).clamp(1, 1000);
            let mut s = dims.clone();
            while prod(&s).saturating_mul(1000) > target.saturating_mul(full) {
                let cand: Vec<usize> = (1..k).filter(|&j| s[j] > 1).collect();
                if cand.is_empty() {
                    break;
                }
                let j = cand[rng.below(cand.len())];
                s[j] -= 1;
            }
            for j in 1..k {
                let mut set = rng.sample(dims[j], s[j]);
                set.sort_unstable();
                sets.push(set);
            }
            // Keep every planted configuration out of the row.
            let matched = |sets: &Vec<Vec<usize>>, p: &Vec<Option<usize>>| {
                (1..k).all(|j| p[scope[j]].is_some_and(|x| sets[j].contains(&x)))
            };
            for _ in 0..8 * k * pv.len().max(1) {
                let Some(p) = pv.iter().find(|p| matched(&sets, p)) else {
                    break;
                };
                if k < 2 {
                    break;
                }
                let j = rng.between(1, k - 1);
                let Some(x) = p[scope[j]] else { break };
                if sets[j].len() > 1 {
                    sets[j].retain(|&y| y != x);
                } else if dims[j] > 1 {
                    let mut w = rng.below(dims[j] - 1);
                    if w >= x {
                        w += 1;
                    }
                    sets[j] = vec![w];
                }
            }
            if pv.iter().any(|p| matched(&sets, p)) {
                continue;
            }
        }
        let tail: Vec<Cell> = (1..k)
            .map(|j| {
                if sets[j].len() == dims[j] {
                    Cell::Any
                } else {
                    Cell::Values(sets[j].iter().map(|&x| opts[scope[j]].value(x)).collect())
                }
            })
            .collect();
        match by_tail.iter_mut().find(|(t, _)| *t == tail) {
            Some((_, keys)) => keys.push(v),
            None => by_tail.push((tail, vec![v])),
        }
    }
    by_tail
        .into_iter()
        .map(|(tail, keys)| {
            let key = if keys.len() == dims[0] {
                Cell::Any
            } else {
                Cell::Values(keys.iter().map(|&x| opts[scope[0]].value(x)).collect())
            };
            std::iter::once(key).chain(tail).collect()
        })
        .collect()
}

/// A few `if`/`then` rules (choice, boolean, optional and integer options) and one arithmetic
/// rule on the two integer options, all admitting every planted configuration.
fn car_implications(
    rng: &mut Rng,
    opts: &[CarOpt],
    planted: &[Vec<Option<usize>>],
    n: usize,
    rules: &mut Vec<Rule>,
) {
    let count = (n / 25).max(1);
    let ints: Vec<usize> = (0..n)
        .filter(|&o| matches!(opts[o].kind, CarKind::Int { .. }))
        .collect();
    let optional: Vec<usize> = (0..n)
        .filter(|&o| {
            matches!(
                opts[o].kind,
                CarKind::Choice {
                    required: false,
                    ..
                }
            )
        })
        .collect();
    let small_then: Vec<usize> = (0..n)
        .filter(|&o| {
            matches!(
                opts[o].kind,
                CarKind::Choice {
                    required: true,
                    big: false,
                    ..
                } | CarKind::Bool
            )
        })
        .collect();
    let conds: Vec<usize> = (0..n)
        .filter(|&o| !matches!(opts[o].kind, CarKind::Int { .. }))
        .collect();
    let mut made = 0usize;
    for i in 0..count * 4 {
        if made >= count || conds.is_empty() || small_then.is_empty() {
            break;
        }
        // Condition: an option has a value (or, for an optional option, is set at all).
        let a = if i == 0 && !optional.is_empty() {
            optional[rng.below(optional.len())]
        } else {
            conds[rng.below(conds.len())]
        };
        // `want`: the value index the condition tests, or `None` for `is_set`.
        let (cond_text, want): (String, Option<usize>) = match opts[a].kind {
            CarKind::Bool => {
                let want = rng.below(2);
                let text = if want == 1 {
                    opts[a].id.clone()
                } else {
                    format!("not {}", opts[a].id)
                };
                (text, Some(want))
            }
            CarKind::Choice {
                required: false, ..
            } if i == 0 => (format!("is_set({})", opts[a].id), None),
            _ => {
                let want = rng.below(opts[a].domain());
                (
                    format!("{} == {}", opts[a].id, opts[a].value(want)),
                    Some(want),
                )
            }
        };
        let holds = |v: Option<usize>| match want {
            Some(w) => v == Some(w),
            None => v.is_some(),
        };
        let active: Vec<&Vec<Option<usize>>> = planted.iter().filter(|p| holds(p[a])).collect();
        // Consequence: on an integer option (once), else a required small choice or a boolean.
        if made == 1 && !ints.is_empty() {
            let b = ints[0];
            let CarKind::Int { min, max } = opts[b].kind else {
                continue;
            };
            let need = active
                .iter()
                .filter_map(|p| p[b])
                .map(|x| min + x as i64)
                .max()
                .unwrap_or(min);
            let bound = (need + rng.between(0, 2) as i64).min(max);
            rules.push(Rule {
                id: format!("r{}", made + 1),
                message: format!("With {cond_text}, {} is at most {bound}.", opts[b].id),
                form: Form::IfThen(cond_text, format!("{} <= {bound}", opts[b].id)),
            });
            made += 1;
            continue;
        }
        let b = small_then[rng.below(small_then.len())];
        if b == a {
            continue;
        }
        let need: BTreeSet<usize> = active.iter().filter_map(|p| p[b]).collect();
        let d = opts[b].domain();
        if need.len() >= d {
            continue;
        }
        let then_text = if let CarKind::Bool = opts[b].kind {
            // `need` has at most one value here.
            let v = need.iter().next().copied().unwrap_or_else(|| rng.below(2));
            if v == 1 {
                opts[b].id.clone()
            } else {
                format!("not {}", opts[b].id)
            }
        } else {
            let mut set: Vec<usize> = need.iter().copied().collect();
            let mut others: Vec<usize> = (0..d).filter(|x| !need.contains(x)).collect();
            rng.shuffle(&mut others);
            let size = rng.between(1, d - 1).max(set.len());
            for x in others {
                if set.len() >= size {
                    break;
                }
                set.push(x);
            }
            set.sort_unstable();
            let vals: Vec<String> = set.iter().map(|&x| opts[b].value(x)).collect();
            format!("{} in [{}]", opts[b].id, vals.join(", "))
        };
        rules.push(Rule {
            id: format!("r{}", made + 1),
            message: format!("With {cond_text}, choose {then_text}."),
            form: Form::IfThen(cond_text, then_text),
        });
        made += 1;
    }
    // Every optional choice is tied to a required one: each of its values admits only some
    // values of that option (real option packages depend on the trim they come with).
    for &a in &optional {
        if small_then.is_empty() {
            break;
        }
        let b = {
            let same: Vec<usize> = small_then
                .iter()
                .copied()
                .filter(|&b| opts[b].sub == opts[a].sub)
                .collect();
            let from = if same.is_empty() { &small_then } else { &same };
            from[rng.below(from.len())]
        };
        let d = opts[b].domain();
        for v in 0..opts[a].domain() {
            let mut set: BTreeSet<usize> = planted
                .iter()
                .filter(|p| p[a] == Some(v))
                .filter_map(|p| p[b])
                .collect();
            if set.is_empty() {
                set.insert(rng.below(d));
            }
            if set.len() >= d {
                continue;
            }
            let cond = format!("{} == {}", opts[a].id, opts[a].value(v));
            let then_text = if let CarKind::Bool = opts[b].kind {
                match set.iter().next() {
                    Some(1) => opts[b].id.clone(),
                    _ => format!("not {}", opts[b].id),
                }
            } else {
                let vals: Vec<String> = set.iter().map(|&x| opts[b].value(x)).collect();
                format!("{} in [{}]", opts[b].id, vals.join(", "))
            };
            rules.push(Rule {
                id: format!("o{}", rules.len() + 1),
                message: format!("With {cond}, choose {then_text}."),
                form: Form::IfThen(cond, then_text),
            });
        }
    }
    if let [x, y, ..] = ints[..] {
        let (CarKind::Int { min: mx, max: xx }, CarKind::Int { min: my, max: xy }) =
            (&opts[x].kind, &opts[y].kind)
        else {
            return;
        };
        let need = planted
            .iter()
            .filter_map(|p| Some(mx + p[x]? as i64 + my + p[y]? as i64))
            .max()
            .unwrap_or(mx + my);
        let bound = (need + rng.between(0, 2) as i64).min(xx + xy);
        rules.push(Rule {
            id: "a1".into(),
            message: format!(
                "{} and {} together may not exceed {bound}.",
                opts[x].id, opts[y].id
            ),
            form: Form::Require(format!("{} + {} <= {bound}", opts[x].id, opts[y].id)),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Feature models
// ---------------------------------------------------------------------------------------------

/// A Boolean feature model shaped like real ones (e.g. 2,500 options, 10,000 clauses): a feature
/// tree (mandatory and optional children, or-groups, alternative groups) encoded as clauses, plus
/// cross-tree `requires`/`excludes` (and a few three-feature) clauses. Every clause is one
/// constraint `require: a or not b or …` with ids `c1`, `c2`, … Features are boolean options
/// `f0` (the root) … `f<options-1>`. Exactly `clauses` constraints are emitted: the tree's
/// clauses first (cut short if `clauses` is smaller), then cross-tree clauses. Satisfiable: a
/// valid configuration is planted and returned in [`Generated::witnesses`].
pub fn feature_model(seed: u64, options: usize, clauses: usize) -> Generated {
    let mut rng = Rng::new(seed ^ 0xFEA7_0000_0000_0002);
    let n = options.max(1);
    let name = |i: usize| format!("f{i}");
    // Tree: (parent, kind, children) groups, parents created before children.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum G {
        Mandatory,
        Optional,
        Or,
        Alt,
    }
    let mut groups: Vec<(usize, G, Vec<usize>)> = Vec::new();
    let mut next = 1usize;
    while next < n {
        // Prefer recent features as parents, for depth.
        let lo = next.saturating_sub(40);
        let parent = if rng.chance(300) {
            rng.below(next)
        } else {
            rng.between(lo, next - 1)
        };
        let kind = match rng.weighted(&[15, 45, 20, 20]) {
            0 => G::Mandatory,
            1 => G::Optional,
            2 => G::Or,
            _ => G::Alt,
        };
        let size = match kind {
            G::Mandatory | G::Optional => 1,
            G::Or | G::Alt => rng.between(2, 5),
        }
        .min(n - next);
        let kind = if size == 1 && matches!(kind, G::Or | G::Alt) {
            G::Optional
        } else {
            kind
        };
        groups.push((parent, kind, (next..next + size).collect()));
        next += size;
    }
    // Planted configurations: random ones, then one more for every feature none of them has,
    // so that no feature is dead (real feature models have few). Cross-tree constraints below
    // are kept only when every planted configuration satisfies them.
    let mut parent_of = vec![usize::MAX; n];
    for (p, _, children) in &groups {
        for &c in children {
            parent_of[c] = *p;
        }
    }
    let plant = |rng: &mut Rng, forced: &[bool]| -> Vec<bool> {
        let mut w = vec![false; n];
        w[0] = true;
        for (p, kind, children) in &groups {
            if !w[*p] {
                continue;
            }
            let want = |c: usize| forced.get(c).copied().unwrap_or(false);
            match kind {
                G::Mandatory => children.iter().for_each(|&c| w[c] = true),
                G::Optional => children
                    .iter()
                    .for_each(|&c| w[c] = want(c) || rng.chance(500)),
                G::Or => {
                    for &c in children {
                        w[c] = want(c) || rng.chance(500);
                    }
                    if !children.iter().any(|&c| w[c]) {
                        w[children[rng.below(children.len())]] = true;
                    }
                }
                G::Alt => {
                    let pick = children
                        .iter()
                        .copied()
                        .find(|&c| want(c))
                        .unwrap_or(children[rng.below(children.len())]);
                    w[pick] = true;
                }
            }
        }
        w
    };
    let mut configs: Vec<Vec<bool>> = (0..16).map(|_| plant(&mut rng, &[])).collect();
    for f in 1..n {
        if configs.iter().any(|c| c[f]) {
            continue;
        }
        let mut forced = vec![false; n];
        let mut a = f;
        while a != usize::MAX {
            forced[a] = true;
            a = parent_of[a];
        }
        configs.push(plant(&mut rng, &forced));
    }
    let w = configs[0].clone();
    let holds_all = |lits: &[(usize, bool)]| {
        configs
            .iter()
            .all(|c| lits.iter().any(|&(v, pos)| c[v] == pos))
    };
    let lit = |v: usize, pos: bool| {
        if pos {
            name(v)
        } else {
            format!("not {}", name(v))
        }
    };
    let mut out: Vec<(String, String)> = Vec::with_capacity(clauses);
    out.push((
        "f0 is the root feature".into(),
        name(0), // root is always on
    ));
    for (p, kind, children) in &groups {
        for &c in children {
            out.push((
                format!("f{c} needs its parent f{p}"),
                format!("{} or {}", lit(c, false), lit(*p, true)),
            ));
            if *kind == G::Mandatory {
                out.push((
                    format!("f{p} always includes f{c}"),
                    format!("{} or {}", lit(*p, false), lit(c, true)),
                ));
            }
        }
        if matches!(kind, G::Or | G::Alt) {
            let mut e = lit(*p, false);
            for &c in children {
                e.push_str(" or ");
                e.push_str(&lit(c, true));
            }
            out.push((format!("f{p} needs one of its group"), e));
        }
        if *kind == G::Alt {
            for (i, &a) in children.iter().enumerate() {
                for &b in &children[i + 1..] {
                    out.push((
                        format!("f{a} and f{b} are alternatives"),
                        format!("{} or {}", lit(a, false), lit(b, false)),
                    ));
                }
            }
        }
    }
    out.truncate(clauses);
    // Real feature models have few cross-tree constraints (about one per five features here);
    // the rest of the clause budget repeats the hierarchy transitively ("a feature needs its
    // grandparent"), which is redundant, as exported CNFs of real systems often are.
    let cross_budget = (n / 5).max(1);
    let structural = out.len();
    let mut attempts = 0usize;
    while out.len() < clauses {
        if out.len() >= structural + cross_budget && n >= 3 {
            break;
        }
        if n < 3 {
            out.push(("f0 is the root feature".into(), name(0)));
            continue;
        }
        let (a, b) = rng.pair(n - 1);
        let (a, b) = (a + 1, b + 1);
        let (message, lits) = match rng.weighted(&[55, 35, 10]) {
            0 => (format!("f{a} requires f{b}"), vec![(a, false), (b, true)]),
            1 => (format!("f{a} excludes f{b}"), vec![(a, false), (b, false)]),
            _ => {
                let c = 1 + rng.below(n - 1);
                if c == a || c == b {
                    continue;
                }
                (
                    format!("f{a} requires f{b} or f{c}"),
                    vec![(a, false), (b, true), (c, true)],
                )
            }
        };
        attempts += 1;
        if !holds_all(&lits) {
            if attempts > 50 * clauses {
                break;
            }
            continue;
        }
        let e = lits
            .iter()
            .map(|&(v, pos)| lit(v, pos))
            .collect::<Vec<_>>()
            .join(" or ");
        out.push((message, e));
    }
    // Fill what the cross-tree budget left with transitive hierarchy clauses.
    while out.len() < clauses {
        let c = 1 + rng.below(n.max(2) - 1);
        let mut a = parent_of.get(c).copied().unwrap_or(usize::MAX);
        for _ in 0..1 + rng.below(4) {
            match parent_of.get(a) {
                Some(&up) if a != 0 && up != usize::MAX => a = up,
                _ => break,
            }
        }
        if a == usize::MAX || c >= n {
            out.push(("f0 is the root feature".into(), name(0)));
            continue;
        }
        out.push((
            format!("f{c} needs its ancestor f{a}"),
            format!("{} or {}", lit(c, false), lit(a, true)),
        ));
    }
    let rules = out
        .into_iter()
        .enumerate()
        .map(|(i, (message, e))| Rule {
            id: format!("c{}", i + 1),
            message,
            form: Form::Require(e),
        })
        .collect();
    let model = Model {
        id: format!("fm-{options}-{clauses}-s{seed}"),
        name: format!("Generated feature model ({options} features, {clauses} clauses)"),
        description: None,
        comment: vec![format!(
            "Generated by bespoke::rules::generate::feature_model(seed {seed}, {options} options, {clauses} clauses)."
        )],
        groups: Vec::new(),
        options: (0..n)
            .map(|i| Opt {
                id: name(i),
                label: None,
                group: None,
                kind: Kind::Boolean,
            })
            .collect(),
        rules,
    };
    let _ = &w;
    let witnesses: Vec<Witness> = configs
        .iter()
        .map(|c| (0..n).map(|i| (name(i), c[i].to_string())).collect())
        .collect();
    model.render(witnesses).generated
}

// ---------------------------------------------------------------------------------------------
// Small random models for property tests
// ---------------------------------------------------------------------------------------------

/// A small random model: 1–8 options (choice, boolean, integer, text; some optional), domains of
/// at most 5 values (a text of at most 3 characters), and 0–6 random rules: `allow`/`forbid`
/// tables with `"*"` and value lists, clauses, implications, prohibitions and arithmetic such as
/// `a + b <= 6` or `len(t) > 1`. Not guaranteed satisfiable: for property tests against brute
/// force. Always loads without diagnostics.
pub fn random_small(seed: u64) -> Generated {
    let mut rng = Rng::new(seed ^ 0x5A11_0000_0000_0003);
    let n = rng.between(1, 8);
    let mut options: Vec<Opt> = Vec::with_capacity(n);
    let mut has_text = false;
    for i in 0..n {
        let id = ((b'a' + i as u8) as char).to_string();
        let kind = match rng.weighted(&[40, 25, 20, 15]) {
            3 if !has_text => {
                has_text = true;
                let max_len = rng.between(1, 3) as u32;
                Kind::Text {
                    min_len: rng.between(0, 1) as u32,
                    max_len,
                    required: rng.chance(300),
                }
            }
            2 => {
                let min = rng.between(0, 5) as i64 - 2;
                let step = rng.between(1, 2) as i64;
                let count = rng.between(1, 5) as i64;
                Kind::Integer {
                    min,
                    max: min + step * (count - 1),
                    step,
                    required: !rng.chance(250),
                }
            }
            1 => Kind::Boolean,
            _ => {
                let d = if rng.chance(100) {
                    1
                } else {
                    rng.between(2, 5)
                };
                Kind::Choice {
                    values: (0..d).map(|j| format!("v{j}")).collect(),
                    required: !rng.chance(250),
                }
            }
        };
        options.push(Opt {
            id,
            label: None,
            group: None,
            kind,
        });
    }
    let count = rng.between(0, 6);
    let mut rules = Vec::new();
    for r in 0..count {
        let form = match rng.below(5) {
            0 => small_table(&mut rng, &options),
            1 => Some(Form::Require(small_clause(&mut rng, &options))),
            2 => Some(Form::IfThen(
                small_conj(&mut rng, &options),
                small_clause(&mut rng, &options),
            )),
            3 => Some(Form::Forbid(small_conj(&mut rng, &options))),
            _ => small_arith(&mut rng, &options).map(Form::Require),
        };
        let form = form.unwrap_or_else(|| Form::Require(small_clause(&mut rng, &options)));
        rules.push(Rule {
            id: format!("r{}", r + 1),
            message: format!("Rule r{}.", r + 1),
            form,
        });
    }
    let model = Model {
        id: format!("small-s{seed}"),
        name: format!("Small random model {seed}"),
        description: None,
        comment: vec![format!(
            "Generated by bespoke::rules::generate::random_small(seed {seed})."
        )],
        groups: Vec::new(),
        options,
        rules,
    };
    model.render(Vec::new()).generated
}

/// The values of an option usable in a table cell or a comparison, as rules write them.
fn small_values(o: &Opt) -> Vec<String> {
    match &o.kind {
        Kind::Choice { values, .. } => values.clone(),
        Kind::Boolean => vec!["false".into(), "true".into()],
        Kind::Integer { min, max, step, .. } => {
            let mut out = Vec::new();
            let mut v = *min;
            while v <= *max {
                out.push(v.to_string());
                v += (*step).max(1);
            }
            out
        }
        Kind::Text { .. } => Vec::new(),
    }
}

fn small_table(rng: &mut Rng, options: &[Opt]) -> Option<Form> {
    let eligible: Vec<usize> = (0..options.len())
        .filter(|&i| !matches!(options[i].kind, Kind::Text { .. }))
        .collect();
    if eligible.is_empty() {
        return None;
    }
    let arity = rng.between(1, 3.min(eligible.len()));
    let cols: Vec<usize> = rng
        .sample(eligible.len(), arity)
        .into_iter()
        .map(|i| eligible[i])
        .collect();
    let n_rows = rng.between(0, 4);
    let rows = (0..n_rows)
        .map(|_| {
            cols.iter()
                .map(|&c| {
                    let vals = small_values(&options[c]);
                    match rng.weighted(&[25, 45, 30]) {
                        0 => Cell::Any,
                        1 => Cell::Values(vec![vals[rng.below(vals.len())].clone()]),
                        _ => {
                            let k = rng.between(1, vals.len());
                            let mut pick = rng.sample(vals.len(), k);
                            pick.sort_unstable();
                            Cell::Values(pick.into_iter().map(|i| vals[i].clone()).collect())
                        }
                    }
                })
                .collect()
        })
        .collect();
    Some(Form::Table {
        options: cols.iter().map(|&c| options[c].id.clone()).collect(),
        allow: rng.chance(500),
        rows,
    })
}

/// A literal over one option: a boolean, a comparison, a membership, `is_set`, or on `len`.
fn small_literal(rng: &mut Rng, options: &[Opt]) -> String {
    let o = &options[rng.below(options.len())];
    let id = &o.id;
    let optional = match &o.kind {
        Kind::Choice { required, .. } | Kind::Integer { required, .. } => !required,
        Kind::Text { .. } | Kind::Boolean => false,
    };
    if optional && rng.chance(200) {
        return if rng.chance(500) {
            format!("is_set({id})")
        } else {
            format!("not is_set({id})")
        };
    }
    match &o.kind {
        Kind::Boolean => {
            if rng.chance(500) {
                id.clone()
            } else {
                format!("not {id}")
            }
        }
        Kind::Choice { values, .. } => match rng.below(3) {
            0 => format!("{id} == {}", values[rng.below(values.len())]),
            1 => format!("{id} != {}", values[rng.below(values.len())]),
            _ => {
                let k = rng.between(1, values.len());
                let mut pick = rng.sample(values.len(), k);
                pick.sort_unstable();
                let vs: Vec<&str> = pick.iter().map(|&i| values[i].as_str()).collect();
                if rng.chance(300) {
                    format!("{id} not in [{}]", vs.join(", "))
                } else {
                    format!("{id} in [{}]", vs.join(", "))
                }
            }
        },
        Kind::Integer { .. } => {
            let vals = small_values(o);
            let v = &vals[rng.below(vals.len())];
            let op = ["==", "!=", "<", "<=", ">", ">="][rng.below(6)];
            format!("{id} {op} {v}")
        }
        Kind::Text { max_len, .. } => {
            let op = ["==", "!=", "<", "<=", ">", ">="][rng.below(6)];
            if rng.chance(200) {
                format!("is_set({id})")
            } else {
                format!("len({id}) {op} {}", rng.between(0, *max_len as usize))
            }
        }
    }
}

fn small_clause(rng: &mut Rng, options: &[Opt]) -> String {
    let k = rng.between(1, 3);
    (0..k)
        .map(|_| small_literal(rng, options))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn small_conj(rng: &mut Rng, options: &[Opt]) -> String {
    let k = rng.between(1, 2);
    (0..k)
        .map(|_| small_literal(rng, options))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Arithmetic over integer options and text lengths, e.g. `a + b <= 6`.
fn small_arith(rng: &mut Rng, options: &[Opt]) -> Option<String> {
    let terms: Vec<String> = options
        .iter()
        .filter_map(|o| match o.kind {
            Kind::Integer { .. } => Some(o.id.clone()),
            Kind::Text { .. } => Some(format!("len({})", o.id)),
            _ => None,
        })
        .collect();
    if terms.is_empty() {
        return None;
    }
    let a = &terms[rng.below(terms.len())];
    let b = if rng.chance(300) {
        rng.between(1, 3).to_string()
    } else {
        terms[rng.below(terms.len())].clone()
    };
    let op = ["+", "-", "*"][rng.below(3)];
    let cmp = ["==", "!=", "<", "<=", ">", ">="][rng.below(6)];
    let k = rng.between(0, 12) as i64 - 3;
    Some(format!("{a} {op} {b} {cmp} {k}"))
}

// ---------------------------------------------------------------------------------------------
// Prices for generated models (pricing benchmarks and tests)
// ---------------------------------------------------------------------------------------------

/// A copy of a loaded (generated) product with seeded prices, for pricing benchmarks: a base
/// price; a surcharge on about 70% of choice values; a price on every boolean; a price per unit
/// on integer options; and a few conditional price rules (markup, discount, add, subtract on
/// chosen values, a floor, and an order-level add). The rules and constraints are untouched, so
/// the configurations are those of the generated model.
pub fn with_prices(product: &crate::catalog::Product, seed: u64) -> crate::catalog::Product {
    use crate::catalog::expr::Expr;
    use crate::catalog::model::{OptionKind, PriceEffect, PriceRule, Stage};
    use rust_decimal::Decimal;

    let mut rng = Rng::new(seed ^ 0x9A1C_E000_0000_0004);
    let cents = |n: usize| Decimal::new(i64::try_from(n).unwrap_or(0), 2);
    let mut p = product.clone();
    p.base_price = cents(rng.between(1_500_000, 4_000_000));
    let mut choices = Vec::new();
    let mut booleans = Vec::new();
    for (o, opt) in p.options.iter_mut().enumerate() {
        match &mut opt.kind {
            OptionKind::Choice(c) => {
                for v in &mut c.values {
                    if rng.chance(700) {
                        v.price = Some(cents(rng.between(0, 250_000)));
                    }
                }
                if opt.required {
                    choices.push((o, c.values.len()));
                }
            }
            OptionKind::Boolean { price } => {
                *price = Some(cents(rng.between(5_000, 150_000)));
                booleans.push(o);
            }
            OptionKind::Integer(r) => r.price_per_unit = Some(cents(rng.between(100, 5_000))),
            OptionKind::Text(_) | OptionKind::Quantity(_) | OptionKind::Upload(_) => {}
        }
    }
    let span = p.span;
    let mut rules = Vec::new();
    let mut rule = |id: String, condition: Option<Expr>, stage: Stage, effect: PriceEffect| {
        rules.push(PriceRule {
            label: id.clone(),
            id,
            condition,
            stage,
            effect,
            span,
            file: String::new(),
        });
    };
    let effects = [
        PriceEffect::Markup(Decimal::new(4, 0)),
        PriceEffect::Add(cents(12_000)),
        PriceEffect::Discount(Decimal::new(3, 0)),
        PriceEffect::Markup(Decimal::new(75, 1)),
    ];
    for (k, effect) in effects.into_iter().enumerate() {
        if choices.is_empty() {
            break;
        }
        let (o, n) = choices[rng.below(choices.len())];
        let v = rng.below(n);
        rule(
            format!("choice-{k}"),
            Some(Expr::ChoiceIn(o, vec![v])),
            Stage::Unit,
            effect,
        );
    }
    if let Some(&b) = booleans.first() {
        rule(
            "bundle".to_owned(),
            Some(Expr::Bool(b)),
            Stage::Unit,
            PriceEffect::Subtract(cents(5_000)),
        );
    }
    rule(
        "floor".to_owned(),
        None,
        Stage::Unit,
        PriceEffect::Min(cents(10_000)),
    );
    if let Some(&b) = booleans.last() {
        rule(
            "delivery".to_owned(),
            Some(Expr::Bool(b)),
            Stage::Order,
            PriceEffect::Add(cents(9_900)),
        );
    }
    p.price_rules = rules;
    p
}

// ---------------------------------------------------------------------------------------------
// Click paths (what benchmarks replay)
// ---------------------------------------------------------------------------------------------

/// Seeded "click paths" over a product: a customer choosing, step after step, one available
/// value of a randomly picked open option. Returns every selection seen along the way (the
/// empty one first on each path): each one is a `propagate` call a storefront would make.
/// Shared by the engine benchmark and `examples/scale_probe.rs`, so both replay the same calls.
pub fn click_paths(
    engine: &crate::rules::Engine,
    seed: u64,
    paths: usize,
    steps: usize,
) -> Vec<crate::rules::Selection> {
    walk_paths(engine, seed, paths, steps, None, 0).0
}

/// Walks new click paths (as [`click_paths`]) and returns how long each `propagate` call took
/// the first time it was made: what new customers cost an engine that has not seen their
/// selections before (replaying the same selections again is cheaper: the engine remembers).
pub fn click_path_latencies(
    engine: &crate::rules::Engine,
    seed: u64,
    paths: usize,
    steps: usize,
) -> Vec<std::time::Duration> {
    walk_paths(engine, seed, paths, steps, None, 0).1.clicks
}

/// What `click_paths` measured.
#[derive(Debug, Clone, Default)]
pub struct ClickRun {
    /// Each click's `propagate`, in order.
    pub clicks: Vec<std::time::Duration>,
    /// Each click's count of unavailable values whose explanation was deferred.
    pub deferred: Vec<usize>,
    /// Each explanation asked for on request (`Engine::explain_value`) after a click.
    pub asked: Vec<std::time::Duration>,
}

/// [`click_path_latencies`] with explanations worked out for at most `within` per click
/// (`Explain::Until`; `None`: all), and after each click `ask` of its deferred values (spread
/// over the list) explained on request, as a customer asking "why?" would: each timed apart.
pub fn timed_click_paths(
    engine: &crate::rules::Engine,
    seed: u64,
    paths: usize,
    steps: usize,
    within: Option<std::time::Duration>,
    ask: usize,
) -> ClickRun {
    walk_paths(engine, seed, paths, steps, within, ask).1
}

fn walk_paths(
    engine: &crate::rules::Engine,
    seed: u64,
    paths: usize,
    steps: usize,
    within: Option<std::time::Duration>,
    ask: usize,
) -> (Vec<crate::rules::Selection>, ClickRun) {
    use crate::catalog::model::{OptionKind, Value};
    use crate::rules::Explain;
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut run = ClickRun::default();
    for _ in 0..paths {
        let mut sel = crate::rules::Selection::default();
        out.push(sel.clone());
        for _ in 0..steps {
            let t = std::time::Instant::now();
            let explain = within.map_or(Explain::All, |w| Explain::Until(t + w));
            let prop = engine.propagate_explaining(&sel, explain);
            run.clicks.push(t.elapsed());
            let Ok(prop) = prop else {
                break;
            };
            let deferred: Vec<(usize, usize)> = prop
                .options
                .iter()
                .flat_map(|o| o.deferred.iter().map(move |&i| (o.option, i)))
                .collect();
            run.deferred.push(deferred.len());
            for k in 0..ask.min(deferred.len()) {
                let (o, i) = deferred[k * deferred.len() / ask.min(deferred.len())];
                let t = std::time::Instant::now();
                let e = engine.explain_value(&sel, o, i);
                run.asked.push(t.elapsed());
                debug_assert!(matches!(e, Ok(Some(_))));
            }
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
                (OptionKind::Text(_), Value::Int(n)) => {
                    Value::Text("x".repeat(usize::try_from(n).unwrap_or(0)))
                }
                (_, v) => v,
            };
            sel.choices.push((oa.option, v));
            out.push(sel.clone());
        }
    }
    (out, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_stable() {
        let mut r = Rng::new(0);
        // SplitMix64 reference values for seed 0.
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = Rng::new(7);
        for n in 1..50 {
            assert!(r.below(n) < n);
        }
        let s = r.sample(10, 4);
        assert_eq!(s.len(), 4);
        assert_eq!(s.iter().collect::<BTreeSet<_>>().len(), 4);
    }

    #[test]
    fn scalars_read_back() {
        assert_eq!(id_scalar("v1"), "v1");
        assert_eq!(id_scalar("42"), "42");
        assert_eq!(id_scalar("007"), "\"007\"");
        assert_eq!(id_scalar("null"), "\"null\"");
        assert_eq!(id_scalar("True"), "\"True\"");
        assert_eq!(text_scalar("a or not b"), "a or not b");
        assert_eq!(text_scalar("a in [x, y]"), "\"a in [x, y]\"");
        assert_eq!(quote("é\"\\"), "\"\\u00E9\\\"\\\\\"");
    }
}
