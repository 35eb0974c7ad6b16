//! Bounded memory for any file size: the host's peak RSS, read from the OS,
//! must not follow the size of the input or the output. The inputs are
//! generated here (hundreds of MiB) and removed afterwards.

#![cfg(target_os = "linux")]

use crate::common::{bufbridge_run, bufbridge_sh, serial};
use crate::measure;

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// The bound the issue sets for any input size.
const MAX_RSS_MIB: f64 = 100.0;

/// How much more a huge input may cost than a small one: allocator noise.
const GROWTH_MIB: f64 = 8.0;

/// A file of `len` bytes, mixed case so `upper` changes some of them.
fn make_input(path: &Path, len: u64) {
    let block: Vec<u8> = (0..MIB).map(|i| b"aBc-XyZ\n"[(i % 8) as usize]).collect();
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for _ in 0..len / MIB {
        out.write_all(&block).unwrap();
    }
    out.flush().unwrap();
}

/// Runs `bufbridge run --input IN --output OUT -- WORDS` and returns its peak RSS in MiB.
fn peak_rss_mib(input: &Path, output: &Path, words: &[&str]) -> f64 {
    let cmd = bufbridge_run(None, input, output, &[], words);
    let run = measure::measure(&cmd, true, Duration::from_secs(300));
    assert_eq!(run.code, Some(0), "{words:?}: {}", run.stderr);
    let mib = run.max_rss_kib as f64 / 1024.0;
    eprintln!(
        "[scale] {words:?} over {} MiB: {:.2} s, peak RSS {mib:.1} MiB",
        std::fs::metadata(input).unwrap().len() / MIB,
        run.wall.as_secs_f64()
    );
    mib
}

/// Checks `output` is `input` with `f` applied, reading both in chunks.
fn assert_transformed(input: &Path, output: &Path, f: impl Fn(&mut [u8])) {
    let (mut a, mut b) = (
        std::fs::File::open(input).unwrap(),
        std::fs::File::open(output).unwrap(),
    );
    assert_eq!(a.metadata().unwrap().len(), b.metadata().unwrap().len());
    let (mut x, mut y) = (vec![0; MIB as usize], vec![0; MIB as usize]);
    loop {
        let n = a.read(&mut x).unwrap();
        if n == 0 {
            return;
        }
        b.read_exact(&mut y[..n]).unwrap();
        f(&mut x[..n]);
        assert!(
            x[..n] == y[..n],
            "the output differs from the transformed input"
        );
    }
}

#[test]
fn peak_rss_does_not_grow_with_the_size_of_the_input() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let (small, big, out) = (
        dir.path().join("small"),
        dir.path().join("big"),
        dir.path().join("out"),
    );
    make_input(&small, MIB);
    make_input(&big, 400 * MIB);
    // Once to fill the compilation cache, so both measured runs load alike.
    peak_rss_mib(&small, &out, &["copy"]);
    for words in [&["copy"][..], &["upper"][..]] {
        let small_rss = peak_rss_mib(&small, &out, words);
        let big_rss = peak_rss_mib(&big, &out, words);
        match words[0] {
            "copy" => assert_transformed(&big, &out, |_| ()),
            _ => assert_transformed(&big, &out, |b| b.make_ascii_uppercase()),
        }
        assert!(
            big_rss < MAX_RSS_MIB,
            "{words:?}: {big_rss:.1} MiB for 400 MiB"
        );
        assert!(
            big_rss < small_rss + GROWTH_MIB,
            "{words:?}: {big_rss:.1} MiB for 400 MiB against {small_rss:.1} MiB for 1 MiB"
        );
    }
}

#[test]
fn stdin_and_stdout_are_spooled_not_held() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    make_input(&input, 200 * MIB);
    let out = dir.path().join("out");
    // `sh` wires the files to stdin and stdout, as a user's shell would, and
    // then becomes bufbridge, so what is measured is bufbridge.
    let cmd = bufbridge_sh(
        r#"exec "$1" run --input - --output - -- upper < "$2" > "$3""#,
        &[input.as_os_str(), out.as_os_str()],
    );
    let run = measure::measure(&cmd, true, Duration::from_secs(300));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mib = run.max_rss_kib as f64 / 1024.0;
    eprintln!("[scale] stdin to stdout over 200 MiB: peak RSS {mib:.1} MiB");
    assert_transformed(&input, &out, |b| b.make_ascii_uppercase());
    assert!(
        mib < MAX_RSS_MIB,
        "{mib:.1} MiB for 200 MiB through stdin and stdout"
    );
}
