//! Where a buffer's bytes live.
//!
//! Storage only moves bytes: every range it is given has already been
//! approved by [`crate::rules`], so nothing here checks bounds beyond what
//! slicing itself asserts.

/// The bytes of one buffer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Storage {
    bytes: Vec<u8>,
}

impl Storage {
    pub fn new() -> Self {
        Storage::default()
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes in `start..end`.
    pub fn slice(&self, start: u64, end: u64) -> &[u8] {
        &self.bytes[index(start)..index(end)]
    }

    /// Puts `data` at `offset` (at most the current length), growing as needed.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        let offset = index(offset);
        let overlap = data.len().min(self.bytes.len() - offset);
        let (inside, beyond) = data.split_at(overlap);
        self.bytes[offset..offset + overlap].copy_from_slice(inside);
        self.bytes.extend_from_slice(beyond);
    }

    /// Copies `count` bytes from `src_offset` to `offset` within this storage,
    /// as `memmove` does.
    pub fn copy_within(&mut self, src_offset: u64, offset: u64, count: u64) {
        let (src, dst, count) = (index(src_offset), index(offset), index(count));
        let end = dst + count;
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        self.bytes.copy_within(src..src + count, dst);
    }

    pub fn truncate(&mut self, len: u64) {
        self.bytes.truncate(index(len));
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl From<Vec<u8>> for Storage {
    fn from(bytes: Vec<u8>) -> Self {
        Storage { bytes }
    }
}

/// An approved offset always lies within bytes held in memory, so it fits.
fn index(n: u64) -> usize {
    usize::try_from(n).expect("approved offsets fit in memory")
}
