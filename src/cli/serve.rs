//! `bespoke serve`: placeholder until its issue lands (see the open issues).

use std::io::Write;

/// Arguments of `bespoke serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {}

/// Runs `bespoke serve`.
pub fn run(_args: ServeArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = writeln!(err, "bespoke serve: not built yet");
    super::EXIT_USAGE
}
