//! The `bespoke` binary: a thin shell over `bespoke::cli::run`.

fn main() -> std::process::ExitCode {
    bespoke::cli::run()
}
