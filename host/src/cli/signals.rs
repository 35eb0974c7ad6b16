//! SIGINT, SIGTERM and SIGHUP: the temporary files are removed, the
//! destination is left as it was, and the process exits 128 + the signal,
//! as shells report it. A watcher thread takes the signals (they are
//! blocked in every other thread), so the cleanup runs as ordinary code,
//! whatever the other threads are doing inside a guest. Without Unix
//! signals, the default handling stays.

#[cfg(not(unix))]
pub use other::*;
#[cfg(unix)]
pub use unix::*;

#[cfg(unix)]
mod unix {
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

    /// The named temporary files a signal must remove. (Spools are
    /// anonymous: they vanish with the process.)
    static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    fn temp_files() -> MutexGuard<'static, Vec<PathBuf>> {
        TEMP_FILES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    const SIGNALS: [(libc::c_int, &str); 3] = [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ];

    /// What the message after a signal says of the outputs.
    static LEFT: OnceLock<&str> = OnceLock::new();

    /// Starts the watcher. Must run before any other thread is started,
    /// so that all of them inherit the blocked signals. `left` ends the
    /// message printed on a signal: what became of the output.
    pub fn install(left: &'static str) {
        let _ = LEFT.set(left);
        // SAFETY: `set` is a local sigset_t, initialised by sigemptyset
        // before use; pthread_sigmask and sigwait only read it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for (signal, _) in SIGNALS {
                libc::sigaddset(&mut set, signal);
            }
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
            let watcher = std::thread::Builder::new()
                .name("bufbridge-signals".into())
                .spawn(move || {
                    loop {
                        let mut signal = 0;
                        if libc::sigwait(&set, &mut signal) == 0 {
                            stop(signal);
                        }
                    }
                });
            if watcher.is_err() {
                // No watcher: the signals keep their default action.
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
        }
    }

    /// Removes the temporary files and exits. The lock is held until the
    /// process is gone, so no rename can follow the removal.
    fn stop(signal: libc::c_int) -> ! {
        let files = temp_files();
        for path in files.iter() {
            let _ = std::fs::remove_file(path);
        }
        let name = SIGNALS
            .iter()
            .find(|(s, _)| *s == signal)
            .map_or("a signal", |(_, name)| name);
        // SAFETY: isatty only asks about descriptor 2.
        let clear = match unsafe { libc::isatty(2) } {
            // A progress line may be showing: clear it first.
            1 => "\r\x1b[K",
            _ => "",
        };
        let left = LEFT.get().copied().unwrap_or_default();
        let message = format!("{clear}bufbridge: stopped by {name}; {left}\n");
        // SAFETY: writes a buffer we own to stderr, then ends the process
        // without running destructors or atexit handlers, which could wait
        // on locks the interrupted main thread holds.
        unsafe {
            libc::write(2, message.as_ptr().cast(), message.len());
            libc::_exit(crate::cli::exit::SIGNALLED + signal)
        }
    }

    /// A temporary file a signal removes, until this is dropped.
    pub struct Registered(PathBuf);

    pub fn remove_on_signal(path: &Path) -> Registered {
        temp_files().push(path.to_path_buf());
        Registered(path.to_path_buf())
    }

    impl Drop for Registered {
        fn drop(&mut self) {
            temp_files().retain(|p| *p != self.0);
        }
    }

    /// Runs `f` (a rename into place) with signals held off: a signal
    /// that arrives meanwhile is handled after it.
    pub fn uninterrupted<T>(f: impl FnOnce() -> T) -> T {
        let _held = temp_files();
        f()
    }
}

#[cfg(not(unix))]
mod other {
    use std::path::Path;

    pub fn install(_left: &'static str) {}

    pub struct Registered;

    pub fn remove_on_signal(_path: &Path) -> Registered {
        Registered
    }

    pub fn uninterrupted<T>(f: impl FnOnce() -> T) -> T {
        f()
    }
}
