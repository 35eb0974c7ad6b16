//! A test-only guest, built from `wit/` alone, that reads buffers through
//! `streams.read-stream` (tests/streams.rs). Its `process` is synchronous:
//! each read of a stream runs in `wit_bindgen::block_on`, which works
//! because the host answers every read at once.
//!
//! The first argument picks the command:
//!
//! - `cat OFFSET CAPACITY`: streams the input from `OFFSET`, each read with
//!   room for `CAPACITY` bytes, and appends what each delivers to the
//!   output; a `buffer-error` fails the run with `read-stream: ERROR` (the
//!   WIT's spelling, `out-of-bounds(5)`).
//! - `count OFFSET CAPACITY`: the same reads, but writes only
//!   `BYTES bytes in N reads` (the reads that delivered bytes), so no
//!   `append` comes near the copy cap.
//! - `spin`: loops forever without calling the host.
//! - `forge`: opens a stream on buffer handle 12345, which it was never
//!   given (the host must trap the guest).
//! - `script OP...`: runs the operations in order and writes one line per
//!   operation to the output (see [`script`]).

use std::mem::ManuallyDrop;

use wit_bindgen::StreamResult;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "stream-processor",
});

use bufbridge::buffers::buffers::BufferError;
use bufbridge::buffers::streams::read_stream;

type Reader = wit_bindgen::StreamReader<u8>;

struct Streams;

impl Guest for Streams {
    fn process(input: &Buffer, output: &Buffer, args: Vec<String>) -> Result<(), String> {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["cat", offset, capacity] => {
                let offset = number(offset)?;
                let capacity = number(capacity)? as usize;
                let mut reader =
                    read_stream(input, offset).map_err(|e| format!("read-stream: {}", wit(e)))?;
                let mut chunk = Vec::with_capacity(capacity);
                loop {
                    let (result, bytes);
                    (reader, result, bytes) = read(reader, chunk);
                    match result {
                        StreamResult::Complete(_) => {
                            output
                                .append(&bytes)
                                .map_err(|e| format!("append: {}", wit(e)))?;
                            chunk = bytes;
                            chunk.clear();
                        }
                        StreamResult::Dropped => return Ok(()),
                        StreamResult::Cancelled => return Err("a read was cancelled".into()),
                    }
                }
            }
            ["count", offset, capacity] => {
                let offset = number(offset)?;
                let capacity = number(capacity)? as usize;
                let mut reader =
                    read_stream(input, offset).map_err(|e| format!("read-stream: {}", wit(e)))?;
                let (mut bytes, mut reads) = (0, 0);
                let mut chunk = Vec::with_capacity(capacity);
                loop {
                    let result;
                    (reader, result, chunk) = read(reader, chunk);
                    match result {
                        StreamResult::Complete(n) => {
                            bytes += n;
                            reads += 1;
                            chunk.clear();
                        }
                        StreamResult::Dropped => break,
                        StreamResult::Cancelled => return Err("a read was cancelled".into()),
                    }
                }
                let line = format!("{bytes} bytes in {reads} reads\n");
                output
                    .append(line.as_bytes())
                    .map_err(|e| format!("append: {}", wit(e)))
            }
            ["spin"] => loop {
                // Never calls the host: only the time limit stops it.
                std::hint::black_box(());
            },
            ["forge"] => {
                // SAFETY: deliberately wrong; the host is meant to trap us.
                let forged = ManuallyDrop::new(unsafe { Buffer::from_handle(12345) });
                match read_stream(&forged, 0) {
                    Ok(_) => Err("forge: the host opened a stream".into()),
                    Err(e) => Err(format!("forge: the host answered {}", wit(e))),
                }
            }
            ["script", ops @ ..] => script(input, output, ops),
            _ => Err(format!("streams: unknown command {words:?}")),
        }
    }
}

/// One read of `reader` into the spare capacity of `buf`, to its end.
fn read(mut reader: Reader, buf: Vec<u8>) -> (Reader, StreamResult, Vec<u8>) {
    wit_bindgen::block_on(async move {
        let (result, buf) = reader.read(buf).await;
        (reader, result, buf)
    })
}

/// Runs `ops` and writes one line per operation to `output`:
///
/// - `input`, `output`: the operations below act on the input, the output
///   (whose bytes the log follows);
/// - `scratch=TEXT`: a new scratch buffer holding `TEXT` (limit 64); the
///   operations below act on it;
/// - `open=OFFSET`: opens a stream of the buffer from `OFFSET` (`open ok`,
///   or `open out-of-bounds(5)`), dropping the one open before;
/// - `read=N`: one read with room for `N` bytes (`read BYTES`, lossy
///   UTF-8; `read end` when the host has ended the stream, which closes
///   it; `read none` when no stream is open);
/// - `write=OFFSET:TEXT`, `append=TEXT`, `truncate=LEN`: change the buffer;
/// - `drop`: drops the scratch buffer (the stream stays open);
/// - `close`: drops the guest's end of the stream.
fn script(input: &Buffer, output: &Buffer, ops: &[&str]) -> Result<(), String> {
    let mut scratch: Option<Buffer> = None;
    let mut target = Target::Input;
    let mut reader: Option<Reader> = None;
    let mut log = String::new();
    for op in ops {
        let (name, arg) = op.split_once('=').unwrap_or((op, ""));
        let buffer = || -> Result<&Buffer, String> {
            match (&scratch, target) {
                (_, Target::Input) => Ok(input),
                (_, Target::Output) => Ok(output),
                (Some(scratch), Target::Scratch) => Ok(scratch),
                (None, Target::Scratch) => Err(format!("{op}: the scratch buffer was dropped")),
            }
        };
        let line = match name {
            "input" => {
                target = Target::Input;
                "input".to_string()
            }
            "output" => {
                target = Target::Output;
                "output".to_string()
            }
            "scratch" => {
                let buffer = Buffer::create(64).map_err(|e| format!("create: {}", wit(e)))?;
                buffer
                    .append(arg.as_bytes())
                    .map_err(|e| format!("append: {}", wit(e)))?;
                scratch = Some(buffer);
                target = Target::Scratch;
                format!("scratch {arg}")
            }
            "open" => {
                reader = None;
                match read_stream(buffer()?, number(arg)?) {
                    Ok(opened) => {
                        reader = Some(opened);
                        "open ok".to_string()
                    }
                    Err(e) => format!("open {}", wit(e)),
                }
            }
            "read" => match reader.take() {
                // Reading on after the end traps in the component model.
                None => "read none".to_string(),
                Some(open) => {
                    let capacity = number(arg)? as usize;
                    let (open, result, bytes) = read(open, Vec::with_capacity(capacity));
                    match result {
                        StreamResult::Complete(_) => {
                            reader = Some(open);
                            format!("read {}", String::from_utf8_lossy(&bytes))
                        }
                        StreamResult::Dropped => "read end".to_string(),
                        StreamResult::Cancelled => "read cancelled".to_string(),
                    }
                }
            },
            "write" => {
                let (offset, text) = arg.split_once(':').ok_or(format!("{op}: OFFSET:TEXT"))?;
                let written = buffer()?.write(number(offset)?, text.as_bytes());
                format!("write {}", answer(written))
            }
            "append" => format!("append {}", answer(buffer()?.append(arg.as_bytes()))),
            "truncate" => format!("truncate {}", answer(buffer()?.truncate(number(arg)?))),
            "drop" => {
                scratch = None;
                "drop".to_string()
            }
            "close" => {
                reader = None;
                "close".to_string()
            }
            _ => return Err(format!("unknown operation {op}")),
        };
        log.push_str(&line);
        log.push('\n');
    }
    output
        .append(log.as_bytes())
        .map_err(|e| format!("append: {}", wit(e)))
}

/// Which buffer a script's operations act on.
#[derive(Clone, Copy)]
enum Target {
    Input,
    Output,
    Scratch,
}

fn answer(result: Result<(), BufferError>) -> String {
    result.map_or_else(wit, |()| "ok".to_string())
}

/// A buffer error as the WIT spells it.
fn wit(e: BufferError) -> String {
    match e {
        BufferError::OutOfBounds(n) => format!("out-of-bounds({n})"),
        BufferError::LimitExceeded(n) => format!("limit-exceeded({n})"),
        BufferError::ReadOnly => "read-only".to_string(),
        BufferError::QuotaExceeded(n) => format!("quota-exceeded({n})"),
    }
}

fn number(word: &str) -> Result<u64, String> {
    word.parse().map_err(|_| format!("not a number: {word}"))
}

export!(Streams);
