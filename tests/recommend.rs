//! The recommender: recommendations are always available values and complete validly (property test on random models and histories), history import and its problems, customer weighting and forgetting, learning one order at a time, the popular configurations, and a small evaluation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bespoke::catalog::{self, Product, Value};
use bespoke::recommend::eval::{EvalOptions, evaluate};
use bespoke::recommend::{Domains, Method, Problem, Recommender, Sale, parse_history};
use bespoke::rules::{Engine, Selection};
use proptest::prelude::*;

const SHIRT: &str = r#"
=== catalog/shirt.yaml
id: shirt
name: Shirt
currency: EUR
base_price: "10.00"
rules: [rules/shirt.yaml]
options:
  size: { type: choice, values: [s, m, l, xl], default: m }
  color: { type: choice, values: [white, black, red] }
  fabric: { type: choice, values: [cotton, polyester] }
  pocket: { type: boolean }
  logo: { type: choice, values: [small, big], required: false }
  sleeves: { type: integer, min: 0, max: 2, default: 1 }
  text: { type: text, max_length: 10 }
=== rules/shirt.yaml
constraints:
  - id: no-red-polyester
    message: Polyester is not dyed red.
    forbid: fabric == polyester and color == red
  - id: big-logo-on-cotton
    message: A big logo is printed on cotton only.
    forbid: logo == big and fabric == polyester
"#;

fn load(text: &str) -> Arc<Product> {
    let r = catalog::load(&common::fixture_files(text));
    assert!(!r.has_errors(), "{}", r.render());
    r.catalog.unwrap().products()[0].clone()
}

fn shirt() -> Engine {
    Engine::new(load(SHIRT))
}

fn sel(engine: &Engine, pairs: &[(&str, &str)]) -> Selection {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Selection::parse(&engine.product, &pairs).unwrap()
}

fn opt(engine: &Engine, id: &str) -> usize {
    engine.product.option(id).unwrap().0
}

/// The id of the value recommended for `option`.
fn recommended(
    rec: &Recommender,
    engine: &Engine,
    s: &Selection,
    customer: Option<&str>,
    option: &str,
) -> String {
    let prop = engine.propagate(s).unwrap();
    let recs = rec.recommend(engine, s, &prop, customer);
    let r = recs.options[opt(engine, option)].as_ref().unwrap();
    value_id(engine, r.option, r.value.as_ref())
}

fn value_id(engine: &Engine, o: usize, v: Option<&Value>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) => bespoke::rules::selection::value_text(&engine.product, o, v),
    }
}

fn history(engine: &Engine, csv: &str) -> Recommender {
    let file = parse_history(&engine.product, csv.as_bytes());
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    let mut rec = Recommender::new(&engine.product);
    rec.import(&file);
    rec
}

#[test]
fn history_import_reports_bad_rows_with_line_numbers() {
    let engine = shirt();
    let csv = "size,color,fabric,weight,text,count,customer\n\
               m,white,cotton,3,hi,2,c1\n\
               \n\
               l,purple,cotton,3,,1,\n\
               m,white\n\
               s,black,cotton,1,,zero,\n\
               xl,red,polyester,1,,1,c2\n\
               s,\"black\",,1,,1,\n";
    let mut file = parse_history(&engine.product, csv.as_bytes());
    let bad = file.check_rules(&engine).unwrap();
    let problems: Vec<(usize, Problem)> = file
        .problems
        .iter()
        .map(|p| (p.line, p.problem.clone()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (
                1,
                Problem::UnknownOption {
                    column: "weight".into()
                }
            ),
            (
                1,
                Problem::NotLearned {
                    option: "text".into()
                }
            ),
            (
                4,
                Problem::UnknownValue {
                    option: "color".into(),
                    value: "purple".into()
                }
            ),
            (
                5,
                Problem::FieldCount {
                    expected: 7,
                    found: 2
                }
            ),
            (
                6,
                Problem::BadCount {
                    value: "zero".into()
                }
            ),
            (7, Problem::Inconsistent),
        ]
    );
    // Kept: lines 2, 4 (without its colour), 7 (inconsistent, kept for preferences) and 8.
    let lines: Vec<usize> = file.sales.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 4, 7, 8]);
    assert_eq!(bad, [2]);
    let rows: Vec<usize> = file.sales.iter().map(|r| r.row).collect();
    assert_eq!(rows, [0, 1, 4, 5], "data rows, blank lines not counted");
    assert_eq!(file.total(), 5);
    let first = &file.sales[0].sale;
    assert_eq!(first.count, 2);
    assert_eq!(first.customer.as_deref(), Some("c1"));
    assert_eq!(
        file.sales[1].sale.values,
        [(opt(&engine, "size"), 2), (opt(&engine, "fabric"), 0)]
    );
    assert!(
        Problem::FieldCount {
            expected: 1,
            found: 2
        }
        .skips_row()
    );
    assert!(!Problem::Inconsistent.skips_row());

    // Idempotent per content.
    let mut rec = Recommender::new(&engine.product);
    let once = rec.import(&file);
    assert!(once.new);
    assert_eq!(once.sales, 5);
    let again = rec.import(&parse_history(&engine.product, csv.as_bytes()));
    assert!(!again.new);
    assert_eq!(rec.sales(), 5);
    assert!(rec.has_imported(&file.digest));
}

#[test]
fn whitespace_histories_read_imported_names() {
    // An XCSP model's values are integers; -1 becomes the value id `_1` (docs/import.md).
    let xml = r#"<instance>
      <presentation name="tiny" format="XCSP 2.1"/>
      <domains><domain name="D" nbValues="3">-1 0 1</domain></domains>
      <variables><variable name="v1" domain="D"/><variable name="v2" domain="D"/></variables>
      <relations><relation name="r" arity="2" nbTuples="1" semantics="conflicts">1 1</relation></relations>
      <constraints><constraint name="c" arity="2" scope="v1 v2" reference="r"/></constraints>
    </instance>"#;
    let imported = bespoke::rules::import::import_xcsp(xml, "tiny").unwrap();
    let product = catalog::load(&imported.files()).catalog.unwrap().products()[0].clone();
    let engine = Engine::new(product);
    let mut file = parse_history(&engine.product, b"v2 v1\n-1 0\n1 1\n0 7\n");
    assert_eq!(file.check_rules(&engine).unwrap(), [1]);
    assert_eq!(
        file.problems
            .iter()
            .map(|p| (p.line, p.problem.clone()))
            .collect::<Vec<_>>(),
        vec![
            (3, Problem::Inconsistent),
            (
                4,
                Problem::UnknownValue {
                    option: "v1".into(),
                    value: "7".into()
                }
            ),
        ]
    );
    let (v1, v2) = (opt(&engine, "v1"), opt(&engine, "v2"));
    assert_eq!(
        file.sales[0].sale.values,
        [(v1, 1), (v2, 0)],
        "`-1` is `_1`, index 0"
    );
}

#[test]
fn adding_an_order_changes_the_next_recommendation() {
    let engine = shirt();
    let mut rec = history(&engine, "size,color\nm,white\nl,black\n");
    let empty = Selection::default();
    // A tie between white and black: the more sold, then the lower index wins.
    assert_eq!(recommended(&rec, &engine, &empty, None, "color"), "white");
    rec.add(&Sale::from_selection(
        rec.domains(),
        &sel(&engine, &[("color", "black")]),
    ));
    assert_eq!(recommended(&rec, &engine, &empty, None, "color"), "black");
    assert_eq!(rec.sales(), 3);
    // Removing it (a cancelled order) brings the earlier answer back.
    let removed = rec.remove(&Sale::from_selection(
        rec.domains(),
        &sel(&engine, &[("color", "black")]),
    ));
    assert_eq!(removed, 1);
    assert_eq!(recommended(&rec, &engine, &empty, None, "color"), "white");
}

#[test]
fn recommendations_follow_what_was_sold_with_the_choices() {
    let engine = shirt();
    let rec = history(
        &engine,
        "size,color,fabric,count\ns,red,cotton,5\nxl,black,polyester,3\nxl,white,polyester,1\nm,white,cotton,2\n",
    );
    // Most sold overall is red; with polyester chosen red is unavailable, and black was
    // bought with polyester.
    let empty = Selection::default();
    assert_eq!(recommended(&rec, &engine, &empty, None, "color"), "red");
    let poly = sel(&engine, &[("fabric", "polyester")]);
    assert_eq!(recommended(&rec, &engine, &poly, None, "color"), "black");
    assert_eq!(recommended(&rec, &engine, &poly, None, "size"), "xl");
    let prop = engine.propagate(&poly).unwrap();
    let recs = rec.recommend(&engine, &poly, &prop, None);
    let color = recs.options[opt(&engine, "color")].as_ref().unwrap();
    assert!(
        color.confidence > 0.5 && color.confidence < 1.0,
        "{color:?}"
    );
    assert!(!color.ranked.contains(&2), "red is not available");
    assert!(recs.options[opt(&engine, "fabric")].is_none(), "chosen");
    assert!(
        recs.options[opt(&engine, "text")].is_none(),
        "text is not learned"
    );
    // The most popular baseline ignores the choice.
    let popular = rec.clone().with_method(Method::Popular);
    assert_eq!(recommended(&popular, &engine, &poly, None, "size"), "s");
}

#[test]
fn customer_weighting_changes_a_recommendation_and_forgetting_removes_it() {
    let engine = shirt();
    let mut rec = history(&engine, "size,color,count\nm,white,10\nl,black,4\n");
    rec.add(
        &Sale::from_selection(
            rec.domains(),
            &sel(&engine, &[("size", "xl"), ("color", "black")]),
        )
        .by("cust-7"),
    );
    let empty = Selection::default();
    assert_eq!(recommended(&rec, &engine, &empty, None, "size"), "m");
    assert_eq!(
        recommended(&rec, &engine, &empty, Some("cust-7"), "size"),
        "xl"
    );
    assert_eq!(
        recommended(&rec, &engine, &empty, Some("someone-else"), "size"),
        "m"
    );
    assert_eq!(rec.remove_customer("cust-7"), 1);
    assert_eq!(
        recommended(&rec, &engine, &empty, Some("cust-7"), "size"),
        "m"
    );
    assert_eq!(rec.sales(), 14);
    assert_eq!(rec.remove_customer("cust-7"), 0);
}

#[test]
fn recommended_completion_is_valid_and_personal() {
    let engine = shirt();
    let rec = history(
        &engine,
        "size,color,fabric,pocket,logo,sleeves,count\nl,black,polyester,true,small,2,6\nl,red,cotton,false,big,0,4\n",
    );
    let s = sel(&engine, &[("fabric", "cotton")]);
    let prop = engine.propagate(&s).unwrap();
    let recs = rec.recommend(&engine, &s, &prop, None);
    let full = rec
        .recommended_completion(&engine, &s, &recs)
        .unwrap()
        .unwrap();
    let ids: Vec<String> = ["size", "color", "fabric", "pocket", "logo", "sleeves"]
        .iter()
        .map(|o| {
            let o = opt(&engine, o);
            value_id(&engine, o, engine.model.vars[o].value(full[o]).as_ref())
        })
        .collect();
    assert_eq!(
        ids,
        ["l", "red", "cotton", "false", "big", "0"],
        "the cotton sale's values"
    );
    assert!(engine.validate(&to_selection(&engine, &full)).valid);
}

#[test]
fn popular_lists_the_most_sold_valid_configurations() {
    let engine = shirt();
    let rec = history(
        &engine,
        "size,color,fabric,logo,count\ns,red,polyester,-,9\nm,white,cotton,big,5\nl,black,cotton,-,2\nm,white,cotton,big,1\n",
    );
    let top = rec.popular(&engine, 5).unwrap();
    let counts: Vec<u64> = top.iter().map(|p| p.count).collect();
    assert_eq!(
        counts,
        [6, 2],
        "red polyester is not allowed today; duplicates merge"
    );
    for p in &top {
        assert!(engine.validate(&to_selection(&engine, &p.completion)).valid);
        for &(o, i) in &p.sale.values {
            assert_eq!(p.completion[o], i);
        }
    }
    let logo = opt(&engine, "logo");
    assert_eq!(
        top[1].completion[logo], 2,
        "`-`: not chosen (the unset index)"
    );
    assert_eq!(rec.popular(&engine, 1).unwrap().len(), 1);
}

#[test]
fn a_small_evaluation_runs() {
    let engine = shirt();
    let mut csv = String::from("size,color,fabric,pocket,logo\n");
    let sizes = ["s", "m", "l", "xl"];
    let colors = ["white", "black", "red"];
    for k in 0..60usize {
        let fabric = if k % 3 == 0 { "polyester" } else { "cotton" };
        let color = if fabric == "polyester" {
            colors[k % 2]
        } else {
            colors[k % 3]
        };
        let logo = if fabric == "cotton" && k % 4 == 0 {
            "big"
        } else {
            "small"
        };
        csv.push_str(&format!(
            "{},{color},{fabric},{},{logo}\n",
            sizes[(k * 7) % 4 / 2 + 1],
            k % 5 == 0
        ));
    }
    let file = parse_history(&engine.product, csv.as_bytes());
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    let opts = EvalOptions {
        folds: 3,
        threads: 2,
        serving_samples: 5,
        seeds: vec![1, 2],
        ..EvalOptions::default()
    };
    let r = evaluate(&engine, &file, &opts).unwrap();
    assert_eq!(r.replays, 120);
    assert_eq!(r.unscored, 0);
    // The method, the two baselines, the method with its decay chosen by inner
    // cross-validation, and the ceiling.
    assert_eq!(r.methods.len(), 5);
    assert_eq!(r.methods[3].tuned.as_ref().map(Vec::len), Some(3));
    assert!(r.methods[4].ceiling);
    assert!(
        r.methods[4].all.hits >= r.methods[1].all.hits,
        "the ceiling reads the test sale"
    );
    for m in &r.methods {
        assert_eq!(m.all.steps, 600, "5 options per replay");
        assert!(m.multi.steps <= m.all.steps);
        assert_eq!(m.curve.len(), 5);
        assert_eq!(m.folds.iter().map(|t| t.steps).sum::<u64>(), 600);
        assert!(m.all.hits <= m.all.steps);
    }
    assert!(r.serving.is_some());
    // Folds from a fold file: the fold of each data row.
    let fold_of = Some((0..60).map(|k| k % 2).collect());
    let r = evaluate(
        &engine,
        &file,
        &EvalOptions {
            fold_of,
            serving_samples: 0,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(r.folds, 2);
    assert!(r.serving.is_none());
    // The decay for serving, by the same cross-validation.
    let sales: Vec<Sale> = file.sales.iter().map(|r| r.sale.clone()).collect();
    let decay = bespoke::recommend::eval::choose_decay(&engine, &sales, 1, 2).unwrap();
    assert!(bespoke::recommend::eval::DECAYS.contains(&decay), "{decay}");
}

/// A configuration (one index per option) as a selection.
fn to_selection(engine: &Engine, config: &[usize]) -> Selection {
    Selection {
        choices: config
            .iter()
            .enumerate()
            .filter_map(|(o, &i)| Some((o, engine.model.vars[o].value(i)?)))
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    /// On random small models with random histories (many rows inconsistent with the rules)
    /// and random customers: every recommendation is an available value, each option's
    /// values are numbered as the engine numbers them, and the recommended completion is a
    /// valid configuration that keeps the selection.
    #[test]
    fn recommendations_are_available_and_complete_validly(
        seed in any::<u64>(),
        rows in proptest::collection::vec((proptest::collection::vec(0usize..6, 8), 1u64..4, 0u8..3), 0..25),
        picks in proptest::collection::vec((0usize..8, 0usize..6), 0..4),
        customer in 0u8..3,
    ) {
        let g = bespoke::rules::generate::random_small(seed);
        let loaded = catalog::load(&g.files());
        let Some(product) = loaded.catalog.and_then(|c| c.products().first().cloned()) else {
            return Ok(());
        };
        let engine = Engine::new(product);
        let domains = Domains::of(&engine.product);
        for (o, var) in engine.model.vars.iter().enumerate() {
            if let Some(n) = domains.size(o) {
                prop_assert_eq!(n, var.size);
            }
        }
        let mut rec = Recommender::new(&engine.product);
        let n = engine.model.vars.len();
        let mut sales = Vec::new();
        for (values, count, who) in &rows {
            let mut sale = Sale::new(
                values
                    .iter()
                    .take(n)
                    .enumerate()
                    .filter_map(|(o, &i)| Some((o, i % domains.size(o)?)))
                    .filter(|&(o, _)| (o + values[0]) % 4 != 0)
                    .collect(),
            )
            .times(*count);
            if *who > 0 {
                sale = sale.by(&format!("c{who}"));
            }
            rec.add(&sale);
            sales.push(sale);
        }
        let mut s = Selection::default();
        for &(o, i) in &picks {
            let o = o % n;
            if s.get(o).is_some() {
                continue;
            }
            if let Some(v) = engine.model.vars[o].value(i % engine.model.vars[o].size) {
                if matches!(v, Value::Int(_)) && domains.size(o).is_none() {
                    continue; // a text length: not a value a customer chooses
                }
                s.choices.push((o, v));
            }
        }
        let prop = engine.propagate(&s).unwrap();
        let who = format!("c{customer}");
        let recs = rec.recommend(&engine, &s, &prop, (customer > 0).then_some(who.as_str()));
        prop_assert_eq!(recs.options.len(), n);
        for (o, r) in recs.options.iter().enumerate() {
            let Some(r) = r else { continue };
            prop_assert_eq!(r.option, o);
            prop_assert!(prop.options[o].available.contains(&r.index), "{:?} not available", r);
            prop_assert!(s.get(o).is_none());
            prop_assert!((0.0..=1.0).contains(&r.confidence));
            prop_assert_eq!(r.ranked.first(), Some(&r.index));
            let mut ranked = r.ranked.clone();
            ranked.sort_unstable();
            prop_assert_eq!(&ranked, &prop.options[o].available);
        }
        let full = rec.recommended_completion(&engine, &s, &recs).unwrap();
        prop_assert_eq!(full.is_some(), engine.complete(&s).unwrap().is_some());
        if let Some(full) = full {
            prop_assert!(engine.validate(&to_selection(&engine, &full)).valid);
            for (o, v) in &s.choices {
                prop_assert_eq!(engine.model.vars[*o].index_of(v), Some(full[*o]));
            }
        }
        for p in rec.popular(&engine, 3).unwrap() {
            prop_assert!(engine.validate(&to_selection(&engine, &p.completion)).valid);
        }
        // Forgetting every customer leaves only the anonymous sales: the same answers as a
        // recommender that never saw the customers' (up to rounding in near ties).
        rec.remove_customer("c1");
        rec.remove_customer("c2");
        let mut fresh = Recommender::new(&engine.product);
        for s in &sales {
            if s.customer.is_none() {
                fresh.add(s);
            }
        }
        prop_assert_eq!(rec.sales(), fresh.sales());
        let a = rec.recommend(&engine, &s, &prop, None);
        let b = fresh.recommend(&engine, &s, &prop, None);
        for (x, y) in a.options.iter().zip(&b.options) {
            match (x, y) {
                (Some(x), Some(y)) => {
                    let same = (x.confidence - y.confidence).abs() < 1e-9;
                    prop_assert!(same, "{:?} {:?}", x, y);
                    // A near tie (two or more values with the same share, up to rounding)
                    // may break another way: then both picks hold the same share, asserted
                    // above, and each is among the other's ranked values.
                    let tie = x.ranked.contains(&y.index) && y.ranked.contains(&x.index);
                    prop_assert!(x.index == y.index || tie, "{:?} {:?}", x, y);
                }
                (None, None) => {}
                _ => prop_assert!(false, "{:?} {:?}", x, y),
            }
        }
    }

    /// `available_values` answers what `propagate` does for every option.
    #[test]
    fn available_values_agree_with_propagate(
        seed in any::<u64>(),
        picks in proptest::collection::vec((0usize..8, 0usize..6), 0..4),
    ) {
        let g = bespoke::rules::generate::random_small(seed);
        let loaded = catalog::load(&g.files());
        let Some(product) = loaded.catalog.and_then(|c| c.products().first().cloned()) else {
            return Ok(());
        };
        let engine = Engine::new(product);
        let n = engine.model.vars.len();
        let mut s = Selection::default();
        for &(o, i) in &picks {
            let o = o % n;
            if s.get(o).is_none()
                && let Some(v) = engine.model.vars[o].value(i % engine.model.vars[o].size)
            {
                s.choices.push((o, v));
            }
        }
        let fresh = Engine::new(engine.product.clone());
        let prop = fresh.propagate(&s).unwrap();
        for o in 0..n {
            let a = engine.available_values(&s, o).unwrap();
            if s.get(o).is_none() {
                prop_assert_eq!(&a, &prop.options[o].available, "option {}", o);
            } else if prop.consistent {
                prop_assert_eq!(a.len(), 1);
            } else {
                prop_assert!(a.is_empty());
            }
        }
    }
}

/// The number of cases: `PROPTEST_CASES` when set (for long local runs), else the default.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Scale (run in release: `cargo test --release --test recommend -- --ignored --nocapture`):
/// a 270-option generated car model, 10,000 sales of 87 options each (drawn around 200
/// prototypes, so that rows repeat and correlate as real sales do, most of them distinct):
/// the time to learn them one by one, and to recommend every open option.
#[test]
#[ignore]
fn scale_learning_and_recommending() {
    use bespoke::rules::{OptionAvailability, Propagation};
    use std::time::Instant;
    let g = bespoke::rules::generate::car_model(7, 270, 330);
    let product = catalog::load(&g.files()).catalog.unwrap().products()[0].clone();
    let engine = Engine::new(product);
    let domains = Domains::of(&engine.product);
    let learned: Vec<usize> = (0..engine.model.vars.len())
        .filter(|&o| domains.size(o).is_some())
        .collect();
    let mut state = 0x5EEDu64;
    let mut next = move |n: usize| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    };
    let sold: Vec<usize> = learned.iter().copied().step_by(3).take(87).collect();
    let prototypes: Vec<Vec<usize>> = (0..200)
        .map(|_| {
            sold.iter()
                .map(|&o| next(domains.size(o).unwrap()))
                .collect()
        })
        .collect();
    let sales: Vec<Sale> = (0..10_000)
        .map(|k| {
            let p = &prototypes[next(prototypes.len())];
            let values = sold
                .iter()
                .zip(p)
                .map(|(&o, &i)| {
                    (
                        o,
                        if next(10) == 0 {
                            next(domains.size(o).unwrap())
                        } else {
                            i
                        },
                    )
                })
                .collect();
            let s = Sale::new(values);
            if k % 10 == 0 {
                s.by(&format!("c{}", k % 300))
            } else {
                s
            }
        })
        .collect();
    let t = Instant::now();
    let mut rec = Recommender::new(&engine.product);
    for s in &sales {
        rec.add(s);
    }
    let learn = t.elapsed();
    println!("learned 10,000 sales of 87 options one by one in {learn:?}");
    assert!(learn.as_secs_f64() < 5.0);
    // Recommend every open option with every value available (the most work: no option is
    // forced), after 0 to 87 choices.
    let mut times = Vec::new();
    for k in 0..200 {
        let sale = &sales[next(sales.len())];
        let h = k * 87 / 200;
        let s = Selection {
            choices: sale.values[..h]
                .iter()
                .filter_map(|&(o, i)| Some((o, domains.value(o, i)?)))
                .collect(),
        };
        let prop = Propagation {
            consistent: true,
            conflict: None,
            options: engine
                .model
                .vars
                .iter()
                .enumerate()
                .map(|(o, var)| OptionAvailability {
                    option: o,
                    selected: s.get(o).cloned(),
                    available: (0..var.size).collect(),
                    unavailable: Vec::new(),
                    deferred: Vec::new(),
                })
                .collect(),
        };
        let customer = format!("c{}", k % 300);
        let t = Instant::now();
        let recs = rec.recommend(&engine, &s, &prop, Some(&customer));
        times.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(recs.options.iter().flatten().count() > 150);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "recommend every open option (270 options, {} distinct rows): p50 {:.0} us, p99 {:.0} us",
        rec.sales(),
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
}

/// `bespoke recommend eval` as a process: the figures, the curve file, problems with line
/// numbers on stderr, and JSON.
#[test]
fn the_eval_command_prints_the_figures_and_writes_the_curve() {
    let dir = std::env::temp_dir().join(format!("bespoke-recommend-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::fixture_files(SHIRT).write_to(&dir).unwrap();
    let mut csv = String::from("size color fabric\n");
    for k in 0..30 {
        let fabric = ["cotton", "polyester"][k % 2];
        let color = if k % 2 == 1 {
            "black"
        } else {
            ["white", "red"][k % 4 / 2]
        };
        csv.push_str(&format!("{} {color} {fabric}\n", ["m", "l", "m"][k % 3]));
    }
    csv.push_str("m purple cotton\n");
    let history = dir.join("sales.txt");
    std::fs::write(&history, csv).unwrap();
    let curve = dir.join("curve.csv");
    let args = [
        "recommend",
        "eval",
        "shirt",
        history.to_str().unwrap(),
        "--catalog",
        dir.to_str().unwrap(),
        "--folds",
        "3",
        "--serving-samples",
        "5",
        "--out",
        curve.to_str().unwrap(),
    ];
    let (code, out, err) = common::bespoke(&args);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("sales.txt:32: `purple` is not a value of `color`"),
        "{err}"
    );
    for line in [
        "most popular available",
        "naive Bayes (available)",
        "relevance (decay 4)",
        "ceiling (reads the test sale)",
        "configure on the warm engine",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let curve = std::fs::read_to_string(&curve).unwrap();
    assert!(
        curve.starts_with("step,steps,\"relevance (decay 4)\""),
        "{curve}"
    );
    assert_eq!(curve.lines().count(), 4, "a header and 3 steps: {curve}");
    let (code, out, _) = common::bespoke(
        &[
            &args[..4],
            &[
                "--catalog",
                dir.to_str().unwrap(),
                "--folds",
                "3",
                "--json",
                "--no-tune",
                "--no-ceiling",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["methods"].as_array().unwrap().len(), 3);
    assert_eq!(doc["sales"], 31);
    let _ = std::fs::remove_dir_all(&dir);
}
