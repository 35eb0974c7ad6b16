//! The `bufbridge` command line, a module a job: `args` (flags and help),
//! `run` (one input) and `batch` (many), `inspect`, and what they share:
//! `guest` (reading and loading it), `input` (opening, spooling, the time
//! budget), `output` (atomic files, descriptors, devices), `fds`, `signals`,
//! `print` (terminal-safe messages), `progress`, `exit` (codes).

mod args;
mod batch;
mod exit;
mod fds;
mod guest;
mod input;
mod inspect;
mod output;
mod print;
mod progress;
mod run;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, NewArgs};
use exit::Failure;

pub fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Run(args) => run::run(args).map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => inspect::inspect(args.guest.as_deref()),
        Command::New(args) => new(args),
    };
    outcome.unwrap_or_else(|failure| {
        print::error(&failure.message);
        ExitCode::from(failure.code)
    })
}

/// `bufbridge new`: exit 2 for a name or folder that cannot be used, 4 when
/// writing fails.
fn new(args: NewArgs) -> Result<ExitCode, Failure> {
    let made = bufbridge::scaffold::create(&args.name, args.sdk.as_deref()).map_err(|e| {
        let code = if e.is_usage() { exit::USAGE } else { exit::IO };
        exit::fail(code, e.to_string())
    })?;
    print!("{made}");
    Ok(ExitCode::SUCCESS)
}
