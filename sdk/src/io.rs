//! `std::io` over buffers: [`Input`] reads, [`Output`] writes, both seek;
//! [`map_chunks`] and [`copy`] are the common shapes of a whole guest;
//! [`Input::stream`] reads through a byte stream instead (`stream.rs`).

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

use crate::error::Role;
use crate::{Buffer, BufferError, Error, Result, digest};

mod stream;

pub use stream::{Stream, map_stream};

/// How many bytes [`Input`] asks the host for at once, and how many
/// [`Output`] gathers before it hands them over: one host call per 64 KiB
/// keeps the calls' fixed cost small beside the copying.
///
/// ```
/// assert_eq!(bufbridge_guest::CHUNK, 64 * 1024);
/// ```
pub const CHUNK: usize = 64 * 1024;

/// Writes of this many bytes or more skip [`Output`]'s gathering, where a
/// host call costs less than copying them into it. Twice `std::io::copy`'s
/// 8 KiB: its writes are gathered, one host call per [`CHUNK`] rather than
/// eight (BENCHMARKS.md, section 6: gathered, 8 KiB writes cost about 5 %
/// over the raw loop; as calls of their own, 8 %).
const DIRECT: usize = 16 * 1024;

/// How many bytes [`copy`] asks the host to move per call: they never pass
/// through the guest's memory, so the calls can be large.
const COPY_CHUNK: u64 = 16 * 1024 * 1024;

/// An offset after `pos` moved by `by`, or the error `Seek` gives for a
/// position before the start (or past `u64::MAX`).
fn offset(pos: u64, by: i64) -> io::Result<u64> {
    pos.checked_add_signed(by).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seeking to a position before the start or past u64::MAX",
        )
    })
}

/// Reads a buffer: [`Read`], [`BufRead`] and [`Seek`], in chunks of
/// [`CHUNK`] bytes fetched with one host `read` each.
///
/// [`BufRead::fill_buf`] hands out the very bytes the host call returned,
/// so `lines()`, `read_until()` and [`Input::chunks`] cost no copy beyond
/// the bindings' own; `Read::read` copies once, into the caller's slice.
/// Seeking past the end is allowed, as with files: reads there return
/// nothing.
///
/// ```no_run
/// use std::io::{BufRead, Read, Seek, SeekFrom};
///
/// fn process(
///     input: &mut bufbridge_guest::Input,
///     _output: &mut bufbridge_guest::Output,
///     _args: Vec<String>,
/// ) -> bufbridge_guest::Result<()> {
///     let mut magic = [0u8; 4];
///     input.read_exact(&mut magic)?;
///     input.seek(SeekFrom::Start(0))?;
///     let lines = input.lines().count();
///     eprintln!("{magic:?}, {lines} lines");
///     Ok(())
/// }
/// # bufbridge_guest::export!(process);
/// ```
#[derive(Debug)]
pub struct Input<'a> {
    buffer: &'a Buffer,
    role: Role,
    /// Bytes of the buffer from `start`, as the last host `read` gave them.
    chunk: Vec<u8>,
    start: u64,
    /// How many bytes of `chunk` were consumed.
    used: usize,
}

impl<'a> Input<'a> {
    /// Reads any buffer, from its start (for the input of `process`,
    /// [`export!`](crate::export) makes one already).
    ///
    /// ```no_run
    /// use std::io::Read;
    /// # fn f() -> bufbridge_guest::Result<()> {
    /// let scratch = bufbridge_guest::Buffer::create(1024)?;
    /// scratch.append(b"kept by the host")?;
    /// let mut text = String::new();
    /// bufbridge_guest::Input::over(&scratch).read_to_string(&mut text)?;
    /// # Ok(()) }
    /// ```
    pub fn over(buffer: &'a Buffer) -> Self {
        Self::with_role(buffer, Role::Buffer)
    }

    /// The input of `process`: its errors say "the input".
    pub(crate) fn of_process(buffer: &'a Buffer) -> Self {
        Self::with_role(buffer, Role::Input)
    }

    fn with_role(buffer: &'a Buffer, role: Role) -> Self {
        Input {
            buffer,
            role,
            chunk: Vec::new(),
            start: 0,
            used: 0,
        }
    }

    /// The buffer underneath, for the raw calls of [`crate::bindings`].
    ///
    /// ```no_run
    /// # fn f(input: &bufbridge_guest::Input) {
    /// let limit = input.buffer().limit();
    /// # }
    /// ```
    pub fn buffer(&self) -> &'a Buffer {
        self.buffer
    }

    /// How many bytes the buffer holds (the input's size).
    ///
    /// ```no_run
    /// # fn f(input: &bufbridge_guest::Input) {
    /// eprintln!("{} bytes to go", input.len() - input.position());
    /// # }
    /// ```
    pub fn len(&self) -> u64 {
        self.buffer.len()
    }

    /// Whether the buffer holds no bytes.
    ///
    /// ```no_run
    /// # fn f(input: &bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// if input.is_empty() {
    ///     return Err("the input is empty".into());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the next read starts.
    ///
    /// ```no_run
    /// # use std::io::BufRead;
    /// # fn f(input: &mut bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// let mut line = String::new();
    /// input.read_line(&mut line)?;
    /// assert_eq!(input.position(), line.len() as u64);
    /// # Ok(()) }
    /// ```
    pub fn position(&self) -> u64 {
        self.start + self.used as u64
    }

    /// Up to `len` bytes from `offset`, fewer near the end, read by the host
    /// in one call and not through the adapter's chunk (the position does
    /// not move).
    ///
    /// ```no_run
    /// # fn f(input: &bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// let tail = input.read_at(input.len().saturating_sub(16), 16)?;
    /// # Ok(()) }
    /// ```
    pub fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.buffer
            .read(offset, len)
            .map_err(|e| Error::buffer("reading", self.role, e))
    }

    /// The rest of the buffer in chunks of up to [`CHUNK`] bytes, each the
    /// vector the host call returned (no copy).
    ///
    /// ```no_run
    /// # fn f(input: &mut bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// let mut zeros = 0;
    /// for chunk in input.chunks() {
    ///     zeros += chunk?.iter().filter(|&&b| b == 0).count();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn chunks<'i>(&'i mut self) -> Chunks<'i, 'a> {
        Chunks { input: self }
    }

    /// The SHA-256 of the whole buffer, computed by the host: the bytes
    /// never enter the guest. The position does not move.
    ///
    /// ```no_run
    /// # fn f(input: &bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// let hex: String = input.sha256()?.iter().map(|b| format!("{b:02x}")).collect();
    /// # Ok(()) }
    /// ```
    pub fn sha256(&self) -> Result<[u8; 32]> {
        let hash = digest::sha256(self.buffer, 0, u64::MAX)
            .map_err(|e| Error::buffer("hashing", self.role, e))?;
        hash.try_into().map_err(|hash: Vec<u8>| {
            Error::msg(format!(
                "the host's SHA-256 has {} bytes, not 32",
                hash.len()
            ))
        })
    }

    /// Fetches the chunk after the current one; empty at (or past) the end.
    fn fetch(&mut self) -> Result<()> {
        let next = self.start + self.chunk.len() as u64;
        self.chunk = match self.buffer.read(next, CHUNK as u32) {
            Ok(chunk) => chunk,
            // Past the end after a seek: the end of the file, as with files.
            Err(BufferError::OutOfBounds(len)) if next > len => Vec::new(),
            Err(e) => return Err(Error::buffer("reading", self.role, e)),
        };
        self.start = next;
        self.used = 0;
        Ok(())
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

/// `Read::read` of a reader whose bytes are in its own buffer: one copy
/// from the chunk it holds (or fetches) into `buf`.
fn read_buffered(reader: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let available = reader.fill_buf()?;
    let n = available.len().min(buf.len());
    buf[..n].copy_from_slice(&available[..n]);
    reader.consume(n);
    Ok(n)
}

impl BufRead for Input<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.used == self.chunk.len() {
            self.fetch()?;
        }
        Ok(&self.chunk[self.used..])
    }

    fn consume(&mut self, amount: usize) {
        self.used = (self.used + amount).min(self.chunk.len());
    }
}

impl Seek for Input<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => at,
            SeekFrom::End(by) => offset(self.len(), by)?,
            SeekFrom::Current(by) => offset(self.position(), by)?,
        };
        let end = self.start + self.chunk.len() as u64;
        if (self.start..=end).contains(&target) {
            // Within the chunk held: no host call.
            self.used = (target - self.start) as usize;
        } else {
            self.chunk.clear();
            self.start = target;
            self.used = 0;
        }
        Ok(target)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position())
    }
}

/// The iterator of [`Input::chunks`]: each item is the rest of the chunk
/// held, or the next one the host returns, until the end.
///
/// ```no_run
/// # fn f(input: &mut bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
/// let total: usize = input.chunks().map(|c| c.map(|c| c.len())).sum::<bufbridge_guest::Result<_>>()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Chunks<'i, 'a> {
    input: &'i mut Input<'a>,
}

impl Iterator for Chunks<'_, '_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let input = &mut *self.input;
        if input.used == input.chunk.len() {
            if let Err(e) = input.fetch() {
                return Some(Err(e));
            }
        }
        if input.used == input.chunk.len() {
            return None;
        }
        // Hand over the chunk itself; keep its length so positions hold.
        let chunk = match input.used {
            0 => std::mem::take(&mut input.chunk),
            used => input.chunk[used..].to_vec(),
        };
        input.start += input.used as u64;
        input.used = 0;
        input.chunk.clear();
        input.start += chunk.len() as u64;
        Some(Ok(chunk))
    }
}

/// Writes a buffer: [`Write`] and [`Seek`], gathering small writes into
/// [`CHUNK`]-byte host calls; a write of 16 KiB or more goes to the host at
/// once, from where it is.
///
/// What was written reaches the host on [`flush`](Write::flush), on a seek,
/// and, for the output of `process`, when the function passed to
/// [`export!`](crate::export) returns `Ok` (an error then fails the run).
/// Writing never leaves a hole: a write after seeking past the end is
/// refused by the host (`offset out of bounds`).
///
/// ```no_run
/// use std::io::{Seek, SeekFrom, Write};
///
/// fn process(
///     _input: &mut bufbridge_guest::Input,
///     output: &mut bufbridge_guest::Output,
///     _args: Vec<String>,
/// ) -> bufbridge_guest::Result<()> {
///     output.write_all(b"count: ????\n")?;
///     output.seek(SeekFrom::Start(7))?;
///     output.write_all(b"0042")?;
///     Ok(())
/// }
/// # bufbridge_guest::export!(process);
/// ```
#[derive(Debug)]
pub struct Output<'a> {
    buffer: &'a Buffer,
    role: Role,
    /// Bytes written but not yet sent, to go at `at`.
    pending: Vec<u8>,
    at: u64,
    /// The buffer's length as far as this adapter's own calls made it
    /// (refreshed on seek), so writes at the end go as `append`, as a
    /// guest's `--stats` would show them written by hand.
    len: u64,
}

impl<'a> Output<'a> {
    /// Writes any writable buffer, from its start (for the output of
    /// `process`, [`export!`](crate::export) makes one already). Call
    /// `flush` when done: dropping it flushes too, but cannot report an
    /// error.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// # fn f() -> bufbridge_guest::Result<()> {
    /// let scratch = bufbridge_guest::Buffer::create(1 << 20)?;
    /// let mut out = bufbridge_guest::Output::over(&scratch);
    /// writeln!(out, "a line kept host-side")?;
    /// out.flush()?;
    /// # Ok(()) }
    /// ```
    pub fn over(buffer: &'a Buffer) -> Self {
        let mut output = Self::of_process(buffer);
        output.role = Role::Buffer;
        output.len = buffer.len();
        output
    }

    /// The output of `process`, empty at the start: its errors say "the
    /// output".
    pub(crate) fn of_process(buffer: &'a Buffer) -> Self {
        Output {
            buffer,
            role: Role::Output,
            pending: Vec::new(),
            at: 0,
            len: 0,
        }
    }

    /// The buffer underneath, for the raw calls of [`crate::bindings`].
    /// Flush first if the raw calls must see what was written, and seek
    /// (`SeekFrom::End(0)`, say) after raw writes, before writing here again.
    ///
    /// ```no_run
    /// # fn f(output: &bufbridge_guest::Output) {
    /// eprintln!("the output may hold {} bytes", output.buffer().limit());
    /// # }
    /// ```
    pub fn buffer(&self) -> &'a Buffer {
        self.buffer
    }

    /// Where the next write goes.
    ///
    /// ```no_run
    /// # use std::io::Write;
    /// # fn f(output: &mut bufbridge_guest::Output) -> bufbridge_guest::Result<()> {
    /// output.write_all(b"abc")?;
    /// assert_eq!(output.position(), 3);
    /// # Ok(()) }
    /// ```
    pub fn position(&self) -> u64 {
        self.at + self.pending.len() as u64
    }

    /// Sends what was gathered, as [`Write::flush`] does, with an [`Error`]
    /// that names the output.
    ///
    /// ```no_run
    /// # use std::io::Write;
    /// # fn f(output: &mut bufbridge_guest::Output) -> bufbridge_guest::Result<()> {
    /// output.write_all(b"header\n")?;
    /// output.send()?;
    /// assert_eq!(output.buffer().len(), 7);
    /// # Ok(()) }
    /// ```
    pub fn send(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let sent = self.put(self.at, &pending);
        self.pending = pending;
        sent?;
        self.at += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Copies up to `len` bytes of `src` from `offset` to the position,
    /// host-side (the bytes never enter the guest), and moves past them;
    /// returns how many were copied (fewer near the source's end).
    ///
    /// ```no_run
    /// # fn f(input: &bufbridge_guest::Input, output: &mut bufbridge_guest::Output) -> bufbridge_guest::Result<()> {
    /// // The input's first kilobyte, twice.
    /// output.copy_from(input.buffer(), 0, 1024)?;
    /// output.copy_from(input.buffer(), 0, 1024)?;
    /// # Ok(()) }
    /// ```
    pub fn copy_from(&mut self, src: &Buffer, offset: u64, len: u64) -> Result<u64> {
        self.send()?;
        let copied = self
            .buffer
            .copy_from(src, offset, self.at, len)
            .map_err(|e| Error::buffer("copying to", self.role, e))?;
        self.at += copied;
        self.len = self.len.max(self.at);
        Ok(copied)
    }

    /// Flushes for [`export!`](crate::export): the last chance to report an
    /// error.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.send()
    }

    fn put(&mut self, at: u64, data: &[u8]) -> Result<()> {
        let done = match at == self.len {
            true => self.buffer.append(data),
            false => self.buffer.write(at, data),
        };
        done.map_err(|e| Error::buffer("writing", self.role, e))?;
        self.len = self.len.max(at + data.len() as u64);
        Ok(())
    }
}

impl Write for Output<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.pending.len() + data.len() > CHUNK {
            self.send()?;
        }
        if data.len() >= DIRECT && self.pending.is_empty() {
            // Large enough that a host call costs less than copying it into
            // `pending`: it goes to the host from where it is.
            self.put(self.at, data)?;
            self.at += data.len() as u64;
        } else {
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(CHUNK);
            }
            self.pending.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(self.send()?)
    }
}

impl Seek for Output<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.send()?;
        // Raw calls on the buffer may have changed its length.
        self.len = self.buffer.len();
        self.at = match to {
            SeekFrom::Start(at) => at,
            SeekFrom::End(by) => offset(self.len, by)?,
            SeekFrom::Current(by) => offset(self.at, by)?,
        };
        Ok(self.at)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position())
    }
}

impl Drop for Output<'_> {
    fn drop(&mut self) {
        // Like BufWriter: whoever needs the error flushes first.
        let _ = self.send();
    }
}

/// Applies `f` to each chunk of the input's rest, in place, and writes the
/// result to the output: the shape of `upper`, `lower`, `tr`, a byte-wise
/// cipher. Each chunk takes one host `read` and one `write`, with no copy
/// in the guest.
///
/// ```no_run
/// fn process(
///     input: &mut bufbridge_guest::Input,
///     output: &mut bufbridge_guest::Output,
///     _args: Vec<String>,
/// ) -> bufbridge_guest::Result<()> {
///     bufbridge_guest::map_chunks(input, output, |chunk| chunk.make_ascii_uppercase())
/// }
/// # bufbridge_guest::export!(process);
/// ```
pub fn map_chunks(
    input: &mut Input<'_>,
    output: &mut Output<'_>,
    mut f: impl FnMut(&mut [u8]),
) -> Result<()> {
    output.send()?;
    for chunk in input.chunks() {
        let mut chunk = chunk?;
        f(&mut chunk);
        output.put(output.at, &chunk)?;
        output.at += chunk.len() as u64;
    }
    Ok(())
}

/// Copies the input's rest to the output host-side: the bytes never enter
/// the guest. Returns how many bytes were copied.
///
/// ```no_run
/// fn process(
///     input: &mut bufbridge_guest::Input,
///     output: &mut bufbridge_guest::Output,
///     _args: Vec<String>,
/// ) -> bufbridge_guest::Result<()> {
///     bufbridge_guest::copy(input, output)?;
///     Ok(())
/// }
/// # bufbridge_guest::export!(process);
/// ```
pub fn copy(input: &mut Input<'_>, output: &mut Output<'_>) -> Result<u64> {
    let from = input.position();
    if from >= input.len() {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let copied = output.copy_from(input.buffer, from + total, COPY_CHUNK)?;
        if copied == 0 {
            break;
        }
        total += copied;
    }
    input.seek(SeekFrom::Start(from + total))?;
    Ok(total)
}
