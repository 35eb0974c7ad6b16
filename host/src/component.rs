//! The component path: the generated `buffers` traits, implemented on a view
//! that borrows only the buffer table of the store's state.
//!
//! This is the component-model form of a split context: wasmtime-wasi gets
//! `WasiCtxView { ctx, table }` out of the same `RunState`, and these host
//! functions get `BuffersView { buffers }`; neither can touch the other's
//! fields. Everything here only translates between WIT values and
//! [`Buffers`], which applies the rules.

use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, Resource, WasmList, WasmStr};

use crate::bindings::Processor;
use crate::bindings::bufbridge::buffers::buffers::{self as wit, BufferError};
use crate::bindings::bufbridge::buffers::{abort, digest};
use crate::buffers::{Buffers, Handle, Outcome, Stop};
use crate::core_abi::MAX_FAIL_MESSAGE;
use crate::rules;
use crate::state::{RunState, trap};
use crate::stats::{Import, Stats};

/// The Rust side of the WIT `buffer` resource: a marker, since the rep of a
/// `Resource<BufferResource>` is the buffer's [`Handle`] in [`Buffers`].
pub struct BufferResource;

/// What the buffer host functions may borrow of a [`RunState`]: the buffer
/// table and the run's counters, nothing else.
pub struct BuffersView<'a> {
    pub buffers: &'a mut Buffers,
    pub stats: &'a mut Stats,
}

/// The [`HasData`] projection from the store's data to [`BuffersView`].
struct BuffersProjection;

impl HasData for BuffersProjection {
    type Data<'a> = BuffersView<'a>;
}

/// Adds every interface the `processor` world imports from this package
/// (`buffers`, `digest`, `abort`) to `linker`, each served by [`BuffersView`].
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    Processor::add_to_linker::<RunState, BuffersProjection>(linker, |state| BuffersView {
        buffers: &mut state.buffers,
        stats: &mut state.stats,
    })?;
    add_fast_paths(linker)
}

/// `write`, `append` and `abort.abort`, hand-written over the bindings' own.
///
/// The generated traits receive the guest's bytes as an owned `Vec<u8>`: a
/// copy out of guest memory, then another into the buffer. `WasmList<u8>`
/// is a view of guest memory instead, so the bytes are copied once. The
/// rules are still [`Buffers`]'s, and the conformance suite runs through
/// these functions like any other. Likewise `WasmStr`: the host copies only
/// the part of an `abort` message it keeps, however long the guest made it.
fn add_fast_paths(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    type Written = wasmtime::Result<(Result<(), BufferError>,)>;
    linker.allow_shadowing(true);
    let mut buffers = linker.instance("bufbridge:buffers/buffers@0.1.0")?;
    buffers.func_wrap(
        "[method]buffer.write",
        |mut store,
         (this, offset, data): (Resource<BufferResource>, u64, WasmList<u8>)|
         -> Written {
            let outcome = with_guest_bytes(&mut store, &data, |buffers, bytes| {
                buffers.write(handle(&this), offset, bytes)
            });
            store
                .data_mut()
                .stats
                .record(Import::Write, moved(&outcome, data.len()), 0, 0);
            Ok((lift(outcome, Ok)?,))
        },
    )?;
    buffers.func_wrap(
        "[method]buffer.append",
        |mut store, (this, data): (Resource<BufferResource>, WasmList<u8>)| -> Written {
            let outcome = with_guest_bytes(&mut store, &data, |buffers, bytes| {
                buffers.append(handle(&this), bytes)
            });
            store
                .data_mut()
                .stats
                .record(Import::Append, moved(&outcome, data.len()), 0, 0);
            Ok((lift(outcome, Ok)?,))
        },
    )?;
    linker
        .instance("bufbridge:buffers/abort@0.1.0")?
        .func_wrap(
            "abort",
            |mut store, (message,): (WasmStr,)| -> wasmtime::Result<()> {
                // UTF-8, what Rust and C guests use, is read in place; a
                // UTF-16 guest's string is converted whole, a copy no larger
                // than the guest's memory.
                let kept = kept(&message.to_str(&store)?).to_string();
                Err(aborted(&mut store.data_mut().stats, kept))
            },
        )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Calls `f` with the run's buffers and the bytes of `list`, in guest memory.
///
/// Both live in the store, which lends out one or the other. The buffer table
/// is moved out for the call (a few words, nothing allocated) so that both
/// can be borrowed at once, with no `unsafe`; it goes back whatever `f` says.
fn with_guest_bytes<R>(
    store: &mut StoreContextMut<'_, RunState>,
    list: &WasmList<u8>,
    f: impl FnOnce(&mut Buffers, &[u8]) -> R,
) -> R {
    let mut buffers = std::mem::replace(&mut store.data_mut().buffers, Buffers::new(0, 0, 0));
    let result = f(&mut buffers, list.as_le_slice(&*store));
    store.data_mut().buffers = buffers;
    result
}

/// The resource handle the host passes to the guest for buffer `h`.
pub(crate) fn resource(h: Handle) -> Resource<BufferResource> {
    Resource::new_borrow(h.to_raw())
}

fn handle(resource: &Resource<BufferResource>) -> Handle {
    Handle::from_raw(resource.rep())
}

impl From<rules::BufferError> for BufferError {
    fn from(e: rules::BufferError) -> Self {
        match e {
            rules::BufferError::OutOfBounds(len) => BufferError::OutOfBounds(len),
            rules::BufferError::LimitExceeded(limit) => BufferError::LimitExceeded(limit),
            rules::BufferError::ReadOnly => BufferError::ReadOnly,
            rules::BufferError::QuotaExceeded(quota) => BufferError::QuotaExceeded(quota),
        }
    }
}

/// A stop traps the guest; a refusal by the rules is its WIT error.
fn lift<T, U>(
    outcome: Outcome<T>,
    map: impl FnOnce(T) -> Result<U, Stop>,
) -> wasmtime::Result<Result<U, BufferError>> {
    match outcome {
        Ok(Ok(value)) => map(value).map(Ok).map_err(trap),
        Ok(Err(e)) => Ok(Err(e.into())),
        Err(stop) => Err(trap(stop)),
    }
}

impl wit::Host for BuffersView<'_> {}

impl wit::HostBuffer for BuffersView<'_> {
    fn create(
        &mut self,
        limit: u64,
    ) -> wasmtime::Result<Result<Resource<BufferResource>, BufferError>> {
        self.stats.record(Import::Create, 0, 0, 0);
        lift(self.buffers.create(limit), |h| {
            Ok(Resource::new_own(h.to_raw()))
        })
    }

    fn len(&mut self, this: Resource<BufferResource>) -> wasmtime::Result<u64> {
        self.stats.record(Import::Len, 0, 0, 0);
        self.buffers.len(handle(&this)).map_err(trap)
    }

    fn limit(&mut self, this: Resource<BufferResource>) -> wasmtime::Result<u64> {
        self.stats.record(Import::Limit, 0, 0, 0);
        self.buffers.limit(handle(&this)).map_err(trap)
    }

    fn read(
        &mut self,
        this: Resource<BufferResource>,
        offset: u64,
        len: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, BufferError>> {
        // The generated bindings take an owned Vec: this is the one copy.
        let bytes = lift(
            self.buffers.read(handle(&this), offset, len.into()),
            |read| read.to_vec(),
        )?;
        let out = bytes.as_ref().map_or(0, |b| b.len() as u64);
        self.stats.record(Import::Read, 0, out, 0);
        Ok(bytes)
    }

    fn write(
        &mut self,
        this: Resource<BufferResource>,
        offset: u64,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), BufferError>> {
        // Shadowed by the fast path in `add_fast_paths`; kept for the trait.
        let outcome = self.buffers.write(handle(&this), offset, &data);
        self.stats
            .record(Import::Write, moved(&outcome, data.len()), 0, 0);
        lift(outcome, Ok)
    }

    fn append(
        &mut self,
        this: Resource<BufferResource>,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), BufferError>> {
        // Shadowed by the fast path in `add_fast_paths`; kept for the trait.
        let outcome = self.buffers.append(handle(&this), &data);
        self.stats
            .record(Import::Append, moved(&outcome, data.len()), 0, 0);
        lift(outcome, Ok)
    }

    fn truncate(
        &mut self,
        this: Resource<BufferResource>,
        len: u64,
    ) -> wasmtime::Result<Result<(), BufferError>> {
        self.stats.record(Import::Truncate, 0, 0, 0);
        lift(self.buffers.truncate(handle(&this), len), Ok)
    }

    fn copy_from(
        &mut self,
        this: Resource<BufferResource>,
        src: Resource<BufferResource>,
        src_offset: u64,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<Result<u64, BufferError>> {
        let outcome = self
            .buffers
            .copy(handle(&this), handle(&src), src_offset, offset, len);
        let copied = match outcome {
            Ok(Ok(count)) => count,
            _ => 0,
        };
        self.stats.record(Import::CopyFrom, 0, 0, copied);
        lift(outcome, Ok)
    }

    fn drop(&mut self, this: Resource<BufferResource>) -> wasmtime::Result<()> {
        self.stats.record(Import::Drop, 0, 0, 0);
        self.buffers.drop_scratch(handle(&this)).map_err(trap)
    }
}

impl digest::Host for BuffersView<'_> {
    fn sha256(
        &mut self,
        buf: Resource<BufferResource>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, BufferError>> {
        self.stats.record(Import::Sha256, 0, 0, 0);
        lift(self.buffers.sha256(handle(&buf), offset, len), |hash| {
            Ok(hash.to_vec())
        })
    }
}

impl abort::Host for BuffersView<'_> {
    fn abort(&mut self, message: String) -> wasmtime::Result<()> {
        // Shadowed by the fast path in `add_fast_paths`; kept for the trait.
        Err(aborted(self.stats, kept(&message).to_string()))
    }
}

/// How a run ended in `abort.abort`: the guest's message, carried as the
/// error that unwinds the guest, and told apart from a trap by its type
/// (`blame` in `run.rs` makes it the run's failure).
#[derive(Debug)]
pub(crate) struct Aborted(pub String);

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Aborted {}

/// The part of an `abort` message the host keeps.
fn kept(message: &str) -> &str {
    &message[..message.floor_char_boundary(MAX_FAIL_MESSAGE)]
}

/// Counts the `abort` call and makes the error that ends the run.
fn aborted(stats: &mut Stats, message: String) -> wasmtime::Error {
    stats.record(Import::Abort, 0, 0, 0);
    wasmtime::Error::new(Aborted(message))
}

/// The bytes a write moved: all of them, or none if it was refused.
fn moved(outcome: &Outcome<()>, len: usize) -> u64 {
    match outcome {
        Ok(Ok(())) => len as u64,
        _ => 0,
    }
}
