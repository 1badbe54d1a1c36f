//! The `bespoke` command line, run as a real process: exit codes and output of `check`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::bespoke;

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

fn catalog_args() -> Vec<String> {
    vec![
        "--catalog".into(),
        common::repo().to_string_lossy().into_owned(),
    ]
}

fn run(args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(catalog_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    bespoke(&refs)
}

#[test]
fn configure_json_reports_availability_with_explanations() {
    let (code, out, err) = run(&["configure", "classic-tee", "color=heather", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["consistent"], true);
    let option = |id: &str| {
        v["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id)
            .unwrap()
            .clone()
    };
    let fabric = option("fabric");
    let available: Vec<&serde_json::Value> = fabric["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["available"] == true)
        .map(|x| &x["value"])
        .collect();
    assert_eq!(
        available,
        [&serde_json::json!("cotton"), &serde_json::json!("organic")]
    );
    let polyester = fabric["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["value"] == "polyester")
        .unwrap();
    let why = &polyester["reason"];
    assert_eq!(why["rules"][0]["id"], "heather-is-cotton");
    assert_eq!(why["choices"][0]["option"], "color");
    assert_eq!(why["choices"][0]["value"], "heather");
    // Integer and text options give a range, typed as numbers.
    assert_eq!(option("quantity")["range"]["min"], 1);
    assert!(option("front_text")["range"]["max"].is_i64());
    assert_eq!(option("sleeve_print")["values"][0]["value"], false);
    assert!(v["completion"]["selection"]["fabric"].is_string());
    assert_eq!(v["validation"]["valid"], false);
}

#[test]
fn configure_reports_conflicts_with_a_repair_and_exits_0() {
    let (code, out, err) = run(&[
        "configure",
        "classic-tee",
        "color=heather",
        "fabric=polyester",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["consistent"], false);
    assert_eq!(v["conflict"]["rules"][0]["id"], "heather-is-cotton");
    assert_eq!(
        v["repair"]["drop"],
        serde_json::json!(["color"]),
        "the older choice is dropped"
    );
    assert!(v["completion"].is_null());
    let (code, out, _) = run(&[
        "configure",
        "classic-tee",
        "color=heather",
        "fabric=polyester",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("INCONSISTENT"), "{out}");
    assert!(out.contains("repair: color -> "), "{out}");
}

#[test]
fn count_prints_an_exact_integer() {
    let (code, out, _) = run(&["count", "classic-tee"]);
    assert_eq!(code, 0);
    let n: u128 = out.trim().parse().unwrap();
    let (_, out2, _) = run(&["count", "classic-tee", "color=heather"]);
    let m: u128 = out2.trim().parse().unwrap();
    assert!(m > 0 && m < n);
    let (_, json, _) = run(&["count", "classic-tee", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["count"], n.to_string());
}

#[test]
fn analyze_reports_counts_and_findings() {
    let (code, out, err) = run(&["analyze", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["products"].as_array().unwrap().len() >= 5);
    for p in v["products"].as_array().unwrap() {
        assert!(p["count"].as_str().unwrap().parse::<u128>().unwrap() > 0);
        assert_eq!(p["dead"], serde_json::json!([]), "{}", p["product"]);
    }
    let dir = write_fixture(
        "dead",
        &std::fs::read_to_string(common::repo().join("tests/fixtures/diagnostics/W101.txt"))
            .unwrap(),
    );
    let (code, out, _) = bespoke(&["analyze", "mug", "--catalog", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("warning[W101]"), "{out}");
    assert!(out.contains("mug: 2 valid configurations"), "{out}");
}

#[test]
fn engine_commands_exit_2_on_unknown_names() {
    let (code, _, err) = run(&["configure", "classic-te"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `classic-tee`"), "{err}");
    let (code, _, err) = run(&["configure", "classic-tee", "colour=white"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown option `colour`"), "{err}");
    let (code, _, err) = run(&["count", "classic-tee", "color=purple"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&["configure", "classic-tee", "quantity=0"]);
    assert_eq!(code, 2);
    let (code, _, _) = run(&["configure", "classic-tee", "size"]);
    assert_eq!(code, 2);
}

#[test]
fn engine_commands_exit_1_on_a_broken_catalog() {
    let dir = write_fixture(
        "broken2",
        &std::fs::read_to_string(common::repo().join("tests/fixtures/diagnostics/E012.txt"))
            .unwrap(),
    );
    let (code, _, err) = bespoke(&["count", "mug", "--catalog", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("E012"), "{err}");
}

#[test]
fn import_writes_a_catalog_that_counts_like_the_source() {
    let dir = std::env::temp_dir().join(format!("bespoke-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    let fixtures = common::repo().join("tests/fixtures/import");
    let out = dir.join("catalog/queens.yaml");
    let (code, stdout, err) = bespoke(&[
        "import",
        "xcsp",
        fixtures.join("queens4.xml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("imported `queens`"), "{stdout}");
    // 4-queens has exactly 2 solutions.
    let (code, n, err) = bespoke(&["count", "queens", "--catalog", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(n.trim(), "2");
    // Importing again without --force refuses to overwrite.
    let (code, _, err) = bespoke(&[
        "import",
        "xcsp",
        fixtures.join("queens4.xml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    let out2 = dir.join("catalog/features.yaml");
    let (code, _, err) = bespoke(&[
        "import",
        "dimacs",
        fixtures.join("features.cnf").to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = bespoke(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = bespoke(&[
        "import",
        "dimacs",
        fixtures.join("queens4.xml").to_str().unwrap(),
        "--out",
        dir.join("catalog/bad.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "a file that is not DIMACS is a usage error: {err}");
    let (code, _, _) = bespoke(&[
        "import",
        "dimacs",
        fixtures.join("features.cnf").to_str().unwrap(),
        "--out",
        dir.join("x.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
