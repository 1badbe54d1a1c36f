//! Data-driven pricing cases: worked examples for each pricing feature (tests/fixtures/pricing/*.yaml).
//!
//! Each fixture holds a small catalog (`files`) and `cases`: a selection (`select`, option →
//! value text) and what `pricing::quote` must answer (`total`, `unit`, `quantity`, `lines` as
//! `[source, amount]` pairs in order, or `error`), or what `pricing::range` must answer
//! (`range: [min, max]` or `range_error`). Every quote is also checked to add up exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bespoke::catalog::{self, FileSet};
use bespoke::pricing;
use bespoke::rules::{Engine, Selection};
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    files: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    product: Option<String>,
    #[serde(default)]
    select: BTreeMap<String, String>,
    unit: Option<String>,
    total: Option<String>,
    quantity: Option<i64>,
    lines: Option<Vec<(String, String)>>,
    error: Option<String>,
    range: Option<(String, String)>,
    range_error: Option<String>,
}

/// Checks the invariants every quote keeps: lines sum to the total, unit amounts to the unit.
pub fn assert_adds_up(q: &pricing::Quote, what: &str) {
    let sum: Decimal = q.lines.iter().map(|l| l.amount).sum();
    assert_eq!(
        sum, q.total,
        "{what}: lines do not sum to the total: {q:#?}"
    );
    let unit: Decimal = q.lines.iter().filter_map(|l| l.unit_amount).sum();
    assert_eq!(
        unit, q.unit,
        "{what}: unit amounts do not sum to the unit price"
    );
    let mu = q.currency.minor_units();
    for l in &q.lines {
        assert_eq!(l.amount.scale(), mu, "{what}: {l:?} is not in minor units");
    }
}

fn run_fixture(name: &str) -> usize {
    let path = common::repo().join("tests/fixtures/pricing").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let fx: Fixture = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut files = FileSet::new();
    for (p, body) in &fx.files {
        files.insert(p.clone(), body.clone().into_bytes());
    }
    let result = catalog::load(&files);
    assert!(
        !result.has_errors(),
        "{name}: the catalog has errors:\n{}",
        result.render()
    );
    let cat = result.catalog.unwrap();
    for case in &fx.cases {
        let what = format!("{name}: {}", case.name);
        let product: Arc<catalog::Product> = match &case.product {
            Some(id) => cat
                .product(id)
                .unwrap_or_else(|| panic!("{what}: no {id}"))
                .clone(),
            None => {
                assert_eq!(cat.products().len(), 1, "{what}: name the product");
                cat.products()[0].clone()
            }
        };
        let pairs: Vec<(String, String)> = case
            .select
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let sel = Selection::parse(&product, &pairs).unwrap_or_else(|e| panic!("{what}: {e}"));
        if case.total.is_some() || case.error.is_some() || case.lines.is_some() {
            match (pricing::quote(&product, &sel), &case.error) {
                (Ok(q), None) => {
                    assert_adds_up(&q, &what);
                    if let Some(t) = &case.total {
                        assert_eq!(&q.total.to_string(), t, "{what}: total");
                    }
                    if let Some(u) = &case.unit {
                        assert_eq!(&q.unit.to_string(), u, "{what}: unit");
                    }
                    if let Some(n) = case.quantity {
                        assert_eq!(q.quantity, n, "{what}: quantity");
                    }
                    if let Some(lines) = &case.lines {
                        let got: Vec<(String, String)> = q
                            .lines
                            .iter()
                            .map(|l| (l.source.to_string(), l.amount.to_string()))
                            .collect();
                        assert_eq!(&got, lines, "{what}: lines");
                    }
                }
                (Ok(q), Some(e)) => panic!("{what}: expected an error with `{e}`, got {q:#?}"),
                (Err(e), Some(want)) => {
                    assert!(e.to_string().contains(want.as_str()), "{what}: {e}")
                }
                (Err(e), None) => panic!("{what}: {e}"),
            }
        }
        if case.range.is_some() || case.range_error.is_some() {
            let engine = Engine::new(product.clone());
            match (pricing::range(&engine, &sel), &case.range_error) {
                (Ok(r), None) => {
                    let (min, max) = case.range.clone().unwrap();
                    assert_eq!(
                        (r.min.to_string(), r.max.to_string()),
                        (min, max),
                        "{what}: range"
                    );
                    // Attained: the reported configurations are valid and cost min and max.
                    for (s, want) in [(&r.cheapest, r.min), (&r.dearest, r.max)] {
                        assert!(engine.validate(s).valid, "{what}: {s:?} is not valid");
                        for (o, v) in &sel.choices {
                            assert_eq!(
                                s.get(*o).map(|x| engine.model.vars[*o].index_of(x)),
                                Some(engine.model.vars[*o].index_of(v)),
                                "{what}: keeps choices"
                            );
                        }
                        assert_eq!(pricing::quote(&product, s).unwrap().total, want, "{what}");
                    }
                }
                (Ok(r), Some(e)) => panic!("{what}: expected a range error `{e}`, got {r:?}"),
                (Err(e), Some(want)) => {
                    assert!(e.to_string().contains(want.as_str()), "{what}: {e}")
                }
                (Err(e), None) => panic!("{what}: {e}"),
            }
        }
    }
    fx.cases.len()
}

#[test]
fn option_prices() {
    assert!(run_fixture("options.yaml") > 0);
}

#[test]
fn formulas_on_integer_options() {
    assert!(run_fixture("formulas.yaml") > 0);
}

#[test]
fn quantity_tiers() {
    assert!(run_fixture("tiers.yaml") > 0);
}

#[test]
fn price_rules_in_stages() {
    assert!(run_fixture("rules.yaml") > 0);
}

#[test]
fn rounding_per_currency() {
    assert!(run_fixture("currencies.yaml") > 0);
}

#[test]
fn extreme_values_are_errors() {
    assert!(run_fixture("errors.yaml") > 0);
}

#[test]
fn every_fixture_is_run() {
    let dir = common::repo().join("tests/fixtures/pricing");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "currencies.yaml",
            "errors.yaml",
            "formulas.yaml",
            "options.yaml",
            "rules.yaml",
            "tiers.yaml"
        ]
    );
}

#[test]
fn sample_catalog_quotes_add_up() {
    let result = catalog::load_dir(&common::repo()).unwrap();
    let cat = result.catalog.unwrap();
    for p in cat.products() {
        let engine = Engine::new(p.clone());
        let sol = engine.complete(&Selection::default()).unwrap().unwrap();
        let sel = Selection {
            choices: engine
                .model
                .vars
                .iter()
                .zip(&sol)
                .filter_map(|(var, &i)| var.value(i).map(|v| (var.opt, v)))
                .collect(),
        };
        let q = pricing::quote(p, &sel).unwrap();
        assert_adds_up(&q, &p.id);
        let r = pricing::range(&engine, &Selection::default()).unwrap();
        assert!(
            r.min <= q.total && q.total <= r.max,
            "{}: {r:?} vs {}",
            p.id,
            q.total
        );
    }
}

fn priced_car(
    options: usize,
    tables: usize,
) -> (bespoke::rules::generate::Generated, Arc<catalog::Product>) {
    use bespoke::rules::generate::{CarParams, car_model_with, with_prices};
    let g = car_model_with(1, options, tables, &CarParams::calibrated(options));
    let result = catalog::load(&g.files());
    let product = Arc::new(with_prices(&result.catalog.unwrap().products()[0], 1));
    (g, product)
}

#[test]
fn generated_car_model_range_is_attained() {
    // A small model, and the 100-option one of the benchmark (exact within the default limit).
    for (options, tables) in [(16, 14), (100, 113)] {
        car_range_is_attained(options, tables);
    }
}

fn car_range_is_attained(options: usize, tables: usize) {
    let (g, product) = priced_car(options, tables);
    let engine = Engine::new(product.clone());
    let r = pricing::range(&engine, &Selection::default()).unwrap();
    assert!(r.min < r.max, "{r:?}");
    for (s, want) in [(&r.cheapest, r.min), (&r.dearest, r.max)] {
        assert!(engine.validate(s).valid);
        let q = pricing::quote(&product, s).unwrap();
        assert_adds_up(&q, "car");
        assert_eq!(q.total, want);
    }
    // Every planted configuration lies within the range.
    for w in &g.witnesses {
        let pairs: Vec<(String, String)> = w.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let sel = Selection::parse(&product, &pairs).unwrap();
        let t = pricing::quote(&product, &sel).unwrap().total;
        assert!(r.min <= t && t <= r.max, "{t} outside {r:?}");
    }
}

#[test]
fn range_work_is_bounded() {
    let (_, product) = priced_car(100, 113);
    let engine = Engine::new(product).with_work_limit(1_000);
    assert_eq!(
        pricing::range(&engine, &Selection::default()),
        Err(pricing::PricingError::WorkLimit { limit: 1_000 })
    );
}
