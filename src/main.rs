//! `tuilerie`: the command-line entry point.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: the server and the ingest allocate many small short-lived
/// strings across threads, where glibc's allocator cost much more CPU (an
/// ingest with two writers: 36 s of user time per million items with glibc,
/// 25 s with mimalloc). GDAL keeps its own C allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = tuilerie::cli::Cli::parse();
    match tuilerie::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
