//! Merchant tools at their boundaries: rule tests (library and `bespoke test`), catalog diffs on fixture pairs (library and `bespoke diff`), and the stored-order impact check over in-memory orders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use bespoke::catalog::{self, Catalog};
use bespoke::merchant::diff::{
    Count, OrderImpact, StoredOrder, check_orders, diff_catalogs, orders_text, quoted_total,
};
use bespoke::merchant::tests::Suite;
use num_bigint::BigUint;
use rust_decimal::Decimal;

use common::bespoke;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(common::repo().join("tests/fixtures/merchant").join(name)).unwrap()
}

fn load(text: &str) -> Catalog {
    let r = catalog::load(&common::fixture_files(text));
    assert!(!r.has_errors(), "{}", r.render());
    r.catalog.unwrap()
}

/// Writes a fixture catalog (and optional rule-test files) into a fresh temporary directory.
fn write_dir(name: &str, text: &str, tests: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bespoke-merchant-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = common::fixture_files(text);
    for p in files.paths() {
        let target = dir.join(p);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, files.get(p).unwrap()).unwrap();
    }
    for (file, body) in tests {
        std::fs::create_dir_all(dir.join("rule-tests")).unwrap();
        std::fs::write(dir.join("rule-tests").join(file), body).unwrap();
    }
    dir
}

fn line_of(text: &str, needle: &str) -> u32 {
    let i = text.find(needle).unwrap();
    u32::try_from(text[..i].matches('\n').count() + 1).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- rule tests ----

#[test]
fn sample_catalog_rule_tests_cover_every_product_and_pass() {
    let repo = common::repo();
    let cat = catalog::load_dir(&repo).unwrap().catalog.unwrap();
    let mut files = Vec::new();
    for e in std::fs::read_dir(repo.join("rule-tests"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        files.push((
            format!("rule-tests/{name}"),
            std::fs::read_to_string(e.path()).unwrap(),
        ));
    }
    let suite = Suite::read(&cat, &files);
    assert!(
        suite.diagnostics.is_empty(),
        "{}",
        suite.sources.render(&suite.diagnostics)
    );
    let mut covered: Vec<&str> = suite.files.iter().map(|f| f.product.id.as_str()).collect();
    covered.sort_unstable();
    let mut all: Vec<&str> = cat.products().iter().map(|p| p.id.as_str()).collect();
    all.sort_unstable();
    assert_eq!(covered, all);
    assert!(suite.case_count() >= 30);
    let report = suite.run(bespoke::rules::engine::DEFAULT_WORK_LIMIT, None);
    assert!(report.ok(), "{}", report.to_text());
    assert_eq!(report.passed(), suite.case_count());

    let (code, out, err) = bespoke(&["test", "--catalog", s(&repo)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "test result: ok. {} passed; 0 failed",
            suite.case_count()
        )),
        "{out}"
    );
}

#[test]
fn failing_cases_report_what_was_expected_and_where() {
    let cat = load(&fixture("mug-old.txt"));
    let text = fixture("mug-tests.yaml");
    let suite = Suite::read(&cat, &[("rule-tests/mug.yaml".into(), text.clone())]);
    assert!(
        suite.diagnostics.is_empty(),
        "{}",
        suite.sources.render(&suite.diagnostics)
    );
    let report = suite.run(bespoke::rules::engine::DEFAULT_WORK_LIMIT, None);
    assert_eq!(
        (report.passed(), report.failed()),
        (1, 5),
        "{}",
        report.to_text()
    );
    let by_name = |n: &str| report.results.iter().find(|r| r.name == n).unwrap();
    assert!(by_name("green is not for large mugs").passed());

    let r = by_name("wrong availability");
    assert_eq!(r.line, line_of(&text, "- name: wrong availability"));
    assert_eq!(r.failures.len(), 1);
    let f = &r.failures[0];
    assert_eq!(
        (f.check, f.line),
        ("available", line_of(&text, "available: { color: [green] }"))
    );
    assert_eq!(
        f.message,
        "expected color=green to be available, but it is unavailable because of [no-green-large, size=L]"
    );

    let f = &by_name("wrong count").failures[0];
    assert_eq!(f.check, "count");
    assert_eq!(f.message, "expected 99 valid configurations, found 13");

    let f = &by_name("wrong explanation").failures[0];
    assert_eq!(f.check, "unavailable");
    assert!(
        f.message.contains("because of [no-green-large]"),
        "{}",
        f.message
    );
    assert!(f.message.contains("are [lid-not-small]"), "{}", f.message);

    let f = &by_name("wrong price").failures[0];
    assert_eq!(f.check, "price");
    assert!(
        f.message
            .starts_with("expected a total of 11.00, the quote is 10.00 ("),
        "{}",
        f.message
    );

    let f = &by_name("wrong validity").failures[0];
    assert_eq!(f.check, "valid");
    assert_eq!(
        f.message,
        "expected the configuration to be invalid, but it is valid"
    );

    // The same through the CLI: exit 1, readable text, and JSON for CI.
    let dir = write_dir("failing", &fixture("mug-old.txt"), &[("mug.yaml", &text)]);
    let (code, out, err) = bespoke(&["test", "--catalog", s(&dir)]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("test result: FAILED. 1 passed; 5 failed"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "rule-tests/mug.yaml:{}:5: count: expected 99 valid configurations, found 13",
            line_of(&text, "count: 99")
        )),
        "{out}"
    );
    let (code, out, _) = bespoke(&["test", "--catalog", s(&dir), "--json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["failed"], 5);
    assert_eq!(doc["tests"].as_array().unwrap().len(), 6);
    // A filter runs only the matching cases.
    let (code, out, _) = bespoke(&["test", "green", "--catalog", s(&dir)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed; 0 failed"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_rule_tests_are_diagnosed_with_locations() {
    let cat = load(&fixture("mug-old.txt"));
    let text = fixture("bad-tests.yaml");
    let suite = Suite::read(&cat, &[("rule-tests/bad.yaml".into(), text.clone())]);
    let found: Vec<(&str, u32)> = suite
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.span.line))
        .collect();
    assert_eq!(
        found,
        vec![
            ("E011", line_of(&text, "colour")),
            ("E006", line_of(&text, "avalable")),
            ("E011", line_of(&text, "no-green-larg]")),
        ]
    );
    let rendered = suite.sources.render(&suite.diagnostics);
    assert!(rendered.contains("did you mean `color`?"), "{rendered}");
    assert!(rendered.contains("did you mean `available`?"), "{rendered}");
    assert!(
        rendered.contains("did you mean `no-green-large`?"),
        "{rendered}"
    );
    // The well-formed case still runs.
    assert_eq!(suite.case_count(), 1);
    assert!(suite.run(1_000_000, None).ok());

    // YAML syntax errors and unknown products.
    let broken = "product: mug\ntests:\n  - name: x\n    given: { size: [S }\n";
    let suite = Suite::read(&cat, &[("rule-tests/broken.yaml".into(), broken.into())]);
    assert_eq!(suite.diagnostics.len(), 1);
    assert_eq!(suite.diagnostics[0].code.as_str(), "E003");
    let suite = Suite::read(
        &cat,
        &[(
            "rule-tests/p.yaml".into(),
            "product: mugs\ntests: []\n".into(),
        )],
    );
    assert_eq!(suite.diagnostics.len(), 1);
    assert!(
        suite
            .sources
            .render(&suite.diagnostics)
            .contains("did you mean `mug`?")
    );

    // CLI: diagnostics on stderr with file:line:column, exit 1.
    let dir = write_dir("malformed", &fixture("mug-old.txt"), &[("bad.yaml", &text)]);
    let (code, out, err) = bespoke(&["test", "--catalog", s(&dir)]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "rule-tests/bad.yaml:{}:",
            line_of(&text, "colour")
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn test_without_rule_tests_is_a_usage_error() {
    let dir = write_dir("none", &fixture("mug-old.txt"), &[]);
    let (code, _, err) = bespoke(&["test", "--catalog", s(&dir)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no rule tests"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- diff ----

#[test]
fn diff_reports_options_values_counts_and_rules() {
    let old = load(&fixture("mug-old.txt"));
    let new = load(&fixture("mug-new.txt"));
    let d = diff_catalogs(&old, &new, 1_000_000);
    let ids = |v: &[bespoke::merchant::diff::ProductCount]| {
        v.iter().map(|p| p.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&d.added), vec!["cup"]);
    assert_eq!(ids(&d.removed), vec!["bowl"]);
    assert_eq!(d.added[0].count, Count::Exact(BigUint::from(2u8)));
    assert_eq!(d.unchanged, vec!["plate"]);
    assert_eq!(d.changed.len(), 1);
    let m = &d.changed[0];
    assert_eq!(m.id, "mug");
    assert_eq!(m.options_added, vec!["handle"]);
    assert_eq!(m.options_removed, vec!["lid"]);
    assert_eq!(m.values_added, vec![("size".to_owned(), "XL".to_owned())]);
    assert_eq!(m.values_removed, vec![("size".to_owned(), "S".to_owned())]);
    // Hand-counted: old 3 sizes x 3 colours x lid, minus L+green (2), minus lid on S (3) = 13;
    // new 3 x 3 x 2 handles, minus L/XL+green (4), minus square in red/green (4 left) = 10.
    assert_eq!(m.count_before, Count::Exact(BigUint::from(13u8)));
    assert_eq!(m.count_after, Count::Exact(BigUint::from(10u8)));
    assert_eq!(m.rules_added, vec!["square-handle-blue"]);
    assert_eq!(m.rules_removed, vec!["lid-not-small"]);
    assert_eq!(m.rules_changed, vec!["no-green-large"]);
    assert!(m.base_price_changed);
    let ten = Decimal::new(1000, 2);
    let twelve = Decimal::new(1200, 2);
    assert_eq!(m.prices_before, Some((ten, ten)));
    assert_eq!(m.prices_after, Some((twelve, twelve)));

    // The same catalog compared with itself: nothing changed.
    let same = diff_catalogs(&old, &old, 1_000_000);
    assert!(same.is_empty());
    assert_eq!(same.unchanged.len(), 3);
}

#[test]
fn a_rule_moved_or_options_reordered_is_not_a_change() {
    let old = load(&fixture("mug-old.txt"));
    // Same rules, other file layout and option order; only a comment differs in the rules.
    let moved = fixture("mug-old.txt")
        .replace(
            "  size: { type: choice, values: [S, M, L], default: M }\n  color: { type: choice, values: [red, blue, green], default: red }\n",
            "  color: { type: choice, values: [red, blue, green], default: red }\n  size: { type: choice, values: [S, M, L], default: M }\n",
        )
        .replace("constraints:\n", "# reordered\nconstraints:\n");
    let new = load(&moved);
    let d = diff_catalogs(&old, &new, 1_000_000);
    assert_eq!(
        d.changed.len(),
        1,
        "the version changed, so the product is compared"
    );
    let m = &d.changed[0];
    assert!(m.rules_changed.is_empty() && m.rules_added.is_empty() && m.rules_removed.is_empty());
    assert!(m.options_added.is_empty() && m.values_added.is_empty());
    assert_eq!(m.count_before, m.count_after);
}

#[test]
fn stored_orders_now_invalid_or_repriced_are_found() {
    let new = load(&fixture("mug-new.txt"));
    let order = |id: &str, product: &str, choices: &[(&str, &str)], total: &str| StoredOrder {
        id: id.into(),
        product: product.into(),
        choices: choices
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        total: Some(total.parse().unwrap()),
    };
    let orders = vec![
        order("o1", "mug", &[("size", "M"), ("color", "red")], "10.00"),
        order("o2", "mug", &[("size", "S"), ("color", "red")], "10.00"),
        order("o3", "plate", &[("rim", "gold")], "8.00"),
        order("o4", "bowl", &[("depth", "deep")], "9.00"),
        order(
            "o5",
            "mug",
            &[("size", "L"), ("color", "green"), ("handle", "square")],
            "12.00",
        ),
        order(
            "o6",
            "mug",
            &[("size", "M"), ("color", "blue"), ("handle", "square")],
            "12.00",
        ),
        order(
            "o7",
            "mug",
            &[("size", "M"), ("color", "blue"), ("handle", "round")],
            "10.00",
        ),
    ];
    // In-memory pricing: the product's base price (the real quote plugs in the same way).
    let price = |p: &bespoke::catalog::Product,
                 _: &bespoke::rules::Selection|
     -> Result<Decimal, String> { Ok(p.base_price) };
    let found = check_orders(&new, &orders, &price);
    let by = |id: &str| {
        found
            .iter()
            .find(|f| f.order == id)
            .map(|f| f.impacts.clone())
    };
    assert_eq!(
        by("o1").unwrap(),
        vec![OrderImpact::Invalid {
            violated: vec![],
            missing: vec!["handle".into()]
        }],
        "an invalid order is not re-priced"
    );
    assert_eq!(
        by("o7").unwrap(),
        vec![OrderImpact::Repriced {
            before: "10.00".parse().unwrap(),
            after: "12.00".parse().unwrap()
        }]
    );
    assert!(
        matches!(by("o2").unwrap().as_slice(), [OrderImpact::Unreadable(e)] if e.contains("`S` is not a value of `size`"))
    );
    assert_eq!(by("o3"), None, "unchanged orders are not reported");
    assert_eq!(by("o4").unwrap(), vec![OrderImpact::ProductRemoved]);
    assert_eq!(
        by("o5").unwrap(),
        vec![OrderImpact::Invalid {
            violated: vec!["no-green-large".into(), "square-handle-blue".into()],
            missing: vec![]
        }]
    );
    assert_eq!(by("o6"), None);
    let text = orders_text(&found);
    assert!(
        text.contains("order o1 (mug): now invalid: misses handle"),
        "{text}"
    );
    assert!(
        text.contains("order o7 (mug): priced differently: 10.00 -> 12.00"),
        "{text}"
    );
    // With the pricing engine's quote: the new mug costs 12.00.
    let mut o6 = orders[5].clone();
    assert!(check_orders(&new, [&o6], &quoted_total).is_empty());
    o6.total = Some("11.00".parse().unwrap());
    assert_eq!(
        check_orders(&new, [&o6], &quoted_total)[0].impacts,
        vec![OrderImpact::Repriced {
            before: "11.00".parse().unwrap(),
            after: "12.00".parse().unwrap()
        }]
    );
    // Without a stored total the price is not compared.
    let mut o7 = orders[6].clone();
    o7.total = None;
    assert!(check_orders(&new, [&o7], &price).is_empty());
}

#[test]
fn diff_cli_text_and_json() {
    let old = write_dir("diff-old", &fixture("mug-old.txt"), &[]);
    let new = write_dir("diff-new", &fixture("mug-new.txt"), &[]);
    let (code, out, err) = bespoke(&["diff", s(&old), s(&new)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("+ cup: new product, 2 configurations"),
        "{out}"
    );
    assert!(
        out.contains("- bowl: removed (had 2 configurations)"),
        "{out}"
    );
    assert!(out.contains("~ mug: changed"), "{out}");
    assert!(out.contains("    configurations: 13 -> 10"), "{out}");
    assert!(
        out.contains("    prices: 10.00 to 10.00 -> 12.00 to 12.00"),
        "{out}"
    );
    assert!(out.contains("    values removed: size=S"), "{out}");
    assert!(
        out.contains("1 added, 1 removed, 1 changed, 1 unchanged"),
        "{out}"
    );
    let (code, out, _) = bespoke(&["diff", s(&old), s(&new), "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["changed"][0]["count_before"], "13");
    assert_eq!(doc["changed"][0]["count_after"], "10");
    assert_eq!(doc["changed"][0]["rules_changed"][0], "no-green-large");
    // A directory that is not a catalog is a usage error; a catalog with errors exits 1.
    let (code, _, _) = bespoke(&["diff", s(&old), "/nonexistent-bespoke-dir"]);
    assert_eq!(code, 2);
    std::fs::write(new.join("catalog/cup.yaml"), "id: cup\n").unwrap();
    let (code, _, err) = bespoke(&["diff", s(&old), s(&new)]);
    assert_eq!(code, 1, "{err}");
    let _ = std::fs::remove_dir_all(&old);
    let _ = std::fs::remove_dir_all(&new);
}

#[test]
fn diff_checks_the_open_orders_of_a_database() {
    let old_dir = write_dir("db-old", &fixture("mug-old.txt"), &[]);
    let new_dir = write_dir("db-new", &fixture("mug-new.txt"), &[]);
    let db_path = std::env::temp_dir().join(format!(
        "bespoke-merchant-{}-orders.sqlite",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&db_path);
    let url = format!("sqlite://{}", db_path.display());
    let db = bespoke::db::Db::connect(&url).unwrap();
    // Orders as the service stores them: the normalized selection and the quote's JSON.
    let old = load(&fixture("mug-old.txt"));
    let place = |key: &str, product: &str, choices: &[(&str, &str)]| {
        let p = old.product(product).unwrap();
        let pairs: Vec<(String, String)> = choices
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let sel = bespoke::rules::Selection::parse(p, &pairs).unwrap();
        let quote = bespoke::pricing::quote(p, &sel).unwrap();
        let selection: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        let (order, _) = db
            .create_order(bespoke::orders::NewOrder {
                idempotency_key: key.into(),
                fingerprint: key.into(),
                product_id: product.into(),
                catalog_version: old.version.clone(),
                selection: serde_json::Value::Object(selection),
                quote: serde_json::to_value(&quote).unwrap(),
                preview_ref: None,
                customer_ref: None,
                metadata: serde_json::Value::Null,
                design_id: None,
                filled: Vec::new(),
                fulfilment: serde_json::Value::Null,
            })
            .unwrap();
        order
    };
    let a = place(
        "a",
        "mug",
        &[("size", "M"), ("color", "red"), ("lid", "false")],
    );
    let b = place("b", "mug", &[("size", "M"), ("color", "blue")]);
    place("c", "plate", &[("rim", "gold")]);
    let d = place("d", "bowl", &[("depth", "deep")]);
    db.transition(&d.id, bespoke::orders::Status::Cancelled, d.version, None)
        .unwrap();
    drop(db);

    let (code, out, err) = bespoke(&["diff", s(&old_dir), s(&new_dir), "--database-url", &url]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "order {} (mug): its choices no longer read: unknown option `lid`",
            a.id
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("order {} (mug): now invalid: misses handle", b.id)),
        "{out}"
    );
    assert!(!out.contains("cannot be priced"), "{out}");
    assert!(out.contains("2 of 3 open orders affected"), "{out}");
    assert!(
        !out.contains(&d.id),
        "cancelled orders are not checked: {out}"
    );

    let (code, out, _) = bespoke(&[
        "diff",
        s(&old_dir),
        s(&new_dir),
        "--database-url",
        &url,
        "--json",
    ]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["orders"]["checked"], 3);
    let affected = doc["orders"]["affected"].as_array().unwrap();
    assert_eq!(affected.len(), 2);
    let kinds: Vec<&str> = affected[1]["impacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["invalid"]);

    // An unreachable database is an error, not an empty report.
    let (code, _, err) = bespoke(&[
        "diff",
        s(&old_dir),
        s(&new_dir),
        "--database-url",
        "mysql://h/db",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reading orders"), "{err}");
    let _ = std::fs::remove_file(&db_path);
    let _ = std::fs::remove_dir_all(&old_dir);
    let _ = std::fs::remove_dir_all(&new_dir);
}
