//! Hostile catalog files (deep, huge or garbled SVG templates, table files and YAML) never abort the process: every entry point (`bespoke check`, admin check, startup, reload, the watcher) answers a located diagnostic, and they agree; the SVG nesting scan agrees with a real XML parser on random documents.
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

// ---- Hostile files of every kind (SVG templates, table files, YAML), through every entry point ----

/// The product of the SVG cases: its template is `assets/hostile.svg`.
const SVG_PRODUCT: &str = "id: hostile\nname: Hostile\ncurrency: EUR\nbase_price: \"1.00\"\noptions:\n  size: { type: choice, values: [s, m], default: s }\npreview:\n  template: assets/hostile.svg\n  size: [10, 10]\n";
/// The product of the table cases: its rules file names `rules/hostile.csv`.
const TABLE_PRODUCT: &str = "id: hostile\nname: Hostile\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/hostile.yaml]\noptions:\n  engine: { type: choice, values: [petrol, diesel, electric] }\n  gearbox: { type: choice, values: [manual, auto] }\n  towbar: { type: boolean }\n";
const TABLE_RULES: &str = "constraints:\n  - id: variants\n    message: Not a variant we build.\n    table: rules/hostile.csv\n    allow: true\n";
const TABLE_HEADER: &str = "engine,gearbox,towbar\n";
/// A product whose rules file is `rules/hostile.yaml` (the YAML cases garble one or the other).
const RULES_PRODUCT: &str = "id: hostile\nname: Hostile\ncurrency: EUR\nbase_price: \"1.00\"\nrules: [rules/hostile.yaml]\noptions:\n  size: { type: choice, values: [s, m], default: s }\n";

/// Every path a case may write (removed again after it).
const CASE_PATHS: [&str; 4] = [
    "catalog/hostile.yaml",
    "rules/hostile.yaml",
    "rules/hostile.csv",
    "assets/hostile.svg",
];

/// A file of a case.
#[derive(Clone)]
enum Content {
    Bytes(Vec<u8>),
    /// A file of this length whose bytes nobody reads (it is over its size limit): written with
    /// `set_len`, so it takes no disk space.
    Sparse(u64),
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Content::Bytes(b) => {
                let head = String::from_utf8_lossy(&b[..b.len().min(60)]);
                write!(f, "{} bytes: {head:?}…", b.len())
            }
            Content::Sparse(n) => write!(f, "{n} bytes (sparse)"),
        }
    }
}

/// One hostile input: the files it adds to the sample catalog and what the diagnostic says.
#[derive(Debug, Clone)]
struct Case {
    what: String,
    /// In writing order: a file is written after every file it names, so that a reload seeing
    /// half of a case sees an unused file, not a dangling reference.
    files: Vec<(&'static str, Content)>,
    /// The file the diagnostic is about: its location, or named in its message.
    names: &'static str,
    /// A phrase of the message (`None`: any error about `names` will do).
    needle: Option<String>,
}

impl Case {
    fn new(what: String, files: Vec<(&'static str, Content)>, names: &'static str) -> Case {
        Case {
            what,
            files,
            names,
            needle: None,
        }
    }

    fn saying(mut self, needle: impl Into<String>) -> Case {
        self.needle = Some(needle.into());
        self
    }

    fn write(&self, dir: &std::path::Path) {
        for (path, content) in &self.files {
            let target = dir.join(path);
            match content {
                Content::Bytes(b) => std::fs::write(&target, b).unwrap(),
                Content::Sparse(n) => std::fs::File::create(&target).unwrap().set_len(*n).unwrap(),
            }
        }
    }

    fn remove(dir: &std::path::Path) {
        for path in CASE_PATHS {
            let _ = std::fs::remove_file(dir.join(path));
        }
    }

    /// The files as admin check takes them (text), when they are UTF-8 and fit its body.
    fn as_text(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut out = serde_json::Map::new();
        for (path, content) in &self.files {
            let Content::Bytes(b) = content else {
                return None;
            };
            out.insert(
                (*path).to_owned(),
                String::from_utf8(b.clone()).ok()?.into(),
            );
        }
        let body = serde_json::to_vec(&json!({ "files": out })).unwrap().len();
        (body <= bespoke::app::CHECK_LIMIT).then_some(out)
    }

    /// Whether `diagnostics` (records as JSON) hold an error about this case's file saying its
    /// phrase, located at a line.
    fn found_in(&self, diagnostics: &serde_json::Value) -> bool {
        diagnostics.as_array().into_iter().flatten().any(|d| {
            let message = d["message"].as_str().unwrap_or_default();
            d["severity"] == "error"
                && d["line"].as_u64().is_some_and(|l| l >= 1)
                && (d["file"] == self.names || message.contains(self.names))
                && self.needle.as_deref().is_none_or(|n| message.contains(n))
        })
    }

    /// The same in the rendered output of `bespoke check`.
    fn found_in_text(&self, out: &str) -> bool {
        out.contains(self.names) && self.needle.as_deref().is_none_or(|n| out.contains(n))
    }

    /// A claim about the case's files that is false: a file that exists (too large, not UTF-8)
    /// said not to exist, or a table file with bytes said to be empty.
    fn false_claim<'a>(&self, mut messages: impl Iterator<Item = &'a str>) -> Option<&'a str> {
        let missing = self.needle.as_deref() == Some("does not exist");
        messages.find(|m| {
            (!missing && m.contains("does not exist")) || m.contains("the table file is empty")
        })
    }
}

/// The messages of diagnostic records (JSON).
fn messages(diagnostics: &serde_json::Value) -> impl Iterator<Item = &str> {
    diagnostics
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["message"].as_str())
}

/// The first part of a long text, for failure messages.
fn head(s: &str) -> &str {
    let mut end = s.len().min(3000);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn bytes(s: impl Into<String>) -> Content {
    Content::Bytes(s.into().into_bytes())
}

fn svg_case(what: String, svg: Content) -> Case {
    Case::new(
        what,
        vec![
            ("assets/hostile.svg", svg),
            ("catalog/hostile.yaml", bytes(SVG_PRODUCT)),
        ],
        "assets/hostile.svg",
    )
}

fn svg_cases() -> impl Strategy<Value = Case> {
    use bespoke::catalog::files::MAX_ASSET_BYTES;
    prop_oneof![
        (MAX_SVG_DEPTH - 1..20_000usize).prop_map(|d| svg_case(
            format!("an SVG template nested {d} levels"),
            bytes(nested_svg(d))
        )
        .saying(format!("nested more than {MAX_SVG_DEPTH} levels"))),
        (1..1_000_000u64).prop_map(|extra| svg_case(
            format!("an SVG template {extra} bytes over the limit"),
            Content::Sparse(MAX_ASSET_BYTES + extra)
        )
        .saying(format!("over the limit of {MAX_ASSET_BYTES} bytes"))),
        (200_000..240_000usize).prop_map(|n| svg_case(
            format!("an SVG template of {n} elements"),
            bytes(format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">{}</svg>"#,
                "<r/>".repeat(n)
            ))
        )
        .saying("nodes limit")),
    ]
}

fn table_case(what: String, csv: Option<Content>) -> Case {
    let mut files: Vec<(&'static str, Content)> =
        csv.map(|c| ("rules/hostile.csv", c)).into_iter().collect();
    files.push(("rules/hostile.yaml", bytes(TABLE_RULES)));
    files.push(("catalog/hostile.yaml", bytes(TABLE_PRODUCT)));
    Case::new(what, files, "rules/hostile.csv")
}

fn table_cases() -> impl Strategy<Value = Case> {
    prop_oneof![
        (1_000..200_000usize).prop_map(|n| table_case(
            format!("a table cell of {n} characters"),
            Some(bytes(format!(
                "{TABLE_HEADER}{},manual,true\n",
                "x".repeat(n)
            )))
        )
        .saying("is not a value of `engine`")),
        (prop_oneof![1..3usize, 4..40usize], 0..20usize).prop_map(|(k, good)| table_case(
            format!("a ragged row of {k} cells after {good} good rows"),
            Some(bytes(format!(
                "{TABLE_HEADER}{}{}\n",
                "petrol,manual,true\n".repeat(good),
                vec!["diesel"; k].join(",")
            )))
        )
        .saying(format!("this row has {k} cell"))),
        "[a-z]{1,8}"
            .prop_filter("a column of the product", |c| ![
                "engine", "gearbox", "towbar"
            ]
            .contains(&c.as_str()))
            .prop_map(|c| table_case(
                format!("an unknown column `{c}`"),
                Some(bytes(format!("engine,{c},towbar\npetrol,auto,true\n")))
            )
            .saying(format!("unknown option `{c}`"))),
        "[a-z]{1,8}"
            .prop_filter("a value of engine", |v| !["petrol", "diesel", "electric"]
                .contains(&v.as_str()))
            .prop_map(|v| table_case(
                format!("an unknown value `{v}`"),
                Some(bytes(format!(
                    "{TABLE_HEADER}petrol,auto,true\n{v},auto,false\n"
                )))
            )
            .saying(format!("`{v}` is not a value of `engine`"))),
        prop::collection::vec(any::<u8>(), 0..4096).prop_map(|mut b| {
            b.insert(0, 0xff);
            table_case(
                format!("{} bytes of binary garbage", b.len()),
                Some(Content::Bytes(b)),
            )
            .saying("not UTF-8")
        }),
        Just(table_case("a missing table file".into(), None).saying("does not exist")),
    ]
}

/// A YAML text put in the product file or in the rules file it uses.
fn yaml_case(what: String, text: Vec<u8>, in_rules: bool) -> Case {
    if in_rules {
        Case::new(
            format!("{what} (a rules file)"),
            vec![
                ("rules/hostile.yaml", Content::Bytes(text)),
                ("catalog/hostile.yaml", bytes(RULES_PRODUCT)),
            ],
            "rules/hostile.yaml",
        )
    } else {
        Case::new(
            format!("{what} (a product file)"),
            vec![("catalog/hostile.yaml", Content::Bytes(text))],
            "catalog/hostile.yaml",
        )
    }
}

/// An alias bomb: `levels` anchors, each a list of ten aliases of the one before.
fn alias_bomb(levels: usize) -> String {
    let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..levels {
        let p = i - 1;
        let refs = vec![format!("*a{p}"); 10].join(", ");
        y.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    y
}

/// Block mappings nested `depth` levels.
fn deep_block_map(depth: usize) -> String {
    let mut y = String::new();
    for i in 0..depth {
        y.push_str(&"  ".repeat(i));
        y.push_str("a:\n");
    }
    y.push_str(&"  ".repeat(depth));
    y.push_str("x\n");
    y
}

fn yaml_cases() -> impl Strategy<Value = Case> {
    use bespoke::catalog::yaml::{MAX_DEPTH, MAX_EVENTS, MAX_YAML_BYTES};
    let limit = "YAML limit exceeded";
    let texts = prop_oneof![
        (MAX_DEPTH + 1..20_000usize).prop_map(move |d| (
            format!("{d} nested `[`"),
            format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes(),
            Some(limit.to_owned())
        )),
        (MAX_DEPTH + 1..20_000usize).prop_map(move |d| (
            format!("{d} nested `{{`"),
            format!("{}x{}", "{a: ".repeat(d), "}".repeat(d)).into_bytes(),
            Some(limit.to_owned())
        )),
        (MAX_DEPTH + 1..20_000usize).prop_map(move |d| (
            format!("{d} nested block lists"),
            format!("{}x\n", "- ".repeat(d)).into_bytes(),
            Some(limit.to_owned())
        )),
        (MAX_DEPTH + 1..700usize).prop_map(move |d| (
            format!("{d} nested block mappings"),
            deep_block_map(d).into_bytes(),
            Some(limit.to_owned())
        )),
        (6..14usize).prop_map(move |l| (
            format!("an alias bomb of {l} levels"),
            alias_bomb(l).into_bytes(),
            Some(limit.to_owned())
        )),
        (1..200_000usize).prop_map(|extra| {
            let mut y = String::from("id: hostile\n");
            while y.len() <= MAX_YAML_BYTES + extra {
                y.push_str("# padding padding padding padding padding padding padding\n");
            }
            (
                format!("{} bytes of YAML", y.len()),
                y.into_bytes(),
                Some(format!(
                    "the limit for a YAML file is {MAX_YAML_BYTES} bytes"
                )),
            )
        }),
        (MAX_EVENTS..MAX_EVENTS + 50_000).prop_map(move |n| (
            format!("a list of {n} items"),
            format!("a: [{}]\n", "0,".repeat(n)).into_bytes(),
            Some(limit.to_owned())
        )),
        prop::collection::vec(any::<u8>(), 0..4096).prop_map(|mut b| {
            b.insert(0, 0xc3); // a lead byte without its continuation
            b.insert(1, b'(');
            (
                format!("{} bytes of invalid UTF-8", b.len()),
                b,
                Some("not UTF-8".to_owned()),
            )
        }),
    ];
    let garbage = "[\\x00-\\x1f:{}\\[\\]&*!|>'\"%@`#,?\\- a-z\u{feff}\u{2028}]{1,400}"
        .prop_filter("not blank", |s| !s.trim().is_empty())
        .prop_map(|s| yaml_case(format!("garbage text {s:?}"), s.into_bytes(), false));
    prop_oneof![
        8 => (texts, any::<bool>()).prop_map(|((what, text, needle), in_rules)| {
            let case = yaml_case(what, text, in_rules);
            match needle {
                Some(n) => case.saying(n),
                None => case,
            }
        }),
        1 => garbage,
    ]
}

/// A hostile case of any kind.
fn hostile() -> impl Strategy<Value = Case> {
    prop_oneof![svg_cases(), table_cases(), yaml_cases()]
}

/// A few cases each (each one loads the whole sample catalog, some in a process of their own),
/// and short shrinking: the inputs are large.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 32,
        ..ProptestConfig::default()
    }
}

/// `bespoke check` (its own process: an abort shows as a signal, not as exit code 1).
#[test]
fn hostile_files_through_the_cli() {
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    common::copy_sample(&dir);
    proptest!(config(6), |(case in hostile())| {
        Case::remove(&dir);
        case.write(&dir);
        let (code, out, err) = common::bespoke(&["check", &dir.to_string_lossy()]);
        let all = format!("{out}{err}");
        prop_assert_eq!(code, 1, "{} (-1 is a signal): {}", case.what, head(&all));
        prop_assert!(case.found_in_text(&all), "{}: {}", case.what, head(&all));
        prop_assert_eq!(case.false_claim(all.lines()), None, "{}", case.what);
    });
    Case::remove(&dir);
}

/// Admin check (the files sent as text) and admin reload (the files on disk): a report with the
/// diagnostic, and a 422 with it that leaves the serving version.
#[test]
fn hostile_files_through_admin_check_and_reload() {
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    common::copy_sample(&dir);
    let app = TestApp::start_in(db, &dir, |_| {});
    let serving = app.snapshot().version().to_owned();
    let sys = actix_web::rt::System::new();
    let auth = ("Authorization", format!("Bearer {ADMIN}"));
    proptest!(config(12), |(case in hostile())| {
        if let Some(files) = case.as_text() {
            let r = sys.block_on(send(
                &app,
                web_test::TestRequest::post()
                    .uri("/v1/admin/check")
                    .insert_header(auth.clone())
                    .set_json(json!({ "files": files })),
            ));
            prop_assert_eq!(r.status, StatusCode::OK, "{}", case.what);
            let report = r.json();
            prop_assert_eq!(&report["ok"], false, "{}", case.what);
            prop_assert!(case.found_in(&report["diagnostics"]), "{}: {}", case.what, head(&report.to_string()));
            prop_assert_eq!(case.false_claim(messages(&report["diagnostics"])), None, "{}", case.what);
        }
        Case::remove(&dir);
        case.write(&dir);
        let r = sys.block_on(send(
            &app,
            web_test::TestRequest::post()
                .uri("/v1/admin/reload")
                .insert_header(auth.clone()),
        ));
        Case::remove(&dir);
        prop_assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", case.what);
        let problem = r.json();
        prop_assert!(case.found_in(&problem["diagnostics"]), "{}: {}", case.what, head(&problem.to_string()));
        prop_assert_eq!(case.false_claim(messages(&problem["diagnostics"])), None, "{}", case.what);
        prop_assert_eq!(app.snapshot().version().to_owned(), serving.clone(), "{}: the good version serves on", case.what);
    });
}

/// The watcher: a save it picks up on its own thread is rejected with the diagnostic.
#[test]
fn hostile_files_through_the_watcher() {
    use bespoke::app::{ReloadOutcome, ReloadTrigger};
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    common::copy_sample(&dir);
    let app = TestApp::start_in(db, &dir, |s| s.watch = true);
    let _watcher = bespoke::app::watch::watch(app.0.clone().into_inner()).unwrap();
    let serving = app.snapshot().version().to_owned();
    // Waits until the watcher has reloaded with an outcome `done` accepts.
    let wait = |done: &dyn Fn(ReloadOutcome) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(s) = app.last_reload()
                && s.trigger == ReloadTrigger::Watch
                && done(s.outcome)
            {
                return Some(s);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    proptest!(config(3), |(case in hostile())| {
        // Mark the start of this case: the next watch reload is of its files.
        app.reload(ReloadTrigger::Admin);
        case.write(&dir);
        let status = wait(&|o| o == ReloadOutcome::Rejected);
        Case::remove(&dir);
        let status = status.unwrap_or_else(|| panic!("{}: no rejected reload by the watcher", case.what));
        let diagnostics = serde_json::to_value(&status.diagnostics).unwrap();
        prop_assert!(case.found_in(&diagnostics), "{}: {}", case.what, head(&diagnostics.to_string()));
        prop_assert_eq!(case.false_claim(messages(&diagnostics)), None, "{}", case.what);
        // The removal is seen, and the sample serves again.
        prop_assert!(wait(&|o| o != ReloadOutcome::Rejected).is_some(), "{}: the watcher saw no removal", case.what);
        prop_assert_eq!(app.snapshot().version().to_owned(), serving.clone());
    });
}

/// Regression: a template over the size limit was also reported as missing ("does not exist"),
/// and a table file that is not UTF-8 as empty; each is now reported once at the file and
/// once, truthfully, where it is used.
#[test]
fn an_unreadable_file_is_not_called_missing_or_empty() {
    use bespoke::catalog::files::MAX_ASSET_BYTES;
    for case in [
        svg_case(
            "an oversized template".into(),
            Content::Sparse(MAX_ASSET_BYTES + 1),
        ),
        table_case(
            "a binary table file".into(),
            Some(Content::Bytes(vec![0xff, 0xfe, b'a'])),
        ),
    ] {
        let db = common::db::TestDb::sqlite();
        let dir = db.dir().join("cat");
        common::copy_sample(&dir);
        case.write(&dir);
        let r = bespoke::catalog::load_dir(&dir).unwrap();
        let messages: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            case.false_claim(messages.iter().copied()),
            None,
            "{}",
            case.what
        );
        assert!(
            messages.iter().any(|m| m.contains("cannot be read")),
            "{}: {messages:?}",
            case.what
        );
    }
}

/// A table file of one row over `MAX_TABLE_ROWS` (6 MiB of `*,*,*`; two seconds in a debug
/// build, so once, through `bespoke check`): the limit is named at the first row past it.
#[test]
fn a_table_over_the_row_limit_is_refused() {
    use bespoke::catalog::table_file::MAX_TABLE_ROWS;
    let csv = format!("{TABLE_HEADER}{}", "*,*,*\n".repeat(MAX_TABLE_ROWS + 1));
    let case = table_case("too many rows".into(), Some(bytes(csv)))
        .saying(format!("more than {MAX_TABLE_ROWS} rows"));
    let db = common::db::TestDb::sqlite();
    let dir = db.dir().join("cat");
    common::copy_sample(&dir);
    case.write(&dir);
    let (code, out, err) = common::bespoke(&["check", &dir.to_string_lossy()]);
    let all = format!("{out}{err}");
    assert_eq!(code, 1, "{}", head(&all));
    assert!(case.found_in_text(&all), "{}", head(&all));
    assert!(
        all.contains(&format!("rules/hostile.csv:{}:1", MAX_TABLE_ROWS + 2)),
        "{}",
        head(&all)
    );
}
