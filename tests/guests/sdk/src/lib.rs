//! Test guest for the SDK (`tests/all/sdk.rs`): scripts of `std::io` operations
//! on the input and on the output, which the test replays over a
//! `std::io::Cursor` and compares; errors through `?`; a panic; the host's
//! `abort` called directly.
//!
//! Commands (the first argument):
//! - `input OP...`: OPs on the input, what they read written to the output:
//!   `read:N` (up to N bytes), `exact:N` (`read_exact`, `<eof>` when short),
//!   `line` (`read_until` a newline), `seek:start|end|cur:N` (`<seek error>`
//!   when refused), `pos` (`<pos P>`);
//! - `lines`: the length of each line of `BufRead::lines`, one a line;
//! - `output OP...`: OPs on the output: `text:T`, `fill:N:BYTE` (one write
//!   of N bytes), `seek:start|end|cur:N`, `flush`;
//! - `quota`: a scratch buffer over the quota, with `?` on the raw binding;
//! - `panic MESSAGE`: panics.
//! - `abort MESSAGE`: calls `abort.abort` without panicking, then writes to
//!   the output and returns `Ok`, which must not count;
//! - `abort-long N`: `abort.abort` with N times `€` (3 bytes), more than the
//!   host keeps.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};

use bufbridge_guest::bindings::bufbridge::buffers::abort::abort;
use bufbridge_guest::{Buffer, Error, Input, Output, Result};

bufbridge_guest::export!(process);

fn process(input: &mut Input, output: &mut Output, args: Vec<String>) -> Result<()> {
    let (command, ops) = args.split_first().ok_or("usage: COMMAND OP...")?;
    match command.as_str() {
        "input" => ops.iter().try_for_each(|op| input_op(input, output, op)),
        "lines" => {
            for line in input.lines() {
                writeln!(output, "{}", line?.len())?;
            }
            Ok(())
        }
        "output" => ops.iter().try_for_each(|op| output_op(output, op)),
        "quota" => {
            let scratch = Buffer::create(u64::MAX)?;
            scratch.append(b"unreachable")?;
            Ok(())
        }
        "panic" => panic!("{}", ops.join(" ")),
        "abort" => {
            abort(&ops.join(" "));
            output.write_all(b"written after abort")?;
            Ok(())
        }
        "abort-long" => {
            let n = number(ops.first().ok_or("usage: abort-long N")?)?;
            abort(&"€".repeat(n));
            Ok(())
        }
        other => Err(format!("unknown command `{other}`").into()),
    }
}

fn number<T: std::str::FromStr>(word: &str) -> Result<T> {
    word.parse()
        .map_err(|_| Error::msg(format!("`{word}` is not a number")))
}

fn seek_to(how: &str, n: &str) -> Result<SeekFrom> {
    Ok(match how {
        "start" => SeekFrom::Start(number(n)?),
        "end" => SeekFrom::End(number(n)?),
        "cur" => SeekFrom::Current(number(n)?),
        other => return Err(format!("seek:{other}?").into()),
    })
}

fn input_op(input: &mut Input, output: &mut Output, op: &str) -> Result<()> {
    let words: Vec<&str> = op.split(':').collect();
    match words[..] {
        ["read", n] => {
            let mut bytes = Vec::new();
            input.by_ref().take(number(n)?).read_to_end(&mut bytes)?;
            output.write_all(&bytes)?;
        }
        ["exact", n] => {
            let mut bytes = vec![0; number(n)?];
            match input.read_exact(&mut bytes) {
                Ok(()) => output.write_all(&bytes)?,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    output.write_all(b"<eof>")?
                }
                Err(e) => return Err(e.into()),
            }
        }
        ["line"] => {
            let mut bytes = Vec::new();
            input.read_until(b'\n', &mut bytes)?;
            output.write_all(&bytes)?;
        }
        ["seek", how, n] => {
            if input.seek(seek_to(how, n)?).is_err() {
                output.write_all(b"<seek error>")?;
            }
        }
        ["pos"] => write!(output, "<pos {}>", input.stream_position()?)?,
        _ => return Err(format!("unknown input op `{op}`").into()),
    }
    Ok(())
}

fn output_op(output: &mut Output, op: &str) -> Result<()> {
    let words: Vec<&str> = op.splitn(3, ':').collect();
    match words[..] {
        ["text", text] => output.write_all(text.as_bytes())?,
        ["fill", n, byte] => output.write_all(&vec![number::<u8>(byte)?; number(n)?])?,
        ["seek", how, n] => drop(output.seek(seek_to(how, n)?)?),
        ["flush"] => output.flush()?,
        _ => return Err(format!("unknown output op `{op}`").into()),
    }
    Ok(())
}
