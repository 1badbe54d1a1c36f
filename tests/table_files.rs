//! Variant tables in CSV/TSV files under rules/: they load as the same table their YAML form
//! gives, bad cells are located at file:line:column, and missing files or flags are reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::catalog;
use bespoke::rules::{Engine, Selection};

const PRODUCT: &str = "=== catalog/car.yaml
id: car
name: Car
currency: EUR
base_price: \"1.00\"
rules: [rules/car.yaml]
options:
  engine: { type: choice, values: [petrol, diesel, electric] }
  gearbox: { type: choice, values: [manual, auto] }
  towbar: { type: boolean }
";

/// A rules file whose one rule allows the rows of `rules/variants.csv`.
const ALLOW_CSV: &str = "constraints:
  - id: variants
    message: Not a variant we build.
    table: rules/variants.csv
    allow: true
";

fn load(rules: &str, extra: &[(&str, &str)]) -> catalog::LoadResult {
    let mut files = common::fixture_files(&format!("{PRODUCT}=== rules/car.yaml\n{rules}"));
    for (path, text) in extra {
        files.insert(*path, text.as_bytes().to_vec());
    }
    catalog::load(&files)
}

fn engine(r: catalog::LoadResult) -> Engine {
    assert!(!r.has_errors(), "{}", r.render());
    Engine::new(r.catalog.unwrap().products()[0].clone())
}

fn answers(e: &Engine) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![(
        "count".to_owned(),
        vec![usize::try_from(e.count(&Selection::default()).unwrap()).unwrap()],
    )];
    for (o, v) in [
        ("engine", "petrol"),
        ("engine", "electric"),
        ("gearbox", "manual"),
        ("towbar", "true"),
    ] {
        let sel = Selection::parse(&e.product, &[(o.to_owned(), v.to_owned())]).unwrap();
        for other in ["engine", "gearbox", "towbar"] {
            let id = e.product.option(other).unwrap().0;
            out.push((
                format!("{o}={v} → {other}"),
                e.available_values(&sel, id).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn a_csv_table_is_the_table_its_yaml_form_is() {
    let yaml = engine(load(
        "constraints:
  - id: variants
    message: Not a variant we build.
    table: [engine, gearbox, towbar]
    allow:
      - [petrol, \"*\", \"*\"]
      - [diesel, [manual, auto], true]
      - [electric, auto, false]
",
        &[],
    ));
    let csv = engine(load(
        ALLOW_CSV,
        &[(
            "rules/variants.csv",
            "engine,gearbox,towbar\r\npetrol,*,*\r\n\r\ndiesel,\"manual|auto\",true\r\nelectric, auto ,false\r\n",
        )],
    ));
    assert_eq!(answers(&csv), answers(&yaml));
    assert_eq!(answers(&csv)[0].1, vec![2 * 2 + 2 + 1]);
}

#[test]
fn a_tsv_table_of_forbidden_rows() {
    let e = engine(load(
        "constraints:
  - id: no-towbar-electric
    message: Electric cars have no towbar.
    table: rules/forbidden.tsv
    forbid: true
",
        &[("rules/forbidden.tsv", "towbar\tengine\ntrue\telectric\n")],
    ));
    let sel = Selection::parse(&e.product, &[("engine".into(), "electric".into())]).unwrap();
    let towbar = e.product.option("towbar").unwrap().0;
    assert_eq!(
        e.available_values(&sel, towbar).unwrap(),
        vec![0],
        "only false"
    );
}

#[test]
fn bad_cells_are_located_in_the_table_file() {
    let r = load(
        ALLOW_CSV,
        &[(
            "rules/variants.csv",
            "engine,gearbox,towbar\npetrol,*,*\ndiesel,manual|atuo,true\nelectric,auto\nhybrid,auto,false\n",
        )],
    );
    let text = r.render();
    assert!(r.has_errors(), "{text}");
    assert!(!text.contains("E007"), "a table file is not YAML: {text}");
    assert!(
        text.contains("rules/variants.csv:3:15"),
        "the misspelt `atuo`: {text}"
    );
    assert!(text.contains("did you mean `auto`?"), "{text}");
    assert!(
        text.contains("rules/variants.csv:4:1"),
        "the short row: {text}"
    );
    assert!(
        text.contains("rules/variants.csv:5:1"),
        "the unknown engine: {text}"
    );
    let r = load(
        ALLOW_CSV,
        &[("rules/variants.csv", "engine,gear\npetrol,manual\n")],
    );
    let text = r.render();
    assert!(
        text.contains("rules/variants.csv:1:8"),
        "unknown option: {text}"
    );
    assert!(text.contains("E011"), "{text}");
}

#[test]
fn a_huge_unknown_cell_is_quoted_short_and_located() {
    // A pasted blob in a cell: the message quotes its start and size, the span locates it.
    let blob = "é".repeat(50_000);
    let csv = format!("engine,gearbox,towbar\npetrol,auto,true\n{blob},manual,false\n");
    let r = load(ALLOW_CSV, &[("rules/variants.csv", &csv)]);
    assert!(r.has_errors());
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.message.contains("is not a value of `engine`"))
        .unwrap_or_else(|| panic!("{}", r.render()));
    assert!(d.message.len() < 300, "{}", d.message);
    assert!(d.message.contains("(100000 bytes in all)"), "{}", d.message);
    assert!(
        d.message.starts_with(&format!("`{}…", "é".repeat(64))),
        "{}",
        d.message
    );
    let text = r.render();
    assert!(text.contains("rules/variants.csv:3:1"), "located");
    // A short unknown value is still quoted whole, with its suggestion.
    let r = load(
        ALLOW_CSV,
        &[(
            "rules/variants.csv",
            "engine,gearbox,towbar\npetrl,auto,true\n",
        )],
    );
    let text = r.render();
    assert!(
        text.contains("`petrl` is not a value of `engine`"),
        "{text}"
    );
    assert!(text.contains("did you mean `petrol`?"), "{text}");
}

#[test]
fn a_missing_file_or_flag_is_reported_at_the_rule() {
    let r = load(
        "constraints:
  - id: variants
    message: Not a variant we build.
    table: rules/nowhere.csv
    allow: true
",
        &[],
    );
    let text = r.render();
    assert!(text.contains("E018"), "{text}");
    assert!(text.contains("rules/car.yaml:4:12"), "{text}");
    let r = load(
        "constraints:
  - id: variants
    message: Not a variant we build.
    table: rules/variants.csv
",
        &[("rules/variants.csv", "engine\npetrol\n")],
    );
    let text = r.render();
    assert!(
        text.contains("exactly one of `allow: true` or `forbid: true`"),
        "{text}"
    );
}
