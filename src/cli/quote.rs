//! `bespoke quote`: placeholder until its issue lands (see the open issues).

use std::io::Write;

/// Arguments of `bespoke quote`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuoteArgs {}

/// Runs `bespoke quote`.
pub fn run(_args: QuoteArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = writeln!(err, "bespoke quote: not built yet");
    super::EXIT_USAGE
}
