//! Data-driven tests pinning the sample catalog's rule behaviour (tests/fixtures/engine/*.yaml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use bespoke::catalog;
use bespoke::rules::{Engine, Selection};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    product: String,
    #[serde(default)]
    given: Vec<String>,
    consistent: Option<bool>,
    #[serde(default)]
    available: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    unavailable: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    range: BTreeMap<String, [i64; 2]>,
    conflict: Option<Vec<String>>,
    repair_drop: Option<Vec<String>>,
    count: Option<u128>,
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn sample_catalog_cases() {
    let cat = catalog::load_dir(&common::repo()).unwrap().catalog.unwrap();
    let text_cases =
        std::fs::read_to_string(common::repo().join("tests/fixtures/engine/sample.yaml")).unwrap();
    let cases: Vec<Case> = serde_saphyr::from_str(&text_cases).unwrap();
    assert!(cases.len() >= 10);
    for (n, case) in cases.iter().enumerate() {
        let ctx = format!("case {n} ({} {:?})", case.product, case.given);
        let p = cat.product(&case.product).unwrap().clone();
        let pairs: Vec<(String, String)> = case
            .given
            .iter()
            .map(|g| {
                let (k, v) = g.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let sel = Selection::parse(&p, &pairs).unwrap();
        let engine = Engine::new(p.clone());
        let prop = engine.propagate(&sel).unwrap();
        if let Some(c) = case.consistent {
            assert_eq!(prop.consistent, c, "{ctx}");
        }
        let opt = |id: &str| {
            prop.options
                .iter()
                .find(|o| p.options[o.option].id == id)
                .unwrap()
        };
        let name = |o: usize, i: usize| text(&bespoke_value(&engine, o, i));
        for (id, want) in &case.available {
            let oa = opt(id);
            let got: Vec<String> = oa.available.iter().map(|&i| name(oa.option, i)).collect();
            assert_eq!(&got, want, "{ctx}: available {id}");
        }
        for (id, vals) in &case.unavailable {
            let oa = opt(id);
            for (v, rules) in vals {
                let (_, e) = oa
                    .unavailable
                    .iter()
                    .find(|(i, _)| name(oa.option, *i) == *v)
                    .unwrap_or_else(|| panic!("{ctx}: {id}={v} is available"));
                let got: Vec<String> = e
                    .rules
                    .iter()
                    .map(|&r| p.constraints[r].id.clone())
                    .collect();
                assert_eq!(&got, rules, "{ctx}: why not {id}={v}");
            }
        }
        for (id, [lo, hi]) in &case.range {
            let oa = opt(id);
            let nums: Vec<i64> = oa
                .available
                .iter()
                .filter_map(|&i| bespoke_value(&engine, oa.option, i).as_i64())
                .collect();
            assert_eq!(
                (nums.iter().min().copied(), nums.iter().max().copied()),
                (Some(*lo), Some(*hi)),
                "{ctx}: range of {id}"
            );
        }
        if let Some(c) = &case.conflict {
            let got: Vec<String> = prop
                .conflict
                .as_ref()
                .unwrap()
                .rules
                .iter()
                .map(|&r| p.constraints[r].id.clone())
                .collect();
            assert_eq!(&got, c, "{ctx}: conflict");
        }
        if let Some(d) = &case.repair_drop {
            let r = engine.repair(&sel).unwrap();
            let got: Vec<String> = r.drop.iter().map(|&o| p.options[o].id.clone()).collect();
            assert_eq!(&got, d, "{ctx}: repair");
        }
        if let Some(n) = case.count {
            assert_eq!(
                engine.count(&sel).unwrap(),
                num_bigint::BigUint::from(n),
                "{ctx}: count"
            );
        }
    }
}

fn bespoke_value(engine: &Engine, o: usize, i: usize) -> serde_json::Value {
    match engine.model.vars[o].value(i) {
        None => serde_json::Value::Null,
        Some(bespoke::catalog::Value::Choice(c)) => match &engine.product.options[o].kind {
            bespoke::catalog::OptionKind::Choice(cs) => serde_json::json!(cs.values[c].id),
            _ => serde_json::Value::Null,
        },
        Some(bespoke::catalog::Value::Bool(b)) => serde_json::json!(b),
        Some(bespoke::catalog::Value::Int(n)) => serde_json::json!(n),
        Some(bespoke::catalog::Value::Text(s)) => serde_json::json!(s),
    }
}
