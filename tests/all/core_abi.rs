//! Core wasm modules through `bufbridge run`: the ABI of wit/CORE_ABI.md,
//! its error codes and traps, text and binary forms, and the same output as
//! the component path for the same job.

use std::path::PathBuf;
use std::process::Output;

use crate::common::{repo, run, stderr};

fn abi_wat() -> PathBuf {
    repo().join("tests/wat/abi.wat")
}

/// Runs the ABI test guest with `command` over a small input into a fresh
/// destination that already holds "before".
fn run_abi(command: &str) -> (Output, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.txt");
    std::fs::write(&input, "some input bytes").unwrap();
    std::fs::write(&output, "before").unwrap();
    let out = run(
        Some(&abi_wat()),
        &input,
        &output,
        &["--quota", "20"],
        &[command, "second arg"],
    );
    let written = std::fs::read(&output).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "in.txt" && n != "out.txt")
        .collect();
    assert!(leftovers.is_empty(), "stray files: {leftovers:?}");
    (out, written)
}

#[test]
fn every_import_and_error_code_behaves_as_documented() {
    let (out, written) = run_abi("checks");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(written, b"abi checks passed\n");
}

#[test]
fn arguments_reach_the_module_nul_separated() {
    let (out, written) = run_abi("args");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(written, b"args\nsecond arg\n");
}

#[test]
fn a_forged_handle_traps_with_its_number() {
    let (out, written) = run_abi("handle");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("buffer handle 12345 does not exist"),
        "{}",
        stderr(&out)
    );
    assert_eq!(written, b"before");
}

#[test]
fn a_dropped_handle_traps() {
    let (out, written) = run_abi("use");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("does not exist (forged, or already dropped)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(written, b"before");
}

#[test]
fn a_pointer_outside_memory_traps_naming_the_range() {
    let (out, written) = run_abi("pointer");
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("memory range 0x7fff0000..0x7fff0064"), "{err}");
    assert!(err.contains("65536-byte memory"), "{err}");
    assert_eq!(written, b"before");
}

#[test]
fn dropping_the_input_traps() {
    let (out, written) = run_abi("drop");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("buffer handle 0 is the input or output"),
        "{}",
        stderr(&out)
    );
    assert_eq!(written, b"before");
}

#[test]
fn a_failing_module_reports_its_message_and_keeps_nothing() {
    let (out, written) = run_abi("fail");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("a message from the guest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        written, b"before",
        "the output it wrote before failing is discarded"
    );
}

#[test]
fn a_non_zero_status_without_a_message_says_so() {
    let (out, _) = run_abi("status");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("returned 7 without calling `fail`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wat_and_component_guests_produce_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    // Several chunks of mixed text, so the 64 KiB loop runs more than once.
    let text: String = (0..40_000)
        .map(|i| format!("line {i}: Hello, Wörld! ~{}\n", i % 97))
        .collect();
    std::fs::write(&input, &text).unwrap();
    let (wat_out, component_out) = (dir.path().join("wat.txt"), dir.path().join("component.txt"));
    let wat = repo().join("examples/core/upper.wat");
    let a = run(Some(&wat), &input, &wat_out, &[], &[]);
    assert!(a.status.success(), "{}", stderr(&a));
    let b = run(None, &input, &component_out, &[], &["upper"]);
    assert!(b.status.success(), "{}", stderr(&b));
    let (wat_bytes, component_bytes) = (
        std::fs::read(wat_out).unwrap(),
        std::fs::read(component_out).unwrap(),
    );
    assert!(wat_bytes.len() > 1 << 20, "several 64 KiB chunks");
    assert_eq!(wat_bytes, component_bytes);
    assert_eq!(wat_bytes, text.to_ascii_uppercase().as_bytes());
}

#[test]
fn a_binary_core_module_is_recognised_by_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("upper.wasm");
    std::fs::write(
        &wasm,
        wat::parse_file(repo().join("examples/core/upper.wat")).unwrap(),
    )
    .unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "mixed Case").unwrap();
    let out = run(Some(&wasm), &input, "-", &[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, b"MIXED CASE");
}

#[test]
fn a_module_missing_the_abi_exports_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "x").unwrap();
    let cases = [
        (
            "no-memory.wat",
            "(module (func (export \"process\") (param i32 i32) (result i32) i32.const 0))",
            "export memory: expected `memory`, found nothing",
        ),
        (
            "bad-process.wat",
            "(module (memory (export \"memory\") 1) (func (export \"process\") (param i32) (result i32) i32.const 0))",
            "export process: expected `func(i32, i32) -> i32`, found `func(i32) -> i32`",
        ),
        (
            "unknown-import.wat",
            "(module (import \"env\" \"nope\" (func)) (memory (export \"memory\") 1) (func (export \"process\") (param i32 i32) (result i32) i32.const 0))",
            "env",
        ),
        (
            "garbage.wat",
            "(module (this is not wat",
            "not valid WebAssembly",
        ),
    ];
    for (name, text, expected) in cases {
        let guest = dir.path().join(name);
        std::fs::write(&guest, text).unwrap();
        let out = run(Some(&guest), &input, "-", &[], &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{name}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}
