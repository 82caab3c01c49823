//! The `swarmfeed` command line: parses arguments, runs the command, reports errors.
//!
//! Everything it does lives in the crates; see [`cli`] for the commands and exit codes.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, with the chain of causes: what failed, then why.
            let mut message = error.to_string();
            for cause in error.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message.push_str(": ");
                    message.push_str(&cause);
                }
            }
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::from(cli::exit_code(&error))
        }
    }
}
