//! Exit codes, as `--help` and the README list them, and the failures that
//! carry them.

use bufbridge::RunError;

pub const GUEST_ERROR: u8 = 1;
pub const USAGE: u8 = 2;
pub const TRAPPED: u8 = 3;
pub const IO: u8 = 4;
/// Stopped by signal `n`: 128 + n, as shells report it.
pub const SIGNALLED: i32 = 128;

/// Why a command failed: the exit code and the message printed.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

pub fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// The exit code of a failed run.
pub fn of_run(e: &RunError) -> u8 {
    match e {
        RunError::Failed(_) => GUEST_ERROR,
        RunError::LimitExceeded(..) | RunError::Trapped(_) => TRAPPED,
        RunError::HostIo(_) => IO,
        RunError::Misconfigured(_) => USAGE,
    }
}
