//! The default bufbridge guest, embedded in the `bufbridge` binary.
//!
//! It is also the worked example of a guest written with the SDK
//! (`sdk/`, the `bufbridge-guest` crate): every command streams the input
//! in bounded chunks, so an input of any size needs only a chunk of guest
//! memory, and `copy` and `sha256` never bring the bytes into the guest.
//! With the cargo feature `read-stream`, `upper`, `lower` and `count` read
//! through `Input::stream` instead (BENCHMARKS.md, section 10, compares).

mod commands;
mod kernels;
mod selftest;

use std::io::Write;

use bufbridge_guest::{BufferError, Error, Input, Output, Result};

use commands::COMMANDS;

bufbridge_guest::export!(process);

fn process(input: &mut Input, output: &mut Output, args: Vec<String>) -> Result<()> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("copy", &[][..]),
    };
    let known = || COMMANDS.iter().map(|(name, _)| *name);
    if !rest.is_empty() && known().any(|name| name == command) {
        return Err(format!(
            "`{command}` takes no arguments, but got {}: {}",
            rest.len(),
            rest.join(" ")
        )
        .into());
    }
    match command {
        "copy" => bufbridge_guest::copy(input, output).map(drop),
        "upper" => map(input, output, kernels::upper),
        "lower" => map(input, output, kernels::lower),
        "reverse" => reverse(input, output),
        "count" => count(input, output),
        "sha256" => sha256(input, output),
        "selftest" => selftest::run(input.buffer(), output.buffer()).map_err(Error::msg),
        other => {
            let known: Vec<&str> = known().collect();
            Err(format!(
                "unknown command `{other}`; known commands: {}",
                known.join(", ")
            )
            .into())
        }
    }
}

/// A buffer error in words, as the SDK says it (for the selftest's report).
pub(crate) fn describe(e: BufferError) -> String {
    Error::from(e).to_string()
}

/// `f` over each chunk of the input, in place, written to the output.
#[cfg(not(feature = "read-stream"))]
fn map(input: &mut Input, output: &mut Output, f: fn(&mut [u8])) -> Result<()> {
    bufbridge_guest::map_chunks(input, output, f)
}

/// `f` over each chunk of the input, in place, written to the output.
#[cfg(feature = "read-stream")]
fn map(input: &mut Input, output: &mut Output, f: fn(&mut [u8])) -> Result<()> {
    bufbridge_guest::map_stream(input, output, f)
}

/// The input's bytes in reverse order, read back to front one chunk at a time.
fn reverse(input: &mut Input, output: &mut Output) -> Result<()> {
    let mut end = input.len();
    while end > 0 {
        let start = end.saturating_sub(bufbridge_guest::CHUNK as u64);
        let mut chunk = input.read_at(start, (end - start) as usize)?;
        chunk.reverse();
        output.write_all(&chunk)?;
        end = start;
    }
    Ok(())
}

/// `<bytes> <lines> <words>\n`: lines are newline bytes, words are runs of
/// bytes between ASCII white space. Not quite `wc`: GNU `wc` does not count
/// non-printable bytes as words, this does (so `\x01` is one word).
fn count(input: &mut Input, output: &mut Output) -> Result<()> {
    let mut tally = kernels::Tally::default();
    #[cfg(not(feature = "read-stream"))]
    for chunk in input.chunks() {
        tally.add(&chunk?);
    }
    #[cfg(feature = "read-stream")]
    {
        let mut stream = input.stream()?;
        while let Some(chunk) = stream.next_chunk()? {
            tally.add(chunk);
        }
    }
    writeln!(output, "{} {} {}", input.len(), tally.lines, tally.words)?;
    Ok(())
}

/// The input's SHA-256 in hex and a newline, computed by the host: the
/// input's bytes never enter the guest.
fn sha256(input: &mut Input, output: &mut Output) -> Result<()> {
    let hex: String = input.sha256()?.iter().map(|b| format!("{b:02x}")).collect();
    writeln!(output, "{hex}")?;
    Ok(())
}
