//! Merchant tools: `bespoke test`, `bespoke diff` and `bespoke import csv` (placeholders until issue 7 lands).

use std::io::Write;

use super::ImportArgs;

/// Arguments of `bespoke test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {}

/// Arguments of `bespoke diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {}

/// Runs `bespoke test`.
pub fn test(_args: TestArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = writeln!(err, "bespoke test: not built yet");
    super::EXIT_USAGE
}

/// Runs `bespoke diff`.
pub fn diff(_args: DiffArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = writeln!(err, "bespoke diff: not built yet");
    super::EXIT_USAGE
}

/// Runs `bespoke import csv`.
pub fn import_csv(_args: ImportArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = writeln!(err, "bespoke import csv: not built yet");
    super::EXIT_USAGE
}
