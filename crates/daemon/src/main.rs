//! The `mailcast` binary: parse arguments, set up logging, run one subcommand, and report an
//! error in exactly one place with one line and a non-zero exit status.

use std::process::ExitCode;

use clap::Parser;
use mailcast::cli::{self, Cli, Exit};

fn main() -> ExitCode {
    let args = Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err.downcast_ref::<Exit>().map_or(1, |e| e.code);
            // One line: anyhow's alternate format joins the context chain with ": ".
            let text = format!("{err:#}").replace('\n', " ");
            eprintln!("mailcast: error: {text}");
            ExitCode::from(code)
        }
    }
}
