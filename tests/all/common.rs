//! Helpers shared by the integration tests: the test guests (built once),
//! one shared host, the `bufbridge` binary, temp dirs, and the
//! hostile guest's `script` command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use bufbridge::{DEFAULT_GUEST, Guest, Host, Limits, RunError};

#[path = "../support/wasm_build.rs"]
pub mod wasm_build;

pub use wasm_build::repo;

/// The hostile test guest (`tests/guests/hostile`), built for wasm32-wasip2
/// the first time it is asked for.
pub fn hostile_wasm_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_test_guest("bufbridge_test_hostile"))
}

pub fn hostile_wasm() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| std::fs::read(hostile_wasm_path()).expect("read the hostile guest"))
}

/// Builds the test guests' workspace (see `tests/support/wasm_build.rs`);
/// returns the path of `NAME.wasm`.
fn build_test_guest(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = wasm_build::build("tests/guests/Cargo.toml", "wasm32-wasip2", &[], tmp);
    dir.join(format!("{name}.wasm"))
}

/// One host for the whole test binary: engines are meant to be shared.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new().expect("start the host"))
}

pub fn default_guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| host().load(DEFAULT_GUEST).expect("load the default guest"))
}

pub fn hostile_guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| host().load(hostile_wasm()).expect("load the hostile guest"))
}

pub fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Runs the default guest through the library.
pub fn run_default(input: &[u8], words: &[&str], limits: &Limits) -> Result<Vec<u8>, RunError> {
    host().run(default_guest(), input.to_vec(), &args(words), limits)
}

/// Runs the hostile guest through the library.
pub fn run_hostile(input: &[u8], words: &[&str], limits: &Limits) -> Result<Vec<u8>, RunError> {
    host().run(hostile_guest(), input.to_vec(), &args(words), limits)
}

/// Limits small enough that a test can reach every one of them.
pub fn small_limits(max_output: u64, quota: u64) -> Limits {
    Limits {
        max_output,
        quota,
        ..Limits::default()
    }
}

/// What a `script` run (see tests/guests/hostile/src/script.rs) gave back.
#[derive(Debug)]
pub struct Script {
    /// What the script left in the output, when the results fitted after it.
    pub output: Option<Vec<u8>>,
    /// One line per operation.
    pub results: Vec<String>,
}

const SEPARATOR: &[u8] = b"--- results ---\n";

/// Runs `ops` (one script line each) with the hostile guest over `input`.
pub fn script(input: &[u8], ops: &[&str], limits: &Limits) -> Result<Script, RunError> {
    let mut words = vec!["script"];
    words.extend_from_slice(ops);
    match run_hostile(input, &words, limits) {
        Ok(out) => {
            let at = out
                .windows(SEPARATOR.len())
                .rposition(|w| w == SEPARATOR)
                .expect("the script results follow a separator");
            let results = String::from_utf8(out[at + SEPARATOR.len()..].to_vec()).unwrap();
            Ok(Script {
                output: Some(out[..at].to_vec()),
                results: results.lines().map(String::from).collect(),
            })
        }
        Err(RunError::Failed(message)) if message.starts_with("results:\n") => Ok(Script {
            output: None,
            results: message.lines().skip(1).map(String::from).collect(),
        }),
        Err(e) => Err(e),
    }
}

/// Runs a script of `(operation, expected result)` pairs and asserts every
/// result; returns what the script left in the output (if the results fitted).
#[track_caller]
pub fn check_script(input: &[u8], limits: &Limits, steps: &[(&str, &str)]) -> Option<Vec<u8>> {
    let ops: Vec<&str> = steps.iter().map(|(op, _)| *op).collect();
    let run = script(input, &ops, limits).unwrap_or_else(|e| panic!("script failed: {e}"));
    assert_eq!(
        run.results.len(),
        steps.len(),
        "one result per operation: {:?}",
        run.results
    );
    for (i, ((op, want), got)) in steps.iter().zip(&run.results).enumerate() {
        assert_eq!(got, want, "step {i}: `{op}`");
    }
    run.output
}

/// The `bufbridge` binary, with its compilation cache in the target
/// directory rather than the user's cache.
pub fn bufbridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bufbridge"));
    cmd.env(
        "BUFBRIDGE_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
    );
    cmd
}

/// Runs `bufbridge` with `args`, feeding `stdin` (or nothing) to it.
pub fn run_cli<I, S>(args: I, stdin: Option<&[u8]>) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = bufbridge();
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start bufbridge");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        // Written from a thread so a large input cannot deadlock on full pipes.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    child.wait_with_output().expect("wait for bufbridge")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit code, with stderr in the message when it is not `want`.
#[track_caller]
pub fn assert_exit(out: &Output, want: i32) {
    assert_eq!(
        out.status.code(),
        Some(want),
        "exit code; stderr:\n{}",
        stderr(out)
    );
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("make a temp dir")
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `n` bytes of deterministic text with lines and words of varied length,
/// upper and lower case, and some non-ASCII bytes.
pub fn generated(n: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(n);
    while bytes.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = match state % 23 {
            0 => b'\n',
            1..=3 => b' ',
            4 => b'\t',
            5 => (state >> 8) as u8, // any byte at all
            6..=12 => b'a' + ((state >> 16) % 26) as u8,
            13..=19 => b'A' + ((state >> 16) % 26) as u8,
            _ => b'0' + ((state >> 16) % 10) as u8,
        };
        bytes.push(b);
    }
    bytes
}
