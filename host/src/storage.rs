//! Where a buffer's bytes live: in memory, or in a file.
//!
//! A file-backed buffer never holds its bytes in host memory: reads and
//! writes are positioned (`pread`/`pwrite`), copies between two files stay
//! in the kernel (`copy_file_range` where the platform has it), and copies
//! that must pass through the host do so in bounded chunks. That is what
//! keeps the host's memory flat for an input or output of any size.
//!
//! Storage only moves bytes: every range it is given has already been
//! approved by [`crate::rules`], so nothing here checks bounds beyond what
//! slicing itself asserts.

use std::fs::File;
use std::io;

/// How much a copy that passes through host memory holds at once.
const CHUNK: usize = 1 << 20;

/// The bytes of one buffer.
#[derive(Debug)]
pub enum Storage {
    Memory(Vec<u8>),
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
            Storage::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `dst` with the bytes from `offset`.
    pub fn read_at(&self, offset: u64, dst: &mut [u8]) -> io::Result<()> {
        match self {
            Storage::Memory(bytes) => {
                let start = index(offset);
                dst.copy_from_slice(&bytes[start..start + dst.len()]);
                Ok(())
            }
            Storage::File { file, .. } => positioned::read_exact_at(file, dst, offset),
        }
    }

    /// Hands the `len` bytes from `offset` to `f` in order, as one slice when
    /// they are in memory, in bounded chunks when they are in a file.
    pub fn visit(&self, offset: u64, len: u64, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        match self {
            Storage::Memory(bytes) => {
                let start = index(offset);
                f(&bytes[start..start + index(len)]);
            }
            Storage::File { file, .. } => {
                let mut chunk = vec![0; CHUNK.min(index(len))];
                let mut done = 0;
                while done < len {
                    let n = (len - done).min(chunk.len() as u64);
                    let buf = &mut chunk[..index(n)];
                    positioned::read_exact_at(file, buf, offset + done)?;
                    f(buf);
                    done += n;
                }
            }
        }
        Ok(())
    }

    /// Puts `data` at `offset` (at most the current length), growing as needed.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        match self {
            Storage::Memory(bytes) => {
                let offset = index(offset);
                let overlap = data.len().min(bytes.len() - offset);
                let (inside, beyond) = data.split_at(overlap);
                bytes[offset..offset + overlap].copy_from_slice(inside);
                bytes.extend_from_slice(beyond);
            }
            Storage::File { file, len } => {
                positioned::write_all_at(file, data, offset)?;
                *len = (*len).max(offset + data.len() as u64);
            }
        }
        Ok(())
    }

    /// Copies `count` bytes from `src_offset` to `offset` within this
    /// storage, as `memmove` does.
    pub fn copy_within(&mut self, src_offset: u64, offset: u64, count: u64) -> io::Result<()> {
        match self {
            Storage::Memory(bytes) => {
                let (src, dst, count) = (index(src_offset), index(offset), index(count));
                if dst + count > bytes.len() {
                    bytes.resize(dst + count, 0);
                }
                bytes.copy_within(src..src + count, dst);
                Ok(())
            }
            Storage::File { file, len } => {
                copy_within_file(file, src_offset, offset, count)?;
                *len = (*len).max(offset + count);
                Ok(())
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
    ) -> io::Result<()> {
        let from = match src {
            Storage::Memory(bytes) => {
                let start = index(src_offset);
                return self.write(offset, &bytes[start..start + index(count)]);
            }
            Storage::File { file, .. } => file,
        };
        match self {
            Storage::File { file: to, len } => {
                copy_file_to_file(from, src_offset, to, offset, count)?;
                *len = (*len).max(offset + count);
                Ok(())
            }
            Storage::Memory(bytes) => {
                // Into memory: the bytes must land in host memory anyway.
                let (offset, count) = (index(offset), index(count));
                if offset + count > bytes.len() {
                    bytes.resize(offset + count, 0);
                }
                positioned::read_exact_at(from, &mut bytes[offset..offset + count], src_offset)
            }
        }
    }

    pub fn truncate(&mut self, new_len: u64) -> io::Result<()> {
        match self {
            Storage::Memory(bytes) => bytes.truncate(index(new_len)),
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
            Storage::File { file, len } => {
                let mut bytes = vec![0; index(len)];
                positioned::read_exact_at(&file, &mut bytes, 0)?;
                Ok(bytes)
            }
        }
    }
}

/// A memmove within one file, in bounded chunks, in the direction that never
/// overwrites bytes it has yet to read.
fn copy_within_file(file: &File, src: u64, dst: u64, count: u64) -> io::Result<()> {
    if src == dst || count == 0 {
        return Ok(());
    }
    let mut chunk = vec![0; CHUNK.min(index(count))];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(chunk.len() as u64);
        // Forwards when moving down, backwards when moving up.
        let at = if dst < src { done } else { count - done - n };
        let buf = &mut chunk[..index(n)];
        positioned::read_exact_at(file, buf, src + at)?;
        positioned::write_all_at(file, buf, dst + at)?;
        done += n;
    }
    Ok(())
}

/// Copies between two files, in the kernel where possible.
fn copy_file_to_file(from: &File, src: u64, to: &File, dst: u64, count: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::io::{Read, Seek, SeekFrom};
        // std's io::copy uses copy_file_range for file-to-file copies (and
        // falls back to read/write when the kernel cannot), at each file's
        // position; only this function moves those positions.
        let (mut from, mut to) = (from, to);
        from.seek(SeekFrom::Start(src))?;
        to.seek(SeekFrom::Start(dst))?;
        let copied = io::copy(&mut from.take(count), &mut to)?;
        if copied != count {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended early",
            ));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut chunk = vec![0; CHUNK.min(index(count))];
        let mut done = 0;
        while done < count {
            let n = (count - done).min(chunk.len() as u64);
            let buf = &mut chunk[..index(n)];
            positioned::read_exact_at(from, buf, src + done)?;
            positioned::write_all_at(to, buf, dst + done)?;
            done += n;
        }
        Ok(())
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
    use super::*;

    fn file_with(bytes: &[u8]) -> Storage {
        let mut s = Storage::empty_file(tempfile::tempfile().unwrap()).unwrap();
        s.write(0, bytes).unwrap();
        s
    }

    fn bytes(s: Storage) -> Vec<u8> {
        s.into_bytes().unwrap()
    }

    #[test]
    fn memory_and_file_storage_agree() {
        for mut s in [Storage::from(b"abcdef".to_vec()), file_with(b"abcdef")] {
            s.write(4, b"XYZ").unwrap();
            assert_eq!(s.len(), 7);
            let mut got = [0; 3];
            s.read_at(3, &mut got).unwrap();
            assert_eq!(&got, b"dXY");
            s.copy_within(0, 5, 4).unwrap();
            s.copy_within(4, 0, 3).unwrap();
            s.truncate(8).unwrap();
            assert_eq!(bytes(s), b"XabdXabc");
        }
    }

    #[test]
    fn visiting_sees_the_same_bytes_in_memory_and_in_a_file() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 5)).map(|i| (i % 253) as u8).collect();
        for s in [Storage::from(data.clone()), file_with(&data)] {
            let mut seen = Vec::new();
            s.visit(3, (CHUNK + 7) as u64, |bytes| seen.extend_from_slice(bytes))
                .unwrap();
            assert_eq!(seen, &data[3..CHUNK + 10]);
        }
    }

    #[test]
    fn file_memmove_crosses_chunk_boundaries_both_ways() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 123)).map(|i| (i % 251) as u8).collect();
        let mut model = data.clone();
        let mut s = file_with(&data);
        // Up by a little (backwards copy), then down by a lot (forwards).
        s.copy_within(10, 17, (CHUNK * 2) as u64).unwrap();
        model.copy_within(10..10 + CHUNK * 2, 17);
        s.copy_within(CHUNK as u64, 3, (CHUNK + 100) as u64)
            .unwrap();
        model.copy_within(CHUNK..CHUNK * 2 + 100, 3);
        assert_eq!(bytes(s), model);
    }

    #[test]
    fn copies_between_kinds_of_storage() {
        let src = file_with(b"0123456789");
        let mut to_file = file_with(b"ab");
        to_file.copy_from(&src, 3, 1, 5).unwrap();
        assert_eq!(bytes(to_file), b"a34567");
        let mut to_memory = Storage::from(b"ab".to_vec());
        to_memory.copy_from(&src, 8, 2, 2).unwrap();
        assert_eq!(bytes(to_memory), b"ab89");
        let mut from_memory = file_with(b"");
        from_memory
            .copy_from(&Storage::from(b"xyz".to_vec()), 1, 0, 2)
            .unwrap();
        assert_eq!(bytes(from_memory), b"yz");
    }
}
