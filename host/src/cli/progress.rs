//! What a person watching is told while bufbridge works: that a guest is
//! being compiled, and how far a run (or a batch) has got. Only on a
//! terminal (or with `-v` for the compile notice); nothing for a pipe or a file.

use std::io::{self, IsTerminal};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bufbridge::Progress;
use bufbridge::units::Size;

use super::print::stderr_is_terminal;

/// How long loading goes on before the compile notice is shown.
const COMPILE_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// How often the progress line is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// A thread that runs until this is dropped, when it is told to stop (its
/// receiver disconnects) and joined.
struct Background {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    fn spawn(work: impl FnOnce(Receiver<()>) + Send + 'static) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        Background {
            stop: Some(stop),
            thread: Some(thread::spawn(move || work(stopped))),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Says that a guest is being compiled, when loading it takes longer than
/// a moment: a cold compile of a large guest takes seconds of silence
/// otherwise. Only for a person watching (stderr is a terminal), or `-v`.
pub struct CompileNotice(#[allow(dead_code)] Background); // held for its Drop

impl CompileNotice {
    pub fn start(guest: &str, cached: bool, verbose: bool) -> Option<Self> {
        if !verbose && !stderr_is_terminal() {
            return None;
        }
        let message = match cached {
            true => format!("bufbridge: compiling {guest} (first run; cached afterwards)"),
            false => format!("bufbridge: compiling {guest}"),
        };
        Some(CompileNotice(Background::spawn(move |stopped| {
            if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(COMPILE_NOTICE_AFTER) {
                eprintln!("{message}");
            }
        })))
    }
}

/// A line on stderr redrawn a few times a second while work goes on, and
/// cleared when this is dropped. Only when stderr is a terminal; work that
/// ends within the first redraw shows nothing.
pub struct ProgressLine(#[allow(dead_code)] Background); // held for its Drop

impl ProgressLine {
    /// The line `text` gives, redrawn until dropped.
    pub fn start(text: impl Fn() -> String + Send + 'static) -> Option<Self> {
        if !io::stderr().is_terminal() {
            return None;
        }
        Some(ProgressLine(Background::spawn(move |stopped| {
            let mut drawn = false;
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(REDRAW) {
                eprint!("\r\x1b[Kbufbridge: {}", text());
                drawn = true;
            }
            if drawn {
                eprint!("\r\x1b[K");
            }
        })))
    }

    /// How much of the input the guest has read, when its size is known.
    pub fn input(progress: &Progress, total: Option<u64>) -> Option<Self> {
        let total = total.filter(|&total| total > 0)?;
        let progress = progress.clone();
        ProgressLine::start(move || {
            let done = progress.input_bytes();
            let percent = 100.0 * done as f64 / total as f64;
            format!("{} of {} read ({percent:.0}%)", Size(done), Size(total))
        })
    }
}
