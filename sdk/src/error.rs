//! [`Error`]: what failed, in words a user running the guest understands.

use std::fmt;
use std::io;

use crate::BufferError;

/// `Result<T, Error>`, the return type that makes `?` work on buffer
/// errors, `std::io` errors and messages alike.
///
/// ```
/// fn parse(word: &str) -> bufbridge_guest::Result<u64> {
///     Ok(word.parse().map_err(|_| format!("`{word}` is not a number"))?)
/// }
/// assert_eq!(parse("12").unwrap(), 12);
/// assert_eq!(parse("x").unwrap_err().to_string(), "`x` is not a number");
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which buffer an operation was on: it decides which flag an error names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Input,
    Output,
    /// A scratch buffer, or any buffer the SDK was not told about.
    Buffer,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Input => "the input",
            Role::Output => "the output",
            Role::Buffer => "the buffer",
        }
    }
}

/// A failed guest operation: what was being done, and why it failed.
///
/// Its `Display` is one line for the person running the guest:
/// `writing the output: the output limit of 10240 bytes (10 KiB) was
/// reached (raise --max-output)`. It converts from [`BufferError`],
/// [`std::io::Error`], `String` and `&str`, so `?` works on all of them,
/// and into [`std::io::Error`] and back without losing anything.
///
/// ```
/// use bufbridge_guest::{BufferError, Error};
///
/// let e = Error::from(BufferError::QuotaExceeded(1024)).context("making a scratch buffer");
/// assert_eq!(
///     e.to_string(),
///     "making a scratch buffer: the scratch quota of 1024 bytes (1 KiB) was reached (raise --quota)"
/// );
/// assert_eq!(e.buffer_error(), Some(BufferError::QuotaExceeded(1024)));
/// // Through std::io and back.
/// let back = Error::from(std::io::Error::from(e));
/// assert_eq!(back.buffer_error(), Some(BufferError::QuotaExceeded(1024)));
/// ```
#[derive(Debug)]
pub struct Error {
    /// What was being done, outermost first.
    context: Vec<String>,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    Buffer(BufferError, Role),
    Io(io::Error),
    Message(String),
}

impl Error {
    /// An error that is just a message.
    ///
    /// ```
    /// let e = bufbridge_guest::Error::msg("the input is not CSV");
    /// assert_eq!(e.to_string(), "the input is not CSV");
    /// ```
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            context: Vec::new(),
            cause: Cause::Message(message.to_string()),
        }
    }

    /// The same error, saying what was being done when it happened.
    ///
    /// ```
    /// let e = bufbridge_guest::Error::msg("no header").context("reading the CSV");
    /// assert_eq!(e.to_string(), "reading the CSV: no header");
    /// ```
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.context.insert(0, what.to_string());
        self
    }

    /// The host's refusal, when that is what this error is.
    ///
    /// ```
    /// use bufbridge_guest::{BufferError, Error};
    /// assert_eq!(Error::from(BufferError::ReadOnly).buffer_error(), Some(BufferError::ReadOnly));
    /// assert_eq!(Error::msg("no").buffer_error(), None);
    /// ```
    pub fn buffer_error(&self) -> Option<BufferError> {
        match &self.cause {
            Cause::Buffer(e, _) => Some(*e),
            _ => None,
        }
    }

    /// A refusal of an operation (`writing`) on a buffer of `role`.
    pub(crate) fn buffer(op: &str, role: Role, e: BufferError) -> Self {
        Error {
            context: vec![format!("{op} {}", role.name())],
            cause: Cause::Buffer(e, role),
        }
    }

    /// A failure of an operation (`streaming`) on a buffer of `role` that
    /// is not the host's refusal: `message` says what went wrong.
    pub(crate) fn on(op: &str, role: Role, message: impl fmt::Display) -> Self {
        Error::msg(message).context(format!("{op} {}", role.name()))
    }
}

/// `1024` → `1024 bytes (1 KiB)`; the exact figure always comes first, so
/// it can be compared with the flag that set it.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut text = format!("{bytes} bytes");
    let (mut value, mut unit) = (bytes as f64, None);
    for name in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(name);
    }
    if let Some(unit) = unit {
        let value = format!("{value:.1}");
        let value = value.strip_suffix(".0").unwrap_or(&value);
        text.push_str(&format!(" ({value} {unit})"));
    }
    text
}

/// A buffer error in words, naming the flag that raises the limit it hit.
fn describe(e: &BufferError, role: Role) -> String {
    match (e, role) {
        (BufferError::OutOfBounds(len), _) => {
            format!("offset out of bounds: {} holds {}", role.name(), size(*len))
        }
        (BufferError::LimitExceeded(limit), Role::Output) => format!(
            "the output limit of {} was reached (raise --max-output)",
            size(*limit)
        ),
        (BufferError::LimitExceeded(limit), Role::Input) => {
            format!("the input's limit of {} was reached", size(*limit))
        }
        (BufferError::LimitExceeded(limit), Role::Buffer) => format!(
            "the buffer's limit of {} was reached (for the output: raise --max-output)",
            size(*limit)
        ),
        (BufferError::ReadOnly, _) => format!("{} is read-only", role.name()),
        (BufferError::QuotaExceeded(quota), _) => format!(
            "the scratch quota of {} was reached (raise --quota)",
            size(*quota)
        ),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for what in &self.context {
            write!(f, "{what}: ")?;
        }
        match &self.cause {
            Cause::Buffer(e, role) => f.write_str(&describe(e, *role)),
            Cause::Io(e) => write!(f, "{e}"),
            Cause::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Buffer(e, _) => Some(e),
            Cause::Io(e) => Some(e),
            Cause::Message(_) => None,
        }
    }
}

/// A refusal from a raw binding call: `buffer.append(data)?`.
///
/// ```
/// use bufbridge_guest::{BufferError, Error};
/// assert_eq!(
///     Error::from(BufferError::OutOfBounds(3)).to_string(),
///     "offset out of bounds: the buffer holds 3 bytes"
/// );
/// ```
impl From<BufferError> for Error {
    fn from(e: BufferError) -> Self {
        Error {
            context: Vec::new(),
            cause: Cause::Buffer(e, Role::Buffer),
        }
    }
}

/// An I/O error; one that came from an [`Error`] is unwrapped back into it.
///
/// ```
/// let e = bufbridge_guest::Error::from(std::io::Error::other("disk on fire"));
/// assert_eq!(e.to_string(), "disk on fire");
/// ```
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        match e.downcast::<Error>() {
            Ok(ours) => ours,
            Err(e) => Error {
                context: Vec::new(),
                cause: Cause::Io(e),
            },
        }
    }
}

/// For `std::io` traits: the kind follows the cause, the message is kept.
///
/// ```
/// use bufbridge_guest::{BufferError, Error};
/// let io = std::io::Error::from(Error::from(BufferError::ReadOnly));
/// assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
/// assert_eq!(io.to_string(), "the buffer is read-only");
/// ```
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.cause {
            // Nothing was added to it: it goes back as it came.
            Cause::Io(inner) if e.context.is_empty() => return inner,
            Cause::Io(ref inner) => inner.kind(),
            Cause::Buffer(BufferError::ReadOnly, _) => io::ErrorKind::PermissionDenied,
            Cause::Buffer(BufferError::OutOfBounds(_), _) => io::ErrorKind::InvalidInput,
            Cause::Buffer(..) | Cause::Message(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A message: `Err(format!("bad line {n}"))?` or `.ok_or("usage: PATTERN")?`.
///
/// ```
/// let e: bufbridge_guest::Error = format!("bad line {}", 3).into();
/// assert_eq!(e.to_string(), "bad line 3");
/// ```
impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::msg(message)
    }
}

/// A message, from a string literal.
///
/// ```
/// let e: bufbridge_guest::Error = "usage: PATTERN".into();
/// assert_eq!(e.to_string(), "usage: PATTERN");
/// ```
impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::msg(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_give_the_exact_figure_first() {
        assert_eq!(size(700), "700 bytes");
        assert_eq!(size(1024), "1024 bytes (1 KiB)");
        assert_eq!(size(1536), "1536 bytes (1.5 KiB)");
        assert_eq!(size(4 << 30), "4294967296 bytes (4 GiB)");
        assert_eq!(size(u64::MAX), "18446744073709551615 bytes (16 EiB)");
    }

    #[test]
    fn an_output_error_names_the_flag() {
        let e = Error::buffer("writing", Role::Output, BufferError::LimitExceeded(10240));
        assert_eq!(
            e.to_string(),
            "writing the output: the output limit of 10240 bytes (10 KiB) was reached (raise --max-output)"
        );
    }
}
