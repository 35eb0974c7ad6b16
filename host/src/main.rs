//! The `bufbridge` command line: parses arguments, moves files, maps outcomes
//! to exit codes. Everything else is in the library.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use bufbridge::destination::Destination;
use bufbridge::units::{Seconds, Size, parse_duration, parse_size};
use bufbridge::{
    Cache, DEFAULT_GUEST, Host, HostOptions, Input, Limit, Limits, Output, Progress, RunError,
    Watch,
};
use clap::{Args, Parser, Subcommand};

/// Exit codes, as `--help` and the README list them.
mod exit {
    pub const GUEST_ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const TRAPPED: u8 = 3;
    pub const IO: u8 = 4;
    /// Stopped by signal `n`: 128 + n, as shells report it.
    pub const SIGNALLED: i32 = 128;
}

/// The largest GUEST file read: a guest is compiled in memory, so a bigger
/// one (or `/dev/zero`) is refused rather than read until memory runs out.
const MAX_GUEST: u64 = 256 << 20;

const EXIT_CODES: &str = "\
Exit codes:
  0  success: the output was written
  1  the guest returned an error (its message is printed)
  2  usage error: bad arguments, or GUEST does not fit (`bufbridge inspect GUEST` says why)
  3  the guest trapped or hit a limit (the message names the cause)
  4  host I/O error: the guest or input is unreadable, or the output is unwritable
     (a closed or failing stdout included)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM (128 + the signal's number):
     temporary files removed, the output left as it was

Limits (all flags of `bufbridge run`, with units): --timeout 30s, --memory 256MiB,
--quota 1GiB, --max-output 4GiB, --max-input 4GiB, --max-buffers 4096,
--max-copy 256MiB, --fuel (off). A GUEST file is at most 256 MiB.

On any failure, or when stopped by a signal, the output file is left exactly as it was.";

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

Inputs and outputs:
  `-`, /dev/stdin, /dev/stdout, /dev/fd/N name the descriptor itself: `>> log`
  appends. A pipe, FIFO, device or /proc file given as --input is read as a
  stream (up to --max-input, within --timeout) into a temporary file first.

Exit codes:
  0 ok, 1 guest error, 2 usage error, 3 guest trapped or hit a limit, 4 host I/O error,
  129/130/143 stopped by SIGHUP/SIGINT/SIGTERM (the output left as it was)";

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

    /// Wall-clock limit (ms, s, m, h) for the guest's run together with the
    /// host's waits for it: reading a streamed input (stdin, a pipe), a FIFO
    /// to be opened. Compiling the guest is not counted. 0 for none
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

    /// Most bytes read from a streamed input (stdin, a pipe, a device), which
    /// is first copied to a temporary file in $TMPDIR; a regular file is read
    /// in place, whatever its size
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4GiB")]
    max_input: u64,

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
                eprintln!(
                    "bufbridge: {}",
                    printable(&failure.message, stderr_is_terminal())
                );
                ExitCode::from(failure.code)
            }
        },
        Command::Inspect(args) => inspect(args),
        Command::New(args) => new(args),
    }
}

fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
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
            Some(path) => Cow::Owned(read_guest(path)?),
            None => Cow::Borrowed(DEFAULT_GUEST),
        };
        let options = HostOptions {
            cache: Cache::default_dir().map(Cache::new),
            ..HostOptions::default()
        };
        let _notice = CompileNotice::start(&name, options.cache.is_some(), false);
        let host = Host::with_options(options).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot start the WebAssembly engine: {e:#}"),
            )
        })?;
        host.inspect(&bytes)
            .map_err(|e| fail(exit::USAGE, format!("cannot inspect {name}: {e}")))
    })();
    match report {
        Ok(report) => {
            // Import and export names come from the guest.
            let text = report.to_string();
            match io::stdout().is_terminal() {
                true => print!("{}", escape_controls(&text)),
                false => print!("{text}"),
            }
            match report.fits() {
                true => ExitCode::SUCCESS,
                false => ExitCode::from(exit::USAGE),
            }
        }
        Err(failure) => {
            eprintln!(
                "bufbridge: {}",
                printable(&failure.message, stderr_is_terminal())
            );
            ExitCode::from(failure.code)
        }
    }
}

/// Reads a GUEST file: a regular file of at most [`MAX_GUEST`] bytes. It is
/// opened without blocking, so a FIFO with no writer is refused at once
/// rather than waited on.
fn read_guest(path: &Path) -> Result<Vec<u8>, Failure> {
    let cannot = |why: String| format!("cannot read guest {}: {why}", path.display());
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| fail(exit::IO, cannot(e.to_string())))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(exit::IO, cannot(e.to_string())))?;
    if !meta.is_file() {
        return Err(fail(
            exit::IO,
            cannot("not a regular file (a guest is read from a file; save it to one first)".into()),
        ));
    }
    let too_big = || {
        fail(
            exit::TRAPPED,
            cannot(format!(
                "larger than the limit of {} for a guest",
                Size(MAX_GUEST)
            )),
        )
    };
    if meta.len() > MAX_GUEST {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_GUEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(exit::IO, cannot(e.to_string())))?;
    match bytes.len() as u64 > MAX_GUEST {
        true => Err(too_big()),
        false => Ok(bytes),
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
    // First, before any other thread starts: every thread inherits the
    // signal mask that leaves SIGINT, SIGTERM and SIGHUP to the watcher.
    signals::install();
    init_logging(args.verbose);
    let mut budget = Budget::new(args.timeout);
    let guest_bytes: Cow<[u8]> = match &args.guest {
        Some(path) => Cow::Owned(read_guest(path)?),
        None => Cow::Borrowed(DEFAULT_GUEST),
    };
    let input = open_input(&args.input, args.max_input, &mut budget)?;
    // Prepared before the guest runs, so an unwritable destination fails
    // first. The output is written straight into the temporary file beside
    // the destination (or, for a descriptor, a device or a pipe, an
    // anonymous spool) and kept only on success.
    let target = Target::of(&args.output);
    let output_name = target.name();
    let io_error = |what: &str, e: io::Error| fail(exit::IO, format!("cannot {what}: {e}"));
    let spool = || {
        tempfile::tempfile()
            .and_then(|spool| Ok((spool.try_clone()?, spool)))
            .map_err(|e| io_error("create a spool file for the output", e))
    };
    let (sink, output_file) = match target {
        Target::Fd(fd) => {
            if !fds::is_open(fd) {
                return Err(fail(
                    exit::IO,
                    format!("cannot {output_name}: {} is closed", fds::name(fd)),
                ));
            }
            let to = fds::dup(fd).map_err(|e| io_error(&output_name, e))?;
            let (spool, file) = spool()?;
            (Sink::Fd { to, spool }, file)
        }
        Target::Special(path) => {
            let (spool, file) = spool()?;
            (Sink::Special { path, spool }, file)
        }
        Target::File(path) => {
            let dest = Destination::create(&path).map_err(|e| io_error(&output_name, e))?;
            let file = dest.file().map_err(|e| io_error(&output_name, e))?;
            let pending = PendingFile {
                removed_on_signal: signals::remove_on_signal(dest.temp_path()),
                dest,
            };
            (Sink::File(pending), file)
        }
    };

    let options = HostOptions {
        fuel: args.fuel.is_some(),
        cache: (!args.no_cache)
            .then(Cache::default_dir)
            .flatten()
            .map(Cache::new),
        pooling: false,
    };
    let guest_name = args
        .guest
        .as_ref()
        .map_or("the default guest".into(), |p| p.display().to_string());
    let notice = CompileNotice::start(&guest_name, options.cache.is_some(), args.verbose);
    let host = Host::with_options(options).map_err(|e| {
        fail(
            exit::IO,
            format!("cannot start the WebAssembly engine: {e:#}"),
        )
    })?;
    let guest = host
        .load(&guest_bytes)
        .map_err(|e| fail(exit::USAGE, format!("cannot load {guest_name}: {e}")))?;
    drop(notice);
    let limits = Limits {
        max_output: args.max_output,
        quota: args.quota,
        max_buffers: args.max_buffers,
        max_copy: args.max_copy,
        memory: args.memory,
        timeout: budget.left(),
        fuel: args.fuel,
    };
    let input_size = match &input {
        Input::File(file) => file.metadata().ok().map(|m| m.len()),
        Input::Bytes(bytes) => Some(bytes.len() as u64),
        Input::Shared(bytes) => Some(bytes.len() as u64),
    };
    let progress = Progress::new();
    let line = ProgressLine::start(&progress, input_size);
    let watch = Watch {
        time_host_calls: args.stats,
        progress: Some(&progress),
    };
    let output = Output::File(output_file);
    let started = Instant::now();
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
            RunError::Misconfigured(_) => exit::USAGE,
        };
        let mut message = match &e {
            // The guest had what was left of --timeout: name the whole of it.
            RunError::LimitExceeded(Limit::Time(_), _) if !budget.spent.is_zero() => {
                budget.guest_ran_out()
            }
            _ => e.to_string(),
        };
        if args.verbose && !matches!(e, RunError::Failed(_)) {
            message = format!("{message}\n\n{}", e.details());
        }
        fail(code, message)
    })?;
    budget.spend(started);

    match sink {
        Sink::File(pending) => {
            // Synced before, renamed under the signal lock: a signal either
            // removes the temporary file first or finds the output complete.
            pending.dest.sync().map_err(|e| io_error(&output_name, e))?;
            signals::uninterrupted(|| pending.dest.commit()).map_err(|e| io_error(&output_name, e))
        }
        Sink::Fd { to, spool } => write_spool(spool, to).map_err(|e| io_error(&output_name, e)),
        Sink::Special { path, spool } => {
            let mut options = OpenOptions::new();
            options.write(true);
            let device = match open_within(&path, options, budget.deadline()) {
                Some(opened) => opened.map_err(|e| io_error(&output_name, e))?,
                None => {
                    return Err(fail(
                        exit::TRAPPED,
                        format!(
                            "cannot {output_name}: no reader opened it within {}",
                            budget.limit()
                        ),
                    ));
                }
            };
            write_spool(spool, device).map_err(|e| io_error(&output_name, e))
        }
    }
}

/// Copies the whole spool to `to`, and makes sure it arrived as far as the
/// kernel: a closed or full descriptor is an error, never a silent loss.
fn write_spool(mut spool: File, mut to: File) -> io::Result<()> {
    spool.seek(SeekFrom::Start(0))?;
    io::copy(&mut spool, &mut to)?;
    to.flush()
}

/// The time `--timeout` allows. The guest's run and the host's waits for
/// it (a streamed input, a FIFO to be opened) share it; compiling the guest
/// is not counted.
struct Budget {
    timeout: Option<Duration>,
    /// Used so far, outside the guest.
    spent: Duration,
}

impl Budget {
    fn new(timeout: Duration) -> Self {
        Budget {
            timeout: (!timeout.is_zero()).then_some(timeout),
            spent: Duration::ZERO,
        }
    }

    /// What is left of it; `None` for no limit.
    fn left(&self) -> Option<Duration> {
        self.timeout.map(|t| t.saturating_sub(self.spent))
    }

    /// When what is left runs out, counted from now.
    fn deadline(&self) -> Option<Instant> {
        self.left().map(|left| Instant::now() + left)
    }

    fn spend(&mut self, since: Instant) {
        self.spent += since.elapsed();
    }

    /// `the time limit of 1s (--timeout)`.
    fn limit(&self) -> String {
        format!(
            "{} (--timeout)",
            Limit::Time(self.timeout.unwrap_or_default())
        )
    }

    /// Why the guest was stopped, when waiting for its input took part of
    /// the time.
    fn guest_ran_out(&self) -> String {
        format!(
            "guest exceeded {}, of which reading the input took {}",
            self.limit(),
            Seconds(self.spent)
        )
    }
}

/// Opens `path`, giving up when `deadline` passes (`None`): opening a FIFO
/// waits until the other end is opened too, which may be never. The open
/// runs on a thread of its own; one that is still waiting is left behind,
/// and ends with the process.
fn open_within(
    path: &Path,
    options: OpenOptions,
    deadline: Option<Instant>,
) -> Option<io::Result<File>> {
    let Some(deadline) = deadline else {
        return Some(options.open(path));
    };
    let (opened, receive) = mpsc::sync_channel(1);
    let owned = path.to_path_buf();
    let spawned = thread::Builder::new()
        .name("bufbridge-open".into())
        .spawn(move || {
            let _ = opened.send(options.open(&owned));
        });
    if let Err(e) = spawned {
        return Some(Err(e));
    }
    match receive.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(result) => Some(result),
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => Some(Err(io::Error::other("the open failed"))),
    }
}

/// Where `--output` goes.
enum Target {
    /// A descriptor this process has: `-` (stdout), `/dev/stdout`,
    /// `/dev/fd/N`. Written to, like a shell redirection would be, so
    /// `>> log` appends: renaming over the file behind it would lose `log`.
    Fd(i32),
    /// An existing device or FIFO: written to, never renamed over.
    Special(PathBuf),
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Target {
    fn of(path: &Path) -> Target {
        if is_stdio(path) {
            return Target::Fd(fds::STDOUT);
        }
        if let Some(fd) = fds::named(path) {
            return Target::Fd(fd);
        }
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => Target::Special(path.to_path_buf()),
            _ => Target::File(path.to_path_buf()),
        }
    }

    /// `write output to stdout`, `write output out.txt`.
    fn name(&self) -> String {
        match self {
            Target::Fd(fd) => format!("write output to {}", fds::name(*fd)),
            Target::Special(path) | Target::File(path) => {
                format!("write output {}", path.display())
            }
        }
    }
}

/// Where the output goes once the guest succeeded.
enum Sink {
    /// A regular file, replaced atomically.
    File(PendingFile),
    /// A descriptor of this process, written from this spool file.
    Fd { to: File, spool: File },
    /// A device or a FIFO, opened and written from the spool on success.
    Special { path: PathBuf, spool: File },
}

/// A destination whose temporary file a signal removes. The fields drop in
/// order: the temporary file goes before the signal watcher forgets it.
struct PendingFile {
    dest: Destination,
    #[allow(dead_code)] // held for its Drop
    removed_on_signal: signals::Registered,
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The input, ready for the guest. A regular file is read in place; a
/// stream (stdin, a pipe or FIFO, a device, a `/proc` file, which says it
/// is empty) is first copied into an anonymous temporary file, so that the
/// guest can read it by offset; `-`, `/dev/stdin` and `/dev/fd/N` read the
/// descriptor itself. Waiting for the stream counts against `--timeout`.
fn open_input(path: &Path, max_input: u64, budget: &mut Budget) -> Result<Input, Failure> {
    let started = Instant::now();
    let fd = match is_stdio(path) {
        true => Some(fds::STDIN),
        false => fds::named(path),
    };
    let what = match fd {
        Some(fd) => fds::name(fd),
        None => path.display().to_string(),
    };
    let cannot = |e: io::Error| fail(exit::IO, format!("cannot read input {what}: {e}"));
    let file = match fd {
        Some(fd) if !fds::is_open(fd) => {
            return Err(fail(
                exit::IO,
                format!("cannot read input {what}: it is closed"),
            ));
        }
        Some(fd) => fds::dup(fd).map_err(cannot)?,
        None => {
            let mut options = OpenOptions::new();
            options.read(true);
            match open_within(path, options, budget.deadline()) {
                Some(opened) => opened.map_err(cannot)?,
                None => {
                    return Err(fail(
                        exit::TRAPPED,
                        format!(
                            "cannot read input {what}: no writer opened it within {}",
                            budget.limit()
                        ),
                    ));
                }
            }
        }
    };
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(cannot(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    // A descriptor shared with the caller is read from where it stands;
    // only a file at its start can be read in place.
    let at_start = || (&file).stream_position().is_ok_and(|at| at == 0);
    if meta.is_file() && meta.len() > 0 && at_start() {
        return Ok(Input::File(file));
    }
    let spool = spool_stream(file, &what, max_input, budget)?;
    // Only a stream is waited for; opening a file takes no time to speak of.
    budget.spend(started);
    Ok(Input::File(spool))
}

/// The size of one read from a stream.
const CHUNK: usize = 256 * 1024;

/// Copies a stream into an anonymous temporary file (which vanishes with
/// the process, however it ends): at most `max` bytes, within what is left
/// of `--timeout`.
fn spool_stream(mut from: File, what: &str, max: u64, budget: &Budget) -> Result<File, Failure> {
    let cannot = |e: io::Error| fail(exit::IO, format!("cannot read input {what}: {e}"));
    let mut spool = tempfile::tempfile().map_err(|e| {
        fail(
            exit::IO,
            format!("cannot create a spool file for input {what}: {e}"),
        )
    })?;
    let deadline = budget.deadline();
    let mut buf = vec![0; CHUNK];
    let mut total: u64 = 0;
    loop {
        if !fds::wait_readable(&from, deadline).map_err(cannot)? {
            return Err(fail(
                exit::TRAPPED,
                format!(
                    "cannot read input {what}: it took longer than {}, {} read",
                    budget.limit(),
                    Size(total)
                ),
            ));
        }
        // One byte past the limit tells a stream that is too long.
        let want = max
            .saturating_add(1)
            .saturating_sub(total)
            .min(CHUNK as u64) as usize;
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                continue;
            }
            Err(e) => return Err(cannot(e)),
        };
        total += n as u64;
        if total > max {
            return Err(fail(
                exit::TRAPPED,
                format!(
                    "cannot read input {what}: it is larger than the input limit of {} (--max-input)",
                    Size(max)
                ),
            ));
        }
        spool.write_all(&buf[..n]).map_err(|e| {
            fail(
                exit::IO,
                format!("cannot spool input {what} to a temporary file: {e}"),
            )
        })?;
    }
    Ok(spool)
}

/// Says that a guest is being compiled, when loading it takes longer than
/// a moment: a cold compile of a large guest takes seconds of silence
/// otherwise. Only for a person watching (stderr is a terminal), or `-v`.
struct CompileNotice {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// How long loading goes on before the notice is shown.
const COMPILE_NOTICE_AFTER: Duration = Duration::from_secs(1);

impl CompileNotice {
    fn start(guest: &str, cached: bool, verbose: bool) -> Option<Self> {
        if !verbose && !stderr_is_terminal() {
            return None;
        }
        let message = match cached {
            true => format!("bufbridge: compiling {guest} (first run; cached afterwards)"),
            false => format!("bufbridge: compiling {guest}"),
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(COMPILE_NOTICE_AFTER) {
                eprintln!("{message}");
            }
        });
        Some(CompileNotice {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for CompileNotice {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// The longest line of a message printed whole; a longer one (an invalid
/// guest's text, quoted by the parser) is cut.
const MAX_LINE_CHARS: usize = 1000;
/// The most lines of a message printed.
const MAX_LINES: usize = 500;

/// A message as printed: lines capped (a 100 MB invalid guest must not
/// come back as a 100 MB message) and, on a terminal, control characters
/// escaped, since a guest's text could otherwise drive the terminal.
fn printable(message: &str, terminal: bool) -> String {
    let mut out = String::new();
    let lines = message.split('\n').count();
    for (i, line) in message.split('\n').take(MAX_LINES).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => {
                out.push_str(&line[..cut]);
                out.push_str(&format!(" … ({} more bytes)", line.len() - cut));
            }
            None => out.push_str(line),
        }
    }
    if lines > MAX_LINES {
        out.push_str(&format!("\n… ({} more lines)", lines - MAX_LINES));
    }
    match terminal {
        true => escape_controls(&out),
        false => out,
    }
}

/// Control characters but newline and tab, written as `\u{1b}`.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_debug()),
            c => out.push(c),
        }
    }
    out
}

/// The process's own file descriptors: which one a path names, and which
/// were closed when it started.
#[cfg(unix)]
mod fds {
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::time::Instant;

    pub const STDIN: i32 = 0;
    pub const STDOUT: i32 = 1;

    /// Bit N set: descriptor N (0, 1 or 2) was closed when the process
    /// started. Rust's runtime opens /dev/null on a closed standard
    /// descriptor before `main`, so the output would vanish into it; this
    /// is recorded earlier, by a constructor.
    static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

    // SAFETY: `.init_array` holds plain `extern "C" fn()` pointers that the
    // loader calls before `main`; `record_closed` only reads descriptor flags
    // and stores to an atomic, so it needs nothing Rust's runtime sets up.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[used]
    #[unsafe(link_section = ".init_array")]
    static RECORD_CLOSED: extern "C" fn() = record_closed;

    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    extern "C" fn record_closed() {
        let mut closed = 0;
        for fd in 0..3 {
            // SAFETY: F_GETFD only reads a descriptor's flags; any number is
            // a valid argument (a closed one gives EBADF).
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
                closed |= 1 << fd;
            }
        }
        CLOSED_AT_START.store(closed, Ordering::Relaxed);
    }

    /// Whether `fd` is open (and was, for 0, 1 and 2, when the process started).
    pub fn is_open(fd: i32) -> bool {
        if (0..3).contains(&fd) && CLOSED_AT_START.load(Ordering::Relaxed) & (1 << fd) != 0 {
            return false;
        }
        // SAFETY: as in `record_closed`.
        fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1
    }

    /// A new descriptor for what `fd` refers to (sharing its offset and
    /// flags, as a shell redirection does).
    pub fn dup(fd: i32) -> io::Result<File> {
        if !is_open(fd) {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: `fd` is open (checked just above) and this process never
        // closes descriptors it did not open, so it stays open while borrowed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        Ok(File::from(borrowed.try_clone_to_owned()?))
    }

    /// `stdin`, `stdout`, `stderr`, `descriptor N`.
    pub fn name(fd: i32) -> String {
        match fd {
            0 => "stdin".into(),
            1 => "stdout".into(),
            2 => "stderr".into(),
            n => format!("descriptor {n}"),
        }
    }

    /// The most symbolic links followed while looking for a descriptor.
    const MAX_LINKS: usize = 40;

    /// The descriptor a path names: `/dev/stdin`, `/dev/stdout`,
    /// `/dev/fd/N`, `/proc/self/fd/N`, or a link to one of them. Such a path
    /// is the descriptor itself, not the file behind it.
    pub fn named(path: &Path) -> Option<i32> {
        let pid = std::process::id();
        let fd_dir = PathBuf::from(format!("/proc/{pid}/fd"));
        let task_dir = PathBuf::from(format!("/proc/{pid}/task"));
        let mut path = path.to_path_buf();
        for _ in 0..MAX_LINKS {
            let name = path.file_name()?.to_owned();
            let parent = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            let parent = std::fs::canonicalize(parent).ok()?;
            let in_task = parent.starts_with(&task_dir)
                && parent.components().count() == 6
                && parent.ends_with("fd");
            if parent == fd_dir || in_task || parent == Path::new("/dev/fd") {
                return name.to_str()?.parse().ok();
            }
            let target = std::fs::read_link(parent.join(&name)).ok()?;
            path = parent.join(target);
        }
        None
    }

    /// Waits until `file` can be read without blocking (or is at its end),
    /// or until `deadline` (false); `None` waits as long as it takes.
    pub fn wait_readable(file: &File, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            let timeout = match deadline {
                None => -1,
                Some(deadline) => {
                    // Checked first: a stream that is always ready (`yes`)
                    // must stop at the deadline too.
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    // Rounded up, so a wait never ends early by a fraction.
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            let mut poll = libc::pollfd {
                fd: file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`, and the count says one.
            match unsafe { libc::poll(&mut poll, 1, timeout) } {
                -1 => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
                // Readable, at its end, or failed: the read says which.
                n if n > 0 => return Ok(true),
                // Timed out: the deadline is checked again above.
                _ => {}
            }
        }
    }
}

/// Without Unix descriptors, `-` is the only descriptor named.
#[cfg(not(unix))]
mod fds {
    use std::fs::File;
    use std::io;
    use std::path::Path;
    use std::time::Instant;

    pub const STDIN: i32 = 0;
    pub const STDOUT: i32 = 1;

    pub fn is_open(_fd: i32) -> bool {
        true
    }

    pub fn dup(fd: i32) -> io::Result<File> {
        use std::os::windows::io::{AsHandle, OwnedHandle};
        let handle: OwnedHandle = match fd {
            0 => io::stdin().as_handle().try_clone_to_owned()?,
            _ => io::stdout().as_handle().try_clone_to_owned()?,
        };
        Ok(File::from(handle))
    }

    pub fn name(fd: i32) -> String {
        match fd {
            0 => "stdin".into(),
            _ => "stdout".into(),
        }
    }

    pub fn named(_path: &Path) -> Option<i32> {
        None
    }

    pub fn wait_readable(_file: &File, _deadline: Option<Instant>) -> io::Result<bool> {
        Ok(true)
    }
}

/// SIGINT, SIGTERM and SIGHUP: the temporary files are removed, the
/// destination is left as it was, and the process exits 128 + the signal,
/// as shells report it. A watcher thread takes the signals (they are
/// blocked in every other thread), so the cleanup runs as ordinary code,
/// whatever the main thread is doing inside the guest.
#[cfg(unix)]
mod signals {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard, PoisonError};

    /// The named temporary files a signal must remove. (Spools are
    /// anonymous: they vanish with the process.)
    static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    fn temp_files() -> MutexGuard<'static, Vec<PathBuf>> {
        TEMP_FILES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    const SIGNALS: [(libc::c_int, &str); 3] = [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ];

    /// Starts the watcher. Must run before any other thread is started,
    /// so that all of them inherit the blocked signals.
    pub fn install() {
        // SAFETY: `set` is a local sigset_t, initialised by sigemptyset
        // before use; pthread_sigmask and sigwait only read it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for (signal, _) in SIGNALS {
                libc::sigaddset(&mut set, signal);
            }
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
            let watcher = std::thread::Builder::new()
                .name("bufbridge-signals".into())
                .spawn(move || {
                    loop {
                        let mut signal = 0;
                        if libc::sigwait(&set, &mut signal) == 0 {
                            stop(signal);
                        }
                    }
                });
            if watcher.is_err() {
                // No watcher: the signals keep their default action.
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
        }
    }

    /// Removes the temporary files and exits. The lock is held until the
    /// process is gone, so no rename can follow the removal.
    fn stop(signal: libc::c_int) -> ! {
        let files = temp_files();
        for path in files.iter() {
            let _ = std::fs::remove_file(path);
        }
        let name = SIGNALS
            .iter()
            .find(|(s, _)| *s == signal)
            .map_or("a signal", |(_, name)| name);
        // SAFETY: isatty only asks about descriptor 2.
        let clear = match unsafe { libc::isatty(2) } {
            // A progress line may be showing: clear it first.
            1 => "\r\x1b[K",
            _ => "",
        };
        let message =
            format!("{clear}bufbridge: stopped by {name}; the output was left as it was\n");
        // SAFETY: writes a buffer we own to stderr, then ends the process
        // without running destructors or atexit handlers, which could wait
        // on locks the interrupted main thread holds.
        unsafe {
            libc::write(2, message.as_ptr().cast(), message.len());
            libc::_exit(super::exit::SIGNALLED + signal)
        }
    }

    /// A temporary file a signal removes, until this is dropped.
    pub struct Registered(PathBuf);

    pub fn remove_on_signal(path: &Path) -> Registered {
        temp_files().push(path.to_path_buf());
        Registered(path.to_path_buf())
    }

    impl Drop for Registered {
        fn drop(&mut self) {
            temp_files().retain(|p| *p != self.0);
        }
    }

    /// Runs `f` (a rename into place) with signals held off: a signal
    /// that arrives meanwhile is handled after it.
    pub fn uninterrupted<T>(f: impl FnOnce() -> T) -> T {
        let _held = temp_files();
        f()
    }
}

/// Without Unix signals, the default handling stays.
#[cfg(not(unix))]
mod signals {
    use std::path::Path;

    pub fn install() {}

    pub struct Registered;

    pub fn remove_on_signal(_path: &Path) -> Registered {
        Registered
    }

    pub fn uninterrupted<T>(f: impl FnOnce() -> T) -> T {
        f()
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
