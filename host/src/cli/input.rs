//! The input, ready for the guest: a regular file in place, a stream spooled
//! to a temporary file, within the time `--timeout` allows.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use bufbridge::units::{Seconds, Size};
use bufbridge::{Input, Limit};

use super::exit::{self, Failure, fail};
use super::fds;

/// The most bytes read from a streamed input unless `--max-input` says otherwise.
pub const MAX_INPUT: u64 = 4 << 30;

/// The time `--timeout` allows. The guest's run and the host's waits for
/// it (a streamed input, a FIFO to be opened) share it; compiling the guest
/// is not counted.
pub struct Budget {
    timeout: Option<Duration>,
    /// Used so far, outside the guest.
    pub spent: Duration,
}

impl Budget {
    pub fn new(timeout: Duration) -> Self {
        Budget {
            timeout: (!timeout.is_zero()).then_some(timeout),
            spent: Duration::ZERO,
        }
    }

    /// What is left of it; `None` for no limit.
    pub fn left(&self) -> Option<Duration> {
        self.timeout.map(|t| t.saturating_sub(self.spent))
    }

    /// When what is left runs out, counted from now.
    pub fn deadline(&self) -> Option<Instant> {
        self.left().map(|left| Instant::now() + left)
    }

    pub fn spend(&mut self, since: Instant) {
        self.spent += since.elapsed();
    }

    /// `the time limit of 1s (--timeout)`.
    pub fn limit(&self) -> String {
        format!(
            "{} (--timeout)",
            Limit::Time(self.timeout.unwrap_or_default())
        )
    }

    /// Why the guest was stopped, when waiting for its input took part of
    /// the time.
    pub fn guest_ran_out(&self) -> String {
        format!(
            "guest exceeded {}, of which reading the input took {}",
            self.limit(),
            Seconds(self.spent)
        )
    }
}

/// Opens `path` within what is left of `budget`. `what` (`read input x`)
/// and `other_end` (`writer`) name it in a failure: an I/O error is exit 4,
/// a FIFO whose other end was not opened in time exit 3.
pub fn open_in_time(
    path: &Path,
    options: OpenOptions,
    budget: &Budget,
    what: &str,
    other_end: &str,
) -> Result<File, Failure> {
    match open_within(path, options, budget.deadline()) {
        Some(opened) => opened.map_err(|e| fail(exit::IO, format!("cannot {what}: {e}"))),
        None => Err(fail(
            exit::TRAPPED,
            format!(
                "cannot {what}: no {other_end} opened it within {}",
                budget.limit()
            ),
        )),
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

pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The input, ready for the guest. A regular file is read in place; a
/// stream (stdin, a pipe or FIFO, a device, a `/proc` file, which says it
/// is empty) is first copied into an anonymous temporary file, so that the
/// guest can read it by offset; `-`, `/dev/stdin` and `/dev/fd/N` read the
/// descriptor itself. Waiting for the stream counts against `--timeout`.
pub fn open_input(path: &Path, max_input: u64, budget: &mut Budget) -> Result<Input, Failure> {
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
            open_in_time(
                path,
                options,
                budget,
                &format!("read input {what}"),
                "writer",
            )?
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
