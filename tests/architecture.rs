//! Reads the sources and fails when an architecture invariant of ARCHITECTURE.md breaks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let src = common::repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Lines of code, without comments (so a doc comment may mention a crate).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
}

fn names(text: &str, word: &str) -> bool {
    code_lines(text).any(|l| {
        l.match_indices(word).any(|(i, _)| {
            let before = l[..i].chars().last();
            let after = l[i + word.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

#[test]
fn every_module_opens_with_a_doc_line() {
    let bad: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| {
            !text
                .lines()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("//!"))
        })
        .map(|(p, _)| p)
        .collect();
    assert!(
        bad.is_empty(),
        "modules without a leading `//!` line saying what they own: {bad:?}"
    );
}

#[test]
fn the_domain_core_is_pure() {
    const CORE: [&str; 4] = ["catalog/", "rules/", "pricing/", "orders/"];
    let mut bad = Vec::new();
    for (path, text) in sources() {
        if !CORE.iter().any(|c| path.starts_with(c)) {
            continue;
        }
        for word in [
            "actix_web",
            "actix",
            "diesel",
            "tokio",
            "reqwest",
            "std::net",
        ] {
            if names(&text, word) {
                bad.push(format!("{path} names `{word}`"));
            }
        }
        // The only IO in the core is reading the catalog directory it is handed.
        if path != "catalog/files.rs" && names(&text, "std::fs") {
            bad.push(format!(
                "{path} does file IO (only catalog/files.rs may read files)"
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn only_db_names_diesel_and_only_http_names_actix() {
    let mut bad = Vec::new();
    for (path, text) in sources() {
        if !path.starts_with("db/") && names(&text, "diesel") {
            bad.push(format!("{path} names diesel"));
        }
        if !path.starts_with("http/") && (names(&text, "actix_web") || names(&text, "actix")) {
            bad.push(format!("{path} names actix"));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_checker_itself_catches_violations() {
    assert!(names("use diesel::prelude::*;", "diesel"));
    assert!(!names("// diesel is only in db/", "diesel"));
    assert!(!names("let dieselish = 1;", "diesel"));
    assert!(names("actix_web::App::new()", "actix_web"));
}
