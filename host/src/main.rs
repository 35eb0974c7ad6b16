//! The `bufbridge` command line: parses arguments, moves files, maps outcomes
//! to exit codes. Everything else is in the library.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use bufbridge::destination::Destination;
use bufbridge::units::{Size, parse_duration, parse_size};
use bufbridge::{
    Cache, DEFAULT_GUEST, Host, HostOptions, Input, Limits, Output, Progress, RunError, Watch,
};
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
  2  usage error: bad arguments, or GUEST does not fit (`bufbridge inspect GUEST` says why)
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
    /// Show a guest's imports and exports, and whether it fits the host
    #[command(after_long_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Make a new guest crate on the guest SDK, built with `cargo build --release`
    New(NewArgs),
}

#[derive(Args)]
struct NewArgs {
    /// Folder to create (it must not exist); its name is the crate's
    name: PathBuf,
    /// The guest SDK to depend on [default: sdk/ of the checkout bufbridge was built from]
    #[arg(long, value_name = "PATH")]
    sdk: Option<PathBuf>,
}

/// `bufbridge new`: exit 2 for a name or folder that cannot be used, 4 when
/// writing fails.
fn new(args: NewArgs) -> ExitCode {
    match bufbridge::scaffold::create(&args.name, args.sdk.as_deref()) {
        Ok(made) => {
            print!("{made}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bufbridge: {e}");
            ExitCode::from(if e.is_usage() { exit::USAGE } else { exit::IO })
        }
    }
}

const INSPECT_HELP: &str = "\
Prints what GUEST imports and exports, in WIT for a component and with core
types for a core module, then whether it fits the host: for a component, the
`processor` world of wit/buffers.wit (imports from it and from WASI 0.2, any
subset, and an export `process` of the world's type); for a core module,
wit/CORE_ABI.md. Each import or export that does not fit is listed with what
the host expected and what GUEST has. `bufbridge run` gives the same list for
a guest that does not fit.

Examples:
  bufbridge inspect
  bufbridge inspect my_guest.wasm

Exit codes:
  0 the guest fits, 2 it does not fit or is not WebAssembly, 4 GUEST is unreadable";

#[derive(Args)]
struct InspectArgs {
    /// Guest to inspect: a component, or a core module (.wasm or .wat) [default: the embedded default guest]
    guest: Option<PathBuf>,
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

    /// After the run, print calls and bytes per buffer import and the time
    /// spent in the guest and in the host, to stderr
    #[arg(long)]
    stats: bool,

    /// Compile the guest afresh instead of using the compilation cache
    /// ($BUFBRIDGE_CACHE_DIR, else ~/.cache/bufbridge)
    #[arg(long)]
    no_cache: bool,

    /// Log what the host does (loading, the cache, the run) to stderr and, on
    /// failure, print the whole error chain and the guest's backtrace.
    /// RUST_LOG (e.g. `bufbridge=trace,wasmtime=debug`) chooses the logs instead
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
        Command::Inspect(args) => inspect(args),
        Command::New(args) => new(args),
    }
}

/// `bufbridge inspect`: the report on stdout; exit 0 when the guest fits,
/// 2 when it does not.
fn inspect(args: InspectArgs) -> ExitCode {
    let name = args
        .guest
        .as_ref()
        .map_or("the default guest".into(), |p| p.display().to_string());
    let report = (|| {
        let bytes: Cow<[u8]> = match &args.guest {
            Some(path) => Cow::Owned(
                std::fs::read(path)
                    .map_err(|e| fail(exit::IO, format!("cannot read guest {name}: {e}")))?,
            ),
            None => Cow::Borrowed(DEFAULT_GUEST),
        };
        let options = HostOptions {
            cache: Cache::default_dir().map(Cache::new),
            ..HostOptions::default()
        };
        let host = Host::with_options(options).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot start the WebAssembly engine: {e:#}"),
            )
        })?;
        bufbridge::inspect::inspect(&host, &bytes)
            .map_err(|e| fail(exit::USAGE, format!("cannot inspect {name}: {e}")))
    })();
    match report {
        Ok(report) => {
            print!("{report}");
            match report.fits() {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(exit::USAGE),
            }
        }
        Err(failure) => {
            eprintln!("bufbridge: {}", failure.message);
            ExitCode::from(failure.code)
        }
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

/// Logs to stderr through `tracing`: what RUST_LOG asks for, else debug
/// events of bufbridge itself with `-v`, else only warnings.
fn init_logging(verbose: bool) {
    let default = if verbose { "bufbridge=debug" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .without_time()
        .init();
}

fn run(args: RunArgs) -> Result<(), Failure> {
    init_logging(args.verbose);
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
    let output_name = || match is_stdio(&args.output) {
        true => "write output to stdout".to_string(),
        false => format!("write output {}", args.output.display()),
    };
    let (sink, output_file) = if is_stdio(&args.output) || is_special(&args.output) {
        // Stdout, or a device or pipe: nothing to rename over, so the
        // output is spooled and written there on success.
        let spool = tempfile::tempfile()
            .and_then(|spool| Ok((spool.try_clone()?, spool)))
            .map_err(|e| io_error("create a spool file for the output", e))?;
        (Sink::Stream(spool.0), spool.1)
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
    let input_size = match &input {
        Input::File(file) => file.metadata().ok().map(|m| m.len()),
        Input::Bytes(bytes) => Some(bytes.len() as u64),
    };
    let progress = Progress::new();
    let line = ProgressLine::start(&progress, input_size);
    let watch = Watch {
        time_host_calls: args.stats,
        progress: Some(&progress),
    };
    let output = Output::File(output_file);
    let (result, stats) = host.run_watched(&guest, input, output, &args.args, &limits, &watch);
    drop(line);
    if args.stats {
        eprintln!("bufbridge: stats\n{stats}");
    }
    result.map_err(|e| {
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
        Sink::Stream(mut spool) => {
            let mut to: Box<dyn Write> = if is_stdio(&args.output) {
                Box::new(io::stdout().lock())
            } else {
                let device = std::fs::OpenOptions::new().write(true).open(&args.output);
                Box::new(device.map_err(|e| io_error(&output_name(), e))?)
            };
            spool
                .seek(SeekFrom::Start(0))
                .and_then(|_| io::copy(&mut spool, &mut to))
                .and_then(|_| to.flush())
                .map_err(|e| io_error(&output_name(), e))
        }
    }
}

/// A line on stderr saying how much of the input the guest has read,
/// redrawn a few times a second while the run goes on. Only for a person
/// watching: when stderr is a terminal and the input's size is known. A run
/// that ends within the first redraw shows nothing.
struct ProgressLine {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl ProgressLine {
    fn start(progress: &Progress, total: Option<u64>) -> Option<Self> {
        let total = total.filter(|&total| total > 0)?;
        if !io::stderr().is_terminal() {
            return None;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let progress = progress.clone();
        let thread = thread::spawn(move || {
            let mut drawn = false;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REDRAW) {
                let done = progress.input_bytes();
                let percent = 100.0 * done as f64 / total as f64;
                eprint!(
                    "\r\x1b[Kbufbridge: {} of {} read ({percent:.0}%)",
                    Size(done),
                    Size(total)
                );
                drawn = true;
            }
            if drawn {
                eprint!("\r\x1b[K");
            }
        });
        Some(ProgressLine {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// How often the progress line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

impl Drop for ProgressLine {
    /// Stops the redrawing and clears the line.
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Where the output goes once the guest succeeded.
enum Sink {
    /// A regular file, replaced atomically.
    File(Destination),
    /// Stdout or a special file, written from this spool file.
    Stream(File),
}

/// An existing destination that is not a regular file (`/dev/null`, a FIFO,
/// a terminal): it must be written to, never renamed over.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
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
