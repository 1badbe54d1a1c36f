//! `bespoke render`: placeholder until its issue lands (see the open issues).

use std::io::Write;

/// Arguments of `bespoke render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {}

/// Runs `bespoke render`.
pub fn run(_args: RenderArgs, _out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let _ = writeln!(err, "bespoke render: not built yet");
    super::EXIT_USAGE
}
