//! The data of one run's `Store`: disjoint fields, so that each set of host
//! functions borrows only its own (WASI its context and resource table, the
//! buffer functions the buffer table) and none needs a lock.

use wasmtime::component::ResourceTable;
use wasmtime::{Memory, ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::buffers::Buffers;

pub struct RunState {
    /// WASI p2: no arguments, environment, files or network; stdio to stderr.
    pub(crate) wasi: WasiCtx,
    /// WASI's resources (streams and the like).
    pub(crate) table: ResourceTable,
    /// The run's buffers: input, output and the guest's scratch buffers.
    pub(crate) buffers: Buffers,
    /// Caps on the guest's memories and tables.
    pub(crate) limits: StoreLimits,
    /// What only a core-module guest needs.
    pub(crate) core: CoreState,
}

/// What a run of a core module keeps beside the buffers.
#[derive(Debug, Default)]
pub(crate) struct CoreState {
    /// The guest's exported memory, once instantiated (saves a lookup by name per call).
    pub memory: Option<Memory>,
    /// The words after `--`, for `args_size` and `args_get`.
    pub args: Vec<String>,
    /// The last message passed to `fail`.
    pub failure: Option<String>,
}

impl RunState {
    pub(crate) fn new(wasi: WasiCtx, buffers: Buffers, limits: StoreLimits) -> Self {
        RunState {
            wasi,
            table: ResourceTable::new(),
            buffers,
            limits,
            core: CoreState::default(),
        }
    }

    pub(crate) fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limits
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
