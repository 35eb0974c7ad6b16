//! Batch mode (`--output-dir DIR`): one guest, compiled once, over many
//! inputs in one process, `-j` of them at a time. Each output is written
//! atomically to `DIR/<the input's file name>` when its run succeeds; a
//! failed input is named on stderr while the others go on. The exit code is
//! the highest of the failed inputs' codes.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use bufbridge::{Guest, Host};

use super::args::RunArgs;
use super::exit::{self, Failure, fail};
use super::input::is_stdio;
use super::output::Target;
use super::print::{printable, stderr_is_terminal};
use super::progress::ProgressLine;
use super::run::{Done, Job, host_options, init_logging};
use super::{guest, signals};

/// How many outputs are synced and renamed at once, at most.
const SYNCS_IN_FLIGHT: usize = 16;

/// The most runs a pooling host holds at once ([`bufbridge::HostOptions::pooling`]);
/// more jobs than that run on a host without the pool.
const POOLED_JOBS: usize = 256;

pub fn run(args: &RunArgs, dir: &Path) -> Result<(), Failure> {
    // First, before any other thread starts (see `signals::install`).
    signals::install("the outputs already written are complete; no partial file was left");
    init_logging(args.verbose);
    let plan = plan(&args.input, dir)?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, NonZero::get))
        .min(plan.len());
    let guest_bytes = guest::bytes(args.guest.as_deref())?;
    let options = host_options(args, jobs <= POOLED_JOBS);
    let (host, guest) = guest::load(args.guest.as_deref(), &guest_bytes, options, args.verbose)?;
    // Made only once the guest loaded: a usage error leaves nothing behind.
    make_dir(dir)?;

    let tally = Arc::new(Tally::default());
    let line = ProgressLine::start({
        let (tally, total) = (tally.clone(), plan.len());
        move || tally.line(total)
    });
    run_all(&plan, jobs, &host, &guest, args, &tally);
    drop(line);

    let failed = tally.failed.load(Ordering::Relaxed);
    match failed {
        0 => Ok(()),
        _ => Err(fail(
            tally.worst.load(Ordering::Relaxed),
            format!(
                "{failed} of {} inputs failed; the others were written to {}",
                plan.len(),
                dir.display()
            ),
        )),
    }
}

/// Runs every input of `plan`, `jobs` at a time. The guest runs on `jobs`
/// threads; the outputs are synced and renamed on others, many at once: a
/// sync waits on the disk, not the CPU, and the file system commits
/// concurrent syncs together.
fn run_all(
    plan: &[(PathBuf, PathBuf)],
    jobs: usize,
    host: &Host,
    guest: &Guest,
    args: &RunArgs,
    tally: &Tally,
) {
    let next = AtomicUsize::new(0);
    let (finished, to_commit) = mpsc::sync_channel::<(&Path, Done)>(SYNCS_IN_FLIGHT);
    let to_commit = Mutex::new(to_commit);
    thread::scope(|scope| {
        for _ in 0..SYNCS_IN_FLIGHT.min(plan.len()) {
            scope.spawn(|| {
                loop {
                    let received = to_commit.lock().map(|r| r.recv());
                    let Ok(Ok((input, done))) = received else {
                        break;
                    };
                    tally.record(input, done.commit());
                }
            });
        }
        for _ in 0..jobs {
            let finished = finished.clone();
            let next = &next;
            scope.spawn(move || {
                while let Some((input, output)) = plan.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match one(host, guest, args, input, output) {
                        Ok(done) => {
                            // Committed here if the committers are gone.
                            if let Err(mpsc::SendError((input, done))) =
                                finished.send((input, done))
                            {
                                tally.record(input, done.commit());
                            }
                        }
                        Err(failure) => tally.record(input, Err(failure)),
                    }
                }
            });
        }
        drop(finished);
    });
}

/// Each input and its output, `DIR/<file name>`; refused before anything
/// runs when an input has no file name, two inputs have the same one, or an
/// output would replace its own input.
fn plan(inputs: &[PathBuf], dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, Failure> {
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(fail(
                exit::USAGE,
                format!("--output-dir {} is not a directory", dir.display()),
            ));
        }
        _ => {}
    }
    let mut seen: HashMap<&OsStr, &Path> = HashMap::new();
    let mut plan = Vec::with_capacity(inputs.len());
    for input in inputs {
        let name = match input.file_name() {
            Some(name) if !is_stdio(input) => name,
            _ => {
                return Err(fail(
                    exit::USAGE,
                    format!(
                        "input {} has no file name to write DIR/<name> under \
                         (batch mode reads files; use --output for stdin)",
                        input.display()
                    ),
                ));
            }
        };
        if let Some(first) = seen.insert(name, input) {
            return Err(fail(
                exit::USAGE,
                format!(
                    "inputs {} and {} would both be written to {}: rename one, or run them in \
                     separate batches",
                    first.display(),
                    input.display(),
                    dir.join(name).display()
                ),
            ));
        }
        let output = dir.join(name);
        if same_file(input, &output) {
            return Err(fail(
                exit::USAGE,
                format!(
                    "input {} would be replaced by its own output: choose another --output-dir",
                    input.display()
                ),
            ));
        }
        plan.push((input.clone(), output));
    }
    Ok(plan)
}

/// Whether both paths exist and are the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Creates DIR if it does not exist; its parent must, so a mistyped path
/// fails rather than growing a tree of folders.
fn make_dir(dir: &Path) -> Result<(), Failure> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(fail(
            exit::IO,
            format!("cannot create output directory {}: {e}", dir.display()),
        )),
        _ => Ok(()),
    }
}

/// One input through the guest, its output ready to be put in place.
fn one(
    host: &Host,
    guest: &Guest,
    args: &RunArgs,
    input: &Path,
    output: &Path,
) -> Result<Done, Failure> {
    let job = Job::open(input, Target::File(output.to_path_buf()), &args.limits)?;
    let (result, stats) = job.run(host, guest, args, false);
    if args.stats {
        eprintln!("bufbridge: stats for {}\n{stats}", input.display());
    }
    result
}

/// How the batch is going, shared by the workers and the progress line.
#[derive(Default)]
struct Tally {
    done: AtomicUsize,
    failed: AtomicUsize,
    /// The highest exit code seen.
    worst: AtomicU8,
}

impl Tally {
    /// Counts an input; a failure is named on stderr at once.
    fn record(&self, input: &Path, result: Result<(), Failure>) {
        if let Err(failure) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            self.worst.fetch_max(failure.code, Ordering::Relaxed);
            let terminal = stderr_is_terminal();
            // Over the progress line, if one is drawn.
            let clear = if terminal { "\r\x1b[K" } else { "" };
            let message = format!("{}: {}", input.display(), failure.message);
            eprintln!("{clear}bufbridge: {}", printable(&message, terminal));
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// `120 of 2000 inputs done, 1 failed`.
    fn line(&self, total: usize) -> String {
        let done = self.done.load(Ordering::Relaxed);
        match self.failed.load(Ordering::Relaxed) {
            0 => format!("{done} of {total} inputs done"),
            failed => format!("{done} of {total} inputs done, {failed} failed"),
        }
    }
}
