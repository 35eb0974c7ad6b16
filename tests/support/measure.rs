//! Runs a command and measures it as the OS sees it: wall time and peak
//! RSS (`wait4`'s `ru_maxrss`). Linux only. Included with `#[path]` by the
//! tests and benchmarks that measure the `bufbridge` binary.

// Each user reads the fields it needs.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// One finished, measured process.
pub struct Measured {
    /// The exit code, or `None` when a signal ended the process.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    /// Empty when stderr was not captured.
    pub stderr: String,
    pub wall: Duration,
    /// Peak resident set of the process, from `wait4`.
    pub max_rss_kib: u64,
    /// Whether the watchdog had to kill it.
    pub killed: bool,
}

/// Runs `cmd` (stdin empty, stdout captured, stderr captured or discarded),
/// killing it after `watchdog`, and measures its wall time and peak RSS.
///
/// The peak RSS is the `ru_maxrss` that `wait4` gives for the process;
/// `Child::wait` is never called on it. It is not started as a child of
/// this process, though: Linux carries the peak RSS of the memory a process
/// had before `exec` into its `ru_maxrss`, and a child made by `fork` or
/// `posix_spawn` starts from this process's memory, so its figure would
/// never be below this process's RSS. So `sh` starts it in the background (a
/// fork of a small process) and exits; this process is a child subreaper, so
/// the orphan becomes its child, and `wait4` reaps it.
pub fn measure(cmd: &Command, capture_stderr: bool, watchdog: Duration) -> Measured {
    become_subreaper();
    let scratch = tempfile::tempdir().unwrap();
    let pid_file = scratch.path().join("pid");
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c")
        .arg(r#"pid_file="$1"; shift; "$@" & echo "$!" > "$pid_file""#)
        .arg("measured-spawn")
        .arg(&pid_file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => sh.env(key, value),
            None => sh.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if capture_stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        });

    let start = Instant::now();
    let mut child = sh.spawn().expect("start sh to start the command");
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_end(&mut bytes)
                    .expect("read a pipe of the command");
            }
            bytes
        })
    };
    let stdout = collect(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = collect(child.stderr.take().map(|p| Box::new(p) as _));
    // sh exits as soon as the command is started; then the command is ours.
    assert!(
        child.wait().unwrap().success(),
        "sh could not start the command"
    );
    let pid: libc::pid_t = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .expect("the pid of the command");

    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut killed = false;
    loop {
        // SAFETY: pid is our child (by subreaping), not yet reaped; the
        // pointers are valid.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break;
        }
        if reaped == -1 {
            let error = std::io::Error::last_os_error();
            assert_eq!(
                error.kind(),
                std::io::ErrorKind::Interrupted,
                "wait4({pid}): {error}"
            );
            continue;
        }
        if !killed && start.elapsed() > watchdog {
            // SAFETY: the process is not reaped, so the pid is still its.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let wall = start.elapsed();
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
        killed,
    }
}

/// Makes this process the parent of its orphaned descendants (see [`measure`]).
fn become_subreaper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // SAFETY: a plain prctl on this process.
        let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(ok, 0, "prctl: {}", std::io::Error::last_os_error());
    });
}
