//! Merchant-tool benchmarks: running the sample catalog's rule tests, diffing the sample catalog against an edited copy, and importing a shop CSV of about 2,000 variants (Shopify's limit is 2,048 per product).
//!
//! Run with `cargo bench --bench merchant`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use bespoke::catalog::{self, FileSet};
use bespoke::merchant::csv::import_csv;
use bespoke::merchant::diff::diff_catalogs;
use bespoke::merchant::tests::Suite;
use bespoke::rules::engine::DEFAULT_WORK_LIMIT;
use criterion::{Criterion, criterion_group, criterion_main};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rule_tests(c: &mut Criterion) {
    let cat = catalog::load_dir(&root()).unwrap().catalog.unwrap();
    let mut files = Vec::new();
    for e in std::fs::read_dir(root().join("rule-tests"))
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
    assert!(suite.diagnostics.is_empty());
    c.bench_function("rule_tests/sample_read", |b| {
        b.iter(|| Suite::read(&cat, &files))
    });
    c.bench_function("rule_tests/sample_run", |b| {
        b.iter(|| {
            let r = suite.run(DEFAULT_WORK_LIMIT, None);
            assert!(r.ok());
            r
        })
    });
}

fn diff(c: &mut Criterion) {
    let files = FileSet::from_dir(&root()).unwrap();
    let old = catalog::load(&files).catalog.unwrap();
    // Edit: one more value and a changed rule in the shared apparel rules (two products change).
    let mut edited = files.clone();
    let tee = String::from_utf8(files.get("catalog/classic-tee.yaml").unwrap().to_vec()).unwrap();
    edited.insert(
        "catalog/classic-tee.yaml",
        tee.replace(
            "values: [XS, S, M, L, XL, XXL]",
            "values: [XS, S, M, L, XL, XXL, XXXL]",
        ),
    );
    let apparel = String::from_utf8(files.get("rules/apparel.yaml").unwrap().to_vec()).unwrap();
    edited.insert(
        "rules/apparel.yaml",
        apparel.replace("len(front_text) <= 16", "len(front_text) <= 14"),
    );
    let new = catalog::load(&edited).catalog.unwrap();
    let d = diff_catalogs(&old, &new, DEFAULT_WORK_LIMIT);
    assert_eq!(d.changed.len(), 2);
    c.bench_function("diff/sample_vs_edited", |b| {
        b.iter(|| diff_catalogs(&old, &new, DEFAULT_WORK_LIMIT))
    });
}

fn csv(c: &mut Criterion) {
    // 20 sizes x 12 colours x 10 materials; 8 in 10 combinations sold (1,920), prices varying.
    let mut text = String::from(
        "Handle,Title,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Price\n",
    );
    let mut n = 0u32;
    for s in 0..20 {
        for col in 0..12 {
            for m in 0..10 {
                if (s * 7 + col * 3 + m) % 10 < 2 {
                    continue;
                }
                let first = n == 0;
                text.push_str(&format!(
                    "big,{},{},S{s},{},C{col},{},M{m},SKU-{n},{}.{:02}\n",
                    if first { "Big" } else { "" },
                    if first { "Size" } else { "" },
                    if first { "Colour" } else { "" },
                    if first { "Material" } else { "" },
                    20 + s,
                    (col * 4 + m) % 100
                ));
                n += 1;
            }
        }
    }
    let imp = import_csv(&text, "big").unwrap();
    assert_eq!(imp.variants.len(), n as usize);
    assert_eq!(n, 1920);
    let loaded = catalog::load(&imp.files());
    assert!(loaded.diagnostics.is_empty(), "{}", loaded.render());
    let mut g = c.benchmark_group("csv_import");
    g.sample_size(10);
    g.bench_function("1920_variants", |b| {
        b.iter(|| import_csv(&text, "big").unwrap())
    });
    g.bench_function("1920_variants_and_load", |b| {
        b.iter(|| catalog::load(&import_csv(&text, "big").unwrap().files()))
    });
    g.finish();
}

criterion_group!(benches, rule_tests, diff, csv);
criterion_main!(benches);
