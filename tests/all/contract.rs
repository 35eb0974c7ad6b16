//! The rules of `wit/buffers.wit`, checked through the library API: each test
//! runs a script of buffer operations in the hostile test guest (buffer 0 is
//! the input, 1 the output, 2.. the scratch buffers it creates in order) and
//! asserts every answer and the bytes left behind; the default guest's
//! `selftest` checks the same rules from inside a guest.

use crate::common::*;
use bufbridge::Limits;

const MAX: &str = "18446744073709551615";

fn limits(max_output: u64, quota: u64) -> Limits {
    small_limits(max_output, quota)
}

#[test]
fn input_is_read_only_and_its_limit_is_its_length() {
    let out = check_script(
        b"hello world",
        &limits(4096, 64),
        &[
            ("len 0", "ok 11"),
            ("limit 0", "ok 11"),
            ("read 0 0 5", r#"ok "hello""#),
            ("read 0 6 100", r#"ok "world""#),
            ("read 0 11 5", r#"ok """#),
            ("read 0 12 0", "err out-of-bounds(11)"),
            ("write 0 0 J", "err read-only"),
            ("write 0 11 !", "err read-only"),
            ("append 0 !", "err read-only"),
            ("append 0 ", "err read-only"),
            ("truncate 0 0", "err read-only"),
            ("truncate 0 11", "err read-only"),
            ("create 16", "ok 2"),
            ("append 2 abc", "ok"),
            ("copy 0 2 0 0 3", "err read-only"),
            ("copy 0 0 0 0 3", "err read-only"),
            ("len 0", "ok 11"),
            ("read 0 0 100", r#"ok "hello world""#),
        ],
    );
    assert_eq!(out.unwrap(), b"", "the output was never written");
}

#[test]
fn an_empty_input_is_an_empty_read_only_buffer() {
    check_script(
        b"",
        &limits(4096, 64),
        &[
            ("len 0", "ok 0"),
            ("limit 0", "ok 0"),
            ("read 0 0 10", r#"ok """#),
            ("read 0 1 0", "err out-of-bounds(0)"),
            ("append 0 ", "err read-only"),
            ("truncate 0 0", "err read-only"),
        ],
    );
}

#[test]
fn input_bytes_arrive_exactly_including_every_byte_value() {
    let input: Vec<u8> = (0..=255).collect();
    check_script(
        &input,
        &limits(4096, 64),
        &[
            ("len 0", "ok 256"),
            ("read 0 0 3", r#"ok "\x00\x01\x02""#),
            ("read 0 253 10", r#"ok "\xfd\xfe\xff""#),
            ("read 0 32 4", r##"ok " !\"#""##),
            ("read 0 92 1", r#"ok "\\""#),
        ],
    );
}

#[test]
fn output_starts_empty_and_writable_with_the_max_output_limit() {
    let out = check_script(
        b"",
        &limits(4096, 0),
        &[
            ("len 1", "ok 0"),
            ("limit 1", "ok 4096"),
            ("append 1 abc", "ok"),
            ("write 1 3 def", "ok"),
            ("write 1 0 A", "ok"),
            ("read 1 0 100", r#"ok "Abcdef""#),
            ("write 1 7 x", "err out-of-bounds(6)"),
            ("fill 1 6 4091", "err limit-exceeded(4096)"),
            ("len 1", "ok 6"),
            ("truncate 1 5", "ok"),
            ("append 1 !\\n", "ok"),
        ],
    );
    assert_eq!(out.unwrap(), b"Abcde!\n", "the output keeps what it held");
}

#[test]
fn output_is_bounded_by_its_own_limit_not_the_quota() {
    // A quota of 16 bytes does not stop the output from growing to its limit.
    let out = check_script(
        b"",
        &limits(4096, 16),
        &[
            ("fill 1 0 1000", "ok"),
            ("create 16", "ok 2"),
            ("fill 2 0 16", "ok"),
            ("fill 1 1000 3000", "ok"),
            ("len 1", "ok 4000"),
            ("fill 1 4000 97", "err limit-exceeded(4096)"),
            ("fill 1 4000 96", "ok"),
            ("append 1 x", "err limit-exceeded(4096)"),
        ],
    );
    // The results did not fit after 4096 bytes: they came back in the error.
    assert_eq!(out, None);
}

#[test]
fn an_output_limit_of_zero_refuses_every_byte() {
    let run = script(
        b"x",
        &["limit 1", "append 1 ", "append 1 x"],
        &limits(0, 64),
    )
    .unwrap();
    assert_eq!(run.output, None, "nothing fits in a zero-byte output");
    assert_eq!(run.results, ["ok 0", "ok", "err limit-exceeded(0)"]);
}

#[test]
fn create_makes_empty_writable_buffers_within_the_quota() {
    check_script(
        b"",
        &limits(4096, 100),
        &[
            ("create 10", "ok 2"),
            ("len 2", "ok 0"),
            ("limit 2", "ok 10"),
            ("read 2 0 10", r#"ok """#),
            ("append 2 0123456789", "ok"),
            ("read 2 0 100", r#"ok "0123456789""#),
            // A limit at the quota is fine, and reserves nothing: many fit.
            ("create 100", "ok 3"),
            ("create 100", "ok 4"),
            ("create 101", "err quota-exceeded(100)"),
            (&format!("create {MAX}"), "err quota-exceeded(100)"),
            ("create 0", "ok 5"),
            ("append 5 ", "ok"),
            ("append 5 x", "err limit-exceeded(0)"),
            // A refused create does not use up a buffer number.
            ("create 1", "ok 6"),
        ],
    );
}

#[test]
fn a_zero_quota_allows_only_empty_scratch_buffers() {
    check_script(
        b"abc",
        &limits(4096, 0),
        &[
            ("create 1", "err quota-exceeded(0)"),
            ("create 0", "ok 2"),
            ("copy 2 0 0 0 3", "err limit-exceeded(0)"),
            ("copy 2 0 3 0 3", "ok 0"),
            ("len 2", "ok 0"),
        ],
    );
}

#[test]
fn read_returns_up_to_len_bytes_and_refuses_past_the_end() {
    check_script(
        b"",
        &limits(4096, 64),
        &[
            ("create 64", "ok 2"),
            ("append 2 hello world", "ok"),
            ("read 2 0 0", r#"ok """#),
            ("read 2 0 11", r#"ok "hello world""#),
            ("read 2 6 3", r#"ok "wor""#),
            ("read 2 9 100", r#"ok "ld""#),
            ("read 2 0 4294967295", r#"ok "hello world""#),
            ("read 2 11 1", r#"ok """#),
            ("read 2 11 0", r#"ok """#),
            ("read 2 12 0", "err out-of-bounds(11)"),
            ("read 2 12 1", "err out-of-bounds(11)"),
            (&format!("read 2 {MAX} 4294967295"), "err out-of-bounds(11)"),
        ],
    );
}

#[test]
fn write_overwrites_and_extends_without_leaving_holes() {
    let out = check_script(
        b"",
        &limits(4096, 64),
        &[
            ("create 16", "ok 2"),
            ("write 2 0 hello", "ok"),
            ("write 2 5 \\sworld", "ok"),
            ("len 2", "ok 11"),
            ("write 2 0 J", "ok"),
            ("len 2", "ok 11"),
            ("write 2 9 LDS", "ok"),
            ("read 2 0 100", r#"ok "Jello worLDS""#),
            ("write 2 12 ", "ok"),
            ("write 2 13 ", "err out-of-bounds(12)"),
            ("write 2 13 x", "err out-of-bounds(12)"),
            ("write 2 12 abcd", "ok"),
            ("len 2", "ok 16"),
            ("write 2 16 ", "ok"),
            ("write 2 16 x", "err limit-exceeded(16)"),
            ("write 2 15 xy", "err limit-exceeded(16)"),
            ("write 2 15 Z", "ok"),
            ("read 2 0 100", r#"ok "Jello worLDSabcZ""#),
            // The same rules on the output.
            ("write 1 0 out", "ok"),
            ("write 1 4 x", "err out-of-bounds(3)"),
            ("copy 1 2 0 3 100", "ok 16"),
        ],
    );
    assert_eq!(out.unwrap(), b"outJello worLDSabcZ");
}

#[test]
fn append_is_write_at_the_length() {
    check_script(
        b"",
        &limits(4096, 8),
        &[
            ("create 6", "ok 2"),
            ("append 2 ab", "ok"),
            ("append 2 cd", "ok"),
            ("append 2 ", "ok"),
            ("read 2 0 100", r#"ok "abcd""#),
            ("append 2 efg", "err limit-exceeded(6)"),
            ("append 2 ef", "ok"),
            ("create 8", "ok 3"),
            ("append 3 abc", "err quota-exceeded(8)"),
            ("append 3 ab", "ok"),
            ("append 3 ", "ok"),
            ("append 3 c", "err quota-exceeded(8)"),
            ("read 2 0 100", r#"ok "abcdef""#),
            ("read 3 0 100", r#"ok "ab""#),
        ],
    );
}

#[test]
fn truncate_only_shortens() {
    let out = check_script(
        b"input",
        &limits(4096, 64),
        &[
            ("create 16", "ok 2"),
            ("append 2 hello world", "ok"),
            ("truncate 2 11", "ok"),
            ("truncate 2 12", "err out-of-bounds(11)"),
            (&format!("truncate 2 {MAX}"), "err out-of-bounds(11)"),
            ("truncate 2 5", "ok"),
            ("read 2 0 100", r#"ok "hello""#),
            ("read 2 6 1", "err out-of-bounds(5)"),
            ("append 2 !", "ok"),
            ("read 2 0 100", r#"ok "hello!""#),
            ("truncate 2 0", "ok"),
            ("len 2", "ok 0"),
            ("truncate 2 0", "ok"),
            ("truncate 2 1", "err out-of-bounds(0)"),
            // The input is read-only first, even when `len` is past its end.
            ("truncate 0 6", "err read-only"),
            ("truncate 0 2", "err read-only"),
            ("len 0", "ok 5"),
            // Truncating the output changes what the run produces.
            ("append 1 keep-drop", "ok"),
            ("truncate 1 4", "ok"),
        ],
    );
    assert_eq!(out.unwrap(), b"keep");
}

#[test]
fn copy_from_copies_what_the_source_has_and_returns_the_count() {
    let out = check_script(
        b"hello world",
        &limits(4096, 64),
        &[
            ("create 8", "ok 2"),
            ("copy 2 0 6 0 100", "ok 5"),
            ("read 2 0 100", r#"ok "world""#),
            ("copy 2 0 0 5 3", "ok 3"),
            ("read 2 0 100", r#"ok "worldhel""#),
            ("copy 2 0 0 0 2", "ok 2"),
            ("read 2 0 100", r#"ok "herldhel""#),
            // At the source's end there is nothing to copy.
            ("copy 2 0 11 8 5", "ok 0"),
            ("copy 2 0 11 0 5", "ok 0"),
            ("copy 2 0 0 0 0", "ok 0"),
            (&format!("copy 2 0 3 0 {MAX}"), "ok 8"),
            (&format!("copy 2 0 3 1 {MAX}"), "err limit-exceeded(8)"),
            ("read 2 0 100", r#"ok "lo world""#),
            // Only the bytes the source has count against the limit.
            ("truncate 2 4", "ok"),
            (&format!("copy 2 0 8 4 {MAX}"), "ok 3"),
            ("read 2 0 100", r#"ok "lo wrld""#),
            // Scratch to output, and output to scratch.
            ("copy 1 2 0 0 8", "ok 7"),
            ("create 8", "ok 3"),
            ("copy 3 1 4 0 100", "ok 3"),
            ("read 3 0 100", r#"ok "rld""#),
        ],
    );
    assert_eq!(out.unwrap(), b"lo wrld");
}

#[test]
fn copy_from_checks_run_in_contract_order() {
    // The input has 11 bytes, buffer 2 has 3 (limit 5) and buffer 3 has 4
    // (limit 8), under a quota of 8 (7 used): each figure names its check.
    check_script(
        b"hello world",
        &limits(4096, 8),
        &[
            ("create 5", "ok 2"),
            ("append 2 abc", "ok"),
            ("create 8", "ok 3"),
            ("append 3 wxyz", "ok"),
            // 1. read-only beats a source offset out of bounds.
            ("copy 0 2 99 99 1", "err read-only"),
            (&format!("copy 0 0 {MAX} {MAX} {MAX}"), "err read-only"),
            // 2. the source offset beats the destination offset.
            ("copy 2 0 12 99 1", "err out-of-bounds(11)"),
            (&format!("copy 2 0 {MAX} 0 1"), "err out-of-bounds(11)"),
            ("copy 2 3 5 0 1", "err out-of-bounds(4)"),
            // 3. the destination offset beats its limit, even copying 0 bytes.
            ("copy 2 0 0 4 100", "err out-of-bounds(3)"),
            ("copy 2 0 11 4 100", "err out-of-bounds(3)"),
            (&format!("copy 2 0 0 {MAX} 1"), "err out-of-bounds(3)"),
            // 4. the limit beats the quota (3 more bytes would pass both).
            ("copy 2 0 0 3 3", "err limit-exceeded(5)"),
            // 5. the quota: 7 of 8 bytes are held.
            ("copy 2 0 0 3 2", "err quota-exceeded(8)"),
            ("copy 2 0 0 3 1", "ok 1"),
            ("copy 2 0 0 4 1", "err quota-exceeded(8)"),
            // Overwriting within a buffer costs no quota.
            ("copy 2 0 6 0 4", "ok 4"),
            ("read 2 0 100", r#"ok "worl""#),
            ("read 3 0 100", r#"ok "wxyz""#),
        ],
    );
}

#[test]
fn copy_within_one_buffer_overlaps_like_memmove() {
    let out = check_script(
        b"",
        &limits(4096, 64),
        &[
            ("create 32", "ok 2"),
            ("append 2 abcdef", "ok"),
            ("copy 2 2 0 2 4", "ok 4"),
            ("read 2 0 100", r#"ok "ababcd""#),
            ("copy 2 2 2 0 100", "ok 4"),
            ("read 2 0 100", r#"ok "abcdcd""#),
            // Copying a buffer onto its own end doubles it.
            ("copy 2 2 0 6 100", "ok 6"),
            ("read 2 0 100", r#"ok "abcdcdabcdcd""#),
            // Overlapping and growing at once reads the bytes as they were.
            ("truncate 2 6", "ok"),
            ("copy 2 2 0 3 100", "ok 6"),
            ("read 2 0 100", r#"ok "abcabcdcd""#),
            ("copy 2 2 10 0 1", "err out-of-bounds(9)"),
            ("copy 2 2 9 0 1", "ok 0"),
            // The output too.
            ("append 1 123456", "ok"),
            ("copy 1 1 0 2 6", "ok 6"),
        ],
    );
    assert_eq!(out.unwrap(), b"12123456");
}

#[test]
fn quota_is_shared_by_all_scratch_buffers_and_given_back() {
    check_script(
        b"0123456789abcdef",
        &limits(4096, 16),
        &[
            ("create 16", "ok 2"),
            ("create 16", "ok 3"),
            ("fill 2 0 10", "ok"),
            ("fill 3 0 7", "err quota-exceeded(16)"),
            ("len 3", "ok 0"),
            ("fill 3 0 6", "ok"),
            ("append 2 x", "err quota-exceeded(16)"),
            ("append 3 x", "err quota-exceeded(16)"),
            // Overwriting costs nothing.
            ("write 2 0 overwrite!", "ok"),
            // Truncate gives bytes back.
            ("truncate 2 5", "ok"),
            ("append 3 12345", "ok"),
            ("append 3 6", "err quota-exceeded(16)"),
            // Dropping gives bytes back.
            ("drop 3", "ok"),
            ("fill 2 5 11", "ok"),
            ("len 2", "ok 16"),
            // copy-from counts too, from any source.
            ("create 4", "ok 4"),
            ("copy 4 0 0 0 1", "err quota-exceeded(16)"),
            ("copy 4 4 0 0 1", "ok 0"),
            // The output is not counted at all.
            ("copy 1 0 0 0 16", "ok 16"),
            ("truncate 2 0", "ok"),
            ("copy 4 0 12 0 4", "ok 4"),
            ("read 4 0 100", r#"ok "cdef""#),
        ],
    );
}

#[test]
fn every_run_starts_with_the_whole_quota() {
    // Scratch bytes left in buffers at the end of one run are not charged to
    // the next run on the same host and guest.
    for _ in 0..3 {
        check_script(
            b"",
            &limits(4096, 1024),
            &[
                ("create 1024", "ok 2"),
                ("fill 2 0 1024", "ok"),
                ("create 1", "ok 3"),
                ("append 3 x", "err quota-exceeded(1024)"),
            ],
        );
    }
}

#[test]
fn refused_operations_change_nothing() {
    check_script(
        b"input",
        &limits(4096, 12),
        &[
            ("create 8", "ok 2"),
            ("append 2 hello", "ok"),
            ("append 1 out", "ok"),
            // Each refusal, then proof that nothing moved.
            ("write 2 3 abcdef", "err limit-exceeded(8)"),
            ("write 2 6 x", "err out-of-bounds(5)"),
            ("truncate 2 6", "err out-of-bounds(5)"),
            ("copy 2 0 0 4 100", "err limit-exceeded(8)"),
            ("copy 2 0 6 0 1", "err out-of-bounds(5)"),
            ("read 2 0 100", r#"ok "hello""#),
            ("len 2", "ok 5"),
            ("fill 1 0 5000", "err limit-exceeded(4096)"),
            ("copy 1 0 0 4 1", "err out-of-bounds(3)"),
            ("truncate 1 4", "err out-of-bounds(3)"),
            ("read 1 0 100", r#"ok "out""#),
            // A write refused by the quota stores no part of its bytes and
            // uses no quota: exactly the 7 bytes left can still be used.
            ("create 8", "ok 3"),
            ("append 3 12345678", "err quota-exceeded(12)"),
            ("len 3", "ok 0"),
            ("copy 3 0 0 0 100", "ok 5"),
            ("append 3 xy", "ok"),
            ("append 3 z", "err quota-exceeded(12)"),
            ("read 3 0 100", r#"ok "inputxy""#),
            ("read 0 0 100", r#"ok "input""#),
        ],
    );
}

#[test]
fn offsets_near_u64_max_are_out_of_bounds_not_a_crash() {
    let near = "18446744073709551614";
    check_script(
        b"abc",
        &limits(4096, 64),
        &[
            ("create 64", "ok 2"),
            ("append 2 xyz", "ok"),
            (&format!("read 2 {MAX} 1"), "err out-of-bounds(3)"),
            (&format!("read 2 {near} 4294967295"), "err out-of-bounds(3)"),
            (&format!("write 2 {MAX} x"), "err out-of-bounds(3)"),
            (&format!("write 2 {near} xy"), "err out-of-bounds(3)"),
            (&format!("truncate 2 {MAX}"), "err out-of-bounds(3)"),
            (&format!("copy 2 0 {MAX} 0 1"), "err out-of-bounds(3)"),
            (&format!("copy 2 0 0 {MAX} {MAX}"), "err out-of-bounds(3)"),
            (&format!("copy 2 0 1 3 {MAX}"), "ok 2"),
            (&format!("copy 2 2 {near} 0 {MAX}"), "err out-of-bounds(5)"),
            (&format!("write 1 {MAX} x"), "err out-of-bounds(0)"),
            (&format!("create {MAX}"), "err quota-exceeded(64)"),
            ("read 2 0 100", r#"ok "xyzbc""#),
        ],
    );
    // The same on a host whose limits are themselves u64::MAX.
    check_script(
        b"abc",
        &limits(u64::MAX, u64::MAX),
        &[
            ("limit 1", &format!("ok {MAX}")),
            (&format!("create {MAX}"), "ok 2"),
            ("append 2 xyz", "ok"),
            (&format!("write 2 {MAX} x"), "err out-of-bounds(3)"),
            (&format!("copy 2 2 0 3 {MAX}"), "ok 3"),
            (&format!("copy 1 0 {MAX} 0 1"), "err out-of-bounds(3)"),
            ("read 2 0 100", r#"ok "xyzxyz""#),
        ],
    );
}

#[test]
fn a_script_that_breaks_no_rule_keeps_its_output() {
    // The happy path end to end: bytes built in scratch buffers end up as
    // the run's output.
    let out = check_script(
        b"world",
        &limits(4096, 64),
        &[
            ("create 32", "ok 2"),
            ("append 2 hello,\\s", "ok"),
            ("copy 2 0 0 7 100", "ok 5"),
            ("append 2 \\x21\\n", "ok"),
            ("copy 1 2 0 0 100", "ok 14"),
            ("drop 2", "ok"),
        ],
    );
    assert_eq!(out.unwrap(), b"hello, world!\n");
}

// -------------------------------------------------------- selftest, inside

fn selftest(input: &[u8], limits: &Limits) -> String {
    let out = run_default(input, &["selftest"], limits)
        .unwrap_or_else(|e| panic!("selftest failed with {limits:?}: {e}"));
    String::from_utf8(out).unwrap()
}

#[track_caller]
fn assert_all_passed(report: &str) -> usize {
    assert!(!report.contains("FAIL"), "{report}");
    let last = report.lines().last().unwrap();
    let n: usize = last
        .strip_suffix(" checks, 0 failed")
        .unwrap_or_else(|| panic!("last line: {last}"))
        .parse()
        .unwrap();
    assert_eq!(
        n,
        report
            .lines()
            .filter(|l| l.starts_with("ok   ") || l.starts_with("FAIL"))
            .count(),
        "the count matches the lines"
    );
    n
}

#[test]
fn selftest_passes_with_small_limits_and_skips_nothing() {
    let report = selftest(b"some input\n", &limits(64 * 1024, 1024 * 1024));
    let n = assert_all_passed(&report);
    assert!(!report.contains("skip"), "{report}");
    assert!(n >= 70, "only {n} checks ran:\n{report}");
    assert!(report.contains("ok   quota: growth past it"), "{report}");
    assert!(
        report.contains("ok   output: growth past its limit is refused"),
        "{report}"
    );
}

#[test]
fn selftest_passes_with_default_limits_skipping_the_big_checks() {
    let report = selftest(b"some input\n", &Limits::default());
    assert_all_passed(&report);
    assert!(
        report.contains("skip quota: growth past it is refused"),
        "{report}"
    );
    assert!(
        report.contains("skip output: growth past its limit is refused"),
        "{report}"
    );
}

#[test]
fn selftest_passes_at_edge_limits() {
    for (input, max_output, quota) in [
        (&b""[..], 64 * 1024, 0),
        (b"", 64 * 1024, 1),
        (b"x", 64 * 1024, 63),
        (b"0123456789abcdefXYZ", 64 * 1024, 64),
        (b"abc", 64 * 1024, 64 * 1024 * 1024),
    ] {
        let report = selftest(input, &limits(max_output, quota));
        assert_all_passed(&report);
        assert!(
            report.contains(&format!("quota is {quota} bytes")),
            "{report}"
        );
    }
}

#[test]
fn selftest_fails_when_its_report_does_not_fit() {
    let err = run_default(b"", &["selftest"], &limits(100, 1024)).unwrap_err();
    let message = err.summary();
    assert!(
        message.contains("writing the report") && message.contains("100"),
        "{message}"
    );
}
