//! The command line: flags, their defaults (the library's), and the help.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use bufbridge::Limits;
use bufbridge::units::{Seconds, Size, parse_duration, parse_size};
use clap::{Args, Parser, Subcommand};

use super::guest::{COMMANDS, MAX_GUEST};
use super::input::MAX_INPUT;

#[derive(Parser)]
#[command(
    name = "bufbridge",
    version,
    about = "Run a WebAssembly guest over your data through host-owned buffers",
    long_about = "Run a WebAssembly guest over your data through host-owned buffers.\n\n\
        A guest is a component of the `processor` world in wit/buffers.wit: the host \
        gives it the input as a read-only buffer and an empty output buffer, and keeps \
        the output only if the guest succeeds.",
    after_help = main_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a guest over an input, writing its output; or over many inputs
    /// at once, into a directory (--output-dir)
    #[command(after_long_help = run_help())]
    Run(RunArgs),
    /// Show a guest's imports and exports, and whether it fits the host
    #[command(after_long_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Make a new guest crate on the guest SDK, built with `cargo build --release`
    New(NewArgs),
}

#[derive(Args)]
pub struct NewArgs {
    /// Folder to create (it must not exist); its name is the crate's
    pub name: PathBuf,
    /// The guest SDK to depend on [default: sdk/ of the checkout bufbridge was built from]
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

#[derive(Args)]
pub struct InspectArgs {
    /// Guest to inspect: a component, or a core module (.wasm or .wat) [default: the embedded default guest]
    pub guest: Option<PathBuf>,
}

#[derive(Args)]
pub struct RunArgs {
    /// Guest to run: a component, or a core module (.wasm or .wat) [default: the embedded default guest]
    pub guest: Option<PathBuf>,

    /// File to read, or `-` for stdin; never modified. With --output-dir,
    /// one or more files, each run on its own (`--input data/*.txt`)
    #[arg(short, long, value_name = "PATH|-", required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,

    /// File to write, or `-` for stdout; replaced only when the guest succeeds
    #[arg(
        short,
        long,
        value_name = "PATH|-",
        required_unless_present = "output_dir"
    )]
    pub output: Option<PathBuf>,

    /// Batch mode: write each input's output to DIR/<its file name>, each
    /// replaced only when its run succeeds. DIR is created if it does not
    /// exist (its parent must)
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub output_dir: Option<PathBuf>,

    /// Batch mode: how many inputs run at once [default: the number of CPUs]
    #[arg(short, long, value_name = "N", requires = "output_dir", value_parser = parse_jobs)]
    pub jobs: Option<usize>,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// After the run, print calls and bytes per buffer import and the time
    /// spent in the guest and in the host, to stderr (per input in batch mode)
    #[arg(long)]
    pub stats: bool,

    /// Compile the guest afresh instead of using the compilation cache
    /// ($BUFBRIDGE_CACHE_DIR, else ~/.cache/bufbridge)
    #[arg(long)]
    pub no_cache: bool,

    /// Log what the host does (loading, the cache, the run) to stderr and, on
    /// failure, print the whole error chain and the guest's backtrace.
    /// RUST_LOG (e.g. `bufbridge=trace,wasmtime=debug`) chooses the logs instead
    #[arg(short, long)]
    pub verbose: bool,

    /// Arguments passed to the guest's `process` (after `--`)
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// The limits of one run (of each input's, in batch mode).
#[derive(Args)]
pub struct LimitArgs {
    /// Most bytes the output may hold (units: KiB, MiB, GiB, KB, MB, ...)
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = DEFAULTS.max_output.as_str())]
    pub max_output: u64,

    /// Most bytes the guest's scratch buffers may hold together
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = DEFAULTS.quota.as_str())]
    pub quota: u64,

    /// Wall-clock limit (ms, s, m, h) for the guest's run together with the
    /// host's waits for it: reading a streamed input (stdin, a pipe), a FIFO
    /// to be opened. Compiling the guest is not counted. 0 for none
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = DEFAULTS.timeout.as_str())]
    pub timeout: Duration,

    /// Instruction budget (fuel units, about one per wasm instruction) [default: unlimited]
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,

    /// Most linear memory the guest may have
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = DEFAULTS.memory.as_str())]
    pub memory: u64,

    /// Most buffers alive at once, input and output included
    #[arg(long, value_name = "N", default_value = DEFAULTS.max_buffers.as_str())]
    pub max_buffers: usize,

    /// Most bytes one buffer call may move
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = DEFAULTS.max_copy.as_str())]
    pub max_copy: u64,

    /// Most bytes read from a streamed input (stdin, a pipe, a device), which
    /// is first copied to a temporary file in $TMPDIR; a regular file is read
    /// in place, whatever its size
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = DEFAULTS.max_input.as_str())]
    pub max_input: u64,
}

impl LimitArgs {
    /// The library's limits for one run that has `timeout` left.
    pub fn limits(&self, timeout: Option<Duration>) -> Limits {
        Limits {
            max_output: self.max_output,
            quota: self.quota,
            max_buffers: self.max_buffers,
            max_copy: self.max_copy,
            memory: self.memory,
            timeout,
            fuel: self.fuel.or(Limits::default().fuel),
        }
    }
}

/// The flags' defaults as the command line writes them, made from the
/// library's [`Limits::default`] (and [`MAX_INPUT`]): the parser and the
/// help say what the library does.
pub struct Defaults {
    max_output: String,
    quota: String,
    timeout: String,
    memory: String,
    max_buffers: String,
    max_copy: String,
    max_input: String,
}

pub static DEFAULTS: LazyLock<Defaults> = LazyLock::new(|| {
    let limits = Limits::default();
    Defaults {
        max_output: size(limits.max_output),
        quota: size(limits.quota),
        timeout: limits
            .timeout
            .map_or("0".into(), |timeout| Seconds(timeout).to_string()),
        memory: size(limits.memory),
        max_buffers: limits.max_buffers.to_string(),
        max_copy: size(limits.max_copy),
        max_input: size(MAX_INPUT),
    }
});

/// `4GiB`: exact, in the largest binary unit that divides it, as
/// [`parse_size`] reads it back.
fn size(bytes: u64) -> String {
    for (unit, name) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << unit && bytes.is_multiple_of(1 << unit) {
            return format!("{}{name}", bytes >> unit);
        }
    }
    bytes.to_string()
}

/// `-j N`: at least one.
fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("`{text}` is not a number of jobs (1 or more)")),
        Ok(n) => Ok(n),
    }
}

/// After `bufbridge --help`.
fn main_help() -> String {
    let d = &*DEFAULTS;
    format!(
        "\
Exit codes:
  0  success: the output was written
  1  the guest returned an error (its message is printed)
  2  usage error: bad arguments, or GUEST does not fit (`bufbridge inspect GUEST` says why)
  3  the guest trapped or hit a limit (the message names the cause)
  4  host I/O error: the guest or input is unreadable, or the output is unwritable
     (a closed or failing stdout included)
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM (128 + the signal's number):
     temporary files removed, the output left as it was

Limits (all flags of `bufbridge run`, with units): --timeout {}, --memory {},
--quota {}, --max-output {}, --max-input {}, --max-buffers {},
--max-copy {}, --fuel (off). A GUEST file is at most {}.

On any failure, or when stopped by a signal, the output file is left exactly as it was.",
        d.timeout,
        d.memory,
        d.quota,
        d.max_output,
        d.max_input,
        d.max_buffers,
        d.max_copy,
        Size(MAX_GUEST)
    )
}

/// After `bufbridge run --help`: examples, the default guest's commands
/// (from the guest's own list), batch mode, exit codes.
fn run_help() -> String {
    let width = COMMANDS.iter().map(|(name, _)| name.len()).max();
    let commands: String = COMMANDS
        .iter()
        .map(|(name, what)| format!("  {name:<w$}  {what}\n", w = width.unwrap_or(0)))
        .collect();
    format!(
        "\
Examples:
  bufbridge run --input notes.txt --output - -- upper
  bufbridge run --input data.bin --output copy.bin
  cat log.txt | bufbridge run --input - --output - -- count
  bufbridge run my_guest.wasm --input in.txt --output out.txt -- --my-flag 3

The default guest's commands (the first word after `--`; none means copy):
{commands}
Batch mode (many inputs, one process; the guest is compiled once):
  bufbridge run --output-dir out/ -j 4 --input data/*.txt -- upper
  Each input's output goes to DIR/<its file name>, written atomically when its
  run succeeds; a failed input is named on stderr and the others are still
  written. Two inputs with the same file name are refused before anything runs.
  The limits apply to each input. The exit code is the highest of the failed
  inputs' codes (0 when all succeeded). On SIGINT/SIGTERM/SIGHUP, the outputs
  already written are complete and no partial file is left.

Inputs and outputs:
  `-`, /dev/stdin, /dev/stdout, /dev/fd/N name the descriptor itself: `>> log`
  appends. A pipe, FIFO, device or /proc file given as --input is read as a
  stream (up to --max-input, within --timeout) into a temporary file first.

Exit codes:
  0 ok, 1 guest error, 2 usage error, 3 guest trapped or hit a limit, 4 host I/O error,
  129/130/143 stopped by SIGHUP/SIGINT/SIGTERM (the output left as it was)"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sizes_are_written_exactly_and_read_back() {
        for bytes in [0, 1000, 4096, 3 << 29, 256 << 20, 4 << 30, (1 << 40) + 1] {
            assert_eq!(parse_size(&size(bytes)), Ok(bytes), "{}", size(bytes));
        }
        assert_eq!(size(4 << 30), "4GiB");
        assert_eq!(size(1536 << 20), "1536MiB");
    }
}
