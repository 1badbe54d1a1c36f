//! Shop CSV import at its boundaries: Shopify and WooCommerce fixtures and random variant tables round-trip (every variant valid at its price, every other combination invalid), errors, and `bespoke import csv` as a process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::sync::Arc;

use bespoke::catalog::model::{OptionKind, Product, Value};
use bespoke::catalog::{self};
use bespoke::merchant::csv::{CsvError, CsvImport, import_csv};
use bespoke::rules::{Engine, Selection};
use num_bigint::BigUint;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(common::repo().join("tests/fixtures/merchant").join(name)).unwrap()
}

/// Loads an import's files: they must load with zero diagnostics.
fn load(imp: &CsvImport) -> Arc<Product> {
    let r = catalog::load(&imp.files());
    assert!(
        r.diagnostics.is_empty(),
        "{}\n{}\n{}",
        r.render(),
        imp.product_yaml,
        imp.rules_yaml
    );
    r.catalog.unwrap().product(&imp.id).unwrap().clone()
}

/// Every combination of the product's choice values, as selections.
fn combinations(p: &Product) -> Vec<Selection> {
    let mut out = vec![Selection::default()];
    for (o, def) in p.options.iter().enumerate() {
        let OptionKind::Choice(c) = &def.kind else {
            panic!("imports write choice options only")
        };
        out = out
            .into_iter()
            .flat_map(|s| {
                (0..c.values.len()).map(move |i| {
                    let mut s = s.clone();
                    s.choices.push((o, Value::Choice(i)));
                    s
                })
            })
            .collect();
    }
    out
}

/// The round trip: sold variants valid at their CSV price, other combinations invalid, and the
/// count equal to the number of variants; each variant's quote is its CSV price. `sold` holds (source values per option, price).
fn round_trip(imp: &CsvImport, sold: &[(Vec<String>, Decimal)]) {
    let p = load(imp);
    let engine = Engine::new(p.clone());
    let mut valid = 0usize;
    for sel in combinations(&p) {
        let source: Vec<String> = sel
            .choices
            .iter()
            .map(|(o, v)| {
                let Value::Choice(i) = v else { unreachable!() };
                imp.options[*o].values[*i].1.clone()
            })
            .collect();
        let want = sold.iter().find(|(vals, _)| *vals == source);
        let ok = engine.validate(&sel).valid;
        assert_eq!(ok, want.is_some(), "{source:?}\n{}", imp.rules_yaml);
        if let Some((_, price)) = want {
            valid += 1;
            assert_eq!(
                bespoke::pricing::quote(&p, &sel).unwrap().total,
                *price,
                "{source:?}\n{}",
                imp.rules_yaml
            );
        }
    }
    assert_eq!(valid, sold.len());
    assert_eq!(
        engine.count(&Selection::default()).unwrap(),
        BigUint::from(sold.len())
    );
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn shopify_export_round_trips() {
    let imp = import_csv(&fixture("shopify-tee.csv"), "organic-tee").unwrap();
    assert_eq!(imp.name, "Organic Tee");
    assert_eq!(imp.base_price, d("25.00"));
    assert!(!imp.all_combinations);
    let sold = vec![
        (strings(&["S", "Black"]), d("25.00")),
        (strings(&["S", "White"]), d("25.00")),
        (strings(&["M", "Black"]), d("25.00")),
        (strings(&["M", "White"]), d("25.00")),
        (strings(&["L", "Black"]), d("27.50")),
        (strings(&["XL", "Black"]), d("29.90")),
    ];
    round_trip(&imp, &sold);
    assert!(
        imp.rules_yaml.contains("# SKU TEE-XL-BLK"),
        "{}",
        imp.rules_yaml
    );
    // The image-only row is not a variant.
    assert_eq!(imp.variants.len(), 6);
}

#[test]
fn a_product_sold_in_every_combination_needs_no_table() {
    let imp = import_csv(&fixture("shopify-tee.csv"), "canvas-bag").unwrap();
    assert!(imp.all_combinations);
    assert!(!imp.rules_yaml.contains("table:"));
    round_trip(&imp, &[(strings(&["Default Title"]), d("12.00"))]);
    // One option: the variant's SKU is the value's SKU.
    let p = load(&imp);
    let OptionKind::Choice(c) = &p.options[0].kind else {
        panic!()
    };
    assert_eq!(c.values[0].sku.as_deref(), Some("BAG-1"));
}

#[test]
fn several_products_need_a_choice() {
    let e = import_csv(&fixture("shopify-tee.csv"), "mug").unwrap_err();
    assert!(
        matches!(&e, CsvError::Products(m) if m.contains("organic-tee, canvas-bag")),
        "{e}"
    );
}

#[test]
fn woocommerce_export_round_trips_with_renamed_ids() {
    let imp = import_csv(&fixture("woo-mug.csv"), "mug").unwrap();
    assert_eq!(imp.name, "Enamel Mug");
    let ids: Vec<&str> = imp.options.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, vec!["gr__e", "farbe"]);
    assert!(
        imp.renamed
            .iter()
            .any(|r| r.source == "in" && r.id == "v_in")
    );
    round_trip(
        &imp,
        &[
            (strings(&["Klein", "Blau"]), d("9.50")),
            (strings(&["Klein", "Rot"]), d("9.50")),
            (strings(&["Groß", "Blau"]), d("12.00")),
            (strings(&["Groß", "in"]), d("12.75")),
        ],
    );
    assert!(imp.product_yaml.contains("base_price: \"9.50\""));
}

#[test]
fn bad_input_is_an_error_naming_the_row() {
    let head = "Handle,Title,Option1 Name,Option1 Value,Variant Price\n";
    let e = import_csv(&format!("{head}t,T,Size,S,\"12,50\"\n"), "t").unwrap_err();
    assert_eq!(
        e,
        CsvError::Row {
            row: 2,
            message: "`12,50` is not a price (write it as 19.90)".into()
        }
    );
    let e = import_csv(&format!("{head}t,T,Size,S,1.999\n"), "t").unwrap_err();
    assert!(matches!(e, CsvError::Row { row: 2, .. }), "{e}");
    let e = import_csv(&format!("{head}t,T,Size,S,5\nt,,,S,6\n"), "t").unwrap_err();
    assert!(
        matches!(&e, CsvError::Row { row: 3, message } if message.contains("another price")),
        "{e}"
    );
    let e = import_csv("Handle,Option1 Value\nt,S\n", "t").unwrap_err();
    assert!(matches!(e, CsvError::MissingColumn(_)));
    let e = import_csv("Handle,Variant Price\nt,5\n", "t").unwrap_err();
    assert!(matches!(e, CsvError::MissingColumn(_)));
    let e = import_csv(&format!("{head}t,T,Size,,5\n"), "t").unwrap_err();
    assert_eq!(e, CsvError::NoVariants);
    let e = import_csv(head, "Bad Id").unwrap_err();
    assert!(matches!(e, CsvError::ProductId(_)));
    // The same variant twice at one price is kept once, with a note.
    let imp = import_csv(&format!("{head}t,T,Size,S,5\nt,,,S,5\n"), "t").unwrap();
    assert_eq!(imp.variants.len(), 1);
    assert!(imp.report().contains("the same variant as row 2"));
}

/// A random shop product: 1–3 options of 1–4 values (names that need mapping included), a
/// non-empty subset of the combinations sold, prices in cents.
/// Options (name, values) and the sold combinations (index into the cartesian product, cents).
type Shop = (Vec<(String, Vec<String>)>, Vec<(usize, u32)>);

fn shop() -> impl Strategy<Value = Shop> {
    let name = prop::sample::select(vec![
        "Size", "Color", "Farbe", "Material", "in", "2 Tone", "Größe", "Color",
    ]);
    let value = prop::sample::select(vec![
        "S", "M", "L", "XL", "Rot", "in", "Groß", "10.5", "-3", "true", "a b", "Navy",
    ]);
    prop::collection::vec((name, prop::collection::btree_set(value, 1..=4)), 1..=3).prop_flat_map(
        |opts| {
            let opts: Vec<(String, Vec<String>)> = opts
                .into_iter()
                .map(|(n, vs)| (n.to_owned(), vs.into_iter().map(str::to_owned).collect()))
                .collect();
            let combos: usize = opts.iter().map(|(_, v)| v.len()).product();
            let sold = prop::collection::btree_map(0..combos, 0u32..100_000, 1..=combos)
                .prop_map(|m| m.into_iter().collect::<Vec<_>>());
            (Just(opts), sold)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_shops_round_trip((opts, sold) in shop()) {
        let mut csv = String::from("Handle,Title");
        for k in 1..=opts.len() {
            csv.push_str(&format!(",Option{k} Name,Option{k} Value"));
        }
        csv.push_str(",Variant SKU,Variant Price\n");
        let mut expected = Vec::new();
        for (n, (combo, cents)) in sold.iter().enumerate() {
            let mut rest = *combo;
            let mut values = Vec::new();
            for (_, vs) in opts.iter().rev() {
                values.push(vs[rest % vs.len()].clone());
                rest /= vs.len();
            }
            values.reverse();
            let price = Decimal::new(i64::from(*cents), 2);
            csv.push_str(if n == 0 { "shop-item,Shop Item" } else { "shop-item," });
            for (k, (name, _)) in opts.iter().enumerate() {
                let name = if n == 0 { name.as_str() } else { "" };
                csv.push_str(&format!(",{name},\"{}\"", values[k]));
            }
            csv.push_str(&format!(",SKU-{n},{price}\n"));
            expected.push((values, price));
        }
        let imp = import_csv(&csv, "shop-item").unwrap();
        round_trip(&imp, &expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// No input makes the importer panic; whatever it accepts loads without diagnostics.
    #[test]
    fn any_input_is_refused_or_loads(
        cells in prop::collection::vec(
            prop::sample::select(vec![
                "Handle", "Option1 Name", "Option1 Value", "Option2 Value", "Variant Price",
                "Type", "variable", "t", "S", "M", "5", "5.5", "x.y", "", "\"", ",", "\n", "é", "-1",
            ]),
            0..60,
        )
    ) {
        let text: String = cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i % 5 == 4 { format!("{c}\n") } else { format!("{c},") })
            .collect();
        if let Ok(imp) = import_csv(&text, "t") {
            let r = catalog::load(&imp.files());
            prop_assert!(r.diagnostics.is_empty(), "{}\n{}", r.render(), imp.product_yaml);
        }
    }
}

// ---- the command line ----

#[test]
fn import_csv_cli_writes_a_catalog_that_checks() {
    let dir = std::env::temp_dir().join(format!("bespoke-merchant-csv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let csv = common::repo().join("tests/fixtures/merchant/shopify-tee.csv");
    let out = dir.join("catalog/organic-tee.yaml");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_bespoke"))
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let args = [
        "import",
        "csv",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("imported `organic-tee`: 2 options, 6 variants"),
        "{stdout}"
    );
    assert!(dir.join("rules/organic-tee.yaml").exists());
    let (code, stdout, _) = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 errors, 0 warnings"), "{stdout}");
    // Existing files need --force.
    let (code, _, stderr) = run(&args);
    assert_eq!(code, 2);
    assert!(stderr.contains("use --force"), "{stderr}");
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(run(&forced).0, 0);
    // Usage errors: a bad --out, a CSV with several products and no match.
    let (code, _, stderr) = run(&[
        "import",
        "csv",
        csv.to_str().unwrap(),
        "--out",
        dir.join("x.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(&[
        "import",
        "csv",
        csv.to_str().unwrap(),
        "--out",
        dir.join("catalog/mug.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("holds 2 products"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
