//! Change impact between two versions of a catalog: per product, options and values added or removed, configuration counts before and after, rules changed, and which stored orders the new version makes invalid or prices differently.
//!
//! Rules are compared by id and by content (form, message, and the expression written with
//! option and value ids), so moving a rule between files or reordering options is not a change.
//! The order check ([`check_orders`]) is a function over stored (selection, quoted total) pairs
//! and a pricing function, so it runs the same on orders from a database or from memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use num_bigint::BigUint;
use rust_decimal::Decimal;

use crate::catalog::expr::{CmpOp, Expr, Term};
use crate::catalog::model::{
    CellRef, ConstraintForm, OptionKind, PriceEffect, PriceRule, Product, Stage, Table, Value,
};
use crate::catalog::{Catalog, Constraint};
use crate::rules::selection::value_text;
use crate::rules::{Engine, Selection};

/// A configuration count, or why it is unknown (the engine's work limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Count {
    Exact(BigUint),
    Unknown(String),
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Count::Exact(n) => write!(f, "{n}"),
            Count::Unknown(_) => f.write_str("unknown (work limit)"),
        }
    }
}

impl Count {
    fn json(&self) -> serde_json::Value {
        match self {
            Count::Exact(n) => serde_json::json!(n.to_string()),
            Count::Unknown(_) => serde_json::Value::Null,
        }
    }
}

/// An option whose kind or range changed (choice values are reported one by one instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionChange {
    pub option: String,
    pub before: String,
    pub after: String,
}

/// What changed in one product present in both catalogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDiff {
    pub id: String,
    pub old_version: String,
    pub new_version: String,
    pub options_added: Vec<String>,
    pub options_removed: Vec<String>,
    /// Kind, range, length or requiredness changes.
    pub options_changed: Vec<OptionChange>,
    /// (option id, value id) of choice options present in both versions.
    pub values_added: Vec<(String, String)>,
    pub values_removed: Vec<(String, String)>,
    pub count_before: Count,
    pub count_after: Count,
    /// The exact lowest and highest total over all valid configurations (default quantity);
    /// `None` when unknown (no valid configuration, or the work limit).
    pub prices_before: Option<(Decimal, Decimal)>,
    pub prices_after: Option<(Decimal, Decimal)>,
    /// Constraint ids.
    pub rules_added: Vec<String>,
    pub rules_removed: Vec<String>,
    pub rules_changed: Vec<String>,
    /// Price rule ids.
    pub price_rules_added: Vec<String>,
    pub price_rules_removed: Vec<String>,
    pub price_rules_changed: Vec<String>,
    /// Whether the base price, currency or quantity tiers changed.
    pub base_price_changed: bool,
}

/// A product in only one of the catalogs, with its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductCount {
    pub id: String,
    pub count: Count,
}

/// The difference between two catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogDiff {
    pub added: Vec<ProductCount>,
    pub removed: Vec<ProductCount>,
    pub changed: Vec<ProductDiff>,
    /// Products whose version (every file they depend on) is the same.
    pub unchanged: Vec<String>,
}

fn count(p: &Arc<Product>, work_limit: u64) -> Count {
    match Engine::new(p.clone())
        .with_work_limit(work_limit)
        .count(&Selection::default())
    {
        Ok(n) => Count::Exact(n),
        Err(e) => Count::Unknown(e.to_string()),
    }
}

fn prices(p: &Arc<Product>, work_limit: u64) -> Option<(Decimal, Decimal)> {
    let engine = Engine::new(p.clone()).with_work_limit(work_limit);
    crate::pricing::range(&engine, &Selection::default())
        .ok()
        .map(|r| (r.min, r.max))
}

/// Compares two catalogs product by product.
pub fn diff_catalogs(old: &Catalog, new: &Catalog, work_limit: u64) -> CatalogDiff {
    let mut d = CatalogDiff::default();
    for p in old.products() {
        match new.product(&p.id) {
            None => d.removed.push(ProductCount {
                id: p.id.clone(),
                count: count(p, work_limit),
            }),
            Some(q) if q.version == p.version => d.unchanged.push(p.id.clone()),
            Some(q) => d.changed.push(diff_products(p, q, work_limit)),
        }
    }
    for q in new.products() {
        if old.product(&q.id).is_none() {
            d.added.push(ProductCount {
                id: q.id.clone(),
                count: count(q, work_limit),
            });
        }
    }
    d
}

/// A short description of an option's kind and domain, for change reports.
pub fn option_shape(p: &Product, o: usize) -> String {
    let Some(def) = p.options.get(o) else {
        return String::new();
    };
    let req = if def.required { "" } else { ", optional" };
    match &def.kind {
        OptionKind::Choice(c) => format!("choice of {}{req}", c.values.len()),
        OptionKind::Boolean { .. } => "boolean".to_owned(),
        OptionKind::Integer(r) => format!("integer {}..{} step {}{req}", r.min, r.max, r.step),
        OptionKind::Quantity(r) => format!("quantity {}..{} step {}", r.min, r.max, r.step),
        OptionKind::Text(t) => format!("text of {}..{} characters{req}", t.min_len, t.max_len),
        OptionKind::Upload(u) => format!("image upload ({:?}){req}", u.fit).to_lowercase(),
    }
}

/// Compares two versions of one product.
pub fn diff_products(old: &Arc<Product>, new: &Arc<Product>, work_limit: u64) -> ProductDiff {
    let mut d = ProductDiff {
        id: new.id.clone(),
        old_version: old.version.clone(),
        new_version: new.version.clone(),
        options_added: Vec::new(),
        options_removed: Vec::new(),
        options_changed: Vec::new(),
        values_added: Vec::new(),
        values_removed: Vec::new(),
        count_before: count(old, work_limit),
        count_after: count(new, work_limit),
        prices_before: prices(old, work_limit),
        prices_after: prices(new, work_limit),
        rules_added: Vec::new(),
        rules_removed: Vec::new(),
        rules_changed: Vec::new(),
        price_rules_added: Vec::new(),
        price_rules_removed: Vec::new(),
        price_rules_changed: Vec::new(),
        base_price_changed: old.base_price != new.base_price
            || old.currency != new.currency
            || format!("{:?}", tiers(old)) != format!("{:?}", tiers(new)),
    };
    for (oi, o) in old.options.iter().enumerate() {
        let Some((ni, n)) = new.option(&o.id) else {
            d.options_removed.push(o.id.clone());
            continue;
        };
        match (&o.kind, &n.kind) {
            (OptionKind::Choice(a), OptionKind::Choice(b)) => {
                for v in &a.values {
                    if b.index_of(&v.id).is_none() {
                        d.values_removed.push((o.id.clone(), v.id.clone()));
                    }
                }
                for v in &b.values {
                    if a.index_of(&v.id).is_none() {
                        d.values_added.push((o.id.clone(), v.id.clone()));
                    }
                }
                if o.required != n.required {
                    d.options_changed.push(OptionChange {
                        option: o.id.clone(),
                        before: option_shape(old, oi),
                        after: option_shape(new, ni),
                    });
                }
            }
            _ => {
                let (before, after) = (option_shape(old, oi), option_shape(new, ni));
                if before != after {
                    d.options_changed.push(OptionChange {
                        option: o.id.clone(),
                        before,
                        after,
                    });
                }
            }
        }
    }
    for o in &new.options {
        if old.option(&o.id).is_none() {
            d.options_added.push(o.id.clone());
        }
    }
    let fp_old: BTreeMap<&str, String> = old
        .constraints
        .iter()
        .map(|c| (c.id.as_str(), constraint_text(old, c)))
        .collect();
    let fp_new: BTreeMap<&str, String> = new
        .constraints
        .iter()
        .map(|c| (c.id.as_str(), constraint_text(new, c)))
        .collect();
    compare(
        &fp_old,
        &fp_new,
        &mut d.rules_added,
        &mut d.rules_removed,
        &mut d.rules_changed,
    );
    let pr_old: BTreeMap<&str, String> = old
        .price_rules
        .iter()
        .map(|r| (r.id.as_str(), price_rule_text(old, r)))
        .collect();
    let pr_new: BTreeMap<&str, String> = new
        .price_rules
        .iter()
        .map(|r| (r.id.as_str(), price_rule_text(new, r)))
        .collect();
    compare(
        &pr_old,
        &pr_new,
        &mut d.price_rules_added,
        &mut d.price_rules_removed,
        &mut d.price_rules_changed,
    );
    d
}

fn tiers(p: &Product) -> Vec<(i64, String)> {
    p.quantity_tiers
        .iter()
        .map(|t| (t.min, format!("{:?}", t.effect)))
        .collect()
}

fn compare(
    old: &BTreeMap<&str, String>,
    new: &BTreeMap<&str, String>,
    added: &mut Vec<String>,
    removed: &mut Vec<String>,
    changed: &mut Vec<String>,
) {
    for (id, a) in old {
        match new.get(id) {
            None => removed.push((*id).to_owned()),
            Some(b) if a != b => changed.push((*id).to_owned()),
            Some(_) => {}
        }
    }
    for id in new.keys() {
        if !old.contains_key(id) {
            added.push((*id).to_owned());
        }
    }
}

/// A constraint written out with option and value ids: its form, message and expression.
pub fn constraint_text(p: &Product, c: &Constraint) -> String {
    let body = match &c.form {
        ConstraintForm::IfThen { condition, then } => {
            format!("if {} then {}", expr_text(p, condition), expr_text(p, then))
        }
        ConstraintForm::Forbid(e) => format!("forbid {}", expr_text(p, e)),
        ConstraintForm::Require(e) => format!("require {}", expr_text(p, e)),
        ConstraintForm::Table(t) => table_text(p, t),
    };
    format!("{body} | {}", c.message)
}

fn table_text(p: &Product, t: &Table) -> String {
    let names: Vec<String> = t.options.iter().map(|&o| opt_name(p, o)).collect();
    let mut rows: Vec<String> = t
        .rows()
        .map(|row| {
            row.zip(&t.options)
                .map(|(cell, &o)| match cell {
                    CellRef::Any => "*".to_owned(),
                    CellRef::Values(vs) => {
                        let mut names: Vec<String> =
                            vs.iter().map(|v| value_text(p, o, v)).collect();
                        names.sort();
                        format!("[{}]", names.join(","))
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    rows.sort();
    format!(
        "table [{}] {} {}",
        names.join(","),
        if t.allow { "allow" } else { "forbid" },
        rows.join("; ")
    )
}

fn price_rule_text(p: &Product, r: &PriceRule) -> String {
    let effect = match &r.effect {
        PriceEffect::Add(a) => format!("add {a}"),
        PriceEffect::Subtract(a) => format!("subtract {a}"),
        PriceEffect::Formula(t) => format!("formula {}", term_text(p, t)),
        PriceEffect::Discount(x) => format!("discount {x}%"),
        PriceEffect::Markup(x) => format!("markup {x}%"),
        PriceEffect::Set(a) => format!("set {a}"),
        PriceEffect::Min(a) => format!("min {a}"),
        PriceEffect::Max(a) => format!("max {a}"),
    };
    format!(
        "{} | {} | {} | {effect}",
        r.label,
        match r.stage {
            Stage::Unit => "unit",
            Stage::Order => "order",
        },
        r.condition
            .as_ref()
            .map_or_else(String::new, |c| expr_text(p, c))
    )
}

fn opt_name(p: &Product, o: usize) -> String {
    p.options
        .get(o)
        .map_or_else(|| format!("#{o}"), |d| d.id.clone())
}

/// An expression written with option and value ids (the engine's lowered form, not the source text).
pub fn expr_text(p: &Product, e: &Expr) -> String {
    match e {
        Expr::Const(b) => b.to_string(),
        Expr::Bool(o) => opt_name(p, *o),
        Expr::IsSet(o) => format!("is_set({})", opt_name(p, *o)),
        Expr::ChoiceIn(o, vs) => {
            let mut names: Vec<String> = vs
                .iter()
                .map(|&i| value_text(p, *o, &Value::Choice(i)))
                .collect();
            names.sort();
            format!("{} in [{}]", opt_name(p, *o), names.join(","))
        }
        Expr::Cmp(op, a, b) => {
            let op = match op {
                CmpOp::Eq => "==",
                CmpOp::Ne => "!=",
                CmpOp::Lt => "<",
                CmpOp::Le => "<=",
                CmpOp::Gt => ">",
                CmpOp::Ge => ">=",
            };
            format!("{} {op} {}", term_text(p, a), term_text(p, b))
        }
        Expr::Not(x) => format!("not ({})", expr_text(p, x)),
        Expr::And(xs) => format!(
            "({})",
            xs.iter()
                .map(|x| expr_text(p, x))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        Expr::Or(xs) => format!(
            "({})",
            xs.iter()
                .map(|x| expr_text(p, x))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

fn term_text(p: &Product, t: &Term) -> String {
    match t {
        Term::Int(n) => n.to_string(),
        Term::Dec(d) => d.to_string(),
        Term::Opt(o) => opt_name(p, *o),
        Term::Len(o) => format!("len({})", opt_name(p, *o)),
        Term::Add(a, b) => format!("({} + {})", term_text(p, a), term_text(p, b)),
        Term::Sub(a, b) => format!("({} - {})", term_text(p, a), term_text(p, b)),
        Term::Mul(a, b) => format!("({} * {})", term_text(p, a), term_text(p, b)),
        Term::Neg(a) => format!("-({})", term_text(p, a)),
    }
}

impl CatalogDiff {
    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Human-readable text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for p in &self.added {
            s.push_str(&format!(
                "+ {}: new product, {} configurations\n",
                p.id, p.count
            ));
        }
        for p in &self.removed {
            s.push_str(&format!(
                "- {}: removed (had {} configurations)\n",
                p.id, p.count
            ));
        }
        for d in &self.changed {
            s.push_str(&format!("~ {}: changed\n", d.id));
            s.push_str(&format!(
                "    configurations: {} -> {}\n",
                d.count_before, d.count_after
            ));
            if d.prices_before != d.prices_after {
                let show = |p: &Option<(Decimal, Decimal)>| {
                    p.map_or_else(|| "unknown".to_owned(), |(a, b)| format!("{a} to {b}"))
                };
                s.push_str(&format!(
                    "    prices: {} -> {}\n",
                    show(&d.prices_before),
                    show(&d.prices_after)
                ));
            }
            let line = |s: &mut String, what: &str, items: &[String]| {
                if !items.is_empty() {
                    s.push_str(&format!("    {what}: {}\n", items.join(", ")));
                }
            };
            line(&mut s, "options added", &d.options_added);
            line(&mut s, "options removed", &d.options_removed);
            for c in &d.options_changed {
                s.push_str(&format!(
                    "    option changed: {}: {} -> {}\n",
                    c.option, c.before, c.after
                ));
            }
            let pairs = |v: &[(String, String)]| {
                v.iter()
                    .map(|(o, x)| format!("{o}={x}"))
                    .collect::<Vec<_>>()
            };
            line(&mut s, "values added", &pairs(&d.values_added));
            line(&mut s, "values removed", &pairs(&d.values_removed));
            line(&mut s, "rules added", &d.rules_added);
            line(&mut s, "rules removed", &d.rules_removed);
            line(&mut s, "rules changed", &d.rules_changed);
            line(&mut s, "price rules added", &d.price_rules_added);
            line(&mut s, "price rules removed", &d.price_rules_removed);
            line(&mut s, "price rules changed", &d.price_rules_changed);
            if d.base_price_changed {
                s.push_str("    base price, currency or quantity tiers changed\n");
            }
        }
        s.push_str(&format!(
            "{} added, {} removed, {} changed, {} unchanged\n",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.unchanged.len()
        ));
        s
    }

    /// One JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let pairs = |v: &[(String, String)]| {
            v.iter()
                .map(|(o, x)| serde_json::json!({"option": o, "value": x}))
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "added": self.added.iter().map(|p| serde_json::json!({"product": p.id, "count": p.count.json()})).collect::<Vec<_>>(),
            "removed": self.removed.iter().map(|p| serde_json::json!({"product": p.id, "count": p.count.json()})).collect::<Vec<_>>(),
            "unchanged": self.unchanged,
            "changed": self.changed.iter().map(|d| serde_json::json!({
                "product": d.id,
                "old_version": d.old_version,
                "new_version": d.new_version,
                "count_before": d.count_before.json(),
                "count_after": d.count_after.json(),
                "prices_before": d.prices_before.map(|(a, b)| serde_json::json!({"min": a.to_string(), "max": b.to_string()})),
                "prices_after": d.prices_after.map(|(a, b)| serde_json::json!({"min": a.to_string(), "max": b.to_string()})),
                "options_added": d.options_added,
                "options_removed": d.options_removed,
                "options_changed": d.options_changed.iter().map(|c| serde_json::json!({"option": c.option, "before": c.before, "after": c.after})).collect::<Vec<_>>(),
                "values_added": pairs(&d.values_added),
                "values_removed": pairs(&d.values_removed),
                "rules_added": d.rules_added,
                "rules_removed": d.rules_removed,
                "rules_changed": d.rules_changed,
                "price_rules_added": d.price_rules_added,
                "price_rules_removed": d.price_rules_removed,
                "price_rules_changed": d.price_rules_changed,
                "base_price_changed": d.base_price_changed,
            })).collect::<Vec<_>>(),
        })
    }
}

// ---- stored orders ----

/// A stored order as the impact check sees it: its product, its frozen choices (option id and
/// value as text, in the order made) and the total it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub id: String,
    pub product: String,
    pub choices: Vec<(String, String)>,
    /// The quoted total; `None` skips the price comparison.
    pub total: Option<Decimal>,
}

impl StoredOrder {
    /// An order as stored by the service: its frozen selection (`[[option id, value], …]`, or a
    /// JSON object option id → value in older rows) and its quote (a JSON object with `total`, as `pricing::Quote` serializes).
    /// A missing or unreadable total skips the price comparison.
    pub fn from_json(
        id: &str,
        product: &str,
        selection: &serde_json::Value,
        quote: &serde_json::Value,
    ) -> StoredOrder {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        // Stored as `[[option, value], …]` (in the order chosen), or as an object by older rows.
        let choices = match selection {
            serde_json::Value::Array(pairs) => pairs
                .iter()
                .filter_map(|p| Some((p.get(0)?.as_str()?.to_owned(), text(p.get(1)?))))
                .collect(),
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            _ => Vec::new(),
        };
        let total = match &quote["total"] {
            serde_json::Value::String(s) => s.parse().ok(),
            serde_json::Value::Number(n) => n.to_string().parse().ok(),
            _ => None,
        };
        StoredOrder {
            id: id.to_owned(),
            product: product.to_owned(),
            choices,
            total,
        }
    }
}

/// How the new catalog affects one stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderImpact {
    /// The product is gone.
    ProductRemoved,
    /// The choices no longer read: an option or value was removed or renamed.
    Unreadable(String),
    /// The configuration breaks rules or misses required options under the new rules.
    Invalid {
        violated: Vec<String>,
        missing: Vec<String>,
    },
    /// The same configuration is priced differently.
    Repriced { before: Decimal, after: Decimal },
    /// The new price could not be computed.
    PriceUnknown(String),
}

/// An order the new catalog affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFinding {
    pub order: String,
    pub product: String,
    pub impacts: Vec<OrderImpact>,
}

/// The pricing function for [`check_orders`] in production: the pricing engine's quoted total.
pub fn quoted_total(p: &Product, sel: &Selection) -> Result<Decimal, String> {
    crate::pricing::quote(p, sel)
        .map(|q| q.total)
        .map_err(|e| e.to_string())
}

/// Checks stored orders against a (new) catalog: which would now be invalid or priced
/// differently. `price` gives the total of a selection (the pricing engine's quote in the CLI;
/// anything in tests); only orders still valid are re-priced. Only affected orders are returned,
/// in input order.
pub fn check_orders<'a>(
    catalog: &Catalog,
    orders: impl IntoIterator<Item = &'a StoredOrder>,
    price: &dyn Fn(&Product, &Selection) -> Result<Decimal, String>,
) -> Vec<OrderFinding> {
    let mut engines: BTreeMap<String, Engine> = BTreeMap::new();
    let mut out = Vec::new();
    for o in orders {
        let mut impacts = Vec::new();
        match catalog.product(&o.product) {
            None => impacts.push(OrderImpact::ProductRemoved),
            Some(p) => match Selection::parse(p, &o.choices) {
                Err(e) => impacts.push(OrderImpact::Unreadable(e.to_string())),
                Ok(sel) => {
                    let engine = engines
                        .entry(p.id.clone())
                        .or_insert_with(|| Engine::new(p.clone()));
                    let v = engine.validate(&sel);
                    if !v.valid {
                        let violated: BTreeSet<String> = v
                            .violations
                            .iter()
                            .filter_map(|x| p.constraints.get(x.rule).map(|c| c.id.clone()))
                            .collect();
                        impacts.push(OrderImpact::Invalid {
                            violated: violated.into_iter().collect(),
                            missing: v.missing.iter().map(|&m| opt_name(p, m)).collect(),
                        });
                    }
                    // An invalid order has to change anyway; only valid ones are re-priced.
                    if v.valid
                        && let Some(before) = o.total
                    {
                        match price(p, &sel) {
                            Ok(after) if after != before => {
                                impacts.push(OrderImpact::Repriced { before, after });
                            }
                            Ok(_) => {}
                            Err(e) => impacts.push(OrderImpact::PriceUnknown(e)),
                        }
                    }
                }
            },
        }
        if !impacts.is_empty() {
            out.push(OrderFinding {
                order: o.id.clone(),
                product: o.product.clone(),
                impacts,
            });
        }
    }
    out
}

/// Order findings as JSON: one object per affected order with its impacts.
pub fn orders_json(findings: &[OrderFinding]) -> serde_json::Value {
    serde_json::Value::Array(
        findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "order": f.order,
                    "product": f.product,
                    "impacts": f.impacts.iter().map(|i| match i {
                        OrderImpact::ProductRemoved => serde_json::json!({"kind": "product_removed"}),
                        OrderImpact::Unreadable(e) => serde_json::json!({"kind": "unreadable", "error": e}),
                        OrderImpact::Invalid { violated, missing } => serde_json::json!({"kind": "invalid", "violated": violated, "missing": missing}),
                        OrderImpact::Repriced { before, after } => serde_json::json!({"kind": "repriced", "before": before.to_string(), "after": after.to_string()}),
                        OrderImpact::PriceUnknown(e) => serde_json::json!({"kind": "price_unknown", "error": e}),
                    }).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// Renders order findings as text, one line per impact.
pub fn orders_text(findings: &[OrderFinding]) -> String {
    let mut s = String::new();
    for f in findings {
        for i in &f.impacts {
            let what = match i {
                OrderImpact::ProductRemoved => "its product was removed".to_owned(),
                OrderImpact::Unreadable(e) => format!("its choices no longer read: {e}"),
                OrderImpact::Invalid { violated, missing } => {
                    let mut parts = Vec::new();
                    if !violated.is_empty() {
                        parts.push(format!("violates {}", violated.join(", ")));
                    }
                    if !missing.is_empty() {
                        parts.push(format!("misses {}", missing.join(", ")));
                    }
                    format!("now invalid: {}", parts.join("; "))
                }
                OrderImpact::Repriced { before, after } => {
                    format!("priced differently: {before} -> {after}")
                }
                OrderImpact::PriceUnknown(e) => format!("cannot be priced: {e}"),
            };
            s.push_str(&format!("order {} ({}): {what}\n", f.order, f.product));
        }
    }
    s
}
