//! The `bufbridge` command line: parses arguments, moves files, maps outcomes
//! to exit codes. Everything else is in the library.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bufbridge::destination::Destination;
use bufbridge::units::parse_size;
use bufbridge::{DEFAULT_GUEST, Host, Limits, RunError};
use clap::{Args, Parser, Subcommand};

/// Exit codes, as `--help` and the README list them.
mod exit {
    pub const GUEST_ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TRAPPED: u8 = 3;
    pub const IO: u8 = 4;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success: the output was written
  1  the guest returned an error (its message is printed)
  2  usage error: bad arguments, or GUEST is not a bufbridge component
  3  the guest trapped or hit a limit (the message names the cause)
  4  host I/O error: the guest or input is unreadable, or the output is unwritable

On any failure the output file is left exactly as it was.";

#[derive(Parser)]
#[command(
    name = "bufbridge",
    version,
    about = "Run a WebAssembly guest over your data through host-owned buffers",
    long_about = "Run a WebAssembly guest over your data through host-owned buffers.\n\n\
        A guest is a component of the `processor` world in wit/buffers.wit: the host \
        gives it the input as a read-only buffer and an empty output buffer, and keeps \
        the output only if the guest succeeds.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a guest over an input, writing its output
    #[command(after_long_help = RUN_EXAMPLES)]
    Run(RunArgs),
}

const RUN_EXAMPLES: &str = "\
Examples:
  bufbridge run --input notes.txt --output - -- upper
  bufbridge run --input data.bin --output copy.bin
  cat log.txt | bufbridge run --input - --output - -- count
  bufbridge run my_guest.wasm --input in.txt --output out.txt -- --my-flag 3

The default guest's commands (the first word after `--`; none means copy):
  copy, upper, lower, reverse (bytes in reverse order),
  count (prints `<bytes> <lines> <words>`), selftest

Exit codes:
  0 ok, 1 guest error, 2 usage error, 3 guest trapped or hit a limit, 4 host I/O error";

#[derive(Args)]
struct RunArgs {
    /// Guest component (.wasm) to run [default: the embedded default guest]
    guest: Option<PathBuf>,

    /// File to read, or `-` for stdin; never modified
    #[arg(short, long, value_name = "PATH|-")]
    input: PathBuf,

    /// File to write, or `-` for stdout; replaced only when the guest succeeds
    #[arg(short, long, value_name = "PATH|-")]
    output: PathBuf,

    /// Most bytes the output may hold (units: KiB, MiB, GiB, KB, MB, ...)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4GiB")]
    max_output: u64,

    /// Most bytes the guest's scratch buffers may hold together
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1GiB")]
    quota: u64,

    /// Arguments passed to the guest's `process` (after `--`)
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("bufbridge: {}", failure.message);
                ExitCode::from(failure.code)
            }
        },
    }
}

struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let guest_bytes: Cow<[u8]> = match &args.guest {
        Some(path) => std::fs::read(path).map(Cow::Owned).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot read guest {}: {e}", path.display()),
            )
        })?,
        None => Cow::Borrowed(DEFAULT_GUEST),
    };
    let input = read_input(&args.input)?;
    // Prepared first, so an unwritable destination fails before the guest runs.
    let destination = if is_stdio(&args.output) {
        None
    } else {
        let dest = Destination::create(&args.output).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot write output {}: {e}", args.output.display()),
            )
        })?;
        Some(dest)
    };

    let host = Host::new().map_err(|e| {
        fail(
            exit::IO,
            format!("cannot start the WebAssembly engine: {e:#}"),
        )
    })?;
    let guest = host.load(&guest_bytes).map_err(|e| {
        let name = args
            .guest
            .as_ref()
            .map_or("the default guest".into(), |p| p.display().to_string());
        fail(exit::USAGE, format!("cannot load {name}: {e}"))
    })?;
    let limits = Limits {
        max_output: args.max_output,
        quota: args.quota,
        ..Limits::default()
    };
    let output = host
        .run(&guest, input, &args.args, &limits)
        .map_err(|e| match e {
            RunError::Failed(_) => fail(exit::GUEST_ERROR, e.to_string()),
            RunError::Trapped(_) => fail(exit::TRAPPED, e.to_string()),
        })?;

    match destination {
        Some(dest) => dest.commit(&output).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot write output {}: {e}", args.output.display()),
            )
        }),
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(&output)
                .and_then(|()| stdout.flush())
                .map_err(|e| fail(exit::IO, format!("cannot write output to stdout: {e}")))
        }
    }
}

fn is_stdio(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

fn read_input(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    if is_stdio(path) {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| fail(exit::IO, format!("cannot read input from stdin: {e}")))?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot read input {}: {e}", path.display()),
            )
        })
    }
}
