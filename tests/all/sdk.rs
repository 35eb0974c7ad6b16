//! The guest SDK (`sdk/`, `bufbridge-guest`) and `bufbridge new`, through
//! the CLI: a scaffolded guest builds with the documented command and runs;
//! the test guest `tests/guests/sdk` runs scripts of `std::io` operations
//! that are replayed here over a `std::io::Cursor` and must agree; errors
//! through `?` read as the SDK words them; a panic, and the host's `abort`
//! it goes through, fail the run with the guest's message.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use crate::common::*;

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

#[test]
fn lines_cross_chunk_boundaries() {
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
    let out = run_guest(sdk_wasm_path(), text.as_bytes(), &[], &["lines"]);
    assert_exit(&out, 0);
    let want: String = text.lines().map(|l| format!("{}\n", l.len())).collect();
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
