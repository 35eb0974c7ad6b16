//! The `bufbridge` command line: parses arguments, moves files, maps outcomes
//! to exit codes. Everything else is in the library.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bufbridge::destination::Destination;
use bufbridge::units::{parse_duration, parse_size};
use bufbridge::{Cache, DEFAULT_GUEST, Host, HostOptions, Input, Limits, Output, RunError};
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

Limits (all flags of `bufbridge run`, with units): --timeout 30s, --memory 256MiB,
--quota 1GiB, --max-output 4GiB, --max-buffers 4096, --max-copy 256MiB, --fuel (off).

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
    /// Guest to run: a component, or a core module (.wasm or .wat) [default: the embedded default guest]
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

    /// Wall-clock limit for the guest (ms, s, m, h); 0 for none
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,

    /// Instruction budget (fuel units, about one per wasm instruction) [default: unlimited]
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Most linear memory the guest may have
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "256MiB")]
    memory: u64,

    /// Most buffers alive at once, input and output included
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_buffers: usize,

    /// Most bytes one buffer call may move
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "256MiB")]
    max_copy: u64,

    /// Compile the guest afresh instead of using the compilation cache
    /// ($BUFBRIDGE_CACHE_DIR, else ~/.cache/bufbridge)
    #[arg(long)]
    no_cache: bool,

    /// On failure, print the whole error chain and the guest's backtrace
    #[arg(short, long)]
    verbose: bool,

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
    let input = open_input(&args.input)?;
    // Prepared before the guest runs, so an unwritable destination fails
    // first. The output is written straight into the temporary file beside
    // the destination (or, for stdout, an anonymous one) and kept only on
    // success.
    let io_error = |what: &str, e: io::Error| fail(exit::IO, format!("cannot {what}: {e}"));
    let output_name = || format!("write output {}", args.output.display());
    let (sink, output_file) = if is_stdio(&args.output) {
        let spool = tempfile::tempfile()
            .and_then(|spool| Ok((spool.try_clone()?, spool)))
            .map_err(|e| io_error("create a spool file for stdout", e))?;
        (Sink::Stdout(spool.0), spool.1)
    } else {
        let dest = Destination::create(&args.output).map_err(|e| io_error(&output_name(), e))?;
        let file = dest.file().map_err(|e| io_error(&output_name(), e))?;
        (Sink::File(dest), file)
    };

    let options = HostOptions {
        fuel: args.fuel.is_some(),
        cache: (!args.no_cache)
            .then(Cache::default_dir)
            .flatten()
            .map(Cache::new),
        pooling: false,
    };
    let host = Host::with_options(options).map_err(|e| {
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
        max_buffers: args.max_buffers,
        max_copy: args.max_copy,
        memory: args.memory,
        timeout: (!args.timeout.is_zero()).then_some(args.timeout),
        fuel: args.fuel,
    };
    host.run_with(
        &guest,
        input,
        Output::File(output_file),
        &args.args,
        &limits,
    )
    .map_err(|e| {
        let code = match e {
            RunError::Failed(_) => exit::GUEST_ERROR,
            RunError::LimitExceeded(..) | RunError::Trapped(_) => exit::TRAPPED,
            RunError::HostIo(_) => exit::IO,
        };
        let mut message = e.to_string();
        if args.verbose && !matches!(e, RunError::Failed(_)) {
            message = format!("{message}\n\n{}", e.details());
        }
        fail(code, message)
    })?;

    match sink {
        Sink::File(dest) => dest.commit().map_err(|e| io_error(&output_name(), e)),
        Sink::Stdout(mut spool) => {
            let mut stdout = io::stdout().lock();
            spool
                .seek(SeekFrom::Start(0))
                .and_then(|_| io::copy(&mut spool, &mut stdout))
                .and_then(|_| stdout.flush())
                .map_err(|e| io_error("write output to stdout", e))
        }
    }
}

/// Where the output goes once the guest succeeded.
enum Sink {
    File(Destination),
    /// Copied to stdout from this spool file.
    Stdout(File),
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The input file, opened read-only; stdin is spooled to an anonymous
/// temporary file first, so it too is read on demand.
fn open_input(path: &Path) -> Result<Input, Failure> {
    let opened = if is_stdio(path) {
        tempfile::tempfile().and_then(|mut spool| {
            io::copy(&mut io::stdin().lock(), &mut spool)?;
            Ok(spool)
        })
    } else {
        File::open(path)
    };
    let what = if is_stdio(path) {
        "stdin".to_string()
    } else {
        path.display().to_string()
    };
    opened
        .map(Input::File)
        .map_err(|e| fail(exit::IO, format!("cannot read input {what}: {e}")))
}
