//! The guest: its file read with care, the engine started, the guest
//! compiled (or taken from the cache) once.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Read;
use std::path::Path;

use bufbridge::units::Size;
use bufbridge::{DEFAULT_GUEST, Guest, Host, HostOptions};

use super::exit::{self, Failure, fail};
use super::progress::CompileNotice;

/// The default guest's commands: the file the guest itself dispatches on,
/// so `run --help` lists exactly what it has.
mod default_guest {
    include!("../../../guest/src/commands.rs");
}
pub use default_guest::COMMANDS;

/// The largest GUEST file read: a guest is compiled in memory, so a bigger
/// one (or `/dev/zero`) is refused rather than read until memory runs out.
pub const MAX_GUEST: u64 = 256 << 20;

/// `my_guest.wasm`, or `the default guest`.
pub fn name(path: Option<&Path>) -> String {
    path.map_or("the default guest".into(), |p| p.display().to_string())
}

/// GUEST's bytes, or the embedded default guest's.
pub fn bytes(path: Option<&Path>) -> Result<Cow<'static, [u8]>, Failure> {
    Ok(match path {
        Some(path) => Cow::Owned(read_guest(path)?),
        None => Cow::Borrowed(DEFAULT_GUEST),
    })
}

/// Starts the engine.
pub fn host(options: HostOptions) -> Result<Host, Failure> {
    Host::with_options(options).map_err(|e| {
        fail(
            exit::IO,
            format!("cannot start the WebAssembly engine: {e:#}"),
        )
    })
}

/// Starts the engine and compiles the guest, saying so when that takes a
/// while; a guest that is not valid or does not fit is a usage error.
pub fn load(
    path: Option<&Path>,
    bytes: &[u8],
    options: HostOptions,
    verbose: bool,
) -> Result<(Host, Guest), Failure> {
    let name = name(path);
    let _notice = CompileNotice::start(&name, options.cache.is_some(), verbose);
    let host = host(options)?;
    let guest = host
        .load(bytes)
        .map_err(|e| fail(exit::USAGE, format!("cannot load {name}: {e}")))?;
    Ok((host, guest))
}

/// The default guest's command that `path` names, when no such file exists:
/// `bufbridge run -i IN -o OUT upper` takes `upper` for the GUEST.
fn mistaken_command<'a>(path: &'a Path, error: &std::io::Error) -> Option<&'a str> {
    let word = path.to_str()?;
    (error.kind() == std::io::ErrorKind::NotFound && COMMANDS.iter().any(|(c, _)| *c == word))
        .then_some(word)
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
        .map_err(|e| match mistaken_command(path, &e) {
            Some(command) => fail(
                exit::USAGE,
                format!(
                    "no guest file `{command}`: `{command}` is a command of the default guest; \
                 put it after `--` (bufbridge run --input IN --output OUT -- {command})"
                ),
            ),
            None => fail(exit::IO, cannot(e.to_string())),
        })?;
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
