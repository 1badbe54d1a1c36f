//! Property tests of pricing against brute force on small random priced models: quotes add up,
//! ranges are exact (min and max attained by valid completions, also on small generated car
//! models with several components), extreme values never panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bespoke::catalog::{self, FileSet, Product, Value};
use bespoke::pricing::{self, PricingError};
use bespoke::rules::{Engine, Selection};
use proptest::prelude::*;
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
enum OptSpec {
    Choice {
        n: usize,
        optional: bool,
        prices: Vec<Option<u64>>,
    },
    Bool {
        price: Option<u64>,
    },
    Int {
        min: i64,
        count: i64,
        step: i64,
        optional: bool,
        ppu: Option<u64>,
    },
    Text {
        max: u32,
        optional: bool,
        price: Option<u64>,
        ppc: Option<u64>,
    },
}

/// A price rule: condition (option, atom kind), effect kind, amount, order stage.
type RuleSpec = (Option<(usize, usize)>, usize, u64, bool);

#[derive(Debug, Clone)]
struct Spec {
    base: u64,
    opts: Vec<OptSpec>,
    /// (max, default) of the quantity option, if any; tiers as (min, discount % or unit price).
    quantity: Option<(i64, i64)>,
    tiers: Vec<(i64, Result<u64, u64>)>,
    constraints: Vec<(usize, usize, usize, bool)>,
    rules: Vec<RuleSpec>,
}

fn cents(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn opt_spec() -> impl Strategy<Value = OptSpec> {
    let price = || prop::option::of(0u64..2_000);
    prop_oneof![
        (2usize..=4, any::<bool>(), prop::collection::vec(price(), 4)).prop_map(
            |(n, optional, prices)| OptSpec::Choice {
                n,
                optional,
                prices
            }
        ),
        price().prop_map(|price| OptSpec::Bool { price }),
        (-2i64..=2, 1i64..=4, 1i64..=2, any::<bool>(), price()).prop_map(
            |(min, count, step, optional, ppu)| OptSpec::Int {
                min,
                count,
                step,
                optional,
                ppu
            }
        ),
        (1u32..=3, any::<bool>(), price(), price()).prop_map(|(max, optional, price, ppc)| {
            OptSpec::Text {
                max,
                optional,
                price,
                ppc,
            }
        }),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u64..5_000,
        prop::collection::vec(opt_spec(), 1..=4),
        prop::option::of((1i64..=6, 1i64..=6)),
        prop::collection::vec(
            (
                2i64..=6,
                prop_oneof![(0u64..=60).prop_map(Ok), (0u64..3_000).prop_map(Err)],
            ),
            0..=2,
        ),
        prop::collection::vec((0usize..8, 0usize..8, 0usize..12, any::<bool>()), 0..=3),
        prop::collection::vec(
            (
                prop::option::of((0usize..8, 0usize..12)),
                0usize..8,
                0u64..3_000,
                any::<bool>(),
            ),
            0..=4,
        ),
    )
        .prop_map(|(base, opts, quantity, mut tiers, constraints, rules)| {
            tiers.sort_by_key(|t| t.0);
            tiers.dedup_by_key(|t| t.0);
            Spec {
                base,
                opts,
                quantity: quantity.map(|(m, d)| (m, d.min(m))),
                tiers,
                constraints,
                rules,
            }
        })
}

/// An atom over option `o` (or the quantity, as option index `opts.len()`).
fn atom(spec: &Spec, o: usize, k: usize) -> String {
    let n = spec.opts.len() + usize::from(spec.quantity.is_some());
    let o = o % n;
    if o == spec.opts.len() {
        return format!("q >= {}", k % 5 + 1);
    }
    let name = format!("o{o}");
    match &spec.opts[o] {
        OptSpec::Choice { n, .. } => match k % 3 {
            0 => format!("{name} in [v{}, v{}]", k % n, (k + 1) % n),
            1 => format!("is_set({name})"),
            _ => format!("{name} == v{}", k % n),
        },
        OptSpec::Bool { .. } => {
            if k.is_multiple_of(2) {
                name
            } else {
                format!("not {name}")
            }
        }
        OptSpec::Int { min, .. } => format!(
            "{name} {} {}",
            ["<=", ">=", "==", "!="][k % 4],
            min + (k as i64 % 4)
        ),
        OptSpec::Text { max, .. } => {
            format!(
                "len({name}) {} {}",
                ["<=", ">="][k % 2],
                (k as u32) % (max + 1)
            )
        }
    }
}

/// A formula over a numeric option when there is one.
fn formula(spec: &Spec, k: usize) -> String {
    let nums: Vec<String> = spec
        .opts
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            OptSpec::Int { .. } => Some(format!("o{i}")),
            OptSpec::Text { .. } => Some(format!("len(o{i})")),
            _ => None,
        })
        .chain(spec.quantity.map(|_| "q".to_owned()))
        .collect();
    if nums.is_empty() {
        return "1.25".to_owned();
    }
    let a = &nums[k % nums.len()];
    match k % 3 {
        0 => format!("{a} * 0.335"),
        1 => format!("{a} * {a} * 0.125 + 0.5"),
        _ => format!("({a} + 3) * 1.005"),
    }
}

fn render(spec: &Spec, amount: &dyn Fn(u64) -> String) -> FileSet {
    let mut p = format!(
        "id: p\nname: P\ncurrency: EUR\nbase_price: \"{}\"\n",
        amount(spec.base)
    );
    let mut rules = String::new();
    if !spec.constraints.is_empty() {
        rules.push_str("constraints:\n");
        for (i, (a, b, k, both)) in spec.constraints.iter().enumerate() {
            let x = atom(spec, *a, *k);
            let y = atom(spec, *b, k / 2 + 1);
            let e = if *both {
                format!("forbid: \"{x} and {y}\"")
            } else {
                format!("if: \"{x}\"\n    then: \"{y}\"")
            };
            rules.push_str(&format!("  - id: c{i}\n    message: m\n    {e}\n"));
        }
    }
    if !spec.rules.is_empty() {
        rules.push_str("pricing:\n");
        for (i, (cond, effect, amt, order)) in spec.rules.iter().enumerate() {
            rules.push_str(&format!("  - id: r{i}\n    label: R{i}\n"));
            if let Some((o, k)) = cond {
                rules.push_str(&format!("    if: \"{}\"\n", atom(spec, *o, *k)));
            }
            let pct = format!("\"{}%\"", amt % 160);
            let e = match effect {
                0 => format!("add: \"{}\"", amount(*amt)),
                1 => format!("subtract: \"{}\"", amount(*amt / 4)),
                2 => format!("formula: \"{}\"", formula(spec, *amt as usize)),
                3 => format!("discount: {pct}"),
                4 => format!("markup: {pct}"),
                5 => format!("set: \"{}\"", amount(*amt)),
                6 => format!("min: \"{}\"", amount(*amt)),
                _ => format!("max: \"{}\"", amount(*amt)),
            };
            rules.push_str(&format!("    {e}\n"));
            if *order {
                rules.push_str("    stage: order\n");
            }
        }
    }
    if !rules.is_empty() {
        p.push_str("rules: [rules/p.yaml]\n");
    }
    if spec.quantity.is_some() && !spec.tiers.is_empty() {
        p.push_str("quantity_tiers:\n");
        for (min, t) in &spec.tiers {
            match t {
                Ok(pct) => p.push_str(&format!("  - {{ min: {min}, discount: \"{pct}%\" }}\n")),
                Err(c) => p.push_str(&format!(
                    "  - {{ min: {min}, unit_price: \"{}\" }}\n",
                    amount(*c)
                )),
            }
        }
    }
    p.push_str("options:\n");
    for (i, o) in spec.opts.iter().enumerate() {
        let line = match o {
            OptSpec::Choice {
                n,
                optional,
                prices,
            } => {
                let vals: Vec<String> = (0..*n).map(|j| format!("v{j}")).collect();
                let pr: Vec<String> = (0..*n)
                    .filter_map(|j| prices[j].map(|c| format!("v{j}: \"{}\"", amount(c))))
                    .collect();
                format!(
                    "{{ type: choice, values: [{}], required: {}{} }}",
                    vals.join(", "),
                    !optional,
                    if pr.is_empty() {
                        String::new()
                    } else {
                        format!(", price: {{ {} }}", pr.join(", "))
                    }
                )
            }
            OptSpec::Bool { price } => format!(
                "{{ type: boolean{} }}",
                price.map_or(String::new(), |c| format!(", price: \"{}\"", amount(c)))
            ),
            OptSpec::Int {
                min,
                count,
                step,
                optional,
                ppu,
            } => format!(
                "{{ type: integer, min: {min}, max: {}, step: {step}, required: {}{} }}",
                min + step * (count - 1),
                !optional,
                ppu.map_or(String::new(), |c| format!(
                    ", price_per_unit: \"{}\"",
                    amount(c)
                ))
            ),
            OptSpec::Text {
                max,
                optional,
                price,
                ppc,
            } => format!(
                "{{ type: text, max_length: {max}, required: {}{}{} }}",
                !optional,
                price.map_or(String::new(), |c| format!(", price: \"{}\"", amount(c))),
                ppc.map_or(String::new(), |c| format!(
                    ", price_per_char: \"{}\"",
                    amount(c)
                ))
            ),
        };
        p.push_str(&format!("  o{i}: {line}\n"));
    }
    if let Some((max, default)) = spec.quantity {
        p.push_str(&format!(
            "  q: {{ type: quantity, min: 1, max: {max}, default: {default} }}\n"
        ));
    }
    let mut files = FileSet::new();
    files.insert("catalog/p.yaml".to_owned(), p.into_bytes());
    if !rules.is_empty() {
        files.insert("rules/p.yaml".to_owned(), rules.into_bytes());
    }
    files
}

fn load(files: &FileSet) -> Arc<Product> {
    let result = catalog::load(files);
    if result.has_errors() {
        let mut dump = String::new();
        for p in files.paths() {
            dump.push_str(&format!(
                "=== {p}\n{}",
                String::from_utf8_lossy(files.get(p).unwrap())
            ));
        }
        panic!("{}\n{dump}", result.render());
    }
    result.catalog.unwrap().products()[0].clone()
}

/// Every valid full configuration (one domain index per variable).
fn valid_configs(engine: &Engine) -> Vec<Vec<usize>> {
    let sizes: Vec<usize> = engine.model.vars.iter().map(|v| v.size).collect();
    let mut out = Vec::new();
    let mut a = vec![0usize; sizes.len()];
    loop {
        if engine.model.cons.iter().all(|c| engine.model.holds(c, &a)) {
            out.push(a.clone());
        }
        let mut j = 0;
        loop {
            if j == a.len() {
                return out;
            }
            a[j] += 1;
            if a[j] < sizes[j] {
                break;
            }
            a[j] = 0;
            j += 1;
        }
    }
}

fn as_selection(engine: &Engine, config: &[usize]) -> Selection {
    Selection {
        choices: engine
            .model
            .vars
            .iter()
            .zip(config)
            .filter_map(|(var, &i)| var.value(i).map(|v| (var.opt, v)))
            .collect(),
    }
}

/// The total before the negative-total check.
fn raw_total(product: &Product, sel: &Selection) -> Decimal {
    match pricing::quote(product, sel) {
        Ok(q) => q.total,
        Err(PricingError::NegativeTotal { total }) => total,
        Err(e) => panic!("{e}"),
    }
}

fn check_lines(q: &pricing::Quote) {
    check_sums(q);
    for l in &q.lines {
        assert_eq!(l.amount.scale(), 2, "{l:?}");
    }
}

/// Minor units of an amount, exactly (summing `Decimal`s near their limit would round).
fn minor(d: Decimal) -> i128 {
    assert!(d.scale() <= 2, "{d}");
    d.mantissa() * 10i128.pow(2 - d.scale())
}

/// The sums, in exact integer minor units.
fn check_sums(q: &pricing::Quote) {
    let sum: i128 = q.lines.iter().map(|l| minor(l.amount)).sum();
    assert_eq!(sum, minor(q.total), "{q:#?}");
    let unit: i128 = q
        .lines
        .iter()
        .filter_map(|l| l.unit_amount)
        .map(minor)
        .sum();
    assert_eq!(unit, minor(q.unit), "{q:#?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// The lines of every quote sum exactly to its total (and unit amounts to the unit price).
    #[test]
    fn lines_sum_to_the_total(spec in spec()) {
        let product = load(&render(&spec, &cents));
        let engine = Engine::new(product.clone());
        for config in valid_configs(&engine).iter().take(400) {
            let sel = as_selection(&engine, config);
            match pricing::quote(&product, &sel) {
                Ok(q) => check_lines(&q),
                Err(PricingError::NegativeTotal { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The range equals the brute-force minimum and maximum over valid completions, and both
    /// are attained by the valid configurations the range reports.
    #[test]
    fn range_is_exact(spec in spec(), picks in prop::collection::vec((any::<bool>(), 0usize..16), 6)) {
        let product = load(&render(&spec, &cents));
        let engine = Engine::new(product.clone());
        // A partial selection: some options fixed to some value of their domain.
        let mut sel = Selection::default();
        for (v, var) in engine.model.vars.iter().enumerate() {
            let (take, k) = picks[v % picks.len()];
            if take && let Some(value) = var.value(k % var.size) {
                sel.choices.push((var.opt, value));
            }
        }
        let quantity = product.quantity_option().map(|q| match sel.get(q) {
            Some(Value::Int(n)) => *n,
            _ => spec.quantity.map_or(1, |(_, d)| d),
        });
        let fixed: Vec<(usize, usize)> = sel
            .choices
            .iter()
            .map(|(o, v)| (*o, engine.model.vars[*o].index_of(v).unwrap()))
            .collect();
        let totals: Vec<Decimal> = valid_configs(&engine)
            .into_iter()
            .filter(|c| fixed.iter().all(|&(v, i)| c[v] == i))
            .filter(|c| match (product.quantity_option(), quantity) {
                (Some(q), Some(n)) => engine.model.vars[q].value(c[q]) == Some(Value::Int(n)),
                _ => true,
            })
            .map(|c| raw_total(&product, &as_selection(&engine, &c)))
            .collect();
        let got = pricing::range(&engine, &sel);
        match (totals.iter().min(), totals.iter().max()) {
            (None, _) | (_, None) => prop_assert_eq!(got, Err(PricingError::NoCompletion)),
            (Some(&min), Some(&max)) => {
                if min < Decimal::ZERO {
                    prop_assert_eq!(got, Err(PricingError::NegativeTotal { total: min }));
                } else {
                    let r = got.unwrap();
                    prop_assert_eq!((r.min, r.max), (min, max));
                    for (s, want) in [(&r.cheapest, min), (&r.dearest, max)] {
                        prop_assert!(engine.validate(s).valid, "{:?}", s);
                        prop_assert_eq!(pricing::quote(&product, s).unwrap().total, want);
                    }
                }
            }
        }
    }

    /// On small generated car models (several overlapping tables, so the open options form
    /// several components) with seeded prices and price rules, the range equals brute force.
    #[test]
    fn range_is_exact_on_generated_models(
        seed in 0u64..10_000,
        prices in 0u64..10_000,
        options in 4usize..=6,
        tables in 2usize..=7,
        tightness in 300u32..=900,
        pick in any::<prop::sample::Index>(),
    ) {
        use bespoke::rules::generate::{CarParams, car_model_with, with_prices};
        let params = CarParams { tightness_permille: tightness, ..CarParams::default() };
        let g = car_model_with(seed, options, tables, &params);
        let result = catalog::load(&g.files());
        let product = Arc::new(with_prices(&result.catalog.unwrap().products()[0], prices));
        let engine = Engine::new(product.clone());
        let space: usize = engine.model.vars.iter().map(|v| v.size).product();
        prop_assume!(space <= 50_000);
        let configs = valid_configs(&engine);
        // The empty selection, and one option fixed to its value in some valid configuration.
        let mut sels = vec![Selection::default()];
        if !configs.is_empty() {
            let c = &configs[pick.index(configs.len())];
            let v = pick.index(c.len());
            if let Some(value) = engine.model.vars[v].value(c[v]) {
                sels.push(Selection { choices: vec![(engine.model.vars[v].opt, value)] });
            }
        }
        for sel in sels {
            let totals: Vec<Decimal> = configs
                .iter()
                .filter(|c| sel.choices.iter().all(|(o, v)| engine.model.vars[*o].index_of(v) == Some(c[*o])))
                .map(|c| raw_total(&product, &as_selection(&engine, c)))
                .collect();
            let got = pricing::range(&engine, &sel);
            match (totals.iter().min(), totals.iter().max()) {
                (Some(&min), Some(&max)) if min >= Decimal::ZERO => {
                    let r = got.unwrap();
                    prop_assert_eq!((r.min, r.max), (min, max));
                    for (s, want) in [(&r.cheapest, min), (&r.dearest, max)] {
                        prop_assert!(engine.validate(s).valid, "{:?}", s);
                        prop_assert_eq!(pricing::quote(&product, s).unwrap().total, want);
                    }
                }
                (Some(&min), _) => prop_assert_eq!(got, Err(PricingError::NegativeTotal { total: min })),
                _ => prop_assert_eq!(got, Err(PricingError::NoCompletion)),
            }
        }
    }

    /// Huge amounts give a price or a typed error, never a panic or a wrong sum.
    #[test]
    fn extreme_values_never_panic(spec in spec(), digits in 16usize..=23) {
        // Up to 26 integer digits and 2 decimals: the largest amounts `Decimal` holds exactly.
        let huge = |c: u64| format!("{}{}.{:02}", c % 1000, "9".repeat(digits), c % 100);
        let product = load(&render(&spec, &huge));
        let engine = Engine::new(product.clone());
        for config in valid_configs(&engine).iter().take(50) {
            match pricing::quote(&product, &as_selection(&engine, config)) {
                Ok(q) => check_sums(&q),
                Err(PricingError::Overflow | PricingError::NegativeTotal { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        match pricing::range(&engine, &Selection::default()) {
            Ok(r) => prop_assert!(r.min <= r.max),
            Err(PricingError::Overflow | PricingError::NegativeTotal { .. } | PricingError::NoCompletion) => {}
            Err(e) => panic!("{e}"),
        }
    }
}
