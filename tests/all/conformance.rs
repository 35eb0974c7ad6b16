//! One conformance suite for both guest paths: random sequences of buffer
//! operations run against a plain `Vec<u8>` model and, through the same
//! interpreter guest (tests/conformance/guest), against the component path
//! and the core-module path. Every result and every buffer's final bytes
//! must match the model.
//!
//! `PROPTEST_CASES` sets how many sequences run (default 2000 per path).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use std::io::Write;

use crate::common::wasm_build;

use bufbridge::{Guest, Host, Input, Limits, Output, RunError};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

// ---------------------------------------------------------------- the model

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Input,
    Output,
    Scratch,
}

#[derive(Debug, Clone)]
struct ModelBuf {
    kind: Kind,
    limit: u64,
    bytes: Vec<u8>,
}

/// An error as the contract states it: code 1..=4 and its figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    OutOfBounds(u64),
    LimitExceeded(u64),
    ReadOnly,
    QuotaExceeded(u64),
}

/// The contract of wit/buffers.wit, written out again independently of the
/// host's rules module, on plain vectors.
struct Model {
    bufs: Vec<Option<ModelBuf>>,
    quota: u64,
}

impl Model {
    fn new(input: Vec<u8>, max_output: u64, quota: u64) -> Self {
        let input = ModelBuf {
            kind: Kind::Input,
            limit: input.len() as u64,
            bytes: input,
        };
        let output = ModelBuf {
            kind: Kind::Output,
            limit: max_output,
            bytes: Vec::new(),
        };
        Model {
            bufs: vec![Some(input), Some(output)],
            quota,
        }
    }

    fn used(&self) -> u64 {
        self.bufs
            .iter()
            .flatten()
            .filter(|b| b.kind == Kind::Scratch)
            .map(|b| b.bytes.len() as u64)
            .sum()
    }

    fn buf(&self, slot: usize) -> &ModelBuf {
        self.bufs[slot].as_ref().unwrap()
    }

    /// `write` of `data` at `offset` into `slot`, with every check of the contract.
    fn put(&mut self, slot: usize, offset: u64, data: &[u8]) -> Result<(), Refused> {
        let used = self.used();
        let b = self.buf(slot);
        let len = b.bytes.len() as u64;
        if b.kind == Kind::Input {
            return Err(Refused::ReadOnly);
        }
        if offset > len {
            return Err(Refused::OutOfBounds(len));
        }
        let end = offset as u128 + data.len() as u128;
        if end > b.limit as u128 {
            return Err(Refused::LimitExceeded(b.limit));
        }
        let new_len = (end as u64).max(len);
        if b.kind == Kind::Scratch && used - len + new_len > self.quota {
            return Err(Refused::QuotaExceeded(self.quota));
        }
        let b = self.bufs[slot].as_mut().unwrap();
        let offset = offset as usize;
        if b.bytes.len() < offset + data.len() {
            b.bytes.resize(offset + data.len(), 0);
        }
        b.bytes[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        match *op {
            Op::Create(limit) => {
                if limit > self.quota {
                    return Outcome::Err(Refused::QuotaExceeded(self.quota));
                }
                self.bufs.push(Some(ModelBuf {
                    kind: Kind::Scratch,
                    limit,
                    bytes: Vec::new(),
                }));
                Outcome::Ok(self.bufs.len() as u64 - 1, None)
            }
            Op::Len(s) => Outcome::Ok(self.buf(s).bytes.len() as u64, None),
            Op::Limit(s) => Outcome::Ok(self.buf(s).limit, None),
            Op::Read(s, offset, len) => {
                let bytes = &self.buf(s).bytes;
                if offset > bytes.len() as u64 {
                    return Outcome::Err(Refused::OutOfBounds(bytes.len() as u64));
                }
                let end = (offset as u128 + len as u128).min(bytes.len() as u128) as usize;
                let got = bytes[offset as usize..end].to_vec();
                Outcome::Ok(got.len() as u64, Some(got))
            }
            Op::Write(s, offset, ref data) => self.put(s, offset, data).into(),
            Op::Append(s, ref data) => {
                let len = self.buf(s).bytes.len() as u64;
                self.put(s, len, data).into()
            }
            Op::Truncate(s, n) => {
                let b = self.buf(s);
                if b.kind == Kind::Input {
                    return Outcome::Err(Refused::ReadOnly);
                }
                if n > b.bytes.len() as u64 {
                    return Outcome::Err(Refused::OutOfBounds(b.bytes.len() as u64));
                }
                self.bufs[s].as_mut().unwrap().bytes.truncate(n as usize);
                Outcome::Ok(0, None)
            }
            Op::Copy(dst, src, src_offset, offset, len) => {
                if self.buf(dst).kind == Kind::Input {
                    return Outcome::Err(Refused::ReadOnly);
                }
                let src_bytes = &self.buf(src).bytes;
                if src_offset > src_bytes.len() as u64 {
                    return Outcome::Err(Refused::OutOfBounds(src_bytes.len() as u64));
                }
                let count = len.min(src_bytes.len() as u64 - src_offset);
                // Through a temporary: memmove semantics for a self-copy.
                let data = src_bytes[src_offset as usize..(src_offset + count) as usize].to_vec();
                match self.put(dst, offset, &data) {
                    Ok(()) => Outcome::Ok(count, None),
                    Err(e) => Outcome::Err(e),
                }
            }
            Op::Drop(s) => {
                self.bufs[s] = None;
                Outcome::Ok(0, None)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The value, and the bytes of a read.
    Ok(u64, Option<Vec<u8>>),
    Err(Refused),
}

impl From<Result<(), Refused>> for Outcome {
    fn from(r: Result<(), Refused>) -> Self {
        match r {
            Ok(()) => Outcome::Ok(0, None),
            Err(e) => Outcome::Err(e),
        }
    }
}

// ---------------------------------------------------------- the operations

/// An operation on concrete slots (0 input, 1 output, 2.. created).
#[derive(Debug, Clone)]
enum Op {
    Create(u64),
    Len(usize),
    Limit(usize),
    Read(usize, u64, u32),
    Write(usize, u64, Vec<u8>),
    Append(usize, Vec<u8>),
    Truncate(usize, u64),
    Copy(usize, usize, u64, u64, u64),
    Drop(usize),
}

impl Op {
    fn encode(&self, out: &mut Vec<u8>) {
        let slot = |out: &mut Vec<u8>, s: usize| out.extend_from_slice(&(s as u32).to_le_bytes());
        let u64 = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&n.to_le_bytes());
        let data = |out: &mut Vec<u8>, d: &[u8]| {
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            out.extend_from_slice(d);
        };
        match self {
            Op::Create(limit) => {
                out.push(0);
                u64(out, *limit);
            }
            Op::Len(s) => {
                out.push(1);
                slot(out, *s);
            }
            Op::Limit(s) => {
                out.push(2);
                slot(out, *s);
            }
            Op::Read(s, offset, len) => {
                out.push(3);
                slot(out, *s);
                u64(out, *offset);
                out.extend_from_slice(&len.to_le_bytes());
            }
            Op::Write(s, offset, d) => {
                out.push(4);
                slot(out, *s);
                u64(out, *offset);
                data(out, d);
            }
            Op::Append(s, d) => {
                out.push(5);
                slot(out, *s);
                data(out, d);
            }
            Op::Truncate(s, n) => {
                out.push(6);
                slot(out, *s);
                u64(out, *n);
            }
            Op::Copy(dst, src, src_offset, offset, len) => {
                out.push(7);
                slot(out, *dst);
                slot(out, *src);
                u64(out, *src_offset);
                u64(out, *offset);
                u64(out, *len);
            }
            Op::Drop(s) => {
                out.push(8);
                slot(out, *s);
            }
        }
    }
}

/// An offset or length as generated: most near the edge of the buffer it
/// applies to, where the rules change their answer.
#[derive(Debug, Clone, Copy)]
enum Fig {
    /// The buffer's length plus this.
    Edge(i8),
    Abs(u64),
}

impl Fig {
    fn at(self, len: u64) -> u64 {
        match self {
            Fig::Edge(d) => (i128::from(len) + i128::from(d)).clamp(0, u64::MAX.into()) as u64,
            Fig::Abs(n) => n,
        }
    }
}

/// An operation as generated: slots are picks among the live ones.
#[derive(Debug, Clone)]
enum Draw {
    Create(u64),
    Len(usize),
    Limit(usize),
    Read(usize, Fig, u32),
    Write(usize, Fig, Vec<u8>),
    Append(usize, Vec<u8>),
    Truncate(usize, Fig),
    Copy(usize, usize, Fig, Fig, u64),
    Drop(usize),
}

impl Draw {
    /// The size of its encoding, which does not depend on any value.
    fn encoded_len(&self) -> usize {
        match self {
            Draw::Create(_) => 9,
            Draw::Len(_) | Draw::Limit(_) | Draw::Drop(_) => 5,
            Draw::Read(..) => 17,
            Draw::Write(_, _, d) => 17 + d.len(),
            Draw::Append(_, d) => 9 + d.len(),
            Draw::Truncate(..) => 13,
            Draw::Copy(..) => 33,
        }
    }
}

/// Offsets and lengths with no buffer to be relative to, and near `u64::MAX`.
fn figure() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0..48u64,
        1 => Just(u64::MAX),
        1 => u64::MAX - 48..=u64::MAX,
        1 => (1u64 << 63) - 1..=(1u64 << 63) + 1,
        1 => any::<u64>(),
    ]
}

fn fig() -> impl Strategy<Value = Fig> {
    prop_oneof![3 => (-3i8..=3).prop_map(Fig::Edge), 2 => figure().prop_map(Fig::Abs)]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..24)
}

fn draw() -> impl Strategy<Value = Draw> {
    let pick = any::<usize>;
    prop_oneof![
        2 => prop_oneof![0..80u64, figure()].prop_map(Draw::Create),
        1 => pick().prop_map(Draw::Len),
        1 => pick().prop_map(Draw::Limit),
        3 => (pick(), fig(), prop_oneof![0..48u32, Just(u32::MAX)])
            .prop_map(|(s, o, l)| Draw::Read(s, o, l)),
        3 => (pick(), fig(), data()).prop_map(|(s, o, d)| Draw::Write(s, o, d)),
        3 => (pick(), data()).prop_map(|(s, d)| Draw::Append(s, d)),
        2 => (pick(), fig()).prop_map(|(s, n)| Draw::Truncate(s, n)),
        3 => (pick(), pick(), fig(), fig(), figure())
            .prop_map(|(d, s, so, o, l)| Draw::Copy(d, s, so, o, l)),
        1 => pick().prop_map(Draw::Drop),
    ]
}

/// Turns draws into operations on live slots with figures near their
/// buffers' edges, by running them on the model as it goes. Lengths never
/// depend on byte values, so a zeroed input of the script's (fixed) size
/// stands in for the script itself.
fn resolve(draws: &[Draw], quota: u64) -> Vec<Op> {
    let input_len = draws.iter().map(Draw::encoded_len).sum();
    let mut model = Model::new(vec![0; input_len], MAX_OUTPUT, quota);
    draws
        .iter()
        .map(|d| {
            let live: Vec<usize> = (0..model.bufs.len())
                .filter(|&s| model.bufs[s].is_some())
                .collect();
            let any = |p: usize| live[p % live.len()];
            let len = |slot: usize| model.buf(slot).bytes.len() as u64;
            let op = match d {
                Draw::Create(limit) => Op::Create(*limit),
                Draw::Len(p) => Op::Len(any(*p)),
                Draw::Limit(p) => Op::Limit(any(*p)),
                Draw::Read(p, o, l) => Op::Read(any(*p), o.at(len(any(*p))), *l),
                Draw::Write(p, o, d) => Op::Write(any(*p), o.at(len(any(*p))), d.clone()),
                Draw::Append(p, d) => Op::Append(any(*p), d.clone()),
                Draw::Truncate(p, n) => Op::Truncate(any(*p), n.at(len(any(*p)))),
                Draw::Copy(pd, ps, so, o, l) => {
                    let (dst, src) = (any(*pd), any(*ps));
                    Op::Copy(dst, src, so.at(len(src)), o.at(len(dst)), *l)
                }
                Draw::Drop(p) => {
                    match live.iter().copied().filter(|&s| s >= 2).collect::<Vec<_>>()[..] {
                        [] => Op::Len(any(*p)),
                        ref scratch => Op::Drop(scratch[p % scratch.len()]),
                    }
                }
            };
            model.apply(&op);
            op
        })
        .collect()
}

// --------------------------------------------------- what a guest reports

#[derive(Debug, PartialEq, Eq)]
struct Report {
    output: Vec<u8>,
    outcomes: Vec<Outcome>,
    buffers: Vec<(u32, Vec<u8>)>,
}

/// The bytes the records of `outcomes` take.
fn ops_bytes(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Ok(_, Some(bytes)) => 17 + 4 + bytes.len(),
            _ => 17,
        })
        .sum()
}

/// Reads the interpreter's output (format at the top of its lib.rs).
fn parse(bytes: &[u8], ops: &[Op], payloads: bool) -> Report {
    let total = bytes.len();
    let output_len = u64::from_le_bytes(bytes[total - 8..].try_into().unwrap()) as usize;
    let mut at = output_len;
    let mut take = |n: usize| {
        let s = &bytes[at..at + n];
        at += n;
        s
    };
    let mut outcomes = Vec::new();
    for op in ops {
        let status = take(1)[0];
        let value = u64::from_le_bytes(take(8).try_into().unwrap());
        let payload = u64::from_le_bytes(take(8).try_into().unwrap());
        outcomes.push(if status == 0 {
            let read = matches!(op, Op::Read(..)).then(|| {
                let n = u32::from_le_bytes(take(4).try_into().unwrap()) as usize;
                take(n).to_vec()
            });
            Outcome::Ok(value, read)
        } else {
            // Where the path reports no figure, compare codes alone.
            let figure = if payloads { payload } else { 0 };
            Outcome::Err(match value {
                1 => Refused::OutOfBounds(figure),
                2 => Refused::LimitExceeded(figure),
                3 => Refused::ReadOnly,
                4 => Refused::QuotaExceeded(figure),
                other => panic!("unknown error code {other}"),
            })
        });
    }
    let mut buffers = Vec::new();
    let mut rest = total - 8 - output_len - ops_bytes(&outcomes);
    while rest > 0 {
        let slot = u32::from_le_bytes(take(4).try_into().unwrap());
        let len = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
        buffers.push((slot, take(len).to_vec()));
        rest -= 12 + len;
    }
    Report {
        output: bytes[..output_len].to_vec(),
        outcomes,
        buffers,
    }
}

fn expected(model: &Model, outcomes: &[Outcome], payloads: bool) -> Report {
    let strip = |o: &Outcome| match (o, payloads) {
        (Outcome::Err(Refused::OutOfBounds(_)), false) => Outcome::Err(Refused::OutOfBounds(0)),
        (Outcome::Err(Refused::LimitExceeded(_)), false) => Outcome::Err(Refused::LimitExceeded(0)),
        (Outcome::Err(Refused::QuotaExceeded(_)), false) => Outcome::Err(Refused::QuotaExceeded(0)),
        (o, _) => o.clone(),
    };
    Report {
        output: model.buf(1).bytes.clone(),
        outcomes: outcomes.iter().map(strip).collect(),
        buffers: model
            .bufs
            .iter()
            .enumerate()
            .filter_map(|(slot, b)| b.as_ref().map(|b| (slot as u32, b.bytes.clone())))
            .collect(),
    }
}

// ------------------------------------------------------------- the guests

const MAX_OUTPUT: u64 = 1 << 20;

struct Guests {
    host: Host,
    component: Guest,
    core: Guest,
}

fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| {
        let host = Host::new().unwrap();
        let component = host.load(&build("wasm32-wasip2")).unwrap();
        let core = host.load(&build("wasm32-unknown-unknown")).unwrap();
        assert!(component.is_component() && !core.is_component());
        Guests {
            host,
            component,
            core,
        }
    })
}

fn build(target: &str) -> Vec<u8> {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = wasm_build::build("tests/conformance/guest/Cargo.toml", target, &[], tmp);
    std::fs::read(dir.join("bufbridge_conformance_guest.wasm")).unwrap()
}

/// Runs one sequence through `guest` and the model; returns how many ops ran.
/// One way into the host: a guest, whether its errors carry figures, and
/// whether the input and output buffers are backed by files.
#[derive(Clone, Copy)]
struct Path {
    name: &'static str,
    guest: fn() -> &'static Guest,
    payloads: bool,
    files: bool,
}

const COMPONENT: Path = Path {
    name: "component path",
    guest: || &guests().component,
    payloads: true,
    files: false,
};

const CORE: Path = Path {
    name: "core path",
    guest: || &guests().core,
    payloads: false,
    files: false,
};

fn run_script(path: Path, script: Vec<u8>, limits: &Limits) -> Result<Vec<u8>, RunError> {
    let host = &guests().host;
    if !path.files {
        return host.run((path.guest)(), script, &[], limits);
    }
    let mut input = tempfile::tempfile().unwrap();
    input.write_all(&script).unwrap();
    let output = tempfile::tempfile().unwrap();
    let produced = host.run_with(
        (path.guest)(),
        Input::File(input),
        Output::File(output),
        &[],
        limits,
    )?;
    Ok(produced.into_bytes().unwrap())
}

fn check_path(path: Path, draws: &[Draw], quota: u64) -> Result<u64, TestCaseError> {
    let payloads = path.payloads;
    let ops = resolve(draws, quota);
    let mut script = Vec::new();
    for op in &ops {
        op.encode(&mut script);
    }
    let mut model = Model::new(script.clone(), MAX_OUTPUT, quota);
    let outcomes: Vec<Outcome> = ops.iter().map(|op| model.apply(op)).collect();
    let limits = Limits {
        max_output: MAX_OUTPUT,
        quota,
        ..Limits::default()
    };
    let out = run_script(path, script, &limits)
        .map_err(|e| TestCaseError::fail(format!("run failed: {e}")))?;
    let got = parse(&out, &ops, payloads);
    let want = expected(&model, &outcomes, payloads);
    prop_assert_eq!(&got.outcomes, &want.outcomes, "ops: {:?}", ops);
    prop_assert_eq!(&got.buffers, &want.buffers, "ops: {:?}", ops);
    prop_assert_eq!(&got.output, &want.output);
    Ok(ops.len() as u64)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

fn run_against_model(path: Path, cases: u32) {
    let ops = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::collection::vec(draw(), 1..60), 0..160u64);
    runner
        .run(&strategy, |(draws, quota)| {
            let n = check_path(path, &draws, quota)?;
            ops.fetch_add(n, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{}: {cases} sequences, {} operations, all matched the model",
        path.name,
        ops.into_inner()
    );
}

#[test]
fn component_path_matches_the_model() {
    run_against_model(COMPONENT, cases());
}

#[test]
fn core_path_matches_the_model() {
    run_against_model(CORE, cases());
}

/// The same with the input and output in files (scratch buffers stay in
/// memory), so positioned I/O and file-to-file copies answer to the model
/// too. Fewer cases: each one makes two files.
#[test]
fn file_backed_buffers_match_the_model() {
    let files = |path: Path, name| Path {
        name,
        files: true,
        ..path
    };
    run_against_model(files(COMPONENT, "component path, file-backed"), cases() / 4);
    run_against_model(files(CORE, "core path, file-backed"), cases() / 4);
}

/// A fixed sequence with every error, so a model and a path that agreed on
/// nothing interesting could not pass unnoticed.
#[test]
fn a_fixed_sequence_gives_every_error_on_both_paths() {
    let draws = vec![
        Draw::Create(100),                              // slot 2: quota is 10
        Draw::Create(8),                                // slot 2
        Draw::Append(2, b"hello".to_vec()),             // ok
        Draw::Read(2, Fig::Edge(1), 1),                 // out-of-bounds(5)
        Draw::Write(2, Fig::Edge(0), b"abcd".to_vec()), // limit-exceeded(8)
        Draw::Write(0, Fig::Abs(0), b"x".to_vec()),     // read-only
        Draw::Create(8),                                // slot 3
        Draw::Append(3, b"abcdef".to_vec()),            // quota-exceeded(10)
        Draw::Copy(2, 2, Fig::Abs(0), Fig::Abs(2), 3),  // self copy: "hehel", 3
        Draw::Read(2, Fig::Abs(0), u32::MAX),           // ok "hehel"
    ];
    // `resolve` picks among live slots [0, 1, 2, 3]; these picks name them directly.
    let ops = resolve(&draws, 10);
    for path in [COMPONENT, CORE] {
        check_path(path, &draws, 10).unwrap();
    }
    let mut model = Model::new(vec![], MAX_OUTPUT, 10);
    let outcomes: Vec<_> = ops.iter().map(|op| model.apply(op)).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Err(Refused::QuotaExceeded(10)),
            Outcome::Ok(2, None),
            Outcome::Ok(0, None),
            Outcome::Err(Refused::OutOfBounds(5)),
            Outcome::Err(Refused::LimitExceeded(8)),
            Outcome::Err(Refused::ReadOnly),
            Outcome::Ok(3, None),
            Outcome::Err(Refused::QuotaExceeded(10)),
            Outcome::Ok(3, None),
            Outcome::Ok(5, Some(b"hehel".to_vec())),
        ]
    );
}
