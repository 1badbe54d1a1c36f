//! Deeply nested SVG never aborts the process: every entry point (`bespoke check`, admin check,
//! startup, reload, the watcher) answers a diagnostic, and they agree; the nesting scan agrees
//! with a real XML parser on random documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use actix_web::http::StatusCode;
use actix_web::test as web_test;
use bespoke::catalog::preview::{MAX_SVG_DEPTH, check_xml_depth};
use common::http::{ADMIN, TestApp, send};
use proptest::prelude::*;
use serde_json::json;

/// An SVG whose `<g>` elements nest `depth` levels under the root (and keeps the sample's ids
/// out: it is a template with no bindings).
fn nested_svg(depth: usize) -> String {
    let mut s = String::from(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" viewBox="0 0 10 10">"#,
    );
    s.push_str(&"<g>".repeat(depth));
    s.push_str(r#"<rect width="1" height="1"/>"#);
    s.push_str(&"</g>".repeat(depth));
    s.push_str("</svg>");
    s
}

/// A catalog directory: the sample, plus a product whose template nests `depth` levels.
fn catalog_with_deep_template(dir: &std::path::Path, depth: usize) {
    common::copy_sample(dir);
    std::fs::write(
        dir.join("catalog/deep.yaml"),
        "id: deep\nname: Deep\ncurrency: EUR\nbase_price: \"1.00\"\noptions:\n  size: { type: choice, values: [s, m], default: s }\npreview:\n  template: assets/deep.svg\n  size: [10, 10]\n",
    )
    .unwrap();
    std::fs::write(dir.join("assets/deep.svg"), nested_svg(depth)).unwrap();
}

#[test]
fn the_cli_check_reports_a_deep_template() {
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    catalog_with_deep_template(&dir, 5000);
    let (code, out, err) = common::bespoke(&["check", &dir.to_string_lossy()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("nested more than 256 levels"),
        "{out}{err}"
    );
}

#[test]
fn startup_refuses_a_deep_template_with_a_diagnostic() {
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    catalog_with_deep_template(&dir, 5000);
    let settings = common::http::settings(&dir, &db);
    match bespoke::app::App::start(settings) {
        Err(bespoke::app::AppError::CatalogRejected(r)) => {
            assert!(
                r.diagnostics
                    .iter()
                    .any(|d| d.message.contains("nested more than")),
                "{r:?}"
            );
        }
        other => panic!("expected a rejection, got {:?}", other.map(|_| ())),
    }
}

/// Admin check, admin reload and the watcher (a save picked up on its own thread) all answer
/// with the diagnostic, and the serving version stays.
#[actix_web::test]
async fn admin_check_reload_and_the_watcher_answer_with_a_diagnostic() {
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    common::copy_sample(&dir);
    let app = TestApp::start_in(db, &dir, |s| s.watch = true);
    let _watcher = bespoke::app::watch::watch(app.0.clone().into_inner()).unwrap();
    let serving = app.snapshot().version().to_owned();
    let auth = ("Authorization", format!("Bearer {ADMIN}"));
    let deep = nested_svg(20_000);
    let r = send(
        &app,
        web_test::TestRequest::post()
            .uri("/v1/admin/check")
            .insert_header(auth.clone())
            .set_json(json!({"files": {
                "catalog/deep.yaml": "id: deep\nname: Deep\ncurrency: EUR\nbase_price: \"1.00\"\noptions:\n  size: { type: choice, values: [s, m], default: s }\npreview:\n  template: assets/deep.svg\n  size: [10, 10]\n",
                "assets/deep.svg": deep,
            }})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["ok"], false, "{}", r.json());
    // A save the watcher picks up (on its own thread), then an admin reload.
    catalog_with_deep_template(&dir, 20_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline
        && !app
            .last_reload()
            .is_some_and(|s| s.trigger == bespoke::app::ReloadTrigger::Watch)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let watched = app.last_reload().unwrap();
    assert_eq!(watched.trigger, bespoke::app::ReloadTrigger::Watch);
    assert_eq!(watched.outcome, bespoke::app::ReloadOutcome::Rejected);
    let r = send(
        &app,
        web_test::TestRequest::post()
            .uri("/v1/admin/reload")
            .insert_header(auth),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.windows(6).any(|w| w == b"nested"), "{}", r.json());
    assert_eq!(
        app.snapshot().version(),
        serving,
        "the good version serves on"
    );
}

#[test]
fn the_scan_skips_comments_cdata_and_quoted_brackets() {
    let ok = r#"<?xml version="1.0"?><!DOCTYPE svg><svg a="x > y" b='<g>'><!-- <g><g><g> --><![CDATA[<g><g>]]><g/><g></g></svg>"#;
    assert!(
        check_xml_depth(ok, 2).is_ok(),
        "<g/> and <g></g> are one level under the root"
    );
    assert!(check_xml_depth(ok, 1).is_err());
    assert!(check_xml_depth("<a><b><c/></b></a>", 3).is_ok());
    assert!(check_xml_depth("<a><b><c/></b></a>", 2).is_err());
    // The root, `depth` groups and the rect.
    assert!(check_xml_depth(&nested_svg(MAX_SVG_DEPTH - 2), MAX_SVG_DEPTH).is_ok());
    assert!(check_xml_depth(&nested_svg(MAX_SVG_DEPTH - 1), MAX_SVG_DEPTH).is_err());
    // Truncated or malformed input never panics.
    for s in ["<", "<a", "<a b=\"", "<!--", "<![CDATA[", "</", "<?"] {
        let _ = check_xml_depth(s, 4);
    }
}

/// A random well-formed document: elements (some self-closing) with attributes that hold `>`
/// and `/>`, comments and CDATA holding tags.
fn doc(depth: u32) -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("<leaf/>".to_owned()),
        Just("<!-- <x><y> -->".to_owned()),
        Just("<![CDATA[<x><y>]]>".to_owned()),
        Just(r#"<e a="1 > 0" b='/>'/>"#.to_owned()),
        Just("text".to_owned()),
    ];
    leaf.prop_recursive(depth, 64, 4, |inner| {
        prop::collection::vec(inner, 0..4)
            .prop_map(|kids| format!(r#"<g k="v>w">{}</g>"#, kids.concat()))
    })
}

/// The depth the XML parser sees (elements on the path from the root, the root counted).
fn parsed_depth(text: &str) -> usize {
    let d = roxmltree::Document::parse(text).unwrap();
    d.descendants()
        .filter(roxmltree::Node::is_element)
        .map(|n| n.ancestors().filter(roxmltree::Node::is_element).count())
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn the_scan_agrees_with_a_parser(body in doc(12)) {
        let text = format!("<svg>{body}</svg>");
        let depth = parsed_depth(&text);
        prop_assert!(check_xml_depth(&text, depth).is_ok());
        prop_assert!(check_xml_depth(&text, depth - 1).is_err());
    }
}
