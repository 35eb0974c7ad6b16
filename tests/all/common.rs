//! Helpers shared by the integration tests: the test guests (built once),
//! one shared host, the hostile guest's `script` command, the `bufbridge`
//! binary and the one builder of its `run` command line, running it under a
//! watchdog, the `serial()` lock, and temp dirs with an old output to keep.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

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

/// The SDK's test guest (`tests/guests/sdk`), built with the hostile one.
pub fn sdk_wasm_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_test_guest("bufbridge_test_sdk"))
}

/// The SDK's `Input::stream` test guest (`tests/guests/sdk-stream`), built
/// with the hostile one.
pub fn sdk_stream_wasm_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_test_guest("bufbridge_test_sdk_stream"))
}

/// The `read-stream` test guest (`tests/guests/streams`), built with the
/// hostile one.
pub fn streams_wasm_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| build_test_guest("bufbridge_test_streams"))
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
/// directory rather than the user's cache, and none of the user's logging or
/// backtrace settings: a test that wants them sets them.
pub fn bufbridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bufbridge"));
    cmd.env(
        "BUFBRIDGE_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
    )
    .env_remove("RUST_LOG")
    .env("RUST_BACKTRACE", "0")
    .env_remove("RUST_LIB_BACKTRACE");
    cmd
}

/// `run [GUEST] --input IN --output OUT OPTIONS [-- WORDS]`: the one
/// builder of a run's command line, for [`bufbridge_run`] and for shell
/// scripts ([`bufbridge_sh`]).
pub fn run_args(
    guest: Option<&Path>,
    input: impl AsRef<OsStr>,
    output: impl AsRef<OsStr>,
    options: &[&str],
    words: &[&str],
) -> Vec<OsString> {
    let mut args = vec![OsString::from("run")];
    args.extend(guest.map(OsString::from));
    args.extend(["--input".into(), input.as_ref().into()]);
    args.extend(["--output".into(), output.as_ref().into()]);
    args.extend(options.iter().map(OsString::from));
    if !words.is_empty() {
        args.push("--".into());
        args.extend(words.iter().map(OsString::from));
    }
    args
}

/// `bufbridge run [GUEST] --input IN --output OUT OPTIONS [-- WORDS]`.
pub fn bufbridge_run(
    guest: Option<&Path>,
    input: impl AsRef<OsStr>,
    output: impl AsRef<OsStr>,
    options: &[&str],
    words: &[&str],
) -> Command {
    let mut cmd = bufbridge();
    cmd.args(run_args(guest, input, output, options, words));
    cmd
}

/// `cmd` with its compilation cache in `cache`, for tests that fill, break
/// or time a cache of their own.
pub fn in_cache(mut cmd: Command, cache: &Path) -> Command {
    cmd.env("BUFBRIDGE_CACHE_DIR", cache);
    cmd
}

/// [`bufbridge_run`] with stdin empty: what it printed and how it exited.
#[track_caller]
pub fn run(
    guest: Option<&Path>,
    input: impl AsRef<OsStr>,
    output_to: impl AsRef<OsStr>,
    options: &[&str],
    words: &[&str],
) -> Output {
    output_of(bufbridge_run(guest, input, output_to, options, words), None)
}

/// [`bufbridge`] run through `sh -c SCRIPT`, where the script refers to the
/// binary as `"$1"` and to it with `args` as `"$@"` (for redirections).
pub fn bufbridge_sh(script: &str, args: &[impl AsRef<OsStr>]) -> Command {
    let bufbridge = bufbridge();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(script)
        .arg("sh")
        .arg(bufbridge.get_program())
        .args(args);
    for (key, value) in bufbridge.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd
}

/// Long enough for any run here on a loaded machine; a run still going
/// after it hangs, which is the failure some tests look for.
pub const HANG: Duration = Duration::from_secs(90);

/// Runs `cmd` (stdout and stderr captured), feeding it `stdin` or nothing.
#[track_caller]
pub fn output_of(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    let mut child = spawn(
        &mut cmd,
        if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        },
    );
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        // Written from a thread so a large input cannot deadlock on full pipes.
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    finish(child)
}

/// Starts `cmd` with `stdin` and its stdout and stderr piped, for
/// [`finish`].
#[track_caller]
pub fn spawn(cmd: &mut Command, stdin: Stdio) -> Child {
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bufbridge")
}

/// Runs `bufbridge` with `args`, feeding `stdin` (or nothing) to it.
#[track_caller]
pub fn run_cli<I, S>(args: I, stdin: Option<&[u8]>) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = bufbridge();
    cmd.args(args);
    output_of(cmd, stdin)
}

/// Waits for `child`, killing it and failing the test if it runs past
/// [`HANG`]; collects what it printed to the pipes it has.
#[track_caller]
pub fn finish(mut child: Child) -> Output {
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = collect(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = collect(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bufbridge hung: still running after {HANG:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One at a time across the whole binary: the tests that time a run or
/// measure its memory take this, so they are not skewed by each other's
/// compiling and running on a machine of two cores.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    // A test that failed holding the lock poisons it; the others carry on.
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// What a test leaves in an output file beforehand, to see that a failed run
/// keeps it.
pub const OLD_OUTPUT: &[u8] = b"precious old output\n";

/// A temp dir with `in.txt` holding `input` and an `out.txt` holding
/// [`OLD_OUTPUT`]; the names in it.
pub fn dir_with_old_output(input: &[u8]) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempdir();
    std::fs::write(dir.path().join("in.txt"), input).unwrap();
    std::fs::write(dir.path().join("out.txt"), OLD_OUTPUT).unwrap();
    let before = entries(dir.path());
    (dir, before)
}

/// The directory of [`dir_with_old_output`] holds what it held, and
/// `out.txt` still [`OLD_OUTPUT`].
#[track_caller]
pub fn assert_untouched(dir: &Path, before: &[String]) {
    assert_eq!(entries(dir), before, "files in the output's directory");
    assert_eq!(std::fs::read(dir.join("out.txt")).unwrap(), OLD_OUTPUT);
}

/// The default guest's `sha256` of `bytes`: the hex digest and a newline.
pub fn sha256_line(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}\n").into_bytes()
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
