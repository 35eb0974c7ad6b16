//! Where a buffer's bytes live: in memory, or in a file.
//!
//! A file-backed buffer never holds its bytes in host memory: reads and
//! writes are positioned (`pread`/`pwrite`), copies between two files stay
//! in the kernel (`copy_file_range` where the platform has it), and copies
//! that must pass through the host do so in bounded chunks. That is what
//! keeps the host's memory flat for an input or output of any size.
//!
//! Work that moves or visits bytes goes in slices of at most [`CHUNK`] and
//! looks at the run's [`Deadline`] between them: a host call cannot be
//! interrupted from outside, so this is what lets the time limit stop a
//! long one (a hash of gigabytes, a big copy) within one slice.
//!
//! Storage only moves bytes: every range it is given has already been
//! approved by [`crate::rules`], so nothing here checks bounds beyond what
//! slicing itself asserts.

use std::fs::File;
use std::io;
use std::time::Instant;

use bytes::Bytes;

/// How much a copy that passes through host memory holds at once, and the
/// most bytes any operation moves between two looks at the deadline.
const CHUNK: usize = 1 << 20;

/// When sliced work must stop; `Deadline::default()` never passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline(pub Option<Instant>);

impl Deadline {
    fn check(self) -> Result<(), Halt> {
        match self.0 {
            Some(at) if Instant::now() >= at => Err(Halt::Deadline),
            _ => Ok(()),
        }
    }
}

/// Why an operation stopped before it finished. It may have done part of
/// its work: a halt ends the run, so nobody sees a half-moved buffer.
#[derive(Debug)]
pub enum Halt {
    /// The [`Deadline`] passed.
    Deadline,
    Io(io::Error),
}

impl From<io::Error> for Halt {
    fn from(error: io::Error) -> Self {
        Halt::Io(error)
    }
}

/// Runs `step(done, n)` over `0..len` in slices of at most [`CHUNK`],
/// looking at `deadline` before each but the first: a call that fits in
/// one slice (most do) never reads the clock, and none works more than one
/// slice past the deadline.
fn sliced(
    len: u64,
    deadline: Deadline,
    mut step: impl FnMut(u64, u64) -> Result<(), Halt>,
) -> Result<(), Halt> {
    let mut done = 0;
    while done < len {
        if done > 0 {
            deadline.check()?;
        }
        let n = (len - done).min(CHUNK as u64);
        step(done, n)?;
        done += n;
    }
    Ok(())
}

/// The bytes of one buffer.
#[derive(Debug)]
pub enum Storage {
    Memory(Vec<u8>),
    /// Bytes shared with the caller, never copied to be read. The input
    /// is read-only, so nothing writes here; if something did, the bytes
    /// would be copied into [`Storage::Memory`] first.
    Shared(Bytes),
    /// The bytes of `file`, which is always `len` long: writes past the end
    /// extend both, and truncation cuts both.
    File {
        file: File,
        len: u64,
    },
}

impl Default for Storage {
    fn default() -> Self {
        Storage::Memory(Vec::new())
    }
}

impl From<Vec<u8>> for Storage {
    fn from(bytes: Vec<u8>) -> Self {
        Storage::Memory(bytes)
    }
}

impl From<Bytes> for Storage {
    fn from(bytes: Bytes) -> Self {
        Storage::Shared(bytes)
    }
}

impl Storage {
    /// The whole of `file`, as it is now.
    pub fn file(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Storage::File { file, len })
    }

    /// An empty storage in `file`, which is cut to nothing first.
    pub fn empty_file(file: File) -> io::Result<Self> {
        file.set_len(0)?;
        Ok(Storage::File { file, len: 0 })
    }

    pub fn len(&self) -> u64 {
        match self {
            Storage::Memory(bytes) => bytes.len() as u64,
            Storage::Shared(bytes) => bytes.len() as u64,
            Storage::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `dst` with the bytes from `offset`.
    pub fn read_at(&self, offset: u64, dst: &mut [u8], deadline: Deadline) -> Result<(), Halt> {
        match self.place() {
            Place::Memory(bytes) => sliced(dst.len() as u64, deadline, |done, n| {
                let start = index(offset + done);
                dst[index(done)..index(done + n)].copy_from_slice(&bytes[start..start + index(n)]);
                Ok(())
            }),
            Place::File(file) => read_file_at(file, offset, dst, deadline),
        }
    }

    /// The `len` bytes from `offset`, as a vector: copied straight from
    /// memory (not into zeroes first, which cost as much again), or read
    /// from the file.
    pub fn read_to_vec(
        &self,
        offset: u64,
        len: usize,
        deadline: Deadline,
    ) -> Result<Vec<u8>, Halt> {
        match self.place() {
            Place::Memory(bytes) => {
                let mut out = Vec::with_capacity(len);
                sliced(len as u64, deadline, |done, n| {
                    let start = index(offset + done);
                    out.extend_from_slice(&bytes[start..start + index(n)]);
                    Ok(())
                })?;
                Ok(out)
            }
            Place::File(file) => {
                let mut out = vec![0; len];
                read_file_at(file, offset, &mut out, deadline)?;
                Ok(out)
            }
        }
    }

    /// Hands the `len` bytes from `offset` to `f` in order, in slices,
    /// straight from memory or through one chunk of host memory for a file.
    pub fn visit(
        &self,
        offset: u64,
        len: u64,
        deadline: Deadline,
        mut f: impl FnMut(&[u8]),
    ) -> Result<(), Halt> {
        match self.place() {
            Place::Memory(bytes) => sliced(len, deadline, |done, n| {
                let start = index(offset + done);
                f(&bytes[start..start + index(n)]);
                Ok(())
            }),
            Place::File(file) => {
                let mut chunk = vec![0; CHUNK.min(index(len))];
                sliced(len, deadline, |done, n| {
                    let buf = &mut chunk[..index(n)];
                    positioned::read_exact_at(file, buf, offset + done)?;
                    f(buf);
                    Ok(())
                })
            }
        }
    }

    /// Puts `data` at `offset` (at most the current length), growing as needed.
    pub fn write(&mut self, offset: u64, data: &[u8], deadline: Deadline) -> Result<(), Halt> {
        let mut place = self.writable();
        sliced(data.len() as u64, deadline, |done, n| {
            let part = &data[index(done)..index(done + n)];
            let at = offset + done;
            match &mut place {
                Writable::Memory(bytes) => {
                    // Earlier slices leave `at` within the bytes.
                    let at = index(at);
                    let overlap = part.len().min(bytes.len() - at);
                    let (inside, beyond) = part.split_at(overlap);
                    bytes[at..at + overlap].copy_from_slice(inside);
                    bytes.extend_from_slice(beyond);
                }
                Writable::File(file, len) => {
                    positioned::write_all_at(file, part, at)?;
                    **len = (**len).max(at + n);
                }
            }
            Ok(())
        })
    }

    /// Copies `count` bytes from `src_offset` to `offset` within this
    /// storage, as `memmove` does.
    pub fn copy_within(
        &mut self,
        src_offset: u64,
        offset: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<(), Halt> {
        if src_offset == offset {
            return Ok(());
        }
        match self.writable() {
            Writable::Memory(bytes) => {
                let end = index(offset + count);
                if end > bytes.len() {
                    bytes.resize(end, 0);
                }
                memmove_sliced(src_offset, offset, count, deadline, |from, to, n| {
                    let (from, to) = (index(from), index(to));
                    bytes.copy_within(from..from + index(n), to);
                    Ok(())
                })
            }
            Writable::File(file, len) => {
                let mut chunk = vec![0; CHUNK.min(index(count))];
                memmove_sliced(src_offset, offset, count, deadline, |from, to, n| {
                    let buf = &mut chunk[..index(n)];
                    positioned::read_exact_at(file, buf, from)?;
                    positioned::write_all_at(file, buf, to)?;
                    *len = (*len).max(to + n);
                    Ok(())
                })
            }
        }
    }

    /// Copies `count` bytes at `src_offset` of `src` to `offset` of `self`
    /// (a different storage).
    pub fn copy_from(
        &mut self,
        src: &Storage,
        src_offset: u64,
        offset: u64,
        count: u64,
        deadline: Deadline,
    ) -> Result<(), Halt> {
        let from = match src.place() {
            Place::Memory(bytes) => {
                let start = index(src_offset);
                return self.write(offset, &bytes[start..start + index(count)], deadline);
            }
            Place::File(file) => file,
        };
        match self.writable() {
            Writable::File(to, len) => {
                copy_file_to_file(from, src_offset, to, offset, count, deadline, |end| {
                    *len = (*len).max(end)
                })
            }
            Writable::Memory(bytes) => {
                // Into memory: the bytes must land in host memory anyway.
                let (start, end) = (index(offset), index(offset + count));
                if end > bytes.len() {
                    bytes.resize(end, 0);
                }
                read_file_at(from, src_offset, &mut bytes[start..end], deadline)
            }
        }
    }

    pub fn truncate(&mut self, new_len: u64) -> io::Result<()> {
        match self {
            Storage::Memory(bytes) => bytes.truncate(index(new_len)),
            Storage::Shared(bytes) => bytes.truncate(index(new_len)),
            Storage::File { file, len } => {
                file.set_len(new_len)?;
                *len = new_len;
            }
        }
        Ok(())
    }

    /// The bytes, read into memory if they are in a file.
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self {
            Storage::Memory(bytes) => Ok(bytes),
            // No copy when the caller gave up its last reference to a vector.
            Storage::Shared(bytes) => Ok(Vec::from(bytes)),
            Storage::File { file, len } => {
                let mut bytes = vec![0; index(len)];
                positioned::read_exact_at(&file, &mut bytes, 0)?;
                Ok(bytes)
            }
        }
    }
}

/// Where a storage's bytes are, for reading.
enum Place<'a> {
    Memory(&'a [u8]),
    File(&'a File),
}

impl Storage {
    fn place(&self) -> Place<'_> {
        match self {
            Storage::Memory(bytes) => Place::Memory(bytes),
            Storage::Shared(bytes) => Place::Memory(bytes),
            Storage::File { file, .. } => Place::File(file),
        }
    }

    /// Where the bytes are, for changing them: shared bytes are copied
    /// into memory of this storage's own first.
    fn writable(&mut self) -> Writable<'_> {
        if let Storage::Shared(bytes) = self {
            *self = Storage::Memory(bytes.to_vec());
        }
        match self {
            Storage::Memory(bytes) => Writable::Memory(bytes),
            Storage::File { file, len } => Writable::File(file, len),
            Storage::Shared(_) => unreachable!("copied into memory just above"),
        }
    }
}

/// Where a storage's bytes are, for changing them.
enum Writable<'a> {
    Memory(&'a mut Vec<u8>),
    /// The file and its length.
    File(&'a File, &'a mut u64),
}

/// Fills `dst` from `file` at `offset`, in slices.
fn read_file_at(file: &File, offset: u64, dst: &mut [u8], deadline: Deadline) -> Result<(), Halt> {
    sliced(dst.len() as u64, deadline, |done, n| {
        let part = &mut dst[index(done)..index(done + n)];
        Ok(positioned::read_exact_at(file, part, offset + done)?)
    })
}

/// A memmove of `count` bytes from `src` to `dst` in slices, each passed to
/// `step(from, to, n)`, in the direction that never overwrites bytes it has
/// yet to read: forwards when moving down, backwards when moving up.
fn memmove_sliced(
    src: u64,
    dst: u64,
    count: u64,
    deadline: Deadline,
    mut step: impl FnMut(u64, u64, u64) -> Result<(), Halt>,
) -> Result<(), Halt> {
    sliced(count, deadline, |done, n| {
        let at = if dst < src { done } else { count - done - n };
        step(src + at, dst + at, n)
    })
}

/// Copies between two files, in the kernel where possible; `grown(end)`
/// hears of each slice written, up to `end`.
fn copy_file_to_file(
    from: &File,
    src: u64,
    to: &File,
    dst: u64,
    count: u64,
    deadline: Deadline,
    mut grown: impl FnMut(u64),
) -> Result<(), Halt> {
    #[cfg(target_os = "linux")]
    {
        use std::io::{Read, Seek, SeekFrom};
        // std's io::copy uses copy_file_range for file-to-file copies (and
        // falls back to read/write when the kernel cannot), at each file's
        // position; only this function moves those positions.
        let (mut from, mut to) = (from, to);
        from.seek(SeekFrom::Start(src))?;
        to.seek(SeekFrom::Start(dst))?;
        sliced(count, deadline, |done, n| {
            if io::copy(&mut from.take(n), &mut to)? != n {
                return Err(
                    io::Error::new(io::ErrorKind::UnexpectedEof, "the file ended early").into(),
                );
            }
            grown(dst + done + n);
            Ok(())
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut chunk = vec![0; CHUNK.min(index(count))];
        sliced(count, deadline, |done, n| {
            let buf = &mut chunk[..index(n)];
            positioned::read_exact_at(from, buf, src + done)?;
            positioned::write_all_at(to, buf, dst + done)?;
            grown(dst + done + n);
            Ok(())
        })
    }
}

/// An approved offset into memory-held bytes always fits in a usize.
fn index(n: u64) -> usize {
    usize::try_from(n).expect("approved offsets into memory fit in usize")
}

#[cfg(unix)]
mod positioned {
    pub use std::os::unix::fs::FileExt;
    use std::{fs::File, io};

    pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        file.read_exact_at(buf, offset)
    }

    pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_all_at(buf, offset)
    }
}

#[cfg(windows)]
mod positioned {
    use std::os::windows::fs::FileExt;
    use std::{fs::File, io};

    pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match file.seek_read(buf, offset)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file ended early",
                    ));
                }
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    pub fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = file.seek_write(buf, offset)?;
            buf = &buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NONE: Deadline = Deadline(None);

    fn file_with(bytes: &[u8]) -> Storage {
        let mut s = Storage::empty_file(tempfile::tempfile().unwrap()).unwrap();
        s.write(0, bytes, NONE).unwrap();
        s
    }

    fn bytes(s: Storage) -> Vec<u8> {
        s.into_bytes().unwrap()
    }

    #[test]
    fn memory_and_file_storage_agree() {
        for mut s in [Storage::from(b"abcdef".to_vec()), file_with(b"abcdef")] {
            s.write(4, b"XYZ", NONE).unwrap();
            assert_eq!(s.len(), 7);
            let mut got = [0; 3];
            s.read_at(3, &mut got, NONE).unwrap();
            assert_eq!(&got, b"dXY");
            assert_eq!(s.read_to_vec(2, 4, NONE).unwrap(), b"cdXY");
            s.copy_within(0, 5, 4, NONE).unwrap();
            s.copy_within(4, 0, 3, NONE).unwrap();
            s.truncate(8).unwrap();
            assert_eq!(bytes(s), b"XabdXabc");
        }
    }

    #[test]
    fn visiting_sees_the_same_bytes_in_memory_and_in_a_file() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 5)).map(|i| (i % 253) as u8).collect();
        for s in [Storage::from(data.clone()), file_with(&data)] {
            let mut seen = Vec::new();
            s.visit(3, (CHUNK + 7) as u64, NONE, |bytes| {
                seen.extend_from_slice(bytes)
            })
            .unwrap();
            assert_eq!(seen, &data[3..CHUNK + 10]);
        }
    }

    #[test]
    fn memmove_crosses_slice_boundaries_both_ways_in_memory_and_in_a_file() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 123)).map(|i| (i % 251) as u8).collect();
        let mut model = data.clone();
        // Up by a little (backwards copy), then down by a lot (forwards).
        model.copy_within(10..10 + CHUNK * 2, 17);
        model.copy_within(CHUNK..CHUNK * 2 + 100, 3);
        for mut s in [Storage::from(data.clone()), file_with(&data)] {
            s.copy_within(10, 17, (CHUNK * 2) as u64, NONE).unwrap();
            s.copy_within(CHUNK as u64, 3, (CHUNK + 100) as u64, NONE)
                .unwrap();
            assert_eq!(bytes(s), model);
        }
    }

    #[test]
    fn a_passed_deadline_stops_work_after_one_slice() {
        let data = vec![7; CHUNK * 3];
        let passed = Deadline(Some(Instant::now()));
        for mut s in [Storage::from(data.clone()), file_with(&data)] {
            let mut visited = 0;
            let halt = s.visit(0, data.len() as u64, passed, |b| visited += b.len());
            assert!(matches!(halt, Err(Halt::Deadline)));
            assert_eq!(visited, CHUNK);
            // A call that fits in one slice is not held up by the clock.
            let mut one = vec![0; CHUNK];
            s.read_at(0, &mut one, passed).unwrap();
            let mut two = vec![0; CHUNK * 2];
            assert!(matches!(
                s.read_at(0, &mut two, passed),
                Err(Halt::Deadline)
            ));
            assert!(matches!(
                s.copy_within(0, 1, (CHUNK * 2) as u64, passed),
                Err(Halt::Deadline)
            ));
            // What was written before the stop is counted.
            assert!(matches!(
                s.write(s.len(), &data, passed),
                Err(Halt::Deadline)
            ));
            assert_eq!(s.len(), (CHUNK * 4) as u64);
            // Passing during the first slice: that slice is the last.
            let soon = Deadline(Some(Instant::now() + Duration::from_millis(200)));
            let mut slices = 0;
            let halt = s.visit(0, data.len() as u64, soon, |_| {
                slices += 1;
                std::thread::sleep(Duration::from_millis(300));
            });
            assert!(matches!(halt, Err(Halt::Deadline)));
            assert_eq!(slices, 1);
        }
        let src = file_with(&data);
        let mut dst = file_with(b"");
        assert!(matches!(
            dst.copy_from(&src, 0, 0, data.len() as u64, passed),
            Err(Halt::Deadline)
        ));
        assert_eq!(dst.len(), CHUNK as u64);
    }

    #[test]
    fn shared_bytes_are_read_in_place_and_copied_before_a_change() {
        let callers = Bytes::from(b"abcdef".to_vec());
        let mut s = Storage::from(callers.clone());
        let mut got = [0; 3];
        s.read_at(2, &mut got, NONE).unwrap();
        assert_eq!(&got, b"cde");
        assert_eq!(s.read_to_vec(1, 5, NONE).unwrap(), b"bcdef");
        let mut to_file = file_with(b"");
        to_file.copy_from(&s, 1, 0, 4, NONE).unwrap();
        assert_eq!(bytes(to_file), b"bcde");
        s.write(4, b"XYZ", NONE).unwrap();
        assert_eq!(bytes(s), b"abcdXYZ");
        assert_eq!(callers, &b"abcdef"[..]);
    }

    #[test]
    fn copies_between_kinds_of_storage() {
        let src = file_with(b"0123456789");
        let mut to_file = file_with(b"ab");
        to_file.copy_from(&src, 3, 1, 5, NONE).unwrap();
        assert_eq!(bytes(to_file), b"a34567");
        let mut to_memory = Storage::from(b"ab".to_vec());
        to_memory.copy_from(&src, 8, 2, 2, NONE).unwrap();
        assert_eq!(bytes(to_memory), b"ab89");
        let mut from_memory = file_with(b"");
        from_memory
            .copy_from(&Storage::from(b"xyz".to_vec()), 1, 0, 2, NONE)
            .unwrap();
        assert_eq!(bytes(from_memory), b"yz");
    }
}
