//! The `bespoke` command line, run as a real process: exit codes and output of `check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

fn bespoke(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bespoke"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("BESPOKE_CATALOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_fixture(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bespoke-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = common::fixture_files(text);
    for p in files.paths() {
        let target = dir.join(p);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, files.get(p).unwrap()).unwrap();
    }
    dir
}

#[test]
fn check_passes_on_the_sample_catalog() {
    let repo = common::repo();
    let (code, out, err) = bespoke(&["check", repo.to_str().unwrap()]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("ok:"), "{out}");
}

#[test]
fn check_exits_1_with_located_errors() {
    let dir = write_fixture(
        "broken",
        &std::fs::read_to_string(common::repo().join("tests/fixtures/diagnostics/E012.txt"))
            .unwrap(),
    );
    let (code, out, _) = bespoke(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[E012]"), "{out}");
    assert!(out.contains("rules/mug.yaml:5:20"), "{out}");
    assert!(out.contains("did you mean `black`?"), "{out}");
}

#[test]
fn check_json_is_machine_readable() {
    let dir = write_fixture(
        "json",
        &std::fs::read_to_string(common::repo().join("tests/fixtures/diagnostics/E006.txt"))
            .unwrap(),
    );
    let (code, out, _) = bespoke(&["check", dir.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["code"], "E006");
    assert_eq!(v["diagnostics"][0]["line"], 5);
}

#[test]
fn warnings_alone_exit_0() {
    let dir = write_fixture(
        "warn",
        &std::fs::read_to_string(common::repo().join("tests/fixtures/diagnostics/W001.txt"))
            .unwrap(),
    );
    let (code, out, _) = bespoke(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning[W001]"), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(bespoke(&["check", "--format", "xml"]).0, 2);
    assert_eq!(bespoke(&["frobnicate"]).0, 2);
    let (code, _, err) = bespoke(&["check", "/nonexistent/catalog"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a catalog directory"), "{err}");
}
