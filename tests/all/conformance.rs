//! One conformance suite for both guest paths: random sequences of buffer
//! operations run against a plain `Vec<u8>` model and, through the same
//! interpreter guest (tests/conformance/guest), against the component path
//! and the core-module path, and against the component path with
//! `streams.read-stream` mixed in. Every result and every buffer's final
//! bytes must match the model.
//!
//! `PROPTEST_CASES` sets how many sequences run (default 2000 per path).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

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

/// A stream as the guest sees it.
#[derive(Debug, Clone, Copy)]
enum ModelStream {
    /// Where the next delivery starts, and whether the buffer was changed
    /// since the last one (for the coverage figures).
    Open {
        slot: usize,
        position: u64,
        changed: bool,
    },
    /// Ended by the host: read again, it stays ended.
    Ended,
    /// Closed (dropped) by the guest: the interpreter answers a read as
    /// for an ended stream; never drawn.
    Closed,
}

/// How often the stream path's sequences met each case of the stream rules.
#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    /// Deliveries of bytes from the input, the output, scratch buffers.
    delivered: [u64; 3],
    /// Deliveries after the buffer was written, grown or truncated since
    /// the stream's last one.
    after_change: u64,
    probes: u64,
    ended_at_length: u64,
    ended_truncated_below: u64,
    ended_dropped: u64,
    read_after_end: u64,
    closed_early: u64,
    refused_opens: u64,
}

impl Coverage {
    fn add(&mut self, o: &Coverage) {
        for (a, b) in self.delivered.iter_mut().zip(o.delivered) {
            *a += b;
        }
        self.after_change += o.after_change;
        self.probes += o.probes;
        self.ended_at_length += o.ended_at_length;
        self.ended_truncated_below += o.ended_truncated_below;
        self.ended_dropped += o.ended_dropped;
        self.read_after_end += o.read_after_end;
        self.closed_early += o.closed_early;
        self.refused_opens += o.refused_opens;
    }

    /// Every figure, so a run can show that none is zero.
    fn figures(&self) -> [(&'static str, u64); 11] {
        [
            ("delivered from input", self.delivered[0]),
            ("from output", self.delivered[1]),
            ("from scratch", self.delivered[2]),
            ("after a change", self.after_change),
            ("probes", self.probes),
            ("ended at length", self.ended_at_length),
            ("truncated below", self.ended_truncated_below),
            ("dropped", self.ended_dropped),
            ("read after end", self.read_after_end),
            ("closed early", self.closed_early),
            ("refused opens", self.refused_opens),
        ]
    }
}

/// The contract of wit/buffers.wit and wit/streams.wit, written out again
/// independently of the host's rules module, on plain vectors.
struct Model {
    bufs: Vec<Option<ModelBuf>>,
    quota: u64,
    streams: Vec<ModelStream>,
    coverage: Coverage,
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
            streams: Vec::new(),
            coverage: Coverage::default(),
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

    /// Notes that `slot`'s bytes changed under the streams open on it.
    fn changed(&mut self, slot: usize) {
        for s in &mut self.streams {
            if let ModelStream::Open {
                slot: at, changed, ..
            } = s
                && *at == slot
            {
                *changed = true;
            }
        }
    }

    /// One read of stream `index` with room for `capacity` bytes, by the
    /// rules of `read-stream`: the buffer as it is now decides.
    fn read_stream(&mut self, index: usize, capacity: u64) -> Outcome {
        let ModelStream::Open {
            slot,
            position,
            changed,
        } = self.streams[index]
        else {
            self.coverage.read_after_end += 1;
            return Outcome::Ended;
        };
        if capacity == 0 {
            // A readiness probe: answered at once, nothing moves, whatever
            // became of the buffer.
            self.coverage.probes += 1;
            return Outcome::Ok(0, Some(Vec::new()));
        }
        let Some(b) = &self.bufs[slot] else {
            self.coverage.ended_dropped += 1;
            self.streams[index] = ModelStream::Ended;
            return Outcome::Ended;
        };
        let len = b.bytes.len() as u64;
        if position >= len {
            match position > len {
                true => self.coverage.ended_truncated_below += 1,
                false => self.coverage.ended_at_length += 1,
            }
            self.streams[index] = ModelStream::Ended;
            return Outcome::Ended;
        }
        let n = capacity.min(len - position);
        let got = b.bytes[position as usize..(position + n) as usize].to_vec();
        self.coverage.delivered[b.kind as usize] += 1;
        self.coverage.after_change += u64::from(changed);
        self.streams[index] = ModelStream::Open {
            slot,
            position: position + n,
            changed: false,
        };
        Outcome::Ok(n, Some(got))
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
        self.changed(slot);
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
                self.changed(s);
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
            Op::OpenStream(s, offset) => {
                let len = self.buf(s).bytes.len() as u64;
                if offset > len {
                    self.coverage.refused_opens += 1;
                    return Outcome::Err(Refused::OutOfBounds(len));
                }
                self.streams.push(ModelStream::Open {
                    slot: s,
                    position: offset,
                    changed: false,
                });
                Outcome::Ok(self.streams.len() as u64 - 1, None)
            }
            Op::ReadStream(i, capacity) => self.read_stream(i, capacity),
            Op::CloseStream(i) => {
                if let ModelStream::Open { .. } = self.streams[i] {
                    self.coverage.closed_early += 1;
                }
                self.streams[i] = ModelStream::Closed;
                Outcome::Ok(0, None)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The value, and the bytes of a read or a stream's delivery.
    Ok(u64, Option<Vec<u8>>),
    Err(Refused),
    /// The stream has ended.
    Ended,
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
    /// Slot and offset.
    OpenStream(usize, u64),
    /// Stream and capacity.
    ReadStream(usize, u64),
    CloseStream(usize),
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
            Op::OpenStream(s, offset) => {
                out.push(9);
                slot(out, *s);
                u64(out, *offset);
            }
            Op::ReadStream(stream, capacity) => {
                out.push(10);
                slot(out, *stream);
                u64(out, *capacity);
            }
            Op::CloseStream(stream) => {
                out.push(11);
                slot(out, *stream);
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
    OpenStream(usize, Fig),
    /// A pick among the streams, and the capacity.
    ReadStream(usize, u64),
    CloseStream(usize),
    /// The draw (a change of a buffer) aimed at the buffer of an open
    /// stream, picked by the first number: so buffers change between
    /// deliveries.
    AtStream(usize, Box<Draw>),
}

impl Draw {
    /// The size of its encoding, which does not depend on any value.
    fn encoded_len(&self) -> usize {
        match self {
            Draw::Create(_) => 9,
            Draw::Len(_) | Draw::Limit(_) | Draw::Drop(_) | Draw::CloseStream(_) => 5,
            Draw::Read(..) => 17,
            Draw::Write(_, _, d) => 17 + d.len(),
            Draw::Append(_, d) => 9 + d.len(),
            Draw::Truncate(..) | Draw::OpenStream(..) | Draw::ReadStream(..) => 13,
            Draw::Copy(..) => 33,
            Draw::AtStream(_, d) => d.encoded_len(),
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

/// The stream path's draws: every other op as on the other paths, the
/// stream ops, and changes aimed at streamed buffers.
fn stream_draw() -> impl Strategy<Value = Draw> {
    let pick = any::<usize>;
    let offset = prop_oneof![
        2 => Just(Fig::Abs(0)),
        3 => (-3i8..=1).prop_map(Fig::Edge),
        1 => figure().prop_map(Fig::Abs),
    ];
    let capacity = prop_oneof![1 => Just(0), 8 => 1..16u64, 1 => 16..64u64, 1 => Just(1 << 16)];
    let change = prop_oneof![
        3 => (pick(), fig(), data()).prop_map(|(s, o, d)| Draw::Write(s, o, d)),
        3 => (pick(), data()).prop_map(|(s, d)| Draw::Append(s, d)),
        3 => (pick(), fig()).prop_map(|(s, n)| Draw::Truncate(s, n)),
        1 => (pick(), pick(), fig(), fig(), figure())
            .prop_map(|(d, s, so, o, l)| Draw::Copy(d, s, so, o, l)),
        2 => pick().prop_map(Draw::Drop),
    ];
    prop_oneof![
        10 => draw(),
        3 => (pick(), offset).prop_map(|(s, o)| Draw::OpenStream(s, o)),
        7 => (pick(), capacity).prop_map(|(s, c)| Draw::ReadStream(s, c)),
        1 => pick().prop_map(Draw::CloseStream),
        5 => (pick(), change).prop_map(|(s, d)| Draw::AtStream(s, Box::new(d))),
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
            let op = resolve_one(&model, d, None);
            model.apply(&op);
            op
        })
        .collect()
}

/// One draw as an operation on `model` as it is; `aim`, when given, is the
/// slot its (first) buffer must be.
fn resolve_one(model: &Model, d: &Draw, aim: Option<usize>) -> Op {
    let live: Vec<usize> = (0..model.bufs.len())
        .filter(|&s| model.bufs[s].is_some())
        .collect();
    let any = |p: usize| live[p % live.len()];
    let first = |p: usize| aim.unwrap_or_else(|| any(p));
    let len = |slot: usize| model.buf(slot).bytes.len() as u64;
    let streams = |keep: fn(&ModelStream) -> bool| -> Vec<usize> {
        (0..model.streams.len())
            .filter(|&i| keep(&model.streams[i]))
            .collect()
    };
    let open = streams(|s| matches!(s, ModelStream::Open { .. }));
    let not_closed = streams(|s| !matches!(s, ModelStream::Closed));
    match d {
        Draw::Create(limit) => Op::Create(*limit),
        Draw::Len(p) => Op::Len(any(*p)),
        Draw::Limit(p) => Op::Limit(any(*p)),
        Draw::Read(p, o, l) => Op::Read(any(*p), o.at(len(any(*p))), *l),
        Draw::Write(p, o, d) => Op::Write(first(*p), o.at(len(first(*p))), d.clone()),
        Draw::Append(p, d) => Op::Append(first(*p), d.clone()),
        Draw::Truncate(p, n) => Op::Truncate(first(*p), n.at(len(first(*p)))),
        Draw::Copy(pd, ps, so, o, l) => {
            let (dst, src) = (first(*pd), any(*ps));
            Op::Copy(dst, src, so.at(len(src)), o.at(len(dst)), *l)
        }
        Draw::Drop(p) => match aim.filter(|&s| s >= 2) {
            Some(slot) => Op::Drop(slot),
            None => match live.iter().copied().filter(|&s| s >= 2).collect::<Vec<_>>()[..] {
                [] => Op::Len(any(*p)),
                ref scratch => Op::Drop(scratch[p % scratch.len()]),
            },
        },
        Draw::OpenStream(p, o) => {
            // Scratch buffers are fewer and shorter: one in three opens
            // is on one, where there is one.
            let scratch: Vec<usize> = live.iter().copied().filter(|&s| s >= 2).collect();
            let slot = match p % 3 {
                0 if !scratch.is_empty() => scratch[p / 3 % scratch.len()],
                _ => any(*p),
            };
            Op::OpenStream(slot, o.at(len(slot)))
        }
        Draw::ReadStream(p, capacity) => {
            // Mostly streams still open; one in eight a stream that ended.
            let from = match p % 8 {
                0 => &not_closed,
                _ => &open,
            };
            match &from[..] {
                // Nothing to read: an open instead, whose encoding is as long
                // (the reason `read-stream`'s capacity is a u64).
                [] => Op::OpenStream(any(*p), 0),
                c => Op::ReadStream(c[p % c.len()], *capacity),
            }
        }
        Draw::CloseStream(p) => match &not_closed[..] {
            [] => Op::Len(any(*p)),
            c => Op::CloseStream(c[p % c.len()]),
        },
        Draw::AtStream(p, d) => {
            // Not the input: it refuses every change.
            let streamed: Vec<usize> = open
                .iter()
                .filter_map(|&i| match model.streams[i] {
                    ModelStream::Open { slot, .. } if slot > 0 && model.bufs[slot].is_some() => {
                        Some(slot)
                    }
                    _ => None,
                })
                .collect();
            let aim = (!streamed.is_empty()).then(|| streamed[p % streamed.len()]);
            resolve_one(model, d, aim)
        }
    }
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
        outcomes.push(if status == 2 {
            Outcome::Ended
        } else if status == 0 {
            let read = matches!(op, Op::Read(..) | Op::ReadStream(..)).then(|| {
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
        let wasm = build("wasm32-wasip2", false);
        // Without the stream ops it does not import `streams`, so it runs
        // on the host's first engine, as other guests do.
        assert!(!host.inspect(&wasm).unwrap().streams);
        let component = host.load(&wasm).unwrap();
        let core = host.load(&build("wasm32-unknown-unknown", false)).unwrap();
        assert!(component.is_component() && !core.is_component());
        Guests {
            host,
            component,
            core,
        }
    })
}

/// The interpreter with the stream ops, on the host's concurrent engine;
/// built apart from the others, which need not wait for it.
fn stream_guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let wasm = build("wasm32-wasip2", true);
        let host = &guests().host;
        assert!(host.inspect(&wasm).unwrap().streams);
        host.load(&wasm).unwrap()
    })
}

fn build(target: &str, streams: bool) -> Vec<u8> {
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let manifest = "tests/conformance/guest/Cargo.toml";
    let dir = match streams {
        false => wasm_build::build(manifest, target, &[], tmp),
        // A target dir of its own: the two builds' .wasm files share a name.
        true => wasm_build::build(
            manifest,
            target,
            &["--features", "streams"],
            &tmp.join("conformance-streams"),
        ),
    };
    std::fs::read(dir.join("bufbridge_conformance_guest.wasm")).unwrap()
}

/// One way into the host: a guest, whether its errors carry figures,
/// whether the input and output buffers are backed by files, and whether
/// its sequences include the stream ops.
#[derive(Clone, Copy)]
struct Path {
    name: &'static str,
    guest: fn() -> &'static Guest,
    payloads: bool,
    files: bool,
    streams: bool,
}

const COMPONENT: Path = Path {
    name: "component path",
    guest: || &guests().component,
    payloads: true,
    files: false,
    streams: false,
};

const CORE: Path = Path {
    name: "core path",
    guest: || &guests().core,
    payloads: false,
    files: false,
    streams: false,
};

const STREAMS: Path = Path {
    name: "component path with read-stream",
    guest: stream_guest,
    payloads: true,
    files: false,
    streams: true,
};

fn file_backed(path: Path, name: &'static str) -> Path {
    Path {
        name,
        files: true,
        ..path
    }
}

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

/// Runs one sequence through `path` and the model; returns the model.
fn check_path(path: Path, draws: &[Draw], quota: u64) -> Result<Model, TestCaseError> {
    check_ops(path, &resolve(draws, quota), quota)
}

fn check_ops(path: Path, ops: &[Op], quota: u64) -> Result<Model, TestCaseError> {
    let payloads = path.payloads;
    let mut script = Vec::new();
    for op in ops {
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
        .map_err(|e| TestCaseError::fail(format!("run failed: {e}; ops: {ops:?}")))?;
    let got = parse(&out, ops, payloads);
    let want = expected(&model, &outcomes, payloads);
    prop_assert_eq!(&got.outcomes, &want.outcomes, "ops: {:?}", ops);
    prop_assert_eq!(&got.buffers, &want.buffers, "ops: {:?}", ops);
    prop_assert_eq!(&got.output, &want.output);
    Ok(model)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(2000)
}

fn run_against_model(path: Path, cases: u32) {
    let ops = AtomicU64::new(0);
    let coverage = Mutex::new(Coverage::default());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let draw = match path.streams {
        false => draw().boxed(),
        true => stream_draw().boxed(),
    };
    let strategy = (prop::collection::vec(draw, 1..60), 0..160u64);
    runner
        .run(&strategy, |(draws, quota)| {
            let model = check_path(path, &draws, quota)?;
            ops.fetch_add(draws.len() as u64, Ordering::Relaxed);
            coverage.lock().unwrap().add(&model.coverage);
            Ok(())
        })
        .unwrap();
    eprintln!(
        "{}: {cases} sequences, {} operations, all matched the model",
        path.name,
        ops.into_inner()
    );
    if path.streams {
        let figures = coverage.into_inner().unwrap().figures();
        eprintln!("{}: streams {figures:?}", path.name);
        // Enough sequences meet every case of the stream rules; fewer (a
        // small PROPTEST_CASES) need not.
        if cases >= STREAM_COVERAGE_CASES {
            let missed: Vec<_> = figures.iter().filter(|(_, n)| *n == 0).collect();
            assert!(missed.is_empty(), "{}: never met {missed:?}", path.name);
        }
    }
}

/// How many sequences surely meet every case of the stream rules.
const STREAM_COVERAGE_CASES: u32 = 400;

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
    run_against_model(
        file_backed(COMPONENT, "component path, file-backed"),
        cases() / 4,
    );
    run_against_model(file_backed(CORE, "core path, file-backed"), cases() / 4);
}

/// Streams of the input, the output and scratch buffers, read beside
/// every other op, their buffers changed, truncated and dropped between
/// deliveries; in memory and with the input and output in files.
#[test]
fn stream_path_matches_the_model() {
    run_against_model(STREAMS, cases());
    run_against_model(
        file_backed(STREAMS, "component path with read-stream, file-backed"),
        cases() / 4,
    );
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

/// Each rule of `read-stream` once, in a fixed sequence, in memory and
/// file-backed: the model's outcomes spelled out, so a model that agreed
/// with a broken host could not pass unnoticed.
#[test]
fn a_fixed_sequence_gives_every_stream_rule() {
    let delivered = |bytes: &[u8]| Outcome::Ok(bytes.len() as u64, Some(bytes.to_vec()));
    let (ok, ok_at) = (Outcome::Ok(0, None), |n| Outcome::Ok(n, None));
    let steps = vec![
        (Op::Create(16), ok_at(2)),
        (Op::Append(2, b"abcdef".to_vec()), ok.clone()),
        (Op::OpenStream(2, 7), Outcome::Err(Refused::OutOfBounds(6))),
        (Op::OpenStream(2, 1), ok_at(0)),
        (Op::ReadStream(0, 2), delivered(b"bc")),
        (Op::ReadStream(0, 0), delivered(b"")), // a probe: nothing moves
        (Op::Append(2, b"gh".to_vec()), ok.clone()),
        (Op::ReadStream(0, 16), delivered(b"defgh")), // sees the append
        (Op::ReadStream(0, 1), Outcome::Ended),       // at the length
        (Op::ReadStream(0, 1), Outcome::Ended),       // and stays ended
        (Op::OpenStream(2, 0), ok_at(1)),
        (Op::ReadStream(1, 4), delivered(b"abcd")),
        (Op::Truncate(2, 2), ok.clone()),
        (Op::ReadStream(1, 4), Outcome::Ended), // truncated below the position
        (Op::OpenStream(0, 0), ok_at(2)),       // the input: this script
        (Op::ReadStream(2, 1), delivered(&[0])), // its first op is `create`
        (Op::CloseStream(2), ok.clone()),       // closed early
        (Op::OpenStream(0, 1), ok_at(3)),       // and opened again
        (Op::ReadStream(3, 8), delivered(&16u64.to_le_bytes())),
        (Op::OpenStream(1, 0), ok_at(4)), // the output, empty yet
        (Op::Write(1, 0, b"xy".to_vec()), ok.clone()),
        (Op::ReadStream(4, 8), delivered(b"xy")),
        (Op::OpenStream(2, 1), ok_at(5)),
        (Op::ReadStream(5, 0), delivered(b"")),
        (Op::Drop(2), ok.clone()),
        (Op::ReadStream(5, 0), delivered(b"")), // a probe, even now
        (Op::ReadStream(5, 4), Outcome::Ended), // dropped
    ];
    let ops: Vec<Op> = steps.iter().map(|(op, _)| op.clone()).collect();
    let mut script = Vec::new();
    for op in &ops {
        op.encode(&mut script);
    }
    let mut model = Model::new(script, MAX_OUTPUT, 64);
    for (i, (op, want)) in steps.iter().enumerate() {
        assert_eq!(&model.apply(op), want, "step {i}: {op:?}");
    }
    for path in [
        STREAMS,
        file_backed(STREAMS, "component path with read-stream, file-backed"),
    ] {
        check_ops(path, &ops, 64).unwrap_or_else(|e| panic!("{}: {e}", path.name));
    }
}
