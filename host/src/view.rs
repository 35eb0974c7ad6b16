//! The buffer table as a guest calls it, on either path: each call is
//! counted for `--stats` here, once, and its answer flattened into one
//! `Result`, so that the glue (`component.rs`, `core_abi.rs`) only
//! translates it into WIT values or error codes.

use std::sync::Arc;

use wasmtime::AsContextMut;

use crate::buffers::{Buffers, Cursor, Read};
use crate::handle::Handle;
use crate::state::RunState;
use crate::stats::{Import, Stats};
use crate::stop::{Failure, Outcome, Stop};

/// What the buffer host functions may borrow of the store's state: the
/// buffer table and the run's counters, nothing else.
pub struct BuffersView<'a> {
    pub buffers: &'a mut Buffers,
    pub stats: &'a mut Stats,
}

/// Calls `f` with the store and a view of its buffer table at once, for a
/// host call that copies between guest memory (which borrows the store) and
/// the buffers. The table and the counters are moved out of the store's
/// data for the call (a few hundred bytes, nothing allocated) and put back
/// whatever `f` returns, so both can be borrowed with no `unsafe`.
pub(crate) fn lend<S, R>(store: &mut S, f: impl FnOnce(&mut S, &mut BuffersView<'_>) -> R) -> R
where
    S: AsContextMut<Data = RunState>,
{
    let mut cx = store.as_context_mut();
    let state = cx.data_mut();
    let mut buffers = std::mem::replace(&mut state.buffers, Buffers::new(0, 0, 0));
    let mut stats = std::mem::take(&mut state.stats);
    let result = f(
        store,
        &mut BuffersView {
            buffers: &mut buffers,
            stats: &mut stats,
        },
    );
    let mut cx = store.as_context_mut();
    let state = cx.data_mut();
    state.buffers = buffers;
    state.stats = stats;
    result
}

fn flatten<T>(outcome: Outcome<T>) -> Result<T, Failure> {
    Ok(outcome??)
}

impl BuffersView<'_> {
    /// Counts a call of `import` and the bytes it moved (none if it failed).
    fn count<T, E>(
        &mut self,
        import: Import,
        result: Result<T, E>,
        bytes: impl FnOnce(&T) -> u64,
    ) -> Result<T, E> {
        self.stats.record(import, result.as_ref().map_or(0, bytes));
        result
    }

    pub fn create(&mut self, limit: u64) -> Result<Handle, Failure> {
        let created = flatten(self.buffers.create(limit));
        self.count(Import::Create, created, |_| 0)
    }

    pub fn len(&mut self, h: Handle) -> Result<u64, Stop> {
        let len = self.buffers.len(h).map_err(Stop::from);
        self.count(Import::Len, len, |_| 0)
    }

    pub fn limit(&mut self, h: Handle) -> Result<u64, Stop> {
        let limit = self.buffers.limit(h).map_err(Stop::from);
        self.count(Import::Limit, limit, |_| 0)
    }

    /// `read`, the approved bytes handed to `take`, which copies them once to
    /// wherever they go.
    pub fn read<R>(
        &mut self,
        h: Handle,
        offset: u64,
        len: u64,
        take: impl FnOnce(&Read<'_>) -> Result<R, Stop>,
    ) -> Result<R, Failure> {
        let read = flatten(self.buffers.read(h, offset, len))
            .and_then(|read| Ok((take(&read)?, read.len() as u64)));
        self.count(Import::Read, read, |&(_, n)| n)
            .map(|(taken, _)| taken)
    }

    /// `read-stream`'s check at the call; not counted (its deliveries
    /// count as reads).
    pub fn open_stream(&mut self, h: Handle, offset: u64) -> Result<Arc<Cursor>, Failure> {
        flatten(self.buffers.open_stream(h, offset))
    }

    /// One delivery of a `read-stream` stream into `dst`, counted as a
    /// `read` of the bytes it copied; `None` once the stream has ended.
    pub fn deliver(
        &mut self,
        h: Handle,
        cursor: &Cursor,
        dst: &mut [u8],
    ) -> Result<Option<usize>, Stop> {
        let delivered = self.buffers.deliver(h, cursor, dst);
        self.count(Import::Read, delivered, |n| n.unwrap_or(0) as u64)
    }

    pub fn write(&mut self, h: Handle, offset: u64, data: &[u8]) -> Result<(), Failure> {
        let written = flatten(self.buffers.write(h, offset, data));
        self.count(Import::Write, written, |()| data.len() as u64)
    }

    pub fn append(&mut self, h: Handle, data: &[u8]) -> Result<(), Failure> {
        let appended = flatten(self.buffers.append(h, data));
        self.count(Import::Append, appended, |()| data.len() as u64)
    }

    pub fn truncate(&mut self, h: Handle, len: u64) -> Result<(), Failure> {
        let truncated = flatten(self.buffers.truncate(h, len));
        self.count(Import::Truncate, truncated, |_| 0)
    }

    /// `copy-from` into `dst`: the bytes copied.
    pub fn copy(
        &mut self,
        dst: Handle,
        src: Handle,
        src_offset: u64,
        offset: u64,
        len: u64,
    ) -> Result<u64, Failure> {
        let copied = flatten(self.buffers.copy(dst, src, src_offset, offset, len));
        self.count(Import::CopyFrom, copied, |&count| count)
    }

    pub fn drop_scratch(&mut self, h: Handle) -> Result<(), Stop> {
        let dropped = self.buffers.drop_scratch(h).map_err(Stop::from);
        self.count(Import::Drop, dropped, |_| 0)
    }

    pub fn sha256(&mut self, h: Handle, offset: u64, len: u64) -> Result<[u8; 32], Failure> {
        let hash = flatten(self.buffers.sha256(h, offset, len));
        self.count(Import::Sha256, hash, |_| 0)
    }
}
