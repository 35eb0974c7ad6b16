//! A conformance guest: runs a binary script of buffer operations and writes
//! what each returned, so a host test can compare both guest paths with a
//! model. The same interpreter is built twice: as a component on
//! wasm32-wasip2 (`component.rs`) and as a core module on
//! wasm32-unknown-unknown (`core.rs`); and a third time as a component with
//! the feature `streams`, which adds the stream ops (9-11).
//!
//! Script (the input), little-endian, one op after another:
//!
//! | op | fields |
//! |----|--------|
//! | 0 create   | limit u64 |
//! | 1 len      | slot u32 |
//! | 2 limit    | slot u32 |
//! | 3 read     | slot u32, offset u64, len u32 |
//! | 4 write    | slot u32, offset u64, n u32, n bytes |
//! | 5 append   | slot u32, n u32, n bytes |
//! | 6 truncate | slot u32, len u64 |
//! | 7 copy     | dst slot u32, src slot u32, src_offset u64, offset u64, len u64 |
//! | 8 drop     | slot u32 |
//! | 9 open-stream  | slot u32, offset u64 |
//! | 10 read-stream | stream u32, capacity u64 |
//! | 11 close-stream | stream u32 |
//!
//! Slots: 0 is the input, 1 the output, 2.. the buffers made by `create`, in
//! order. Streams: 0.. the streams `open-stream` opened, in order. The whole
//! input is the script.
//!
//! `read-stream` is one read of the stream with room for `capacity` bytes
//! (0: a readiness probe). Once the host has ended a stream, or the script
//! closed it (dropped the guest's end), reading it again records "ended"
//! without asking the host: the component model traps a read after the end.
//!
//! Output: the output buffer's own bytes as the ops left them, then one
//! record per op — status u8 (0 ok, 1 err, 2 the stream ended), value u64
//! (the ok value, or the error code 1 out-of-bounds, 2 limit-exceeded, 3
//! read-only, 4 quota-exceeded), payload u64 (the error's figure, or
//! u64::MAX where the path has none), and for an ok `read` or `read-stream`
//! the bytes (u32 length, bytes) — then, for every slot that is still live,
//! u32 slot, u64 length and its bytes; last, the output buffer's length
//! before the records (u64), so a reader can find where they start. An ok
//! `create` and `open-stream` give the new slot and stream as their value.

#[cfg(target_os = "wasi")]
mod component;
#[cfg(not(target_os = "wasi"))]
mod core;

#[cfg(all(feature = "streams", not(target_os = "wasi")))]
compile_error!("the `streams` feature needs the component backend (wasm32-wasip2)");

/// A refused operation: the error code and, where the path reports it, its figure.
pub struct Refused {
    code: u64,
    payload: Option<u64>,
}

/// What the interpreter needs of a guest path.
pub trait Api {
    type Buf;
    fn create(&self, limit: u64) -> Result<Self::Buf, Refused>;
    fn len(&self, b: &Self::Buf) -> u64;
    fn limit(&self, b: &Self::Buf) -> u64;
    fn read(&self, b: &Self::Buf, offset: u64, len: u32) -> Result<Vec<u8>, Refused>;
    fn write(&self, b: &Self::Buf, offset: u64, data: &[u8]) -> Result<(), Refused>;
    fn append(&self, b: &Self::Buf, data: &[u8]) -> Result<(), Refused>;
    fn truncate(&self, b: &Self::Buf, len: u64) -> Result<(), Refused>;
    fn copy(
        &self,
        dst: &Self::Buf,
        src: &Self::Buf,
        src_offset: u64,
        offset: u64,
        len: u64,
    ) -> Result<u64, Refused>;
    fn drop(&self, b: Self::Buf);
    /// A stream's reading end; dropping it closes the stream.
    #[cfg(feature = "streams")]
    type Stream;
    #[cfg(feature = "streams")]
    fn open_stream(&self, b: &Self::Buf, offset: u64) -> Result<Self::Stream, Refused>;
    /// One read with room for `capacity` bytes: what it delivered, or
    /// `None` when the host ended the stream.
    #[cfg(feature = "streams")]
    fn read_stream(&self, s: &mut Self::Stream, capacity: u64) -> Option<Vec<u8>>;
}

/// A stream the script opened, as the guest holds it.
#[cfg(feature = "streams")]
enum Stream<S> {
    Open(S),
    /// Ended by the host or closed by the script: never read again.
    Over,
}

struct Script<'a> {
    bytes: &'a [u8],
}

impl Script<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        head.try_into().unwrap()
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn data(&mut self) -> &[u8] {
        let n = self.u32() as usize;
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        head
    }
}

fn bytes_value(out: &mut Vec<u8>, bytes: Vec<u8>) -> u64 {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&bytes);
    bytes.len() as u64
}

fn record<T>(
    out: &mut Vec<u8>,
    result: Result<T, Refused>,
    value: impl FnOnce(&mut Vec<u8>, T) -> u64,
) {
    match result {
        Ok(v) => {
            out.push(0);
            let at = out.len();
            out.extend_from_slice(&[0; 16]);
            let v = value(out, v);
            out[at..at + 8].copy_from_slice(&v.to_le_bytes());
            out[at + 8..at + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        }
        Err(e) => {
            out.push(1);
            out.extend_from_slice(&e.code.to_le_bytes());
            out.extend_from_slice(&e.payload.unwrap_or(u64::MAX).to_le_bytes());
        }
    }
}

/// Runs `script` with slots 0 and 1 holding the input and output; returns
/// the records to append to the output.
pub fn run<A: Api>(api: &A, script: &[u8], input: A::Buf, output: A::Buf) -> Vec<u8> {
    let mut slots: Vec<Option<A::Buf>> = vec![Some(input), Some(output)];
    let mut s = Script { bytes: script };
    let mut out = Vec::new();
    #[cfg(feature = "streams")]
    let mut streams: Vec<Stream<A::Stream>> = Vec::new();
    while !s.bytes.is_empty() {
        let op = s.u8();
        #[cfg(feature = "streams")]
        if op == 10 || op == 11 {
            let stream = &mut streams[s.u32() as usize];
            if op == 11 {
                // Drops the guest's end, if the host had not ended it.
                *stream = Stream::Over;
                record(&mut out, Ok(()), |_, ()| 0);
                continue;
            }
            let capacity = s.u64();
            let delivered = match stream {
                Stream::Open(open) => api.read_stream(open, capacity),
                Stream::Over => None,
            };
            match delivered {
                Some(bytes) => record(&mut out, Ok(bytes), bytes_value),
                None => {
                    *stream = Stream::Over;
                    out.push(2);
                    out.extend_from_slice(&0u64.to_le_bytes());
                    out.extend_from_slice(&u64::MAX.to_le_bytes());
                }
            }
            continue;
        }
        if op == 0 {
            let limit = s.u64();
            match api.create(limit) {
                Ok(b) => {
                    slots.push(Some(b));
                    record(&mut out, Ok(()), |_, ()| slots.len() as u64 - 1);
                }
                Err(e) => record::<()>(&mut out, Err(e), |_, ()| 0),
            }
            continue;
        }
        let slot = s.u32() as usize;
        let b = slots[slot].as_ref().expect("the script names a live slot");
        match op {
            1 => record(&mut out, Ok(api.len(b)), |_, n| n),
            2 => record(&mut out, Ok(api.limit(b)), |_, n| n),
            3 => {
                let (offset, len) = (s.u64(), s.u32());
                record(&mut out, api.read(b, offset, len), bytes_value);
            }
            4 => {
                let offset = s.u64();
                record(&mut out, api.write(b, offset, s.data()), |_, ()| 0);
            }
            5 => record(&mut out, api.append(b, s.data()), |_, ()| 0),
            6 => record(&mut out, api.truncate(b, s.u64()), |_, ()| 0),
            7 => {
                let src = slots[s.u32() as usize].as_ref().expect("live source slot");
                let (src_offset, offset, len) = (s.u64(), s.u64(), s.u64());
                record(
                    &mut out,
                    api.copy(b, src, src_offset, offset, len),
                    |_, n| n,
                );
            }
            8 => {
                api.drop(slots[slot].take().unwrap());
                record(&mut out, Ok(()), |_, ()| 0);
            }
            #[cfg(feature = "streams")]
            9 => match api.open_stream(b, s.u64()) {
                Ok(stream) => {
                    streams.push(Stream::Open(stream));
                    record(&mut out, Ok(()), |_, ()| streams.len() as u64 - 1);
                }
                Err(e) => record::<()>(&mut out, Err(e), |_, ()| 0),
            },
            other => panic!("unknown op {other}"),
        }
    }
    let output_len = api.len(slots[1].as_ref().expect("the output is never dropped"));
    for (slot, b) in slots.iter().enumerate() {
        if let Some(b) = b {
            let len = api.len(b);
            out.extend_from_slice(&(slot as u32).to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            let mut offset = 0;
            while offset < len {
                let chunk = api
                    .read(b, offset, 1 << 16)
                    .ok()
                    .expect("reading a live buffer");
                offset += chunk.len() as u64;
                out.extend_from_slice(&chunk);
            }
        }
    }
    out.extend_from_slice(&output_len.to_le_bytes());
    out
}
