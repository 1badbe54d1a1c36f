//! Generated benchmark models and imported DIMACS/XCSP models load cleanly; imports keep the number of solutions (brute force on both sides).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bespoke::catalog::expr::Val;
use bespoke::catalog::{self, ConstraintForm, OptionKind, Product};
use bespoke::rules::generate::{self, Generated, Witness};

/// Loads a generated model and returns its product; fails on any diagnostic.
fn load(g: &Generated) -> Arc<Product> {
    let r = catalog::load(&g.files());
    assert!(
        r.diagnostics.is_empty(),
        "{}: {} diagnostics:\n{}",
        g.product_id,
        r.diagnostics.len(),
        r.render()
    );
    let cat = r.catalog.expect("a catalog");
    cat.product(&g.product_id).expect("the product").clone()
}

/// The value an evaluator sees for option `o` set to `text` (as written in rules).
fn val_of(p: &Product, o: usize, text: &str) -> Val {
    match &p.options[o].kind {
        OptionKind::Choice(c) => Val::Choice(c.index_of(text).expect("a value")),
        OptionKind::Boolean { .. } => Val::Bool(text == "true"),
        OptionKind::Integer(_) | OptionKind::Quantity(_) => Val::Int(text.parse().unwrap()),
        OptionKind::Text(_) => Val::Int(text.chars().count() as i64),
    }
}

/// Every constraint holds for the witness.
fn check_witness(p: &Product, w: &Witness) {
    let vals: Vec<Option<Val>> = (0..p.options.len())
        .map(|o| match w.get(&p.options[o].id) {
            Some(t) => Some(val_of(p, o, t)),
            None => {
                assert!(!p.options[o].required, "{} unset", p.options[o].id);
                None
            }
        })
        .collect();
    for c in &p.constraints {
        assert!(
            c.expr.eval(&|o| vals[o]),
            "{}: the witness violates {}",
            p.id,
            c.id
        );
    }
}

fn count_tables(p: &Product) -> usize {
    p.constraints
        .iter()
        .filter(|c| matches!(c.form, ConstraintForm::Table(_)))
        .count()
}

#[test]
fn car_models_load_at_benchmark_sizes() {
    for (options, tables) in [(100, 113), (270, 330)] {
        for seed in [1, 2] {
            let g = generate::car_model(seed, options, tables);
            assert!(g.extra_rules_yaml.is_empty());
            let p = load(&g);
            assert_eq!(p.options.len(), options);
            assert_eq!(count_tables(&p), tables);
            assert!(p.constraints.len() > tables + 1, "implications and arithmetic");
            assert_eq!(g.witnesses.len(), 3);
            for w in &g.witnesses {
                check_witness(&p, w);
            }
            eprintln!(
                "car {options}/{tables} seed {seed}: product {} B, rules {} B",
                g.product_yaml.len(),
                g.rules_yaml.len()
            );
        }
    }
}

#[test]
fn feature_models_load_at_benchmark_sizes() {
    for (options, clauses) in [(2500, 10_000), (300, 1000), (10, 5)] {
        let g = generate::feature_model(3, options, clauses);
        assert!(g.extra_rules_yaml.is_empty());
        let p = load(&g);
        assert_eq!(p.options.len(), options);
        assert_eq!(p.constraints.len(), clauses);
        assert!(
            p.constraints
                .iter()
                .all(|c| matches!(c.form, ConstraintForm::Require(_)))
        );
        check_witness(&p, &g.witnesses[0]);
        eprintln!(
            "fm {options}/{clauses}: rules {} B",
            g.rules_yaml.len()
        );
    }
}

#[test]
fn random_small_models_load() {
    for seed in 0..300 {
        let g = generate::random_small(seed);
        let p = load(&g);
        assert!((1..=8).contains(&p.options.len()));
    }
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generate::car_model(9, 100, 113), generate::car_model(9, 100, 113));
    assert_ne!(
        generate::car_model(9, 100, 113).rules_yaml,
        generate::car_model(10, 100, 113).rules_yaml
    );
    assert_eq!(
        generate::feature_model(9, 500, 2000),
        generate::feature_model(9, 500, 2000)
    );
    for seed in 0..20 {
        assert_eq!(generate::random_small(seed), generate::random_small(seed));
    }
}

#[test]
fn zz_dump() {
    if let Ok(dir) = std::env::var("DUMP") {
        for g in [generate::car_model(1, 100, 113), generate::feature_model(1, 30, 60), generate::random_small(5), generate::random_small(6)] {
            let files = g.files();
            for p in files.paths() {
                let path = std::path::Path::new(&dir).join(p);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, files.get(p).unwrap()).unwrap();
            }
        }
    }
}
