//! `script`: runs buffer operations written one per line, so that a test can
//! drive any sequence of calls and check each answer.
//!
//! Buffers are named by number: `0` is the input, `1` the output, and each
//! `create` that succeeds gets the next number (2, 3, ...; numbers are never
//! reused). Numbers are decimal `u64`s, so `18446744073709551615` works.
//! Blank lines and lines starting with `#` are skipped and give no result.
//!
//! ```text
//! create LIMIT                        ok N        (N: the new buffer's number)
//! len B                               ok N
//! limit B                             ok N
//! read B OFFSET LEN                   ok "BYTES"  (LEN is a u32)
//! write B OFFSET DATA                 ok
//! append B DATA                       ok
//! fill B OFFSET COUNT                 ok          (writes COUNT bytes `.`)
//! truncate B LEN                      ok
//! copy DST SRC SRC_OFFSET OFFSET LEN  ok N        (N: the bytes copied)
//! drop B                              ok          (created buffers only)
//! ```
//!
//! DATA is the rest of the line after a single space, possibly empty, with
//! the escapes `\\`, `\n`, `\r`, `\t`, `\s` (space) and `\xHH`. BYTES are
//! shown with printable ASCII as is and `\\`, `\"`, `\n`, `\r`, `\t` and
//! `\xHH` for the rest. A refused operation gives `err out-of-bounds(N)`,
//! `err limit-exceeded(N)`, `err read-only` or `err quota-exceeded(N)`.
//!
//! After the last line, the guest appends `--- results ---\n` and one result
//! line per operation to the output. If that append is refused, `process`
//! returns `err` with `results:\n` and the result lines instead. A line the
//! script cannot run (bad syntax, a buffer number that names nothing) makes
//! `process` return `err("script line L: ...")` at once.

use crate::Buffer;
use crate::bufbridge::buffers::buffers::BufferError;

/// The line between what the script left in the output and the results.
pub const SEPARATOR: &str = "--- results ---\n";

/// A buffer a script names: the two `process` borrows, then its own.
enum Slot<'a> {
    Borrowed(&'a Buffer),
    Owned(Buffer),
    Dropped,
}

struct Script<'a> {
    slots: Vec<Slot<'a>>,
}

impl<'a> Script<'a> {
    fn get(&self, word: &str) -> Result<&Buffer, String> {
        let n = number(word)?;
        let slot = usize::try_from(n)
            .ok()
            .and_then(|n| self.slots.get(n))
            .ok_or(format!("no buffer {n}"))?;
        match slot {
            Slot::Borrowed(b) => Ok(b),
            Slot::Owned(b) => Ok(b),
            Slot::Dropped => Err(format!("buffer {n} was dropped")),
        }
    }

    fn step(&mut self, line: &str) -> Result<String, String> {
        let (op, rest) = line.split_once(' ').unwrap_or((line, ""));
        let words = |n: usize| -> Result<Vec<&str>, String> {
            let words: Vec<&str> = rest.split(' ').filter(|w| !w.is_empty()).collect();
            if words.len() == n {
                Ok(words)
            } else {
                Err(format!("`{op}` takes {n} numbers, got {}", words.len()))
            }
        };
        // `B OFFSET DATA` and `B DATA`: numbers, then the rest as data.
        let with_data = |n: usize| -> Result<(Vec<&str>, Vec<u8>), String> {
            let mut parts = rest.splitn(n + 1, ' ');
            let numbers: Vec<&str> = parts.by_ref().take(n).collect();
            if numbers.len() < n {
                return Err(format!("`{op}` takes {n} numbers and data"));
            }
            Ok((numbers, unescape(parts.next().unwrap_or(""))?))
        };
        Ok(match op {
            "create" => {
                let w = words(1)?;
                match Buffer::create(number(w[0])?) {
                    Ok(b) => {
                        self.slots.push(Slot::Owned(b));
                        format!("ok {}", self.slots.len() - 1)
                    }
                    Err(e) => error(e),
                }
            }
            "len" => format!("ok {}", self.get(words(1)?[0])?.len()),
            "limit" => format!("ok {}", self.get(words(1)?[0])?.limit()),
            "read" => {
                let w = words(3)?;
                let len = u32::try_from(number(w[2])?).map_err(|_| "read: LEN is a u32")?;
                match self.get(w[0])?.read(number(w[1])?, len) {
                    Ok(bytes) => format!("ok \"{}\"", escape(&bytes)),
                    Err(e) => error(e),
                }
            }
            "write" => {
                let (w, data) = with_data(2)?;
                unit(self.get(w[0])?.write(number(w[1])?, &data))
            }
            "append" => {
                let (w, data) = with_data(1)?;
                unit(self.get(w[0])?.append(&data))
            }
            "fill" => {
                let w = words(3)?;
                let count = usize::try_from(number(w[2])?).map_err(|_| "fill: COUNT too big")?;
                unit(self.get(w[0])?.write(number(w[1])?, &vec![b'.'; count]))
            }
            "truncate" => {
                let w = words(2)?;
                unit(self.get(w[0])?.truncate(number(w[1])?))
            }
            "copy" => {
                let w = words(5)?;
                let (dst, src) = (self.get(w[0])?, self.get(w[1])?);
                match dst.copy_from(src, number(w[2])?, number(w[3])?, number(w[4])?) {
                    Ok(n) => format!("ok {n}"),
                    Err(e) => error(e),
                }
            }
            "drop" => {
                let w = words(1)?;
                self.get(w[0])?;
                let n = number(w[0])? as usize;
                match std::mem::replace(&mut self.slots[n], Slot::Dropped) {
                    Slot::Owned(b) => drop(b),
                    _ => return Err("only created buffers can be dropped".to_string()),
                }
                "ok".to_string()
            }
            _ => return Err(format!("unknown operation `{op}`")),
        })
    }
}

pub fn run(input: &Buffer, output: &Buffer, text: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(text).map_err(|e| format!("script is not UTF-8: {e}"))?;
    let mut script = Script {
        slots: vec![Slot::Borrowed(input), Slot::Borrowed(output)],
    };
    let mut results = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let result = script
            .step(line)
            .map_err(|e| format!("script line {}: {e}: {line}", i + 1))?;
        results.push_str(&result);
        results.push('\n');
    }
    // Scratch buffers go before the results are written, as at any return.
    drop(script);
    match output.append(format!("{SEPARATOR}{results}").as_bytes()) {
        Ok(()) => Ok(()),
        Err(_) => Err(format!("results:\n{results}")),
    }
}

fn number(word: &str) -> Result<u64, String> {
    word.parse()
        .map_err(|_| format!("`{word}` is not a decimal u64"))
}

fn unit(r: Result<(), BufferError>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => error(e),
    }
}

fn error(e: BufferError) -> String {
    match e {
        BufferError::OutOfBounds(n) => format!("err out-of-bounds({n})"),
        BufferError::LimitExceeded(n) => format!("err limit-exceeded({n})"),
        BufferError::ReadOnly => "err read-only".to_string(),
        BufferError::QuotaExceeded(n) => format!("err quota-exceeded({n})"),
    }
}

fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b's') => out.push(b' '),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let hex = std::str::from_utf8(&hex).unwrap_or("");
                let byte = u8::from_str_radix(hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 2)
                    .ok_or(format!("bad escape `\\x{hex}`"))?;
                out.push(byte);
            }
            other => return Err(format!("bad escape `\\{}`", other.map_or('?', char::from))),
        }
    }
    Ok(out)
}
