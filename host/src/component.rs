//! The component path: the generated `buffers` traits, implemented on a view
//! that borrows only the buffer table of the store's state.
//!
//! This is the component-model form of a split context: wasmtime-wasi gets
//! `WasiCtxView { ctx, table }` out of the same `RunState`, and these host
//! functions get [`BuffersView`]; neither can touch the other's fields.
//! Everything here only translates between WIT values and the view's
//! answers: a refusal becomes the WIT `buffer-error` (bindgen's
//! `trappable_error_type`, so `?` works), a stop traps.

use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, Resource, WasmList, WasmStr};

use crate::bindings::StreamProcessor;
use crate::bindings::bufbridge::buffers::buffers::{self as wit, BufferError};
use crate::bindings::bufbridge::buffers::{abort, digest};
use crate::handle::Handle;
use crate::rules;
use crate::state::RunState;
use crate::stats::{Import, Stats};
use crate::stop::Failure;
use crate::view::{self, BuffersView};
use crate::wit::interface_name;

/// The Rust side of the WIT `buffer` resource: a marker, since the rep of a
/// `Resource<BufferResource>` is the buffer's [`Handle`] in [`Buffers`](crate::buffers::Buffers).
pub struct BufferResource;

/// The [`HasData`] projection from the store's data to [`BuffersView`].
pub(crate) struct BuffersProjection;

impl HasData for BuffersProjection {
    type Data<'a> = BuffersView<'a>;
}

/// Adds every interface the `processor` world imports from this package
/// (`buffers`, `digest`, `abort`) to `linker`, each served by [`BuffersView`].
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    StreamProcessor::add_to_linker::<RunState, BuffersProjection>(linker, |state| BuffersView {
        buffers: &mut state.buffers,
        stats: &mut state.stats,
    })?;
    add_fast_paths(linker)
}

/// The functions [`add_fast_paths`] shadows, as the WIT names them.
pub(crate) const WRITE: &str = "[method]buffer.write";
pub(crate) const APPEND: &str = "[method]buffer.append";
pub(crate) const ABORT: &str = "abort";

/// `write`, `append` and `abort.abort`, hand-written over the bindings' own.
///
/// The generated traits receive the guest's bytes as an owned `Vec<u8>`: a
/// copy out of guest memory, then another into the buffer. `WasmList<u8>`
/// is a view of guest memory instead, so the bytes are copied once. Both
/// forms call the same [`BuffersView`] method, and the conformance suite
/// runs through these functions like any other. Likewise `WasmStr`: the
/// host copies only the part of an `abort` message it keeps, however long
/// the guest made it.
fn add_fast_paths(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    type Written = wasmtime::Result<(Result<(), BufferError>,)>;
    let interface = |name: &str| {
        interface_name(name).ok_or_else(|| {
            wasmtime::format_err!("the WIT of the bindings has no `{name}` interface")
        })
    };
    let (buffers_interface, abort_interface) = (interface("buffers")?, interface("abort")?);
    // A shadow that misses (a function renamed in the WIT) would add a new
    // function beside the real one and leave the copy in place: so each
    // name must be defined already, which a definition without shadowing
    // finds out.
    for (interface, name) in [
        (&buffers_interface, WRITE),
        (&buffers_interface, APPEND),
        (&abort_interface, ABORT),
    ] {
        if linker
            .instance(interface)?
            .func_wrap(name, |_, (): ()| Ok(()))
            .is_ok()
        {
            wasmtime::bail!("the fast path `{name}` shadows nothing the bindings define");
        }
    }
    linker.allow_shadowing(true);
    let mut buffers = linker.instance(&buffers_interface)?;
    buffers.func_wrap(
        WRITE,
        |mut store,
         (this, offset, data): (Resource<BufferResource>, u64, WasmList<u8>)|
         -> Written {
            let written = with_guest_bytes(&mut store, &data, |view, bytes| {
                view.write(handle(&this), offset, bytes)
            });
            Ok((answer(written)?,))
        },
    )?;
    buffers.func_wrap(
        APPEND,
        |mut store, (this, data): (Resource<BufferResource>, WasmList<u8>)| -> Written {
            let appended = with_guest_bytes(&mut store, &data, |view, bytes| {
                view.append(handle(&this), bytes)
            });
            Ok((answer(appended)?,))
        },
    )?;
    linker.instance(&abort_interface)?.func_wrap(
        ABORT,
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

/// Calls `f` with a view of the run's buffers and the bytes of `list`, in
/// guest memory.
///
/// Both live in the store, which lends out one or the other:
/// [`view::lend`] borrows them side by side.
fn with_guest_bytes<R>(
    store: &mut StoreContextMut<'_, RunState>,
    list: &WasmList<u8>,
    f: impl FnOnce(&mut BuffersView<'_>, &[u8]) -> R,
) -> R {
    #[cfg(test)]
    tests::FAST_PATH_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    view::lend(store, |store, view| f(view, list.as_le_slice(&*store)))
}

/// The resource handle the host passes to the guest for buffer `h`.
pub(crate) fn resource(h: Handle) -> Resource<BufferResource> {
    Resource::new_borrow(h.to_raw())
}

pub(crate) fn handle(resource: &Resource<BufferResource>) -> Handle {
    Handle::from_raw(resource.rep())
}

/// A refusal by the rules is the guest's WIT error; a stop traps. The one
/// translation of a [`Failure`], for the bindings and the fast paths alike.
fn convert(failure: Failure) -> wasmtime::Result<BufferError> {
    match failure {
        Failure::Refused(e) => Ok(e.into()),
        Failure::Stopped(stop) => Err(stop.into()),
    }
}

fn answer<T>(result: Result<T, Failure>) -> wasmtime::Result<Result<T, BufferError>> {
    result.map_or_else(|failure| convert(failure).map(Err), |value| Ok(Ok(value)))
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

impl wit::Host for BuffersView<'_> {
    fn convert_buffer_error(&mut self, failure: Failure) -> wasmtime::Result<BufferError> {
        convert(failure)
    }
}

// The inherent methods of `BuffersView` (which count and flatten) have the
// trait methods' names: `self.read(..)` below calls the inherent one.
impl wit::HostBuffer for BuffersView<'_> {
    fn create(&mut self, limit: u64) -> Result<Resource<BufferResource>, Failure> {
        Ok(Resource::new_own(self.create(limit)?.to_raw()))
    }

    fn len(&mut self, this: Resource<BufferResource>) -> wasmtime::Result<u64> {
        Ok(self.len(handle(&this))?)
    }

    fn limit(&mut self, this: Resource<BufferResource>) -> wasmtime::Result<u64> {
        Ok(self.limit(handle(&this))?)
    }

    fn read(
        &mut self,
        this: Resource<BufferResource>,
        offset: u64,
        len: u32,
    ) -> Result<Vec<u8>, Failure> {
        // The generated bindings take an owned Vec: this is the one copy.
        self.read(handle(&this), offset, len.into(), |read| read.to_vec())
    }

    fn write(
        &mut self,
        this: Resource<BufferResource>,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<(), Failure> {
        // Shadowed by the fast path in `add_fast_paths`, which calls the same.
        self.write(handle(&this), offset, &data)
    }

    fn append(&mut self, this: Resource<BufferResource>, data: Vec<u8>) -> Result<(), Failure> {
        // Shadowed by the fast path in `add_fast_paths`, which calls the same.
        self.append(handle(&this), &data)
    }

    fn truncate(&mut self, this: Resource<BufferResource>, len: u64) -> Result<(), Failure> {
        self.truncate(handle(&this), len)
    }

    fn copy_from(
        &mut self,
        this: Resource<BufferResource>,
        src: Resource<BufferResource>,
        src_offset: u64,
        offset: u64,
        len: u64,
    ) -> Result<u64, Failure> {
        self.copy(handle(&this), handle(&src), src_offset, offset, len)
    }

    fn drop(&mut self, this: Resource<BufferResource>) -> wasmtime::Result<()> {
        Ok(self.drop_scratch(handle(&this))?)
    }
}

impl digest::Host for BuffersView<'_> {
    fn sha256(
        &mut self,
        buf: Resource<BufferResource>,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, Failure> {
        Ok(self.sha256(handle(&buf), offset, len)?.to_vec())
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
    &message[..message.floor_char_boundary(rules::MAX_FAIL_MESSAGE)]
}

/// Counts the `abort` call and makes the error that ends the run.
fn aborted(stats: &mut Stats, message: String) -> wasmtime::Error {
    stats.record(Import::Abort, 0);
    wasmtime::Error::new(Aborted(message))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::{DEFAULT_GUEST, Host, Limits};

    /// Calls served by the fast paths, in this test process.
    pub(crate) static FAST_PATH_CALLS: AtomicU64 = AtomicU64::new(0);

    #[test]
    fn a_fast_path_that_shadows_nothing_fails_to_link() {
        let engine = wasmtime::Engine::default();
        let mut linker = wasmtime::component::Linker::new(&engine);
        let err = super::add_fast_paths(&mut linker).unwrap_err();
        assert!(err.to_string().contains("shadows nothing"), "{err}");
    }

    #[test]
    fn the_fast_paths_serve_write_and_append() {
        let host = Host::new().unwrap();
        let guest = host.load(DEFAULT_GUEST).unwrap();
        let before = FAST_PATH_CALLS.load(Ordering::Relaxed);
        // `upper` writes its output with `append`.
        let output = host.run(
            &guest,
            b"abc".to_vec(),
            &["upper".into()],
            &Limits::default(),
        );
        assert_eq!(output.unwrap(), b"ABC");
        assert!(FAST_PATH_CALLS.load(Ordering::Relaxed) > before);
    }
}
