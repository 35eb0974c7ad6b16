//! The default bufbridge guest, embedded in the `bufbridge` binary.
//!
//! It is also the worked example of a guest: every command streams the input
//! in bounded chunks through the `buffer` resource of `wit/buffers.wit`, so
//! an input of any size needs only a chunk of guest memory.

mod selftest;

wit_bindgen::generate!({
    path: "../wit",
    world: "processor",
    additional_derives: [PartialEq, Eq],
});

use bufbridge::buffers::buffers::BufferError;
use bufbridge::buffers::digest;

/// How much of the input a command holds in guest memory at once.
const CHUNK: u32 = 64 * 1024;

/// How many bytes `copy` asks the host to move per call (never through the
/// guest's memory, so it can be large).
const COPY_CHUNK: u64 = 16 * 1024 * 1024;

const COMMANDS: &str = "copy, upper, lower, reverse, count, sha256, selftest";

struct DefaultGuest;

impl Guest for DefaultGuest {
    fn process(input: &Buffer, output: &Buffer, args: Vec<String>) -> Result<(), String> {
        let (command, rest) = match args.split_first() {
            Some((command, rest)) => (command.as_str(), rest),
            None => ("copy", &[][..]),
        };
        if !rest.is_empty() && COMMANDS.split(", ").any(|known| known == command) {
            return Err(format!(
                "`{command}` takes no arguments, but got {}: {}",
                rest.len(),
                rest.join(" ")
            ));
        }
        match command {
            "copy" => copy(input, output),
            "upper" => map_chunks(input, output, |chunk| chunk.make_ascii_uppercase()),
            "lower" => map_chunks(input, output, |chunk| chunk.make_ascii_lowercase()),
            "reverse" => reverse(input, output),
            "count" => count(input, output),
            "sha256" => sha256(input, output),
            "selftest" => selftest::run(input, output),
            other => Err(format!(
                "unknown command `{other}`; known commands: {COMMANDS}"
            )),
        }
    }
}

export!(DefaultGuest);

/// Says which step of a command a refused buffer operation belongs to.
fn failed(step: &'static str) -> impl FnOnce(BufferError) -> String {
    move |e| format!("{step}: {}", describe(e))
}

/// A buffer error in words a user running the guest understands.
pub(crate) fn describe(e: BufferError) -> String {
    match e {
        BufferError::OutOfBounds(len) => format!("offset out of bounds (length {len})"),
        BufferError::LimitExceeded(limit) => {
            format!("buffer limit of {limit} bytes exceeded (for the output: raise --max-output)")
        }
        BufferError::ReadOnly => "buffer is read-only".to_string(),
        BufferError::QuotaExceeded(quota) => format!("scratch quota of {quota} bytes exceeded"),
    }
}

/// The input, byte for byte: the host moves the bytes, they never enter the guest.
fn copy(input: &Buffer, output: &Buffer) -> Result<(), String> {
    let mut offset = 0;
    loop {
        let copied = output
            .copy_from(input, offset, offset, COPY_CHUNK)
            .map_err(failed("copying input to output"))?;
        if copied == 0 {
            return Ok(());
        }
        offset += copied;
    }
}

/// Calls `f` on each chunk of the input, in order.
fn for_each_chunk(
    input: &Buffer,
    mut f: impl FnMut(Vec<u8>) -> Result<(), String>,
) -> Result<(), String> {
    let mut offset = 0;
    loop {
        let chunk = input.read(offset, CHUNK).map_err(failed("reading input"))?;
        if chunk.is_empty() {
            return Ok(());
        }
        offset += chunk.len() as u64;
        f(chunk)?;
    }
}

/// The input with `map` applied to each chunk in place.
fn map_chunks(input: &Buffer, output: &Buffer, map: fn(&mut [u8])) -> Result<(), String> {
    for_each_chunk(input, |mut chunk| {
        map(&mut chunk);
        output.append(&chunk).map_err(failed("writing output"))
    })
}

/// The input's bytes in reverse order, read back to front one chunk at a time.
fn reverse(input: &Buffer, output: &Buffer) -> Result<(), String> {
    let mut end = input.len();
    while end > 0 {
        let start = end.saturating_sub(u64::from(CHUNK));
        let mut chunk = input
            .read(start, (end - start) as u32)
            .map_err(failed("reading input"))?;
        chunk.reverse();
        output.append(&chunk).map_err(failed("writing output"))?;
        end = start;
    }
    Ok(())
}

/// `<bytes> <lines> <words>\n`: lines are newline bytes, words are runs of
/// bytes between ASCII white space. Not quite `wc`: GNU `wc` does not count
/// non-printable bytes as words, this does (so `\x01` is one word).
fn count(input: &Buffer, output: &Buffer) -> Result<(), String> {
    let (mut lines, mut words, mut in_word) = (0u64, 0u64, false);
    for_each_chunk(input, |chunk| {
        for &byte in &chunk {
            let space = matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
            lines += u64::from(byte == b'\n');
            words += u64::from(!space && !in_word);
            in_word = !space;
        }
        Ok(())
    })?;
    let line = format!("{} {lines} {words}\n", input.len());
    output
        .append(line.as_bytes())
        .map_err(failed("writing output"))
}

/// The input's SHA-256 in hex and a newline, computed by the host: the
/// input's bytes never enter the guest.
fn sha256(input: &Buffer, output: &Buffer) -> Result<(), String> {
    let hash = digest::sha256(input, 0, input.len()).map_err(failed("hashing input"))?;
    let mut line: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    line.push('\n');
    output
        .append(line.as_bytes())
        .map_err(failed("writing output"))
}
