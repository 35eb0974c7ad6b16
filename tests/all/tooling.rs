//! The CLI's manners: `--stats`, `-v` and RUST_LOG, and the progress line
//! that appears only for a person watching a terminal.

use std::path::Path;
use std::process::Command;

use crate::common::{bufbridge_run, hostile_wasm_path, output_of, run, stderr};

/// An input of `len` bytes of lower-case text.
fn input(dir: &tempfile::TempDir, len: usize) -> std::path::PathBuf {
    let path = dir.path().join("input.txt");
    let text: Vec<u8> = (0..len).map(|i| b"abcdefgh\n"[i % 9]).collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn stats_count_calls_and_bytes_per_import_and_split_the_time() {
    let dir = tempfile::tempdir().unwrap();
    // 200 KiB: four 64 KiB chunks (the last one short), then an empty read.
    let path = input(&dir, 200 * 1024);
    let out = run(None, &path, "-", &["--stats"], &["upper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 200 * 1024, "the output is unaffected");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "bufbridge: stats");
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "import",
            "calls",
            "bytes",
            "in",
            "bytes",
            "out",
            "host-side"
        ]
    );
    let row = |name: &str| -> Vec<&str> {
        let line = lines
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{err}"));
        line.split_whitespace().collect()
    };
    assert_eq!(
        row("read")[..5],
        ["read", "5", "0", "bytes", "200"],
        "{err}"
    );
    assert_eq!(row("append")[..4], ["append", "4", "200", "KiB"], "{err}");
    let time = lines.last().unwrap();
    assert!(
        time.starts_with("time: ")
            && time.contains(" ms in all, ")
            && time.contains(" ms in the guest, ")
            && time.ends_with(" ms in the host"),
        "{time}"
    );
}

#[test]
fn without_flags_a_successful_run_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = input(&dir, 1000);
    let out = run(None, &path, "-", &[], &["upper"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}

#[test]
fn verbose_logs_what_the_host_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = input(&dir, 1000);
    let out = run(None, &path, "-", &["-v"], &["upper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for event in [
        "loaded a component",
        "running the guest",
        "the guest succeeded",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("DEBUG") && l.contains(event)),
            "{event} in\n{err}"
        );
    }
}

#[test]
fn rust_log_chooses_the_logs_without_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let path = input(&dir, 1000);
    let mut cmd = bufbridge_run(None, &path, "-", &[], &["copy"]);
    cmd.env("RUST_LOG", "bufbridge::cache=debug");
    let out = output_of(cmd, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bufbridge::cache: compilation cache"), "{err}");
    assert!(
        !err.contains("running the guest"),
        "only the cache's logs: {err}"
    );
}

/// A run long enough for the progress line to be drawn a few times,
/// whatever the machine's speed: the hostile guest sleeps for a second
/// before it reads anything.
const SLOW_RUN: &[&str] = &["sleep", "1"];

#[test]
fn no_progress_line_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = input(&dir, 1 << 20);
    let out = run(
        Some(hostile_wasm_path()),
        &path,
        dir.path().join("out"),
        &[],
        SLOW_RUN,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing for a pipe");
}

#[test]
fn a_terminal_sees_how_much_of_the_input_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = input(&dir, 1 << 20);
    // `script` gives bufbridge a terminal for stderr, as a person would have.
    let cmd = format!(
        "{} run {} --input {} --output {} -- {}",
        env!("CARGO_BIN_EXE_bufbridge"),
        hostile_wasm_path().display(),
        path.display(),
        dir.path().join("out").display(),
        SLOW_RUN.join(" ")
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env(
            "BUFBRIDGE_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"),
        )
        .output()
        .expect("`script` (util-linux) runs a command on a terminal");
    assert!(out.status.success(), "{}", stderr(&out));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains(" of 1 MiB read ("), "{screen}");
    assert!(
        screen.contains("\r\x1b[K"),
        "the line is cleared at the end: {screen:?}"
    );
}

#[test]
fn a_device_or_a_pipe_as_output_is_written_to_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = input(&dir, 1000);
    // /dev/null stays the device: renaming over it would break every
    // program on the machine that writes there.
    let out = run(None, &path, Path::new("/dev/null"), &[], &["upper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        is_char_device(Path::new("/dev/null")),
        "/dev/null is still a device"
    );
    // A FIFO gets the bytes, and stays a FIFO.
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = run(None, &path, &fifo, &[], &["upper"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = reader.join().unwrap();
    assert_eq!(got, std::fs::read(&path).unwrap().to_ascii_uppercase());
    assert!(!std::fs::metadata(&fifo).unwrap().is_file(), "still a FIFO");
}

fn is_char_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path)
        .unwrap()
        .file_type()
        .is_char_device()
}
