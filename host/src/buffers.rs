//! The buffers of one run: a handle table that applies [`crate::rules`] to
//! [`crate::storage`].
//!
//! Both guest paths (components and core modules) call these methods, so the
//! rules, the quota bookkeeping and the handle checks exist once. No wasmtime
//! here: the glue modules translate results into WIT values or error codes.
//!
//! Every method answers in two layers: the outer `Result` is a fault of the
//! guest's handle (the caller traps), the inner one a refusal by the rules
//! (the guest is told and nothing changed).

use std::fmt;

use crate::rules::{self, BufferError, Kind, Quota, Shape};
use crate::storage::Storage;

/// A buffer as the guest names it. Handles are non-negative `i32`s so the core
/// ABI can return them where negative numbers are error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle(u32);

/// Index bits of a handle; the bits above count how often the slot was reused,
/// so a dropped handle does not silently name the next buffer in its slot.
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const GENERATION_MASK: u32 = (1 << (31 - INDEX_BITS)) - 1;

/// The most buffers alive at once that handles can name.
pub const MAX_LIVE_BUFFERS: usize = 1 << INDEX_BITS;

impl Handle {
    /// The handle as the guest sees it.
    pub fn to_raw(self) -> u32 {
        self.0
    }

    /// A handle the guest gave back; checked on use.
    pub fn from_raw(raw: u32) -> Self {
        Handle(raw)
    }

    fn new(index: usize, generation: u32) -> Self {
        Handle((generation << INDEX_BITS) | index as u32)
    }

    fn index(self) -> usize {
        (self.0 & INDEX_MASK) as usize
    }

    fn generation(self) -> u32 {
        self.0 >> INDEX_BITS
    }
}

/// The guest named a buffer that does not exist: forged, or already dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleError {
    Unknown(Handle),
    /// The input and output belong to the host for the whole run.
    NotDroppable(Handle),
    /// No room for another live buffer.
    TooMany(usize),
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Handles are non-negative i32s; a forged negative one reads best as such.
        match self {
            HandleError::Unknown(h) => write!(
                f,
                "buffer handle {} does not exist (forged, or already dropped)",
                h.0 as i32
            ),
            HandleError::NotDroppable(h) => write!(
                f,
                "buffer handle {} is the input or output of `process`, which the host owns; it \
                 cannot be dropped",
                h.0 as i32
            ),
            HandleError::TooMany(max) => {
                write!(f, "guest exceeded the limit of {max} live buffers")
            }
        }
    }
}

impl std::error::Error for HandleError {}

/// The outcome of an operation: a handle fault, or the rules' verdict.
pub type Outcome<T> = Result<Result<T, BufferError>, HandleError>;

/// One buffer: its kind, limit and bytes.
#[derive(Debug)]
struct Buffer {
    kind: Kind,
    limit: u64,
    storage: Storage,
}

impl Buffer {
    fn shape(&self) -> Shape {
        Shape {
            kind: self.kind,
            len: self.storage.len(),
            limit: self.limit,
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    buffer: Option<Buffer>,
}

/// All buffers of one run, and the quota their scratch buffers share.
#[derive(Debug)]
pub struct Buffers {
    slots: Vec<Slot>,
    free: Vec<usize>,
    quota: Quota,
    max_live: usize,
    live: usize,
}

impl Buffers {
    /// An empty table whose scratch buffers may hold `quota` bytes together
    /// and of which at most `max_live` may exist at once.
    pub fn new(quota: u64, max_live: usize) -> Self {
        Buffers {
            slots: Vec::new(),
            free: Vec::new(),
            quota: Quota::new(quota),
            max_live: max_live.min(MAX_LIVE_BUFFERS),
            live: 0,
        }
    }

    /// The host's input buffer: read-only, its limit its length.
    pub fn insert_input(&mut self, storage: Storage) -> Result<Handle, HandleError> {
        let limit = storage.len();
        self.insert(Buffer {
            kind: Kind::Input,
            limit,
            storage,
        })
    }

    /// The host's output buffer: empty, writable, bounded by `limit`.
    pub fn insert_output(&mut self, limit: u64) -> Result<Handle, HandleError> {
        self.insert(Buffer {
            kind: Kind::Output,
            limit,
            storage: Storage::new(),
        })
    }

    /// `create(limit)`.
    pub fn create(&mut self, limit: u64) -> Outcome<Handle> {
        if let Err(e) = rules::create(&self.quota, limit) {
            return Ok(Err(e));
        }
        self.insert(Buffer {
            kind: Kind::Scratch,
            limit,
            storage: Storage::new(),
        })
        .map(Ok)
    }

    /// Drops a scratch buffer and gives its bytes back to the quota.
    pub fn drop_scratch(&mut self, h: Handle) -> Result<(), HandleError> {
        if self.get(h)?.kind != Kind::Scratch {
            return Err(HandleError::NotDroppable(h));
        }
        self.remove(h).map(drop)
    }

    /// Takes a buffer out of the table (the host's output at the end of a run).
    pub fn remove(&mut self, h: Handle) -> Result<Storage, HandleError> {
        self.get(h)?;
        let slot = &mut self.slots[h.index()];
        let buffer = slot.buffer.take().expect("checked by get");
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        self.free.push(h.index());
        self.live -= 1;
        self.quota.resize(buffer.kind, buffer.storage.len(), 0);
        Ok(buffer.storage)
    }

    pub fn len(&self, h: Handle) -> Result<u64, HandleError> {
        Ok(self.get(h)?.storage.len())
    }

    pub fn limit(&self, h: Handle) -> Result<u64, HandleError> {
        Ok(self.get(h)?.limit)
    }

    /// `read(offset, len)`: the approved bytes, borrowed from the buffer so the
    /// caller copies them exactly once, wherever they need to go.
    pub fn read(&self, h: Handle, offset: u64, len: u64) -> Outcome<&[u8]> {
        let buffer = self.get(h)?;
        Ok(rules::read(&buffer.shape(), offset, len)
            .map(|range| buffer.storage.slice(range.start, range.end)))
    }

    /// `write(offset, data)`.
    pub fn write(&mut self, h: Handle, offset: u64, data: &[u8]) -> Outcome<()> {
        let quota = self.quota;
        let buffer = self.get_mut(h)?;
        let shape = buffer.shape();
        let new_len = match rules::write(&shape, &quota, offset, data.len() as u64) {
            Ok(new_len) => new_len,
            Err(e) => return Ok(Err(e)),
        };
        buffer.storage.write(offset, data);
        self.quota.resize(shape.kind, shape.len, new_len);
        Ok(Ok(()))
    }

    /// `append(data)`: `write(length, data)`.
    pub fn append(&mut self, h: Handle, data: &[u8]) -> Outcome<()> {
        let len = self.len(h)?;
        self.write(h, len, data)
    }

    /// `truncate(len)`.
    pub fn truncate(&mut self, h: Handle, len: u64) -> Outcome<()> {
        let buffer = self.get_mut(h)?;
        let shape = buffer.shape();
        if let Err(e) = rules::truncate(&shape, len) {
            return Ok(Err(e));
        }
        buffer.storage.truncate(len);
        self.quota.resize(shape.kind, shape.len, len);
        Ok(Ok(()))
    }

    /// `copy-from(src, src_offset, offset, len)` into `dst`: the bytes copied.
    pub fn copy(
        &mut self,
        dst: Handle,
        src: Handle,
        src_offset: u64,
        offset: u64,
        len: u64,
    ) -> Outcome<u64> {
        let src_len = self.len(src)?;
        let shape = self.get(dst)?.shape();
        let copy = match rules::copy(&shape, &self.quota, src_len, src_offset, offset, len) {
            Ok(copy) => copy,
            Err(e) => return Ok(Err(e)),
        };
        if src == dst {
            let storage = &mut self.get_mut(dst)?.storage;
            storage.copy_within(src_offset, offset, copy.count);
        } else {
            // Two distinct live slots: borrow both at once, without copying
            // the source out first.
            let (src_slot, dst_slot) = pair_mut(&mut self.slots, src.index(), dst.index());
            let src_bytes = src_slot.buffer.as_ref().expect("checked above");
            let dst_buffer = dst_slot.buffer.as_mut().expect("checked above");
            let end = src_offset + copy.count;
            dst_buffer
                .storage
                .write(offset, src_bytes.storage.slice(src_offset, end));
        }
        self.quota.resize(shape.kind, shape.len, copy.new_len);
        Ok(Ok(copy.count))
    }

    /// The quota all scratch buffers share, and what they hold now.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    fn insert(&mut self, buffer: Buffer) -> Result<Handle, HandleError> {
        if self.live >= self.max_live {
            return Err(HandleError::TooMany(self.max_live));
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::default());
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        self.quota.resize(buffer.kind, 0, buffer.storage.len());
        slot.buffer = Some(buffer);
        self.live += 1;
        Ok(Handle::new(index, slot.generation))
    }

    fn get(&self, h: Handle) -> Result<&Buffer, HandleError> {
        self.slots
            .get(h.index())
            .filter(|slot| slot.generation == h.generation())
            .and_then(|slot| slot.buffer.as_ref())
            .ok_or(HandleError::Unknown(h))
    }

    fn get_mut(&mut self, h: Handle) -> Result<&mut Buffer, HandleError> {
        self.slots
            .get_mut(h.index())
            .filter(|slot| slot.generation == h.generation())
            .and_then(|slot| slot.buffer.as_mut())
            .ok_or(HandleError::Unknown(h))
    }
}

/// Two distinct elements of a slice, both mutable.
fn pair_mut<T>(items: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    debug_assert_ne!(a, b);
    if a < b {
        let (left, right) = items.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = items.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (Buffers, Handle, Handle) {
        let mut buffers = Buffers::new(16, 8);
        let input = buffers
            .insert_input(b"hello world".to_vec().into())
            .unwrap();
        let output = buffers.insert_output(32).unwrap();
        (buffers, input, output)
    }

    #[test]
    fn refused_operations_change_nothing() {
        let (mut b, input, output) = table();
        let s = b.create(8).unwrap().unwrap();
        b.write(s, 0, b"abcd").unwrap().unwrap();
        let before = b.quota();
        assert_eq!(
            b.write(s, 2, b"0123456789").unwrap(),
            Err(BufferError::LimitExceeded(8))
        );
        assert_eq!(b.truncate(input, 0).unwrap(), Err(BufferError::ReadOnly));
        assert_eq!(
            b.copy(s, input, 0, 5, 3).unwrap(),
            Err(BufferError::OutOfBounds(4))
        );
        assert_eq!(b.read(s, 0, 100).unwrap().unwrap(), b"abcd");
        assert_eq!(b.read(input, 0, 100).unwrap().unwrap(), b"hello world");
        assert_eq!(b.len(output).unwrap(), 0);
        assert_eq!(b.quota(), before);
    }

    #[test]
    fn quota_is_shared_and_given_back() {
        let (mut b, input, _) = table();
        let s1 = b.create(16).unwrap().unwrap();
        let s2 = b.create(16).unwrap().unwrap();
        assert_eq!(b.copy(s1, input, 0, 0, 11).unwrap(), Ok(11));
        assert_eq!(
            b.append(s2, b"123456").unwrap(),
            Err(BufferError::QuotaExceeded(16))
        );
        assert_eq!(b.append(s2, b"12345").unwrap(), Ok(()));
        b.truncate(s1, 5).unwrap().unwrap();
        assert_eq!(b.quota().used, 10);
        b.drop_scratch(s2).unwrap();
        assert_eq!(b.quota().used, 5);
        assert_eq!(b.append(s1, b"0123456789a").unwrap(), Ok(()));
    }

    #[test]
    fn self_copy_overlaps_like_memmove() {
        let (mut b, _, output) = table();
        b.append(output, b"abcdef").unwrap().unwrap();
        assert_eq!(b.copy(output, output, 0, 2, 6).unwrap(), Ok(6));
        assert_eq!(b.read(output, 0, 100).unwrap().unwrap(), b"ababcdef");
        assert_eq!(b.copy(output, output, 3, 0, 2).unwrap(), Ok(2));
        assert_eq!(b.read(output, 0, 100).unwrap().unwrap(), b"bcabcdef");
    }

    #[test]
    fn dropped_and_forged_handles_are_refused() {
        let (mut b, input, output) = table();
        let s = b.create(4).unwrap().unwrap();
        b.drop_scratch(s).unwrap();
        assert_eq!(b.len(s), Err(HandleError::Unknown(s)));
        // The slot is reused, but the old handle still names nothing.
        let t = b.create(4).unwrap().unwrap();
        assert_ne!(s, t);
        assert_eq!(b.len(s), Err(HandleError::Unknown(s)));
        assert_eq!(b.len(t), Ok(0));
        let forged = Handle::from_raw(12345);
        assert_eq!(b.write(forged, 0, b"x"), Err(HandleError::Unknown(forged)));
        assert_eq!(b.drop_scratch(input), Err(HandleError::NotDroppable(input)));
        assert_eq!(
            b.drop_scratch(output),
            Err(HandleError::NotDroppable(output))
        );
    }

    #[test]
    fn live_buffers_are_capped() {
        let (mut b, _, _) = table();
        let made: Vec<_> = (0..6).map(|_| b.create(0).unwrap().unwrap()).collect();
        assert_eq!(b.create(0), Err(HandleError::TooMany(8)));
        b.drop_scratch(made[0]).unwrap();
        assert!(b.create(0).unwrap().is_ok());
    }
}
