//! `streams.read-stream` (wit/streams.wit), each rule of its contract, with
//! the test guest `tests/guests/streams`, built from `wit/` alone: streams
//! of the input in memory and from a file, read with many capacities;
//! errors at the call; buffers changed, truncated and dropped between
//! deliveries; `--stats` and `--max-copy`; a forged handle; and the engine
//! a guest is loaded on.

use std::io::Write;
use std::sync::OnceLock;

use bufbridge::stats::Import;
use bufbridge::{DEFAULT_GUEST, Guest, Input, Limit, Limits, Output, RunError, Watch};

use crate::common::{args, assert_exit, generated, host, run, stderr, streams_wasm_path, tempdir};

fn streams_guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let wasm = std::fs::read(streams_wasm_path()).expect("read the streams guest");
        host().load(&wasm).expect("load the streams guest")
    })
}

/// `cat OFFSET CAPACITY` over `input`, in memory or from a file.
fn cat(
    input: &[u8],
    file: bool,
    offset: u64,
    capacity: usize,
    limits: &Limits,
) -> Result<Vec<u8>, RunError> {
    guest_run(
        input,
        file,
        &["cat", &offset.to_string(), &capacity.to_string()],
        limits,
    )
}

/// `count OFFSET CAPACITY` over `input` (what it wrote), in memory or from
/// a file: the guest appends one short line, so only the deliveries can
/// meet the copy cap.
fn count(
    input: &[u8],
    file: bool,
    offset: u64,
    capacity: usize,
    limits: &Limits,
) -> Result<String, RunError> {
    let out = guest_run(
        input,
        file,
        &["count", &offset.to_string(), &capacity.to_string()],
        limits,
    )?;
    Ok(String::from_utf8(out).unwrap())
}

/// The streams guest run with `words` over `input`, in memory or from a file.
fn guest_run(
    input: &[u8],
    file: bool,
    words: &[&str],
    limits: &Limits,
) -> Result<Vec<u8>, RunError> {
    let words = args(words);
    let input = if file {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(input).unwrap();
        Input::File(f)
    } else {
        Input::Bytes(input.to_vec())
    };
    host()
        .run_with(streams_guest(), input, Output::Memory, &words, limits)?
        .into_bytes()
        .map_err(|e| panic!("{e}"))
}

/// The lines a `script` run wrote.
fn script(input: &[u8], ops: &[&str]) -> Vec<String> {
    let mut words = vec!["script"];
    words.extend_from_slice(ops);
    let out = host()
        .run(
            streams_guest(),
            input.to_vec(),
            &args(&words),
            &Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_stream_delivers_the_bytes_from_the_offset_on_in_order() {
    let input = generated(300_000);
    for file in [false, true] {
        for (offset, capacity) in [
            (0, 65536),
            (0, 4096),
            (1, 7),
            (299_999, 4),
            (123_457, 1 << 20),
        ] {
            let out = cat(&input, file, offset, capacity, &Limits::default()).unwrap();
            assert!(
                out == input[offset as usize..],
                "file {file}, offset {offset}, capacity {capacity}: {} bytes",
                out.len()
            );
        }
        // At the end: a stream that ends at once.
        let out = cat(&input, file, input.len() as u64, 100, &Limits::default()).unwrap();
        assert!(out.is_empty(), "file {file}");
    }
}

#[test]
fn an_offset_past_the_end_is_out_of_bounds_at_the_call() {
    for file in [false, true] {
        let err = cat(b"hello", file, 6, 10, &Limits::default()).unwrap_err();
        let RunError::Failed(message) = err else {
            panic!("{err:?}");
        };
        assert_eq!(message, "read-stream: out-of-bounds(5)");
        let err = cat(b"", file, u64::MAX, 10, &Limits::default()).unwrap_err();
        assert!(
            matches!(&err, RunError::Failed(m) if m == "read-stream: out-of-bounds(0)"),
            "{err:?}"
        );
    }
}

/// Runs `script` over `input`: each operation with the line it must write.
#[track_caller]
fn check(input: &[u8], steps: &[(&str, &str)]) {
    let ops: Vec<&str> = steps.iter().map(|(op, _)| *op).collect();
    let lines = script(input, &ops);
    let want: Vec<&str> = steps.iter().map(|(_, line)| *line).collect();
    assert_eq!(lines, want);
}

#[test]
fn deliveries_take_the_buffer_as_it_is_then() {
    check(
        b"",
        &[
            ("scratch=abcdef", "scratch abcdef"),
            ("open=0", "open ok"),
            ("read=2", "read ab"),
            // A write between deliveries shows in the next one.
            ("write=2:XY", "write ok"),
            ("read=2", "read XY"),
            // So does growth: a delivery goes up to the length then.
            ("append=gh", "append ok"),
            ("read=10", "read efgh"),
            // At the length: the host ends the stream.
            ("read=3", "read end"),
            // Truncated to the position: the end.
            ("truncate=1", "truncate ok"),
            ("open=0", "open ok"),
            ("read=1", "read a"),
            ("read=1", "read end"),
            // Truncated below it: the end.
            ("scratch=abcdef", "scratch abcdef"),
            ("open=1", "open ok"),
            ("read=2", "read bc"),
            ("truncate=2", "truncate ok"),
            ("read=4", "read end"),
            // Truncated below it and grown back before the next read: the
            // end all the same, not the new bytes.
            ("scratch=abcdef", "scratch abcdef"),
            ("open=1", "open ok"),
            ("read=2", "read bc"),
            ("truncate=2", "truncate ok"),
            ("append=XYZW", "append ok"),
            ("read=4", "read end"),
            // Dropped while the stream is open: the end, not a trap.
            ("scratch=xyz", "scratch xyz"),
            ("open=1", "open ok"),
            ("read=1", "read y"),
            ("drop", "drop"),
            ("read=1", "read end"),
            // Opened at the length: ends at the first read.
            ("scratch=abc", "scratch abc"),
            ("open=3", "open ok"),
            ("read=1", "read end"),
            // A zero-capacity read is a readiness probe: nothing moves.
            ("scratch=abcd", "scratch abcd"),
            ("open=1", "open ok"),
            ("read=0", "read "),
            ("read=5", "read bcd"),
        ],
    );
}

#[test]
fn the_guest_may_drop_its_end_early_and_open_more() {
    check(
        b"hello world",
        &[
            ("input", "input"),
            ("open=6", "open ok"),
            ("read=3", "read wor"),
            ("close", "close"),
            ("open=0", "open ok"),
            ("read=5", "read hello"),
            // Another stream of the same buffer, opened at its end.
            ("open=11", "open ok"),
            ("read=1", "read end"),
            ("open=12", "open out-of-bounds(11)"),
        ],
    );
}

#[test]
fn deliveries_count_as_reads_in_the_stats() {
    let words = args(&["cat", "0", "4096"]);
    let input = Input::Bytes(generated(10_000));
    let (result, stats) = host().run_watched(
        streams_guest(),
        input,
        Output::Memory,
        &words,
        &Limits::default(),
        &Watch::default(),
    );
    result.unwrap();
    let read = stats
        .calls()
        .find(|(import, _)| *import == Import::Read)
        .map(|(_, calls)| calls)
        .expect("reads were counted");
    // 4096, 4096, 1808, and the read that found the end.
    assert_eq!((read.calls, read.bytes_out), (4, 10_000));
    // Opening the stream is not a `len` or anything else.
    let others: Vec<_> = stats
        .calls()
        .map(|(i, _)| i)
        .filter(|i| *i != Import::Read && *i != Import::Append)
        .collect();
    assert!(others.is_empty(), "{others:?}");
}

#[test]
fn the_copy_cap_applies_per_delivery() {
    let input = generated(100_000);
    let limits = Limits {
        max_copy: 4096,
        ..Limits::default()
    };
    for file in [false, true] {
        let out = count(&input, file, 0, 4096, &limits).unwrap();
        assert_eq!(out, "100000 bytes in 25 reads\n", "file {file}");
        let err = count(&input, file, 0, 4097, &limits).unwrap_err();
        assert!(
            matches!(err, RunError::LimitExceeded(Limit::CopyPerCall(4096), _)),
            "file {file}: {err:?}"
        );
        // What a delivery copies counts, not the room the guest offers:
        // a last delivery under the cap is fine whatever the capacity.
        let out = count(&input, file, 100_000 - 4096, 1 << 20, &limits).unwrap();
        assert_eq!(out, "4096 bytes in 1 reads\n", "file {file}");
    }
}

#[test]
fn the_time_limit_stops_a_guest_on_the_concurrent_engine() {
    // The ticker advances the second engine's epoch too.
    let limits = Limits {
        timeout: Some(std::time::Duration::from_millis(200)),
        ..Limits::default()
    };
    let err = host()
        .run(streams_guest(), Vec::new(), &args(&["spin"]), &limits)
        .unwrap_err();
    assert!(
        matches!(err, RunError::LimitExceeded(Limit::Time(_), _)),
        "{err:?}"
    );
}

#[test]
fn a_forged_handle_traps() {
    let err = host()
        .run(
            streams_guest(),
            b"x".to_vec(),
            &args(&["forge"]),
            &Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, RunError::Trapped(_)), "{err:?}");
}

/// Asserts that `inspect` finds `wasm` fits and says it imports `streams`,
/// and so runs on the second engine (the one `load` picks by the same
/// test), exactly when `streams` is true.
#[track_caller]
pub fn assert_runs_on_the_concurrent_engine(wasm: &[u8], streams: bool) {
    let report = host().inspect(wasm).unwrap();
    assert!(report.fits() && report.streams == streams, "{report}");
    assert_eq!(
        report.to_string().contains("It imports `streams`"),
        streams,
        "{report}"
    );
}

#[test]
fn only_guests_that_import_streams_run_on_the_concurrent_engine() {
    let wasm = std::fs::read(streams_wasm_path()).unwrap();
    assert_runs_on_the_concurrent_engine(&wasm, true);
    assert_runs_on_the_concurrent_engine(DEFAULT_GUEST, false);
}

#[test]
fn the_cli_streams_a_file_and_counts_the_reads() {
    let dir = tempdir();
    let input = dir.path().join("in");
    let bytes = generated(200_000);
    std::fs::write(&input, &bytes).unwrap();
    let output = dir.path().join("out");
    let guest = streams_wasm_path();
    let out = run(
        Some(guest),
        &input,
        &output,
        &["--stats"],
        &["cat", "0", "65536"],
    );
    assert_exit(&out, 0);
    assert!(std::fs::read(&output).unwrap() == bytes);
    // 65536 × 3, 3392, the end.
    let stats = stderr(&out);
    let read = stats
        .lines()
        .find(|l| l.starts_with("read "))
        .unwrap_or_else(|| panic!("{stats}"));
    let words: Vec<&str> = read.split_whitespace().collect();
    assert_eq!(words[..2], ["read", "5"], "{stats}");
    let out = run(
        Some(guest),
        &input,
        &output,
        &["--max-copy", "64KiB"],
        &["count", "0", "65537"],
    );
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("per-call copy limit of 64 KiB"),
        "{}",
        stderr(&out)
    );
}

// ------------------------------------------- random scripts against a model

/// A script operation as generated; offsets relative to the buffer's length.
#[derive(Debug, Clone)]
enum Draw {
    Output,
    Scratch(String),
    Open(i8),
    Read(usize),
    Write(i8, String),
    Append(String),
    Truncate(i8),
    Drop,
    Close,
}

/// The contract of `read-stream`, written out again on plain vectors, for
/// the streams guest's `script`: the output (buffer 0) and scratch buffers
/// of limit 64.
struct Model {
    /// The output, then every scratch buffer made, `None` once dropped (the
    /// guest drops its scratch buffer when it makes another).
    buffers: Vec<Option<Vec<u8>>>,
    /// The buffer the operations act on, once one is chosen.
    target: Option<usize>,
    /// The open stream: its buffer, its position, and whether the buffer
    /// was truncated below that since (the stream is over, even if the
    /// buffer grows back).
    stream: Option<(usize, usize, bool)>,
}

const SCRATCH_LIMIT: usize = 64;

impl Model {
    fn new() -> Self {
        Model {
            buffers: vec![Some(Vec::new())],
            target: None,
            stream: None,
        }
    }

    /// The target's bytes and limit, if it is live.
    fn current(&mut self) -> Option<(&mut Vec<u8>, usize)> {
        let target = self.target?;
        let limit = if target == 0 {
            usize::MAX
        } else {
            SCRATCH_LIMIT
        };
        Some((self.buffers[target].as_mut()?, limit))
    }

    /// The operation as the guest takes it (`None` when it needs a live
    /// buffer and there is none: not generated), and the line it writes.
    fn apply(&mut self, draw: &Draw) -> Option<(String, String)> {
        let at = |len: usize, d: i8| (len as i64 + i64::from(d)).max(0) as usize;
        Some(match draw {
            Draw::Output => {
                self.target = Some(0);
                ("output".into(), "output".into())
            }
            Draw::Scratch(text) => {
                // The guest's one scratch buffer is replaced, so dropped.
                if let Some(last) = self.buffers.iter_mut().skip(1).last() {
                    *last = None;
                }
                self.buffers.push(Some(text.as_bytes().to_vec()));
                self.target = Some(self.buffers.len() - 1);
                (format!("scratch={text}"), format!("scratch {text}"))
            }
            Draw::Open(d) => {
                let index = self.target?;
                let len = self.current()?.0.len();
                let offset = at(len, *d);
                self.stream = None;
                let line = if offset > len {
                    format!("open out-of-bounds({len})")
                } else {
                    self.stream = Some((index, offset, false));
                    "open ok".to_string()
                };
                (format!("open={offset}"), line)
            }
            Draw::Read(capacity) => {
                let op = format!("read={capacity}");
                let Some((index, position, cut)) = self.stream else {
                    return Some((op, "read none".into()));
                };
                if *capacity == 0 {
                    // A readiness probe: answered at once, nothing moves.
                    return Some((op, "read ".into()));
                }
                match &self.buffers[index] {
                    Some(bytes) if position < bytes.len() && !cut => {
                        let end = (position + capacity).min(bytes.len());
                        let got = String::from_utf8(bytes[position..end].to_vec()).unwrap();
                        self.stream = Some((index, end, false));
                        (op, format!("read {got}"))
                    }
                    _ => {
                        self.stream = None;
                        (op, "read end".into())
                    }
                }
            }
            Draw::Write(d, text) => {
                let (bytes, limit) = self.current()?;
                let offset = at(bytes.len(), *d);
                let line = if offset > bytes.len() {
                    format!("write out-of-bounds({})", bytes.len())
                } else if offset + text.len() > limit {
                    format!("write limit-exceeded({limit})")
                } else {
                    let end = offset + text.len();
                    if bytes.len() < end {
                        bytes.resize(end, 0);
                    }
                    bytes[offset..end].copy_from_slice(text.as_bytes());
                    "write ok".into()
                };
                (format!("write={offset}:{text}"), line)
            }
            Draw::Append(text) => {
                let (bytes, limit) = self.current()?;
                let line = if bytes.len() + text.len() > limit {
                    format!("append limit-exceeded({limit})")
                } else {
                    bytes.extend_from_slice(text.as_bytes());
                    "append ok".into()
                };
                (format!("append={text}"), line)
            }
            Draw::Truncate(d) => {
                let (bytes, _) = self.current()?;
                let len = at(bytes.len(), *d);
                let line = if len > bytes.len() {
                    format!("truncate out-of-bounds({})", bytes.len())
                } else {
                    bytes.truncate(len);
                    if let Some((index, position, cut)) = &mut self.stream
                        && Some(*index) == self.target
                    {
                        *cut |= *position > len;
                    }
                    "truncate ok".into()
                };
                (format!("truncate={len}"), line)
            }
            Draw::Drop => {
                // Only the scratch buffer, while it is the target.
                let target = self.target.filter(|&t| t > 0)?;
                self.buffers[target].take()?;
                ("drop".into(), "drop".into())
            }
            Draw::Close => {
                self.stream = None;
                ("close".into(), "close".into())
            }
        })
    }
}

fn draws() -> impl proptest::strategy::Strategy<Value = Vec<Draw>> {
    use proptest::prelude::*;
    let text = || "[a-z]{1,12}";
    let edge = || -2i8..=2;
    let draw = prop_oneof![
        1 => Just(Draw::Output),
        1 => text().prop_map(Draw::Scratch),
        2 => edge().prop_map(Draw::Open),
        6 => (0usize..8).prop_map(Draw::Read),
        2 => (edge(), text()).prop_map(|(d, t)| Draw::Write(d, t)),
        2 => text().prop_map(Draw::Append),
        1 => edge().prop_map(Draw::Truncate),
        1 => Just(Draw::Drop),
        1 => Just(Draw::Close),
    ];
    prop::collection::vec(draw, 1..40)
}

/// Random scripts over scratch buffers (in memory) and the output, in
/// memory or file-backed: streams opened, read, closed, and their buffers
/// written, grown, truncated and dropped between deliveries.
#[test]
fn random_scripts_match_the_model() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config::with_cases(128));
    runner
        .run(&(draws(), any::<bool>()), |(draws, file)| {
            let mut model = Model::new();
            let steps: Vec<(String, String)> =
                draws.iter().filter_map(|d| model.apply(d)).collect();
            let mut words = vec!["script"];
            words.extend(steps.iter().map(|(op, _)| op.as_str()));
            let output = if file {
                Output::File(tempfile::tempfile().unwrap())
            } else {
                Output::Memory
            };
            let got = host()
                .run_with(
                    streams_guest(),
                    Input::Bytes(Vec::new()),
                    output,
                    &args(&words),
                    &Limits::default(),
                )
                .unwrap_or_else(|e| panic!("{e}"))
                .into_bytes()
                .unwrap();
            // The output's bytes as the operations left them, then the log.
            let mut want = model.buffers[0].take().unwrap();
            for (_, line) in &steps {
                want.extend_from_slice(line.as_bytes());
                want.push(b'\n');
            }
            prop_assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
            Ok(())
        })
        .unwrap();
}
