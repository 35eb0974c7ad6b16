//! `streams.read-stream`: a buffer's bytes as a `stream<u8>`, written by the
//! host straight into the guest's read buffer.
//!
//! Each time the guest reads, wasmtime hands [`BufferStream`] the guest's
//! own read buffer (`Destination::as_direct`), and the buffer table copies
//! into it (`memcpy` from memory, `pread` from a file) under the same rules
//! and counters as `read`. The answer is always immediate: a synchronous
//! guest reads a stream inside `block_on`, which traps if a read pends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime::component::{
    Access, Destination, Resource, StreamProducer, StreamReader, StreamResult,
};
use wasmtime::{AsContextMut, StoreContextMut};

use crate::bindings::bufbridge::buffers::streams;
use crate::buffers::Cursor;
use crate::component::{BufferResource, BuffersProjection, handle};
use crate::handle::Handle;
use crate::state::RunState;
use crate::stop::{Failure, Fault, Stop};
use crate::view::{self, BuffersView};

/// What one delivery to a reader in the host (not a guest) may hold: such
/// a reader names no capacity of its own.
const HOST_READ: usize = 64 << 10;

/// The host's end of one `read-stream` stream: which buffer, and where the
/// next delivery starts (a cursor the buffer sees too, so a truncate below
/// it ends the stream).
struct BufferStream {
    buffer: Handle,
    cursor: Arc<Cursor>,
}

impl streams::Host for BuffersView<'_> {}

impl streams::HostWithStore<RunState> for BuffersProjection {
    fn read_stream(
        mut host: Access<'_, RunState, Self>,
        buf: Resource<BufferResource>,
        offset: u64,
    ) -> Result<StreamReader<u8>, Failure> {
        let buffer = handle(&buf);
        // Checked at the call, as `read` checks it: a forged handle
        // traps, an offset past the end is the guest's error.
        let cursor = host.get().open_stream(buffer, offset)?;
        let producer = BufferStream { buffer, cursor };
        StreamReader::new(host.as_context_mut(), producer)
            .map_err(|e| Failure::Stopped(Stop::Fault(Fault::NoStream(e.to_string()))))
    }
}

impl StreamProducer<RunState> for BufferStream {
    type Item = u8;
    type Buffer = Option<u8>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, RunState>,
        mut destination: Destination<'a, u8, Option<u8>>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let capacity = destination.remaining(&mut store);
        if capacity == Some(0) {
            // A readiness probe: the next read is answered at once.
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        // The guest's read buffer borrows the store: the view is lent
        // beside it, as for `write` and `append` (`component::with_guest_bytes`).
        let delivered = view::lend(&mut store, |store, view| {
            let mut direct = destination
                .reborrow()
                .as_direct(store.as_context_mut(), capacity.unwrap_or(HOST_READ));
            let delivered = view.deliver(self.buffer, &self.cursor, direct.remaining());
            if let Ok(Some(n)) = delivered {
                direct.mark_written(n);
            }
            delivered
        });
        Poll::Ready(match delivered {
            Ok(Some(_)) => Ok(StreamResult::Completed),
            // The end, never `Completed` with nothing: wasmtime takes that
            // for an error on a read that had room.
            Ok(None) => Ok(StreamResult::Dropped),
            Err(stop) => Err(stop.into()),
        })
    }
}
