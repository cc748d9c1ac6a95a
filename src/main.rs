//! The `switchboard` binary: a thin command line over the library.

use std::process::ExitCode;

use clap::Parser;

/// The allocator: a call allocates and frees many small values (headers,
/// JSON, rendered text) across threads, where mimalloc is faster than the
/// system's (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    without_huge_pages();
    switchboard::cli::run(switchboard::cli::Cli::parse())
}

/// Turns transparent huge pages off for this process. mimalloc asks the
/// kernel for 2 MiB pages on its arenas, and a gateway's heap is many small
/// values spread thin: with huge pages, each touched 2 MiB stays resident,
/// which cost a third of the process's memory under load (88 MiB against
/// 56 MiB peak, same throughput; docs/performance.md). `MIMALLOC_ALLOW_THP=1`
/// in the environment keeps them.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only
        // how the kernel backs this process's memory.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}
