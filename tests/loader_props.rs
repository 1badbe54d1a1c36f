//! Property tests: the loader never panics, whatever bytes or mutations of a real catalog it is given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::catalog::{self, FileSet};
use proptest::prelude::*;

fn sample_product() -> String {
    std::fs::read_to_string(common::repo().join("tests/fixtures/diagnostics/E011.txt")).unwrap()
}

fn load_yaml(product: &[u8], rules: &[u8]) {
    let mut files = FileSet::new();
    files.insert("catalog/p.yaml", product.to_vec());
    files.insert("rules/mug.yaml", rules.to_vec());
    let result = catalog::load(&files);
    // Rendering must not panic either, whatever spans came out.
    let _ = result.render();
    let _ = result.sources.to_json(&result.diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(product in proptest::collection::vec(any::<u8>(), 0..512), rules in proptest::collection::vec(any::<u8>(), 0..256)) {
        load_yaml(&product, &rules);
    }

    #[test]
    fn yamlish_text_never_panics(product in "[a-z_:{}\\[\\]\\-,&*!|>\"' \n#0-9.%=<]{0,300}") {
        load_yaml(product.as_bytes(), b"constraints: []\n");
    }

    #[test]
    fn mutated_catalog_never_panics(ops in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<char>()), 1..8)) {
        let files = common::fixture_files(&sample_product());
        let mut product = String::from_utf8(files.get("catalog/mug.yaml").unwrap().to_vec()).unwrap();
        let mut rules = String::from_utf8(files.get("rules/mug.yaml").unwrap().to_vec()).unwrap();
        for (i, (idx, op, ch)) in ops.into_iter().enumerate() {
            let target = if i % 2 == 0 { &mut product } else { &mut rules };
            let chars: Vec<char> = target.chars().collect();
            if chars.is_empty() { continue; }
            let at = idx.index(chars.len());
            let mut c = chars.clone();
            match op {
                0 => { c.remove(at); }
                1 => c.insert(at, ch),
                2 => c[at] = ch,
                _ => { let line: String = c.iter().collect(); let dup = line.lines().nth(at % line.lines().count().max(1)).unwrap_or("").to_owned(); c.extend(format!("\n{dup}\n").chars()); }
            }
            *target = c.into_iter().collect();
        }
        load_yaml(product.as_bytes(), rules.as_bytes());
    }

    #[test]
    fn expressions_never_panic(expr in "[a-z_ ()\\[\\],=!<>+*\\-0-9\"]{0,80}") {
        let text = format!("=== catalog/mug.yaml\nid: mug\nname: Mug\ncurrency: EUR\nbase_price: \"9.00\"\nrules: [rules/mug.yaml]\noptions:\n  color: {{ type: choice, values: [white, black] }}\n  w: {{ type: integer, min: 1, max: 9 }}\n  t: {{ type: text, max_length: 5 }}\n  b: {{ type: boolean }}\n=== rules/mug.yaml\nconstraints:\n  - id: r\n    message: m\n    require: '{}'\n", expr.replace('\'', ""));
        let result = catalog::load(&common::fixture_files(&text));
        let _ = result.render();
    }
}
