//! Embedding bufbridge in your own program: load a guest once, run it over
//! a file with limits of your choosing, and tell its failures apart.
//!
//! ```sh
//! cargo run --example embed -- README.md upper
//! cargo run --example embed -- README.md sha256
//! ```

use std::fs::File;
use std::process::ExitCode;
use std::time::Duration;

use bufbridge::{Cache, DEFAULT_GUEST, Host, HostOptions, Input, Limits, Output, RunError};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: embed FILE [COMMAND ARGS...]")?;
    let guest_args: Vec<String> = args.collect();

    // One host per process: it owns the engine, the linkers and the epoch
    // ticker. Cache compiled guests where the CLI does.
    let host = Host::with_options(HostOptions {
        cache: Cache::default_dir().map(Cache::new),
        ..HostOptions::default()
    })?;
    // Compiling is the slow part; a `Guest` can be run any number of times,
    // from any thread.
    let guest = host.load(DEFAULT_GUEST)?;

    let limits = Limits {
        timeout: Some(Duration::from_secs(5)),
        memory: 64 << 20,
        ..Limits::default()
    };
    // A file input is read on demand, never held in memory.
    let input = Input::File(File::open(&path)?);
    match host.run_with(&guest, input, Output::Memory, &guest_args, &limits) {
        Ok(produced) => {
            let bytes = produced.into_bytes()?;
            print!("{}", String::from_utf8_lossy(&bytes));
            Ok(())
        }
        // The guest said no: its message is for the user.
        Err(RunError::Failed(message)) => Err(format!("the guest refused: {message}").into()),
        // A limit, a trap or the host's I/O: one line names the cause.
        Err(other) => Err(other.to_string().into()),
    }
}
