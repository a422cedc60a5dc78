//! `tuilerie`: the command-line entry point.

use clap::Parser;
use std::process::ExitCode;

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
