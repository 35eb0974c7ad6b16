//! Where the output goes: a file replaced atomically, a descriptor written
//! like a shell redirection, or a device or FIFO written to. Nothing is
//! written before the guest succeeded.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bufbridge::destination::Destination;

use super::exit::{self, Failure, fail};
use super::input::{Budget, is_stdio, open_in_time};
use super::{fds, signals};

/// An output prepared before the guest runs, so an unwritable destination
/// fails first. The guest writes straight into [`Pending::file`]: the
/// temporary file beside the destination or, for a descriptor, a device or
/// a pipe, an anonymous spool. It is kept only by [`Pending::commit`].
pub struct Pending {
    sink: Sink,
    file: File,
    /// `write output out.txt`, for messages.
    name: String,
}

impl Pending {
    pub fn prepare(target: Target) -> Result<Pending, Failure> {
        let name = target.name();
        let io_error = |e: io::Error| fail(exit::IO, format!("cannot {name}: {e}"));
        let spool = || {
            tempfile::tempfile()
                .and_then(|spool| Ok((spool.try_clone()?, spool)))
                .map_err(|e| {
                    fail(
                        exit::IO,
                        format!("cannot create a spool file for the output: {e}"),
                    )
                })
        };
        let (sink, file) = match target {
            Target::Fd(fd) => {
                if !fds::is_open(fd) {
                    return Err(fail(
                        exit::IO,
                        format!("cannot {name}: {} is closed", fds::name(fd)),
                    ));
                }
                let to = fds::dup(fd).map_err(io_error)?;
                let (spool, file) = spool()?;
                (Sink::Fd { to, spool }, file)
            }
            Target::Special(path) => {
                let (spool, file) = spool()?;
                (Sink::Special { path, spool }, file)
            }
            Target::File(path) => {
                let dest = Destination::create(&path).map_err(io_error)?;
                let file = dest.file().map_err(io_error)?;
                let pending = PendingFile {
                    removed_on_signal: signals::remove_on_signal(dest.temp_path()),
                    dest,
                };
                (Sink::File(pending), file)
            }
        };
        Ok(Pending { sink, file, name })
    }

    /// The file the guest's output goes into.
    pub fn file(&self) -> Result<File, Failure> {
        self.file
            .try_clone()
            .map_err(|e| fail(exit::IO, format!("cannot {}: {e}", self.name)))
    }

    /// Puts the output in place, once the guest succeeded; a FIFO must be
    /// opened by its reader within what is left of `budget`.
    pub fn commit(self, budget: &Budget) -> Result<(), Failure> {
        let name = self.name;
        let io_error = |e: io::Error| fail(exit::IO, format!("cannot {name}: {e}"));
        match self.sink {
            Sink::File(pending) => {
                // Synced before, renamed under the signal lock: a signal either
                // removes the temporary file first or finds the output complete.
                pending.dest.sync().map_err(io_error)?;
                signals::uninterrupted(|| pending.dest.commit()).map_err(io_error)
            }
            Sink::Fd { to, spool } => write_spool(spool, to).map_err(io_error),
            Sink::Special { path, spool } => {
                let mut options = OpenOptions::new();
                options.write(true);
                let device = open_in_time(&path, options, budget, &name, "reader")?;
                write_spool(spool, device).map_err(io_error)
            }
        }
    }
}

/// Copies the whole spool to `to`, and makes sure it arrived as far as the
/// kernel: a closed or full descriptor is an error, never a silent loss.
fn write_spool(mut spool: File, mut to: File) -> io::Result<()> {
    spool.seek(SeekFrom::Start(0))?;
    io::copy(&mut spool, &mut to)?;
    to.flush()
}

/// Where `--output` goes.
pub enum Target {
    /// A descriptor this process has: `-` (stdout), `/dev/stdout`,
    /// `/dev/fd/N`. Written to, like a shell redirection would be, so
    /// `>> log` appends: renaming over the file behind it would lose `log`.
    Fd(i32),
    /// An existing device or FIFO: written to, never renamed over.
    Special(PathBuf),
    /// A file, replaced atomically.
    File(PathBuf),
}

impl Target {
    pub fn of(path: &Path) -> Target {
        if is_stdio(path) {
            return Target::Fd(fds::STDOUT);
        }
        if let Some(fd) = fds::named(path) {
            return Target::Fd(fd);
        }
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => Target::Special(path.to_path_buf()),
            _ => Target::File(path.to_path_buf()),
        }
    }

    /// `write output to stdout`, `write output out.txt`.
    fn name(&self) -> String {
        match self {
            Target::Fd(fd) => format!("write output to {}", fds::name(*fd)),
            Target::Special(path) | Target::File(path) => {
                format!("write output {}", path.display())
            }
        }
    }
}

/// Where the output goes once the guest succeeded.
enum Sink {
    /// A regular file, replaced atomically.
    File(PendingFile),
    /// A descriptor of this process, written from this spool file.
    Fd { to: File, spool: File },
    /// A device or a FIFO, opened and written from the spool on success.
    Special { path: PathBuf, spool: File },
}

/// A destination whose temporary file a signal removes. The fields drop in
/// order: the temporary file goes before the signal watcher forgets it.
struct PendingFile {
    dest: Destination,
    #[allow(dead_code)] // held for its Drop
    removed_on_signal: signals::Registered,
}
