//! Importers of models from other constraint tools (DIMACS CNF, XCSP 2.1) into catalog YAML text, with the name-mapping rule they share.
//!
//! An import produces the same text a merchant would write (a product file and its rules), which
//! [`crate::catalog::load`] then loads: see docs/import.md for what is supported, the
//! name-mapping rule, and how solution counts correspond.

mod dimacs;
mod xcsp;

use std::collections::BTreeSet;

use crate::catalog::FileSet;

pub use dimacs::import_dimacs;
pub use xcsp::import_xcsp;

use super::generate::{Generated, Model};

/// Largest input accepted, in bytes.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;
/// Most variables an input may declare.
pub const MAX_VARIABLES: usize = 100_000;
/// Most clauses (DIMACS) or constraints (XCSP) an input may hold.
pub const MAX_CONSTRAINTS: usize = 100_000;
/// Most values one XCSP domain may hold (the loader's limit on a choice option).
pub const MAX_DOMAIN_VALUES: usize = 100_000;
/// Most literals (DIMACS) or table cells (XCSP, summed over every constraint) read.
pub const MAX_CELLS: usize = 4_000_000;
/// Most values summed over every variable's domain (XCSP).
pub const MAX_TOTAL_VALUES: usize = 1_000_000;
/// Longest source name kept in labels and messages (longer ones are cut).
const MAX_NOTE_NAME: usize = 64;

/// Why an input could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error(
        "`{0}` is not a valid product id (lower-case letters, digits and `-`, at most 64 characters, starting with a letter or digit)"
    )]
    ProductId(String),
    #[error("the input is too large: {0}")]
    TooLarge(String),
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("not valid XML: {0}")]
    Xml(String),
    #[error("invalid model: {0}")]
    Invalid(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("the imported catalog would exceed the loader's limits: {0}")]
    Output(String),
}

/// A source name that had to change to become a Bespoke id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// What was renamed: `variable`, or `value of domain D0`.
    pub what: String,
    /// The name in the source file.
    pub source: String,
    /// The id it became.
    pub id: String,
}

/// The result of an import: the catalog text, the renames applied and notes on the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The product and rules text (no witnesses: an import knows no valid configuration).
    pub model: Generated,
    /// Every name mapping applied, in order of appearance.
    pub renamed: Vec<Renamed>,
    /// Notes on the input: sizes, lenient readings (e.g. a clause count that differs from the
    /// header), tuples dropped because they lie outside the domains, long clauses written as
    /// tables.
    pub notes: Vec<String>,
}

impl Imported {
    pub fn product_id(&self) -> &str {
        &self.model.product_id
    }

    /// The files, ready for [`crate::catalog::load`] (see [`Generated::files`]).
    pub fn files(&self) -> FileSet {
        self.model.files()
    }

    /// The notes, then one line per rename (`variable "Engine Type" → engine_type`).
    pub fn report(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            out.push_str(n);
            out.push('\n');
        }
        for r in &self.renamed {
            out.push_str(&format!("{} {:?} → {}\n", r.what, short(&r.source), r.id));
        }
        out
    }
}

const KEYWORDS: [&str; 6] = ["and", "or", "not", "in", "true", "false"];

/// Whether `s` may be used as an option id: `[a-z][a-z0-9_]*`, at most 64 characters, not a
/// keyword of the rule language.
pub fn is_option_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        && !KEYWORDS.contains(&s)
}

/// Whether `s` may be used as a value id: `[A-Za-z0-9_][A-Za-z0-9_-]*`, at most 64 characters,
/// not a keyword of the rule language.
pub fn is_value_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && !KEYWORDS.contains(&s)
}

/// The first 64 bytes of `s` (ASCII only, as every sanitized name is).
fn cut(s: &str, max: usize) -> &str {
    s.get(..max.min(s.len())).unwrap_or(s)
}

/// A name for notes and labels: at most [`MAX_NOTE_NAME`] characters.
pub(crate) fn short(s: &str) -> String {
    if s.chars().count() <= MAX_NOTE_NAME {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX_NOTE_NAME - 1).collect();
        format!("{head}…")
    }
}

fn sanitize_option(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) || KEYWORDS.contains(&out.as_str()) {
        out.insert_str(0, "v_");
    }
    cut(&out, 64).to_owned()
}

fn sanitize_value(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push('v');
    }
    if out.starts_with('-') {
        out.replace_range(..1, "_");
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.insert_str(0, "v_");
    }
    cut(&out, 64).to_owned()
}

/// Maps source names to ids by the documented rule (docs/import.md, "Names"):
/// 1. a name that is already a valid id is kept, unless an earlier name in the list kept it;
/// 2. every other name, in order, is sanitized (`sanitize`), and if that id is taken gets the
///    first free suffix `_2`, `_3`, … (cutting the name so that the id stays within 64
///    characters).
fn map_names(names: &[&str], valid: fn(&str) -> bool, sanitize: fn(&str) -> String) -> Vec<String> {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut out: Vec<Option<String>> = names
        .iter()
        .map(|n| (valid(n) && taken.insert((*n).to_owned())).then(|| (*n).to_owned()))
        .collect();
    for (slot, n) in out.iter_mut().zip(names) {
        if slot.is_some() {
            continue;
        }
        let base = sanitize(n);
        let mut id = base.clone();
        let mut k = 2u64;
        while taken.contains(&id) {
            let suffix = format!("_{k}");
            id = format!("{}{suffix}", cut(&base, 64 - suffix.len()));
            k += 1;
        }
        taken.insert(id.clone());
        *slot = Some(id);
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// Maps source names (variables) to option ids; see docs/import.md, "Names".
///
/// Option ids: lower-case the ASCII letters, replace every character outside `[a-z0-9_]` by `_`,
/// prefix `v_` when the result does not start with a letter or is a keyword, cut to 64
/// characters; valid names are kept and win collisions; the rest get `_2`, `_3`, … in order.
pub fn map_option_names(names: &[&str]) -> Vec<String> {
    map_names(names, is_option_id, sanitize_option)
}

/// Maps source names to value ids of one option; see docs/import.md, "Names".
///
/// Value ids: replace every character outside `[A-Za-z0-9_-]` by `_` and a leading `-` by `_`,
/// prefix `v_` to a keyword, `v` for an empty name, cut to 64 characters; then as for options.
pub fn map_value_names(names: &[&str]) -> Vec<String> {
    map_names(names, is_value_id, sanitize_value)
}

/// Checks a product id against the catalog's rule for product ids.
fn check_product_id(id: &str) -> Result<(), ImportError> {
    let b = id.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(ImportError::ProductId(short(id)))
    }
}

/// Checks the input's size before anything is read.
fn check_input(text: &str, product_id: &str) -> Result<(), ImportError> {
    check_product_id(product_id)?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(ImportError::TooLarge(format!(
            "{} bytes; the limit is {MAX_INPUT_BYTES}",
            text.len()
        )));
    }
    Ok(())
}

/// Writes the model and checks it against the loader's limits.
fn finish(
    model: &Model,
    renamed: Vec<Renamed>,
    notes: Vec<String>,
) -> Result<Imported, ImportError> {
    let rendered = model.render(Vec::new());
    if let Some(why) = rendered.over_limits() {
        return Err(ImportError::Output(why));
    }
    Ok(Imported {
        model: rendered.generated,
        renamed,
        notes,
    })
}
