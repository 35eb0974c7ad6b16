//! The process's own file descriptors: which one a path names, and which
//! were closed when it started. (Without Unix descriptors, `-` is the only
//! descriptor named.)

#[cfg(not(unix))]
pub use other::*;
#[cfg(unix)]
pub use unix::*;

#[cfg(unix)]
mod unix {
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::time::Instant;

    pub const STDIN: i32 = 0;
    pub const STDOUT: i32 = 1;

    /// Bit N set: descriptor N (0, 1 or 2) was closed when the process
    /// started. Rust's runtime opens /dev/null on a closed standard
    /// descriptor before `main`, so the output would vanish into it; this
    /// is recorded earlier, by a constructor.
    static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

    // SAFETY: `.init_array` holds plain `extern "C" fn()` pointers that the
    // loader calls before `main`; `record_closed` only reads descriptor flags
    // and stores to an atomic, so it needs nothing Rust's runtime sets up.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[used]
    #[unsafe(link_section = ".init_array")]
    static RECORD_CLOSED: extern "C" fn() = record_closed;

    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    extern "C" fn record_closed() {
        let mut closed = 0;
        for fd in 0..3 {
            // SAFETY: F_GETFD only reads a descriptor's flags; any number is
            // a valid argument (a closed one gives EBADF).
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
                closed |= 1 << fd;
            }
        }
        CLOSED_AT_START.store(closed, Ordering::Relaxed);
    }

    /// Whether `fd` is open (and was, for 0, 1 and 2, when the process started).
    pub fn is_open(fd: i32) -> bool {
        if (0..3).contains(&fd) && CLOSED_AT_START.load(Ordering::Relaxed) & (1 << fd) != 0 {
            return false;
        }
        // SAFETY: as in `record_closed`.
        fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1
    }

    /// A new descriptor for what `fd` refers to (sharing its offset and
    /// flags, as a shell redirection does).
    pub fn dup(fd: i32) -> io::Result<File> {
        if !is_open(fd) {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: `fd` is open (checked just above) and this process never
        // closes descriptors it did not open, so it stays open while borrowed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        Ok(File::from(borrowed.try_clone_to_owned()?))
    }

    /// `stdin`, `stdout`, `stderr`, `descriptor N`.
    pub fn name(fd: i32) -> String {
        match fd {
            0 => "stdin".into(),
            1 => "stdout".into(),
            2 => "stderr".into(),
            n => format!("descriptor {n}"),
        }
    }

    /// The most symbolic links followed while looking for a descriptor.
    const MAX_LINKS: usize = 40;

    /// The descriptor a path names: `/dev/stdin`, `/dev/stdout`,
    /// `/dev/fd/N`, `/proc/self/fd/N`, or a link to one of them. Such a path
    /// is the descriptor itself, not the file behind it.
    pub fn named(path: &Path) -> Option<i32> {
        let pid = std::process::id();
        let fd_dir = PathBuf::from(format!("/proc/{pid}/fd"));
        let task_dir = PathBuf::from(format!("/proc/{pid}/task"));
        let mut path = path.to_path_buf();
        for _ in 0..MAX_LINKS {
            let name = path.file_name()?.to_owned();
            let parent = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            let parent = std::fs::canonicalize(parent).ok()?;
            let in_task = parent.starts_with(&task_dir)
                && parent.components().count() == 6
                && parent.ends_with("fd");
            if parent == fd_dir || in_task || parent == Path::new("/dev/fd") {
                return name.to_str()?.parse().ok();
            }
            let target = std::fs::read_link(parent.join(&name)).ok()?;
            path = parent.join(target);
        }
        None
    }

    /// Waits until `file` can be read without blocking (or is at its end),
    /// or until `deadline` (false); `None` waits as long as it takes.
    pub fn wait_readable(file: &File, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            let timeout = match deadline {
                None => -1,
                Some(deadline) => {
                    // Checked first: a stream that is always ready (`yes`)
                    // must stop at the deadline too.
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    // Rounded up, so a wait never ends early by a fraction.
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            let mut poll = libc::pollfd {
                fd: file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid `pollfd`, and the count says one.
            match unsafe { libc::poll(&mut poll, 1, timeout) } {
                -1 => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
                // Readable, at its end, or failed: the read says which.
                n if n > 0 => return Ok(true),
                // Timed out: the deadline is checked again above.
                _ => {}
            }
        }
    }
}

#[cfg(not(unix))]
mod other {
    use std::fs::File;
    use std::io;
    use std::path::Path;
    use std::time::Instant;

    pub const STDIN: i32 = 0;
    pub const STDOUT: i32 = 1;

    pub fn is_open(_fd: i32) -> bool {
        true
    }

    pub fn dup(fd: i32) -> io::Result<File> {
        use std::os::windows::io::{AsHandle, OwnedHandle};
        let handle: OwnedHandle = match fd {
            0 => io::stdin().as_handle().try_clone_to_owned()?,
            _ => io::stdout().as_handle().try_clone_to_owned()?,
        };
        Ok(File::from(handle))
    }

    pub fn name(fd: i32) -> String {
        match fd {
            0 => "stdin".into(),
            _ => "stdout".into(),
        }
    }

    pub fn named(_path: &Path) -> Option<i32> {
        None
    }

    pub fn wait_readable(_file: &File, _deadline: Option<Instant>) -> io::Result<bool> {
        Ok(true)
    }
}
