//! The host's own work and the compilation cache, through the `bufbridge`
//! binary on real files:
//!
//! - `--timeout` bounds long host calls (`digest.sha256`, `copy-from`), not
//!   only the guest's code: they stop within a slice of their work;
//! - a cache entry is loaded only for the guest and engine it was made for;
//! - a cache entry that is not a regular file of a sane size (a FIFO, a link
//!   to `/dev/zero`, a huge file) is never read;
//! - a cache that someone else can write is not trusted.
//!
//! Every run is watched: one that hangs or grows past [`MAX_RSS_MIB`] is
//! killed and fails its test. `cargo test --test all host_limits:: -- --nocapture`
//! prints the figures.

#![cfg(target_os = "linux")]

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::common::*;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// A run that takes longer is killed, and its test fails: nothing hangs.
const WATCHDOG: Duration = Duration::from_secs(30);

/// A run whose resident set grows past this is killed, and its test fails.
/// A run of these tests needs a fraction of it.
const MAX_RSS_MIB: u64 = 512;

/// What a run stopped by the time limit may take in all, with a
/// `--timeout` of 100ms: starting, loading the guest from the cache, the
/// 100ms, one slice of host work. Generous: the machine is shared.
const STOPPED_WITHIN: Duration = Duration::from_secs(2);

// ------------------------------------------------------------- watched runs

/// One finished run of `bufbridge`.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    wall: Duration,
    peak_rss_mib: u64,
}

impl Run {
    #[track_caller]
    fn assert_exit(&self, want: i32) {
        assert_eq!(self.code, Some(want), "exit code; stderr:\n{}", self.stderr);
    }
}

/// Runs `cmd` with stdin empty, watching it: killed (and the test failed)
/// if it outlives [`WATCHDOG`] or its resident set passes [`MAX_RSS_MIB`].
fn watched(what: &str, mut cmd: Command) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start bufbridge");
    let collect = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes)
                .expect("read a pipe of bufbridge");
            bytes
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let mut peak_rss_mib = 0;
    let mut killed = None;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bufbridge") {
            break status;
        }
        peak_rss_mib = peak_rss_mib.max(rss_mib(child.id()));
        if peak_rss_mib > MAX_RSS_MIB {
            killed = Some(format!("its resident set passed {MAX_RSS_MIB} MiB"));
        } else if start.elapsed() > WATCHDOG {
            killed = Some(format!("still running after {WATCHDOG:?}"));
        }
        if killed.is_some() {
            child.kill().expect("kill bufbridge");
            break child.wait().expect("wait for bufbridge");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let run = Run {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
        wall: start.elapsed(),
        peak_rss_mib,
    };
    eprintln!(
        "{what}: exit {:?} in {:.2?}, peak RSS {} MiB",
        run.code, run.wall, run.peak_rss_mib
    );
    if let Some(why) = killed {
        panic!("{what}: killed, {why}; stderr:\n{}", run.stderr);
    }
    run
}

/// The resident set of process `pid` in MiB (0 once it is gone).
fn rss_mib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// A file of `len` zero bytes that costs no disk: a hole.
fn sparse(path: &Path, len: u64) -> PathBuf {
    fs::File::create(path).unwrap().set_len(len).unwrap();
    path.to_path_buf()
}

// ------------------------------------------------- item 7: host work, timed

/// The compilation cache of the timed tests, warmed before any timing.
fn timed_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-limits-cache")
}

/// A directory with a sparse input of `len` bytes and a pre-existing output.
struct Files {
    dir: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
}

impl Files {
    fn new(len: u64) -> Self {
        let dir = tempdir();
        let input = sparse(&dir.path().join("in.bin"), len);
        let output = dir.path().join("out.txt");
        fs::write(&output, OLD_OUTPUT).unwrap();
        Files { dir, input, output }
    }

    /// After a failed run: the output as it was, and nothing left beside it.
    #[track_caller]
    fn assert_untouched(&self) {
        assert_eq!(fs::read(&self.output).unwrap(), OLD_OUTPUT);
        assert_eq!(entries(self.dir.path()), ["in.bin", "out.txt"]);
    }
}

/// A run stopped by a `--timeout` of 100ms, in a long host call.
#[track_caller]
fn assert_stopped_in_time(run: &Run) {
    run.assert_exit(3);
    assert!(
        run.stderr
            .contains("bufbridge: guest exceeded the time limit of 100ms"),
        "{}",
        run.stderr
    );
    assert!(
        run.wall < STOPPED_WITHIN,
        "stopped after {:.2?}, not within {STOPPED_WITHIN:?}",
        run.wall
    );
}

/// Runs `guest` once on a tiny input, so the timed runs load it from the
/// cache rather than compile it.
fn warm(guest: Option<&Path>, words: &[&str]) {
    let files = Files::new(16);
    let cmd = in_cache(
        bufbridge_run(guest, &files.input, &files.output, &[], words),
        &timed_cache(),
    );
    watched("warming the cache", cmd).assert_exit(0);
}

#[test]
fn sha256_of_a_huge_input_stops_at_the_timeout_and_a_timely_one_finishes() {
    let _serial = serial();
    warm(None, &["sha256"]);
    // Finishing in time: the deadline stops nothing that ends before it.
    let small = Files::new(64 * MIB);
    let cmd = in_cache(
        bufbridge_run(
            None,
            &small.input,
            &small.output,
            &["--timeout", "30s"],
            &["sha256"],
        ),
        &timed_cache(),
    );
    let run = watched("sha256 of 64 MiB, --timeout 30s", cmd);
    run.assert_exit(0);
    let want = sha2::Sha256::digest(vec![0; 64 * MIB as usize]);
    let want: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(fs::read_to_string(&small.output).unwrap().trim(), want);

    // 4 GiB take seconds to hash, in one host call.
    let files = Files::new(4 * GIB);
    let cmd = in_cache(
        bufbridge_run(
            None,
            &files.input,
            &files.output,
            &["--timeout", "100ms"],
            &["sha256"],
        ),
        &timed_cache(),
    );
    let run = watched("sha256 of 4 GiB, --timeout 100ms", cmd);
    assert_stopped_in_time(&run);
    files.assert_untouched();
}

#[test]
fn one_huge_copy_from_stops_at_the_timeout_in_a_component() {
    let _serial = serial();
    let hostile = hostile_wasm_path();
    warm(Some(hostile), &["args"]);
    // One `copy-from` of the whole input into the output file.
    let files = Files::new(4 * GIB);
    let cmd = in_cache(
        bufbridge_run(
            Some(hostile),
            &files.input,
            &files.output,
            &[
                "--timeout",
                "100ms",
                "--max-copy",
                "8GiB",
                "--max-output",
                "8GiB",
            ],
            &["script", &format!("copy 1 0 0 0 {}", 4 * GIB)],
        ),
        &timed_cache(),
    );
    let run = watched("component: one copy-from of 4 GiB, --timeout 100ms", cmd);
    assert_stopped_in_time(&run);
    files.assert_untouched();
}

/// A core module that copies its whole input into its output in one call.
const COPY_ALL_WAT: &str = r#"(module
  (import "bufbridge:buffers/raw@0.1.0" "len" (func $len (param i32) (result i64)))
  (import "bufbridge:buffers/raw@0.1.0" "copy_from"
    (func $copy_from (param i32 i32 i64 i64 i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "process") (param $input i32) (param $output i32) (result i32)
    (i32.wrap_i64 (i64.shr_u
      (call $copy_from (local.get $output) (local.get $input)
        (i64.const 0) (i64.const 0) (call $len (local.get $input)))
      (i64.const 63)))))
"#;

#[test]
fn one_huge_copy_from_stops_at_the_timeout_in_a_core_module() {
    let _serial = serial();
    let guests = tempdir();
    let guest = guests.path().join("copy-all.wat");
    fs::write(&guest, COPY_ALL_WAT).unwrap();
    // The guest works: a small copy finishes.
    let small = Files::new(3 * MIB);
    let cmd = in_cache(
        bufbridge_run(Some(&guest), &small.input, &small.output, &[], &[]),
        &timed_cache(),
    );
    watched("core: copy-from of 3 MiB", cmd).assert_exit(0);
    assert_eq!(fs::read(&small.output).unwrap(), vec![0; 3 * MIB as usize]);

    let files = Files::new(4 * GIB);
    let cmd = in_cache(
        bufbridge_run(
            Some(&guest),
            &files.input,
            &files.output,
            &[
                "--timeout",
                "100ms",
                "--max-copy",
                "8GiB",
                "--max-output",
                "8GiB",
            ],
            &[],
        ),
        &timed_cache(),
    );
    let run = watched("core: one copy_from of 4 GiB, --timeout 100ms", cmd);
    assert_stopped_in_time(&run);
    files.assert_untouched();
}

// ------------------------------------------------------ items 9-11: the cache

/// A core module whose output is `guest NAME\n`.
fn named_guest(dir: &Path, name: &str) -> PathBuf {
    let text = format!("guest {name}\n");
    let wat = format!(
        r#"(module
  (import "bufbridge:buffers/raw@0.1.0" "append" (func $append (param i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{}")
  (func (export "process") (param $input i32) (param $output i32) (result i32)
    (i32.wrap_i64 (call $append (local.get $output) (i32.const 0) (i32.const {})))))
"#,
        text.escape_default(),
        text.len()
    );
    let path = dir.join(format!("{name}.wat"));
    fs::write(&path, wat).unwrap();
    path
}

/// A cache directory and two guests, A and B, that print their names.
struct CacheCase {
    _dir: tempfile::TempDir,
    cache: PathBuf,
    a: PathBuf,
    b: PathBuf,
    input: PathBuf,
}

impl CacheCase {
    fn new() -> Self {
        let dir = tempdir();
        let cache = dir.path().join("cache");
        let a = named_guest(dir.path(), "A");
        let b = named_guest(dir.path(), "B");
        let input = dir.path().join("in.txt");
        fs::write(&input, "").unwrap();
        CacheCase {
            cache,
            a,
            b,
            input,
            _dir: dir,
        }
    }

    /// Runs `guest` with `-v`, to stdout; checks that it printed its name.
    #[track_caller]
    fn run(&self, what: &str, guest: &Path) -> Run {
        let mut cmd = in_cache(
            bufbridge_run(Some(guest), &self.input, Path::new("-"), &["-v"], &[]),
            &self.cache,
        );
        cmd.env("RUST_BACKTRACE", "0");
        let run = watched(what, cmd);
        run.assert_exit(0);
        let name = guest.file_stem().unwrap().to_string_lossy();
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            format!("guest {name}\n"),
            "{what}: the wrong guest ran; stderr:\n{}",
            run.stderr
        );
        run
    }

    /// The cache's entries (no temporary files), as paths.
    fn entries(&self) -> Vec<PathBuf> {
        entries(&self.cache)
            .into_iter()
            .map(|name| self.cache.join(name))
            .collect()
    }

    /// Runs A once to fill the cache; returns A's entry.
    fn a_entry(&self) -> PathBuf {
        self.run("A, filling the cache", &self.a);
        let entries = self.entries();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }
}

#[track_caller]
fn assert_hit(run: &Run, hit: bool) {
    assert_eq!(
        run.stderr.contains("compilation cache hit"),
        hit,
        "{}",
        run.stderr
    );
}

#[test]
fn a_cache_entry_copied_over_another_guests_is_a_miss_and_is_rewritten() {
    let _serial = serial();
    let case = CacheCase::new();
    let a_entry = case.a_entry();
    case.run("B, filling the cache", &case.b);
    let b_entry = case
        .entries()
        .into_iter()
        .find(|e| *e != a_entry)
        .expect("B's entry");
    // A's compiled code, under B's name.
    fs::copy(&a_entry, &b_entry).unwrap();
    let run = case.run("B, with A's entry in its place", &case.b);
    assert_hit(&run, false);
    assert!(run.stderr.contains("another guest"), "{}", run.stderr);
    // Rewritten: B's own entry, a hit from now on; A's is still A's.
    assert_ne!(fs::read(&a_entry).unwrap(), fs::read(&b_entry).unwrap());
    assert_hit(&case.run("B again", &case.b), true);
    assert_hit(&case.run("A again", &case.a), true);
}

#[test]
fn cache_entries_that_are_not_regular_files_of_a_sane_size_are_never_read() {
    let _serial = serial();
    type Plant = fn(&Path);
    let cases: [(&str, Plant, &str); 3] = [
        (
            "a FIFO",
            |entry| {
                let path = std::ffi::CString::new(entry.as_os_str().as_encoded_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
            },
            "not a regular file",
        ),
        (
            "a symbolic link to /dev/zero",
            |entry| std::os::unix::fs::symlink("/dev/zero", entry).unwrap(),
            "symbolic link",
        ),
        (
            "a 4 GiB file",
            |entry| {
                sparse(entry, 4 * GIB);
            },
            "more than an entry",
        ),
    ];
    for (what, plant, why) in cases {
        let case = CacheCase::new();
        let entry = case.a_entry();
        fs::remove_file(&entry).unwrap();
        plant(&entry);
        let run = case.run(&format!("A, its entry replaced by {what}"), &case.a);
        assert!(run.stderr.contains(why), "{what}: {}", run.stderr);
        assert_hit(&run, false);
        // Replaced by a regular entry, which the next run loads.
        assert!(fs::symlink_metadata(&entry).unwrap().is_file(), "{what}");
        assert_hit(&case.run(&format!("A after {what}"), &case.a), true);
    }
}

#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    let _serial = serial();
    for mode in [0o777, 0o770, 0o1777] {
        let case = CacheCase::new();
        let entry = case.a_entry();
        fs::set_permissions(&case.cache, fs::Permissions::from_mode(mode)).unwrap();
        for time in ["first", "second"] {
            let run = case.run(&format!("A, cache dir mode {mode:o}, {time} run"), &case.a);
            assert_hit(&run, false);
            assert!(
                run.stderr.contains("not using the compilation cache")
                    && run.stderr.contains("writable by others"),
                "{}",
                run.stderr
            );
        }
        // Nothing written to it either.
        assert_eq!(case.entries(), [entry]);
    }
}

#[test]
fn a_new_cache_directory_is_private_to_its_user() {
    let _serial = serial();
    let case = CacheCase::new();
    let entry = case.a_entry();
    let mode = fs::metadata(&case.cache).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o700, "cache directory mode {mode:o}");
    let mode = fs::metadata(entry).unwrap().mode() & 0o7777;
    assert_eq!(mode & 0o077, 0, "entry mode {mode:o}");
}

#[test]
fn entries_others_can_write_or_own_are_not_loaded() {
    let _serial = serial();
    let case = CacheCase::new();
    let entry = case.a_entry();
    fs::set_permissions(&entry, fs::Permissions::from_mode(0o666)).unwrap();
    let run = case.run("A, its entry writable by all", &case.a);
    assert_hit(&run, false);
    assert!(run.stderr.contains("writable by others"), "{}", run.stderr);
    assert_hit(&case.run("A, entry rewritten", &case.a), true);

    // Only root can give a file away.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: an entry owned by another user is not tried");
        return;
    }
    std::os::unix::fs::chown(&entry, Some(65534), Some(65534)).unwrap();
    let run = case.run("A, its entry owned by user 65534", &case.a);
    assert_hit(&run, false);
    assert!(run.stderr.contains("owned by user 65534"), "{}", run.stderr);
    assert_eq!(fs::metadata(&entry).unwrap().uid(), 0, "rewritten by us");
    assert_hit(&case.run("A, entry rewritten", &case.a), true);
}
