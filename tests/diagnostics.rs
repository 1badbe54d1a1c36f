//! Every diagnostic code has a fixture: a broken catalog whose rendered diagnostics are snapshot-tested.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bespoke::catalog::{self, Code};

/// Loads a fixture and analyses its products, as `bespoke check` does.
fn check(text: &str) -> catalog::LoadResult {
    let limit = text
        .lines()
        .find_map(|l| l.strip_prefix("# work-limit: "))
        .map_or(bespoke::rules::analyze::ANALYSIS_WORK_LIMIT, |n| {
            n.trim().parse().unwrap()
        });
    let files = common::with_fonts(common::fixture_files(text));
    let mut result = catalog::load(&files);
    bespoke::rules::analyze::check_catalog(&mut result, limit);
    bespoke::pricing::overlap::check_catalog(&mut result, limit);
    result
}

fn fixture(code: Code) -> String {
    let path = common::repo().join(format!("tests/fixtures/diagnostics/{}.txt", code.as_str()));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} has no fixture at {}", code, path.display()))
}

#[test]
fn every_code_has_a_fixture_that_reports_it() {
    let mut missing = Vec::new();
    for &code in Code::ALL {
        let result = check(&fixture(code));
        if !result.diagnostics.iter().any(|d| d.code == code) {
            missing.push(format!(
                "{code}: got {:?}",
                result
                    .diagnostics
                    .iter()
                    .map(|d| d.code.as_str())
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures that do not report their code:\n{}",
        missing.join("\n")
    );
}

#[test]
fn rendered_diagnostics_match_snapshots() {
    for &code in Code::ALL {
        let result = check(&fixture(code));
        let rendered = result.render();
        insta::assert_snapshot!(code.as_str(), rendered);
    }
}

#[test]
fn json_diagnostics_carry_location_code_and_help() {
    let files = common::fixture_files(&fixture(Code::UnknownKey));
    let result = catalog::load(&files);
    let json = result.sources.to_json(&result.diagnostics);
    let d = &json[0];
    assert_eq!(d["code"], "E006");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "catalog/mug.yaml");
    assert_eq!(d["line"], 5);
    assert_eq!(d["column"], 1);
    assert_eq!(d["help"], "did you mean `description`?");
}

#[test]
fn loading_reports_every_problem_not_just_the_first() {
    let text = "=== catalog/a.yaml\nid: a\nname: A\ncurrency: EURO\nbase_price: \"1.999\"\ncolour: red\noptions:\n  size: { type: choice, values: [S, M], default: XL }\n  width: { type: integer, min: 10, max: 5 }\n=== catalog/b.yaml\nid: B b\nname: B\ncurrency: EUR\nbase_price: \"1\"\noptions:\n  x: { type: boolean }\n";
    let result = catalog::load(&common::fixture_files(text));
    let codes: Vec<&str> = result.diagnostics.iter().map(|d| d.code.as_str()).collect();
    for c in ["E027", "E006", "E017", "E016", "E009"] {
        assert!(codes.contains(&c), "{c} missing from {codes:?}");
    }
    assert!(result.catalog.is_none());
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(common::repo().join("docs/diagnostics.md")).unwrap();
    for &code in Code::ALL {
        assert!(
            doc.contains(&format!("| {} |", code.as_str())),
            "{code} is missing from docs/diagnostics.md"
        );
    }
}
