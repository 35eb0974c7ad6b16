//! `selftest`: checks every function and every error of the buffer interface
//! against the rules in `wit/buffers.wit`, from inside a guest.
//!
//! One line per check goes to the output (`ok`, `FAIL` or `skip`); failures
//! also go to stderr, and any failure makes `process` return `err`, so the
//! host keeps no output and the message lists what failed.
//!
//! It is the conformance check for other hosts of `wit/` too, so every rule
//! of the doc comments has a check that a host breaking only that rule fails,
//! boundaries included (zero-length operations, offsets at and past the end,
//! `u64::MAX`). `host/src/mutations.rs` proves it against broken hosts: a
//! rule added to the WIT needs a check here and a mutation there.

use std::fmt::Debug;

use crate::bufbridge::buffers::buffers::{Buffer, BufferError};
use crate::bufbridge::buffers::digest;
use crate::describe;

/// The quota growth checks fill the whole quota; above this they are skipped
/// rather than make the host hold that many bytes.
const QUOTA_CHECK_MAX: u64 = 64 * 1024 * 1024;

/// The output limit check writes one byte more than the limit from guest
/// memory; above this it is skipped.
const OUTPUT_CHECK_MAX: u64 = 1024 * 1024;

use BufferError::{LimitExceeded, OutOfBounds, QuotaExceeded, ReadOnly};

struct Checks {
    lines: Vec<String>,
    failed: Vec<String>,
}

impl Checks {
    fn check<T: PartialEq + Debug>(&mut self, name: &str, got: T, want: T) {
        if got == want {
            self.lines.push(format!("ok   {name}"));
        } else {
            let line = format!("FAIL {name}: expected {want:?}, got {got:?}");
            eprintln!("selftest: {line}");
            self.lines.push(line);
            self.failed.push(name.to_string());
        }
    }

    fn skip(&mut self, name: &str, why: &str) {
        self.lines.push(format!("skip {name}: {why}"));
    }
}

pub fn run(input: &Buffer, output: &Buffer) -> Result<(), String> {
    let mut c = Checks {
        lines: Vec::new(),
        failed: Vec::new(),
    };
    c.check("output starts empty", output.len(), 0);
    input_checks(&mut c, input);
    let quota = match Buffer::create(u64::MAX) {
        Err(QuotaExceeded(quota)) => quota,
        other => {
            c.check(
                "create(u64::MAX) is refused",
                other.map(|_| ()),
                Err(QuotaExceeded(0)),
            );
            return finish(c, output);
        }
    };
    c.lines.push(format!(
        "ok   create(u64::MAX) is refused: quota is {quota} bytes"
    ));
    c.check(
        "create(quota) is allowed",
        Buffer::create(quota).map(|b| b.limit()),
        Ok(quota),
    );
    if quota < 64 {
        c.skip("scratch buffers", "the quota is under 64 bytes");
    } else {
        scratch_checks(&mut c);
        copy_checks(&mut c, input);
        digest_checks(&mut c);
    }
    quota_checks(&mut c, quota);
    output_checks(&mut c, output);
    finish(c, output)
}

fn finish(c: Checks, output: &Buffer) -> Result<(), String> {
    let mut report = c.lines.join("\n");
    report.push_str(&format!(
        "\n{} checks, {} failed\n",
        c.lines.iter().filter(|l| !l.starts_with("skip")).count(),
        c.failed.len()
    ));
    // A report that does not fit must not hide which checks failed.
    let written = output
        .append(report.as_bytes())
        .map_err(|e| format!("selftest: writing the report: {}", describe(e)));
    let failed = format!(
        "{} check(s) failed: {}",
        c.failed.len(),
        c.failed.join("; ")
    );
    match (written, c.failed.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => Err(format!("selftest: {failed}")),
        (Err(e), true) => Err(e),
        (Err(e), false) => Err(format!("{e}; {failed}")),
    }
}

fn input_checks(c: &mut Checks, input: &Buffer) {
    let len = input.len();
    c.check("input: limit equals length", input.limit(), len);
    let head = input.read(0, 16).map(|b| b.len() as u64);
    c.check("input: read(0, 16) clips at the end", head, Ok(len.min(16)));
    c.check(
        "input: read(len, 8) is empty",
        input.read(len, 8),
        Ok(vec![]),
    );
    c.check(
        "input: read(len + 1, 0) is out of bounds",
        input.read(len + 1, 0),
        Err(OutOfBounds(len)),
    );
    c.check(
        "input: read(u64::MAX, u32::MAX) is out of bounds",
        input.read(u64::MAX, u32::MAX),
        Err(OutOfBounds(len)),
    );
    c.check(
        "input: write is read-only",
        input.write(0, b"x"),
        Err(ReadOnly),
    );
    c.check(
        "input: read-only comes before out-of-bounds",
        input.write(u64::MAX, b"x"),
        Err(ReadOnly),
    );
    c.check(
        "input: append is read-only",
        input.append(b""),
        Err(ReadOnly),
    );
    c.check(
        "input: an empty write past the end is read-only",
        input.write(len + 1, b""),
        Err(ReadOnly),
    );
    c.check(
        "input: truncate is read-only",
        input.truncate(0),
        Err(ReadOnly),
    );
    c.check(
        "input: truncate past the end is still read-only",
        input.truncate(len + 1),
        Err(ReadOnly),
    );
    c.check(
        "input: copy-from into it is read-only",
        input.copy_from(input, u64::MAX, 0, 1),
        Err(ReadOnly),
    );
    c.check(
        "input: copy-from of 0 bytes into it is read-only",
        input.copy_from(input, len, 0, 0),
        Err(ReadOnly),
    );
    c.check("input: unchanged", input.len(), len);
    c.check(
        "input: sha256 of nothing (read-only buffers hash)",
        digest::sha256(input, len, 0).map(|h| h.len()),
        Ok(32),
    );
    c.check(
        "input: sha256 past the end",
        digest::sha256(input, len + 1, 0),
        Err(OutOfBounds(len)),
    );
}

fn scratch_checks(c: &mut Checks) {
    let Ok(b) = Buffer::create(16) else {
        return c.check("create(16)", false, true);
    };
    c.check("create(16): empty", b.len(), 0);
    c.check("create(16): limit 16", b.limit(), 16);
    c.check("append", b.append(b"hello"), Ok(()));
    c.check("write at the end extends", b.write(5, b" world"), Ok(()));
    c.check("read back", b.read(0, 100), Ok(b"hello world".to_vec()));
    c.check("write overwrites in place", b.write(0, b"J"), Ok(()));
    c.check("overwrite keeps the length", b.len(), 11);
    c.check("read in the middle", b.read(6, 3), Ok(b"wor".to_vec()));
    c.check(
        "read near the end clips",
        b.read(9, 100),
        Ok(b"ld".to_vec()),
    );
    c.check("read at the end is empty", b.read(11, 5), Ok(vec![]));
    c.check("read past the end", b.read(12, 1), Err(OutOfBounds(11)));
    c.check(
        "read of nothing past the end",
        b.read(12, 0),
        Err(OutOfBounds(11)),
    );
    c.check(
        "write past the end (no holes)",
        b.write(12, b"x"),
        Err(OutOfBounds(11)),
    );
    c.check(
        "write at u64::MAX",
        b.write(u64::MAX, b"x"),
        Err(OutOfBounds(11)),
    );
    c.check("write of nothing at the end", b.write(11, b""), Ok(()));
    c.check(
        "write of nothing past the end",
        b.write(12, b""),
        Err(OutOfBounds(11)),
    );
    c.check(
        "write of nothing at u64::MAX",
        b.write(u64::MAX, b""),
        Err(OutOfBounds(11)),
    );
    c.check("writes of nothing keep the length", b.len(), 11);
    c.check(
        "write past the limit",
        b.write(10, b"abcdefg"),
        Err(LimitExceeded(16)),
    );
    c.check(
        "refused write changed nothing",
        b.read(0, 100),
        Ok(b"Jello world".to_vec()),
    );
    c.check("write up to the limit", b.write(11, b"!!!!!"), Ok(()));
    c.check("full: length is the limit", b.len(), 16);
    c.check(
        "append past the limit",
        b.append(b"x"),
        Err(LimitExceeded(16)),
    );
    c.check("empty append at the limit", b.append(b""), Ok(()));
    c.check(
        "out-of-bounds comes before limit",
        b.write(17, b"xy"),
        Err(OutOfBounds(16)),
    );
    c.check("truncate cannot grow", b.truncate(17), Err(OutOfBounds(16)));
    c.check(
        "truncate(u64::MAX)",
        b.truncate(u64::MAX),
        Err(OutOfBounds(16)),
    );
    c.check("truncate", b.truncate(5), Ok(()));
    c.check("truncated content", b.read(0, 100), Ok(b"Jello".to_vec()));
    c.check("truncate to the same length", b.truncate(5), Ok(()));
    c.check("truncate to zero", b.truncate(0), Ok(()));
    c.check("truncate to zero: empty", b.len(), 0);
}

fn copy_checks(c: &mut Checks, input: &Buffer) {
    let (Ok(src), Ok(dst)) = (Buffer::create(32), Buffer::create(8)) else {
        return c.check("create(32), create(8)", false, true);
    };
    c.check("copy: fill the source", src.append(b"hello world"), Ok(()));
    c.check(
        "copy-from counts what the source has",
        dst.copy_from(&src, 6, 0, 100),
        Ok(5),
    );
    c.check(
        "copy-from: copied bytes",
        dst.read(0, 100),
        Ok(b"world".to_vec()),
    );
    c.check(
        "copy-from at the source's end copies 0",
        dst.copy_from(&src, 11, 0, 5),
        Ok(0),
    );
    c.check(
        "copy-from: source offset past its end",
        dst.copy_from(&src, 12, 0, 1),
        Err(OutOfBounds(11)),
    );
    c.check(
        "copy-from: source check comes before destination checks",
        dst.copy_from(&src, 12, 99, 1),
        Err(OutOfBounds(11)),
    );
    c.check(
        "copy-from: source offset at u64::MAX",
        dst.copy_from(&src, u64::MAX, 0, 1),
        Err(OutOfBounds(11)),
    );
    c.check(
        "copy-from: destination offset past its end",
        dst.copy_from(&src, 0, 6, 1),
        Err(OutOfBounds(5)),
    );
    c.check(
        "copy-from: destination offset at u64::MAX",
        dst.copy_from(&src, 0, u64::MAX, 1),
        Err(OutOfBounds(5)),
    );
    c.check(
        "copy-from of 0 bytes past the destination's end",
        dst.copy_from(&src, 0, 6, 0),
        Err(OutOfBounds(5)),
    );
    c.check(
        "copy-from of the source's end past the destination's end",
        dst.copy_from(&src, 11, 6, 5),
        Err(OutOfBounds(5)),
    );
    c.check(
        "copy-from: destination out-of-bounds comes before limit",
        dst.copy_from(&src, 0, 6, 100),
        Err(OutOfBounds(5)),
    );
    c.check(
        "copy-from: past the destination's limit",
        dst.copy_from(&src, 0, 5, 4),
        Err(LimitExceeded(8)),
    );
    c.check(
        "copy-from: refused copy changed nothing",
        dst.read(0, 100),
        Ok(b"world".to_vec()),
    );
    c.check("copy-from: len 0", dst.copy_from(&src, 0, 5, 0), Ok(0));
    c.check(
        "copy-from: len u64::MAX copies what the source has",
        dst.copy_from(&src, 8, 5, u64::MAX),
        Ok(3),
    );
    c.check(
        "copy-from: len u64::MAX: copied bytes",
        dst.read(0, 100),
        Ok(b"worldrld".to_vec()),
    );
    c.check(
        "self copy: setup",
        src.truncate(0).and_then(|()| src.append(b"abcdef")),
        Ok(()),
    );
    c.check(
        "self copy forward overlap",
        src.copy_from(&src, 0, 2, 6),
        Ok(6),
    );
    c.check(
        "self copy forward: memmove",
        src.read(0, 100),
        Ok(b"ababcdef".to_vec()),
    );
    c.check(
        "self copy backward overlap",
        src.copy_from(&src, 2, 0, 100),
        Ok(6),
    );
    c.check(
        "self copy backward: memmove",
        src.read(0, 100),
        Ok(b"abcdefef".to_vec()),
    );
    c.check(
        "self copy: offset past its end",
        src.copy_from(&src, 9, 0, 1),
        Err(OutOfBounds(8)),
    );
    let want = input.len().min(8);
    c.check(
        "copy-from the input",
        src.copy_from(input, 0, 0, 8),
        Ok(want),
    );
    let head = input.read(0, want as u32);
    c.check(
        "copy-from the input: same bytes",
        src.read(0, want as u32),
        head,
    );
}

fn digest_checks(c: &mut Checks) {
    let Ok(b) = Buffer::create(8) else {
        return c.check("create(8)", false, true);
    };
    let hex = |hash: Result<Vec<u8>, BufferError>| {
        hash.map(|h| h.iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    // SHA-256 of "", "abc" (both well known), "cx" and "abcx" (`sha256sum`).
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string();
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string();
    let cx = "2c1179aeedaea902c479a7af501d66a141156c5e412fc2a373adf399c3f4230d".to_string();
    let abcx = "7571ce1f8e21c6b13dd7ec2c5ec7c9e4dd9852e209869511853f2f1f74b17927".to_string();
    c.check(
        "sha256 of an empty buffer",
        hex(digest::sha256(&b, 0, 0)),
        Ok(empty.clone()),
    );
    c.check("digest: fill", b.append(b"xabcx"), Ok(()));
    c.check("sha256 of a range", hex(digest::sha256(&b, 1, 3)), Ok(abc));
    c.check(
        "sha256 of a range past the end is cut at the end",
        hex(digest::sha256(&b, 3, 100)),
        Ok(cx),
    );
    c.check(
        "sha256 with len u64::MAX is cut at the end",
        hex(digest::sha256(&b, 1, u64::MAX)),
        Ok(abcx),
    );
    c.check(
        "sha256 of nothing inside the buffer",
        hex(digest::sha256(&b, 2, 0)),
        Ok(empty.clone()),
    );
    c.check(
        "sha256 at the end is of nothing",
        hex(digest::sha256(&b, 5, 9)),
        Ok(empty),
    );
    c.check(
        "sha256 past the end",
        hex(digest::sha256(&b, 6, 1)),
        Err(OutOfBounds(5)),
    );
    c.check(
        "sha256 at u64::MAX",
        hex(digest::sha256(&b, u64::MAX, 0)),
        Err(OutOfBounds(5)),
    );
}

fn quota_checks(c: &mut Checks, quota: u64) {
    const NAME: &str = "quota: growth past it is refused";
    if quota == 0 {
        let b = Buffer::create(0);
        let append = b.as_ref().map(|b| b.append(b"x"));
        return c.check(
            "quota 0: append to create(0)",
            append,
            Ok(Err(LimitExceeded(0))),
        );
    }
    if quota > QUOTA_CHECK_MAX {
        return c.skip(
            NAME,
            &format!(
                "the quota ({quota} bytes) is over {QUOTA_CHECK_MAX}; run selftest with \
                 --quota 1MiB to include it"
            ),
        );
    }
    let (Ok(big), Ok(small)) = (Buffer::create(quota), Buffer::create(1)) else {
        return c.check("quota: create(quota) and create(1)", false, true);
    };
    // Fill `big` to the whole quota by doubling it host-side.
    let mut filled = big.append(b"q");
    while filled.is_ok() && big.len() < quota {
        let len = big.len();
        filled = big.copy_from(&big, 0, len, quota - len).map(drop);
    }
    // The checks above dropped every scratch buffer they made, so only a
    // host that kept some of their bytes counted (at drop, or when they were
    // truncated) can refuse this fill early.
    c.check(
        "quota: buffers dropped earlier gave their bytes back",
        matches!(filled, Err(QuotaExceeded(_))),
        false,
    );
    c.check("quota: fill a buffer to the whole quota", filled, Ok(()));
    c.check("quota: filled", big.len(), quota);
    c.check(
        "quota: growth past it",
        small.append(b"x"),
        Err(QuotaExceeded(quota)),
    );
    c.check(
        "quota: limit comes before quota",
        small.append(b"xy"),
        Err(LimitExceeded(1)),
    );
    c.check(
        "quota: an empty append when full costs nothing",
        small.append(b""),
        Ok(()),
    );
    c.check(
        "quota: create still allowed",
        Buffer::create(quota).map(|_| ()),
        Ok(()),
    );
    c.check(
        "quota: overwriting costs nothing",
        big.write(0, b"Q"),
        Ok(()),
    );
    c.check(
        "quota: truncate gives bytes back",
        big.truncate(quota - 1),
        Ok(()),
    );
    c.check("quota: growth after truncate", small.append(b"x"), Ok(()));
    c.check(
        "quota: full again",
        big.append(b"x"),
        Err(QuotaExceeded(quota)),
    );
    drop(small);
    c.check("quota: dropping gives bytes back", big.append(b"x"), Ok(()));
    let (Ok(other), Ok(none)) = (Buffer::create(1), Buffer::create(0)) else {
        return c.check("quota: create(1) and create(0) when full", false, true);
    };
    c.check(
        "quota: copy-from counts too",
        other.copy_from(&big, 0, 0, 1),
        Err(QuotaExceeded(quota)),
    );
    c.check(
        "quota: copy-from: limit comes before quota",
        none.copy_from(&big, 0, 0, 1),
        Err(LimitExceeded(0)),
    );
}

fn output_checks(c: &mut Checks, output: &Buffer) {
    const NAME: &str = "output: growth past its limit is refused";
    let len = output.len();
    c.check(
        "output: write past the end",
        output.write(len + 1, b"x"),
        Err(OutOfBounds(len)),
    );
    c.check(
        "output: write of nothing past the end",
        output.write(len + 1, b""),
        Err(OutOfBounds(len)),
    );
    c.check(
        "output: truncate past the end",
        output.truncate(len + 1),
        Err(OutOfBounds(len)),
    );
    let limit = output.limit();
    if limit > OUTPUT_CHECK_MAX {
        return c.skip(
            NAME,
            &format!("the limit ({limit} bytes) is over {OUTPUT_CHECK_MAX}; run selftest with --max-output 64KiB to include it"),
        );
    }
    let too_much = vec![b'.'; (limit - len + 1) as usize];
    c.check(
        NAME,
        output.write(len, &too_much),
        Err(LimitExceeded(limit)),
    );
    c.check("output: refused write changed nothing", output.len(), len);
}
