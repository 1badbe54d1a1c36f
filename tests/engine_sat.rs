//! Property tests of the SAT back end on small random Boolean models: propagate, explanations and analysis checked against brute-force enumeration and against the finite-domain path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use bespoke::catalog::{self, Product, Value};
use bespoke::rules::{Engine, Selection};
use proptest::prelude::*;

/// One random rule over boolean options `o0..o{n-1}`.
#[derive(Debug, Clone)]
enum RuleSpec {
    /// `require: 'l1 or l2 or ...'`
    Clause(Vec<(usize, bool)>),
    /// `if: 'a' then: 'b'` (literals)
    Implies((usize, bool), (usize, bool)),
    /// `forbid: 'l1 and l2'`
    Forbid(Vec<(usize, bool)>),
    /// A table over up to 4 options: allow (true) or forbid rows; a cell is false, true or any.
    Table(Vec<usize>, bool, Vec<Vec<u8>>),
    /// Exactly one of the options.
    ExactlyOne(Vec<usize>),
    /// `require: 'a == b'` style equivalence, or `a != b`.
    Same(usize, usize, bool),
}

fn lit_text((o, pos): (usize, bool)) -> String {
    if pos {
        format!("o{o}")
    } else {
        format!("not o{o}")
    }
}

fn rule_text(r: &RuleSpec, n: usize, id: usize) -> Option<String> {
    let fix = |o: usize| o % n;
    let body = match r {
        RuleSpec::Clause(ls) => {
            let ls: Vec<String> = ls.iter().map(|&(o, p)| lit_text((fix(o), p))).collect();
            format!("require: '{}'", ls.join(" or "))
        }
        RuleSpec::Implies(a, b) => format!(
            "if: '{}'\n    then: '{}'",
            lit_text((fix(a.0), a.1)),
            lit_text((fix(b.0), b.1))
        ),
        RuleSpec::Forbid(ls) => {
            let ls: Vec<String> = ls.iter().map(|&(o, p)| lit_text((fix(o), p))).collect();
            format!("forbid: '{}'", ls.join(" and "))
        }
        RuleSpec::Table(cols, allow, rows) => {
            let mut cols: Vec<usize> = cols.iter().map(|&o| fix(o)).collect();
            cols.sort_unstable();
            cols.dedup();
            if cols.len() < 2 {
                return None;
            }
            let rows: Vec<String> = rows
                .iter()
                .map(|r| {
                    let cells: Vec<&str> = (0..cols.len())
                        .map(|j| match r[j % r.len()] % 3 {
                            0 => "false",
                            1 => "true",
                            _ => "\"*\"",
                        })
                        .collect();
                    format!("[{}]", cells.join(", "))
                })
                .collect();
            let names: Vec<String> = cols.iter().map(|o| format!("o{o}")).collect();
            format!(
                "table: [{}]\n    {}: [{}]",
                names.join(", "),
                if *allow { "allow" } else { "forbid" },
                rows.join(", ")
            )
        }
        RuleSpec::ExactlyOne(os) => {
            let mut os: Vec<usize> = os.iter().map(|&o| fix(o)).collect();
            os.sort_unstable();
            os.dedup();
            if os.len() < 2 {
                return None;
            }
            let any: Vec<String> = os.iter().map(|o| format!("o{o}")).collect();
            let mut parts = vec![format!("({})", any.join(" or "))];
            for (i, a) in os.iter().enumerate() {
                for b in &os[i + 1..] {
                    parts.push(format!("not (o{a} and o{b})"));
                }
            }
            format!("require: '{}'", parts.join(" and "))
        }
        RuleSpec::Same(a, b, same) => {
            let (a, b) = (fix(*a), fix(*b));
            if a == b {
                return None;
            }
            if *same {
                format!("require: '(o{a} and o{b}) or (not o{a} and not o{b})'")
            } else {
                format!("require: '(o{a} and not o{b}) or (not o{a} and o{b})'")
            }
        }
    };
    Some(format!(
        "  - id: r{id}\n    message: rule {id}\n    {body}\n"
    ))
}

fn lit_s() -> impl Strategy<Value = (usize, bool)> {
    (0usize..8, any::<bool>())
}

fn rule_s() -> impl Strategy<Value = RuleSpec> {
    prop_oneof![
        3 => proptest::collection::vec(lit_s(), 1..4).prop_map(RuleSpec::Clause),
        3 => (lit_s(), lit_s()).prop_map(|(a, b)| RuleSpec::Implies(a, b)),
        2 => proptest::collection::vec(lit_s(), 2..4).prop_map(RuleSpec::Forbid),
        2 => (
            proptest::collection::vec(0usize..8, 2..5),
            any::<bool>(),
            proptest::collection::vec(proptest::collection::vec(0u8..3, 4), 1..4)
        )
            .prop_map(|(c, a, r)| RuleSpec::Table(c, a, r)),
        1 => proptest::collection::vec(0usize..8, 2..5).prop_map(RuleSpec::ExactlyOne),
        1 => (0usize..8, 0usize..8, any::<bool>()).prop_map(|(a, b, s)| RuleSpec::Same(a, b, s)),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    n: usize,
    rules: Vec<RuleSpec>,
    defaults: Vec<Option<bool>>,
}

fn spec_s() -> impl Strategy<Value = Spec> {
    (
        2usize..=8,
        proptest::collection::vec(rule_s(), 0..10),
        proptest::collection::vec(proptest::option::of(any::<bool>()), 8),
    )
        .prop_map(|(n, rules, defaults)| Spec { n, rules, defaults })
}

fn load(spec: &Spec) -> Arc<Product> {
    let mut p = String::from(
        "=== catalog/m.yaml\nid: m\nname: M\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/m.yaml]\noptions:\n",
    );
    for o in 0..spec.n {
        let d = spec.defaults[o]
            .map(|b| format!(", default: {b}"))
            .unwrap_or_default();
        p.push_str(&format!("  o{o}: {{ type: boolean{d} }}\n"));
    }
    p.push_str("=== rules/m.yaml\nconstraints:\n");
    let rules: Vec<String> = spec
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| rule_text(r, spec.n, i))
        .collect();
    if rules.is_empty() {
        p.push_str("  []\n");
    }
    for r in &rules {
        p.push_str(r);
    }
    let r = catalog::load(&common::fixture_files(&p));
    assert!(!r.has_errors(), "{}\n{}", p, r.render());
    r.catalog.unwrap().products()[0].clone()
}

/// Every assignment (bit o = option o) satisfying the rules in `rules` (all when `None`).
fn solutions(p: &Product, rules: Option<&BTreeSet<usize>>) -> Vec<u32> {
    let n = p.options.len();
    (0..1u32 << n)
        .filter(|&a| {
            p.constraints
                .iter()
                .enumerate()
                .filter(|(r, _)| rules.is_none_or(|s| s.contains(r)))
                .all(|(_, c)| {
                    c.holds(&|o| Some(bespoke::catalog::expr::Val::Bool(a & (1 << o) != 0)))
                })
        })
        .collect()
}

fn agrees(a: u32, choices: &[(usize, bool)]) -> bool {
    choices.iter().all(|&(o, b)| (a & (1 << o) != 0) == b)
}

fn selection(choices: &[(usize, bool)]) -> Selection {
    Selection {
        choices: choices.iter().map(|&(o, b)| (o, Value::Bool(b))).collect(),
    }
}

fn choices_of(n: usize, picks: &[(usize, bool)]) -> Vec<(usize, bool)> {
    let mut out: Vec<(usize, bool)> = Vec::new();
    for &(o, b) in picks {
        let o = o % n;
        if !out.iter().any(|(x, _)| *x == o) {
            out.push((o, b));
        }
    }
    out
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), .. ProptestConfig::default() })]

    #[test]
    fn sat_propagate_agrees_with_brute_force(spec in spec_s(), picks in proptest::collection::vec((0usize..8, any::<bool>()), 0..5)) {
        let p = load(&spec);
        let engine = Engine::new(p.clone());
        prop_assert!(engine.uses_sat(), "a Boolean model uses the SAT back end");
        let all = solutions(&p, None);
        let chosen = choices_of(p.options.len(), &picks);
        // A click path: every prefix, so caches carry over between calls.
        for k in 0..=chosen.len() {
            let ch = &chosen[..k];
            let prop = engine.propagate(&selection(ch)).unwrap();
            prop_assert_eq!(prop.consistent, all.iter().any(|&a| agrees(a, ch)), "consistency");
            if let Some(e) = &prop.conflict {
                // A conflict is sufficient and minimal.
                let rules: BTreeSet<usize> = e.rules.iter().copied().collect();
                let cc: Vec<(usize, bool)> = ch.iter().copied().filter(|(o, _)| e.choices.contains(o)).collect();
                prop_assert!(!solutions(&p, Some(&rules)).iter().any(|&a| agrees(a, &cc)));
                for r in &rules {
                    let mut fewer = rules.clone();
                    fewer.remove(r);
                    prop_assert!(solutions(&p, Some(&fewer)).iter().any(|&a| agrees(a, &cc)), "conflict rule {} not needed", r);
                }
            }
            for oa in &prop.options {
                let o = oa.option;
                let base: Vec<(usize, bool)> = if oa.selected.is_some() {
                    ch.iter().copied().filter(|(x, _)| *x != o).collect()
                } else {
                    ch.to_vec()
                };
                let expected: BTreeSet<usize> = all.iter().filter(|&&a| agrees(a, &base)).map(|&a| usize::from(a & (1 << o) != 0)).collect();
                let got: BTreeSet<usize> = oa.available.iter().copied().collect();
                prop_assert_eq!(&got, &expected, "available values of o{}", o);
                for (i, e) in &oa.unavailable {
                    let target = (o, *i == 1);
                    let rules: BTreeSet<usize> = e.rules.iter().copied().collect();
                    let ch2: Vec<(usize, bool)> = base.iter().copied().filter(|(x, _)| e.choices.contains(x)).collect();
                    prop_assert_eq!(ch2.len(), e.choices.len(), "explanation names only chosen options");
                    let feasible = |rules: &BTreeSet<usize>, c: &[(usize, bool)]| {
                        let mut c = c.to_vec();
                        c.push(target);
                        solutions(&p, Some(rules)).iter().any(|&a| agrees(a, &c))
                    };
                    prop_assert!(!feasible(&rules, &ch2), "explanation {:?} does not exclude o{}={}", e, o, i);
                    for r in &rules {
                        let mut fewer = rules.clone();
                        fewer.remove(r);
                        prop_assert!(feasible(&fewer, &ch2), "rule {} is not needed in {:?}", r, e);
                    }
                    for k in 0..ch2.len() {
                        let mut fewer = ch2.clone();
                        fewer.remove(k);
                        prop_assert!(feasible(&rules, &fewer), "choice {:?} is not needed in {:?}", ch2[k], e);
                    }
                }
            }
        }
        // The same answers without the SAT back end (availability; explanations may differ).
        let fd = Engine::new(p.clone()).without_sat();
        prop_assert!(!fd.uses_sat());
        let a = engine.propagate(&selection(&chosen)).unwrap();
        let b = fd.propagate(&selection(&chosen)).unwrap();
        prop_assert_eq!(a.consistent, b.consistent);
        for (x, y) in a.options.iter().zip(&b.options) {
            prop_assert_eq!(&x.available, &y.available);
            let xi: Vec<usize> = x.unavailable.iter().map(|u| u.0).collect();
            let yi: Vec<usize> = y.unavailable.iter().map(|u| u.0).collect();
            prop_assert_eq!(xi, yi);
        }
    }

    #[test]
    fn sat_analysis_agrees_with_brute_force_and_fd(spec in spec_s()) {
        let p = load(&spec);
        let engine = Engine::new(p.clone());
        prop_assert!(engine.uses_sat());
        let fd = Engine::new(p.clone()).without_sat();
        let all = solutions(&p, None);
        let a = engine.analyze().unwrap();
        let b = fd.analyze().unwrap();
        prop_assert!(a.incomplete.is_empty(), "{:?}", a.incomplete);
        prop_assert_eq!(a.impossible.is_some(), all.is_empty());
        prop_assert_eq!(b.impossible.is_some(), all.is_empty());
        if let Some(e) = &a.impossible {
            let rules: BTreeSet<usize> = e.rules.iter().copied().collect();
            prop_assert!(solutions(&p, Some(&rules)).is_empty());
            for r in &rules {
                let mut fewer = rules.clone();
                fewer.remove(r);
                prop_assert!(!solutions(&p, Some(&fewer)).is_empty());
            }
            return Ok(());
        }
        // Dead and forced values, against brute force and the FD path.
        let n = p.options.len();
        let mut dead_bf = Vec::new();
        let mut forced_bf = Vec::new();
        for o in 0..n {
            let seen: BTreeSet<usize> = all.iter().map(|&x| usize::from(x & (1 << o) != 0)).collect();
            for i in 0..2 {
                if !seen.contains(&i) {
                    dead_bf.push((o, i));
                }
            }
            if seen.len() == 1 {
                forced_bf.push((o, *seen.iter().next().unwrap()));
            }
        }
        let dead: Vec<(usize, usize)> = a.dead.iter().map(|(o, i, _)| (*o, *i)).collect();
        let dead_fd: Vec<(usize, usize)> = b.dead.iter().map(|(o, i, _)| (*o, *i)).collect();
        prop_assert_eq!(&dead, &dead_bf, "dead");
        prop_assert_eq!(&dead_fd, &dead_bf, "dead (FD)");
        prop_assert_eq!(&a.forced, &forced_bf, "forced");
        prop_assert_eq!(&b.forced, &forced_bf, "forced (FD)");
        // Each dead value's explanation is sufficient and minimal (rules only).
        for (o, i, e) in &a.dead {
            prop_assert!(e.choices.is_empty());
            let rules: BTreeSet<usize> = e.rules.iter().copied().collect();
            let has = |rules: &BTreeSet<usize>| solutions(&p, Some(rules)).iter().any(|&x| usize::from(x & (1 << o) != 0) == *i);
            prop_assert!(!has(&rules), "dead explanation {:?} does not exclude o{}={}", e, o, i);
            for r in &rules {
                let mut fewer = rules.clone();
                fewer.remove(r);
                prop_assert!(has(&fewer), "rule {} not needed for o{}={}", r, o, i);
            }
        }
        // Redundant rules, in the engine's order, and the same as the FD path.
        let mut found: Vec<usize> = Vec::new();
        for r in 0..p.constraints.len() {
            let others: BTreeSet<usize> = (0..p.constraints.len()).filter(|&x| x != r && !found.contains(&x)).collect();
            let mine: BTreeSet<usize> = [r].into();
            let ok_r = solutions(&p, Some(&mine));
            if solutions(&p, Some(&others)).iter().all(|x| ok_r.contains(x)) {
                found.push(r);
            }
        }
        prop_assert_eq!(&a.redundant, &found, "redundant rules");
        prop_assert_eq!(&b.redundant, &found, "redundant rules (FD)");
        prop_assert_eq!(a.count.clone(), Some(num_bigint::BigUint::from(all.len())));
        prop_assert_eq!(a.conflicting_defaults.is_some(), b.conflicting_defaults.is_some());
    }

    #[test]
    fn sat_work_limit_is_an_error_never_a_wrong_answer(spec in spec_s(), limit in 0u64..400, picks in proptest::collection::vec((0usize..8, any::<bool>()), 0..4)) {
        let p = load(&spec);
        let engine = Engine::new(p.clone()).with_work_limit(limit);
        let all = solutions(&p, None);
        let chosen = choices_of(p.options.len(), &picks);
        if let Ok(prop) = engine.propagate(&selection(&chosen)) {
            prop_assert_eq!(prop.consistent, all.iter().any(|&a| agrees(a, &chosen)));
            for oa in &prop.options {
                let o = oa.option;
                let base: Vec<(usize, bool)> = if oa.selected.is_some() {
                    chosen.iter().copied().filter(|(x, _)| *x != o).collect()
                } else {
                    chosen.clone()
                };
                let expected: BTreeSet<usize> = all.iter().filter(|&&a| agrees(a, &base)).map(|&a| usize::from(a & (1 << o) != 0)).collect();
                let got: BTreeSet<usize> = oa.available.iter().copied().collect();
                prop_assert_eq!(&got, &expected);
            }
        }
        if let Ok(a) = engine.analyze() {
            // Whatever is reported is true; what stopped is listed as incomplete.
            if a.impossible.is_some() {
                prop_assert!(all.is_empty());
            }
            for (o, i, _) in &a.dead {
                prop_assert!(!all.iter().any(|&x| usize::from(x & (1 << o) != 0) == *i));
            }
            for (o, i) in &a.forced {
                prop_assert!(all.iter().all(|&x| usize::from(x & (1 << o) != 0) == *i));
            }
            if let Some(c) = &a.count {
                prop_assert_eq!(c, &num_bigint::BigUint::from(all.len()));
            }
            let full = Engine::new(p.clone()).analyze().unwrap();
            prop_assert!(full.redundant.starts_with(&a.redundant), "redundant {:?} vs {:?}", a.redundant, full.redundant);
            if a.incomplete.is_empty() {
                // Explanations may differ (any minimal one will do); the findings may not.
                let key = |x: &bespoke::rules::analyze::Analysis| (
                    x.impossible.is_some(),
                    x.dead.iter().map(|(o, i, _)| (*o, *i)).collect::<Vec<_>>(),
                    x.forced.clone(),
                    x.redundant.clone(),
                    x.conflicting_defaults.is_some(),
                    x.count.clone(),
                );
                prop_assert_eq!(key(&a), key(&full));
            }
        }
    }
}

#[test]
fn a_tiny_limit_is_reported() {
    let spec = Spec {
        n: 6,
        rules: vec![
            RuleSpec::Clause(vec![(0, true), (1, true), (2, true)]),
            RuleSpec::Implies((0, true), (3, false)),
            RuleSpec::ExactlyOne(vec![3, 4, 5]),
        ],
        defaults: vec![None; 8],
    };
    let p = load(&spec);
    let engine = Engine::new(p).with_work_limit(1);
    assert!(engine.uses_sat());
    assert!(engine.propagate(&Selection::default()).is_err());
}

#[test]
fn non_boolean_models_stay_with_the_fd_engine() {
    let text = "=== catalog/m.yaml\nid: m\nname: M\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/m.yaml]\noptions:\n  o0: { type: choice, values: [a, b, c] }\n  o1: { type: boolean }\n=== rules/m.yaml\nconstraints:\n  - id: r0\n    message: m\n    if: 'o1'\n    then: 'o0 == a'\n";
    let r = catalog::load(&common::fixture_files(text));
    assert!(!r.has_errors(), "{}", r.render());
    let p = r.catalog.unwrap().products()[0].clone();
    assert!(!Engine::new(p).uses_sat());
}
