//! Test guest for the SDK's `Input::stream` (`tests/all/sdk.rs`). Unlike
//! `tests/guests/sdk`, it calls `Input::stream`, so it imports `streams`
//! and runs on the host's second engine.
//!
//! Commands (the first argument):
//! - `cat SKIP`: reads SKIP bytes through the `Input` (`read_exact`, so the
//!   input holds a partly consumed chunk), writes them, then streams the
//!   rest with `std::io::copy`: the output is the input;
//! - `seek POS`: seeks the input to POS, then streams the rest (`Read`);
//! - `mix SKIP N`: reads SKIP bytes through the `Input`, N through a
//!   stream (`Read::take`), drops the stream and reads the rest through the
//!   `Input` again, writing all of it: the output is the input;
//! - `upper`: `map_stream` with ASCII upper-casing;
//! - `lines`: the length of each line of `BufRead::lines` over the stream,
//!   one a line;
//! - `positions`: streams the input by `next_chunk` and writes, for each
//!   chunk, `LEN@POSITION` (the stream's and the input's position after it).
//! - `pend`: reads a `Stream` over a stream the guest made itself and
//!   never writes to, so the read waits, which traps in a synchronous
//!   export (as `Input::stream` documents).

use std::io::{BufRead, Read, Seek, SeekFrom, Write};

use bufbridge_guest::{Error, Input, Output, Result};

bufbridge_guest::export!(process);

fn process(input: &mut Input, output: &mut Output, args: Vec<String>) -> Result<()> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words[..] {
        ["cat", skip] => {
            let mut head = vec![0; number(skip)?];
            input.read_exact(&mut head)?;
            output.write_all(&head)?;
            std::io::copy(&mut input.stream()?, output)?;
        }
        ["seek", pos] => {
            input.seek(SeekFrom::Start(number(pos)?))?;
            std::io::copy(&mut input.stream()?, output)?;
        }
        ["mix", skip, n] => {
            std::io::copy(&mut input.by_ref().take(number(skip)?), output)?;
            std::io::copy(&mut input.stream()?.take(number(n)?), output)?;
            std::io::copy(input, output)?;
        }
        ["upper"] => bufbridge_guest::map_stream(input, output, |c| c.make_ascii_uppercase())?,
        ["lines"] => {
            for line in input.stream()?.lines() {
                writeln!(output, "{}", line?.len())?;
            }
        }
        ["positions"] => {
            let mut stream = input.stream()?;
            while let Some(chunk) = stream.next_chunk()? {
                let len = chunk.len();
                write!(output, "{len}@{} ", stream.position())?;
            }
            drop(stream);
            writeln!(output, "end@{}", input.position())?;
        }
        ["pend"] => {
            let (writer, reader) = bufbridge_guest::bindings::wit_stream::new::<u8>();
            let mut stream = bufbridge_guest::__private::stream_of(input, reader);
            let read = stream.read_to_end(&mut Vec::new());
            drop(writer);
            read?;
        }
        _ => return Err(format!("unknown command {words:?}").into()),
    }
    Ok(())
}

fn number<T: std::str::FromStr>(word: &str) -> Result<T> {
    word.parse()
        .map_err(|_| Error::msg(format!("`{word}` is not a number")))
}
