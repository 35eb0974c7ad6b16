//! Why a buffer operation stops the run instead of answering the guest: a
//! fault of the guest's, or the host's I/O; and the flattened form of an
//! operation's answer that the glue's `?` works with.

use std::{fmt, io};

use crate::handle::Handle;
use crate::rules::BufferError;
use crate::storage::Halt;
use crate::units::Size;

/// A fault of the guest that ends the run (a trap), as opposed to a refusal
/// by the rules, which the guest is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A handle that does not exist: forged, or already dropped.
    Unknown(Handle),
    /// The input and output belong to the host for the whole run.
    NotDroppable(Handle),
    /// No room for another live buffer; carries the cap.
    TooMany(usize),
    /// One call would move more bytes than the per-call cap allows.
    CopyTooLarge { bytes: u64, cap: u64 },
    /// The run's time limit passed while the host worked for the guest.
    TimeUp,
    /// `read-stream` could not make a stream (the store's table of
    /// streams is full): the engine's words.
    NoStream(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Handles are non-negative i32s; a forged negative one reads best as such.
        match self {
            Fault::Unknown(h) => write!(
                f,
                "buffer handle {} does not exist (forged, or already dropped)",
                h.to_raw() as i32
            ),
            Fault::NotDroppable(h) => write!(
                f,
                "buffer handle {} is the input or output of `process`, which the host owns; it \
                 cannot be dropped",
                h.to_raw() as i32
            ),
            Fault::TooMany(max) => {
                write!(f, "guest exceeded the limit of {max} live buffers")
            }
            Fault::CopyTooLarge { bytes, cap } => write!(
                f,
                "guest exceeded the per-call copy limit of {} (one call would move {})",
                Size(*cap),
                Size(*bytes)
            ),
            Fault::TimeUp => f.write_str("the run's time limit passed during a host call"),
            Fault::NoStream(why) => write!(f, "the host could not open a stream: {why}"),
        }
    }
}

impl std::error::Error for Fault {}

/// The host could not move a file-backed buffer's bytes (a full disk, an
/// input file that shrank): the run stops, and it is no fault of the guest's.
#[derive(Debug)]
pub struct HostIo {
    /// What the host was doing, e.g. "writing the output".
    pub doing: String,
    pub error: io::Error,
}

impl fmt::Display for HostIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host I/O error {}: {}", self.doing, self.error)
    }
}

impl std::error::Error for HostIo {}

/// Why an operation stopped the run instead of answering the guest.
#[derive(Debug)]
pub enum Stop {
    Fault(Fault),
    Io(HostIo),
}

impl From<Fault> for Stop {
    fn from(fault: Fault) -> Self {
        Stop::Fault(fault)
    }
}

impl PartialEq for Stop {
    /// Faults compare by value; I/O errors by kind.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Stop::Fault(a), Stop::Fault(b)) => a == b,
            (Stop::Io(a), Stop::Io(b)) => a.error.kind() == b.error.kind(),
            _ => false,
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Fault(fault) => fault.fmt(f),
            Stop::Io(io) => io.fmt(f),
        }
    }
}

/// A stop is the one error a host call traps with: the run takes it back
/// out of the trap by its type (`run::blame`).
impl std::error::Error for Stop {}

/// The outcome of an operation: a stop, or the rules' verdict.
pub type Outcome<T> = Result<Result<T, BufferError>, Stop>;

/// An [`Outcome`] that is not `ok`, flattened so that `outcome??` works in a
/// host function: a refusal the guest is told about, or a stop that traps.
#[derive(Debug)]
pub enum Failure {
    Refused(BufferError),
    Stopped(Stop),
}

impl From<BufferError> for Failure {
    fn from(e: BufferError) -> Self {
        Failure::Refused(e)
    }
}

impl From<Stop> for Failure {
    fn from(stop: Stop) -> Self {
        Failure::Stopped(stop)
    }
}

impl From<Fault> for Failure {
    fn from(fault: Fault) -> Self {
        Failure::Stopped(Stop::Fault(fault))
    }
}

/// What stops the run when storage could not finish: the deadline, or the
/// host's I/O while `doing` something.
pub(crate) fn halted<E: Into<Halt>>(doing: impl Into<String>) -> impl FnOnce(E) -> Stop {
    move |halt| match halt.into() {
        Halt::Deadline => Stop::Fault(Fault::TimeUp),
        Halt::Io(error) => Stop::Io(HostIo {
            doing: doing.into(),
            error,
        }),
    }
}
