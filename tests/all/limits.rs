//! Containment of untrusted guests, through the `bufbridge` binary: every
//! limit stops a hostile guest (tests/guests/hostile) in bounded time and
//! memory, with exit code 3 and one line that names the limit and its value,
//! and no run that fails changes a file.
//!
//! Each run is timed, and its peak RSS is taken from the OS (`wait4`'s
//! `ru_maxrss`) and compared with a trivial run's. The figures are printed:
//! `cargo test --test all limits:: -- --nocapture` shows them.
//!
//! The tests run one at a time (see [`serial`]): on two cores a neighbour
//! would skew both the timings and the memory figures. They are for Linux,
//! where `ru_maxrss` is in KiB and a child subreaper exists.

#![cfg(target_os = "linux")]

use crate::measure;

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::common::*;

const MIB: u64 = 1024 * 1024;

/// What a run may use beyond the trivial run's peak RSS and what it is
/// allowed to hold (the guest's memory cap, the quota, ...): allocator slack,
/// the buffer table, WASI's stream buffers, timing of the compiler threads.
const MARGIN_MIB: f64 = 32.0;

/// A run that takes longer than this is killed and the test fails: no test
/// hangs, whatever the host does.
const WATCHDOG: Duration = Duration::from_secs(60);

// ------------------------------------------------------------ measured runs

/// One finished run of `bufbridge`.
struct Run {
    what: String,
    /// The exit code, or `None` when a signal ended the process.
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    /// Empty when stderr was not captured.
    stderr: String,
    wall: Duration,
    /// Peak resident set of the process, from `wait4`.
    max_rss_kib: u64,
}

impl Run {
    fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }

    /// The host's own lines on stderr; the rest is the guest's output.
    fn host_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("bufbridge:"))
            .collect()
    }

    fn report(&self) {
        eprintln!(
            "[limits] {}: exit {}, wall {:.2} s, peak RSS {:.1} MiB",
            self.what,
            match (self.code, self.signal) {
                (Some(code), _) => code.to_string(),
                (None, signal) => format!("by signal {signal:?}"),
            },
            self.wall.as_secs_f64(),
            self.rss_mib()
        );
    }

    #[track_caller]
    fn assert_exit(&self, want: i32) {
        assert_eq!(
            self.code,
            Some(want),
            "{}: exit code (signal {:?}); stderr:\n{}",
            self.what,
            self.signal,
            tail(&self.stderr)
        );
    }

    /// Exit 3, and one line from the host, the last on stderr, that is
    /// exactly `bufbridge: guest <cause>`; no panic and no backtrace.
    ///
    /// The rest of stderr is the guest's own output, which may well say
    /// `memory allocation of 1048576 bytes failed` and `note: run with
    /// RUST_BACKTRACE=1`: a guest's std prints that when it aborts.
    #[track_caller]
    fn assert_stopped(&self, cause: &str) {
        self.assert_exit(3);
        let want = format!("bufbridge: guest {cause}");
        self.assert_one_host_line(&want);
        assert!(
            self.stdout.is_empty(),
            "{}: stdout {:?}",
            self.what,
            self.stdout
        );
    }

    /// `line` is the host's only line and the last on stderr, and nothing
    /// on stderr is a panic or a backtrace.
    #[track_caller]
    fn assert_one_host_line(&self, line: &str) {
        let what = &self.what;
        let stderr = tail(&self.stderr);
        assert_eq!(self.host_lines(), [line], "{what}: {stderr}");
        assert_eq!(
            self.stderr.lines().last(),
            Some(line),
            "{what}: nothing follows the host's line without -v"
        );
        for text in [
            "panicked at",
            "stack backtrace:",
            "wasm backtrace:",
            "Caused by",
        ] {
            assert!(
                !self.stderr.contains(text),
                "{what}: `{text}` on stderr:\n{stderr}"
            );
        }
    }

    /// The peak RSS is under the trivial run's plus `allowed` MiB plus
    /// [`MARGIN_MIB`].
    #[track_caller]
    fn assert_rss_under(&self, allowed_mib: f64, why: &str) {
        let baseline = baseline_rss_mib();
        let bound = baseline + allowed_mib + MARGIN_MIB;
        eprintln!(
            "[limits] {}: peak RSS {:.1} MiB, bound {bound:.1} = baseline {baseline:.1} + \
             {allowed_mib:.0} ({why}) + margin {MARGIN_MIB:.0}",
            self.what,
            self.rss_mib()
        );
        assert!(
            self.rss_mib() < bound,
            "{}: peak RSS {:.1} MiB is over {bound:.1} MiB",
            self.what,
            self.rss_mib()
        );
    }

    #[track_caller]
    fn assert_wall_under(&self, bound: Duration) {
        assert!(
            self.wall < bound,
            "{}: took {:?}, more than {bound:?}",
            self.what,
            self.wall
        );
    }
}

/// The last lines of `text`: a guest's prints may be long.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The compilation cache of these tests' runs, in the target directory.
fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits-cache")
}

/// Runs `cmd` (stdin empty, stdout captured, stderr captured or discarded)
/// and measures its wall time and peak RSS as the OS sees them.
fn measure(what: &str, cmd: Command, capture_stderr: bool) -> Run {
    let m = measure::measure(&cmd, capture_stderr, WATCHDOG);
    let run = Run {
        what: what.to_string(),
        code: m.code,
        signal: m.signal,
        stdout: m.stdout,
        stderr: m.stderr,
        wall: m.wall,
        max_rss_kib: m.max_rss_kib,
    };
    run.report();
    assert!(
        !m.killed,
        "{what}: still running after {WATCHDOG:?}, killed; stderr:\n{}",
        tail(&run.stderr)
    );
    run
}

/// The peak RSS of a trivial run of the hostile guest (`args` on a tiny
/// input): the engine, the guest (from the compilation cache, as in every
/// other run of it), the runtime. Measured once.
fn baseline_rss_mib() -> f64 {
    static BASELINE: OnceLock<f64> = OnceLock::new();
    *BASELINE.get_or_init(|| {
        let files = Files::new(b"tiny input");
        let trivial = || {
            in_cache(
                bufbridge_run(
                    Some(hostile_wasm_path()),
                    &files.input,
                    OsStr::new("-"),
                    &[],
                    &["args", "baseline"],
                ),
                &cache_dir(),
            )
        };
        // The first run may compile the guest and fill the cache.
        measure("baseline, warming the cache", trivial(), true).assert_exit(0);
        let run = measure("baseline: hostile `args` on a tiny input", trivial(), true);
        run.assert_exit(0);
        assert_eq!(run.stdout, br#"["baseline"]"#);
        // For comparison only: the default guest's `copy`.
        let cmd = in_cache(
            bufbridge_run(None, &files.input, OsStr::new("-"), &[], &["copy"]),
            &cache_dir(),
        );
        let copy = measure("baseline: default `copy` of a tiny input", cmd, true);
        copy.assert_exit(0);
        run.rss_mib()
    })
}

/// Runs the hostile guest over `files` (to its pre-existing output) with
/// `options` and `words`, capturing stderr.
fn hostile(what: &str, files: &Files, options: &[&str], words: &[&str]) -> Run {
    let cmd = in_cache(
        bufbridge_run(
            Some(hostile_wasm_path()),
            &files.input,
            files.output.as_os_str(),
            options,
            words,
        ),
        &cache_dir(),
    );
    measure(what, cmd, true)
}

// --------------------------------------------------------------- the files

/// A temp dir with an input file and a pre-existing output file, and what
/// they were before any run.
struct Files {
    dir: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
    input_was: Original,
    entries_before: Vec<String>,
}

/// What an input file was when it was made.
struct Original {
    len: u64,
    modified: SystemTime,
    /// Its bytes, or `None` for a generated input ([`generated_mib`]).
    bytes: Option<Vec<u8>>,
    /// The hostile guest's hash of its bytes (see [`WordHash`]).
    hash: u64,
}

impl Files {
    fn new(input: &[u8]) -> Self {
        Files::make(|path| {
            fs::write(path, input).unwrap();
            let mut hash = WordHash::new();
            hash.update(input);
            (Some(input.to_vec()), hash.finish())
        })
    }

    /// An input of `len` generated bytes ([`generated_mib`]), written a MiB
    /// at a time.
    fn big(len: u64) -> Self {
        Files::make(|path| {
            let mut file = File::create(path).unwrap();
            let mut hash = WordHash::new();
            for index in 0..len.div_ceil(MIB) {
                let mut chunk = generated_mib(index);
                chunk.truncate((len - index * MIB).min(MIB) as usize);
                hash.update(&chunk);
                file.write_all(&chunk).unwrap();
            }
            file.sync_all().unwrap();
            (None, hash.finish())
        })
    }

    fn make(write_input: impl FnOnce(&Path) -> (Option<Vec<u8>>, u64)) -> Self {
        let dir = tempdir();
        let input = dir.path().join("in.bin");
        let output = dir.path().join("out.bin");
        let (bytes, hash) = write_input(&input);
        let meta = fs::metadata(&input).unwrap();
        let input_was = Original {
            len: meta.len(),
            modified: meta.modified().unwrap(),
            bytes,
            hash,
        };
        fs::write(&output, OLD_OUTPUT).unwrap();
        let entries_before = entries(dir.path());
        Files {
            dir,
            input,
            output,
            input_was,
            entries_before,
        }
    }

    /// After a failed run: the destination is byte for byte as before, no
    /// file appeared (no temporary `.out.bin.*.bufbridge-tmp`), and the
    /// input is unchanged.
    #[track_caller]
    fn assert_untouched(&self, run: &Run) {
        let what = &run.what;
        let now = entries(self.dir.path());
        assert!(
            !now.iter().any(|name| name.ends_with(".bufbridge-tmp")),
            "{what}: a temporary file was left: {now:?}"
        );
        assert_eq!(now, self.entries_before, "{what}: files in the directory");
        assert_eq!(
            fs::read(&self.output).unwrap(),
            OLD_OUTPUT,
            "{what}: the old output"
        );
        self.assert_input_unchanged(what);
    }

    /// The input has its length, modification time and bytes of before.
    #[track_caller]
    fn assert_input_unchanged(&self, what: &str) {
        let was = &self.input_was;
        let meta = fs::metadata(&self.input).unwrap();
        assert_eq!(meta.len(), was.len, "{what}: the input's length");
        assert_eq!(
            meta.modified().unwrap(),
            was.modified,
            "{what}: the input's mtime"
        );
        if let Some(bytes) = &was.bytes {
            assert!(
                fs::read(&self.input).unwrap() == *bytes,
                "{what}: the input's bytes"
            );
            return;
        }
        // A generated input, compared a MiB at a time.
        let mut file = File::open(&self.input).unwrap();
        let mut chunk = vec![0u8; MIB as usize];
        for index in 0..was.len.div_ceil(MIB) {
            let mut want = generated_mib(index);
            want.truncate((was.len - index * MIB).min(MIB) as usize);
            let got = &mut chunk[..want.len()];
            file.read_exact(got).unwrap();
            assert!(*got == want[..], "{what}: the input's MiB {index}");
        }
    }
}

/// The `index`th MiB of a generated input: the same pseudo-random MiB, with
/// `index` in its first eight bytes.
fn generated_mib(index: u64) -> Vec<u8> {
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    let block = BLOCK.get_or_init(|| {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        (0..MIB / 8)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect()
    });
    let mut mib = block.clone();
    mib[..8].copy_from_slice(&index.to_le_bytes());
    mib
}

/// The hostile guest's `word_hash` (tests/guests/hostile/src/lib.rs), fed in
/// pieces whose lengths are multiples of 8 (but the last).
struct WordHash {
    h: u64,
    len: u64,
    tail: bool,
}

impl WordHash {
    fn new() -> Self {
        WordHash {
            h: 0xcbf2_9ce4_8422_2325,
            len: 0,
            tail: false,
        }
    }

    fn mix(h: u64, w: u64) -> u64 {
        let h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }

    fn update(&mut self, bytes: &[u8]) {
        assert!(!self.tail, "only the last piece may be shorter than a word");
        let (words, tail) = bytes.as_chunks::<8>();
        for w in words {
            self.h = Self::mix(self.h, u64::from_le_bytes(*w));
        }
        if !tail.is_empty() {
            let mut last = [0u8; 8];
            last[..tail.len()].copy_from_slice(tail);
            self.h = Self::mix(self.h, u64::from_le_bytes(last));
            self.tail = true;
        }
        self.len += bytes.len() as u64;
    }

    fn finish(&self) -> u64 {
        Self::mix(self.h, self.len)
    }
}

// ------------------------------------------------------------------- time

#[test]
fn an_infinite_loop_is_stopped_by_the_timeout() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile("spin --timeout 1s", &files, &["--timeout", "1s"], &["spin"]);
    run.assert_stopped("exceeded the time limit of 1s");
    assert!(
        run.wall >= Duration::from_secs(1),
        "stopped early: {:?}",
        run.wall
    );
    run.assert_wall_under(Duration::from_secs(2));
    files.assert_untouched(&run);
}

/// A guest blocked in a host call (here WASI's clock poll, behind
/// `std::thread::sleep`) is stopped by the timeout too, not when it wakes:
/// a guest that sleeps for a year must not hold the host for a year.
#[test]
fn a_sleeping_guest_is_stopped_by_the_timeout() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile(
        "sleep 10 --timeout 1s",
        &files,
        &["--timeout", "1s"],
        &["sleep", "10"],
    );
    run.assert_stopped("exceeded the time limit of 1s");
    run.assert_wall_under(Duration::from_secs(2));
    files.assert_untouched(&run);
}

#[test]
fn a_core_module_is_held_to_the_same_limits_from_instantiation_on() {
    let _serial = serial();
    let guests = tempdir();
    let guest = |name: &str, wat: &str| {
        let path = guests.path().join(name);
        fs::write(&path, wat).unwrap();
        path
    };
    let start_spins = guest(
        "start-spins.wat",
        r#"(module
             (memory (export "memory") 1)
             (func $spin (loop $again (br $again)))
             (start $spin)
             (func (export "process") (param i32 i32) (result i32) (i32.const 0)))"#,
    );
    let grows_until_refused = guest(
        "grows.wat",
        r#"(module
             (memory (export "memory") 1)
             (func (export "process") (param i32 i32) (result i32)
               (block $refused
                 (loop $again
                   (br_if $refused (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
                   (br $again)))
               unreachable))"#,
    );
    let starts_too_big = guest(
        "starts-too-big.wat",
        r#"(module
             (memory (export "memory") 16384)
             (func (export "process") (param i32 i32) (result i32) (i32.const 0)))"#,
    );
    let files = Files::new(b"some input");
    for (what, wasm, options, cause) in [
        (
            "core: a start function that spins, --timeout 1s",
            &start_spins,
            &["--timeout", "1s"][..],
            "exceeded the time limit of 1s",
        ),
        (
            "core: memory.grow until refused, --memory 64MiB",
            &grows_until_refused,
            &["--memory", "64MiB"],
            "exceeded the memory limit of 64 MiB",
        ),
        (
            "core: an initial memory of 1 GiB, --memory 64MiB",
            &starts_too_big,
            &["--memory", "64MiB"],
            "exceeded the memory limit of 64 MiB",
        ),
    ] {
        let cmd = in_cache(
            bufbridge_run(
                Some(wasm),
                &files.input,
                files.output.as_os_str(),
                options,
                &[],
            ),
            &cache_dir(),
        );
        let run = measure(what, cmd, true);
        run.assert_stopped(cause);
        run.assert_wall_under(Duration::from_secs(2));
        run.assert_rss_under(64.0, "at most the guest's memory cap");
        files.assert_untouched(&run);
    }
}

#[test]
fn a_small_fuel_budget_stops_an_infinite_loop_and_a_generous_one_does_not_stop_a_real_run() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile(
        "spin --fuel 1000000",
        &files,
        &["--fuel", "1000000"],
        &["spin"],
    );
    run.assert_stopped("exceeded the fuel limit of 1000000 units");
    // Stopped by the fuel, long before the default timeout.
    run.assert_wall_under(Duration::from_secs(5));
    files.assert_untouched(&run);

    let files = Files::new(b"count on me\n");
    let cmd = in_cache(
        bufbridge_run(
            None,
            &files.input,
            files.output.as_os_str(),
            &["--fuel", "1000000000"],
            &["upper"],
        ),
        &cache_dir(),
    );
    let run = measure("default upper --fuel 1000000000", cmd, true);
    run.assert_exit(0);
    assert_eq!(fs::read(&files.output).unwrap(), b"COUNT ON ME\n");
    files.assert_input_unchanged(&run.what);
    let run = hostile(
        "hostile read-all-at-once --fuel 1000000000",
        &files,
        &["--fuel", "1000000000"],
        &["read-all-at-once"],
    );
    run.assert_exit(0);
    let want = format!("read 12 bytes, hash {:016x}\n", files.input_was.hash);
    assert_eq!(
        String::from_utf8(fs::read(&files.output).unwrap()).unwrap(),
        want
    );
}

// ----------------------------------------------------------------- memory

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_cap_and_the_host_does_not_follow_it() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile(
        "memory-bomb --memory 64MiB",
        &files,
        &["--memory", "64MiB", "--timeout", "10s"],
        &["memory-bomb"],
    );
    run.assert_stopped("exceeded the memory limit of 64 MiB");
    run.assert_rss_under(64.0, "the guest's memory cap");
    run.assert_wall_under(Duration::from_secs(10));
    files.assert_untouched(&run);
}

#[test]
fn a_quota_bomb_is_refused_and_the_host_holds_no_more_than_the_quota() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile(
        "quota-bomb --quota 128MiB",
        &files,
        &["--quota", "128MiB", "--timeout", "10s"],
        &["quota-bomb"],
    );
    run.assert_exit(0);
    // The guest was told, and said what it saw.
    let report = String::from_utf8(fs::read(&files.output).unwrap()).unwrap();
    assert_eq!(
        report,
        format!(
            "held {} bytes in 4 buffers, then quota-exceeded({})\n",
            128 * MIB,
            128 * MIB
        )
    );
    run.assert_rss_under(128.0, "the quota");
    files.assert_input_unchanged(&run.what);
}

#[test]
fn reading_a_huge_input_at_once_allocates_no_more_than_it_holds() {
    let _serial = serial();
    const LEN: u64 = 200 * MIB;
    let files = Files::big(LEN);
    let len_mib = (LEN / MIB) as f64;

    // The guest's memory cannot hold the bytes: its allocator fails while
    // the host hands them over. The host holds the input and one copy.
    let run = hostile(
        "read-all-at-once of 200 MiB, --memory 64MiB",
        &files,
        &["--memory", "64MiB"],
        &["read-all-at-once"],
    );
    run.assert_stopped("exceeded the memory limit of 64 MiB");
    run.assert_rss_under(2.0 * len_mib, "the input and one copy of it");
    files.assert_untouched(&run);

    // It can: the guest gets every byte, and holds them in its memory.
    let run = hostile(
        "read-all-at-once of 200 MiB, --memory 256MiB",
        &files,
        &["--memory", "256MiB"],
        &["read-all-at-once"],
    );
    run.assert_exit(0);
    let report = String::from_utf8(fs::read(&files.output).unwrap()).unwrap();
    assert_eq!(
        report,
        format!("read {LEN} bytes, hash {:016x}\n", files.input_was.hash)
    );
    run.assert_rss_under(
        3.0 * len_mib,
        "the input, one copy, and the guest's copy in its memory",
    );
    files.assert_input_unchanged(&run.what);
}

#[test]
fn a_read_over_the_per_call_copy_limit_traps_and_names_it() {
    let _serial = serial();
    let files = Files::new(&generated(2 * MIB as usize));
    let run = hostile(
        "read-all-at-once of 2 MiB, --max-copy 1MiB",
        &files,
        &["--max-copy", "1MiB"],
        &["read-all-at-once"],
    );
    run.assert_stopped("exceeded the per-call copy limit of 1 MiB");
    files.assert_untouched(&run);
}

// ------------------------------------------------ stack, buffers, prints

#[test]
fn deep_recursion_traps_cleanly() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile("recurse", &files, &["--timeout", "10s"], &["recurse"]);
    run.assert_stopped("trapped: wasm trap: call stack exhausted");
    run.assert_wall_under(Duration::from_secs(10));
    files.assert_untouched(&run);
}

#[test]
fn creating_buffers_forever_hits_the_live_buffer_limit() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile(
        "create-loop --max-buffers 100",
        &files,
        &["--max-buffers", "100", "--timeout", "5s"],
        &["create-loop"],
    );
    run.assert_stopped("exceeded the limit of 100 live buffers");
    run.assert_wall_under(Duration::from_secs(5));
    files.assert_untouched(&run);
}

#[test]
fn a_flood_of_prints_goes_through_without_the_host_holding_it() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let cmd = in_cache(
        bufbridge_run(
            Some(hostile_wasm_path()),
            &files.input,
            OsStr::new("-"),
            &[],
            &["print-flood", "300"],
        ),
        &cache_dir(),
    );
    // The 300 MiB go to /dev/null, not into this process.
    let run = measure("print-flood 300 (MiB, stderr to /dev/null)", cmd, false);
    run.assert_exit(0);
    assert_eq!(run.stdout, b"printed 300 MiB\n");
    run.assert_rss_under(0.0, "nothing: the prints are not held");
    files.assert_input_unchanged(&run.what);
}

// ------------------------------------------ failures after writing, -v

#[test]
fn a_panic_or_an_error_after_writing_leaves_every_file_as_it_was() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let run = hostile("write-then-panic", &files, &[], &["write-then-panic"]);
    run.assert_exit(3);
    // The guest's panic message is its own output (its std prints it, and
    // says `panicked at`); the host adds one line, the last.
    assert!(
        run.stderr.contains("deliberate panic after writing"),
        "{}",
        run.stderr
    );
    let host = run.host_lines();
    assert_eq!(host.len(), 1, "{}", run.stderr);
    assert!(
        host[0].starts_with("bufbridge: guest trapped: ") && host[0].contains("unreachable"),
        "{}",
        host[0]
    );
    assert_eq!(run.stderr.lines().last(), Some(host[0]));
    assert!(!run.stderr.contains("stack backtrace:"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    files.assert_untouched(&run);

    let run = hostile("write-then-err", &files, &[], &["write-then-err"]);
    run.assert_exit(1);
    run.assert_one_host_line("bufbridge: guest failed: deliberate failure after writing");
    files.assert_untouched(&run);
}

#[test]
fn only_verbose_adds_details_whatever_rust_backtrace_says() {
    let _serial = serial();
    let files = Files::new(b"some input");
    let options = ["--max-buffers", "10"];
    let line = "bufbridge: guest exceeded the limit of 10 live buffers";

    let mut cmd = in_cache(
        bufbridge_run(
            Some(hostile_wasm_path()),
            &files.input,
            files.output.as_os_str(),
            &options,
            &["create-loop"],
        ),
        &cache_dir(),
    );
    cmd.env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1");
    let run = measure("create-loop, RUST_BACKTRACE=1", cmd, true);
    run.assert_stopped("exceeded the limit of 10 live buffers");

    let mut verbose: Vec<&str> = options.to_vec();
    verbose.push("-v");
    let run = hostile("create-loop -v", &files, &verbose, &["create-loop"]);
    run.assert_exit(3);
    assert_eq!(run.host_lines(), [line]);
    let after: Vec<&str> = run.stderr.lines().skip_while(|l| *l != line).collect();
    eprintln!("[limits] -v adds:\n{}", after.join("\n"));
    assert!(after.len() > 2, "-v adds the details:\n{}", run.stderr);
    let details = after.join("\n");
    assert!(details.contains("backtrace"), "{details}");
    assert!(!details.contains("panicked"), "{details}");
    files.assert_untouched(&run);
}
