//! Rules files: reads constraints and price rules into product-independent drafts, then resolves them against one product.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::diagnostic::{Code, Diagnostic, Span};
use super::expr::{Checker, Expr, Term};
use super::model::{
    Cell, Constraint, ConstraintForm, OptionDef, OptionKind, PriceEffect, PriceRule, Stage,
    TableBuilder, Value,
};
use super::money::Currency;
use super::read::{Cx, ExprSrc, IdKind};
use super::table_file::{TableFileDraft, read_header, resolve_rows};
use super::yaml::{Node, NodeKind};

/// A rules file after its structure has been checked.
#[derive(Debug, Clone)]
pub struct RulesDraft {
    pub path: String,
    pub constraints: Vec<ConstraintDraft>,
    pub pricing: Vec<PriceDraft>,
    /// Whether reading the file reported errors (products using it are then unusable).
    pub has_errors: bool,
}

#[derive(Debug, Clone)]
pub struct ConstraintDraft {
    pub id: String,
    pub id_span: Span,
    pub message: String,
    pub span: Span,
    pub form: FormDraft,
}

#[derive(Debug, Clone)]
pub enum FormDraft {
    IfThen(ExprSrc, ExprSrc),
    Forbid(ExprSrc),
    Require(ExprSrc),
    Table {
        options: Vec<(String, Span)>,
        allow: bool,
        rows: Vec<(Span, Vec<CellDraft>)>,
        span: Span,
    },
    /// A table whose rows are in a CSV/TSV file (`table: rules/x.csv`).
    TableFile {
        file: TableFileDraft,
        allow: bool,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub enum CellDraft {
    Any,
    Values(Vec<(String, Span)>),
}

#[derive(Debug, Clone)]
pub struct PriceDraft {
    pub id: String,
    pub id_span: Span,
    pub label: String,
    pub condition: Option<ExprSrc>,
    pub stage: Stage,
    pub effect: EffectDraft,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum EffectDraft {
    Amount(&'static str, Node),
    Percent(&'static str, Decimal),
    Formula(ExprSrc),
}

const CONSTRAINT_KEYS: &[&str] = &[
    "id", "message", "if", "then", "forbid", "require", "table", "allow",
];
const PRICE_KEYS: &[&str] = &[
    "id", "label", "if", "stage", "add", "subtract", "formula", "discount", "markup", "set", "min",
    "max",
];
const AMOUNT_EFFECTS: &[&str] = &["add", "subtract", "set", "min", "max"];
const PERCENT_EFFECTS: &[&str] = &["discount", "markup"];

/// Reads the structure of a rules file (ids, forms, expression syntax). Typechecking needs a product.
pub fn read_rules(cx: &mut Cx<'_>, path: &str, root: &Node) -> RulesDraft {
    let before = cx.diags.len();
    let mut draft = RulesDraft {
        path: path.to_owned(),
        constraints: Vec::new(),
        pricing: Vec::new(),
        has_errors: false,
    };
    if root.kind == NodeKind::Null {
        return draft;
    }
    if let Some(f) = cx.fields(root, "a rules file", &["constraints", "pricing"]) {
        if let Some(list) = f
            .get("constraints")
            .and_then(|n| cx.seq(n, "`constraints`"))
        {
            for item in list {
                if let Some(c) = read_constraint(cx, item) {
                    draft.constraints.push(c);
                }
            }
        }
        if let Some(list) = f.get("pricing").and_then(|n| cx.seq(n, "`pricing`")) {
            for item in list {
                if let Some(p) = read_price(cx, item) {
                    draft.pricing.push(p);
                }
            }
        }
    }
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for (id, span) in draft
        .constraints
        .iter()
        .map(|c| (&c.id, c.id_span))
        .chain(draft.pricing.iter().map(|p| (&p.id, p.id_span)))
    {
        if let Some(first) = seen.get(id) {
            cx.push(
                Diagnostic::new(
                    Code::DuplicateId,
                    span,
                    format!("rule id `{id}` is used twice in this file"),
                )
                .with_label(*first, "first used here")
                .with_help("every rule needs its own id: explanations and tests refer to it"),
            );
        } else {
            seen.insert(id.clone(), span);
        }
    }
    draft.has_errors = cx.diags[before..].iter().any(Diagnostic::is_error);
    draft
}

fn read_constraint(cx: &mut Cx<'_>, node: &Node) -> Option<ConstraintDraft> {
    let f = cx.fields(node, "a constraint", CONSTRAINT_KEYS)?;
    let id_node = cx.require(&f, "id", "a constraint");
    let message = cx
        .require(&f, "message", "a constraint")
        .and_then(|n| cx.text(n, "`message`"));
    let id = id_node.and_then(|n| cx.id(n, IdKind::Rule, "rule id"));
    // In a table, `forbid` lists the forbidden rows; elsewhere it is the prohibition form.
    let is_table = f.has("table");
    let forms: Vec<&str> = ["if", "forbid", "require", "table"]
        .into_iter()
        .filter(|k| f.has(k) && !(is_table && *k == "forbid"))
        .collect();
    let form = match forms.as_slice() {
        ["if"] => {
            let cond = f.get("if").and_then(|n| cx.expr(n, "`if`"));
            let then = match f.get("then") {
                Some(n) => cx.expr(n, "`then`"),
                None => {
                    cx.error(
                        Code::InvalidRule,
                        node.span,
                        "`if` without `then`",
                        Some("add `then:` with what must hold".into()),
                    );
                    None
                }
            };
            FormDraft::IfThen(cond?, then?)
        }
        ["forbid"] => FormDraft::Forbid(f.get("forbid").and_then(|n| cx.expr(n, "`forbid`"))?),
        ["require"] => FormDraft::Require(f.get("require").and_then(|n| cx.expr(n, "`require`"))?),
        ["table"] => read_table(cx, &f)?,
        [] => {
            cx.error(
                Code::InvalidRule,
                node.span,
                "this constraint has no form",
                Some(
                    "give it `if`/`then`, `forbid`, `require`, or `table` with `allow` or `forbid`"
                        .into(),
                ),
            );
            return None;
        }
        many => {
            cx.error(
                Code::InvalidRule,
                node.span,
                format!("this constraint has several forms: {}", many.join(", ")),
                Some("split it into one constraint per form".into()),
            );
            return None;
        }
    };
    if f.has("then") && !matches!(form, FormDraft::IfThen(..)) {
        cx.error(
            Code::InvalidRule,
            f.key_span("then").unwrap_or(node.span),
            "`then` without `if`",
            None,
        );
    }
    if f.has("allow") && !matches!(form, FormDraft::Table { .. } | FormDraft::TableFile { .. }) {
        cx.error(
            Code::InvalidRule,
            f.key_span("allow").unwrap_or(node.span),
            "`allow` belongs to a `table` constraint",
            None,
        );
    }
    Some(ConstraintDraft {
        id: id?,
        id_span: id_node.map_or(node.span, |n| n.span),
        message: message?,
        span: node.span,
        form,
    })
}

fn read_table(cx: &mut Cx<'_>, f: &super::read::Fields<'_>) -> Option<FormDraft> {
    let table = f.get("table")?;
    if let NodeKind::Str(path) = &table.kind {
        return read_table_file(cx, f, table, path);
    }
    let mut options = Vec::new();
    for n in cx.seq(table, "`table` (a list of option ids)")? {
        options.push((cx.text(n, "a table option")?, n.span));
    }
    let (rows_node, allow) = match (f.get("allow"), f.get("forbid")) {
        (Some(r), None) => (r, true),
        (None, Some(r)) => (r, false),
        _ => {
            cx.error(
                Code::InvalidTable,
                table.span,
                "a table needs exactly one of `allow` or `forbid`",
                Some(
                    "list the allowed rows under `allow:` or the forbidden rows under `forbid:`"
                        .into(),
                ),
            );
            return None;
        }
    };
    if options.is_empty() {
        cx.error(
            Code::InvalidTable,
            table.span,
            "a table needs at least one option",
            None,
        );
        return None;
    }
    let mut rows = Vec::new();
    let mut ok = true;
    for row in cx.seq(rows_node, "table rows")? {
        let Some(cells) = cx.seq(row, "a table row") else {
            ok = false;
            continue;
        };
        if cells.len() != options.len() {
            cx.error(
                Code::InvalidTable,
                row.span,
                format!(
                    "this row has {} cell{}; the table has {} options",
                    cells.len(),
                    if cells.len() == 1 { "" } else { "s" },
                    options.len()
                ),
                Some(format!(
                    "give one cell per option ({}), using \"*\" for any value",
                    options
                        .iter()
                        .map(|(o, _)| o.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            ok = false;
            continue;
        }
        let mut out = Vec::new();
        for cell in cells {
            match &cell.kind {
                NodeKind::Str(s) if s == "*" => out.push(CellDraft::Any),
                NodeKind::Seq(items) => {
                    let mut vs = Vec::new();
                    for it in items {
                        match it.scalar_text() {
                            Some(t) => vs.push((t, it.span)),
                            None => {
                                cx.wrong_type(it, "a value", "a table cell");
                                ok = false;
                            }
                        }
                    }
                    out.push(CellDraft::Values(vs));
                }
                _ => match cell.scalar_text() {
                    Some(t) => out.push(CellDraft::Values(vec![(t, cell.span)])),
                    None => {
                        cx.wrong_type(cell, "a value, a list of values or \"*\"", "a table cell");
                        ok = false;
                    }
                },
            }
        }
        rows.push((row.span, out));
    }
    ok.then_some(FormDraft::Table {
        options,
        allow,
        rows,
        span: table.span,
    })
}

/// `table: rules/x.csv` with `allow: true` (the file's rows are the allowed combinations) or
/// `forbid: true` (the forbidden ones).
fn read_table_file(
    cx: &mut Cx<'_>,
    f: &super::read::Fields<'_>,
    table: &Node,
    path: &str,
) -> Option<FormDraft> {
    let flag = |n: Option<&Node>| n.map(|n| matches!(n.kind, NodeKind::Bool(true)));
    let allow = match (flag(f.get("allow")), flag(f.get("forbid"))) {
        (Some(true), None) => true,
        (None, Some(true)) => false,
        _ => {
            cx.error(
                Code::InvalidTable,
                table.span,
                "a table file needs exactly one of `allow: true` or `forbid: true`",
                Some(
                    "`allow: true`: the file lists the allowed rows; `forbid: true`: the forbidden ones"
                        .into(),
                ),
            );
            return None;
        }
    };
    let file = read_header(cx, path, table.span)?;
    Some(FormDraft::TableFile {
        file,
        allow,
        span: table.span,
    })
}

fn read_price(cx: &mut Cx<'_>, node: &Node) -> Option<PriceDraft> {
    let f = cx.fields(node, "a price rule", PRICE_KEYS)?;
    let id_node = cx.require(&f, "id", "a price rule");
    let id = id_node.and_then(|n| cx.id(n, IdKind::Rule, "rule id"));
    let label = match f.get("label") {
        Some(n) => cx.text(n, "`label`"),
        None => id.clone(),
    };
    let condition = match f.get("if") {
        Some(n) => Some(cx.expr(n, "`if`")?),
        None => None,
    };
    let stage = match f.get("stage") {
        None => Stage::Unit,
        Some(n) => match n.scalar_text().as_deref() {
            Some("unit") => Stage::Unit,
            Some("order") => Stage::Order,
            _ => {
                cx.error(
                    Code::WrongType,
                    n.span,
                    "`stage` must be `unit` or `order`",
                    None,
                );
                return None;
            }
        },
    };
    let effects: Vec<&'static str> = PRICE_KEYS[4..]
        .iter()
        .copied()
        .filter(|k| f.has(k))
        .collect();
    let effect = match effects.as_slice() {
        [k] => {
            let v = f.get(k)?;
            if AMOUNT_EFFECTS.contains(k) {
                EffectDraft::Amount(k, v.clone())
            } else if PERCENT_EFFECTS.contains(k) {
                EffectDraft::Percent(k, cx.percent(v, &format!("`{k}`"))?)
            } else {
                EffectDraft::Formula(cx.expr(v, "`formula`")?)
            }
        }
        [] => {
            cx.error(
                Code::InvalidRule,
                node.span,
                "this price rule has no effect",
                Some(
                    "give it one of: add, subtract, formula, discount, markup, set, min, max"
                        .into(),
                ),
            );
            return None;
        }
        many => {
            cx.error(
                Code::InvalidRule,
                node.span,
                format!("this price rule has several effects: {}", many.join(", ")),
                Some("split it into one rule per effect".into()),
            );
            return None;
        }
    };
    Some(PriceDraft {
        id: id?,
        id_span: id_node.map_or(node.span, |n| n.span),
        label: label?,
        condition,
        stage,
        effect,
        span: node.span,
    })
}

/// Typechecks an expression source against a product; reports errors at their exact location.
pub fn check_expr(
    cx: &mut Cx<'_>,
    options: &[OptionDef],
    src: &ExprSrc,
    decimals: bool,
) -> Option<Expr> {
    let checker = Checker {
        options,
        allow_decimals: decimals,
    };
    match checker.check_bool(&src.parsed) {
        Ok(e) => Some(e),
        Err(e) => {
            let span = cx.expr_span(src.node_span, src.base, e.range);
            cx.error(e.code, span, e.message, e.help);
            None
        }
    }
}

pub(crate) fn check_term(cx: &mut Cx<'_>, options: &[OptionDef], src: &ExprSrc) -> Option<Term> {
    let checker = Checker {
        options,
        allow_decimals: true,
    };
    match checker.check_term(&src.parsed) {
        Ok(t) => Some(t),
        Err(e) => {
            let span = cx.expr_span(src.node_span, src.base, e.range);
            cx.error(e.code, span, e.message, e.help);
            None
        }
    }
}

/// Resolves a table cell's text to a value of option `opt`.
pub fn cell_value(cx: &mut Cx<'_>, opt: &OptionDef, text: &str, span: Span) -> Option<Value> {
    // A cell's text as messages quote it: whole up to `QUOTED_CHARS`, else its start and its
    // size (a pasted 200 KB cell would otherwise make a 200 KB message; the span locates it).
    let shown = quoted(text);
    match &opt.kind {
        OptionKind::Choice(c) => match c.index_of(text) {
            Some(i) => Some(Value::Choice(i)),
            None => {
                let near = (text.len() <= QUOTED_CHARS)
                    .then(|| {
                        super::expr::did_you_mean(text, c.values.iter().map(|v| v.id.as_str()))
                    })
                    .flatten();
                let help = near
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "the values of `{}` are: {}",
                            opt.id,
                            c.values
                                .iter()
                                .map(|v| v.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                cx.error(
                    Code::UnknownValue,
                    span,
                    format!("`{shown}` is not a value of `{}`", opt.id),
                    Some(help),
                );
                None
            }
        },
        OptionKind::Boolean { .. } => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => {
                cx.error(
                    Code::UnknownValue,
                    span,
                    format!("`{shown}` is not a value of the boolean `{}`", opt.id),
                    Some("use `true` or `false`".into()),
                );
                None
            }
        },
        OptionKind::Integer(r) | OptionKind::Quantity(r) => match text.parse::<i64>() {
            Ok(v) if r.contains(v) => Some(Value::Int(v)),
            _ => {
                cx.error(
                    Code::UnknownValue,
                    span,
                    format!("`{shown}` is not a value of `{}`", opt.id),
                    Some(format!(
                        "`{}` takes whole numbers from {} to {} in steps of {}",
                        opt.id, r.min, r.max, r.step
                    )),
                );
                None
            }
        },
        OptionKind::Text(_) | OptionKind::Upload(_) => {
            cx.error(
                Code::InvalidTable,
                span,
                format!(
                    "the {} option `{}` cannot appear in a table",
                    opt.kind.type_name(),
                    opt.id
                ),
                Some("constrain text with `len(...)` in an `if`/`then` or `require` rule".into()),
            );
            None
        }
    }
}

/// How many characters of a cell's text messages quote.
const QUOTED_CHARS: usize = 64;

/// `text` as a message quotes it (see `cell_value`).
fn quoted(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => {
            std::borrow::Cow::Owned(format!("{}… ({} bytes in all)", &text[..end], text.len()))
        }
    }
}

/// Resolves one product's constraints from the drafts of its rules files.
pub fn resolve_constraints(
    cx: &mut Cx<'_>,
    options: &[OptionDef],
    drafts: &[&RulesDraft],
) -> Option<Vec<Constraint>> {
    let mut out = Vec::new();
    let mut ok = true;
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for d in drafts {
        for c in &d.constraints {
            if let Some(first) = seen.get(&c.id) {
                cx.push(
                    Diagnostic::new(
                        Code::DuplicateId,
                        c.id_span,
                        format!(
                            "rule id `{}` is also used in another rules file of this product",
                            c.id
                        ),
                    )
                    .with_label(*first, "first used here"),
                );
                ok = false;
                continue;
            }
            seen.insert(c.id.clone(), c.id_span);
            let resolved = match &c.form {
                FormDraft::IfThen(a, b) => {
                    let (a, b) = (
                        check_expr(cx, options, a, false),
                        check_expr(cx, options, b, false),
                    );
                    a.zip(b).map(|(a, b)| {
                        let expr = Expr::Or(vec![Expr::Not(Box::new(a.clone())), b.clone()]);
                        (
                            ConstraintForm::IfThen {
                                condition: a,
                                then: b,
                            },
                            Some(expr),
                        )
                    })
                }
                FormDraft::Forbid(e) => check_expr(cx, options, e, false).map(|e| {
                    (
                        ConstraintForm::Forbid(e.clone()),
                        Some(Expr::Not(Box::new(e))),
                    )
                }),
                FormDraft::Require(e) => check_expr(cx, options, e, false)
                    .map(|e| (ConstraintForm::Require(e.clone()), Some(e))),
                FormDraft::Table {
                    options: cols,
                    allow,
                    rows,
                    ..
                } => resolve_table(cx, options, cols, *allow, rows),
                FormDraft::TableFile { file, allow, .. } => {
                    resolve_columns(cx, options, &file.options)
                        .and_then(|cols| resolve_rows(cx, options, file, cols, *allow))
                        .map(|table| (ConstraintForm::Table(table), None))
                }
            };
            match resolved {
                Some((form, expr)) => out.push(Constraint {
                    id: c.id.clone(),
                    message: c.message.clone(),
                    form,
                    expr,
                    span: c.span,
                    file: d.path.clone(),
                }),
                None => ok = false,
            }
        }
    }
    ok.then_some(out)
}

/// A table's header resolved to option indices (each at most once).
fn resolve_columns(
    cx: &mut Cx<'_>,
    options: &[OptionDef],
    cols: &[(String, Span)],
) -> Option<Vec<usize>> {
    let mut opt_ids = Vec::new();
    let mut ok = true;
    for (name, span) in cols {
        match options.iter().position(|o| &o.id == name) {
            Some(i) if opt_ids.contains(&i) => {
                cx.error(
                    Code::InvalidTable,
                    *span,
                    format!("`{name}` appears twice in this table"),
                    None,
                );
                ok = false;
            }
            Some(i) => opt_ids.push(i),
            None => {
                let help = super::expr::did_you_mean(name, options.iter().map(|o| o.id.as_str()))
                    .map(|s| format!("did you mean `{s}`?"));
                cx.error(
                    Code::UnknownOption,
                    *span,
                    format!("unknown option `{name}`"),
                    help,
                );
                ok = false;
            }
        }
    }
    ok.then_some(opt_ids)
}

fn resolve_table(
    cx: &mut Cx<'_>,
    options: &[OptionDef],
    cols: &[(String, Span)],
    allow: bool,
    rows: &[(Span, Vec<CellDraft>)],
) -> Option<(ConstraintForm, Option<Expr>)> {
    let opt_ids = resolve_columns(cx, options, cols)?;
    let mut ok = true;
    let mut table = TableBuilder::new(opt_ids.clone(), allow);
    for (_, cells) in rows {
        let mut row = Vec::new();
        for (cell, &o) in cells.iter().zip(&opt_ids) {
            match cell {
                CellDraft::Any => row.push(Cell::Any),
                CellDraft::Values(vs) => {
                    let mut vals = Vec::new();
                    for (t, s) in vs {
                        match cell_value(cx, &options[o], t, *s) {
                            Some(v) => vals.push(v),
                            None => ok = false,
                        }
                    }
                    row.push(Cell::Values(vals));
                }
            }
        }
        table.push_row(row);
    }
    if !ok {
        return None;
    }
    Some((ConstraintForm::Table(table.finish()), None))
}

/// Resolves one product's price rules from the drafts of its rules files.
pub fn resolve_pricing(
    cx: &mut Cx<'_>,
    options: &[OptionDef],
    currency: Currency,
    drafts: &[&RulesDraft],
) -> Option<Vec<PriceRule>> {
    let mut out = Vec::new();
    let mut ok = true;
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for d in drafts {
        for p in &d.pricing {
            if let Some(first) = seen.get(&p.id) {
                cx.push(
                    Diagnostic::new(
                        Code::DuplicateId,
                        p.id_span,
                        format!(
                            "price rule id `{}` is also used in another rules file of this product",
                            p.id
                        ),
                    )
                    .with_label(*first, "first used here"),
                );
                ok = false;
                continue;
            }
            seen.insert(p.id.clone(), p.id_span);
            let condition = match &p.condition {
                Some(c) => match check_expr(cx, options, c, false) {
                    Some(e) => Some(e),
                    None => {
                        ok = false;
                        continue;
                    }
                },
                None => None,
            };
            let effect = match &p.effect {
                EffectDraft::Amount(k, node) => {
                    cx.amount(node, currency, &format!("`{k}`"))
                        .map(|a| match *k {
                            "add" => PriceEffect::Add(a),
                            "subtract" => PriceEffect::Subtract(a),
                            "set" => PriceEffect::Set(a),
                            "min" => PriceEffect::Min(a),
                            _ => PriceEffect::Max(a),
                        })
                }
                EffectDraft::Percent(k, pct) => Some(if *k == "discount" {
                    PriceEffect::Discount(*pct)
                } else {
                    PriceEffect::Markup(*pct)
                }),
                EffectDraft::Formula(src) => check_term(cx, options, src).map(PriceEffect::Formula),
            };
            let Some(effect) = effect else {
                ok = false;
                continue;
            };
            out.push(PriceRule {
                id: p.id.clone(),
                label: p.label.clone(),
                condition,
                stage: p.stage,
                effect,
                span: p.span,
                file: d.path.clone(),
            });
        }
    }
    ok.then_some(out)
}
