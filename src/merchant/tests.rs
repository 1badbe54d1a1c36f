//! Rule tests: merchants' YAML test cases for a product's rules (given choices; expected availability with explanations, validity, messages, counts), read with spans and run against the rules engine.
//!
//! The file format is documented in docs/merchant.md. Reading resolves every option, value and
//! rule id against the catalog, so a typo is a diagnostic with file:line:column, not a silent
//! failure; running gives one [`CaseResult`] per case with every failed expectation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use num_bigint::BigUint;
use rust_decimal::Decimal;

use super::yamlread::{Reader, get};
use crate::catalog::expr::did_you_mean;
use crate::catalog::model::{OptId, OptionKind, Product, Value};
use crate::catalog::yaml::{self, Node, NodeKind};
use crate::catalog::{Catalog, Code, Diagnostic, SourceMap, Span};
use crate::rules::engine::{Propagation, Validation};
use crate::rules::model::Model;
use crate::rules::selection::value_text;
use crate::rules::{Engine, Selection};

/// Most test files read from one catalog.
pub const MAX_FILES: usize = 1_000;
/// Most cases in one file.
pub const MAX_CASES: usize = 10_000;
/// The keys of a test file.
pub const FILE_KEYS: &[&str] = &["product", "tests"];
/// The keys of one test case.
pub const CASE_KEYS: &[&str] = &[
    "name",
    "given",
    "consistent",
    "conflict",
    "available",
    "unavailable",
    "only",
    "range",
    "valid",
    "violated",
    "messages",
    "count",
    "price",
    "price_range",
];

/// One expectation of a case, with where it was written.
#[derive(Debug, Clone)]
pub struct Check {
    pub span: Span,
    pub kind: CheckKind,
}

/// What a case expects. Options and values are resolved: `OptId` into the product's options,
/// values as the engine's domain indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// The choices extend to a valid configuration (or not).
    Consistent(bool),
    /// When inconsistent: the rules of the minimal conflict, exactly.
    Conflict(BTreeSet<String>),
    /// The value is available.
    Available { option: OptId, index: usize },
    /// The value is unavailable; with rule ids, its explanation names exactly these rules.
    Unavailable {
        option: OptId,
        index: usize,
        because: Option<BTreeSet<String>>,
    },
    /// The available values of the option are exactly these.
    Only {
        option: OptId,
        indices: BTreeSet<usize>,
    },
    /// The smallest and largest available value of an integer option or text length.
    Range { option: OptId, lo: i64, hi: i64 },
    /// The configuration (the choices, then defaults for the rest) is valid.
    Valid(bool),
    /// The rules the configuration violates, exactly (rule ids).
    Violated(BTreeSet<String>),
    /// The messages of the rules the configuration violates, exactly.
    Messages(BTreeSet<String>),
    /// The number of valid configurations extending the choices.
    Count(BigUint),
    /// The quoted total of the configuration (the choices, then defaults for the rest).
    Price(Decimal),
    /// The lowest and highest total over the valid completions of the choices.
    PriceRange(Decimal, Decimal),
}

/// One test case, resolved against its product.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub span: Span,
    pub given: Selection,
    pub checks: Vec<Check>,
}

/// One test file, resolved.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: String,
    pub product: Arc<Product>,
    pub cases: Vec<Case>,
}

/// Every test file of a catalog, read and resolved, with the diagnostics found on the way.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    pub sources: SourceMap,
    pub files: Vec<TestFile>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Suite {
    /// Reads test files (path, text) against a loaded catalog. Never stops at the first problem.
    pub fn read(catalog: &Catalog, files: &[(String, String)]) -> Suite {
        let mut suite = Suite::default();
        let mut r = Reader::default();
        for (path, text) in files.iter().take(MAX_FILES) {
            let id = suite.sources.add(path.clone(), text.clone());
            match yaml::parse(&suite.sources, id) {
                Ok(node) => {
                    if let Some(f) = read_file(&mut r, catalog, path, &node) {
                        suite.files.push(f);
                    }
                }
                Err(d) => r.diags.push(d),
            }
        }
        suite.diagnostics = r.diags;
        suite
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Number of cases over all files.
    pub fn case_count(&self) -> usize {
        self.files.iter().map(|f| f.cases.len()).sum()
    }

    /// Runs every case; `filter` keeps the cases whose product id or name contains it.
    pub fn run(&self, work_limit: u64, filter: Option<&str>) -> Report {
        let mut results = Vec::new();
        for f in &self.files {
            let engine = Engine::new(f.product.clone()).with_work_limit(work_limit);
            for c in &f.cases {
                if filter.is_some_and(|s| !c.name.contains(s) && !f.product.id.contains(s)) {
                    continue;
                }
                results.push(run_case(&engine, &f.path, c));
            }
        }
        Report { results }
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub product: String,
    pub name: String,
    pub failures: Vec<Failure>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A failed expectation: where it is written and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub line: u32,
    pub column: u32,
    /// The expectation's key (`unavailable`, `count`, ...), or `engine` when the engine gave up.
    pub check: &'static str,
    pub message: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub results: Vec<CaseResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    pub fn ok(&self) -> bool {
        self.failed() == 0
    }

    /// Human-readable text: one line per case, failed expectations indented under it, a summary.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for r in &self.results {
            let status = if r.passed() { "ok  " } else { "FAIL" };
            s.push_str(&format!(
                "{status} {}: {} ({}:{}:{})\n",
                r.product, r.name, r.file, r.line, r.column
            ));
            for f in &r.failures {
                s.push_str(&format!(
                    "       {}:{}:{}: {}: {}\n",
                    r.file, f.line, f.column, f.check, f.message
                ));
            }
        }
        s.push_str(&format!(
            "\ntest result: {}. {} passed; {} failed\n",
            if self.ok() { "ok" } else { "FAILED" },
            self.passed(),
            self.failed()
        ));
        s
    }

    /// One JSON document: counts and every case with its failures.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.ok(),
            "passed": self.passed(),
            "failed": self.failed(),
            "tests": self.results.iter().map(|r| serde_json::json!({
                "file": r.file, "line": r.line, "column": r.column,
                "product": r.product, "name": r.name, "ok": r.passed(),
                "failures": r.failures.iter().map(|f| serde_json::json!({
                    "line": f.line, "column": f.column, "check": f.check, "message": f.message,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

// ---- reading ----

fn read_file(r: &mut Reader, catalog: &Catalog, path: &str, node: &Node) -> Option<TestFile> {
    let f = r.fields(node, "a rule-test file", FILE_KEYS)?;
    let Some(pn) = get(&f, "product") else {
        r.error(
            Code::MissingKey,
            node.span,
            "a rule-test file needs `product`",
            Some("add `product: <product id>` at the top".into()),
        );
        return None;
    };
    let pid = r.text(pn, "`product`")?;
    let Some(product) = catalog.product(&pid) else {
        let hint = did_you_mean(&pid, catalog.products().iter().map(|p| p.id.as_str()))
            .map(|s| format!("did you mean `{s}`?"));
        r.error(
            Code::UnknownOption,
            pn.span,
            format!("the catalog has no product `{pid}` (or it has errors)"),
            hint.or(Some("run `bespoke check` on the catalog".into())),
        );
        return None;
    };
    let Some(tn) = get(&f, "tests") else {
        r.error(
            Code::MissingKey,
            node.span,
            "a rule-test file needs `tests`",
            Some("add `tests:` with a list of cases".into()),
        );
        return None;
    };
    let items = r.seq(tn, "`tests`")?;
    if items.len() > MAX_CASES {
        r.error(
            Code::TooLarge,
            tn.span,
            format!("more than {MAX_CASES} cases in one file"),
            Some("split the tests over several files".into()),
        );
        return None;
    }
    let mut names: BTreeMap<String, Span> = BTreeMap::new();
    let mut cases = Vec::new();
    let model = Model::compile(product);
    for item in items {
        if let Some(c) = read_case(r, product, &model, item) {
            if let Some(first) = names.get(&c.name) {
                r.diags.push(
                    Diagnostic::new(
                        Code::DuplicateId,
                        c.span,
                        format!("two cases are named `{}`", c.name),
                    )
                    .with_label(*first, "first here")
                    .with_help("give each case its own name, so failures can be told apart"),
                );
            }
            names.insert(c.name.clone(), c.span);
            cases.push(c);
        }
    }
    Some(TestFile {
        path: path.to_owned(),
        product: product.clone(),
        cases,
    })
}

/// Resolves an option id, reporting unknown ones with a suggestion.
fn option(r: &mut Reader, p: &Product, id: &str, span: Span) -> Option<OptId> {
    match p.option(id) {
        Some((o, _)) => Some(o),
        None => {
            let hint = did_you_mean(id, p.options.iter().map(|o| o.id.as_str()))
                .map(|s| format!("did you mean `{s}`?"));
            r.error(
                Code::UnknownOption,
                span,
                format!("`{}` has no option `{id}`", p.id),
                hint,
            );
            None
        }
    }
}

/// Resolves a value node of an option to its domain index in the engine's model: a value id,
/// `true`/`false`, an integer, a text length (for text options) or null for "unset".
fn value_index(
    r: &mut Reader,
    model: &Model,
    p: &Product,
    opt: OptId,
    node: &Node,
) -> Option<usize> {
    let var = model.vars.get(opt)?;
    let o = &p.options[opt];
    if node.kind == NodeKind::Null {
        return match var.unset() {
            Some(i) => Some(i),
            None => {
                r.error(
                    Code::UnknownValue,
                    node.span,
                    format!("`{}` is always set, so it has no unset value", o.id),
                    None,
                );
                None
            }
        };
    }
    let text = r.text(node, "a value")?;
    let value = match &o.kind {
        OptionKind::Text(_) => match text.parse::<i64>() {
            Ok(n) => Some(Value::Int(n)),
            Err(_) => {
                r.error(
                    Code::WrongType,
                    node.span,
                    format!(
                        "`{}` is a text option: its values here are lengths (numbers)",
                        o.id
                    ),
                    None,
                );
                return None;
            }
        },
        _ => match Selection::parse(p, &[(o.id.clone(), text.clone())]) {
            Ok(sel) => sel.choices.into_iter().next().map(|(_, v)| v),
            Err(e) => {
                r.error(Code::UnknownValue, node.span, e.to_string(), None);
                return None;
            }
        },
    };
    let idx = value.as_ref().and_then(|v| var.index_of(v));
    if idx.is_none() {
        r.error(
            Code::UnknownValue,
            node.span,
            format!("`{text}` is not a possible value of `{}`", o.id),
            None,
        );
    }
    idx
}

fn rule_ids(r: &mut Reader, p: &Product, node: &Node, what: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (id, span) in r.texts(node, what) {
        if !p.constraints.iter().any(|c| c.id == id) {
            let hint = did_you_mean(&id, p.constraints.iter().map(|c| c.id.as_str()))
                .map(|s| format!("did you mean `{s}`?"));
            r.error(
                Code::UnknownOption,
                span,
                format!("`{}` has no rule `{id}`", p.id),
                hint.or(Some(
                    "rule ids are the `id` of constraints in the product's rules files".into(),
                )),
            );
            continue;
        }
        out.insert(id);
    }
    out
}

fn read_case(r: &mut Reader, product: &Arc<Product>, model: &Model, node: &Node) -> Option<Case> {
    let p: &Product = product;
    let before = r.diags.len();
    let f = r.fields(node, "a test case", CASE_KEYS)?;
    let name = match get(&f, "name") {
        Some(n) => r.text(n, "`name`")?,
        None => {
            r.error(
                Code::MissingKey,
                node.span,
                "a test case needs a `name`",
                Some("add `name: <what the case checks>`".into()),
            );
            return None;
        }
    };
    let mut given = Selection::default();
    if let Some(g) = get(&f, "given") {
        let entries = r.entries(g, "`given`").unwrap_or_default();
        for (k, kn, v) in entries {
            let Some(o) = option(r, p, &k, kn.span) else {
                continue;
            };
            let raw = if v.kind == NodeKind::Null {
                String::new()
            } else {
                match r.text(v, "a chosen value") {
                    Some(t) => t,
                    None => continue,
                }
            };
            match Selection::parse(p, &[(p.options[o].id.clone(), raw)]) {
                Ok(sel) => given.choices.extend(sel.choices),
                Err(e) => r.error(Code::UnknownValue, v.span, e.to_string(), None),
            }
        }
    }
    let mut checks = Vec::new();
    let mut push = |span: Span, kind: CheckKind| checks.push(Check { span, kind });
    for (key, kn, v) in &f {
        match key.as_str() {
            "consistent" => {
                if let Some(b) = r.bool(v, "`consistent`") {
                    push(kn.span, CheckKind::Consistent(b));
                }
            }
            "valid" => {
                if let Some(b) = r.bool(v, "`valid`") {
                    push(kn.span, CheckKind::Valid(b));
                }
            }
            "conflict" => push(kn.span, CheckKind::Conflict(rule_ids(r, p, v, "a rule id"))),
            "violated" => push(kn.span, CheckKind::Violated(rule_ids(r, p, v, "a rule id"))),
            "messages" => {
                let m = r
                    .texts(v, "a message")
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect();
                push(kn.span, CheckKind::Messages(m));
            }
            "count" => {
                let n = r.text(v, "`count`").and_then(|t| t.parse::<BigUint>().ok());
                match n {
                    Some(n) => push(kn.span, CheckKind::Count(n)),
                    None => r.wrong_type(v, "a whole number", "`count`"),
                }
            }
            "price" => {
                if let Some(d) = money(r, v) {
                    push(kn.span, CheckKind::Price(d));
                }
            }
            "price_range" => {
                let bounds: Vec<Decimal> = match &v.kind {
                    NodeKind::Seq(xs) => xs.iter().filter_map(|x| money(r, x)).collect(),
                    _ => Vec::new(),
                };
                match bounds.as_slice() {
                    [lo, hi] => push(kn.span, CheckKind::PriceRange(*lo, *hi)),
                    _ => r.wrong_type(v, "a list [min, max] of two amounts", "`price_range`"),
                }
            }
            "available" | "only" => {
                for (ok, okn, vals) in r.entries(v, &format!("`{key}`")).unwrap_or_default() {
                    let Some(o) = option(r, p, &ok, okn.span) else {
                        continue;
                    };
                    let items: Vec<&Node> = match &vals.kind {
                        NodeKind::Seq(xs) => xs.iter().collect(),
                        _ => vec![vals],
                    };
                    let mut set = BTreeSet::new();
                    for it in items {
                        if let Some(i) = value_index(r, model, p, o, it) {
                            if key == "available" {
                                push(
                                    it.span,
                                    CheckKind::Available {
                                        option: o,
                                        index: i,
                                    },
                                );
                            }
                            set.insert(i);
                        }
                    }
                    if key == "only" {
                        push(
                            okn.span,
                            CheckKind::Only {
                                option: o,
                                indices: set,
                            },
                        );
                    }
                }
            }
            "unavailable" => {
                for (ok, okn, vals) in r.entries(v, "`unavailable`").unwrap_or_default() {
                    let Some(o) = option(r, p, &ok, okn.span) else {
                        continue;
                    };
                    match &vals.kind {
                        // value -> [rule ids]
                        NodeKind::Map(pairs) => {
                            for (vk, rules) in pairs {
                                if let Some(i) = value_index(r, model, p, o, vk) {
                                    let because = rule_ids(r, p, rules, "a rule id");
                                    push(
                                        vk.span,
                                        CheckKind::Unavailable {
                                            option: o,
                                            index: i,
                                            because: Some(because),
                                        },
                                    );
                                }
                            }
                        }
                        NodeKind::Seq(xs) => {
                            for it in xs {
                                if let Some(i) = value_index(r, model, p, o, it) {
                                    push(
                                        it.span,
                                        CheckKind::Unavailable {
                                            option: o,
                                            index: i,
                                            because: None,
                                        },
                                    );
                                }
                            }
                        }
                        _ => {
                            if let Some(i) = value_index(r, model, p, o, vals) {
                                push(
                                    vals.span,
                                    CheckKind::Unavailable {
                                        option: o,
                                        index: i,
                                        because: None,
                                    },
                                );
                            }
                        }
                    }
                }
            }
            "range" => {
                for (ok, okn, bounds) in r.entries(v, "`range`").unwrap_or_default() {
                    let Some(o) = option(r, p, &ok, okn.span) else {
                        continue;
                    };
                    let nums: Vec<i64> = match &bounds.kind {
                        NodeKind::Seq(xs) => xs
                            .iter()
                            .filter_map(|x| match x.kind {
                                NodeKind::Int(n) => Some(n),
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    let numeric = matches!(
                        p.options[o].kind,
                        OptionKind::Integer(_) | OptionKind::Quantity(_) | OptionKind::Text(_)
                    );
                    match (nums.as_slice(), numeric) {
                        ([lo, hi], true) => push(
                            okn.span,
                            CheckKind::Range {
                                option: o,
                                lo: *lo,
                                hi: *hi,
                            },
                        ),
                        (_, false) => r.error(
                            Code::WrongType,
                            okn.span,
                            format!("`{ok}` is not an integer, quantity or text option"),
                            Some(
                                "use `available`, `unavailable` or `only` for other options".into(),
                            ),
                        ),
                        _ => r.wrong_type(bounds, "a list [min, max] of two integers", "a range"),
                    }
                }
            }
            _ => {}
        }
    }
    if r.diags[before..].iter().any(Diagnostic::is_error) {
        return None;
    }
    Some(Case {
        name,
        span: node.span,
        given,
        checks,
    })
}

/// An amount as written (`"19.00"` or `19.5`), exact.
fn money(r: &mut Reader, node: &Node) -> Option<Decimal> {
    let text = r.text(node, "an amount")?;
    match text.trim().parse::<Decimal>() {
        Ok(d) => Some(d),
        Err(_) => {
            r.error(
                Code::InvalidMoney,
                node.span,
                format!("`{text}` is not an amount"),
                Some("write amounts as decimal strings such as \"19.00\"".into()),
            );
            None
        }
    }
}

// ---- running ----

/// The configuration validity is judged on: the choices, then each unchosen option's default.
pub fn with_defaults(p: &Product, sel: &Selection) -> Selection {
    let mut out = sel.clone();
    for (o, def) in p.options.iter().enumerate() {
        if sel.get(o).is_none()
            && let Some(d) = &def.default
        {
            out.choices.push((o, d.clone()));
        }
    }
    out
}

fn value_name(engine: &Engine, opt: OptId, index: usize) -> String {
    match engine.model.vars.get(opt).and_then(|v| v.value(index)) {
        Some(v) => value_text(&engine.product, opt, &v),
        None => "(unset)".to_owned(),
    }
}

fn ids(set: &BTreeSet<String>) -> String {
    format!("[{}]", set.iter().cloned().collect::<Vec<_>>().join(", "))
}

fn rule_set(engine: &Engine, rules: &[usize]) -> BTreeSet<String> {
    rules
        .iter()
        .filter_map(|&r| engine.product.constraints.get(r).map(|c| c.id.clone()))
        .collect()
}

fn check_name(k: &CheckKind) -> &'static str {
    match k {
        CheckKind::Consistent(_) => "consistent",
        CheckKind::Conflict(_) => "conflict",
        CheckKind::Available { .. } => "available",
        CheckKind::Unavailable { .. } => "unavailable",
        CheckKind::Only { .. } => "only",
        CheckKind::Range { .. } => "range",
        CheckKind::Valid(_) => "valid",
        CheckKind::Violated(_) => "violated",
        CheckKind::Messages(_) => "messages",
        CheckKind::Count(_) => "count",
        CheckKind::Price(_) => "price",
        CheckKind::PriceRange(..) => "price_range",
    }
}

fn run_case(engine: &Engine, file: &str, case: &Case) -> CaseResult {
    let p = &engine.product;
    let mut failures = Vec::new();
    let mut prop: Option<Result<Propagation, String>> = None;
    let mut val: Option<Validation> = None;
    for check in &case.checks {
        let fail = |msg: String| Failure {
            line: check.span.line,
            column: check.span.column,
            check: check_name(&check.kind),
            message: msg,
        };
        let needs_prop = matches!(
            check.kind,
            CheckKind::Consistent(_)
                | CheckKind::Conflict(_)
                | CheckKind::Available { .. }
                | CheckKind::Unavailable { .. }
                | CheckKind::Only { .. }
                | CheckKind::Range { .. }
        );
        let pr = if needs_prop {
            match prop
                .get_or_insert_with(|| engine.propagate(&case.given).map_err(|e| e.to_string()))
            {
                Ok(pr) => Some(&*pr),
                Err(e) => {
                    failures.push(Failure {
                        check: "engine",
                        ..fail(e.clone())
                    });
                    continue;
                }
            }
        } else {
            None
        };
        let avail = |o: OptId| pr.and_then(|pr| pr.options.iter().find(|a| a.option == o));
        let message = match &check.kind {
            CheckKind::Consistent(want) => {
                let got = pr.is_some_and(|pr| pr.consistent);
                (got != *want).then(|| {
                    let why = pr
                        .and_then(|pr| pr.conflict.as_ref())
                        .map(|c| format!(" (conflict: {})", ids(&rule_set(engine, &c.rules))))
                        .unwrap_or_default();
                    format!(
                        "expected the choices to be {}, but they are {}{why}",
                        if *want { "consistent" } else { "inconsistent" },
                        if got { "consistent" } else { "inconsistent" },
                    )
                })
            }
            CheckKind::Conflict(want) => match pr.and_then(|pr| pr.conflict.as_ref()) {
                None => Some(format!(
                    "expected a conflict of {}, but the choices are consistent",
                    ids(want)
                )),
                Some(c) => {
                    let got = rule_set(engine, &c.rules);
                    (got != *want).then(|| {
                        format!("expected a conflict of {}, found {}", ids(want), ids(&got))
                    })
                }
            },
            CheckKind::Available { option, index } => {
                let a = avail(*option);
                let is = a.is_some_and(|a| a.available.contains(index));
                (!is).then(|| {
                    let why = a
                        .and_then(|a| a.unavailable.iter().find(|(i, _)| i == index))
                        .map(|(_, e)| {
                            let mut because: Vec<String> =
                                rule_set(engine, &e.rules).into_iter().collect();
                            because.extend(e.choices.iter().map(|&o| {
                                let v = case
                                    .given
                                    .get(o)
                                    .map(|v| value_text(p, o, v))
                                    .unwrap_or_default();
                                format!("{}={v}", p.options[o].id)
                            }));
                            format!(" because of [{}]", because.join(", "))
                        })
                        .unwrap_or_default();
                    format!(
                        "expected {}={} to be available, but it is unavailable{why}",
                        p.options[*option].id,
                        value_name(engine, *option, *index)
                    )
                })
            }
            CheckKind::Unavailable {
                option,
                index,
                because,
            } => {
                let a = avail(*option);
                let name = format!(
                    "{}={}",
                    p.options[*option].id,
                    value_name(engine, *option, *index)
                );
                if a.is_some_and(|a| a.available.contains(index)) {
                    Some(format!(
                        "expected {name} to be unavailable, but it is available"
                    ))
                } else {
                    match because {
                        None => None,
                        Some(want) => {
                            let got = a
                                .and_then(|a| a.unavailable.iter().find(|(i, _)| i == index))
                                .map(|(_, e)| rule_set(engine, &e.rules));
                            match got {
                                Some(got) if got == *want => None,
                                Some(got) => Some(format!(
                                    "expected {name} to be unavailable because of {}, but the rules excluding it are {}",
                                    ids(want),
                                    ids(&got)
                                )),
                                None => Some(format!(
                                    "expected {name} to be unavailable because of {}, but the engine gives no explanation for it (only values at the edges of a range are explained)",
                                    ids(want)
                                )),
                            }
                        }
                    }
                }
            }
            CheckKind::Only { option, indices } => {
                let got: BTreeSet<usize> = avail(*option)
                    .map(|a| a.available.iter().copied().collect())
                    .unwrap_or_default();
                (got != *indices).then(|| {
                    let names = |s: &BTreeSet<usize>| {
                        s.iter()
                            .map(|&i| value_name(engine, *option, i))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    format!(
                        "expected exactly [{}] available for {}, found [{}]",
                        names(indices),
                        p.options[*option].id,
                        names(&got)
                    )
                })
            }
            CheckKind::Range { option, lo, hi } => {
                let nums: Vec<i64> = avail(*option)
                    .map(|a| {
                        a.available
                            .iter()
                            .filter_map(|&i| match engine.model.vars[*option].val(i) {
                                Some(crate::catalog::expr::Val::Int(n)) => Some(n),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let got = nums.iter().min().zip(nums.iter().max());
                match got {
                    Some((a, b)) if (*a, *b) == (*lo, *hi) => None,
                    Some((a, b)) => Some(format!(
                        "expected {} to range over [{lo}, {hi}], found [{a}, {b}]",
                        p.options[*option].id
                    )),
                    None => Some(format!(
                        "expected {} to range over [{lo}, {hi}], but no value is available",
                        p.options[*option].id
                    )),
                }
            }
            CheckKind::Valid(_) | CheckKind::Violated(_) | CheckKind::Messages(_) => {
                let v = val.get_or_insert_with(|| engine.validate(&with_defaults(p, &case.given)));
                let violated: BTreeSet<String> = v
                    .violations
                    .iter()
                    .filter_map(|x| p.constraints.get(x.rule).map(|c| c.id.clone()))
                    .collect();
                let messages: BTreeSet<String> = v
                    .violations
                    .iter()
                    .filter_map(|x| p.constraints.get(x.rule).map(|c| c.message.clone()))
                    .collect();
                match &check.kind {
                    CheckKind::Valid(want) => (v.valid != *want).then(|| {
                        let mut why = Vec::new();
                        if !violated.is_empty() {
                            why.push(format!("violates {}", ids(&violated)));
                        }
                        if !v.missing.is_empty() {
                            why.push(format!(
                                "misses {}",
                                v.missing
                                    .iter()
                                    .map(|&o| p.options[o].id.clone())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                        format!(
                            "expected the configuration to be {}, but it is {}{}",
                            if *want { "valid" } else { "invalid" },
                            if v.valid { "valid" } else { "invalid" },
                            if why.is_empty() {
                                String::new()
                            } else {
                                format!(": it {}", why.join(" and "))
                            }
                        )
                    }),
                    CheckKind::Violated(want) => (violated != *want).then(|| {
                        format!(
                            "expected the configuration to violate {}, it violates {}",
                            ids(want),
                            ids(&violated)
                        )
                    }),
                    CheckKind::Messages(want) => (messages != *want).then(|| {
                        let q = |s: &BTreeSet<String>| {
                            s.iter()
                                .map(|m| format!("{m:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        format!(
                            "expected the messages [{}], found [{}]",
                            q(want),
                            q(&messages)
                        )
                    }),
                    _ => None,
                }
            }
            CheckKind::Price(want) => {
                match crate::pricing::quote(p, &with_defaults(p, &case.given)) {
                    Ok(q) if q.total == *want => None,
                    Ok(q) => Some(format!(
                        "expected a total of {want}, the quote is {} ({})",
                        q.total,
                        q.lines
                            .iter()
                            .map(|l| format!("{} {}", l.label, l.amount))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Err(e) => Some(format!(
                        "expected a total of {want}, but there is no quote: {e}"
                    )),
                }
            }
            CheckKind::PriceRange(lo, hi) => match crate::pricing::range(engine, &case.given) {
                Ok(rg) if (rg.min, rg.max) == (*lo, *hi) => None,
                Ok(rg) => Some(format!(
                    "expected prices from {lo} to {hi}, found {} to {}",
                    rg.min, rg.max
                )),
                Err(e) => Some(format!(
                    "expected prices from {lo} to {hi}, but there is no range: {e}"
                )),
            },
            CheckKind::Count(want) => match engine.count(&case.given) {
                Ok(n) if n == *want => None,
                Ok(n) => Some(format!("expected {want} valid configurations, found {n}")),
                Err(e) => {
                    failures.push(Failure {
                        check: "engine",
                        ..fail(e.to_string())
                    });
                    None
                }
            },
        };
        if let Some(m) = message {
            failures.push(fail(m));
        }
    }
    CaseResult {
        file: file.to_owned(),
        line: case.span.line,
        column: case.span.column,
        product: p.id.clone(),
        name: case.name.clone(),
        failures,
    }
}
