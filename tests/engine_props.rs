//! Property tests of the rules engine against brute-force enumeration on small random models.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use bespoke::catalog::expr::Val;
use bespoke::catalog::{self, OptionKind, Product, Value};
use bespoke::rules::{Engine, Selection};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum OptSpec {
    Choice { n: usize, optional: bool },
    Bool,
    Int { max: i64, optional: bool },
    Text { max: u32, optional: bool },
}

#[derive(Debug, Clone)]
struct ModelSpec {
    opts: Vec<OptSpec>,
    rules: Vec<String>,
    defaults: Vec<Option<usize>>,
}

fn opt_spec() -> impl Strategy<Value = OptSpec> {
    prop_oneof![
        (2usize..=4, any::<bool>()).prop_map(|(n, optional)| OptSpec::Choice { n, optional }),
        Just(OptSpec::Bool),
        (1i64..=3, any::<bool>()).prop_map(|(max, optional)| OptSpec::Int { max, optional }),
        (1u32..=3, any::<bool>()).prop_map(|(max, optional)| OptSpec::Text { max, optional }),
    ]
}

/// An atom over option `o`: a condition text.
fn atom(opts: &[OptSpec], o: usize, k: usize, neg: bool) -> String {
    let name = format!("o{o}");
    let s = match &opts[o] {
        OptSpec::Choice { n, .. } => {
            if k.is_multiple_of(3) {
                format!("{name} in [v{}, v{}]", k % n, (k + 1) % n)
            } else if k % 3 == 1 {
                format!("is_set({name})")
            } else {
                format!("{name} == v{}", k % n)
            }
        }
        OptSpec::Bool => name,
        OptSpec::Int { max, .. } => format!(
            "{name} {} {}",
            ["<=", ">=", "==", "!="][k % 4],
            (k as i64) % (max + 1)
        ),
        OptSpec::Text { max, .. } => format!(
            "len({name}) {} {}",
            ["<=", ">="][k % 2],
            (k as u32) % (max + 1)
        ),
    };
    if neg { format!("not ({s})") } else { s }
}

fn rule(
    opts: &[OptSpec],
    kind: usize,
    picks: &[(usize, usize, bool)],
    rows: &[Vec<usize>],
    id: usize,
) -> Option<String> {
    let n = opts.len();
    let a = |i: usize| picks.get(i).map(|&(o, k, neg)| atom(opts, o % n, k, neg));
    let body = match kind % 6 {
        0 => format!("if: '{}'\n    then: '{}'", a(0)?, a(1)?),
        1 => format!("forbid: '{} and {}'", a(0)?, a(1)?),
        2 => format!("require: '{} or {} or {}'", a(0)?, a(1)?, a(2)?),
        3 | 4 => {
            // A table over the choice/boolean/int options among the picks.
            let mut cols: Vec<usize> = picks
                .iter()
                .map(|p| p.0 % n)
                .filter(|&o| !matches!(opts[o], OptSpec::Text { .. }))
                .collect();
            cols.sort_unstable();
            cols.dedup();
            cols.truncate(3);
            if cols.len() < 2 {
                return None;
            }
            let cell = |o: usize, r: usize| -> String {
                let vals: Vec<String> = match &opts[o] {
                    OptSpec::Choice { n, .. } => (0..*n).map(|i| format!("v{i}")).collect(),
                    OptSpec::Bool => vec!["false".into(), "true".into()],
                    OptSpec::Int { max, .. } => (0..=*max).map(|i| i.to_string()).collect(),
                    OptSpec::Text { .. } => vec![],
                };
                match r % 5 {
                    0 => "\"*\"".into(),
                    1 | 2 => vals[r % vals.len()].clone(),
                    _ => format!("[{}, {}]", vals[r % vals.len()], vals[(r / 2) % vals.len()]),
                }
            };
            let rows_txt: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "[{}]",
                        cols.iter()
                            .enumerate()
                            .map(|(j, &o)| cell(o, r[j % r.len()]))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            format!(
                "table: [{}]\n    {}: [{}]",
                cols.iter()
                    .map(|o| format!("o{o}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if kind % 6 == 3 { "allow" } else { "forbid" },
                rows_txt.join(", ")
            )
        }
        _ => {
            let ints: Vec<usize> = (0..n)
                .filter(|&o| matches!(opts[o], OptSpec::Int { .. } | OptSpec::Text { .. }))
                .collect();
            if ints.len() < 2 {
                return None;
            }
            let term = |o: usize| {
                if matches!(opts[o], OptSpec::Text { .. }) {
                    format!("len(o{o})")
                } else {
                    format!("o{o}")
                }
            };
            format!(
                "require: '{} + {} <= {}'",
                term(ints[0]),
                term(ints[1]),
                picks.first()?.1 % 5
            )
        }
    };
    Some(format!(
        "  - id: r{id}\n    message: rule {id}\n    {body}\n"
    ))
}

fn model_spec() -> impl Strategy<Value = ModelSpec> {
    proptest::collection::vec(opt_spec(), 2..=5)
        .prop_flat_map(|opts| {
            let n = opts.len();
            let rule_s = (
                0usize..6,
                proptest::collection::vec((0..n, 0usize..12, any::<bool>()), 3),
                proptest::collection::vec(proptest::collection::vec(0usize..20, 3), 1..4),
            );
            (
                Just(opts),
                proptest::collection::vec(rule_s, 0..5),
                proptest::collection::vec(proptest::option::of(0usize..4), n),
            )
        })
        .prop_map(|(opts, rs, defaults)| {
            let rules = rs
                .iter()
                .enumerate()
                .filter_map(|(i, (k, p, rows))| rule(&opts, *k, p, rows, i))
                .collect();
            ModelSpec {
                opts,
                rules,
                defaults,
            }
        })
}

fn yaml(spec: &ModelSpec) -> String {
    let mut p = String::from(
        "=== catalog/m.yaml\nid: m\nname: M\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/m.yaml]\noptions:\n",
    );
    for (i, o) in spec.opts.iter().enumerate() {
        let d = spec.defaults[i];
        let line = match o {
            OptSpec::Choice { n, optional } => {
                let vals: Vec<String> = (0..*n).map(|k| format!("v{k}")).collect();
                let def = d
                    .map(|k| format!(", default: v{}", k % n))
                    .unwrap_or_default();
                format!(
                    "{{ type: choice, values: [{}], required: {}{def} }}",
                    vals.join(", "),
                    !optional
                )
            }
            OptSpec::Bool => format!(
                "{{ type: boolean{} }}",
                d.map(|k| format!(", default: {}", k % 2 == 1))
                    .unwrap_or_default()
            ),
            OptSpec::Int { max, optional } => {
                format!(
                    "{{ type: integer, min: 0, max: {max}, required: {}{} }}",
                    !optional,
                    d.map(|k| format!(", default: {}", k as i64 % (max + 1)))
                        .unwrap_or_default()
                )
            }
            OptSpec::Text { max, optional } => format!(
                "{{ type: text, max_length: {max}, required: {} }}",
                !optional
            ),
        };
        p.push_str(&format!("  o{i}: {line}\n"));
    }
    p.push_str("=== rules/m.yaml\nconstraints:\n");
    if spec.rules.is_empty() {
        p.push_str("  []\n");
    }
    for r in &spec.rules {
        p.push_str(r);
    }
    p
}

fn load(spec: &ModelSpec) -> Arc<Product> {
    let text = yaml(spec);
    let r = catalog::load(&common::fixture_files(&text));
    assert!(!r.has_errors(), "{}\n{}", text, r.render());
    r.catalog.unwrap().products()[0].clone()
}

/// Independent oracle: every option's possible values, straight from the product.
fn domains(p: &Product) -> Vec<Vec<Option<Val>>> {
    p.options
        .iter()
        .map(|o| {
            let mut d: Vec<Option<Val>> = match &o.kind {
                OptionKind::Choice(c) => {
                    (0..c.values.len()).map(|i| Some(Val::Choice(i))).collect()
                }
                OptionKind::Boolean { .. } => vec![Some(Val::Bool(false)), Some(Val::Bool(true))],
                OptionKind::Integer(r) | OptionKind::Quantity(r) => (0..r.len() as i64)
                    .map(|k| Some(Val::Int(r.min + k * r.step)))
                    .collect(),
                OptionKind::Text(t) => {
                    let lo = if o.required { t.min_len.max(1) } else { 0 };
                    (lo..=t.max_len)
                        .filter(|&l| l == 0 || l >= t.min_len)
                        .map(|l| Some(Val::Int(i64::from(l))))
                        .collect()
                }
                // An upload takes part by presence (its 64-digit id); unset when optional.
                OptionKind::Upload(_) => vec![Some(Val::Int(64))],
            };
            if !o.required
                && matches!(
                    o.kind,
                    OptionKind::Choice(_) | OptionKind::Integer(_) | OptionKind::Upload(_)
                )
            {
                d.push(None);
            }
            d
        })
        .collect()
}

/// All valid configurations under a subset of rules (None = all).
fn solutions(p: &Product, rules: Option<&BTreeSet<usize>>) -> Vec<Vec<Option<Val>>> {
    let doms = domains(p);
    let mut out = Vec::new();
    let mut idx = vec![0usize; doms.len()];
    loop {
        let cfg: Vec<Option<Val>> = idx.iter().zip(&doms).map(|(&i, d)| d[i]).collect();
        let ok = p
            .constraints
            .iter()
            .enumerate()
            .filter(|(r, _)| rules.is_none_or(|s| s.contains(r)))
            .all(|(_, c)| c.holds(&|o| cfg[o]));
        if ok {
            out.push(cfg);
        }
        let mut k = 0;
        loop {
            if k == idx.len() {
                return out;
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

fn to_value(v: Val, kind: &OptionKind) -> Value {
    match (v, kind) {
        (Val::Choice(i), _) => Value::Choice(i),
        (Val::Bool(b), _) => Value::Bool(b),
        (Val::Int(n), OptionKind::Text(_)) => Value::Text("x".repeat(n as usize)),
        (Val::Int(n), _) => Value::Int(n),
    }
}

fn matches(cfg: &[Option<Val>], choices: &[(usize, Option<Val>)]) -> bool {
    choices.iter().all(|(o, v)| cfg[*o] == *v)
}

/// The engine's propagate (available sets, explanations sufficient and minimal, over every
/// prefix of the choices as a click path), complete and repair, against brute force.
fn check_engine(
    spec: &ModelSpec,
    pick: Vec<(usize, usize)>,
    sat: bool,
) -> Result<(), TestCaseError> {
    check_engine_warmed(spec, pick, sat, None)
}

/// `check_engine` on an engine first warmed to `warm` (`Engine::warm`, as the service does
/// when a catalog version loads), whose remembered explanations then answer most values.
fn check_engine_warmed(
    spec: &ModelSpec,
    pick: Vec<(usize, usize)>,
    sat: bool,
    warm: Option<bespoke::rules::Warmth>,
) -> Result<(), TestCaseError> {
    let p = load(spec);
    let engine = if sat {
        Engine::new(p.clone()).with_sat_explanations()
    } else {
        Engine::new(p.clone())
    };
    if let Some(level) = warm {
        // Pairs on two threads (as `--warm-up-threads 2`): what they learn is shared as they go.
        let threads = if level == bespoke::rules::Warmth::Pairs {
            2
        } else {
            1
        };
        prop_assert!(
            engine.warm_on(level, threads, &|| false).complete,
            "warm-up"
        );
    }
    check_prepared(&p, &engine, pick)
}

/// `check_engine` on an engine of `spec` that first imports what an engine of `from` (the
/// model before a merchant's edit) learned in a pair warm-up: only what still holds may be
/// kept, so the answers must stay exact and every explanation minimal.
fn check_engine_learned_from(
    spec: &ModelSpec,
    from: &ModelSpec,
    pick: Vec<(usize, usize)>,
    sat: bool,
) -> Result<(), TestCaseError> {
    let build = |p: Arc<Product>| {
        if sat {
            Engine::new(p).with_sat_explanations()
        } else {
            Engine::new(p)
        }
    };
    let before = build(load(from));
    prop_assert!(
        before
            .warm(bespoke::rules::Warmth::Pairs, &|| false)
            .complete
    );
    let p = load(spec);
    let engine = build(p.clone());
    for r in before.export_learned(bespoke::rules::Export::Everything) {
        engine.import_learned(&r, false).unwrap();
    }
    check_prepared(&p, &engine, pick)
}

/// The brute-force checks of `check_engine` on an engine already built (and maybe warmed).
fn check_prepared(
    p: &Arc<Product>,
    engine: &Engine,
    pick: Vec<(usize, usize)>,
) -> Result<(), TestCaseError> {
    let p = p.clone();
    let all = solutions(&p, None);
    let doms = domains(&p);
    // count
    let count = engine.count(&Selection::default()).unwrap();
    prop_assert_eq!(count, num_bigint::BigUint::from(all.len()), "count");
    // a random selection (distinct options, values from their domains, never "unset")
    let mut choices: Vec<(usize, Val)> = Vec::new();
    for (o, k) in pick {
        let o = o % p.options.len();
        let vals: Vec<Val> = doms[o].iter().flatten().copied().collect();
        if choices.iter().any(|(x, _)| *x == o) || vals.is_empty() {
            continue;
        }
        choices.push((o, vals[k % vals.len()]));
    }
    let sel = Selection {
        choices: choices
            .iter()
            .map(|(o, v)| (*o, to_value(*v, &p.options[*o].kind)))
            .collect(),
    };
    let chosen: Vec<(usize, Option<Val>)> = choices.iter().map(|(o, v)| (*o, Some(*v))).collect();
    let consistent_bf = all.iter().any(|c| matches(c, &chosen));
    // Replay the choices as a click path: every prefix is checked, so the engine's caches
    // (solutions, explanations) carry over between calls as they do in a storefront; the
    // answers must not depend on that history.
    let _ = engine.propagate(&Selection::default()).unwrap();
    for k in 0..=choices.len() {
        let sel = Selection {
            choices: sel.choices[..k].to_vec(),
        };
        let chosen: Vec<(usize, Option<Val>)> = chosen[..k].to_vec();
        let consistent_bf = all.iter().any(|c| matches(c, &chosen));
        let prop = engine.propagate(&sel).unwrap();
        prop_assert_eq!(prop.consistent, consistent_bf, "consistency");
        for oa in &prop.options {
            let o = oa.option;
            let others: Vec<(usize, Option<Val>)> =
                chosen.iter().copied().filter(|(x, _)| *x != o).collect();
            let expected: BTreeSet<Option<Val>> = all
                .iter()
                .filter(|c| {
                    matches(
                        c,
                        if oa.selected.is_some() {
                            &others
                        } else {
                            &chosen
                        },
                    )
                })
                .map(|c| c[o])
                .collect();
            let got: BTreeSet<Option<Val>> = oa
                .available
                .iter()
                .map(|&i| engine.model.vars[o].val(i))
                .collect();
            prop_assert_eq!(&got, &expected, "available values of o{}", o);
            // Explanations are sufficient and minimal.
            for (i, e) in &oa.unavailable {
                let base = if oa.selected.is_some() {
                    &others
                } else {
                    &chosen
                };
                check_explanation(&p, engine, o, *i, base, e)?;
            }
        }
    }
    // complete
    match engine.complete(&sel).unwrap() {
        Some(sol) => {
            let cfg: Vec<Option<Val>> = sol
                .iter()
                .enumerate()
                .map(|(v, &i)| engine.model.vars[v].val(i))
                .collect();
            prop_assert!(all.contains(&cfg), "completion {:?} is not valid", cfg);
            prop_assert!(matches(&cfg, &chosen), "completion ignores the selection");
        }
        None => prop_assert!(!consistent_bf),
    }
    // repair (an impossible product has no repair: nothing to drop helps)
    let rep = engine.repair(&sel).unwrap();
    if all.is_empty() {
        return Ok(());
    }
    let kept: Vec<(usize, Option<Val>)> = chosen
        .iter()
        .copied()
        .filter(|(o, _)| !rep.drop.contains(o))
        .collect();
    prop_assert!(
        all.iter().any(|c| matches(c, &kept)),
        "repair leaves an inconsistent selection"
    );
    for d in &rep.drop {
        let mut back = kept.clone();
        back.extend(chosen.iter().copied().filter(|(o, _)| o == d));
        prop_assert!(
            !all.iter().any(|c| matches(c, &back)),
            "dropping o{} was not needed",
            d
        );
    }
    prop_assert_eq!(rep.drop.is_empty(), consistent_bf);
    Ok(())
}

/// That `e` excludes value `i` of option `o` under the choices `base` (brute force over the
/// product's configurations with only its rules and choices), and that every rule and choice of
/// it is needed.
fn check_explanation(
    p: &Arc<Product>,
    engine: &Engine,
    o: usize,
    i: usize,
    base: &[(usize, Option<Val>)],
    e: &bespoke::rules::Explanation,
) -> Result<(), TestCaseError> {
    let target = engine.model.vars[o].val(i);
    let rules: BTreeSet<usize> = e.rules.iter().copied().collect();
    let ch: Vec<(usize, Option<Val>)> = base
        .iter()
        .copied()
        .filter(|(x, _)| e.choices.contains(x))
        .collect();
    prop_assert_eq!(
        ch.len(),
        e.choices.len(),
        "explanation names only chosen options"
    );
    let feasible = |rules: &BTreeSet<usize>, ch: &[(usize, Option<Val>)]| {
        solutions(p, Some(rules))
            .iter()
            .any(|c| c[o] == target && matches(c, ch))
    };
    prop_assert!(
        !feasible(&rules, &ch),
        "explanation {:?} does not exclude o{}={:?}",
        e,
        o,
        target
    );
    for r in &rules {
        let mut fewer = rules.clone();
        fewer.remove(r);
        prop_assert!(feasible(&fewer, &ch), "rule {} is not needed in {:?}", r, e);
    }
    for k in 0..ch.len() {
        let mut fewer = ch.clone();
        fewer.remove(k);
        prop_assert!(
            feasible(&rules, &fewer),
            "choice {:?} is not needed in {:?}",
            ch[k],
            e
        );
    }
    Ok(())
}

/// A time-bounded propagation whose time is already up (`Explain::Until` now): the same
/// availability as brute force, every unavailable value either explained (from what the engine
/// remembers) or deferred, exactly the values a full propagation lists; each deferred value's
/// explanation on request (`Engine::explain_value`) sufficient and minimal, and an available
/// value's `None`. Replayed as a click path, so deferred values are remembered as excluded.
fn check_deferred(
    spec: &ModelSpec,
    pick: Vec<(usize, usize)>,
    sat: bool,
) -> Result<(), TestCaseError> {
    use bespoke::rules::Explain;
    let p = load(spec);
    let build = || {
        if sat {
            Engine::new(p.clone()).with_sat_explanations()
        } else {
            Engine::new(p.clone())
        }
    };
    let (engine, full) = (build(), build());
    let doms = domains(&p);
    let mut chosen: Vec<(usize, Option<Val>)> = Vec::new();
    let mut sel = Selection::default();
    for (o, k) in pick {
        let o = o % p.options.len();
        let vals: Vec<Val> = doms[o].iter().flatten().copied().collect();
        if chosen.iter().any(|(x, _)| *x == o) || vals.is_empty() {
            continue;
        }
        let v = vals[k % vals.len()];
        chosen.push((o, Some(v)));
        sel.choices.push((o, to_value(v, &p.options[o].kind)));
        let bounded = engine
            .propagate_explaining(&sel, Explain::Until(std::time::Instant::now()))
            .unwrap();
        let reference = full.propagate(&sel).unwrap();
        prop_assert_eq!(bounded.consistent, reference.consistent);
        for (oa, want) in bounded.options.iter().zip(&reference.options) {
            let o = oa.option;
            prop_assert_eq!(&oa.available, &want.available, "available values of o{}", o);
            let mut listed: Vec<usize> = oa
                .unavailable
                .iter()
                .map(|(i, _)| *i)
                .chain(oa.deferred.iter().copied())
                .collect();
            listed.sort_unstable();
            let mut wanted: Vec<usize> = want.unavailable.iter().map(|(i, _)| *i).collect();
            wanted.sort_unstable();
            prop_assert_eq!(listed, wanted, "unavailable values of o{}", o);
            if !bounded.consistent {
                continue;
            }
            let others: Vec<(usize, Option<Val>)> =
                chosen.iter().copied().filter(|(x, _)| *x != o).collect();
            let base = if oa.selected.is_some() {
                &others
            } else {
                &chosen
            };
            for (i, e) in &oa.unavailable {
                check_explanation(&p, &engine, o, *i, base, e)?;
            }
            for &i in &oa.deferred {
                let e = engine.explain_value(&sel, o, i).unwrap();
                prop_assert!(
                    e.is_some(),
                    "a deferred value of o{} has an explanation on request",
                    o
                );
                if let Some(e) = e {
                    check_explanation(&p, &engine, o, i, base, &e)?;
                }
            }
            for &i in &oa.available {
                prop_assert_eq!(
                    engine.explain_value(&sel, o, i).unwrap(),
                    None,
                    "o{} value {} is available",
                    o,
                    i
                );
            }
        }
    }
    Ok(())
}

/// Four or five "pigeon" options with three values that the selector `o0` and the mode
/// `o<pigeons + 1>` together make pairwise different (forbid tables `[o0, mode, oi, oj]`; a few
/// pairs may be left out). With the mode chosen, the selector's value is then excluded only by
/// search (propagation on pairwise differences prunes nothing), and so are pigeon values when
/// pairs are missing. Distractor options with two values, tied to a pigeon, are what dom/wdeg
/// branches on first.
fn pigeon_spec() -> impl Strategy<Value = ModelSpec> {
    (
        4usize..=5,
        1usize..=2,
        proptest::collection::vec(0usize..8, 10),
        (0usize..3, 0usize..2),
        proptest::collection::vec(0usize..4, 3),
    )
        .prop_map(|(pigeons, distract, drop, (sel, mode_v), ties)| {
            let mode = pigeons + 1;
            let mut opts = vec![OptSpec::Choice {
                n: 3,
                optional: false,
            }];
            opts.extend((0..pigeons).map(|_| OptSpec::Choice {
                n: 3,
                optional: false,
            }));
            opts.push(OptSpec::Choice {
                n: 2,
                optional: false,
            });
            opts.extend((0..distract).map(|_| OptSpec::Choice {
                n: 2,
                optional: false,
            }));
            let mut rules = Vec::new();
            let mut k = 0;
            for i in 1..=pigeons {
                for j in i + 1..=pigeons {
                    // About one pair in eight is left out.
                    let skip = drop[k % drop.len()] == 0;
                    k += 1;
                    if skip {
                        continue;
                    }
                    rules.push(format!(
                        "  - id: p{i}{j}\n    message: different\n    table: [o0, o{mode}, o{i}, o{j}]\n    forbid:\n      - [v{sel}, v{mode_v}, v0, v0]\n      - [v{sel}, v{mode_v}, v1, v1]\n      - [v{sel}, v{mode_v}, v2, v2]\n"
                    ));
                }
            }
            for d in 0..distract {
                let o = mode + 1 + d;
                let tie = 1 + ties[d] % pigeons;
                rules.push(format!(
                    "  - id: d{d}\n    message: tie\n    table: [o{tie}, o{o}]\n    forbid:\n      - [v{}, v1]\n",
                    ties[2] % 3
                ));
            }
            ModelSpec {
                defaults: vec![None; opts.len()],
                opts,
                rules,
            }
        })
}

/// A model with long domains, so that the SAT encoding's at-most-one ladders and shared
/// auxiliary literals for negative-table cells (a cell leaving out more than eight values) take
/// part; the random models' domains are too short for them.
fn long_domain_spec() -> ModelSpec {
    let rule = |id: &str, body: &str| format!("  - id: {id}\n    message: m\n{body}");
    ModelSpec {
        opts: vec![
            OptSpec::Choice {
                n: 12,
                optional: false,
            },
            OptSpec::Choice {
                n: 10,
                optional: true,
            },
            OptSpec::Choice {
                n: 3,
                optional: false,
            },
            OptSpec::Bool,
            OptSpec::Int {
                max: 4,
                optional: false,
            },
        ],
        rules: vec![
            rule(
                "pairs",
                "    table: [o0, o1]\n    allow:\n      - [[v0, v1, v2], [v0, v1, v2, v3]]\n      - [[v3, v4, v5, v6], [v4, v5, v6, v7, v8, v9]]\n      - [[v7, v8], \"*\"]\n      - [[v9, v10, v11], [v1, v9]]\n",
            ),
            rule(
                "cells",
                "    table: [o0, o2, o3]\n    forbid:\n      - [[v5, v6], \"*\", false]\n      - [[v0, v1, v2], v2, \"*\"]\n      - [[v3, v4, v5, v6, v7], [v0, v1], true]\n",
            ),
            rule("size", "    if: o4 >= 3\n    then: o2 != v0\n"),
            rule(
                "rare",
                "    table: [o1, o2]\n    forbid:\n      - [[v1, v2, v3, v4, v5, v6, v7, v8], v1]\n",
            ),
            rule("link", "    if: o3\n    then: o4 <= 2 or o0 == v11\n"),
        ],
        defaults: vec![None; 5],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), .. ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_brute_force(spec in model_spec(), pick in proptest::collection::vec((0usize..8, 0usize..8), 0..4)) {
        check_engine(&spec, pick, false)?;
    }

    /// The same with the finite-domain SAT encoding answering explanations' exact checks (as
    /// it does on real-size models): one-hot variables, tables through row literals, checked
    /// expressions enumerated, sub-instances for minimisation.
    #[test]
    fn sat_explanations_agree_with_brute_force(spec in model_spec(), pick in proptest::collection::vec((0usize..8, 0usize..8), 0..4)) {
        check_engine(&spec, pick, true)?;
    }

    /// Models where values are excluded only by search (pigeonhole structures gated by a
    /// choice, among distractor options the search may branch on first): the refutation
    /// tracing path, with its backjumping, against the same oracle.
    #[test]
    fn search_only_exclusions_agree_with_brute_force(spec in pigeon_spec(), pick in proptest::collection::vec((0usize..8, 0usize..8), 1..4)) {
        check_engine(&spec, pick.clone(), false)?;
        check_engine(&spec, pick, true)?;
    }

    /// Explanations deferred by a time-bounded propagation, asked for one by one.
    #[test]
    fn deferred_explanations_agree_with_brute_force(spec in prop_oneof![pigeon_spec(), model_spec()], pick in proptest::collection::vec((0usize..8, 0usize..8), 1..4)) {
        check_deferred(&spec, pick.clone(), false)?;
        check_deferred(&spec, pick, true)?;
    }

    #[test]
    fn sat_encoding_of_long_domains_agrees_with_brute_force(pick in proptest::collection::vec((0usize..5, 0usize..12), 0..4)) {
        let spec = long_domain_spec();
        check_engine(&spec, pick.clone(), true)?;
        check_engine(&spec, pick, false)?;
    }

    #[test]
    fn validate_lists_exactly_the_violated_rules(spec in model_spec(), picks in proptest::collection::vec(0usize..16, 5)) {
        let p = load(&spec);
        let engine = Engine::new(p.clone());
        let doms = domains(&p);
        let cfg: Vec<Option<Val>> = doms.iter().enumerate().map(|(o, d)| d[picks[o % picks.len()] % d.len()]).collect();
        let sel = Selection { choices: cfg.iter().enumerate().filter_map(|(o, v)| v.map(|v| (o, to_value(v, &p.options[o].kind)))).collect() };
        let v = engine.validate(&sel);
        let expected: Vec<usize> = p.constraints.iter().enumerate().filter(|(_, c)| !c.holds(&|o| cfg[o])).map(|(r, _)| r).collect();
        let got: Vec<usize> = v.violations.iter().map(|x| x.rule).collect();
        prop_assert_eq!(got, expected.clone());
        prop_assert_eq!(v.valid, expected.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(150), .. ProptestConfig::default() })]

    #[test]
    fn analysis_agrees_with_brute_force(spec in model_spec()) {
        let p = load(&spec);
        let engine = Engine::new(p.clone());
        let all = solutions(&p, None);
        let a = engine.analyze().unwrap();
        prop_assert!(a.incomplete.is_empty());
        prop_assert_eq!(a.impossible.is_some(), all.is_empty(), "impossible");
        if let Some(e) = &a.impossible {
            // The conflicting rules alone admit nothing, and each is needed.
            let rules: BTreeSet<usize> = e.rules.iter().copied().collect();
            prop_assert!(solutions(&p, Some(&rules)).is_empty());
            for r in &rules {
                let mut fewer = rules.clone();
                fewer.remove(r);
                prop_assert!(!solutions(&p, Some(&fewer)).is_empty());
            }
            return Ok(());
        }
        prop_assert_eq!(a.count.clone().unwrap(), num_bigint::BigUint::from(all.len()));
        for (o, opt) in p.options.iter().enumerate() {
            let seen: BTreeSet<Option<Val>> = all.iter().map(|c| c[o]).collect();
            let dead_bf: BTreeSet<Option<Val>> = domains(&p)[o].iter().copied().filter(|v| v.is_some() && !seen.contains(v)).collect();
            let dead: BTreeSet<Option<Val>> = a.dead.iter().filter(|(x, _, _)| *x == o).map(|(_, i, _)| engine.model.vars[o].val(*i)).collect();
            if matches!(opt.kind, OptionKind::Choice(_) | OptionKind::Boolean { .. }) {
                prop_assert_eq!(&dead, &dead_bf, "dead values of o{}", o);
            } else {
                prop_assert!(dead.is_subset(&dead_bf), "dead values of o{}", o);
            }
            let forced = a.forced.iter().find(|(x, _)| *x == o).map(|(_, i)| engine.model.vars[o].val(*i));
            let forced_bf = (seen.len() == 1 && domains(&p)[o].len() > 1).then(|| *seen.iter().next().unwrap()).filter(|v| v.is_some());
            prop_assert_eq!(forced, forced_bf, "forced value of o{}", o);
        }
        // Redundancy, in the engine's order: rule r is redundant if the rules not yet found
        // redundant (other than r) admit no configuration that breaks r.
        let mut found: Vec<usize> = Vec::new();
        for r in 0..p.constraints.len() {
            let others: BTreeSet<usize> = (0..p.constraints.len()).filter(|&x| x != r && !found.contains(&x)).collect();
            let breaks = solutions(&p, Some(&others)).iter().any(|c| !p.constraints[r].holds(&|o| c[o]));
            if !breaks {
                found.push(r);
            }
        }
        prop_assert_eq!(&a.redundant, &found, "redundant rules");
    }
}

/// A merchant's edit of a model: a rule dropped, replaced by another or added, or an option
/// added (which no rule reads yet).
#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Replace(usize, String),
    Add(String),
    AddOption,
}

fn edited(spec: &ModelSpec, edit: &Edit) -> ModelSpec {
    let mut out = spec.clone();
    match edit {
        Edit::Drop(k) if !out.rules.is_empty() => {
            let k = k % out.rules.len();
            out.rules.remove(k);
        }
        Edit::Replace(k, r) if !out.rules.is_empty() => {
            let k = k % out.rules.len();
            out.rules[k] = r.clone();
        }
        Edit::Drop(_) | Edit::Replace(..) | Edit::Add(_) => {
            if let Edit::Add(r) | Edit::Replace(_, r) = edit {
                out.rules.insert(0, r.clone());
            }
        }
        Edit::AddOption => {
            out.opts.push(OptSpec::Choice {
                n: 2,
                optional: false,
            });
            out.defaults.push(None);
        }
    }
    out
}

/// A model and an edit of it (the new rule drawn over the same options; its id is new).
fn edited_spec(base: impl Strategy<Value = ModelSpec>) -> impl Strategy<Value = (ModelSpec, Edit)> {
    base.prop_flat_map(|spec| {
        let n = spec.opts.len();
        let new_rule = (
            0usize..6,
            proptest::collection::vec((0..n, 0usize..12, any::<bool>()), 3),
            proptest::collection::vec(proptest::collection::vec(0usize..20, 3), 1..4),
        );
        let opts = spec.opts.clone();
        let edit =
            (0usize..4, 0usize..8, new_rule).prop_map(move |(kind, k, (rk, p, rows))| {
                match (kind, rule(&opts, rk, &p, &rows, 90)) {
                    (1, Some(r)) => Edit::Replace(k, r),
                    (2, Some(r)) => Edit::Add(r),
                    (3, _) => Edit::AddOption,
                    _ => Edit::Drop(k),
                }
            });
        (Just(spec), edit)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), .. ProptestConfig::default() })]

    /// An engine of an edited model that imports what the model before the edit learned (its
    /// pair warm-up's explanations, dead values and solutions) keeps only what still holds:
    /// availability stays exact and every explanation sufficient and minimal.
    #[test]
    fn learning_carried_into_an_edited_model_agrees_with_brute_force((spec, edit) in edited_spec(prop_oneof![pigeon_spec(), model_spec()]), pick in proptest::collection::vec((0usize..8, 0usize..8), 1..5)) {
        let after = edited(&spec, &edit);
        check_engine_learned_from(&after, &spec, pick.clone(), false)?;
        check_engine_learned_from(&after, &spec, pick, true)?;
    }
}

proptest! {
    // Each case warms two engines through every pair of choices first.
    #![proptest_config(ProptestConfig { cases: cases(24), .. ProptestConfig::default() })]

    /// After a warm-up through every pair of choices, most explanations of a selection come
    /// from what the warm-up remembered (those of one or two of its choices, kept under one
    /// value of each class of alike values): still exact availability, and each explanation
    /// still minimal and made of chosen options.
    #[test]
    fn pair_warmed_engine_agrees_with_brute_force(spec in prop_oneof![pigeon_spec(), model_spec()], pick in proptest::collection::vec((0usize..8, 0usize..8), 2..5)) {
        check_engine_warmed(&spec, pick.clone(), false, Some(bespoke::rules::Warmth::Pairs))?;
        check_engine_warmed(&spec, pick, true, Some(bespoke::rules::Warmth::Pairs))?;
    }
}

/// The number of cases: `PROPTEST_CASES` when set (for long local runs), else the default.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
