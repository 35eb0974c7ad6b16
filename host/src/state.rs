//! The data of one run's `Store`: disjoint fields, so that each set of host
//! functions borrows only its own (WASI its context and resource table, the
//! buffer functions the buffer table) and none needs a lock.

use wasmtime::component::ResourceTable;
use wasmtime::{Memory, ResourceLimiter};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use std::time::Instant;

use crate::buffers::Buffers;
use crate::stats::Stats;

pub struct RunState {
    /// WASI p2: no arguments, environment, files or network; stdio to stderr.
    pub(crate) wasi: WasiCtx,
    /// WASI's resources (streams and the like).
    pub(crate) table: ResourceTable,
    /// The run's buffers: input, output and the guest's scratch buffers.
    pub(crate) buffers: Buffers,
    /// Caps on the guest's memories and tables.
    pub(crate) limiter: Limiter,
    /// What only a core-module guest needs.
    pub(crate) core: CoreState,
    /// Calls and bytes per import, and time in the host.
    pub(crate) stats: Stats,
    /// When the current host call began, while stats are timed.
    pub(crate) host_call_began: Option<Instant>,
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
    pub(crate) fn new(wasi: WasiCtx, buffers: Buffers, limiter: Limiter) -> Self {
        RunState {
            wasi,
            table: ResourceTable::new(),
            buffers,
            limiter,
            core: CoreState::default(),
            stats: Stats::default(),
            host_call_began: None,
        }
    }

    pub(crate) fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }
}

/// Caps the guest's linear memories (all of them together) and tables, and
/// remembers refusing, so a trap that follows can be blamed on the cap.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_cap: usize,
    memory_used: usize,
    /// Set when a memory growth was refused.
    pub memory_refused: bool,
}

/// Enough table slots for any real program's function pointers.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl Limiter {
    pub(crate) fn new(memory_cap: usize) -> Self {
        Limiter {
            memory_cap,
            memory_used: 0,
            memory_refused: false,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called for a memory's initial size too (current = 0), so this sums all memories.
        let total = (self.memory_used - current).saturating_add(desired);
        if total > self.memory_cap {
            self.memory_refused = true;
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
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
