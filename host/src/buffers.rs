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

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::handle::{GENERATION_MASK, Handle, MAX_LIVE_BUFFERS};
use crate::rules::{self, Kind, Quota, Shape};
use crate::stats::Progress;
use crate::stop::{Fault, Outcome, Stop, halted};
use crate::storage::{Deadline, Storage};

/// The name of a buffer of `kind`, for messages.
fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Input => "the input",
        Kind::Output => "the output",
        Kind::Scratch => "a scratch buffer",
    }
}

/// An approved `read`: the bytes to hand over, still in the buffer, so the
/// caller copies them exactly once, wherever they need to go.
pub struct Read<'a> {
    storage: &'a Storage,
    kind: Kind,
    offset: u64,
    len: usize,
    deadline: Deadline,
}

impl Read<'_> {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Copies the bytes into `dst`, which must be [`Read::len`] long.
    pub fn copy_to(&self, dst: &mut [u8]) -> Result<(), Stop> {
        self.storage
            .read_at(self.offset, dst, self.deadline)
            .map_err(halted(format!("reading {}", name(self.kind))))
    }

    pub fn to_vec(&self) -> Result<Vec<u8>, Stop> {
        self.storage
            .read_to_vec(self.offset, self.len, self.deadline)
            .map_err(halted(format!("reading {}", name(self.kind))))
    }
}

/// One buffer: its kind, limit and bytes, and the streams open on it.
#[derive(Debug)]
struct Buffer {
    kind: Kind,
    limit: u64,
    storage: Storage,
    /// The cursors of the `read-stream` streams on this buffer; dead ones
    /// (their stream dropped) are pruned when another opens or a truncate
    /// looks at them.
    streams: Vec<Weak<Cursor>>,
}

/// Where a `read-stream` stream is in its buffer. The stream holds it and
/// the buffer sees it: a truncate below the position ends the stream then,
/// even if the buffer grows back before the next delivery.
#[derive(Debug)]
pub struct Cursor {
    // Atomics only so a cursor may live in the store (`Send`); one run's
    // calls never race.
    position: AtomicU64,
    cut: AtomicBool,
}

impl Cursor {
    fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }
}

impl Buffer {
    fn new(kind: Kind, limit: u64, storage: Storage) -> Self {
        Buffer {
            kind,
            limit,
            storage,
            streams: Vec::new(),
        }
    }

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
    max_copy: u64,
    /// Where reads of the input have got to, for whoever watches.
    progress: Option<Progress>,
    /// When the run's time is up: long operations stop there, slice by slice.
    deadline: Deadline,
}

impl Buffers {
    /// An empty table whose scratch buffers may hold `quota` bytes together,
    /// of which at most `max_live` may exist at once, and whose operations
    /// move at most `max_copy` bytes per call.
    pub fn new(quota: u64, max_live: usize, max_copy: u64) -> Self {
        Buffers {
            slots: Vec::new(),
            free: Vec::new(),
            quota: Quota::new(quota),
            max_live: max_live.min(MAX_LIVE_BUFFERS),
            live: 0,
            max_copy,
            progress: None,
            deadline: Deadline::default(),
        }
    }

    /// Stops every operation still at work at `deadline` (within one slice
    /// of storage work) with [`Fault::TimeUp`].
    pub fn stop_at(&mut self, deadline: Instant) {
        self.deadline = Deadline(Some(deadline));
    }

    /// Reports how far the input has been read to `progress`.
    pub fn watch_input(&mut self, progress: Progress) {
        self.progress = Some(progress);
    }

    fn input_reached(&self, kind: Kind, offset: u64) {
        if let (Kind::Input, Some(progress)) = (kind, &self.progress) {
            progress.reached(offset);
        }
    }

    /// An approved operation may still move too much for one call: a host
    /// call cannot be interrupted, so its size bounds how long it blocks.
    fn check_copy(&self, bytes: u64) -> Result<(), Fault> {
        if bytes > self.max_copy {
            return Err(Fault::CopyTooLarge {
                bytes,
                cap: self.max_copy,
            });
        }
        Ok(())
    }

    /// The host's input buffer: read-only, its limit its length.
    pub fn insert_input(&mut self, storage: Storage) -> Result<Handle, Fault> {
        let limit = storage.len();
        self.insert(Buffer::new(Kind::Input, limit, storage))
    }

    /// The host's output buffer: writable, bounded by `limit`, held in
    /// `storage` (which must be empty).
    pub fn insert_output(&mut self, limit: u64, storage: Storage) -> Result<Handle, Fault> {
        debug_assert!(storage.is_empty());
        self.insert(Buffer::new(Kind::Output, limit, storage))
    }

    /// `create(limit)`.
    pub fn create(&mut self, limit: u64) -> Outcome<Handle> {
        if let Err(e) = rules::create(&self.quota, limit) {
            return Ok(Err(e));
        }
        let buffer = Buffer::new(Kind::Scratch, limit, Storage::default());
        Ok(Ok(self.insert(buffer)?))
    }

    /// Drops a scratch buffer and gives its bytes back to the quota.
    pub fn drop_scratch(&mut self, h: Handle) -> Result<(), Fault> {
        if self.get(h)?.kind != Kind::Scratch {
            return Err(Fault::NotDroppable(h));
        }
        self.remove(h).map(drop)
    }

    /// Takes a buffer out of the table (the host's output at the end of a run).
    pub fn remove(&mut self, h: Handle) -> Result<Storage, Fault> {
        self.get(h)?;
        let slot = &mut self.slots[h.index()];
        let buffer = slot.buffer.take().expect("checked by get");
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        self.free.push(h.index());
        self.live -= 1;
        self.quota.resize(buffer.kind, buffer.storage.len(), 0);
        Ok(buffer.storage)
    }

    pub fn len(&self, h: Handle) -> Result<u64, Fault> {
        Ok(self.get(h)?.storage.len())
    }

    pub fn limit(&self, h: Handle) -> Result<u64, Fault> {
        Ok(self.get(h)?.limit)
    }

    /// `read(offset, len)`: the approved bytes, not yet copied.
    pub fn read(&self, h: Handle, offset: u64, len: u64) -> Outcome<Read<'_>> {
        let buffer = self.get(h)?;
        match rules::read(&buffer.shape(), offset, len) {
            Ok(range) => {
                let len = range.end - range.start;
                self.check_copy(len)?;
                self.input_reached(buffer.kind, range.end);
                Ok(Ok(Read {
                    storage: &buffer.storage,
                    kind: buffer.kind,
                    offset,
                    deadline: self.deadline,
                    // Within a buffer whose bytes are in memory or under the copy cap.
                    len: usize::try_from(len).map_err(|_| Fault::CopyTooLarge {
                        bytes: len,
                        cap: self.max_copy,
                    })?,
                }))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// `streams.read-stream(offset)`: a stream's cursor at `offset`, if a
    /// stream may start there (by the bounds of a `read` there).
    pub fn open_stream(&mut self, h: Handle, offset: u64) -> Outcome<Arc<Cursor>> {
        let buffer = self.get_mut(h)?;
        if let Err(e) = rules::read(&buffer.shape(), offset, 0) {
            return Ok(Err(e));
        }
        let cursor = Arc::new(Cursor {
            position: AtomicU64::new(offset),
            cut: AtomicBool::new(false),
        });
        buffer.streams.retain(|c| c.strong_count() > 0);
        buffer.streams.push(Arc::downgrade(&cursor));
        Ok(Ok(cursor))
    }

    /// One delivery of the stream at `cursor` on `h` into `dst` (the
    /// guest's read buffer): the bytes copied, the cursor moved past them;
    /// or `None` when the stream has ended: its position is at the
    /// buffer's length now, the buffer was truncated below it since the
    /// last delivery, or the buffer is gone. The bytes are as the buffer
    /// holds them at this moment; like a `read`, a delivery moves at most
    /// the copy cap.
    pub fn deliver(
        &self,
        h: Handle,
        cursor: &Cursor,
        dst: &mut [u8],
    ) -> Result<Option<usize>, Stop> {
        if self.get(h).is_err() || cursor.cut.load(Ordering::Relaxed) {
            // Dropped while the stream was open: the stream ends, it does
            // not trap (the guest's handle was valid when it opened it).
            return Ok(None);
        }
        // A `read` of `dst.len()` bytes at the position, by the same rules;
        // nothing left, the stream ends.
        match self.read(h, cursor.position(), dst.len() as u64)? {
            Ok(read) if read.len() > 0 => {
                let n = read.len();
                read.copy_to(&mut dst[..n])?;
                cursor.position.fetch_add(n as u64, Ordering::Relaxed);
                Ok(Some(n))
            }
            Ok(_) | Err(_) => Ok(None),
        }
    }

    /// `digest.sha256(offset, len)`: the SHA-256 of the bytes `read` would
    /// return (same bounds), computed where they are, never copied out.
    ///
    /// The per-call copy cap does not apply: nothing is moved, the host holds
    /// at most one chunk of a file-backed buffer, and the time it takes is
    /// bounded by the deadline, which it looks at between slices.
    pub fn sha256(&self, h: Handle, offset: u64, len: u64) -> Outcome<[u8; 32]> {
        let buffer = self.get(h)?;
        let range = match rules::read(&buffer.shape(), offset, len) {
            Ok(range) => range,
            Err(e) => return Ok(Err(e)),
        };
        let mut hasher = Sha256::new();
        buffer
            .storage
            .visit(
                range.start,
                range.end - range.start,
                self.deadline,
                |bytes| hasher.update(bytes),
            )
            .map_err(halted(format!("reading {}", name(buffer.kind))))?;
        Ok(Ok(hasher.finalize().into()))
    }

    /// `write(offset, data)`.
    pub fn write(&mut self, h: Handle, offset: u64, data: &[u8]) -> Outcome<()> {
        let shape = self.get(h)?.shape();
        let new_len = match rules::write(&shape, &self.quota, offset, data.len() as u64) {
            Ok(new_len) => new_len,
            Err(e) => return Ok(Err(e)),
        };
        self.check_copy(data.len() as u64)?;
        let deadline = self.deadline;
        let storage = &mut self.get_mut(h)?.storage;
        storage
            .write(offset, data, deadline)
            .map_err(halted(format!("writing {}", name(shape.kind))))?;
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
        buffer
            .storage
            .truncate(len)
            .map_err(halted::<io::Error>(format!(
                "truncating {}",
                name(shape.kind)
            )))?;
        // The streams now past the end are over, whatever comes after.
        buffer.streams.retain(|c| match c.upgrade() {
            Some(c) if c.position() > len => {
                c.cut.store(true, Ordering::Relaxed);
                false
            }
            Some(_) => true,
            None => false,
        });
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
        self.check_copy(copy.count)?;
        let src_kind = self.get(src)?.kind;
        let doing = || format!("copying {} into {}", name(src_kind), name(shape.kind));
        let deadline = self.deadline;
        if src == dst {
            let storage = &mut self.get_mut(dst)?.storage;
            storage
                .copy_within(src_offset, offset, copy.count, deadline)
                .map_err(halted(doing()))?;
        } else {
            // Two distinct live slots: borrow both at once, without copying
            // the source out first.
            let (src_slot, dst_slot) = pair_mut(&mut self.slots, src.index(), dst.index());
            let from = &src_slot.buffer.as_ref().expect("checked above").storage;
            let to = &mut dst_slot.buffer.as_mut().expect("checked above").storage;
            to.copy_from(from, src_offset, offset, copy.count, deadline)
                .map_err(halted(doing()))?;
        }
        self.quota.resize(shape.kind, shape.len, copy.new_len);
        self.input_reached(src_kind, src_offset + copy.count);
        Ok(Ok(copy.count))
    }

    /// The quota all scratch buffers share, and what they hold now.
    #[cfg(test)]
    pub fn quota(&self) -> Quota {
        self.quota
    }

    fn insert(&mut self, buffer: Buffer) -> Result<Handle, Fault> {
        if self.live >= self.max_live {
            return Err(Fault::TooMany(self.max_live));
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

    fn get(&self, h: Handle) -> Result<&Buffer, Fault> {
        self.slots
            .get(h.index())
            .filter(|slot| slot.generation == h.generation())
            .and_then(|slot| slot.buffer.as_ref())
            .ok_or(Fault::Unknown(h))
    }

    fn get_mut(&mut self, h: Handle) -> Result<&mut Buffer, Fault> {
        self.slots
            .get_mut(h.index())
            .filter(|slot| slot.generation == h.generation())
            .and_then(|slot| slot.buffer.as_mut())
            .ok_or(Fault::Unknown(h))
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
    use crate::rules::BufferError;

    fn bytes(b: &Buffers, h: Handle, offset: u64, len: u64) -> Vec<u8> {
        b.read(h, offset, len).unwrap().unwrap().to_vec().unwrap()
    }

    fn table() -> (Buffers, Handle, Handle) {
        let mut buffers = Buffers::new(16, 8, 1 << 20);
        let input = buffers
            .insert_input(b"hello world".to_vec().into())
            .unwrap();
        let output = buffers.insert_output(32, Storage::default()).unwrap();
        (buffers, input, output)
    }

    #[test]
    fn deliveries_follow_the_buffer_as_it_is_then() {
        let (mut b, input, _) = table();
        assert!(b.open_stream(input, 11).unwrap().is_ok());
        assert_eq!(
            b.open_stream(input, 12).unwrap().err(),
            Some(BufferError::OutOfBounds(11))
        );
        let mut dst = [0u8; 4];
        let at_start = b.open_stream(input, 0).unwrap().unwrap();
        assert_eq!(b.deliver(input, &at_start, &mut dst).unwrap(), Some(4));
        assert_eq!(&dst, b"hell");
        let near_end = b.open_stream(input, 9).unwrap().unwrap();
        assert_eq!(b.deliver(input, &near_end, &mut dst).unwrap(), Some(2));
        assert_eq!(&dst[..2], b"ld");
        assert_eq!(b.deliver(input, &near_end, &mut dst).unwrap(), None);
        // A scratch buffer changed, truncated and dropped between deliveries.
        let s = b.create(8).unwrap().unwrap();
        b.write(s, 0, b"abcdef").unwrap().unwrap();
        let stream = b.open_stream(s, 0).unwrap().unwrap();
        assert_eq!(b.deliver(s, &stream, &mut dst[..2]).unwrap(), Some(2));
        b.write(s, 2, b"XY").unwrap().unwrap();
        assert_eq!(b.deliver(s, &stream, &mut dst).unwrap(), Some(4));
        assert_eq!(&dst, b"XYef");
        // At position 6: a truncate to the position does not end it, one
        // below does, even when the buffer grows back before the delivery.
        let beside = b.open_stream(s, 2).unwrap().unwrap();
        b.truncate(s, 6).unwrap().unwrap();
        b.truncate(s, 3).unwrap().unwrap();
        b.write(s, 3, b"zzzz").unwrap().unwrap();
        assert_eq!(b.deliver(s, &stream, &mut dst).unwrap(), None);
        // A stream the truncate left behind goes on.
        assert_eq!(b.deliver(s, &beside, &mut dst).unwrap(), Some(4));
        assert_eq!(&dst, b"Xzzz");
        b.drop_scratch(s).unwrap();
        assert_eq!(b.deliver(s, &beside, &mut dst).unwrap(), None);
        // The copy cap applies per delivery.
        let mut capped = Buffers::new(16, 8, 3);
        let h = capped.insert_input(b"hello".to_vec().into()).unwrap();
        let c = capped.open_stream(h, 0).unwrap().unwrap();
        assert_eq!(capped.deliver(h, &c, &mut dst[..3]).unwrap(), Some(3));
        let c = capped.open_stream(h, 0).unwrap().unwrap();
        assert!(matches!(
            capped.deliver(h, &c, &mut dst),
            Err(Stop::Fault(Fault::CopyTooLarge { bytes: 4, cap: 3 }))
        ));
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
        assert_eq!(bytes(&b, s, 0, 100), b"abcd");
        assert_eq!(bytes(&b, input, 0, 100), b"hello world");
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
        assert_eq!(bytes(&b, output, 0, 100), b"ababcdef");
        assert_eq!(b.copy(output, output, 3, 0, 2).unwrap(), Ok(2));
        assert_eq!(bytes(&b, output, 0, 100), b"bcabcdef");
    }

    #[test]
    fn dropped_and_forged_handles_are_refused() {
        let (mut b, input, output) = table();
        let s = b.create(4).unwrap().unwrap();
        b.drop_scratch(s).unwrap();
        assert_eq!(b.len(s), Err(Fault::Unknown(s)));
        // The slot is reused, but the old handle still names nothing.
        let t = b.create(4).unwrap().unwrap();
        assert_ne!(s, t);
        assert_eq!(b.len(s), Err(Fault::Unknown(s)));
        assert_eq!(b.len(t), Ok(0));
        let forged = Handle::from_raw(12345);
        assert_eq!(
            b.write(forged, 0, b"x"),
            Err(Stop::Fault(Fault::Unknown(forged)))
        );
        assert_eq!(b.drop_scratch(input), Err(Fault::NotDroppable(input)));
        assert_eq!(b.drop_scratch(output), Err(Fault::NotDroppable(output)));
    }

    #[test]
    fn moving_more_than_the_per_call_cap_is_a_fault_that_changes_nothing() {
        let mut b = Buffers::new(1024, 8, 4);
        let input = b.insert_input(b"0123456789".to_vec().into()).unwrap();
        let output = b.insert_output(100, Storage::default()).unwrap();
        let big = Stop::Fault(Fault::CopyTooLarge { bytes: 5, cap: 4 });
        assert_eq!(
            b.read(input, 0, 5).err(),
            Some(Stop::Fault(Fault::CopyTooLarge { bytes: 5, cap: 4 }))
        );
        assert_eq!(bytes(&b, input, 6, 100), b"6789");
        assert_eq!(b.append(output, b"01234"), Err(big));
        assert_eq!(
            b.copy(output, input, 0, 0, 5),
            Err(Stop::Fault(Fault::CopyTooLarge { bytes: 5, cap: 4 }))
        );
        assert_eq!(b.len(output), Ok(0));
        // Refusals by the rules come first: nothing would move.
        assert!(matches!(
            b.read(input, 11, 100),
            Ok(Err(BufferError::OutOfBounds(10)))
        ));
    }

    #[test]
    fn a_passed_deadline_stops_every_operation_longer_than_a_slice() {
        const BIG: usize = 3 << 20;
        let mut b = Buffers::new(1 << 30, 8, u64::MAX);
        let input = b.insert_input(vec![1; BIG].into()).unwrap();
        let output = b.insert_output(1 << 30, Storage::default()).unwrap();
        b.stop_at(std::time::Instant::now());
        let up = || Some(Stop::Fault(Fault::TimeUp));
        assert_eq!(b.sha256(input, 0, u64::MAX).err(), up());
        assert_eq!(
            b.read(input, 0, u64::MAX).unwrap().unwrap().to_vec().err(),
            up()
        );
        assert_eq!(b.append(output, &vec![2; BIG]).err(), up());
        assert_eq!(b.copy(output, input, 0, 0, u64::MAX).err(), up());
        // A short call still answers; so do the rules.
        assert_eq!(b.sha256(input, 0, 10).map(|r| r.is_ok()), Ok(true));
        assert_eq!(b.truncate(input, 0), Ok(Err(BufferError::ReadOnly)));
    }

    #[test]
    fn sha256_hashes_what_read_would_return() {
        let (b, input, _) = table();
        // SHA-256("hello world") and SHA-256("world"), well-known values.
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let whole = b.sha256(input, 0, u64::MAX).unwrap().unwrap();
        assert_eq!(
            hex(whole),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let tail = b.sha256(input, 6, 100).unwrap().unwrap();
        assert_eq!(
            hex(tail),
            "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
        );
        assert!(matches!(
            b.sha256(input, 12, 0),
            Ok(Err(BufferError::OutOfBounds(11)))
        ));
    }

    #[test]
    fn live_buffers_are_capped() {
        let (mut b, _, _) = table();
        let made: Vec<_> = (0..6).map(|_| b.create(0).unwrap().unwrap()).collect();
        assert_eq!(b.create(0), Err(Stop::Fault(Fault::TooMany(8))));
        b.drop_scratch(made[0]).unwrap();
        assert!(b.create(0).unwrap().is_ok());
    }

    mod fuzz {
        //! Arbitrary operations with hostile handles, offsets and lengths:
        //! nothing panics, the quota always adds up, and whatever is refused
        //! (by the rules or as a fault) changes nothing.

        use proptest::prelude::*;

        use super::*;
        use crate::handle::INDEX_BITS;

        #[derive(Debug, Clone)]
        enum Op {
            Create(u64),
            Read(u32, u64, u64),
            Write(u32, u64, Vec<u8>),
            Append(u32, Vec<u8>),
            Truncate(u32, u64),
            Copy(u32, u32, u64, u64, u64),
            Drop(u32),
        }

        /// Handles: mostly ones that exist (or did), sometimes anything.
        fn handle() -> impl Strategy<Value = u32> {
            prop_oneof![
                4 => (0u32..6).prop_map(|i| i),
                1 => (0u32..6).prop_map(|i| i | (1 << INDEX_BITS)),
                1 => any::<u32>(),
            ]
        }

        fn figure() -> impl Strategy<Value = u64> {
            prop_oneof![6 => 0..40u64, 1 => u64::MAX - 40..=u64::MAX, 1 => any::<u64>()]
        }

        fn op() -> impl Strategy<Value = Op> {
            let data = || prop::collection::vec(any::<u8>(), 0..20);
            prop_oneof![
                (prop_oneof![0..64u64, figure()]).prop_map(Op::Create),
                (handle(), figure(), figure()).prop_map(|(h, o, l)| Op::Read(h, o, l)),
                (handle(), figure(), data()).prop_map(|(h, o, d)| Op::Write(h, o, d)),
                (handle(), data()).prop_map(|(h, d)| Op::Append(h, d)),
                (handle(), figure()).prop_map(|(h, n)| Op::Truncate(h, n)),
                (handle(), handle(), figure(), figure(), figure())
                    .prop_map(|(d, s, so, o, l)| Op::Copy(d, s, so, o, l)),
                handle().prop_map(Op::Drop),
            ]
        }

        fn snapshot(b: &Buffers) -> Vec<Option<(Kind, u64, Vec<u8>)>> {
            b.slots
                .iter()
                .map(|slot| {
                    let buf = slot.buffer.as_ref()?;
                    let mut bytes = vec![0; buf.storage.len() as usize];
                    buf.storage
                        .read_at(0, &mut bytes, Deadline::default())
                        .unwrap();
                    Some((buf.kind, buf.limit, bytes))
                })
                .collect()
        }

        proptest! {
            // PROPTEST_CASES runs more (or fewer) sequences.
            #![proptest_config(ProptestConfig {
                cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
                ..ProptestConfig::default()
            })]
            #[test]
            fn hostile_sequences_never_panic_and_refusals_change_nothing(
                ops in prop::collection::vec(op(), 1..80),
                quota in 0..100u64,
                max_copy in prop_oneof![Just(u64::MAX), 0..30u64],
            ) {
                let mut b = Buffers::new(quota, 6, max_copy);
                b.insert_input(b"the input".to_vec().into()).unwrap();
                b.insert_output(32, Storage::default()).unwrap();
                for op in ops {
                    let before = snapshot(&b);
                    let h = Handle::from_raw;
                    let refused = match op {
                        Op::Create(limit) => !matches!(b.create(limit), Ok(Ok(_))),
                        Op::Read(x, o, l) => !matches!(b.read(h(x), o, l), Ok(Ok(_))),
                        Op::Write(x, o, d) => b.write(h(x), o, &d) != Ok(Ok(())),
                        Op::Append(x, d) => b.append(h(x), &d) != Ok(Ok(())),
                        Op::Truncate(x, n) => b.truncate(h(x), n) != Ok(Ok(())),
                        Op::Copy(d, s, so, o, l) => !matches!(b.copy(h(d), h(s), so, o, l), Ok(Ok(_))),
                        Op::Drop(x) => b.drop_scratch(h(x)).is_err(),
                    };
                    if refused {
                        prop_assert_eq!(&snapshot(&b), &before);
                    }
                    let scratch: u64 = snapshot(&b)
                        .into_iter()
                        .flatten()
                        .filter(|(kind, ..)| *kind == Kind::Scratch)
                        .map(|(_, _, bytes)| bytes.len() as u64)
                        .sum();
                    prop_assert_eq!(b.quota().used, scratch);
                    prop_assert!(scratch <= quota);
                    for (_, limit, bytes) in snapshot(&b).into_iter().flatten() {
                        prop_assert!(bytes.len() as u64 <= limit);
                    }
                }
            }
        }
    }
}
