//! `bufbridge inspect`, as a user runs it: the default guest fits; guests
//! that do not are explained item by item (name, expected, found), and
//! `bufbridge run` gives the same explanation.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;
use bufbridge::DEFAULT_GUEST;

/// A component that gets three things wrong, each of which the linker alone
/// would report only if it came first: `buffer.len` imported with the wrong
/// result, an interface the host does not have, and `process` exported with
/// the wrong type.
const MISMATCHED: &str = r#"
(component
  (import "bufbridge:buffers/buffers@0.1.0" (instance $buffers
    (export "buffer" (type $buffer (sub resource)))
    (export "[method]buffer.len" (func (param "self" (borrow $buffer)) (result u32)))
  ))
  (alias export $buffers "buffer" (type $buffer))
  (import "wasi:http/outgoing-handler@0.2.0" (instance
    (export "ping" (func))
  ))
  (core module $m
    (func (export "process") (param i32) (result i32) i32.const 0))
  (core instance $i (instantiate $m))
  (func (export "process") (param "input" (borrow $buffer)) (result u32)
    (canon lift (core func $i "process")))
)
"#;

/// The problem lines `MISMATCHED` must get: (item, expected, found).
const MISMATCHED_PROBLEMS: [(&str, &str, &str); 3] = [
    (
        "import bufbridge:buffers/buffers@0.1.0, buffer.len",
        "`func() -> u64`",
        "`func() -> u32`",
    ),
    (
        "import wasi:http/outgoing-handler@0.2.0",
        "an interface the host provides, from `bufbridge:buffers@0.1.0`",
        "an interface the host does not provide",
    ),
    (
        "export process",
        "`func(input: borrow<buffer>, output: borrow<buffer>, args: list<string>) -> result<_, string>`",
        "`func(input: borrow<buffer>) -> u32`",
    ),
];

const NO_PROCESS: &str = r#"(module (memory (export "memory") 1))"#;

const WRONG_IMPORT: &str = r#"
(module
  (import "bufbridge:buffers/raw@0.1.0" "len" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "process") (param i32 i32) (result i32) i32.const 0))
"#;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("inspect prints UTF-8")
}

fn inspect(guest: &Path) -> Output {
    run_cli([Path::new("inspect"), guest], None)
}

/// `bufbridge run GUEST` over a small input, to stdout.
fn run_over_small_input(guest: &Path) -> Output {
    let dir = tempdir();
    let input = write(dir.path(), "in.txt", b"some input");
    run(Some(guest), &input, "-", &[], &[])
}

/// The `  - item: expected E, found F` lines of a report.
fn problem_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("  - "))
        .collect()
}

/// Exactly these problems, in this order, each on one line naming the item,
/// what was expected and what was found.
#[track_caller]
fn assert_problems(text: &str, want: &[(&str, &str, &str)]) {
    let lines = problem_lines(text);
    assert_eq!(lines.len(), want.len(), "problem lines in:\n{text}");
    for (line, (item, expected, found)) in lines.iter().zip(want) {
        assert!(
            line.starts_with(&format!("{item}: expected {expected}")),
            "`{line}` should name `{item}` and expect {expected}"
        );
        assert!(
            line.contains(&format!(", found {found}")),
            "`{line}` should have found {found}"
        );
    }
}

#[test]
fn the_default_guest_fits_and_its_wit_is_listed() {
    let dir = tempdir();
    let guest = write(dir.path(), "default.wasm", DEFAULT_GUEST);
    let out = inspect(&guest);
    assert_exit(&out, 0);
    let report = stdout(&out);
    for line in [
        "A component. Its imports and exports, in WIT:",
        "import bufbridge:buffers/buffers@0.1.0;",
        "import bufbridge:buffers/digest@0.1.0;",
        // Through the SDK's panic hook.
        "import bufbridge:buffers/abort@0.1.0;",
        "abort: func(message: string);",
        "export process: func(input: borrow<buffer>, output: borrow<buffer>, args: list<string>) -> result<_, string>;",
        "read: func(offset: u64, len: u32) -> result<list<u8>, buffer-error>;",
        "sha256: func(buf: borrow<buffer>, offset: u64, len: u64) -> result<list<u8>, buffer-error>;",
        "The component fits the bufbridge `processor` world (wit/buffers.wit)",
    ] {
        assert!(report.contains(line), "`{line}` missing from:\n{report}");
    }
    assert!(problem_lines(&report).is_empty(), "{report}");

    // Without GUEST, the embedded default guest.
    let out = run_cli(["inspect"], None);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), report);
}

/// A guest imports only the interfaces it calls: the hostile test guest,
/// generated from all of `wit/`, never calls `abort`, so it does not import
/// it, and runs on a host from before `abort` was added as it did then.
#[test]
fn a_guest_imports_only_the_interfaces_it_calls() {
    let out = inspect(hostile_wasm_path());
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert!(
        report.contains("import bufbridge:buffers/buffers@0.1.0;"),
        "{report}"
    );
    assert!(!report.contains("bufbridge:buffers/abort"), "{report}");
}

#[test]
fn a_mismatched_component_is_explained_item_by_item() {
    let dir = tempdir();
    let guest = write(dir.path(), "mismatched.wat", MISMATCHED.as_bytes());
    let out = inspect(&guest);
    assert_exit(&out, 2);
    let report = stdout(&out);
    for line in [
        "import wasi:http/outgoing-handler@0.2.0;",
        "export process: func(input: borrow<buffer>) -> u32;",
        "The component does not fit the bufbridge `processor` world (wit/buffers.wit); 3 problems:",
    ] {
        assert!(report.contains(line), "`{line}` missing from:\n{report}");
    }
    assert_problems(&report, &MISMATCHED_PROBLEMS);
}

#[test]
fn run_gives_the_same_explanation_as_inspect() {
    let dir = tempdir();
    for (name, text) in [
        ("mismatched.wat", MISMATCHED),
        ("no-process.wat", NO_PROCESS),
        ("wrong-import.wat", WRONG_IMPORT),
    ] {
        let guest = write(dir.path(), name, text.as_bytes());
        let report = stdout(&inspect(&guest));
        let out = run_over_small_input(&guest);
        assert_exit(&out, 2);
        assert!(out.stdout.is_empty());
        let message = stderr(&out);
        assert!(message.contains(name), "{message}");
        let explained = problem_lines(&report);
        assert!(!explained.is_empty(), "{report}");
        assert_eq!(problem_lines(&message), explained, "{name}");
    }
}

#[test]
fn a_core_module_without_process_is_explained() {
    let dir = tempdir();
    let guest = write(dir.path(), "no-process.wat", NO_PROCESS.as_bytes());
    let out = inspect(&guest);
    assert_exit(&out, 2);
    let report = stdout(&out);
    assert!(
        report.contains("A core module. Its imports and exports, with their core types:"),
        "{report}"
    );
    assert!(
        report.contains(
            "The core module does not fit the bufbridge core ABI (wit/CORE_ABI.md); 1 problem:"
        ),
        "{report}"
    );
    assert_problems(
        &report,
        &[(
            "export process",
            "`func(i32, i32) -> i32`",
            "nothing: the module has no such export",
        )],
    );
}

#[test]
fn a_core_module_with_a_wrong_import_signature_is_explained() {
    let dir = tempdir();
    let guest = write(dir.path(), "wrong-import.wat", WRONG_IMPORT.as_bytes());
    let out = inspect(&guest);
    assert_exit(&out, 2);
    let report = stdout(&out);
    assert!(
        report.contains(r#""bufbridge:buffers/raw@0.1.0" "len": func(i32) -> i32"#),
        "the listing shows the import: {report}"
    );
    assert_problems(
        &report,
        &[(
            r#"import "bufbridge:buffers/raw@0.1.0" "len""#,
            "`func(i32) -> i64`",
            "`func(i32) -> i32`",
        )],
    );
}

#[test]
fn a_core_module_that_fits_says_so() {
    let out = inspect(&repo().join("examples/core/upper.wat"));
    assert_exit(&out, 0);
    let report = stdout(&out);
    assert!(
        report.contains("The core module fits the bufbridge core ABI (wit/CORE_ABI.md)"),
        "{report}"
    );
    assert!(
        report.contains(r#""bufbridge:buffers/raw@0.1.0" "read": func(i32, i64, i32, i32) -> i64"#),
        "{report}"
    );
}

#[test]
fn not_webassembly_exits_2_and_an_unreadable_guest_4() {
    let dir = tempdir();
    let garbage = write(dir.path(), "garbage.wasm", b"not WebAssembly");
    let out = inspect(&garbage);
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("not valid WebAssembly"),
        "{}",
        stderr(&out)
    );

    let out = inspect(&dir.path().join("missing.wasm"));
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("missing.wasm"), "{}", stderr(&out));
}

#[test]
fn inspect_help_gives_the_exit_codes() {
    let out = run_cli(["inspect", "--help"], None);
    assert_exit(&out, 0);
    let help = stdout(&out);
    for word in [
        "GUEST",
        "WIT",
        "wit/CORE_ABI.md",
        "Exit codes",
        "0 the guest fits",
        "2 it does not fit",
        "4 GUEST is unreadable",
    ] {
        assert!(help.contains(word), "`{word}` missing from:\n{help}");
    }
    let out = run_cli(["--help"], None);
    assert!(stdout(&out).contains("inspect"), "{}", stdout(&out));
}

/// Through the library: the same report, and `Host::load`'s error lists the
/// same problems.
#[test]
fn the_library_reports_what_load_refuses() {
    let report = host().inspect(MISMATCHED.as_bytes()).unwrap();
    assert!(!report.fits());
    assert_eq!(report.problems.len(), 3);
    let Err(bufbridge::LoadError::IncompatibleComponent(problems)) =
        host().load(MISMATCHED.as_bytes())
    else {
        panic!("the mismatched component loaded");
    };
    assert_eq!(problems, report.problems);

    let report = host().inspect(DEFAULT_GUEST).unwrap();
    assert!(report.fits(), "{report}");
}
