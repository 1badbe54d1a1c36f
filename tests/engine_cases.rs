//! Data-driven tests pinning the sample catalog's rule behaviour (tests/fixtures/engine/*.yaml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use bespoke::catalog;
use bespoke::rules::{Engine, Selection};
use common::engine::{desk_with, same_answers};
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

/// `Engine::warm` (what the service runs at each catalog load): it goes through the empty
/// selection and every value of every choice and boolean option (one of each class of values
/// the rules treat alike, see `Classes`), stops when told to, and
/// changes no availability (a warmed engine finds the same available and unavailable values as
/// a fresh one for single- and two-choice selections; which of several minimal explanations
/// it reports may differ, as it may after any earlier call, and each names only chosen options).
#[test]
fn warm_up_covers_single_choices_and_changes_no_answer() {
    use bespoke::rules::Warmth;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let catalog = catalog::load_dir(&root).unwrap().catalog.unwrap();
    for p in catalog.products() {
        let warm = Engine::new(p.clone());
        let done = warm.warm(Warmth::Choices, &|| false);
        assert!(done.complete, "{}", p.id);
        let empty = Engine::new(p.clone())
            .propagate(&Selection::default())
            .unwrap();
        let listed: usize = empty
            .options
            .iter()
            .filter(|o| {
                matches!(
                    p.options[o.option].kind,
                    bespoke::catalog::OptionKind::Choice(_)
                        | bespoke::catalog::OptionKind::Boolean { .. }
                )
            })
            .map(|o| {
                o.available
                    .iter()
                    .filter(|&&i| warm.model.vars[o.option].value(i).is_some())
                    .filter(|&&i| warm.classes.is_rep(o.option, i))
                    .count()
            })
            .sum();
        assert!(done.selections > listed, "{}: {done:?}", p.id);
        // Stopped before it starts, and after a few selections.
        let stopped = Engine::new(p.clone()).warm(Warmth::Choices, &|| true);
        assert_eq!((stopped.selections, stopped.complete), (0, false));
        let n = std::sync::atomic::AtomicUsize::new(0);
        let partial = Engine::new(p.clone()).warm(Warmth::Choices, &|| {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 > 3
        });
        assert_eq!((partial.selections, partial.complete), (3, false));
        let only_empty = Engine::new(p.clone()).warm(Warmth::Empty, &|| false);
        assert_eq!((only_empty.selections, only_empty.complete), (1, true));
        // Same answers as a fresh engine, on one- and two-choice selections.
        for (o, oa) in empty.options.iter().enumerate() {
            for &i in oa.available.iter().take(3) {
                let Some(v) = warm.model.vars[o].value(i) else {
                    continue;
                };
                let mut sel = Selection {
                    choices: vec![(o, v)],
                };
                for _ in 0..2 {
                    let fresh = same_answers(&warm, &sel);
                    // Extend with the first available value of the next open option.
                    let next = fresh.options.iter().find(|x| {
                        x.selected.is_none()
                            && x.available
                                .first()
                                .is_some_and(|&j| warm.model.vars[x.option].value(j).is_some())
                    });
                    let Some(x) = next else { break };
                    let j = x.available[0];
                    if let Some(v) = warm.model.vars[x.option].value(j) {
                        sel.choices.push((x.option, v));
                    }
                }
            }
        }
    }
}

/// `Engine::warm` at `Pairs` (the service's default): after every single choice it goes through
/// every pair of choices of two options that can go together, and changes no answer: on
/// selections of two and three choices a pair-warmed engine finds the same available and
/// unavailable values as a fresh one, and each explanation names only chosen options.
#[test]
fn pair_warm_up_covers_pairs_and_changes_no_answer() {
    use bespoke::rules::Warmth;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let catalog = catalog::load_dir(&root).unwrap().catalog.unwrap();
    for p in catalog.products() {
        let singles = Engine::new(p.clone()).warm(Warmth::Choices, &|| false);
        let warm = Engine::new(p.clone());
        let done = warm.warm(Warmth::Pairs, &|| false);
        assert!(done.complete, "{}", p.id);
        // Every compatible pair: at least one per pair of options with a value each.
        assert!(
            done.selections > singles.selections + 1,
            "{}: {done:?}",
            p.id
        );
        let n = std::sync::atomic::AtomicUsize::new(0);
        let stopped = Engine::new(p.clone()).warm(Warmth::Pairs, &|| {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 > singles.selections + 2
        });
        assert_eq!(
            (stopped.selections, stopped.complete),
            (singles.selections + 2, false),
            "{}: stopped among the pairs",
            p.id
        );
        for sel in bespoke::rules::generate::click_paths(&warm, 3, 6, 4)
            .into_iter()
            .filter(|s| (2..=3).contains(&s.choices.len()))
        {
            same_answers(&warm, &sel);
        }
    }
}

/// `Engine::inherit`: an engine of a product whose options and rules compile to the same model
/// (here a rule's message changed) takes over what an earlier engine learned, and its warm-up
/// resumes where that one stopped: a stopped pair warm-up goes on with the pairs it had not
/// reached, a finished one has nothing left. A changed rule compiles to another model: nothing
/// is inherited. Answers stay those of a fresh engine.
#[test]
fn an_engine_inherits_what_an_equal_model_learned() {
    use bespoke::rules::Warmth;
    let same = ("That finish is not offered", "That finish is not made");
    let changed = ("then: width_cm <= 180", "then: width_cm <= 170");
    let desk = desk_with(("", ""));
    let full = Engine::new(desk.clone()).warm(Warmth::Pairs, &|| false);
    let singles = Engine::new(desk.clone()).warm(Warmth::Choices, &|| false);
    let pairs = full.selections - singles.selections;
    assert!(pairs > 20, "{full:?} {singles:?}");
    // Stopped after the single choices and 10 pairs.
    let first = Engine::new(desk.clone());
    let n = std::sync::atomic::AtomicUsize::new(0);
    let stopped = first.warm(Warmth::Pairs, &|| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 > singles.selections + 10
    });
    assert!(!stopped.complete);
    let mut second = Engine::new(desk_with(same));
    assert!(!second.shares_learning_with(&first));
    assert!(second.inherit(&first));
    assert!(second.shares_learning_with(&first));
    let resumed = second.warm(Warmth::Pairs, &|| false);
    assert!(resumed.complete);
    assert_eq!(
        resumed.selections,
        singles.selections + pairs - 10,
        "the empty selection and the single choices again, then the pairs not done"
    );
    let mut third = Engine::new(desk_with(same));
    assert!(third.inherit(&second));
    assert_eq!(third.warm(Warmth::Pairs, &|| false).selections, 0);
    assert!(third.warm(Warmth::Choices, &|| false).complete);
    for sel in bespoke::rules::generate::click_paths(&third, 5, 6, 4) {
        same_answers(&third, &sel);
    }
    let mut other = Engine::new(desk_with(changed));
    assert!(!other.inherit(&third));
    assert!(!other.shares_learning_with(&third));
    assert!(other.warm(Warmth::Choices, &|| false).selections > 1);
}

/// `Engine::warm_on` with several threads does what one thread does: the same selections, to
/// completion, with the same answers afterwards; stopped part-way, the pairs' progress it leaves
/// is a prefix that an inheriting engine completes.
#[test]
fn a_warm_up_on_threads_does_what_one_thread_does() {
    use bespoke::rules::Warmth;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let desk = desk_with(("", ""));
    let one = Engine::new(desk.clone()).warm(Warmth::Pairs, &|| false);
    let singles = Engine::new(desk.clone()).warm(Warmth::Choices, &|| false);
    let three = Engine::new(desk.clone());
    let done = three.warm_on(Warmth::Pairs, 3, &|| false);
    assert_eq!(done, one);
    for sel in bespoke::rules::generate::click_paths(&three, 9, 6, 4) {
        same_answers(&three, &sel);
    }
    // Stopped among the pairs (each thread asks before each selection).
    let first = Engine::new(desk.clone());
    let n = AtomicUsize::new(0);
    let stopped = first.warm_on(Warmth::Pairs, 2, &|| {
        n.fetch_add(1, Ordering::Relaxed) + 1 > singles.selections + 30
    });
    assert!(!stopped.complete);
    assert!(stopped.selections > singles.selections, "{stopped:?}");
    let mut second = Engine::new(desk.clone());
    assert!(second.inherit(&first));
    let resumed = second.warm_on(Warmth::Pairs, 2, &|| false);
    assert!(resumed.complete);
    // The single choices again, then at least the pairs the first did not do (and those done
    // past a gap, again).
    let pairs = one.selections - singles.selections;
    let first_pairs = stopped.selections - singles.selections;
    assert!(resumed.selections >= singles.selections + pairs - first_pairs);
    assert!(resumed.selections <= one.selections, "{resumed:?}");
}

/// Values the rules treat alike (`Classes`): a text whose rules only ask whether it is set has
/// two classes (empty, and every length), an integer has one class per stretch between the
/// thresholds its rules compare it with, choice values no rule tells apart form one class, and
/// an option no rule reads has one. The warm-up takes one value of each class, and an engine so
/// warmed answers as a fresh one for values of every class.
#[test]
fn values_the_rules_treat_alike_are_warmed_once() {
    let text = r#"=== catalog/p.yaml
id: p
name: P
currency: EUR
base_price: "1.00"
rules: [rules/p.yaml]
options:
  mat: { type: boolean }
  caption: { type: text, max_length: 20 }
  width: { type: integer, min: 20, max: 120, step: 5, required: true }
  color: { type: choice, values: [red, blue, green, black], required: true }
  quantity: { type: quantity, min: 1, max: 50 }
=== rules/p.yaml
constraints:
  - id: caption-on-mat
    message: A caption is printed on the mat.
    if: is_set(caption)
    then: mat
  - id: wide-mat
    message: A mat needs 30 cm.
    if: mat
    then: width >= 30
  - id: dark
    message: Black is not made that wide.
    forbid: color == black and width > 100
"#;
    let r = catalog::load(&common::fixture_files(text));
    assert!(!r.has_errors(), "{}", r.render());
    let p = r.catalog.unwrap().products()[0].clone();
    let e = Engine::new(p.clone());
    let var = |id: &str| p.options.iter().position(|o| o.id == id).unwrap();
    let counts: Vec<(&str, usize)> = ["mat", "caption", "width", "color", "quantity"]
        .into_iter()
        .map(|id| (id, e.classes.count(var(id))))
        .collect();
    assert_eq!(
        counts,
        [
            ("mat", 2),
            ("caption", 2),
            ("width", 3),
            ("color", 2),
            ("quantity", 1)
        ]
    );
    let (w, c) = (var("width"), var("color"));
    // 20 and 25 cm; 30 to 100; 105 to 120.
    assert_eq!(e.classes.rep((w, 1)), (w, 0));
    assert_eq!(e.classes.rep((w, 16)), (w, 2));
    assert_eq!(e.classes.rep((w, 20)), (w, 17));
    assert_eq!(e.classes.rep((c, 2)), (c, 0));
    assert_eq!(e.classes.rep((c, 3)), (c, 3));
    // The empty selection, then one value of each class.
    let warmed = e.warm(bespoke::rules::Warmth::Choices, &|| false);
    assert_eq!(
        (warmed.selections, warmed.complete),
        (1 + 2 + 2 + 3 + 2 + 1, true)
    );
    assert!(e.warm(bespoke::rules::Warmth::Pairs, &|| false).complete);
    for choices in [
        vec![("caption", "a caption")],
        vec![("caption", "x")],
        vec![("width", "25")],
        vec![("color", "green"), ("caption", "twelve chars")],
        vec![("width", "115"), ("mat", "true")],
        vec![("quantity", "7"), ("caption", "hi"), ("color", "blue")],
    ] {
        let pairs: Vec<(String, String)> = choices
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let sel = Selection::parse(&p, &pairs).unwrap();
        same_answers(&e, &sel);
    }
}

/// A variant table far over what an expression's normal form takes (4,096 rows) stays a
/// table: compiled to compressed rows as they are, filtered exactly (what is available after a
/// choice is what the rows say) and counted exactly.
#[test]
fn a_large_variant_table_stays_a_table() {
    use bespoke::rules::model::ConKind;
    use std::collections::BTreeSet;
    const VALUES: usize = 30;
    let mut rows: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while rows.len() < 6_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = |k: u32| usize::try_from((x >> (k * 16)) % VALUES as u64).unwrap();
        rows.insert((v(0), v(1), v(2)));
    }
    let values: Vec<String> = (0..VALUES).map(|i| format!("v{i}")).collect();
    let mut text = format!(
        "=== catalog/big.yaml\nid: big\nname: Big\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/big.yaml]\noptions:\n  a: {{ type: choice, values: [{0}] }}\n  b: {{ type: choice, values: [{0}] }}\n  c: {{ type: choice, values: [{0}] }}\n=== rules/big.yaml\nconstraints:\n  - id: variants\n    message: Not a sold variant.\n    table: [c, a, b]\n    allow:\n",
        values.join(", ")
    );
    for (a, b, c) in &rows {
        text.push_str(&format!("      - [v{c}, v{a}, v{b}]\n"));
    }
    let loaded = catalog::load(&common::fixture_files(&text));
    assert!(!loaded.has_errors(), "{}", loaded.render());
    let product = loaded.catalog.unwrap().products()[0].clone();
    let engine = Engine::new(product);
    match &engine.model.cons[0].kind {
        ConKind::Table(t) => assert_eq!(t.nrows, rows.len()),
        other => panic!("compiled as {other:?}"),
    }
    assert_eq!(
        engine.count(&Selection::default()).unwrap(),
        num_bigint::BigUint::from(rows.len())
    );
    for a in [0, 7, 29] {
        let sel = Selection::parse(&engine.product, &[("a".to_owned(), format!("v{a}"))]).unwrap();
        let b_opt = engine.product.option("b").unwrap().0;
        let got: BTreeSet<usize> = engine
            .available_values(&sel, b_opt)
            .unwrap()
            .into_iter()
            .collect();
        let want: BTreeSet<usize> = rows.iter().filter(|r| r.0 == a).map(|r| r.1).collect();
        assert_eq!(got, want, "b after a = v{a}");
    }
}
