//! The engine, the linkers, the limits, and one run of a guest.

use std::borrow::Cow;
use std::fs::File;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, Weak, mpsc};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::component::{self as cm, Component};
use wasmtime::{
    CallHook, Config, Enabled, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Module,
    PoolingAllocationConfig, Store, StoreContextMut, Trap, ValType,
};
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::ProcessorPre;
use crate::buffers::{Buffers, Fault, Handle, HostIo};
use crate::cache::Cache;
use crate::error::{Limit, LoadError, RunError};
use crate::state::{Limiter, RunState, trap};
use crate::stats::{Progress, Stats};
use crate::storage::Storage;
use crate::units::Seconds;
use crate::{component, core_abi, inspect};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The bounds of one run. Every field has a default meant for untrusted
/// guests; raise them for guests you trust with more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The output buffer's limit: the most bytes a run can produce.
    pub max_output: u64,
    /// The most bytes all scratch buffers (`create`) may hold together.
    pub quota: u64,
    /// The most buffers alive at once, input and output included.
    pub max_buffers: usize,
    /// The most bytes one host call may move (`read`, `write`, `append`,
    /// `copy-from`): this bounds what one call holds in host memory, and how
    /// long it blocks when there is no [`Limits::timeout`]. (`digest.sha256`
    /// moves nothing and holds one chunk: only the timeout bounds it.)
    pub max_copy: u64,
    /// The most linear memory the guest may have, all memories together.
    pub memory: u64,
    /// Wall-clock time for instantiating and running the guest, the host's
    /// work for it included (long host calls look at the clock every MiB);
    /// `None` for no limit.
    pub timeout: Option<Duration>,
    /// An instruction budget; needs a host made with [`HostOptions::fuel`].
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output: 4 * GIB,
            quota: GIB,
            max_buffers: 4096,
            max_copy: 256 * MIB,
            memory: 256 * MIB,
            timeout: Some(Duration::from_secs(30)),
            fuel: None,
        }
    }
}

/// How the engine is built; fixed for the life of a [`Host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    /// Count instructions so [`Limits::fuel`] can be enforced. It costs
    /// guest speed, so it is off unless asked for.
    pub fuel: bool,
    /// Keep compiled guests on disk, so a guest compiles once per machine
    /// rather than once per process ([`Cache::default_dir`] is the usual
    /// place).
    pub cache: Option<Cache>,
    /// Allocate instances from a pool reserved up front, and reuse its
    /// slots from run to run. On by default: a short run costs about a
    /// third of what it does without (BENCHMARKS.md, "Runs"), and runs on
    /// many threads no longer slow each other down by unmapping memory. The
    /// price: the host reserves (but does not use) about 2 TiB of address
    /// space, keeps up to 1 MiB of each used slot's memory resident between
    /// runs, and holds at most 256 runs at once (one more fails to
    /// instantiate). Turn it off for a host that runs one guest once, as
    /// the `bufbridge` CLI does.
    pub pooling: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            fuel: false,
            cache: None,
            pooling: true,
        }
    }
}

/// How many instances a pooling host keeps ready, and so how many runs it
/// can hold at once; each run uses a handful (a component is several core
/// instances).
const POOL_INSTANCES: u32 = 256;

/// The most bytes of a pooled memory's or table's dirty pages that are
/// rewritten in place when a run ends; pages beyond are unmapped.
const POOL_KEEP_RESIDENT: usize = 1 << 20;

/// What a pooled table keeps by `memset` where pages cannot be scanned.
const TABLE_KEEP_RESIDENT_UNSCANNED: usize = 16 << 10;

/// How often the epoch advances: the resolution of [`Limits::timeout`].
const TICK: Duration = Duration::from_millis(10);

/// The deepest the guest's wasm stack may go; deeper recursion traps.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// Where a run's input bytes are.
#[derive(Debug)]
pub enum Input {
    Bytes(Vec<u8>),
    /// Bytes the caller keeps too, read where they are: never copied. An
    /// `Arc<[u8]>` becomes one without a copy (`Input::from`).
    Shared(bytes::Bytes),
    /// The whole file, read on demand and never written.
    File(File),
}

impl From<Vec<u8>> for Input {
    fn from(bytes: Vec<u8>) -> Self {
        Input::Bytes(bytes)
    }
}

impl From<bytes::Bytes> for Input {
    fn from(bytes: bytes::Bytes) -> Self {
        Input::Shared(bytes)
    }
}

impl From<Arc<[u8]>> for Input {
    fn from(bytes: Arc<[u8]>) -> Self {
        Input::Shared(bytes::Bytes::from_owner(bytes))
    }
}

impl From<File> for Input {
    fn from(file: File) -> Self {
        Input::File(file)
    }
}

/// Where a run's output goes.
#[derive(Debug)]
pub enum Output {
    Memory,
    /// In memory, in this vector: emptied first, its capacity used again.
    /// A caller that passes each run's output back to the next spares the
    /// runs allocating their output afresh, and the kernel faulting its
    /// pages in again, which is most of what writing a large output costs
    /// (BENCHMARKS.md, "Data path").
    Reuse(Vec<u8>),
    /// Written in place from offset 0 (the file is emptied first); on success
    /// it holds exactly the output.
    File(File),
}

/// What a successful run produced.
#[derive(Debug)]
pub enum Produced {
    Bytes(Vec<u8>),
    /// The [`Output::File`] given, holding exactly the output.
    File(File),
}

impl Produced {
    /// The output's bytes, read back if they are in a file.
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        match self {
            Produced::Bytes(bytes) => Ok(bytes),
            Produced::File(file) => Storage::file(file)?.into_bytes(),
        }
    }
}

/// What to watch of a run besides its result ([`Host::run_watched`]).
#[derive(Debug, Clone, Default)]
pub struct Watch<'a> {
    /// Split the run's time between guest and host ([`Stats::host_time`]);
    /// this reads the clock twice per host call.
    pub time_host_calls: bool,
    /// Keep this up to date with how far the input has been read, for
    /// another thread to show.
    pub progress: Option<&'a Progress>,
}

/// A compiled guest, ready to run any number of times.
#[derive(Clone)]
pub struct Guest {
    kind: GuestKind,
}

#[derive(Clone)]
enum GuestKind {
    Component(ProcessorPre<RunState>),
    Core(InstancePre<RunState>),
}

impl Guest {
    /// Whether this guest is a component (else a core module).
    pub fn is_component(&self) -> bool {
        matches!(self.kind, GuestKind::Component(_))
    }
}

/// The engine and linkers, built once and shared by every run.
///
/// A `Host` is `Send + Sync`: share one (in an `Arc`, or by reference) among
/// all the threads and tasks that run guests. Every run gets a fresh store.
///
/// # Which entry point to call
///
/// | where the caller is | call |
/// |---|---|
/// | plain synchronous code, no tokio runtime | [`Host::run`], [`Host::run_with`], [`Host::run_watched`] |
/// | async code, any tokio runtime | [`Host::run_async`], [`Host::run_with_async`], [`Host::run_watched_async`] |
/// | sync code inside a multi-thread tokio runtime (a handler that cannot `.await`) | [`Host::run`] works: it blocks in place (`tokio::task::block_in_place`), so the runtime moves its other tasks to another worker |
/// | sync code inside a current-thread tokio runtime | [`Host::run`] cannot: blocking would stop the only thread that drives the run's timers. It returns [`RunError::HostIo`] saying to use `run_async` |
///
/// Both forms give the same results under the same [`Limits`]. The time
/// limit is kept by the host's own ticker thread, not by a runtime, so it
/// holds in any runtime, with or without tokio's time driver. A guest that
/// computes yields to the executor every 10 ms, so a long run does not hold
/// an async worker for longer than that; a host call (a `read` of a file-backed
/// buffer, say) blocks its thread while it lasts, bounded by
/// [`Limits::max_copy`].
///
/// A run's future is `Send`, and dropping it stops the guest.
pub struct Host {
    engine: Engine,
    options: HostOptions,
    /// Crate-visible so the mutation tests (`mutations.rs`) can shadow one import.
    pub(crate) component_linker: cm::Linker<RunState>,
    core_linker: wasmtime::Linker<RunState>,
    /// Wakes runs whose time is up; shared with the ticker thread.
    alarms: Arc<Alarms>,
    /// Advances the engine's epoch every [`TICK`] while the host lives.
    _ticker: mpsc::Sender<()>,
}

impl Host {
    /// A host with the default [`HostOptions`].
    pub fn new() -> wasmtime::Result<Self> {
        Host::with_options(HostOptions::default())
    }

    pub fn with_options(options: HostOptions) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // No async component features are used; without them host calls are cheaper.
        config.concurrency_support(false);
        config.epoch_interruption(true);
        config.consume_fuel(options.fuel);
        config.max_wasm_stack(MAX_WASM_STACK);
        if options.pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(POOL_INSTANCES)
                .total_core_instances(POOL_INSTANCES * 8)
                .total_memories(POOL_INSTANCES * 2)
                .total_tables(POOL_INSTANCES * 4)
                .total_stacks(POOL_INSTANCES);
            // A slot going back to the pool is reset. By default wasmtime
            // unmaps its pages (`madvise`): every core then flushes its TLB
            // and the next run faults the pages in again, which cost more
            // than the run itself and grew with each thread (BENCHMARKS.md,
            // "Runs"). `PAGEMAP_SCAN` (Linux 6.7) finds the pages a run
            // dirtied, and those are put back in place instead.
            if PoolingAllocationConfig::is_pagemap_scan_available() {
                pool.pagemap_scan(Enabled::Yes)
                    .linear_memory_keep_resident(POOL_KEEP_RESIDENT)
                    .table_keep_resident(POOL_KEEP_RESIDENT);
            } else {
                // Without the scan a slot keeps its first bytes by `memset`:
                // worth it for tables, whose used part is at the start, not
                // for memories, whose stack is near the end of what a run uses.
                pool.table_keep_resident(TABLE_KEEP_RESIDENT_UNSCANNED);
            }
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config)?;
        let mut component_linker = cm::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut component_linker)?;
        component::add_to_linker(&mut component_linker)?;
        let mut core_linker = wasmtime::Linker::new(&engine);
        core_abi::add_to_linker(&mut core_linker)?;
        let alarms = Arc::new(Alarms::default());
        Ok(Host {
            _ticker: start_ticker(engine.clone(), alarms.clone())?,
            alarms,
            engine,
            options,
            component_linker,
            core_linker,
        })
    }

    /// Compiles a guest, a component or a core module in binary or text
    /// form (told apart by the bytes themselves), and checks that it fits.
    pub fn load(&self, wasm: &[u8]) -> Result<Guest, LoadError> {
        let started = Instant::now();
        let guest = self.load_guest(wasm);
        if let Ok(guest) = &guest {
            let kind = if guest.is_component() {
                "component"
            } else {
                "core module"
            };
            tracing::debug!(bytes = wasm.len(), elapsed = ?started.elapsed(), "loaded a {kind}");
        }
        guest
    }

    fn load_guest(&self, wasm: &[u8]) -> Result<Guest, LoadError> {
        let binary = if wasm.starts_with(b"\0asm") {
            Cow::Borrowed(wasm)
        } else {
            let binary = wat::parse_bytes(wasm).map_err(|e| LoadError::Invalid(e.into()))?;
            Cow::Owned(binary.into_owned())
        };
        let kind = if wasmparser::Parser::is_component(&binary) {
            let component = match &self.options.cache {
                Some(cache) => cache.component(&self.engine, &binary),
                None => Component::new(&self.engine, &binary),
            };
            let component = component.map_err(LoadError::Invalid)?;
            let pre = self
                .component_linker
                .instantiate_pre(&component)
                .and_then(ProcessorPre::new)
                .map_err(|e| {
                    // The linker names only its first problem: list them all.
                    LoadError::IncompatibleComponent(inspect::component_problems(&binary, &e))
                })?;
            GuestKind::Component(pre)
        } else {
            let module = match &self.options.cache {
                Some(cache) => cache.module(&self.engine, &binary),
                None => Module::new(&self.engine, &binary),
            };
            let module = module.map_err(LoadError::Invalid)?;
            let pre = check_core_exports(&module)
                .and_then(|()| self.core_linker.instantiate_pre(&module))
                .map_err(|e| {
                    LoadError::IncompatibleModule(inspect::module_problems(&binary, &e))
                })?;
            GuestKind::Core(pre)
        };
        Ok(Guest { kind })
    }

    /// Runs `process` once over `input` with `args`, in memory: the
    /// simplest form of [`Host::run_with`]. Blocks; see [`Host`] for where
    /// it can be called, and [`Host::run_async`] for async code.
    pub fn run(
        &self,
        guest: &Guest,
        input: Vec<u8>,
        args: &[String],
        limits: &Limits,
    ) -> Result<Vec<u8>, RunError> {
        self.run_with(guest, Input::Bytes(input), Output::Memory, args, limits)?
            .into_bytes()
            .map_err(|error| RunError::HostIo(host_io("reading the output", error)))
    }

    /// Runs `process` once, in a fresh store (a trap poisons an instance, so
    /// nothing is reused between runs). File-backed input and output keep
    /// the host's memory flat whatever their size.
    pub fn run_with(
        &self,
        guest: &Guest,
        input: Input,
        output: Output,
        args: &[String],
        limits: &Limits,
    ) -> Result<Produced, RunError> {
        self.run_watched(guest, input, output, args, limits, &Watch::default())
            .0
    }

    /// [`Host::run_with`], and what the run did, whether it succeeded or not:
    /// calls and bytes per buffer import and, if asked, the time spent in
    /// the guest and in the host (what `bufbridge run --stats` prints). See
    /// [`Watch`] for what else can be watched while it runs.
    pub fn run_watched(
        &self,
        guest: &Guest,
        input: Input,
        output: Output,
        args: &[String],
        limits: &Limits,
        watch: &Watch<'_>,
    ) -> (Result<Produced, RunError>, Stats) {
        let run = self.run_watched_async(guest, input, output, args, limits, watch);
        block_on(run).unwrap_or_else(|e| (Err(e), Stats::default()))
    }

    /// [`Host::run`] for async code: the same run, as a `Send` future that
    /// any tokio runtime can drive (multi-thread or current-thread).
    pub async fn run_async(
        &self,
        guest: &Guest,
        input: Vec<u8>,
        args: &[String],
        limits: &Limits,
    ) -> Result<Vec<u8>, RunError> {
        let run = self.run_with_async(guest, Input::Bytes(input), Output::Memory, args, limits);
        run.await?
            .into_bytes()
            .map_err(|error| RunError::HostIo(host_io("reading the output", error)))
    }

    /// [`Host::run_with`] for async code.
    pub async fn run_with_async(
        &self,
        guest: &Guest,
        input: Input,
        output: Output,
        args: &[String],
        limits: &Limits,
    ) -> Result<Produced, RunError> {
        let watch = Watch::default();
        let run = self.run_watched_async(guest, input, output, args, limits, &watch);
        run.await.0
    }

    /// [`Host::run_watched`] for async code.
    pub async fn run_watched_async(
        &self,
        guest: &Guest,
        input: Input,
        output: Output,
        args: &[String],
        limits: &Limits,
        watch: &Watch<'_>,
    ) -> (Result<Produced, RunError>, Stats) {
        // One deadline for the guest's own code and the host's work for it.
        let deadline = limits
            .timeout
            .and_then(|timeout| Instant::now().checked_add(timeout));
        let (mut store, input, output) = match self.store(input, output, limits, deadline) {
            Ok(prepared) => prepared,
            Err(e) => return (Err(e), Stats::default()),
        };
        if let Some(progress) = watch.progress {
            store.data_mut().buffers.watch_input(progress.clone());
        }
        if watch.time_host_calls {
            store.call_hook(time_host_calls);
        }
        let runtime = match wasi_runtime() {
            Ok(runtime) => runtime,
            Err(e) => return (Err(e), Stats::default()),
        };
        tracing::debug!(?limits, ?args, "running the guest");
        let started = Instant::now();
        let run = execute(&mut store, guest, input, output, args, limits);
        let result = within(runtime, &self.alarms, deadline.zip(limits.timeout), run).await;
        let result = result.unwrap_or_else(|timeout| Err(out_of_time(timeout)));
        let mut stats = std::mem::take(&mut store.data_mut().stats);
        stats.total_time = started.elapsed();
        match &result {
            Ok(_) => tracing::debug!(elapsed = ?stats.total_time, "the guest succeeded"),
            Err(e) => tracing::debug!(elapsed = ?stats.total_time, "the run failed: {e}"),
        }
        (result, stats)
    }

    /// A fresh store for one run, holding its input and output buffers,
    /// whose work stops at `deadline`.
    fn store(
        &self,
        input: Input,
        output: Output,
        limits: &Limits,
        deadline: Option<Instant>,
    ) -> Result<(Store<RunState>, Handle, Handle), RunError> {
        let input = match input {
            Input::Bytes(bytes) => Storage::from(bytes),
            Input::Shared(bytes) => Storage::from(bytes),
            Input::File(file) => Storage::file(file)
                .map_err(|e| RunError::HostIo(host_io("reading the input's size", e)))?,
        };
        let output_storage = match output {
            Output::Memory => Storage::default(),
            Output::Reuse(mut bytes) => {
                bytes.clear();
                Storage::Memory(bytes)
            }
            Output::File(file) => Storage::empty_file(file)
                .map_err(|e| RunError::HostIo(host_io("emptying the output file", e)))?,
        };
        let mut buffers = Buffers::new(limits.quota, limits.max_buffers, limits.max_copy);
        if let Some(deadline) = deadline {
            // A host call blocks the executor: the timeout below cannot stop
            // it, so the buffers stop their own work.
            buffers.stop_at(deadline);
        }
        let input = buffers.insert_input(input);
        let output = buffers.insert_output(limits.max_output, output_storage);
        let (input, output) = match (input, output) {
            (Ok(input), Ok(output)) => (input, output),
            (Err(e), _) | (_, Err(e)) => return Err(blame(trap(e), None, limits)),
        };
        let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        let state = RunState::new(wasi_context(), buffers, Limiter::new(memory));
        let mut store = Store::new(&self.engine, state);
        store.limiter(RunState::limiter);
        // Wasm code yields to the executor at every tick, so the timeout
        // in `execute` is checked even while the guest computes.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        match (limits.fuel, self.options.fuel) {
            (Some(fuel), true) => store.set_fuel(fuel).map_err(RunError::Trapped)?,
            (None, true) => store.set_fuel(u64::MAX).map_err(RunError::Trapped)?,
            (Some(_), false) => {
                return Err(RunError::Trapped(wasmtime::format_err!(
                    "a fuel limit needs a host built with `HostOptions {{ fuel: true, .. }}`"
                )));
            }
            (None, false) => {}
        }
        Ok((store, input, output))
    }
}

/// Instantiates the guest and runs `process` in `store`.
///
/// The guest runs as a future, so that the timeout ([`within`]) covers
/// everything it does: computing (it yields at each tick) and waiting in WASI
/// (a sleep or a poll is a future too). Dropping the future cancels the guest.
async fn execute(
    store: &mut Store<RunState>,
    guest: &Guest,
    input: Handle,
    output: Handle,
    args: &[String],
    limits: &Limits,
) -> Result<Produced, RunError> {
    let outcome = match &guest.kind {
        GuestKind::Component(pre) => run_component(pre, store, input, output, args).await,
        GuestKind::Core(pre) => run_core(pre, store, input, output, args).await,
    };
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(message)) => return Err(RunError::Failed(message)),
        Err(trap) => return Err(blame(trap, Some(store.data()), limits)),
    }
    let output = store.data_mut().buffers.remove(output);
    Ok(
        match output.map_err(|fault| blame(trap(fault), None, limits))? {
            Storage::Memory(bytes) => Produced::Bytes(bytes),
            Storage::Shared(bytes) => Produced::Bytes(Vec::from(bytes)),
            Storage::File { file, .. } => Produced::File(file),
        },
    )
}

/// The call hook of a timed run: adds up the time spent in host functions.
fn time_host_calls(
    mut store: StoreContextMut<'_, RunState>,
    hook: CallHook,
) -> wasmtime::Result<()> {
    let state = store.data_mut();
    match hook {
        CallHook::CallingHost => state.host_call_began = Some(Instant::now()),
        CallHook::ReturningFromHost => {
            if let Some(began) = state.host_call_began.take() {
                state.stats.host_time += began.elapsed();
            }
        }
        CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
    }
    Ok(())
}

fn host_io(doing: &str, error: std::io::Error) -> HostIo {
    HostIo {
        doing: doing.to_string(),
        error,
    }
}

/// The run's time ran out, in the guest's code or in the host's work for
/// it: the same words either way.
fn out_of_time(timeout: Duration) -> RunError {
    let stopped = wasmtime::format_err!("the guest was stopped after {}", Seconds(timeout));
    RunError::LimitExceeded(Limit::Time(timeout), stopped)
}

/// Says what stopped a run: the host's I/O, a limit, or the guest itself.
fn blame(trap: wasmtime::Error, state: Option<&RunState>, limits: &Limits) -> RunError {
    if trap.is::<HostIo>() {
        match trap.downcast::<HostIo>() {
            Ok(io) => return RunError::HostIo(io),
            Err(trap) => return RunError::Trapped(trap),
        }
    }
    if let (Some(Fault::TimeUp), Some(timeout)) = (trap.downcast_ref::<Fault>(), limits.timeout) {
        return out_of_time(timeout);
    }
    let limit = match trap.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => limits.fuel.map(Limit::Fuel),
        _ => match trap.downcast_ref::<Fault>() {
            Some(Fault::TooMany(n)) => Some(Limit::Buffers(*n)),
            Some(Fault::CopyTooLarge { cap, .. }) => Some(Limit::CopyPerCall(*cap)),
            // A refused memory growth usually ends as the guest's own
            // allocation-failure trap: the cause is the cap.
            _ if state.is_some_and(|s| s.limiter.memory_refused) => {
                Some(Limit::Memory(limits.memory))
            }
            _ => None,
        },
    };
    match limit {
        Some(limit) => RunError::LimitExceeded(limit, trap),
        None => RunError::Trapped(trap),
    }
}

/// `Ok(Err(message))` is the guest's own failure; `Err` a trap.
async fn run_component(
    pre: &ProcessorPre<RunState>,
    store: &mut Store<RunState>,
    input: Handle,
    output: Handle,
    args: &[String],
) -> wasmtime::Result<Result<(), String>> {
    let processor = pre.instantiate_async(&mut *store).await?;
    let (input, output) = (component::resource(input), component::resource(output));
    processor.call_process(store, input, output, args).await
}

async fn run_core(
    pre: &InstancePre<RunState>,
    store: &mut Store<RunState>,
    input: Handle,
    output: Handle,
    args: &[String],
) -> wasmtime::Result<Result<(), String>> {
    store.data_mut().core.args = args.to_vec();
    let instance = pre.instantiate_async(&mut *store).await?;
    // Both exports were checked when the module was loaded.
    let memory = instance.get_memory(&mut *store, "memory");
    store.data_mut().core.memory = memory;
    let process = instance.get_typed_func::<(i32, i32), i32>(&mut *store, "process")?;
    let raw = |h: Handle| h.to_raw() as i32;
    Ok(
        match process
            .call_async(&mut *store, (raw(input), raw(output)))
            .await?
        {
            0 => Ok(()),
            status => Err(store.data_mut().core.failure.take().unwrap_or_else(|| {
                format!("`process` returned {status} without calling `fail` to say why")
            })),
        },
    )
}

/// A core guest must export `memory` and `process: (i32, i32) -> i32`.
fn check_core_exports(module: &Module) -> wasmtime::Result<()> {
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => {}
        Some(other) => wasmtime::bail!("export `memory` must be a memory, found {other:?}"),
        None => wasmtime::bail!("the module must export its linear memory as `memory`"),
    }
    match module.get_export("process") {
        Some(ExternType::Func(ty))
            if ty
                .params()
                .map(|p| matches!(p, ValType::I32))
                .eq([true, true])
                && ty.results().map(|r| matches!(r, ValType::I32)).eq([true]) => {}
        Some(other) => wasmtime::bail!(
            "export `process` must be `(func (param i32 i32) (result i32))`, found {other:?}"
        ),
        None => {
            wasmtime::bail!("the module must export `process: (input: i32, output: i32) -> i32`")
        }
    }
    Ok(())
}

/// WASI for a guest: nothing of the host's but a place to print to.
fn wasi_context() -> wasmtime_wasi::WasiCtx {
    WasiCtxBuilder::new()
        // Guest prints go to the host's stderr, never into the output; each
        // write goes straight through, so a flood of prints is never held.
        .stdout(std::io::stderr())
        .stderr(std::io::stderr())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// Advances `engine`'s epoch every [`TICK`], and rings `alarms`, until the
/// returned sender drops. One ticker serves every store of the engine: each
/// store's deadline counts ticks from when its run began, so concurrent runs
/// do not disturb each other.
fn start_ticker(engine: Engine, alarms: Arc<Alarms>) -> std::io::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("bufbridge-epoch".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                engine.increment_epoch();
                alarms.ring(Instant::now());
            }
        })?;
    Ok(stop)
}

/// `run` to its end, or `Err(timeout)` once the deadline `at` of a time
/// limit of `timeout` has passed (checked when the run yields, and woken by
/// the ticker if it is waiting).
///
/// No timer of the caller's runtime is involved, so a run keeps its time
/// limit in any executor; and WASI's own waits (a guest's sleep) are timed by
/// `runtime`, entered while the run is polled, so they work in a caller's
/// runtime built without tokio's time driver too. A run that never waits
/// (one poll, the usual case for short runs) never touches the shared alarm
/// list.
async fn within<F: Future>(
    runtime: &tokio::runtime::Runtime,
    alarms: &Alarms,
    deadline: Option<(Instant, Duration)>,
    run: F,
) -> Result<F::Output, Duration> {
    let mut run = std::pin::pin!(run);
    let mut alarm: Option<Arc<Alarm>> = None;
    std::future::poll_fn(|cx| {
        let polled = {
            let _wasi = runtime.enter();
            run.as_mut().poll(cx)
        };
        if let Poll::Ready(out) = polled {
            return Poll::Ready(Ok(out));
        }
        if let Some((at, timeout)) = deadline {
            if Instant::now() >= at {
                return Poll::Ready(Err(timeout));
            }
            match &alarm {
                Some(alarm) => alarm.set_waker(cx.waker()),
                None => alarm = Some(alarms.add(at, cx.waker().clone())),
            }
        }
        Poll::Pending
    })
    .await
}

/// The runs waiting for their time limit, rung by the ticker at each tick.
#[derive(Default)]
struct Alarms {
    waiting: Mutex<Vec<Weak<Alarm>>>,
}

/// One run's deadline and the waker of the task driving it; dropped with
/// the run, which takes it off the list.
struct Alarm {
    at: Instant,
    waker: Mutex<Waker>,
}

impl Alarms {
    fn add(&self, at: Instant, waker: Waker) -> Arc<Alarm> {
        let alarm = Arc::new(Alarm {
            at,
            waker: Mutex::new(waker),
        });
        lock(&self.waiting).push(Arc::downgrade(&alarm));
        alarm
    }

    /// Wakes the runs whose deadline is past and forgets them and the
    /// finished ones.
    fn ring(&self, now: Instant) {
        let mut due = Vec::new();
        lock(&self.waiting).retain(|alarm| match alarm.upgrade() {
            Some(alarm) if alarm.at <= now => {
                due.push(alarm);
                false
            }
            Some(_) => true,
            None => false,
        });
        // Woken outside the list's lock: a waker may run the executor's code.
        for alarm in due {
            lock(&alarm.waker).wake_by_ref();
        }
    }
}

impl Alarm {
    fn set_waker(&self, waker: &Waker) {
        let mut current = lock(&self.waker);
        if !current.will_wake(waker) {
            *current = waker.clone();
        }
    }
}

/// A lock whose holders never panic while holding it; poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Drives a run to its end from synchronous code (see [`Host`] for where
/// that is possible).
fn block_on<F: Future>(run: F) -> Result<F::Output, RunError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let runtime = wasi_runtime()?;
    match Handle::try_current() {
        // Blocking the only thread of the caller's runtime would stop every
        // task it drives until the run ends.
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::CurrentThread => {
            Err(RunError::HostIo(host_io(
                "running a guest with the blocking `Host::run`",
                std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "it cannot block inside a current-thread tokio runtime: \
                     use `Host::run_async` (`.await` it) instead",
                ),
            )))
        }
        // Another worker takes over this one's tasks while the run blocks it.
        Ok(_) => Ok(tokio::task::block_in_place(|| runtime.block_on(run))),
        Err(_) => Ok(runtime.block_on(run)),
    }
}

/// The tokio runtime behind WASI's timers in every run, and the executor of
/// blocking runs: one for the process, built on first use. Runs are polled
/// on their callers' threads, any number at once; its one worker only fires
/// the timers of guests waiting in WASI. (A runtime built per run cost more
/// than the rest of a short run.)
fn wasi_runtime() -> Result<&'static tokio::runtime::Runtime, RunError> {
    static RUNTIME: LazyLock<std::io::Result<tokio::runtime::Runtime>> = LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bufbridge-wasi")
            .enable_all()
            .build()
    });
    RUNTIME.as_ref().map_err(|e| {
        let error = std::io::Error::new(e.kind(), e.to_string());
        RunError::HostIo(host_io("starting the async runtime", error))
    })
}
