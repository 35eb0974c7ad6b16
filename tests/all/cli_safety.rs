//! The CLI in ordinary shell usage that used to lose data or run unbounded
//! (issue 10): pipe-like inputs, signals, descriptors as outputs, a closed
//! stdout, dangling links, long names, and the waits and reads that
//! `--timeout` and `--max-input` bound. Real files, pipes, FIFOs and signals;
//! shell redirections through `sh -c`.

#![cfg(unix)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

#[track_caller]
fn assert_says(out: &Output, words: &[&str]) {
    let message = stderr(out);
    for word in words {
        assert!(message.contains(word), "`{word}` missing from: {message}");
    }
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

// ------------------------------------------------- 1. pipe-like inputs

#[test]
fn dev_stdin_from_a_pipe_is_read_as_a_stream() {
    let input = generated(600 * 1024);
    for (words, want) in [
        (["sha256"], sha256_line(&input)),
        (["copy"], input.clone()),
        (["upper"], input.to_ascii_uppercase()),
    ] {
        let cmd = bufbridge_run(None, "/dev/stdin", "-", &[], &words);
        let out = output_of(cmd, Some(&input));
        assert_exit(&out, 0);
        assert!(out.stdout == want, "{words:?}: not the input's result");
    }
}

#[test]
fn a_fifo_and_dev_fd_n_are_read_as_streams_not_as_empty() {
    let (dir, _) = dir_with_old_output(b"");
    let input = generated(300 * 1024);
    // A FIFO (what `<(cat file)` gives) with a writer.
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let writer = {
        let (fifo, input) = (fifo.clone(), input.clone());
        thread::spawn(move || fs::write(fifo, input).unwrap())
    };
    let out_path = dir.path().join("out.txt");
    let cmd = bufbridge_run(None, &fifo, &out_path, &[], &["upper"]);
    let out = output_of(cmd, None);
    assert_exit(&out, 0);
    writer.join().unwrap();
    assert!(fs::read(&out_path).unwrap() == input.to_ascii_uppercase());

    // /dev/fd/3, a pipe the shell opened.
    let child = spawn(
        &mut bufbridge_sh(
            r#"exec "$@" 3<&0"#,
            &run_args(None, "/dev/fd/3", "-", &[], &["count"]),
        ),
        Stdio::piped(),
    );
    let mut child = child;
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(b"one two\nthree\n").unwrap();
    drop(pipe);
    let out = finish(child);
    assert_exit(&out, 0);
    assert_eq!(out.stdout, b"14 2 3\n");
}

#[cfg(target_os = "linux")]
#[test]
fn a_proc_file_and_a_character_device_are_read_as_streams() {
    // /proc files say they are empty; this one is bufbridge's own status.
    let out = run(None, "/proc/self/status", "-", &[], &[]);
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Name:\tbufbridge"), "{text}");

    // /dev/zero never ends: it stops at --max-input.
    let (dir, before) = dir_with_old_output(b"");
    let cmd = bufbridge_run(
        None,
        "/dev/zero",
        dir.path().join("out.txt"),
        &["--max-input", "1MiB"],
        &[],
    );
    let out = output_of(cmd, None);
    assert_exit(&out, 3);
    assert_says(&out, &["/dev/zero", "input limit of 1 MiB", "--max-input"]);
    assert_untouched(dir.path(), &before);
}

#[test]
fn a_closed_stdin_is_an_error_not_an_empty_input() {
    let (dir, before) = dir_with_old_output(b"");
    for input in ["-", "/dev/stdin"] {
        let out = output_of(
            bufbridge_sh(
                r#"exec "$@" <&-"#,
                &run_args(None, input, dir.path().join("out.txt"), &[], &["sha256"]),
            ),
            None,
        );
        assert_exit(&out, 4);
        assert_says(&out, &["stdin", "closed"]);
        assert_untouched(dir.path(), &before);
    }
}

// ------------------------------------------------------------ 2. signals

/// Waits until a temporary output file appears in `dir`.
fn wait_for_temp_file(dir: &Path, child: &mut Child) {
    let started = Instant::now();
    while !entries(dir).iter().any(|n| n.ends_with(".bufbridge-tmp")) {
        assert!(child.try_wait().unwrap().is_none(), "bufbridge ended early");
        assert!(started.elapsed() < HANG, "no temporary file appeared");
        thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &Child, signal: i32) {
    // SAFETY: sends a signal to our own child, which has not been reaped.
    let sent = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(sent, 0, "kill");
}

#[test]
fn a_signal_removes_the_temporary_file_and_keeps_the_destination() {
    for (signal, name, code) in [
        (libc::SIGINT, "SIGINT", 130),
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
    ] {
        let (dir, before) = dir_with_old_output(b"some input");
        let mut child = spawn(
            &mut bufbridge_run(
                Some(hostile_wasm_path()),
                dir.path().join("in.txt"),
                dir.path().join("out.txt"),
                &[],
                &["sleep", "60"],
            ),
            Stdio::null(),
        );
        wait_for_temp_file(dir.path(), &mut child);
        // Into the run (or still compiling: either way the file must go).
        thread::sleep(Duration::from_millis(300));
        kill(&child, signal);
        let out = finish(child);
        assert_exit(&out, code);
        assert_says(&out, &[name]);
        assert_untouched(dir.path(), &before);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_signal_while_reading_stdin_leaves_no_spool() {
    let (dir, before) = dir_with_old_output(b"");
    let spools = tempdir();
    let mut child = spawn(
        bufbridge_run(None, "-", dir.path().join("out.txt"), &[], &[]).env("TMPDIR", spools.path()),
        Stdio::piped(),
    );
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(&generated(1 << 20)).unwrap();
    // The pipe stays open: bufbridge is still reading when the signal comes.
    thread::sleep(Duration::from_millis(500));
    kill(&child, libc::SIGTERM);
    let out = finish(child);
    drop(pipe);
    assert_exit(&out, 143);
    assert_untouched(dir.path(), &before);
    assert_eq!(entries(spools.path()), Vec::<String>::new(), "spools left");
}

// ---------------------------------------- 3. descriptors named as paths

#[test]
fn dev_stdout_and_dev_fd_n_append_to_the_redirected_file() {
    for (output, redirect) in [
        ("/dev/stdout", r#"exec "$@" >> "$LOG""#),
        ("/dev/fd/1", r#"exec "$@" >> "$LOG""#),
        ("-", r#"exec "$@" >> "$LOG""#),
        ("/dev/fd/3", r#"exec "$@" 3>> "$LOG""#),
    ] {
        let dir = tempdir();
        let input = dir.path().join("in.txt");
        fs::write(&input, b"appended\n").unwrap();
        let log = dir.path().join("log");
        fs::write(&log, b"first line\n").unwrap();
        let inode = fs::metadata(&log).unwrap().ino();
        let mut cmd = bufbridge_sh(redirect, &run_args(None, &input, output, &[], &["upper"]));
        cmd.env("LOG", &log);
        let out = output_of(cmd, None);
        assert_exit(&out, 0);
        assert_eq!(
            String::from_utf8(fs::read(&log).unwrap()).unwrap(),
            "first line\nAPPENDED\n",
            "--output {output}"
        );
        assert_eq!(fs::metadata(&log).unwrap().ino(), inode, "log was replaced");
        assert_eq!(entries(dir.path()), ["in.txt", "log"]);
    }
}

// ------------------------------------------------- 4. a closed stdout

#[test]
fn a_closed_stdout_exits_4() {
    let dir = tempdir();
    let input = dir.path().join("in.txt");
    fs::write(&input, b"lost?").unwrap();
    for output in ["-", "/dev/stdout"] {
        let out = output_of(
            bufbridge_sh(
                r#"exec "$@" >&-"#,
                &run_args(None, &input, output, &[], &[]),
            ),
            None,
        );
        assert_exit(&out, 4);
        assert_says(&out, &["stdout", "closed"]);
    }
}

#[test]
fn a_stdout_whose_reader_is_gone_exits_4() {
    let dir = tempdir();
    let input = dir.path().join("in.txt");
    fs::write(&input, generated(1 << 20)).unwrap();
    let mut child = spawn(
        &mut bufbridge_run(None, &input, "-", &[], &[]),
        Stdio::null(),
    );
    drop(child.stdout.take());
    let out = finish(child);
    assert_exit(&out, 4);
    assert_says(&out, &["stdout"]);
}

// ------------------------------------------------ 5. dangling symlinks

#[test]
fn a_dangling_output_symlink_creates_its_target() {
    let dir = tempdir();
    let input = dir.path().join("in");
    fs::write(&input, b"through the link").unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    // A chain: link -> link2 -> sub/target, which does not exist yet.
    std::os::unix::fs::symlink("sub/target", dir.path().join("link2")).unwrap();
    std::os::unix::fs::symlink("link2", dir.path().join("link")).unwrap();
    for round in ["creates", "replaces"] {
        let cmd = bufbridge_run(None, &input, dir.path().join("link"), &[], &["upper"]);
        let out = output_of(cmd, None);
        assert_exit(&out, 0);
        for link in ["link", "link2"] {
            let meta = fs::symlink_metadata(dir.path().join(link)).unwrap();
            assert!(meta.is_symlink(), "{round}: {link} is still a link");
        }
        assert_eq!(
            fs::read(dir.path().join("sub/target")).unwrap(),
            b"THROUGH THE LINK",
            "{round}"
        );
        assert_eq!(entries(dir.path()), ["in", "link", "link2", "sub"]);
        assert_eq!(entries(&dir.path().join("sub")), ["target"]);
    }
}

// --------------------------------------------------------- 6. long names

#[test]
fn the_longest_legal_names_can_be_outputs() {
    let dir = tempdir();
    let input = dir.path().join("in");
    fs::write(&input, b"long name").unwrap();
    for len in [240, 255] {
        let name = "n".repeat(len - 4) + ".txt";
        let output = dir.path().join(&name);
        let cmd = bufbridge_run(None, &input, &output, &[], &["upper"]);
        let out = output_of(cmd, None);
        assert_exit(&out, 0);
        assert_eq!(fs::read(&output).unwrap(), b"LONG NAME", "{len} bytes");
        fs::remove_file(&output).unwrap();
        assert_eq!(entries(dir.path()), ["in"]);
    }
}

// --------------------------------- 8. reads and waits within the limits

#[test]
fn an_endless_stdin_stops_at_the_timeout() {
    let (dir, before) = dir_with_old_output(b"");
    let mut child = spawn(
        &mut bufbridge_run(
            None,
            "-",
            dir.path().join("out.txt"),
            &["--timeout", "1s"],
            &["count"],
        ),
        Stdio::piped(),
    );
    // A writer that never finishes (like `yes`), slowly, so the limit that
    // stops it is the time.
    let mut pipe = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        while pipe.write_all(b"y\n").is_ok() {
            thread::sleep(Duration::from_millis(5));
        }
    });
    let started = Instant::now();
    let out = finish(child);
    assert_exit(&out, 3);
    assert_says(&out, &["stdin", "time limit of 1s", "--timeout"]);
    assert!(started.elapsed() < Duration::from_secs(30), "stopped late");
    writer.join().unwrap();
    assert_untouched(dir.path(), &before);
}

#[test]
fn reading_stdin_and_the_guest_share_the_timeout() {
    let mut child = spawn(
        &mut bufbridge_run(
            Some(hostile_wasm_path()),
            "-",
            "-",
            &["--timeout", "2s"],
            &["spin"],
        ),
        Stdio::piped(),
    );
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(b"slow input\n").unwrap();
    thread::sleep(Duration::from_millis(500));
    drop(pipe);
    let out = finish(child);
    assert_exit(&out, 3);
    assert_says(&out, &["time limit of 2s", "reading the input took"]);
}

#[test]
fn a_flooding_stdin_stops_at_max_input() {
    let (dir, before) = dir_with_old_output(b"");
    let out = run_cli(
        run_args(
            None,
            "-",
            dir.path().join("out.txt"),
            &["--max-input", "1MiB"],
            &[],
        ),
        Some(&generated(3 << 20)),
    );
    assert_exit(&out, 3);
    assert_says(&out, &["stdin", "input limit of 1 MiB", "--max-input"]);
    assert_untouched(dir.path(), &before);

    // Exactly at the limit is fine.
    let input = generated(1 << 20);
    let cmd = bufbridge_run(None, "-", "-", &["--max-input", "1MiB"], &[]);
    let out = output_of(cmd, Some(&input));
    assert_exit(&out, 0);
    assert!(out.stdout == input);
}

#[test]
fn a_fifo_nobody_opens_is_waited_on_only_until_the_timeout() {
    let (dir, before) = dir_with_old_output(b"data");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let before_with_fifo = entries(dir.path());

    // As the input: no writer ever comes.
    let cmd = bufbridge_run(
        None,
        &fifo,
        dir.path().join("out.txt"),
        &["--timeout", "1s"],
        &[],
    );
    let out = output_of(cmd, None);
    assert_exit(&out, 3);
    assert_says(&out, &["fifo", "no writer", "--timeout"]);
    assert_eq!(entries(dir.path()), before_with_fifo);

    // As the output: no reader ever comes.
    let cmd = bufbridge_run(
        None,
        dir.path().join("in.txt"),
        &fifo,
        &["--timeout", "1s"],
        &[],
    );
    let out = output_of(cmd, None);
    assert_exit(&out, 3);
    assert_says(&out, &["fifo", "no reader", "--timeout"]);
    assert!(!fs::metadata(&fifo).unwrap().is_file(), "still a FIFO");

    fs::remove_file(&fifo).unwrap();
    assert_untouched(dir.path(), &before);
}

#[test]
fn a_guest_must_be_a_regular_file_of_bounded_size() {
    let (dir, before) = dir_with_old_output(b"data");
    let fifo = dir.path().join("guest.fifo");
    mkfifo(&fifo);
    // Sparse: the size is there, the disk space is not.
    let huge = dir.path().join("huge.wasm");
    fs::File::create(&huge)
        .unwrap()
        .set_len((256 << 20) + 1)
        .unwrap();
    for (guest, code, why) in [
        (PathBuf::from("/dev/zero"), 4, "not a regular file"),
        (fifo.clone(), 4, "not a regular file"),
        (huge.clone(), 3, "limit of 256 MiB"),
    ] {
        for command in ["run", "inspect"] {
            let cmd = if command == "run" {
                bufbridge_run(
                    Some(&guest),
                    dir.path().join("in.txt"),
                    dir.path().join("out.txt"),
                    &[],
                    &[],
                )
            } else {
                let mut cmd = bufbridge();
                cmd.arg(command).arg(&guest);
                cmd
            };
            let out = output_of(cmd, None);
            assert_exit(&out, code);
            assert_says(&out, &[why, &guest.display().to_string()]);
        }
    }
    fs::remove_file(&fifo).unwrap();
    fs::remove_file(&huge).unwrap();
    assert_untouched(dir.path(), &before);
}

// ------------------------------------------------- guest text, printed

#[test]
fn a_huge_invalid_guest_is_not_echoed_whole() {
    let dir = tempdir();
    let guest = dir.path().join("garbage.wat");
    fs::write(&guest, vec![b'x'; 20 << 20]).unwrap();
    fs::write(dir.path().join("in"), b"").unwrap();
    let cmd = bufbridge_run(Some(&guest), dir.path().join("in"), "-", &[], &[]);
    let out = output_of(cmd, None);
    assert_exit(&out, 2);
    assert!(out.stderr.len() < 64 * 1024, "{} bytes", out.stderr.len());
    assert_says(&out, &["garbage.wat", "more bytes"]);
}

#[test]
fn guest_text_on_a_terminal_has_its_control_characters_escaped() {
    let dir = tempdir();
    let input = dir.path().join("in");
    fs::write(&input, b"").unwrap();
    let word = "\x1b]0;pwned\x07\x1b[31mred";
    // `script` gives bufbridge a terminal, as a person would have.
    let bufbridge = bufbridge();
    let mut cmd = Command::new("script");
    cmd.args([
        "-qec",
        r#""$BB" run --input "$IN" --output - -- "$WORD""#,
        "/dev/null",
    ])
    .env("BB", bufbridge.get_program())
    .env("IN", &input)
    .env("WORD", word);
    for (key, value) in bufbridge.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    let out = output_of(cmd, None);
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("unknown command"), "{screen:?}");
    assert!(
        screen.contains(r"\u{1b}]0;pwned\u{7}\u{1b}[31mred"),
        "{screen:?}"
    );
    assert!(!screen.contains('\x1b'), "a raw escape: {screen:?}");

    // Not on a terminal: the message as the guest wrote it.
    let out = output_of(bufbridge_run(None, &input, "-", &[], &[word]), None);
    assert_exit(&out, 1);
    assert_says(&out, &[word]);
}

// ------------------------------------------------------------------- help

#[test]
fn help_lists_the_signal_exit_codes_and_the_new_limits() {
    let out = run_cli(["--help"], None);
    assert_exit(&out, 0);
    let help = String::from_utf8(out.stdout).unwrap();
    for words in ["129, 130, 143", "SIGINT", "--max-input 4GiB", "256 MiB"] {
        assert!(help.contains(words), "`{words}` missing from:\n{help}");
    }
    let out = run_cli(["run", "--help"], None);
    let help = String::from_utf8(out.stdout).unwrap();
    for words in ["--max-input", "/dev/stdout", "129/130/143"] {
        assert!(help.contains(words), "`{words}` missing from:\n{help}");
    }
}
