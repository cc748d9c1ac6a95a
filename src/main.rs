//! The `switchboard` binary: a thin command line over the library.

use std::process::ExitCode;

use clap::Parser;

/// The allocator: a call allocates and frees many small values (headers,
/// JSON, rendered text) across threads, where mimalloc is faster than the
/// system's (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    switchboard::cli::run(switchboard::cli::Cli::parse())
}
