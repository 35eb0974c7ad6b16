//! What a misbehaving guest can and cannot do, through the library API:
//! forged and dropped handles trap it and the host carries on, failures keep
//! no output, it sees nothing of the host, and its limits hold. Also the
//! default guest's commands and loading guests that are not guests.

use std::thread;

use crate::common::*;
use bufbridge::{Limits, RunError};

/// The run was stopped by the host (a trap or a limit, not the guest's own
/// `err`); returns the one-line cause.
#[track_caller]
fn stopped(result: Result<Vec<u8>, RunError>) -> String {
    match result {
        Err(RunError::Failed(message)) => panic!("expected a trap, got err({message:?})"),
        Err(e) => {
            let summary = e.summary();
            assert!(
                e.to_string().contains(&summary),
                "the display names the cause: {e}"
            );
            summary
        }
        Ok(out) => panic!("expected a trap, got {:?}", String::from_utf8_lossy(&out)),
    }
}

/// The host still runs guests normally (the default and the hostile one).
#[track_caller]
fn host_carries_on() {
    let out = run_default(b"still here", &["upper"], &Limits::default()).unwrap();
    assert_eq!(out, b"STILL HERE");
    let run = script(b"abc", &["len 0", "append 1 ok"], &Limits::default()).unwrap();
    assert_eq!(run.results, ["ok 3", "ok"]);
    assert_eq!(run.output.unwrap(), b"ok");
}

#[test]
fn a_forged_handle_traps_the_guest_and_names_the_handle() {
    let summary = stopped(run_hostile(b"", &["forge-handle"], &Limits::default()));
    assert!(
        summary.contains("handle") && summary.contains("12345"),
        "{summary}"
    );
    host_carries_on();
}

#[test]
fn a_dropped_handle_traps_the_guest() {
    let summary = stopped(run_hostile(b"", &["use-after-drop"], &Limits::default()));
    assert!(summary.contains("handle"), "{summary}");
    host_carries_on();
}

#[test]
fn using_the_input_after_dropping_its_borrow_traps_the_guest() {
    let summary = stopped(run_hostile(b"abc", &["drop-input"], &Limits::default()));
    assert!(summary.contains("handle"), "{summary}");
    host_carries_on();
}

#[test]
fn an_error_after_writing_fails_the_run_with_the_guests_message() {
    let err = run_hostile(b"", &["write-then-err"], &Limits::default()).unwrap_err();
    match &err {
        RunError::Failed(message) => assert_eq!(message, "deliberate failure after writing"),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(err.summary(), "deliberate failure after writing");
    assert_eq!(
        err.to_string(),
        "guest failed: deliberate failure after writing"
    );
}

#[test]
fn a_panic_after_writing_is_a_trap() {
    stopped(run_hostile(b"", &["write-then-panic"], &Limits::default()));
    host_carries_on();
}

#[test]
fn guest_prints_never_reach_the_output() {
    let out = run_hostile(b"", &["print"], &Limits::default()).unwrap();
    assert_eq!(out, b"printed\n");
}

#[test]
fn the_guest_sees_no_args_env_files_or_network_of_the_host() {
    let out = run_hostile(b"", &["env"], &Limits::default()).unwrap();
    let report = String::from_utf8(out).unwrap();
    let line = |key: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no `{key}` in:\n{report}"))
            .to_string()
    };
    assert_eq!(line("args"), "[]", "{report}");
    assert_eq!(line("vars"), "[]", "{report}");
    for key in [
        "read_dir(/)",
        "read_dir(.)",
        "read(/etc/passwd)",
        "tcp-connect",
    ] {
        assert!(line(key).starts_with("err "), "{key} worked:\n{report}");
    }
}

#[test]
fn too_many_live_buffers_trap_and_name_the_limit() {
    let limits = Limits {
        max_buffers: 8,
        ..Limits::default()
    };
    // Input and output are two of the eight: six scratch buffers fit...
    let six = vec!["create 0"; 6];
    let run = script(b"", &six, &limits).unwrap();
    assert_eq!(
        run.results,
        ["ok 2", "ok 3", "ok 4", "ok 5", "ok 6", "ok 7"]
    );
    // ...and a seventh traps.
    let seven = vec!["create 0"; 7];
    let summary = match script(b"", &seven, &limits) {
        Err(RunError::Failed(message)) => panic!("expected a trap, got err({message:?})"),
        Err(e) => e.summary(),
        Ok(run) => panic!("expected a trap, got {run:?}"),
    };
    assert!(
        summary.contains("live buffers") && summary.contains('8'),
        "{summary}"
    );
    // Dropped buffers free their place.
    let mut ops = Vec::new();
    for n in 2..20 {
        ops.push("create 0".to_string());
        ops.push(format!("drop {n}"));
    }
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let run = script(b"", &ops, &limits).unwrap();
    assert_eq!(run.results.len(), 36);
    assert!(run.results.iter().all(|r| r.starts_with("ok")), "{run:?}");
}

#[test]
fn guest_memory_is_capped_by_the_memory_limit() {
    let limits = Limits {
        memory: 32 * 1024 * 1024,
        ..Limits::default()
    };
    let out = run_hostile(b"", &["alloc", "4000000"], &limits).unwrap();
    assert_eq!(out, b"allocated 4000000 (977 pages)\n");
    let summary = stopped(run_hostile(b"", &["alloc", "64000000"], &limits));
    assert!(summary.contains("memory"), "the cause is named: {summary}");
    // The default limit allows more.
    let out = run_hostile(b"", &["alloc", "64000000"], &Limits::default()).unwrap();
    assert!(out.starts_with(b"allocated 64000000"));
}

#[test]
fn runs_on_one_host_are_independent_even_in_parallel() {
    let threads: Vec<_> = (0..4u8)
        .map(|i| {
            thread::spawn(move || {
                let input = vec![b'a' + i; 1000 + usize::from(i)];
                let limits = small_limits(4096, 2000);
                // Each run may fill the whole quota: quotas are per run.
                let steps: &[&str] = &["create 2000", "copy 2 0 0 0 2000", "copy 1 2 0 0 2000"];
                for _ in 0..10 {
                    let run = script(&input, steps, &limits).unwrap();
                    assert_eq!(run.output.as_deref(), Some(&input[..]));
                    let up = run_default(&input, &["upper"], &limits).unwrap();
                    assert_eq!(up, input.to_ascii_uppercase());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn bytes_that_are_not_a_guest_do_not_load() {
    let host = host();
    assert!(host.load(b"").is_err());
    assert!(host.load(b"definitely not wasm").is_err());
    assert!(host.load(b"\0asm\x0d\0\x01\0 truncated").is_err());
    // A valid component that does not export `process`.
    let err = host.load(b"(component)").err().expect("an empty component");
    assert!(err.to_string().contains("processor"), "{err}");
    // A valid component that imports what the host does not give.
    let imports = br#"(component (import "nope:nope/nope" (instance)))"#;
    assert!(host.load(imports).is_err());
}

// ------------------------------------------------- the default guest's commands

#[test]
fn default_guest_commands_transform_the_input() {
    let input = b"Hello, World!\nSecond line\twith TABS\n\xc3\xa9t\xc3\xa9";
    let none = run_default(input, &[], &Limits::default()).unwrap();
    assert_eq!(none, input, "no command means copy");
    let copy = run_default(input, &["copy"], &Limits::default()).unwrap();
    assert_eq!(copy, input);
    let upper = run_default(input, &["upper"], &Limits::default()).unwrap();
    assert_eq!(
        upper, b"HELLO, WORLD!\nSECOND LINE\tWITH TABS\n\xc3\xa9T\xc3\xa9",
        "only ASCII letters change"
    );
    let lower = run_default(input, &["lower"], &Limits::default()).unwrap();
    assert_eq!(
        lower,
        b"hello, world!\nsecond line\twith tabs\n\xc3\xa9t\xc3\xa9"
    );
    let reverse = run_default(input, &["reverse"], &Limits::default()).unwrap();
    let mut want = input.to_vec();
    want.reverse();
    assert_eq!(reverse, want, "bytes, not characters, are reversed");
    let count = run_default(input, &["count"], &Limits::default()).unwrap();
    assert_eq!(count, b"41 2 7\n");
}

#[test]
fn count_counts_bytes_newlines_and_runs_between_ascii_white_space() {
    for (input, want) in [
        (&b""[..], "0 0 0\n"),
        (b"\n", "1 1 0\n"),
        (b"word", "4 0 1\n"),
        (b"  two   words  ", "15 0 2\n"),
        (b"a\r\nb\x0bc\x0cd", "8 1 4\n"),
        (b"\xff\xfe", "2 0 1\n"),
        // A word is any run of bytes between white space: unlike GNU wc,
        // non-printable bytes count.
        (b"\x01", "1 0 1\n"),
    ] {
        let out = run_default(input, &["count"], &Limits::default()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), want, "input {input:?}");
    }
}

#[test]
fn default_guest_refuses_unknown_commands_and_extra_args() {
    let err = run_default(b"x", &["shout"], &Limits::default()).unwrap_err();
    let message = err.summary();
    assert!(matches!(err, RunError::Failed(_)), "{err:?}");
    for known in ["copy", "upper", "lower", "reverse", "count", "selftest"] {
        assert!(message.contains(known), "{message}");
    }
    assert!(message.contains("shout"), "{message}");
    for command in ["copy", "upper", "count", "selftest"] {
        let err = run_default(b"x", &[command, "extra"], &Limits::default()).unwrap_err();
        assert!(matches!(err, RunError::Failed(_)), "{err:?}");
        assert!(err.summary().contains("extra"), "{err}");
    }
}

#[test]
fn default_guest_reports_an_output_over_its_limit() {
    let limits = small_limits(10, 1024);
    assert_eq!(
        run_default(b"0123456789", &["upper"], &limits).unwrap(),
        b"0123456789"
    );
    for command in ["copy", "upper", "lower", "reverse"] {
        let err = run_default(b"0123456789X", &[command], &limits).unwrap_err();
        assert!(matches!(err, RunError::Failed(_)), "{command}: {err:?}");
        assert!(
            err.summary().contains("--max-output") && err.summary().contains("10"),
            "{command}: {err}"
        );
    }
}
