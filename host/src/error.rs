//! What can go wrong loading or running a guest, in words that name the cause.

use std::fmt;
use std::time::Duration;

use crate::report::{Kind, Problem, Verdict};
use crate::stop::HostIo;
use crate::units::Size;

/// Why a guest could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The bytes are not valid WebAssembly (binary or text).
    Invalid(wasmtime::Error),
    /// A valid component that does not fit the `processor` world: every
    /// import and export that does not, as `bufbridge inspect` lists them.
    IncompatibleComponent(Vec<Problem>),
    /// A valid core module that does not fit the core ABI: every import and
    /// export that does not.
    IncompatibleModule(Vec<Problem>),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Invalid(e) => write!(
                f,
                "not valid WebAssembly (a component or a core module, binary or text): {e:#}"
            ),
            LoadError::IncompatibleComponent(problems) => {
                Verdict::new(Kind::Component, problems).fmt(f)
            }
            LoadError::IncompatibleModule(problems) => {
                Verdict::new(Kind::CoreModule, problems).fmt(f)
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Invalid(e) => Some(e.as_ref()),
            LoadError::IncompatibleComponent(_) | LoadError::IncompatibleModule(_) => None,
        }
    }
}

/// A limit of [`crate::Limits`] that a guest ran into, with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Time(Duration),
    Fuel(u64),
    Memory(u64),
    Buffers(usize),
    CopyPerCall(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Time(t) => write!(f, "the time limit of {}", crate::units::Seconds(*t)),
            Limit::Fuel(n) => write!(f, "the fuel limit of {n} units"),
            Limit::Memory(bytes) => write!(f, "the memory limit of {}", Size(*bytes)),
            Limit::Buffers(n) => write!(f, "the limit of {n} live buffers"),
            Limit::CopyPerCall(bytes) => write!(f, "the per-call copy limit of {}", Size(*bytes)),
        }
    }
}

/// Why a run produced no output.
#[derive(Debug)]
pub enum RunError {
    /// `process` returned `err(message)`, or the guest ended the run with
    /// `abort(message)` (`wit/abort.wit`; an SDK guest's panic does).
    Failed(String),
    /// The guest ran into a limit and was stopped; the error has the details.
    LimitExceeded(Limit, wasmtime::Error),
    /// The guest trapped (a fault of its own, or a misuse of the interface).
    Trapped(wasmtime::Error),
    /// The host could not read the input or write the output.
    HostIo(HostIo),
    /// The host cannot run what it was asked to, whatever the guest: a fuel
    /// limit on a host built without fuel. The message says what to change.
    Misconfigured(String),
}

impl RunError {
    /// The cause in one line, without the "guest failed/trapped" prefix of
    /// `Display`: the guest's message, the limit, or the innermost error of
    /// a trap (which names what the guest did; the outer ones only say where).
    pub fn summary(&self) -> String {
        match self {
            RunError::Failed(message) => message.clone(),
            RunError::LimitExceeded(limit, _) => format!("exceeded {limit}"),
            RunError::Trapped(e) => e.root_cause().to_string(),
            RunError::HostIo(io) => io.to_string(),
            RunError::Misconfigured(message) => message.clone(),
        }
    }

    /// Everything known: the error chain and, for a trap, the guest's
    /// backtrace (what `-v` prints).
    pub fn details(&self) -> String {
        match self {
            RunError::Failed(message) => message.clone(),
            RunError::LimitExceeded(_, e) | RunError::Trapped(e) => format!("{e:?}"),
            RunError::HostIo(io) => format!("{io:?}"),
            RunError::Misconfigured(message) => message.clone(),
        }
    }
}

impl fmt::Display for RunError {
    /// One line naming the cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Failed(message) => write!(f, "guest failed: {message}"),
            RunError::LimitExceeded(..) => write!(f, "guest {}", self.summary()),
            RunError::Trapped(_) => write!(f, "guest trapped: {}", self.summary()),
            RunError::HostIo(io) => write!(f, "{io}"),
            RunError::Misconfigured(message) => write!(f, "host misconfigured: {message}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::LimitExceeded(_, e) | RunError::Trapped(e) => Some(e.as_ref()),
            RunError::HostIo(io) => Some(io),
            RunError::Failed(_) | RunError::Misconfigured(_) => None,
        }
    }
}
