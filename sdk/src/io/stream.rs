//! [`Input::stream`]: the input read front to back through the host's
//! `streams.read-stream`, which writes the bytes straight into the guest's
//! memory.

use std::io::{self, BufRead, Read};

use wit_bindgen::{StreamReader, StreamResult};

use super::{CHUNK, Input, Output, read_buffered};
use crate::bindings::bufbridge::buffers::streams::read_stream;
use crate::{BufferError, Error, Result};

impl<'a> Input<'a> {
    /// Reads on from the [`position`](Input::position) through a byte
    /// stream (`read-stream`, `wit/streams.wit`): the host copies each chunk
    /// straight into one buffer of [`CHUNK`] bytes that the [`Stream`]
    /// reuses, where [`Input`]'s own reads get a new vector from the
    /// bindings each time. For guests that read a big input front to back;
    /// seek first to start elsewhere.
    ///
    /// **The trade-off.** A guest that calls this imports `streams`, and the
    /// host then loads it on its second engine, the one with the component
    /// model's concurrency support, where *every* host call of the guest
    /// costs more (each makes a host task): a run of the default guest over
    /// an empty input takes 39–53 µs there against 14–16 µs
    /// (BENCHMARKS.md, section 10). In exchange a 64 KiB chunk arrives
    /// 1.1–1.3× faster than through [`Input`]'s reads, and 1 MiB ones
    /// 1.3–1.8×; end to end, the CLI's `upper` of 1 GiB gains 3–11%, as
    /// writing the output dominates. It pays for inputs of megabytes read
    /// in big chunks, and costs for many small ones. A guest that never
    /// calls it does not import `streams` (unused imports are left out of
    /// the component) and stays on the first engine.
    ///
    /// **Position.** The stream reads on from the input's position and
    /// moves it: [`position`](Input::position) (and
    /// [`Stream::position`]) is always just after the last byte consumed
    /// through the stream. When the [`Stream`] is dropped, the input carries
    /// on from there, with the chunk the stream delivered last kept as its
    /// own, so bytes delivered but not consumed are not read again. A
    /// position past the end gives a stream that is at its end at once, as
    /// reads there do.
    ///
    /// **Errors.** A refusal by the host at the call (a forged buffer, say)
    /// is an [`Error`] naming the input; so is a read the host cancels or
    /// answers with nothing: never a panic. A guest's `process` is
    /// synchronous, so each read of the stream runs inside
    /// `wit_bindgen::block_on`, which relies on the host answering at once:
    /// the bufbridge host always does (from memory, or with a `pread` from
    /// the input's file). A host that made a read wait would trap the guest
    /// (`cannot block a synchronous task before returning`): a synchronous
    /// task may neither wait nor cancel a pending read in the component
    /// model, so there is no error to turn it into.
    ///
    /// ```no_run
    /// use std::io::BufRead;
    ///
    /// // Counts the lines of an input of any size, read as a stream.
    /// fn process(
    ///     input: &mut bufbridge_guest::Input,
    ///     output: &mut bufbridge_guest::Output,
    ///     _args: Vec<String>,
    /// ) -> bufbridge_guest::Result<()> {
    ///     use std::io::Write;
    ///     let lines = input.stream()?.lines().count();
    ///     writeln!(output, "{lines}")?;
    ///     Ok(())
    /// }
    /// # bufbridge_guest::export!(process);
    /// ```
    pub fn stream<'i>(&'i mut self) -> Result<Stream<'i, 'a>> {
        // The bytes the input holds already are handed out first: the
        // stream starts after them.
        let from = self.start + self.chunk.len() as u64;
        let reader = match read_stream(self.buffer, from) {
            Ok(reader) => Some(reader),
            // Past the end after a seek: at the end, as reads there are.
            Err(BufferError::OutOfBounds(len)) if from > len => None,
            Err(e) => return Err(Error::buffer("streaming", self.role, e)),
        };
        Ok(Stream::new(self, reader))
    }
}

/// The input read as a byte stream, from [`Input::stream`]: [`Read`] and
/// [`BufRead`], one host delivery of up to [`CHUNK`] bytes at a time into
/// one reused buffer. [`BufRead::fill_buf`] and [`Stream::next_chunk`]
/// hand out the delivered bytes where they are; `Read::read` copies them
/// once, into the caller's slice.
///
/// ```no_run
/// # fn f(input: &mut bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
/// use std::io::Read;
///
/// let mut header = [0u8; 16];
/// input.stream()?.read_exact(&mut header)?;
/// assert_eq!(input.position(), 16);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Stream<'i, 'a> {
    /// Holds the delivered chunk (`chunk`, from `start`, `used` consumed),
    /// so its position is the stream's.
    input: &'i mut Input<'a>,
    /// `None` once the host has ended the stream.
    reader: Option<StreamReader<u8>>,
}

impl<'i, 'a> Stream<'i, 'a> {
    /// The stream of `reader`, which delivers `input`'s bytes from the end
    /// of the chunk it holds (`None`: at the end already).
    pub(crate) fn new(input: &'i mut Input<'a>, reader: Option<StreamReader<u8>>) -> Self {
        Stream { input, reader }
    }

    /// Where the next byte read comes from: the input's
    /// [`position`](Input::position).
    ///
    /// ```no_run
    /// # fn f(input: &mut bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// use std::io::BufRead;
    /// let mut stream = input.stream()?;
    /// let mut line = Vec::new();
    /// stream.read_until(b'\n', &mut line)?;
    /// assert_eq!(stream.position(), line.len() as u64);
    /// # Ok(()) }
    /// ```
    pub fn position(&self) -> u64 {
        self.input.position()
    }

    /// The rest of the chunk held, or the next one the host delivers, to do
    /// with as you like in place: it counts as consumed. `None` at the end.
    ///
    /// ```no_run
    /// # fn f(input: &mut bufbridge_guest::Input) -> bufbridge_guest::Result<()> {
    /// let mut stream = input.stream()?;
    /// let mut zeros = 0;
    /// while let Some(chunk) = stream.next_chunk()? {
    ///     zeros += chunk.iter().filter(|&&b| b == 0).count();
    /// }
    /// # Ok(()) }
    /// ```
    pub fn next_chunk(&mut self) -> Result<Option<&mut [u8]>> {
        if self.input.used == self.input.chunk.len() {
            self.deliver()?;
        }
        let input = &mut *self.input;
        let from = input.used;
        input.used = input.chunk.len();
        Ok(Some(&mut input.chunk[from..]).filter(|rest| !rest.is_empty()))
    }

    /// Replaces the consumed chunk with the host's next delivery; leaves it
    /// empty at the end.
    fn deliver(&mut self) -> Result<()> {
        let input = &mut *self.input;
        input.start += input.chunk.len() as u64;
        input.used = 0;
        input.chunk.clear();
        let Some(reader) = &mut self.reader else {
            return Ok(());
        };
        // Room for one chunk, allocated once: the host writes into it.
        input.chunk.reserve_exact(CHUNK);
        let buf = std::mem::take(&mut input.chunk);
        let (result, buf) = read(reader, buf);
        input.chunk = buf;
        let fail = |what: &str| Err(Error::on("streaming", input.role, what));
        match result {
            StreamResult::Complete(0) => {
                fail("the host's stream delivered nothing to a read with room")
            }
            StreamResult::Complete(_) => Ok(()),
            StreamResult::Dropped => {
                // The end: the host dropped its end of the stream.
                self.reader = None;
                Ok(())
            }
            StreamResult::Cancelled => {
                self.reader = None;
                fail("the host cancelled a read of the stream")
            }
        }
    }
}

/// One read of `reader` into the spare capacity of `buf`, waited for in
/// `block_on` (see [`Input::stream`] for why the bufbridge host never makes
/// it wait).
fn read(reader: &mut StreamReader<u8>, buf: Vec<u8>) -> (StreamResult, Vec<u8>) {
    wit_bindgen::block_on(reader.read(buf))
}

impl Read for Stream<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, buf)
    }
}

impl BufRead for Stream<'_, '_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.input.used == self.input.chunk.len() {
            self.deliver()?;
        }
        Ok(&self.input.chunk[self.input.used..])
    }

    fn consume(&mut self, amount: usize) {
        self.input.consume(amount);
    }
}

/// [`map_chunks`](crate::map_chunks) through [`Input::stream`]: applies `f`
/// to each chunk of the input's rest, in place, and writes the result to
/// the output, one host delivery and one `write` a chunk, the delivery
/// into a buffer reused throughout. The guest then runs on the host's
/// second engine: see [`Input::stream`] for when that pays.
///
/// ```no_run
/// fn process(
///     input: &mut bufbridge_guest::Input,
///     output: &mut bufbridge_guest::Output,
///     _args: Vec<String>,
/// ) -> bufbridge_guest::Result<()> {
///     bufbridge_guest::map_stream(input, output, |chunk| chunk.make_ascii_uppercase())
/// }
/// # bufbridge_guest::export!(process);
/// ```
pub fn map_stream(
    input: &mut Input<'_>,
    output: &mut Output<'_>,
    mut f: impl FnMut(&mut [u8]),
) -> Result<()> {
    output.send()?;
    let mut stream = input.stream()?;
    while let Some(chunk) = stream.next_chunk()? {
        f(chunk);
        output.put(output.at, chunk)?;
        output.at += chunk.len() as u64;
    }
    Ok(())
}
