//! Machine-readable and human reports of engine answers (configure, count, analyze), shared by the CLI and the HTTP API.

use serde_json::{Map, Value as Json, json};

use crate::catalog::model::{OptionKind, Product};
use crate::rules::selection::value_text;
use crate::rules::{Engine, Explanation, Propagation, Repair, Selection, Validation};

/// The text of domain index `i` of option `o` (`null` for unset; text options by length).
pub fn index_json(engine: &Engine, o: usize, i: usize) -> Json {
    let p = &engine.product;
    match engine.model.vars[o].value(i) {
        None => Json::Null,
        Some(v) => match (&p.options[o].kind, &v) {
            (
                OptionKind::Integer(_) | OptionKind::Quantity(_) | OptionKind::Text(_),
                crate::catalog::model::Value::Int(n),
            ) => json!(n),
            (OptionKind::Boolean { .. }, crate::catalog::model::Value::Bool(b)) => json!(b),
            (OptionKind::Upload(_), _) => json!("uploaded"),
            _ => json!(value_text(p, o, &v)),
        },
    }
}

fn index_text(engine: &Engine, o: usize, i: usize) -> String {
    match index_json(engine, o, i) {
        Json::Null => "(unset)".to_owned(),
        Json::String(s) => s,
        other => other.to_string(),
    }
}

pub fn explanation_json(engine: &Engine, sel: &Selection, e: &Explanation) -> Json {
    let p = &engine.product;
    let rules: Vec<Json> = e
        .rules
        .iter()
        .filter_map(|&r| p.constraints.get(r))
        .map(|c| json!({"id": c.id, "message": c.message}))
        .collect();
    let mut choices = Map::new();
    for &o in &e.choices {
        if let Some(v) = sel.get(o) {
            choices.insert(p.options[o].id.clone(), json!(value_text(p, o, v)));
        }
    }
    json!({"rules": rules, "choices": choices})
}

fn explanation_text(engine: &Engine, sel: &Selection, e: &Explanation) -> String {
    let p = &engine.product;
    let rules: Vec<String> = e
        .rules
        .iter()
        .filter_map(|&r| p.constraints.get(r))
        .map(|c| format!("{} ({})", c.message, c.id))
        .collect();
    let choices: Vec<String> = e
        .choices
        .iter()
        .filter_map(|&o| {
            sel.get(o)
                .map(|v| format!("{}={}", p.options[o].id, value_text(p, o, v)))
        })
        .collect();
    if choices.is_empty() {
        rules.join("; ")
    } else {
        format!("{} [given {}]", rules.join("; "), choices.join(", "))
    }
}

pub fn propagation_json(engine: &Engine, sel: &Selection, prop: &Propagation) -> Json {
    let p = &engine.product;
    let mut options = Map::new();
    for oa in &prop.options {
        let o = oa.option;
        let opt = &p.options[o];
        let mut entry = Map::new();
        entry.insert("type".into(), json!(opt.kind.type_name()));
        entry.insert(
            "selected".into(),
            oa.selected
                .as_ref()
                .map_or(Json::Null, |v| json!(value_text(p, o, v))),
        );
        let mut unavailable = Map::new();
        for (i, e) in &oa.unavailable {
            unavailable.insert(index_text(engine, o, *i), explanation_json(engine, sel, e));
        }
        match opt.kind {
            OptionKind::Choice(_) | OptionKind::Boolean { .. } | OptionKind::Upload(_) => {
                entry.insert(
                    "available".into(),
                    Json::Array(
                        oa.available
                            .iter()
                            .map(|&i| index_json(engine, o, i))
                            .collect(),
                    ),
                );
            }
            OptionKind::Integer(_) | OptionKind::Quantity(_) | OptionKind::Text(_) => {
                let nums: Vec<i64> = oa
                    .available
                    .iter()
                    .filter_map(|&i| index_json(engine, o, i).as_i64())
                    .collect();
                entry.insert(
                    "min".into(),
                    nums.iter().min().map_or(Json::Null, |v| json!(v)),
                );
                entry.insert(
                    "max".into(),
                    nums.iter().max().map_or(Json::Null, |v| json!(v)),
                );
                if matches!(opt.kind, OptionKind::Text(_)) {
                    entry.insert("unit".into(), json!("characters"));
                }
                let unset = engine.model.vars[o].unset();
                entry.insert(
                    "may_be_unset".into(),
                    json!(unset.is_some_and(|u| oa.available.contains(&u))),
                );
                let contiguous = nums.windows(2).all(|w| {
                    let step = match &opt.kind {
                        OptionKind::Integer(r) | OptionKind::Quantity(r) => r.step,
                        _ => 1,
                    };
                    w[1] - w[0] == step
                });
                if !contiguous {
                    entry.insert("values".into(), json!(nums));
                }
            }
        }
        entry.insert("unavailable".into(), Json::Object(unavailable));
        options.insert(opt.id.clone(), Json::Object(entry));
    }
    json!({
        "consistent": prop.consistent,
        "conflict": prop.conflict.as_ref().map(|e| explanation_json(engine, sel, e)),
        "options": options,
    })
}

pub fn validation_json(engine: &Engine, v: &Validation) -> Json {
    let p = &engine.product;
    json!({
        "valid": v.valid,
        "missing": v.missing.iter().map(|&o| p.options[o].id.clone()).collect::<Vec<_>>(),
        "violations": v.violations.iter().map(|x| json!({
            "rule": p.constraints[x.rule].id,
            "message": p.constraints[x.rule].message,
            "options": x.options.iter().map(|&o| p.options[o].id.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

pub fn repair_json(engine: &Engine, r: &Repair) -> Json {
    let p = &engine.product;
    let mut replace = Map::new();
    for (o, v) in &r.replace {
        replace.insert(
            p.options[*o].id.clone(),
            v.as_ref()
                .map_or(Json::Null, |v| json!(value_text(p, *o, v))),
        );
    }
    json!({"drop": r.drop.iter().map(|&o| p.options[o].id.clone()).collect::<Vec<_>>(), "replace": replace})
}

pub fn completion_json(engine: &Engine, sol: &[usize]) -> Json {
    let mut m = Map::new();
    for (o, &i) in sol.iter().enumerate() {
        m.insert(
            engine.product.options[o].id.clone(),
            index_json(engine, o, i),
        );
    }
    Json::Object(m)
}

/// The human-readable configure report.
pub fn configure_text(
    engine: &Engine,
    sel: &Selection,
    prop: &Propagation,
    val: &Validation,
    rep: Option<&Repair>,
    completion: Option<&[usize]>,
) -> String {
    let p: &Product = &engine.product;
    let mut out = format!(
        "{} ({}), version {}\n{}\n\n",
        p.name,
        p.id,
        p.version.get(..12).unwrap_or(""),
        if prop.consistent {
            "The selection is consistent."
        } else {
            "The selection is INCONSISTENT."
        }
    );
    if let Some(c) = &prop.conflict {
        out.push_str(&format!(
            "conflict: {}\n\n",
            explanation_text(engine, sel, c)
        ));
    }
    let width = p.options.iter().map(|o| o.id.len()).max().unwrap_or(0);
    for oa in &prop.options {
        let o = oa.option;
        let opt = &p.options[o];
        let chosen = oa
            .selected
            .as_ref()
            .map(|v| format!(" = {}", value_text(p, o, v)))
            .unwrap_or_default();
        let avail = match opt.kind {
            OptionKind::Choice(_) | OptionKind::Boolean { .. } | OptionKind::Upload(_) => oa
                .available
                .iter()
                .map(|&i| index_text(engine, o, i))
                .collect::<Vec<_>>()
                .join(" "),
            _ => {
                let nums: Vec<i64> = oa
                    .available
                    .iter()
                    .filter_map(|&i| index_json(engine, o, i).as_i64())
                    .collect();
                match (nums.iter().min(), nums.iter().max()) {
                    (Some(a), Some(b)) => format!(
                        "{a}..{b}{}",
                        if matches!(opt.kind, OptionKind::Text(_)) {
                            " characters"
                        } else {
                            ""
                        }
                    ),
                    _ => "none".to_owned(),
                }
            }
        };
        out.push_str(&format!(
            "{:width$}{chosen}\n    available: {avail}\n",
            opt.id
        ));
        for (i, e) in &oa.unavailable {
            out.push_str(&format!(
                "    not {}: {}\n",
                index_text(engine, o, *i),
                explanation_text(engine, sel, e)
            ));
        }
    }
    out.push('\n');
    if val.valid {
        out.push_str("validation: valid, complete configuration\n");
    } else {
        let missing: Vec<&str> = val
            .missing
            .iter()
            .map(|&o| p.options[o].id.as_str())
            .collect();
        if !missing.is_empty() {
            out.push_str(&format!("validation: missing {}\n", missing.join(", ")));
        }
        for v in &val.violations {
            let c = &p.constraints[v.rule];
            out.push_str(&format!("validation: breaks `{}`: {}\n", c.id, c.message));
        }
    }
    if let Some(r) = rep
        && !r.drop.is_empty()
    {
        let parts: Vec<String> = r
            .replace
            .iter()
            .map(|(o, v)| match v {
                Some(v) => format!("{} -> {}", p.options[*o].id, value_text(p, *o, v)),
                None => format!("drop {}", p.options[*o].id),
            })
            .collect();
        out.push_str(&format!("repair: {}\n", parts.join(", ")));
    }
    match completion {
        Some(sol) => {
            let c = super::configure::completion(engine, sel, sol);
            let parts: Vec<String> = c
                .selection
                .set()
                .map(|(k, v)| format!("{k}={}", v.as_text()))
                .collect();
            out.push_str(&format!("completion: {}\n", parts.join(" ")));
            if !c.needs_input.is_empty() {
                out.push_str(&format!(
                    "completion needs the customer's input for: {}\n",
                    c.needs_input.join(", ")
                ));
            }
        }
        None => out.push_str("completion: none (the selection has no valid completion)\n"),
    }
    out
}
