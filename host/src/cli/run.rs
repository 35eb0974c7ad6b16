//! `bufbridge run`: the flags → the input and output opened → the
//! library's run → an exit code. Batch mode (`--output-dir`) is in `batch`.

use std::io;
use std::path::Path;
use std::time::Instant;

use bufbridge::{
    Cache, Guest, Host, HostOptions, Input, Limit, Output, Progress, RunError, Stats, Watch,
};

use super::args::{LimitArgs, RunArgs};
use super::exit::{self, Failure, fail};
use super::input::{Budget, open_input};
use super::output::{Pending, Target};
use super::progress::ProgressLine;
use super::{batch, guest, signals};

pub fn run(args: RunArgs) -> Result<(), Failure> {
    match &args.output_dir {
        Some(dir) => batch::run(&args, dir),
        None => single(&args),
    }
}

/// One input to one output (`--output`).
fn single(args: &RunArgs) -> Result<(), Failure> {
    // First, before any other thread starts: every thread inherits the
    // signal mask that leaves SIGINT, SIGTERM and SIGHUP to the watcher.
    signals::install("the output was left as it was");
    init_logging(args.verbose);
    let ([input], Some(output)) = (&args.input[..], &args.output) else {
        return Err(fail(
            exit::USAGE,
            "several inputs need --output-dir DIR (batch mode); --output takes one --input \
             (and a GUEST goes before --input)",
        ));
    };
    let guest_bytes = guest::bytes(args.guest.as_deref())?;
    // Opened before the guest is compiled, so a missing input or an
    // unwritable destination fails first.
    let job = Job::open(input, Target::of(output), &args.limits)?;
    let options = host_options(args, false);
    let (host, guest) = guest::load(args.guest.as_deref(), &guest_bytes, options, args.verbose)?;
    let (result, stats) = job.run(&host, &guest, args, true);
    if args.stats {
        eprintln!("bufbridge: stats\n{stats}");
    }
    result?.commit()
}

/// How the engine is built for `args`. Pooling pays for itself only over
/// many runs: batch mode asks for it, a single run does not.
pub fn host_options(args: &RunArgs, pooling: bool) -> HostOptions {
    HostOptions {
        fuel: args.limits.limits(None).fuel.is_some(),
        cache: (!args.no_cache)
            .then(Cache::default_dir)
            .flatten()
            .map(Cache::new),
        pooling,
    }
}

/// Logs to stderr through `tracing`: what RUST_LOG asks for, else debug
/// events of bufbridge itself with `-v`, else only warnings.
pub fn init_logging(verbose: bool) {
    let default = if verbose { "bufbridge=debug" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .without_time()
        .init();
}

/// One run: its input opened, its output prepared, and what is left of
/// its `--timeout`.
pub struct Job {
    input: Input,
    size: Option<u64>,
    output: Pending,
    budget: Budget,
}

impl Job {
    pub fn open(input: &Path, output: Target, limits: &LimitArgs) -> Result<Job, Failure> {
        let mut budget = Budget::new(limits.timeout);
        let input = open_input(input, limits.max_input, &mut budget)?;
        let size = input.size();
        let output = Pending::prepare(output)?;
        Ok(Job {
            input,
            size,
            output,
            budget,
        })
    }

    /// Runs `guest` over the input; the output is put in place by
    /// [`Done::commit`]. `progress_line`: show how far the guest has read,
    /// on a terminal.
    pub fn run(
        self,
        host: &Host,
        guest: &Guest,
        args: &RunArgs,
        progress_line: bool,
    ) -> (Result<Done, Failure>, Stats) {
        let Job {
            input,
            size,
            output,
            mut budget,
        } = self;
        let file = match output.file() {
            Ok(file) => file,
            Err(failure) => return (Err(failure), Stats::default()),
        };
        let limits = args.limits.limits(budget.left());
        let progress = Progress::new();
        let line = progress_line
            .then(|| ProgressLine::input(&progress, size))
            .flatten();
        let watch = Watch {
            time_host_calls: args.stats,
            progress: Some(&progress),
        };
        let started = Instant::now();
        let output_file = Output::File(file);
        let (result, stats) =
            host.run_watched(guest, input, output_file, &args.args, &limits, &watch);
        drop(line);
        let result = match result {
            Ok(_) => {
                budget.spend(started);
                Ok(Done { output, budget })
            }
            Err(e) => Err(failure(&e, &budget, args.verbose)),
        };
        (result, stats)
    }
}

/// A run that succeeded, its output not yet in place.
pub struct Done {
    output: Pending,
    budget: Budget,
}

impl Done {
    /// Puts the output in place (a file: synced, then renamed).
    pub fn commit(self) -> Result<(), Failure> {
        self.output.commit(&self.budget)
    }
}

/// A failed run, in words: with `-v`, the whole error chain.
fn failure(e: &RunError, budget: &Budget, verbose: bool) -> Failure {
    let mut message = match e {
        // The guest had what was left of --timeout: name the whole of it.
        RunError::LimitExceeded(Limit::Time(_), _) if !budget.spent.is_zero() => {
            budget.guest_ran_out()
        }
        _ => e.to_string(),
    };
    if verbose && !matches!(e, RunError::Failed(_)) {
        message = format!("{message}\n\n{}", e.details());
    }
    fail(exit::of_run(e), message)
}
