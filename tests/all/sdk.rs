//! The guest SDK (`sdk/`, `bufbridge-guest`) and `bufbridge new`, through
//! the CLI: a scaffolded guest builds with the documented command and runs;
//! the test guest `tests/guests/sdk` runs scripts of `std::io` operations
//! that are replayed here over a `std::io::Cursor` and must agree; errors
//! through `?` read as the SDK words them; a panic, and the host's `abort`
//! it goes through, fail the run with the guest's message. `Input::stream`,
//! with the test guest `tests/guests/sdk-stream`: exactly the input, from
//! any position, in memory and from a file; only a guest that calls it
//! imports `streams`; the default guest built with `read-stream` computes
//! what the shipped one does.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use bufbridge::{DEFAULT_GUEST, Guest, Input, Limits, Output};

use crate::common::*;
use crate::streams::assert_runs_on_the_concurrent_engine;

/// `bufbridge run GUEST --input - --output - FLAGS -- ARGS` over `input`.
fn run_guest(guest: &Path, input: &[u8], flags: &[&str], args: &[&str]) -> std::process::Output {
    output_of(
        bufbridge_run(Some(guest), "-", "-", flags, args),
        Some(input),
    )
}

fn seek_to(how: &str, n: &str) -> SeekFrom {
    match how {
        "start" => SeekFrom::Start(n.parse().unwrap()),
        "end" => SeekFrom::End(n.parse().unwrap()),
        _ => SeekFrom::Current(n.parse().unwrap()),
    }
}

/// The test guest's `input` command, over a cursor.
fn replay_input(input: &[u8], ops: &[&str]) -> Vec<u8> {
    let (mut cur, mut out) = (Cursor::new(input), Vec::new());
    for op in ops {
        match op.split(':').collect::<Vec<_>>()[..] {
            ["read", n] => {
                (&mut cur)
                    .take(n.parse().unwrap())
                    .read_to_end(&mut out)
                    .unwrap();
            }
            ["exact", n] => {
                let mut bytes = vec![0; n.parse().unwrap()];
                match cur.read_exact(&mut bytes) {
                    Ok(()) => out.extend(bytes),
                    Err(_) => out.extend(b"<eof>"),
                }
            }
            ["line"] => drop(cur.read_until(b'\n', &mut out).unwrap()),
            ["seek", how, n] => {
                if cur.seek(seek_to(how, n)).is_err() {
                    out.extend(b"<seek error>");
                }
            }
            ["pos"] => write!(out, "<pos {}>", cur.position()).unwrap(),
            _ => panic!("{op}?"),
        }
    }
    out
}

/// The test guest's `output` command, over a cursor.
fn replay_output(ops: &[&str]) -> Vec<u8> {
    let mut cur = Cursor::new(Vec::new());
    for op in ops {
        match op.splitn(3, ':').collect::<Vec<_>>()[..] {
            ["text", text] => cur.write_all(text.as_bytes()).unwrap(),
            ["fill", n, byte] => cur
                .write_all(&vec![byte.parse().unwrap(); n.parse().unwrap()])
                .unwrap(),
            ["seek", how, n] => drop(cur.seek(seek_to(how, n)).unwrap()),
            ["flush"] => {}
            _ => panic!("{op}?"),
        }
    }
    cur.into_inner()
}

/// Runs the `input` or `output` script in the guest and over a cursor:
/// the two must agree byte for byte.
#[track_caller]
fn agree(input: &[u8], command: &str, ops: &[&str]) {
    let mut args = vec![command];
    args.extend_from_slice(ops);
    let out = run_guest(sdk_wasm_path(), input, &[], &args);
    assert_exit(&out, 0);
    let want = match command {
        "input" => replay_input(input, ops),
        _ => replay_output(ops),
    };
    assert!(
        out.stdout == want,
        "{command} {ops:?}: the guest wrote {} bytes, the cursor {}; first difference at {:?}",
        out.stdout.len(),
        want.len(),
        out.stdout.iter().zip(&want).position(|(a, b)| a != b)
    );
}

const CHUNK: usize = 64 * 1024;

#[test]
fn input_reads_and_seeks_like_a_cursor_across_chunks_and_past_the_end() {
    let input = generated(3 * CHUNK + 1234);
    let (chunk, len) = (CHUNK.to_string(), input.len());
    let past = (len + 10).to_string();
    agree(
        &input,
        "input",
        &[
            "read:10",
            "pos",
            // Across the first chunk boundary, with read and read_exact.
            &format!("seek:start:{}", CHUNK - 7),
            "read:20",
            "exact:70000",
            "pos",
            // Back into a chunk no longer held, then a line that may cross.
            "seek:cur:-70030",
            "line",
            "line",
            "pos",
            &format!("seek:start:{chunk}"),
            "exact:1",
            "seek:cur:-2",
            "read:3",
            // The end: clipped, then past it (reads nothing, as with files).
            "seek:end:-5",
            "read:100",
            "pos",
            "exact:1",
            &format!("seek:start:{past}"),
            "pos",
            "read:10",
            "line",
            "exact:1",
            "seek:end:10",
            "pos",
            // Before the start is refused and moves nothing.
            "seek:cur:-999999999",
            "pos",
            "seek:start:0",
            "exact:3",
        ],
    );
}

/// Lines that cross chunk boundaries, and what the test guests' `lines`
/// writes for them: each line's length, one a line.
fn long_lines() -> (String, String) {
    let mut text = String::new();
    for (byte, n) in [
        ("a", 10),
        ("b", 100_000),
        ("c", 0),
        ("d", CHUNK - 1),
        ("e", 1),
    ] {
        text.push_str(&byte.repeat(n));
        text.push('\n');
    }
    text.push_str("no newline at the end");
    let want = text.lines().map(|l| format!("{}\n", l.len())).collect();
    (text, want)
}

#[test]
fn lines_cross_chunk_boundaries() {
    let (text, want) = long_lines();
    let out = run_guest(sdk_wasm_path(), text.as_bytes(), &[], &["lines"]);
    assert_exit(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn output_writes_and_seeks_like_a_cursor() {
    let big = (CHUNK + 4464).to_string();
    agree(
        b"",
        "output",
        &[
            "text:hello",
            // A write of more than a chunk goes straight to the host.
            &format!("fill:{big}:65"),
            "seek:start:3",
            "text:XY",
            "seek:end:-2",
            "text:abcdef",
            "seek:cur:-10",
            "fill:100:66",
            "flush",
            "seek:start:69990",
            &format!("fill:{CHUNK}:67"),
            "text:tail",
            "seek:start:0",
            "text:H",
            // Gathered behind a small write, then straight from where it is.
            "seek:end:0",
            "text:ab",
            "fill:20000:68",
            "flush",
            "fill:20000:69",
            "text:end",
        ],
    );
}

#[test]
fn errors_through_question_mark_read_as_words() {
    // Past the end of the output: writing never leaves a hole.
    let out = run_guest(
        sdk_wasm_path(),
        b"",
        &[],
        &["output", "text:abc", "seek:end:5", "text:x"],
    );
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(
            "guest failed: writing the output: offset out of bounds: the output holds 3 bytes"
        ),
        "{}",
        stderr(&out)
    );

    // The output limit, reached by a write buffered until the end.
    let out = run_guest(
        sdk_wasm_path(),
        b"",
        &["--max-output", "10KiB"],
        &["output", "fill:10241:65"],
    );
    assert_exit(&out, 1);
    let want = "writing the output: the output limit of 10240 bytes (10 KiB) was reached \
                (raise --max-output)";
    assert!(stderr(&out).contains(want), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    // `?` on a raw binding call.
    let out = run_guest(sdk_wasm_path(), b"", &["--quota", "1KiB"], &["quota"]);
    assert_exit(&out, 1);
    let want = "the scratch quota of 1024 bytes (1 KiB) was reached (raise --quota)";
    assert!(stderr(&out).contains(want), "{}", stderr(&out));

    // The default guest, on the SDK, says the same.
    let out = output_of(
        bufbridge_run(None, "-", "-", &["--max-output", "10"], &["upper"]),
        Some(b"0123456789X"),
    );
    assert_exit(&out, 1);
    let want = "guest failed: writing the output: the output limit of 10 bytes was reached \
                (raise --max-output)";
    assert!(stderr(&out).contains(want), "{}", stderr(&out));
}

/// A wasm32-wasip2 guest aborts on panic, so `process` never returns; the
/// SDK's hook hands the message and its place to the host's `abort`, and
/// the run fails with them as it would with `err` (exit 1), said once,
/// instead of as a bare trap (exit 3).
#[test]
fn a_panic_fails_the_run_with_its_message_and_place() {
    let out = run_guest(sdk_wasm_path(), b"", &[], &["panic", "the sky is falling"]);
    assert_exit(&out, 1);
    let message = stderr(&out);
    let line = message
        .lines()
        .find(|line| line.starts_with("bufbridge: guest failed: guest panicked at "))
        .unwrap_or_else(|| panic!("no failure with the panic's message:\n{message}"));
    assert!(
        line.contains("src/lib.rs:") && line.ends_with(": the sky is falling"),
        "{line}"
    );
    assert_eq!(
        message.matches("the sky is falling").count(),
        1,
        "{message}"
    );
    assert!(!message.contains("trap"), "{message}");
    assert!(out.stdout.is_empty());
}

/// `abort` called without a panic ends the run there: what the guest does
/// after it (writing, returning `ok`) never happens. A message longer than
/// the host keeps is cut at 64 KiB, on a character boundary.
#[test]
fn abort_ends_the_run_with_the_guests_message_and_keeps_at_most_64_kib() {
    let out = run_guest(sdk_wasm_path(), b"in", &[], &["abort", "no", "more"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("bufbridge: guest failed: no more\n"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "nothing after abort ran");

    // 300,000 bytes of 3-byte characters (65,536 is not a multiple of 3),
    // through the library: the CLI cuts long lines when it prints them.
    let guest = host()
        .load(&std::fs::read(sdk_wasm_path()).unwrap())
        .unwrap();
    let (words, limits) = (
        args(&["abort-long", "100000"]),
        bufbridge::Limits::default(),
    );
    match host().run(&guest, Vec::new(), &words, &limits) {
        Err(bufbridge::RunError::Failed(message)) => {
            assert!(message == "€".repeat(65536 / 3), "{} bytes", message.len())
        }
        other => panic!("{other:?}"),
    }
}

/// `bufbridge new`: the scaffold builds with the one documented command and
/// copies its input; a second `new` over it is refused and changes nothing.
#[test]
fn a_scaffolded_guest_builds_with_the_documented_command_and_runs() {
    let tmp = tempdir();
    let dir = tmp.path().join("hello-guest");
    let out = run_cli([Path::new("new"), &dir], None);
    assert_exit(&out, 0);
    let said = String::from_utf8_lossy(&out.stdout);
    let build = bufbridge::scaffold::BUILD_COMMAND;
    assert!(said.contains(build), "{said}");

    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.lines().count() <= 10, "a few lines:\n{lib}");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let sdk = repo().join("sdk");
    assert!(
        readme.contains(build) && readme.contains(&sdk.display().to_string()),
        "the README gives the command and the SDK's path:\n{readme}"
    );

    let again = run_cli([Path::new("new"), &dir], None);
    assert_exit(&again, 2);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        lib
    );

    // The documented command, in the crate's folder; only the target
    // directory is the tests' own, so later runs are warm.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let mut words = build.split_whitespace();
    assert_eq!(words.next(), Some("cargo"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(words)
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("run cargo");
    assert!(
        built.status.success(),
        "{build} failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/hello_guest.wasm");
    let input = generated(3 * CHUNK + 5);
    let out = run_guest(&wasm, &input, &[], &[]);
    assert_exit(&out, 0);
    assert!(out.stdout == input, "the scaffold copies its input");
}

fn sdk_stream_guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let wasm = std::fs::read(sdk_stream_wasm_path()).unwrap();
        host().load(&wasm).expect("load the SDK's stream guest")
    })
}

/// What `guest` wrote, run with `words` over `input`, in memory or from a
/// file.
#[track_caller]
fn run_on(guest: &Guest, input: &[u8], file: bool, words: &[&str]) -> Vec<u8> {
    let input = match file {
        true => {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(input).unwrap();
            Input::File(f)
        }
        false => Input::Bytes(input.to_vec()),
    };
    let out = host().run_with(
        guest,
        input,
        Output::Memory,
        &args(words),
        &Limits::default(),
    );
    let out = out.unwrap_or_else(|e| panic!("{words:?} (file: {file}): {e}"));
    out.into_bytes().unwrap_or_else(|e| panic!("{e}"))
}

/// `Input::stream` from the input's position, which `cat` leaves inside a
/// chunk the input holds, `seek` anywhere (past the end too) and `mix`
/// before and after a stream read only in part: each must give back
/// exactly the bytes from there on.
#[test]
fn a_stream_reads_exactly_the_input_from_its_position() {
    for len in [0, 1, 2 * CHUNK, 3 * CHUNK + 1234] {
        let input = generated(len);
        for file in [false, true] {
            let check = |words: &[&str], want: &[u8]| {
                let out = run_on(sdk_stream_guest(), &input, file, words);
                assert!(
                    out == want,
                    "{words:?} over {len} bytes (file: {file}): {} bytes back, not {}; \
                     first difference at {:?}",
                    out.len(),
                    want.len(),
                    out.iter().zip(want).position(|(a, b)| a != b)
                );
            };
            check(&["cat", "0"], &input);
            check(&["cat", &10.min(len).to_string()], &input);
            for pos in [7, CHUNK + 7, len, len + 5] {
                check(&["seek", &pos.to_string()], &input[pos.min(len)..]);
            }
            let (skip, n) = (100.min(len).to_string(), (CHUNK + 50).to_string());
            check(&["mix", &skip, &n], &input);
        }
    }
}

#[test]
fn lines_over_a_stream_cross_chunk_boundaries() {
    let (text, want) = long_lines();
    for file in [false, true] {
        let out = run_on(sdk_stream_guest(), text.as_bytes(), file, &["lines"]);
        assert_eq!(String::from_utf8_lossy(&out), want, "file: {file}");
    }
}

/// `map_stream` transforms the whole input; `next_chunk` hands out one
/// delivery of `CHUNK` bytes at a time, and the input's position follows.
#[test]
fn map_stream_and_next_chunk_go_a_chunk_a_delivery() {
    let input = generated(2 * CHUNK + 5);
    for file in [false, true] {
        let out = run_on(sdk_stream_guest(), &input, file, &["upper"]);
        assert!(out == input.to_ascii_uppercase(), "file: {file}");
        let out = run_on(sdk_stream_guest(), &input, file, &["positions"]);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "65536@65536 65536@131072 5@131077 end@131077\n"
        );
    }
}

/// A guest on the SDK imports `streams`, and runs on the second engine,
/// only if it calls `Input::stream`.
#[test]
fn only_a_guest_that_calls_stream_imports_streams() {
    let read = |path: &Path| std::fs::read(path).unwrap();
    assert_runs_on_the_concurrent_engine(&read(sdk_stream_wasm_path()), true);
    assert_runs_on_the_concurrent_engine(&read(sdk_wasm_path()), false);
}

/// The default guest's command list, as it dispatches on it.
mod default_guest_commands {
    include!("../../guest/src/commands.rs");
}

/// The default guest built with its feature `read-stream` imports
/// `streams` (the shipped one does not) and writes what the shipped one
/// writes, for every command.
#[test]
fn the_default_guest_with_read_stream_writes_the_same() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let wasm = std::fs::read(wasm_build::default_guest_read_stream(tmp)).unwrap();
    assert_runs_on_the_concurrent_engine(&wasm, true);
    assert_runs_on_the_concurrent_engine(DEFAULT_GUEST, false);
    let streaming = host().load(&wasm).unwrap();
    let input = generated(3 * CHUNK + 77);
    for (command, _) in default_guest_commands::COMMANDS {
        for file in [false, true] {
            let want = run_on(default_guest(), &input, file, &[command]);
            let got = run_on(&streaming, &input, file, &[command]);
            assert!(got == want, "{command} (file: {file})");
        }
    }
    let upper = run_on(&streaming, &input, true, &["upper"]);
    assert!(upper == input.to_ascii_uppercase());
}

/// A stream read that waits (here on a stream the guest made and never
/// writes) cannot become an error in a synchronous export: waiting and
/// cancelling both trap, as `Input::stream` documents. The bufbridge host's
/// own streams never wait (the tests above).
#[test]
fn a_stream_read_that_waits_traps_as_documented() {
    let err = host()
        .run(
            sdk_stream_guest(),
            b"x".to_vec(),
            &args(&["pend"]),
            &Limits::default(),
        )
        .unwrap_err();
    assert!(
        matches!(err, bufbridge::RunError::Trapped(_))
            && err
                .to_string()
                .contains("cannot block a synchronous task before returning"),
        "{err:?}"
    );
}
