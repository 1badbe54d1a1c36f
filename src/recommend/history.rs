//! Order history: sold configurations (`Sale`), how a product's values are indexed for learning (`Domains`), and the history CSV format (`parse_history`) with its row problems.
//!
//! # The CSV format
//!
//! ```text
//! size,colour,engine,count        (comma-separated; whitespace-separated when the header
//! m,red,petrol,3                   has no comma, as in the research data sets)
//! l,,diesel,1                     an empty cell: not known for this sale
//! s,blue,-,1                      `-`: explicitly not chosen (an optional option)
//! ```
//!
//! - The header names options by id. A name that is not an option id is also read through the
//!   importers' name rule (`rules::import::map_option_names`), so a history written with an
//!   imported model's source names reads as is (XCSP `-1` is the value `_1`, see
//!   docs/import.md). Options missing from the header are unknown for every sale of the file.
//! - Two optional columns: `count` (a positive integer: that many identical sales; default 1)
//!   and `customer` (an opaque customer reference), unless the product has options with those
//!   ids (then the columns are the options).
//! - Cells are value ids (choice), `true`/`false` (boolean, also `yes`/`no`, `1`/`0`,
//!   `on`/`off`), integers (integer and quantity options), or `-` for "not chosen" (optional
//!   options only). A choice cell that is not a value id is read through the importers' value
//!   rule (`map_value_names`).
//! - Text and upload options are never learned: their columns are reported once and ignored.
//!
//! Problems are reported with their 1-based line numbers and never stop the parse. A header
//! naming an unknown option, or a cell with an unknown value, leaves that option unknown for the
//! sale(s) concerned and keeps the rest; a row with the wrong number of fields or a bad count is
//! skipped. Rows that today's rules do not allow are found by [`HistoryFile::check_rules`] and
//! kept (see docs/personalization.md, "Inconsistent history").

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::catalog::model::{OptId, OptionKind, Product, Value};
use crate::rules::{Engine, EngineError, Selection};

/// Options with more values than this (domain indices, "unset" included) are not learned: the
/// recommender keeps domain indices in 16 bits, and a value among thousands is not something
/// order history recommends well. The loader allows 100,000 values per choice.
pub const MAX_LEARNED_VALUES: usize = 4096;

/// The largest history file read, in bytes (64 MiB: about a million rows of 30 options).
pub const MAX_HISTORY_BYTES: usize = 64 << 20;

/// The reserved column names (see the module documentation).
const COUNT_COLUMN: &str = "count";
const CUSTOMER_COLUMN: &str = "customer";

/// The longest customer reference kept, in bytes (references are opaque ids, not text): the
/// bound of an order's references (255).
pub const MAX_CUSTOMER_REF: usize = crate::orders::MAX_REF_LEN;

/// One sold configuration: the values of the options it records (any subset of the
/// product's learned options), how many identical sales it stands for, and optionally the
/// opaque reference of the customer who bought it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sale {
    /// (option, domain index as the engine numbers it), sorted by option, each option once.
    /// For an optional option the last index means "not chosen".
    pub values: Vec<(OptId, usize)>,
    /// Identical sales this one stands for (at least 1).
    pub count: u64,
    /// An opaque customer reference (never personal data: see docs/personalization.md).
    pub customer: Option<String>,
}

impl Sale {
    /// A single sale of the given values (sorted and deduplicated by option: the last wins).
    pub fn new(mut values: Vec<(OptId, usize)>) -> Sale {
        values.reverse();
        values.sort_by_key(|&(o, _)| o);
        values.dedup_by_key(|&mut (o, _)| o);
        Sale {
            values,
            count: 1,
            customer: None,
        }
    }

    /// The same sale bought by `customer`.
    pub fn by(mut self, customer: &str) -> Sale {
        self.customer = Some(customer.to_owned());
        self
    }

    /// The same sale, `count` times (at least once).
    pub fn times(mut self, count: u64) -> Sale {
        self.count = count.max(1);
        self
    }

    /// The learned options' values of a selection (text and uploads are left out; an unknown
    /// value too).
    pub fn from_selection(domains: &Domains, sel: &Selection) -> Sale {
        Sale::new(
            sel.choices
                .iter()
                .filter_map(|(o, v)| Some((*o, domains.index_of(*o, v)?)))
                .collect(),
        )
    }

    /// The learned options' values of a full configuration (one domain index per option, as
    /// `Engine::complete` answers).
    pub fn from_configuration(domains: &Domains, config: &[usize]) -> Sale {
        Sale::new(
            config
                .iter()
                .enumerate()
                .filter(|&(o, &i)| domains.size(o).is_some_and(|n| i < n))
                .map(|(o, &i)| (o, i))
                .collect(),
        )
    }

    /// The sale as a selection (the "not chosen" index of an optional option is left out).
    pub fn selection(&self, domains: &Domains) -> Selection {
        Selection {
            choices: self
                .values
                .iter()
                .filter_map(|&(o, i)| Some((o, domains.value(o, i)?)))
                .collect(),
        }
    }
}

/// How one option's values are numbered for learning: the engine's domain indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domain {
    /// Choice values `0..n`, then "unset" when optional.
    Choice { n: usize, optional: bool },
    /// 0 = false, 1 = true.
    Bool,
    /// `min + i * step` for `i < n`, then "unset" when optional.
    Int {
        min: i64,
        step: i64,
        n: usize,
        optional: bool,
    },
    /// Text, uploads and options with more than [`MAX_LEARNED_VALUES`] values.
    NotLearned,
}

/// The product's options as the recommender numbers their values: the rules engine's domain
/// indices (`rules::model::Var`), so that availability answers apply directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domains {
    domains: Vec<Domain>,
    /// Option ids, in product order (for reading histories).
    ids: Vec<String>,
    /// Choice value ids per option (empty for other kinds).
    values: Vec<Vec<String>>,
}

impl Domains {
    pub fn of(product: &Product) -> Domains {
        let domains = product
            .options
            .iter()
            .map(|o| {
                let optional = !o.required;
                let d = match &o.kind {
                    OptionKind::Choice(c) => Domain::Choice {
                        n: c.values.len(),
                        optional,
                    },
                    OptionKind::Boolean { .. } => Domain::Bool,
                    OptionKind::Integer(r) => Domain::Int {
                        min: r.min,
                        step: r.step,
                        n: usize::try_from(r.len()).unwrap_or(usize::MAX),
                        optional,
                    },
                    OptionKind::Quantity(r) => Domain::Int {
                        min: r.min,
                        step: r.step,
                        n: usize::try_from(r.len()).unwrap_or(usize::MAX),
                        optional: false,
                    },
                    OptionKind::Text(_) | OptionKind::Upload(_) => Domain::NotLearned,
                };
                let size = size_of(d);
                if size.is_some_and(|n| n <= MAX_LEARNED_VALUES) {
                    d
                } else {
                    Domain::NotLearned
                }
            })
            .collect();
        Domains {
            domains,
            ids: product.options.iter().map(|o| o.id.clone()).collect(),
            values: product
                .options
                .iter()
                .map(|o| match &o.kind {
                    OptionKind::Choice(c) => c.values.iter().map(|v| v.id.clone()).collect(),
                    _ => Vec::new(),
                })
                .collect(),
        }
    }

    /// How many options the product has.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The number of domain indices of a learned option ("unset" included), `None` for one
    /// that is not learned.
    pub fn size(&self, o: OptId) -> Option<usize> {
        self.domains.get(o).copied().and_then(size_of)
    }

    /// The domain index of a value of option `o`, `None` if `o` is not learned or the value is
    /// not one of its values.
    pub fn index_of(&self, o: OptId, v: &Value) -> Option<usize> {
        match (self.domains.get(o)?, v) {
            (Domain::Choice { n, .. }, Value::Choice(c)) => (c < n).then_some(*c),
            (Domain::Bool, Value::Bool(b)) => Some(usize::from(*b)),
            (Domain::Int { min, step, n, .. }, Value::Int(x)) => {
                let d = x.checked_sub(*min)?;
                if d < 0 || d % step != 0 {
                    return None;
                }
                let i = usize::try_from(d / step).ok()?;
                (i < *n).then_some(i)
            }
            _ => None,
        }
    }

    /// The value at domain index `i` of option `o`; `None` for "unset" (or out of range).
    pub fn value(&self, o: OptId, i: usize) -> Option<Value> {
        match *self.domains.get(o)? {
            Domain::Choice { n, .. } => (i < n).then_some(Value::Choice(i)),
            Domain::Bool => (i < 2).then_some(Value::Bool(i == 1)),
            Domain::Int { min, step, n, .. } => {
                if i >= n {
                    return None;
                }
                let k = i64::try_from(i).ok()?;
                Some(Value::Int(min.checked_add(step.checked_mul(k)?)?))
            }
            Domain::NotLearned => None,
        }
    }

    /// The "unset" index of an optional learned option.
    fn unset(&self, o: OptId) -> Option<usize> {
        match *self.domains.get(o)? {
            Domain::Choice {
                n, optional: true, ..
            }
            | Domain::Int {
                n, optional: true, ..
            } => Some(n),
            _ => None,
        }
    }

    /// Reads one history cell of option `o` (see the module documentation).
    fn read(&self, o: OptId, cell: &str) -> Option<usize> {
        if cell == "-" {
            return self.unset(o);
        }
        match *self.domains.get(o)? {
            Domain::Choice { .. } => {
                let values = self.values.get(o)?;
                values.iter().position(|v| v == cell).or_else(|| {
                    let mapped = crate::rules::import::map_value_names(&[cell]);
                    let mapped = mapped.first()?;
                    values.iter().position(|v| v == mapped)
                })
            }
            Domain::Bool => match cell {
                "true" | "yes" | "1" | "on" => Some(1),
                "false" | "no" | "0" | "off" => Some(0),
                _ => None,
            },
            Domain::Int { .. } => self.index_of(o, &Value::Int(cell.parse().ok()?)),
            Domain::NotLearned => None,
        }
    }

    /// The option a header names (its id, or its id under the importers' name rule).
    fn option_named(&self, name: &str) -> Option<OptId> {
        self.ids.iter().position(|id| id == name).or_else(|| {
            let mapped = crate::rules::import::map_option_names(&[name]);
            let mapped = mapped.first()?;
            self.ids.iter().position(|id| id == mapped)
        })
    }
}

fn size_of(d: Domain) -> Option<usize> {
    match d {
        Domain::Choice { n, optional } | Domain::Int { n, optional, .. } => {
            n.checked_add(usize::from(optional))
        }
        Domain::Bool => Some(2),
        Domain::NotLearned => None,
    }
}

/// One sale read from a history file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRow {
    /// 1-based line number in the file.
    pub line: usize,
    /// 0-based position among the file's data rows (blank lines not counted, skipped rows
    /// counted): the index a fold file uses.
    pub row: usize,
    pub sale: Sale,
}

/// A problem with one line of a history file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    pub problem: Problem,
}

/// What is wrong with a line, and what the import did about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A header column names no option: the column is ignored.
    #[error("`{column}` is not an option of the product; the column is ignored")]
    UnknownOption { column: String },
    /// A header column names an option twice: the second column is ignored.
    #[error("`{option}` is named twice in the header; the later column is ignored")]
    RepeatedOption { option: String },
    /// A header column names a text or upload option (or one with too many values).
    #[error(
        "`{option}` is not learned from history (text, upload, or more than {MAX_LEARNED_VALUES} values); the column is ignored"
    )]
    NotLearned { option: String },
    /// A cell is not a value of its option: the option is unknown for this sale.
    #[error("`{value}` is not a value of `{option}`; the option is left unknown for this sale")]
    UnknownValue { option: String, value: String },
    /// The row has another number of fields than the header: the row is skipped.
    #[error("{found} fields where the header has {expected}; the row is skipped")]
    FieldCount { expected: usize, found: usize },
    /// The count cell is not a positive integer: the row is skipped.
    #[error("the count `{value}` is not a positive integer; the row is skipped")]
    BadCount { value: String },
    /// The customer reference is longer than [`MAX_CUSTOMER_REF`] bytes: the row is skipped.
    #[error("the customer reference is longer than {MAX_CUSTOMER_REF} bytes; the row is skipped")]
    BadCustomer,
    /// The row's values extend to no valid configuration under today's rules: it is kept.
    #[error(
        "not allowed by today's rules; kept for preferences (it never makes an unavailable value recommended)"
    )]
    Inconsistent,
    /// The file is larger than [`MAX_HISTORY_BYTES`] or has no header.
    #[error("{0}")]
    File(String),
}

impl Problem {
    /// Whether the row was left out of the import.
    pub fn skips_row(&self) -> bool {
        matches!(
            self,
            Problem::FieldCount { .. } | Problem::BadCount { .. } | Problem::BadCustomer
        )
    }
}

/// A history file read against a product: its sales (with their line numbers), every problem,
/// and the SHA-256 of its bytes (an import is idempotent per file content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFile {
    /// Hex SHA-256 of the file's bytes.
    pub digest: String,
    /// The option of each header column, in order (`None`: ignored, `count` or `customer`).
    pub columns: Vec<Option<OptId>>,
    /// Sales in file order.
    pub sales: Vec<SaleRow>,
    /// Problems in line order.
    pub problems: Vec<RowProblem>,
}

impl HistoryFile {
    /// The sales as many as they stand for (the sum of counts).
    pub fn total(&self) -> u64 {
        self.sales
            .iter()
            .fold(0u64, |t, r| t.saturating_add(r.sale.count))
    }

    /// Finds the rows that today's rules do not allow (their values extend to no valid
    /// configuration), adds a [`Problem::Inconsistent`] for each and returns their indices in
    /// `sales`. Identical rows are checked once. The rows stay in `sales`: see
    /// docs/personalization.md, "Inconsistent history".
    pub fn check_rules(&mut self, engine: &Engine) -> Result<Vec<usize>, EngineError> {
        let domains = Domains::of(&engine.product);
        let mut verdict: HashMap<&[(OptId, usize)], bool> = HashMap::new();
        let mut bad = Vec::new();
        for (k, SaleRow { sale, .. }) in self.sales.iter().enumerate() {
            let ok = match verdict.get(sale.values.as_slice()) {
                Some(&ok) => ok,
                None => {
                    let ok = consistent(engine, &domains, sale)?;
                    verdict.insert(&sale.values, ok);
                    ok
                }
            };
            if !ok {
                bad.push(k);
            }
        }
        for &k in &bad {
            self.problems.push(RowProblem {
                line: self.sales[k].line,
                problem: Problem::Inconsistent,
            });
        }
        self.problems.sort_by_key(|p| p.line);
        Ok(bad)
    }
}

/// Whether a sale's values extend to a valid configuration under the engine's rules.
pub fn consistent(engine: &Engine, domains: &Domains, sale: &Sale) -> Result<bool, EngineError> {
    let sel = sale.selection(domains);
    let unset = sale
        .values
        .iter()
        .filter(|&&(o, i)| domains.value(o, i).is_none())
        .map(|&(o, i)| (o, vec![i]))
        .collect::<Vec<_>>();
    if unset.is_empty() {
        return Ok(engine.complete(&sel)?.is_some());
    }
    // "Not chosen" is no selection value: ask for a completion that keeps it, and check it did.
    Ok(engine
        .complete_preferring(&sel, &unset)?
        .is_some_and(|c| unset.iter().all(|(o, i)| c.get(*o) == i.first())))
}

/// Reads a history file against a product (see the module documentation). Never fails: every
/// problem is in `problems`.
pub fn parse_history(product: &Product, bytes: &[u8]) -> HistoryFile {
    let digest = crate::config::hex(&Sha256::digest(bytes));
    let mut out = HistoryFile {
        digest,
        columns: Vec::new(),
        sales: Vec::new(),
        problems: Vec::new(),
    };
    let file_problem = |out: &mut HistoryFile, line: usize, why: String| {
        out.problems.push(RowProblem {
            line,
            problem: Problem::File(why),
        });
    };
    if bytes.len() > MAX_HISTORY_BYTES {
        file_problem(
            &mut out,
            1,
            format!(
                "the file has {} bytes; the limit is {MAX_HISTORY_BYTES}",
                bytes.len()
            ),
        );
        return out;
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(k, l)| (k + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        file_problem(&mut out, 1, "the file has no header line".to_owned());
        return out;
    };
    let comma = header.contains(',');
    let split = |line: &str| -> Vec<String> {
        if comma {
            split_csv(line)
        } else {
            line.split_whitespace().map(str::to_owned).collect()
        }
    };
    let domains = Domains::of(product);
    let names = split(header);
    let has_option = |id: &str| product.options.iter().any(|o| o.id == id);
    let mut count_col = None;
    let mut customer_col = None;
    for (c, name) in names.iter().enumerate() {
        let name = name.trim();
        let mut column = None;
        if name == COUNT_COLUMN && !has_option(COUNT_COLUMN) && count_col.is_none() {
            count_col = Some(c);
        } else if name == CUSTOMER_COLUMN && !has_option(CUSTOMER_COLUMN) && customer_col.is_none()
        {
            customer_col = Some(c);
        } else {
            let problem = match domains.option_named(name) {
                None => Some(Problem::UnknownOption {
                    column: name.to_owned(),
                }),
                Some(o) if out.columns.contains(&Some(o)) => Some(Problem::RepeatedOption {
                    option: product.options[o].id.clone(),
                }),
                Some(o) if domains.size(o).is_none() => Some(Problem::NotLearned {
                    option: product.options[o].id.clone(),
                }),
                Some(o) => {
                    column = Some(o);
                    None
                }
            };
            if let Some(problem) = problem {
                out.problems.push(RowProblem {
                    line: header_line,
                    problem,
                });
            }
        }
        out.columns.push(column);
    }
    for (row, (line, text)) in lines.enumerate() {
        let cells = split(text);
        if cells.len() != names.len() {
            out.problems.push(RowProblem {
                line,
                problem: Problem::FieldCount {
                    expected: names.len(),
                    found: cells.len(),
                },
            });
            continue;
        }
        let mut count = 1u64;
        if let Some(c) = count_col {
            match cells[c].trim().parse::<u64>() {
                Ok(n) if n > 0 => count = n,
                _ => {
                    out.problems.push(RowProblem {
                        line,
                        problem: Problem::BadCount {
                            value: cells[c].clone(),
                        },
                    });
                    continue;
                }
            }
        }
        let customer = match customer_col.map(|c| cells[c].trim()) {
            Some(r) if r.len() > MAX_CUSTOMER_REF => {
                out.problems.push(RowProblem {
                    line,
                    problem: Problem::BadCustomer,
                });
                continue;
            }
            Some("") | None => None,
            Some(r) => Some(r.to_owned()),
        };
        let mut values = Vec::new();
        for (cell, column) in cells.iter().zip(&out.columns) {
            let Some(o) = *column else { continue };
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            match domains.read(o, cell) {
                Some(i) => values.push((o, i)),
                None => out.problems.push(RowProblem {
                    line,
                    problem: Problem::UnknownValue {
                        option: product.options[o].id.clone(),
                        value: cell.to_owned(),
                    },
                }),
            }
        }
        let mut sale = Sale::new(values).times(count);
        sale.customer = customer;
        out.sales.push(SaleRow { line, row, sale });
    }
    out
}

/// Splits one comma-separated line; double quotes enclose a field, `""` inside is a quote.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::split_csv;

    #[test]
    fn csv_fields_split_on_commas_outside_quotes() {
        assert_eq!(split_csv("a,b,,c"), ["a", "b", "", "c"]);
        assert_eq!(
            split_csv("\"a,b\",\"say \"\"hi\"\"\""),
            ["a,b", "say \"hi\""]
        );
    }
}
