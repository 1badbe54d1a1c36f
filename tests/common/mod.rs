//! Shared helpers for integration tests: fixture catalogs and paths.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod contract;
pub mod db;
pub mod engine;
pub mod http;

use std::path::{Path, PathBuf};

use bespoke::catalog::FileSet;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses a multi-file fixture: `=== path [!latin1 | !pad N]` lines start each file.
pub fn fixture_files(text: &str) -> FileSet {
    let mut set = FileSet::new();
    let mut current: Option<(String, Vec<String>, String)> = None;
    let flush = |cur: Option<(String, Vec<String>, String)>, set: &mut FileSet| {
        if let Some((path, directives, body)) = cur {
            let mut bytes: Vec<u8> = if directives.first().map(String::as_str) == Some("!latin1") {
                body.chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect()
            } else {
                body.into_bytes()
            };
            if directives.first().map(String::as_str) == Some("!pad") {
                let n: usize = directives[1].parse().unwrap();
                while bytes.len() < n {
                    bytes.extend_from_slice(
                        b"# padding padding padding padding padding padding padding\n",
                    );
                }
            }
            set.insert(path, bytes);
        }
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("=== ") {
            flush(current.take(), &mut set);
            let mut parts = rest.split_whitespace();
            let path = parts.next().unwrap().to_owned();
            current = Some((path, parts.map(str::to_owned).collect(), String::new()));
        } else if let Some((_, _, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    flush(current, &mut set);
    set
}

/// Adds the repository's shipped fonts to a fixture, as a real catalog would have them.
pub fn with_fonts(mut set: FileSet) -> FileSet {
    let dir = repo().join("assets/fonts");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ttf") {
                set.insert(
                    format!("assets/fonts/{name}"),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    set
}

/// Copies a directory tree (for tests that edit a catalog).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Copies the sample catalog (catalog/, rules/, assets/) into `dir`.
pub fn copy_sample(dir: &Path) {
    for sub in ["catalog", "rules", "assets"] {
        copy_dir(&repo().join(sub), &dir.join(sub));
    }
}

/// Runs the `bespoke` binary as a process (no colour, no catalog from the environment);
/// returns the exit code, stdout and stderr.
pub fn bespoke(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bespoke"))
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
