//! `prodready`: parses arguments, builds the host, dispatches. Everything else lives in the
//! library (`prodready_host`) and in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::args::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("prodready: error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
