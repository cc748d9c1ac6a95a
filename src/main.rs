//! The `switchboard` binary: a thin command line over the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    switchboard::cli::run(switchboard::cli::Cli::parse())
}
