//! Generated benchmark models and imported DIMACS/XCSP models load cleanly; imports keep the number of solutions (brute force on both sides).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bespoke::catalog::expr::Val;
use bespoke::catalog::{self, ConstraintForm, OptionDef, OptionKind, Product};
use bespoke::rules::generate::{self, Generated, Rng, Witness};
use bespoke::rules::import;
use proptest::prelude::*;

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
        OptionKind::Text(_) | OptionKind::Upload(_) => Val::Int(text.chars().count() as i64),
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
            c.holds(&|o| vals[o]),
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
            assert!(
                p.constraints.len() > tables + 1,
                "implications and arithmetic"
            );
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
        eprintln!("fm {options}/{clauses}: rules {} B", g.rules_yaml.len());
    }
}

#[test]
fn odd_sizes_and_extreme_parameters_load() {
    for options in [0, 1, 2, 5, 9, 13, 40] {
        for tables in [0, 1, 7, 30] {
            for (tightness_permille, planted) in [(0, 1), (850, 3), (1000, 5)] {
                let params = generate::CarParams {
                    tightness_permille,
                    planted,
                    ..generate::CarParams::default()
                };
                let g = generate::car_model_with(options as u64, options, tables, &params);
                let p = load(&g);
                assert_eq!(p.options.len(), options.max(1));
                if options >= 5 {
                    assert_eq!(count_tables(&p), tables);
                }
                assert_eq!(g.witnesses.len(), planted);
                for w in &g.witnesses {
                    check_witness(&p, w);
                }
            }
        }
        for clauses in [0, 1, 3, 50] {
            let g = generate::feature_model(7, options, clauses);
            let p = load(&g);
            assert_eq!(p.constraints.len(), clauses);
            check_witness(&p, &g.witnesses[0]);
        }
    }
}

#[test]
fn random_small_models_load() {
    let mut all = String::new();
    for seed in 0..300 {
        let g = generate::random_small(seed);
        let p = load(&g);
        assert!((1..=8).contains(&p.options.len()));
        assert!(
            p.options
                .iter()
                .all(|o| domain_of(o).iter().flatten().count() <= 5)
        );
        all.push_str(&g.product_yaml);
        all.push_str(&g.rules_yaml);
    }
    // Every feature the property tests need shows up.
    for needle in [
        "type: choice",
        "type: boolean",
        "type: integer",
        "type: text",
        "required: false",
        "allow:",
        "forbid:\n",
        "\"*\"",
        "if:",
        "forbid: ",
        " or ",
        " + ",
        " <= ",
        "len(",
        "is_set(",
        " in [",
    ] {
        assert!(all.contains(needle), "no {needle:?} in 300 random models");
    }
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(
        generate::car_model(9, 100, 113),
        generate::car_model(9, 100, 113)
    );
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

// ---------------------------------------------------------------------------------------------
// Brute force over a loaded product
// ---------------------------------------------------------------------------------------------

/// Every value an evaluator can see for an option, `None` for an optional option left unset.
fn domain_of(o: &OptionDef) -> Vec<Option<Val>> {
    let mut out = Vec::new();
    match &o.kind {
        OptionKind::Choice(c) => out.extend((0..c.values.len()).map(|i| Some(Val::Choice(i)))),
        OptionKind::Boolean { .. } => return vec![Some(Val::Bool(false)), Some(Val::Bool(true))],
        OptionKind::Integer(r) | OptionKind::Quantity(r) => {
            let mut v = r.min;
            while v <= r.max {
                out.push(Some(Val::Int(v)));
                v += r.step;
            }
        }
        OptionKind::Text(t) => {
            // Text is always seen through its length; an optional text may be empty.
            if !o.required && t.min_len > 0 {
                out.push(Some(Val::Int(0)));
            }
            let lo = if o.required {
                t.min_len.max(1)
            } else {
                t.min_len
            };
            out.extend((lo..=t.max_len).map(|l| Some(Val::Int(i64::from(l)))));
            return out;
        }
        // An upload is seen by presence: given (an id is 64 characters) or unset.
        OptionKind::Upload(_) => out.push(Some(Val::Int(64))),
    }
    if !o.required {
        out.push(None);
    }
    out
}

/// The number of full configurations of the product that satisfy every constraint.
fn count_configs(p: &Product) -> u64 {
    let domains: Vec<Vec<Option<Val>>> = p.options.iter().map(domain_of).collect();
    let space: u64 = domains.iter().map(|d| d.len() as u64).product();
    assert!(
        space <= 2_000_000,
        "{}: space {space} too large to brute-force",
        p.id
    );
    if domains.iter().any(Vec::is_empty) {
        return 0;
    }
    let mut idx = vec![0usize; domains.len()];
    let mut count = 0;
    loop {
        let vals: Vec<Option<Val>> = idx.iter().zip(&domains).map(|(&i, d)| d[i]).collect();
        if p.constraints.iter().all(|c| c.holds(&|o| vals[o])) {
            count += 1;
        }
        let mut k = 0;
        loop {
            if k == idx.len() {
                return count;
            }
            idx[k] += 1;
            if idx[k] < domains[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

fn option_ids(p: &Product) -> Vec<&str> {
    p.options.iter().map(|o| o.id.as_str()).collect()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/import")
            .join(name),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// DIMACS: random instances, brute-forced on both sides
// ---------------------------------------------------------------------------------------------

/// Names that exercise the mapping rule: valid, invalid, keywords, collisions, non-ASCII.
const NAMES: [&str; 14] = [
    "x", "X", "Q-1", "q_1", "2b", "in", "a.b", "Größe", "v_2b", "x_2", "A", "a", "x1", "true",
];

fn cnf_models(vars: usize, clauses: &[Vec<i64>]) -> u64 {
    (0u64..1 << vars)
        .filter(|bits| {
            clauses.iter().all(|c| {
                c.iter().any(|&l| {
                    let on = bits >> (l.unsigned_abs() - 1) & 1 == 1;
                    if l > 0 { on } else { !on }
                })
            })
        })
        .count() as u64
}

/// A small random CNF file (≤ 10 variables) with names, odd layout and lenient details.
fn random_cnf(seed: u64) -> (String, usize, Vec<Vec<i64>>) {
    let mut rng = Rng::new(seed);
    let vars = rng.between(1, 10);
    let n = rng.between(0, 12);
    let clauses: Vec<Vec<i64>> = (0..n)
        .map(|_| {
            let len = if rng.chance(10) { 0 } else { rng.between(1, 4) };
            (0..len)
                .map(|_| {
                    let v = rng.between(1, vars) as i64;
                    if rng.chance(500) { v } else { -v }
                })
                .collect()
        })
        .collect();
    let mut text = String::from("c random instance\n");
    for v in 1..=vars {
        if rng.chance(400) {
            text.push_str(&format!("c {v} {}\n", NAMES[rng.below(NAMES.len())]));
        }
    }
    if rng.chance(100) {
        text.push_str(&format!("c {} beyond\n", vars + 3));
    }
    let declared = if rng.chance(100) { n + 1 } else { n };
    text.push_str(&format!("p cnf {vars} {declared}\n"));
    let omit_last_zero = clauses.last().is_some_and(|c| !c.is_empty()) && rng.chance(100);
    for (i, c) in clauses.iter().enumerate() {
        for l in c {
            text.push_str(&l.to_string());
            text.push_str(if rng.chance(150) { "\n" } else { " " });
        }
        if !(omit_last_zero && i + 1 == clauses.len()) {
            text.push_str(if rng.chance(300) { "0 " } else { "0\n" });
        }
    }
    (text, vars, clauses)
}

#[test]
fn dimacs_round_trips_keep_the_model_count() {
    let (mut counts, mut renamed) = (Vec::new(), 0);
    for seed in 0..250 {
        let (text, vars, clauses) = random_cnf(seed);
        let imported =
            import::import_dimacs(&text, "cnf").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let p = load(&imported.model);
        assert_eq!(p.options.len(), vars);
        assert_eq!(p.constraints.len(), clauses.len());
        let n = cnf_models(vars, &clauses);
        counts.push(n);
        renamed += usize::from(!imported.renamed.is_empty());
        assert_eq!(
            count_configs(&p),
            n,
            "seed {seed}:\n{text}\n{}",
            imported.model.rules_yaml
        );
        // And the engine's exact counter agrees with the source's brute force.
        let engine = bespoke::rules::Engine::new(p.clone());
        assert_eq!(
            engine.count(&bespoke::rules::Selection::default()).unwrap(),
            num_bigint::BigUint::from(n),
            "seed {seed}"
        );
    }
    let zero = counts.iter().filter(|&&c| c == 0).count();
    let many = counts.iter().filter(|&&c| c > 1).count();
    eprintln!("dimacs: {zero} unsat, {many} with >1 model, {renamed} renamed");
    assert!(zero >= 10 && many >= 100 && renamed >= 100);
}

/// A test-side DIMACS reader, for the fixtures.
fn parse_cnf(text: &str) -> (usize, Vec<Vec<i64>>) {
    let mut vars = 0;
    let mut clauses = Vec::new();
    let mut cur = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('c') || line.is_empty() {
            continue;
        }
        if line.starts_with('%') {
            break;
        }
        if let Some(h) = line.strip_prefix("p cnf") {
            vars = h.split_whitespace().next().unwrap().parse().unwrap();
            continue;
        }
        for t in line.split_whitespace() {
            let l: i64 = t.parse().unwrap();
            if l == 0 {
                clauses.push(std::mem::take(&mut cur));
            } else {
                cur.push(l);
            }
        }
    }
    if !cur.is_empty() {
        clauses.push(cur);
    }
    (vars, clauses)
}

#[test]
fn dimacs_fixtures_import_with_their_names() {
    let text = fixture("features.cnf");
    let imported = import::import_dimacs(&text, "features").unwrap();
    let p = load(&imported.model);
    assert_eq!(
        option_ids(&p),
        [
            "root",
            "engine_type",
            "diesel",
            "petrol",
            "v_in",
            "x3",
            "x8",
            "x8_2"
        ]
    );
    assert_eq!(p.options[1].label, "Engine Type");
    let (vars, clauses) = parse_cnf(&text);
    assert_eq!(clauses.len(), 9);
    assert_eq!(count_configs(&p), cnf_models(vars, &clauses));
    let renames: Vec<(&str, &str)> = imported
        .renamed
        .iter()
        .map(|r| (r.source.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(
        renames,
        [
            ("Root", "root"),
            ("Engine Type", "engine_type"),
            ("Diesel", "diesel"),
            ("Petrol", "petrol"),
            ("in", "v_in"),
            ("x8", "x8_2"),
        ]
    );
    assert!(
        imported
            .report()
            .contains("variable 2 \"Engine Type\" → engine_type")
    );

    let text = fixture("satlib.cnf");
    let imported = import::import_dimacs(&text, "satlib").unwrap();
    let p = load(&imported.model);
    let (vars, clauses) = parse_cnf(&text);
    assert_eq!(p.constraints.len(), 3);
    assert_eq!(count_configs(&p), cnf_models(vars, &clauses));
    assert!(
        imported.notes.iter().any(|n| n.contains('%')),
        "{:?}",
        imported.notes
    );
}

#[test]
fn long_clauses_become_forbid_tables() {
    // 40 literals: too long for one expression; the table forbids the one falsifying row.
    let lits: Vec<i64> = (1..=40).map(|v| if v % 3 == 0 { -v } else { v }).collect();
    let mut text = String::from("p cnf 41 2\n");
    for l in &lits {
        text.push_str(&format!("{l} "));
    }
    text.push_str("0\n41 -41 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 0\n");
    let imported = import::import_dimacs(&text, "long").unwrap();
    let p = load(&imported.model);
    assert!(matches!(p.constraints[0].form, ConstraintForm::Table(_)));
    assert!(
        matches!(p.constraints[1].form, ConstraintForm::Require(_)),
        "a tautology stays short"
    );
    let mut rng = Rng::new(1);
    for trial in 0..200 {
        let bits: Vec<bool> = (0..41)
            .map(|v| {
                if trial == 0 {
                    // The falsifying assignment.
                    lits.get(v).is_some_and(|&l| l < 0)
                } else {
                    rng.chance(if trial < 100 { 50 } else { 500 })
                }
            })
            .collect();
        let expect = lits
            .iter()
            .any(|&l| bits[l.unsigned_abs() as usize - 1] == (l > 0));
        let got = p.constraints[0].holds(&|o| Some(Val::Bool(bits[o])));
        assert_eq!(got, expect, "trial {trial}");
        assert!(p.constraints[1].holds(&|o| Some(Val::Bool(bits[o]))));
    }
    assert!(imported.notes.iter().any(|n| n.contains("forbid tables")));
}

// ---------------------------------------------------------------------------------------------
// XCSP: random instances, brute-forced on both sides
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Xcsp {
    domains: Vec<Vec<i64>>,
    vars: Vec<(String, usize)>,
    /// (arity, supports, tuples)
    rels: Vec<(usize, bool, Vec<Vec<i64>>)>,
    /// (scope, relation)
    cons: Vec<(Vec<usize>, usize)>,
}

impl Xcsp {
    fn random(seed: u64) -> Xcsp {
        let mut rng = Rng::new(seed ^ 0x0A5C);
        let domains: Vec<Vec<i64>> = (0..rng.between(1, 3))
            .map(|_| {
                let base = rng.between(0, 6) as i64 - 3;
                let k = rng.between(1, 4);
                let mut vs: Vec<i64> = rng
                    .sample(7, k)
                    .into_iter()
                    .map(|x| base + x as i64)
                    .collect();
                vs.sort_unstable();
                vs
            })
            .collect();
        let mut vars = Vec::new();
        let mut space = 1usize;
        let k = rng.between(1, 8);
        for i in rng.sample(NAMES.len(), k) {
            let d = rng.below(domains.len());
            if space * domains[d].len() > 20_000 {
                break;
            }
            space *= domains[d].len();
            vars.push((NAMES[i].to_owned(), d));
        }
        let rels: Vec<(usize, bool, Vec<Vec<i64>>)> = (0..rng.between(1, 3))
            .map(|_| {
                let arity = rng.between(1, 3);
                let tuples = (0..rng.between(0, 8))
                    .map(|_| {
                        (0..arity)
                            .map(|_| {
                                if rng.chance(800) {
                                    let d = &domains[rng.below(domains.len())];
                                    d[rng.below(d.len())]
                                } else {
                                    rng.between(0, 9) as i64 - 4
                                }
                            })
                            .collect()
                    })
                    .collect();
                (arity, rng.chance(500), tuples)
            })
            .collect();
        let cons = (0..rng.between(0, 6))
            .map(|_| {
                let r = rng.below(rels.len());
                let arity = rels[r].0;
                let scope = if arity <= vars.len() && !rng.chance(150) {
                    rng.sample(vars.len(), arity)
                } else {
                    (0..arity).map(|_| rng.below(vars.len())).collect()
                };
                (scope, r)
            })
            .collect();
        Xcsp {
            domains,
            vars,
            rels,
            cons,
        }
    }

    fn to_xml(&self, rng: &mut Rng) -> String {
        let mut x = String::from(
            "<?xml version=\"1.0\"?>\n<instance>\n  <presentation name=\"random\" format=\"XCSP 2.1\"/>\n",
        );
        x.push_str(&format!(
            "  <domains nbDomains=\"{}\">\n",
            self.domains.len()
        ));
        for (i, d) in self.domains.iter().enumerate() {
            // Runs written as ranges (sometimes), values in any order.
            let mut toks = Vec::new();
            let mut j = 0;
            while j < d.len() {
                let mut k = j;
                while k + 1 < d.len() && d[k + 1] == d[k] + 1 {
                    k += 1;
                }
                if k > j && rng.chance(700) {
                    toks.push(format!("{}..{}", d[j], d[k]));
                } else {
                    toks.extend(d[j..=k].iter().map(i64::to_string));
                }
                j = k + 1;
            }
            rng.shuffle(&mut toks);
            x.push_str(&format!(
                "    <domain name=\"D{i}\" nbValues=\"{}\">{}</domain>\n",
                d.len(),
                toks.join(" ")
            ));
        }
        x.push_str(&format!(
            "  </domains>\n  <variables nbVariables=\"{}\">\n",
            self.vars.len()
        ));
        for (name, d) in &self.vars {
            x.push_str(&format!(
                "    <variable name=\"{name}\" domain=\"D{d}\"/>\n"
            ));
        }
        x.push_str(&format!(
            "  </variables>\n  <relations nbRelations=\"{}\">\n",
            self.rels.len()
        ));
        for (i, (arity, supports, tuples)) in self.rels.iter().enumerate() {
            let ts: Vec<String> = tuples
                .iter()
                .map(|t| t.iter().map(i64::to_string).collect::<Vec<_>>().join(" "))
                .collect();
            x.push_str(&format!(
                "    <relation name=\"R{i}\" arity=\"{arity}\" nbTuples=\"{}\" semantics=\"{}\">{}</relation>\n",
                tuples.len(),
                if *supports { "supports" } else { "conflicts" },
                ts.join("|")
            ));
        }
        x.push_str(&format!(
            "  </relations>\n  <constraints nbConstraints=\"{}\">\n",
            self.cons.len()
        ));
        for (i, (scope, r)) in self.cons.iter().enumerate() {
            let names: Vec<&str> = scope.iter().map(|&v| self.vars[v].0.as_str()).collect();
            x.push_str(&format!(
                "    <constraint name=\"C{i}\" arity=\"{}\" scope=\"{}\" reference=\"R{r}\"/>\n",
                scope.len(),
                names.join(" ")
            ));
        }
        x.push_str("  </constraints>\n</instance>\n");
        x
    }

    /// Solutions by brute force over the source semantics.
    fn count(&self) -> u64 {
        let doms: Vec<&Vec<i64>> = self.vars.iter().map(|(_, d)| &self.domains[*d]).collect();
        let mut idx = vec![0usize; doms.len()];
        let mut count = 0;
        loop {
            let ok = self.cons.iter().all(|(scope, r)| {
                let t: Vec<i64> = scope.iter().map(|&v| doms[v][idx[v]]).collect();
                let (_, supports, tuples) = &self.rels[*r];
                tuples.contains(&t) == *supports
            });
            if ok {
                count += 1;
            }
            let mut k = 0;
            loop {
                if k == idx.len() {
                    return count;
                }
                idx[k] += 1;
                if idx[k] < doms[k].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }
}

#[test]
fn xcsp_round_trips_keep_the_solution_count() {
    let mut rng = Rng::new(99);
    let (mut counts, mut dropped, mut repeated, mut renamed) = (Vec::new(), 0, 0, 0);
    for seed in 0..250 {
        let inst = Xcsp::random(seed);
        let xml = inst.to_xml(&mut rng);
        let imported = import::import_xcsp(&xml, "csp").unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let p = load(&imported.model);
        assert_eq!(p.options.len(), inst.vars.len());
        assert_eq!(p.constraints.len(), inst.cons.len());
        let n = inst.count();
        counts.push(n);
        dropped += usize::from(imported.report().contains("outside"));
        repeated += usize::from(
            inst.cons
                .iter()
                .any(|(s, _)| (1..s.len()).any(|i| s[..i].contains(&s[i]))),
        );
        renamed += usize::from(!imported.renamed.is_empty());
        assert_eq!(
            count_configs(&p),
            n,
            "seed {seed}:\n{xml}\n{}",
            imported.model.rules_yaml
        );
        let engine = bespoke::rules::Engine::new(p.clone());
        assert_eq!(
            engine.count(&bespoke::rules::Selection::default()).unwrap(),
            num_bigint::BigUint::from(n),
            "seed {seed}"
        );
    }
    // The instances cover what they should: unsatisfiable, loose and tight ones, dropped
    // tuples, repeated scope variables, renamed names.
    let zero = counts.iter().filter(|&&c| c == 0).count();
    let many = counts.iter().filter(|&&c| c > 1).count();
    eprintln!(
        "xcsp: {zero} unsat, {many} with >1 solution, {dropped} dropped, {repeated} repeated, {renamed} renamed"
    );
    assert!(zero >= 10 && many >= 100 && dropped >= 10 && repeated >= 5 && renamed >= 100);
}

#[test]
fn xcsp_fixtures_import() {
    let imported = import::import_xcsp(&fixture("queens4.xml"), "queens").unwrap();
    let p = load(&imported.model);
    assert_eq!(option_ids(&p), ["q_1", "q_2", "q_3", "q4"]);
    assert_eq!(p.name, "4-queens");
    assert_eq!(count_configs(&p), 2);
    assert!(
        p.constraints
            .iter()
            .all(|c| matches!(&c.form, ConstraintForm::Table(t) if !t.allow))
    );

    let imported = import::import_xcsp(&fixture("gaps.xml"), "gaps").unwrap();
    let p = load(&imported.model);
    assert_eq!(option_ids(&p), ["a", "b", "c"]);
    let OptionKind::Choice(c) = &p.options[0].kind else {
        panic!()
    };
    let values: Vec<&str> = c.values.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(values, ["_2", "_1", "0", "5"]);
    assert_eq!(count_configs(&p), 2);
    let report = imported.report();
    assert!(report.contains("1 tuples hold a value outside"), "{report}");
    assert!(report.contains("predicates are declared"), "{report}");
    assert!(report.contains("variable \"A\" → a"), "{report}");
    assert!(
        report.contains("value of domain D0 \"-2\" → _2"),
        "{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

#[test]
fn option_names_map_by_the_documented_rule() {
    let long = "a".repeat(70);
    let names = [
        "engine",
        "Engine Type",
        "2door",
        "in",
        "a.b",
        "a_b",
        "x",
        "x",
        "Größe",
        "",
        "_hidden",
        long.as_str(),
        long.as_str(),
        "null",
    ];
    let ids = import::map_option_names(&names);
    let mut cut = "a".repeat(62);
    cut.push_str("_2");
    assert_eq!(
        ids,
        [
            "engine",
            "engine_type",
            "v_2door",
            "v_in",
            "a_b_2", // `a_b` is valid and kept by the later name
            "a_b",
            "x",
            "x_2",
            "gr__e",
            "v_",
            "v__hidden",
            &"a".repeat(64),
            &cut,
            "null",
        ]
    );
    assert!(ids.iter().all(|id| import::is_option_id(id)));
}

#[test]
fn value_names_map_by_the_documented_rule() {
    let names = [
        "-3",
        "3",
        "XL",
        "and",
        "10.5",
        "",
        "black matte",
        "-",
        "black_matte",
        "2xl",
    ];
    assert_eq!(
        import::map_value_names(&names),
        [
            "_3",
            "3",
            "XL",
            "v_and",
            "10_5",
            "v",
            "black_matte_2",
            "_",
            "black_matte",
            "2xl"
        ]
    );
    assert!(!import::is_value_id("true") && import::is_value_id("_3"));
}

#[test]
fn odd_names_survive_the_yaml_round_trip() {
    // Names YAML would read as something else (null, a number, a boolean) stay themselves.
    let text = "c 1 null\nc 2 007\nc 3 True\nc 4 on\np cnf 4 1\n1 2 3 4 0\n";
    let imported = import::import_dimacs(text, "odd").unwrap();
    let p = load(&imported.model);
    assert_eq!(option_ids(&p), ["null", "v_007", "v_true", "on"]);
    assert_eq!(count_configs(&p), 15);
}

// ---------------------------------------------------------------------------------------------
// Malformed input: errors, never panics
// ---------------------------------------------------------------------------------------------

/// Which error a malformed input must give.
type Expect = fn(&import::ImportError) -> bool;

#[test]
fn malformed_dimacs_is_an_error() {
    use import::ImportError as E;
    let cases: &[(&str, Expect)] = &[
        ("", |e| matches!(e, E::Syntax { .. })),
        ("c only a comment\n", |e| matches!(e, E::Syntax { .. })),
        ("p cnf 2 1\n1 3 0\n", |e| {
            matches!(e, E::Syntax { line: 2, .. })
        }),
        ("p cnf x 1\n", |e| matches!(e, E::Syntax { .. })),
        ("p cnf 2\n", |e| matches!(e, E::Syntax { .. })),
        ("p dnf 2 1\n", |e| matches!(e, E::Unsupported(_))),
        ("1 2 0\np cnf 2 1\n", |e| {
            matches!(e, E::Syntax { line: 1, .. })
        }),
        ("p cnf 2 1\np cnf 2 1\n", |e| matches!(e, E::Syntax { .. })),
        ("p cnf 2 1\n1 a 0\n", |e| matches!(e, E::Syntax { .. })),
        ("p cnf 2 1\n1 99999999999999999999 0\n", |e| {
            matches!(e, E::Syntax { .. })
        }),
        ("p cnf 0 0\n", |e| matches!(e, E::Invalid(_))),
        ("p cnf 200000 1\n1 0\n", |e| matches!(e, E::TooLarge(_))),
        ("p cnf 2 200000\n1 0\n", |e| matches!(e, E::TooLarge(_))),
        ("p cnf 60000 1\n1 0\n", |e| matches!(e, E::Output(_))),
    ];
    for (text, ok) in cases {
        let e = import::import_dimacs(text, "bad").unwrap_err();
        assert!(ok(&e), "{text:?} gave {e:?}");
        assert!(!e.to_string().is_empty());
    }
    assert!(matches!(
        import::import_dimacs("p cnf 1 1\n1 0\n", "Bad_Id"),
        Err(E::ProductId(_))
    ));
    let huge = format!("p cnf 1 1\n{}", "c padding\n".repeat(2 * 1024 * 1024));
    assert!(matches!(
        import::import_dimacs(&huge, "big"),
        Err(E::TooLarge(_))
    ));
}

fn xcsp(body: &str) -> String {
    format!("<instance>{body}</instance>")
}

const XVARS: &str = r#"<domains><domain name="D" nbValues="2">0 1</domain></domains>
<variables><variable name="x" domain="D"/><variable name="y" domain="D"/></variables>"#;

#[test]
fn malformed_xcsp_is_an_error() {
    use import::ImportError as E;
    let rel = r#"<relations><relation name="R" arity="2" nbTuples="1" semantics="supports">0 1</relation></relations>"#;
    let cases: Vec<(String, Expect)> = vec![
        ("not xml <".into(), |e| matches!(e, E::Xml(_))),
        ("<foo/>".into(), |e| matches!(e, E::Invalid(_))),
        (r#"<instance format="XCSP3"/>"#.into(), |e| {
            matches!(e, E::Unsupported(_))
        }),
        (
            "<!DOCTYPE instance [<!ENTITY a \"b\">]><instance/>".into(),
            |e| matches!(e, E::Xml(_)),
        ),
        (xcsp(""), |e| matches!(e, E::Invalid(_))),
        (
            xcsp(&format!(
                "{XVARS}{rel}<predicates><predicate name=\"P\"/></predicates><constraints><constraint name=\"C\" arity=\"2\" scope=\"x y\" reference=\"P\"/></constraints>"
            )),
            |e| matches!(e, E::Unsupported(m) if m.contains("predicate")),
        ),
        (
            xcsp(&format!(
                "{XVARS}<constraints><constraint name=\"C\" arity=\"2\" scope=\"x y\" reference=\"global:allDifferent\"/></constraints>"
            )),
            |e| matches!(e, E::Unsupported(m) if m.contains("global")),
        ),
        (
            xcsp(&format!(
                "{XVARS}<relations><relation name=\"R\" arity=\"2\" semantics=\"soft\" defaultCost=\"1\">0 1</relation></relations>"
            )),
            |e| matches!(e, E::Unsupported(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}{rel}<constraints><constraint name=\"C\" scope=\"x z\" reference=\"R\"/></constraints>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}{rel}<constraints><constraint name=\"C\" scope=\"x\" reference=\"R\"/></constraints>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}{rel}<constraints><constraint name=\"C\" arity=\"3\" scope=\"x y\" reference=\"R\"/></constraints>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}{rel}<constraints><constraint name=\"C\" scope=\"x y\" reference=\"Q\"/></constraints>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}{rel}<constraints><constraint name=\"C\" scope=\"\" reference=\"R\"/></constraints>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}<relations><relation name=\"R\" arity=\"2\" semantics=\"supports\">0 1|1</relation></relations>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}<relations><relation name=\"R\" arity=\"0\" semantics=\"supports\"></relation></relations>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}<relations><relation name=\"R\" arity=\"2\" semantics=\"supports\">0 x</relation></relations>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(&format!(
                "{XVARS}<relations><relation name=\"R\" arity=\"2\">0 1</relation></relations>"
            )),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp("<domains><domain name=\"D\">0..1000000</domain></domains>"),
            |e| matches!(e, E::TooLarge(_)),
        ),
        (
            xcsp(
                "<domains><domain name=\"D\">-9223372036854775808..9223372036854775807</domain></domains>",
            ),
            |e| matches!(e, E::TooLarge(_)),
        ),
        (
            xcsp("<domains><domain name=\"D\">3..1</domain></domains>"),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp("<domains><domain name=\"D\">1.5</domain></domains>"),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(
                "<domains><domain name=\"D\"></domain></domains><variables><variable name=\"x\" domain=\"D\"/></variables>",
            ),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(
                "<domains><domain name=\"D\">0</domain></domains><variables><variable name=\"x\" domain=\"E\"/></variables>",
            ),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(
                "<domains><domain name=\"D\">0</domain></domains><variables><variable name=\"x\" domain=\"D\"/><variable name=\"x\" domain=\"D\"/></variables>",
            ),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp("<domains><domain name=\"D\">0</domain><bogus/></domains>"),
            |e| matches!(e, E::Invalid(_)),
        ),
        (
            xcsp(
                &("<domains><domain name=\"D\">0..60</domain></domains><variables>".to_owned()
                    + &(0..20_000)
                        .map(|i| format!("<variable name=\"x{i}\" domain=\"D\"/>"))
                        .collect::<String>()
                    + "</variables>"),
            ),
            |e| matches!(e, E::TooLarge(_)),
        ),
        (
            xcsp(
                &("<domains><domain name=\"D\">0..9</domain></domains><variables>".to_owned()
                    + &(0..40_000)
                        .map(|i| format!("<variable name=\"x{i}\" domain=\"D\"/>"))
                        .collect::<String>()
                    + "</variables>"),
            ),
            |e| matches!(e, E::Output(_)),
        ),
    ];
    for (text, ok) in &cases {
        let e = import::import_xcsp(text, "bad").unwrap_err();
        assert!(ok(&e), "{} gave {e:?}", &text[..text.len().min(300)]);
    }
}

/// Imports must never panic; whenever one succeeds, the catalog loads without diagnostics.
fn import_never_panics(text: &str) {
    if let Ok(i) = import::import_dimacs(text, "fuzz") {
        load(&i.model);
    }
    if let Ok(i) = import::import_xcsp(text, "fuzz") {
        load(&i.model);
    }
}

fn mutate(text: &str, ops: &[(prop::sample::Index, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (at, kind, c) in ops {
        if chars.is_empty() {
            chars.push(*c);
            continue;
        }
        let i = at.index(chars.len());
        match kind {
            0 => chars.insert(i, *c),
            1 => {
                chars.remove(i);
            }
            2 => chars[i] = *c,
            _ => {
                // Duplicate a slice: repeated clauses, tuples, elements.
                let end = (i + 40).min(chars.len());
                let dup: Vec<char> = chars[i..end].to_vec();
                chars.splice(i..i, dup);
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        import_never_panics(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn dimacs_like_text_never_panics(text in "[cp0-9 \\-\n%$a-z]{0,200}") {
        import_never_panics(&format!("p cnf 6 3\n{text}"));
        import_never_panics(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..4,
        ops in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, prop_oneof![any::<char>(), "[0-9 |.\\-<>/\"=a-z]".prop_map(|s| s.chars().next().unwrap_or('0'))]), 1..8),
    ) {
        let name = ["queens4.xml", "gaps.xml", "features.cnf", "satlib.cnf"][which];
        import_never_panics(&mutate(&fixture(name), &ops));
    }
}

#[test]
fn large_imports_spread_their_rules_over_several_files() {
    let mut text = String::from("p cnf 3 30000\n");
    for i in 0..30_000 {
        text.push_str(["1 2 0\n", "-1 3 0\n", "2 -3 1 0\n"][i % 3]);
    }
    let imported = import::import_dimacs(&text, "many").unwrap();
    assert!(!imported.model.extra_rules_yaml.is_empty());
    let p = load(&imported.model);
    assert_eq!(p.constraints.len(), 30_000);
    assert_eq!(
        count_configs(&p),
        cnf_models(3, &[vec![1, 2], vec![-1, 3], vec![2, -3, 1]])
    );
}

/// An imported table over `CSV_TABLE_ROWS` rows is written to its own CSV file under rules/
/// (a spreadsheet edits it; the loader reads it as a table): same configurations as the
/// source relation, including negative values.
#[test]
fn large_imported_tables_are_written_as_csv_files() {
    let mut tuples = Vec::new();
    for a in -15..15i64 {
        for b in 0..30i64 {
            if (a * 7 + b * 3).rem_euclid(4) == 0 {
                tuples.push(format!("{a} {b}"));
            }
        }
    }
    let xml = format!(
        r#"<instance>
  <presentation name="big table" format="XCSP 2.1"/>
  <domains nbDomains="2"><domain name="DA" nbValues="30">-15..14</domain><domain name="DB" nbValues="30">0..29</domain></domains>
  <variables nbVariables="2"><variable name="x" domain="DA"/><variable name="y" domain="DB"/></variables>
  <relations nbRelations="1"><relation name="R" arity="2" nbTuples="{n}" semantics="supports">{t}</relation></relations>
  <constraints nbConstraints="1"><constraint name="C" arity="2" scope="x y" reference="R"/></constraints>
</instance>"#,
        n = tuples.len(),
        t = tuples.join("|")
    );
    assert!(tuples.len() > bespoke::rules::generate::CSV_TABLE_ROWS);
    let imported = import::import_xcsp(&xml, "big").unwrap();
    let files = &imported.model.table_files;
    assert_eq!(
        files.len(),
        1,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(files[0].0.starts_with("rules/big/") && files[0].0.ends_with(".csv"));
    assert_eq!(
        files[0].1.lines().count(),
        tuples.len() + 1,
        "header + rows"
    );
    assert!(
        imported.model.rules_yaml.contains(&files[0].0),
        "the rule names its file:\n{}",
        imported.model.rules_yaml
    );
    let p = load(&imported.model);
    assert_eq!(count_configs(&p), tuples.len() as u64);
}
