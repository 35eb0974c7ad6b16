//! The engine, the linkers, the limits, and one run of a guest.

mod clock;
mod execute;
mod options;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Instant;

use wasmtime::component::{self as cm, Component};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Module,
    PoolingAllocationConfig, Store,
};

pub use options::{HostOptions, Input, Limits, Output, Produced, Watch};

use crate::bindings::StreamProcessorPre;
use crate::buffers::Buffers;
use crate::error::{LoadError, RunError};
use crate::handle::Handle;
use crate::inspect::{self, Kind, Report};
use crate::report::linker_problem;
use crate::state::{Limiter, RunState};
use crate::stats::Stats;
use crate::stop::Stop;
use crate::storage::Storage;
use crate::{component, core_abi};
use clock::{Alarms, block_on, start_ticker, wasi_runtime, within};
use execute::{blame, execute, host_io, out_of_time, time_host_calls, wasi_context};

/// How many instances a pooling host keeps ready, and so how many runs it
/// can hold at once; each run uses a handful (a component is several core
/// instances).
const POOL_INSTANCES: u32 = 256;

/// The most bytes of a pooled memory's or table's dirty pages that are
/// rewritten in place when a run ends; pages beyond are unmapped.
const POOL_KEEP_RESIDENT: usize = 1 << 20;

/// What a pooled table keeps by `memset` where pages cannot be scanned.
const TABLE_KEEP_RESIDENT_UNSCANNED: usize = 16 << 10;

/// The deepest the guest's wasm stack may go; deeper recursion traps.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// A compiled guest, ready to run any number of times.
#[derive(Clone)]
pub struct Guest {
    kind: GuestKind,
    /// The engine it was compiled for, which its stores must use.
    engine: Engine,
}

#[derive(Clone)]
enum GuestKind {
    Component(StreamProcessorPre<RunState>),
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
///
/// # Two engines
///
/// A component that imports `streams` (`wit/streams.wit`) is compiled and
/// run on a second engine, with the component model's concurrency support
/// that its `stream<u8>` needs; that engine is made at the first such load.
/// Every other guest runs on the first, where concurrency support is off,
/// because it makes every host call dearer. [`Host::load`] decides from the
/// component's imports; the limits and options are the same on both.
pub struct Host {
    engine: Engine,
    options: HostOptions,
    /// Crate-visible so the mutation tests (`mutations.rs`) can shadow one import.
    pub(crate) component_linker: cm::Linker<RunState>,
    core_linker: wasmtime::Linker<RunState>,
    /// The engine for components that import `streams` (a `stream<u8>`
    /// needs the component model's concurrency support, which makes every
    /// other host call slower), made at the first such load; the ticker
    /// advances its epoch too.
    concurrent_engine: Arc<OnceLock<Engine>>,
    concurrent_linker: OnceLock<cm::Linker<RunState>>,
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
        // Without the async component features host calls are cheaper: only
        // guests that import `streams` get them (`Host::concurrent`).
        let engine = Engine::new(&config(&options, false))?;
        let mut component_linker = cm::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut component_linker)?;
        component::add_to_linker(&mut component_linker)?;
        let mut core_linker = wasmtime::Linker::new(&engine);
        core_abi::add_to_linker(&mut core_linker)?;
        let alarms = Arc::new(Alarms::default());
        let concurrent_engine = Arc::new(OnceLock::new());
        Ok(Host {
            _ticker: start_ticker(engine.clone(), concurrent_engine.clone(), alarms.clone())?,
            alarms,
            engine,
            options,
            component_linker,
            core_linker,
            concurrent_engine,
            concurrent_linker: OnceLock::new(),
        })
    }

    /// The engine and linker for components that import `streams`.
    fn concurrent(&self) -> Result<&cm::Linker<RunState>, LoadError> {
        if let Some(linker) = self.concurrent_linker.get() {
            return Ok(linker);
        }
        let engine = match self.concurrent_engine.get() {
            Some(engine) => engine.clone(),
            None => {
                let engine =
                    Engine::new(&config(&self.options, true)).map_err(LoadError::Invalid)?;
                self.concurrent_engine.get_or_init(|| engine).clone()
            }
        };
        let mut linker = cm::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| component::add_to_linker(&mut linker))
            .map_err(LoadError::Invalid)?;
        Ok(self.concurrent_linker.get_or_init(|| linker))
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
        let binary = binary(wasm)?;
        Ok(if wasmparser::Parser::is_component(&binary) {
            let pre = self.link_component(&binary)?;
            Guest {
                engine: pre.engine().clone(),
                kind: GuestKind::Component(pre),
            }
        } else {
            Guest {
                kind: GuestKind::Core(self.link_module(&self.compile_module(&binary)?)?),
                engine: self.engine.clone(),
            }
        })
    }

    /// Compiles and links a component, on the engine with concurrency
    /// support if it imports `streams`, else on the one without.
    fn link_component(&self, binary: &[u8]) -> Result<StreamProcessorPre<RunState>, LoadError> {
        let linker = if imports_streams(binary) {
            self.concurrent()?
        } else {
            &self.component_linker
        };
        let engine = linker.engine();
        let component = match &self.options.cache {
            Some(cache) => cache.component(engine, binary),
            None => Component::new(engine, binary),
        };
        let component = component.map_err(LoadError::Invalid)?;
        linker
            .instantiate_pre(&component)
            .and_then(StreamProcessorPre::new)
            .map_err(|e| {
                // The linker names only its first problem: list them all.
                LoadError::IncompatibleComponent(inspect::component_problems(binary, &e))
            })
    }

    fn compile_module(&self, binary: &[u8]) -> Result<Module, LoadError> {
        let module = match &self.options.cache {
            Some(cache) => cache.module(&self.engine, binary),
            None => Module::new(&self.engine, binary),
        };
        module.map_err(LoadError::Invalid)
    }

    /// Checks `module` against the core ABI's table, then links it.
    fn link_module(&self, module: &Module) -> Result<InstancePre<RunState>, LoadError> {
        let problems = inspect::module_problems(module);
        if !problems.is_empty() {
            return Err(LoadError::IncompatibleModule(problems));
        }
        self.core_linker
            .instantiate_pre(module)
            .map_err(|e| LoadError::IncompatibleModule(vec![linker_problem("the core module", &e)]))
    }

    /// Lists what `wasm` (a component or a core module, binary or text)
    /// imports and exports, and checks it the way [`Host::load`] does,
    /// explaining every item that does not fit: the library side of
    /// `bufbridge inspect`. Fails only for bytes that are not WebAssembly.
    pub fn inspect(&self, wasm: &[u8]) -> Result<Report, LoadError> {
        let binary = binary(wasm)?;
        let problems = |loaded: Result<(), LoadError>| match loaded {
            Ok(()) => Ok(Vec::new()),
            Err(
                LoadError::IncompatibleComponent(problems)
                | LoadError::IncompatibleModule(problems),
            ) => Ok(problems),
            Err(invalid @ LoadError::Invalid(_)) => Err(invalid),
        };
        Ok(if wasmparser::Parser::is_component(&binary) {
            Report {
                kind: Kind::Component,
                problems: problems(self.link_component(&binary).map(drop))?,
                listing: inspect::component_listing(&binary),
                streams: imports_streams(&binary),
            }
        } else {
            let module = self.compile_module(&binary)?;
            Report {
                kind: Kind::CoreModule,
                problems: problems(self.link_module(&module).map(drop))?,
                listing: inspect::module_listing(&module),
                streams: false,
            }
        })
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
        let (mut store, input, output) =
            match self.store(&guest.engine, input, output, limits, deadline) {
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
        engine: &Engine,
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
            (Err(e), _) | (_, Err(e)) => return Err(blame(Stop::Fault(e).into(), None, limits)),
        };
        let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        let state = RunState::new(wasi_context(), buffers, Limiter::new(memory));
        let mut store = Store::new(engine, state);
        store.limiter(RunState::limiter);
        // Wasm code yields to the executor at every tick, so the timeout
        // in `execute` is checked even while the guest computes.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        match (limits.fuel, self.options.fuel) {
            (Some(fuel), true) => store.set_fuel(fuel).map_err(RunError::Trapped)?,
            (None, true) => store.set_fuel(u64::MAX).map_err(RunError::Trapped)?,
            (Some(_), false) => {
                return Err(RunError::Misconfigured(
                    "a fuel limit needs a host built with `HostOptions { fuel: true, .. }`".into(),
                ));
            }
            (None, false) => {}
        }
        Ok((store, input, output))
    }
}

/// The engines' configuration; `concurrency` for components that import
/// `streams`.
fn config(options: &HostOptions, concurrency: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(concurrency);
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
    config
}

/// Whether component `binary` imports the `streams` interface (of any
/// version of the package), read from its import section before compiling:
/// the engine without concurrency support refuses its `stream` type.
pub(crate) fn imports_streams(binary: &[u8]) -> bool {
    let Some(streams) = crate::wit::interface_name("streams") else {
        return false;
    };
    // `bufbridge:buffers/streams`, without the version.
    let unversioned = streams.split('@').next().unwrap_or(&streams);
    wasmparser::Parser::new(0)
        .parse_all(binary)
        .filter_map(Result::ok)
        .filter_map(|payload| match payload {
            wasmparser::Payload::ComponentImportSection(imports) => Some(imports),
            _ => None,
        })
        .flat_map(|imports| imports.into_iter().filter_map(Result::ok))
        .any(|import| {
            let name = import.name.name;
            name.split('@').next() == Some(unversioned)
        })
}

/// The binary form of `wasm`, which may be text (WAT).
fn binary(wasm: &[u8]) -> Result<Cow<'_, [u8]>, LoadError> {
    if wasm.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(wasm));
    }
    let binary = wat::parse_bytes(wasm).map_err(|e| LoadError::Invalid(e.into()))?;
    Ok(Cow::Owned(binary.into_owned()))
}

#[cfg(test)]
mod tests {
    use crate::{DEFAULT_GUEST, Host, Limits, RunError};

    #[test]
    fn a_fuel_limit_on_a_host_without_fuel_is_a_misconfiguration() {
        let host = Host::new().unwrap();
        let guest = host.load(DEFAULT_GUEST).unwrap();
        let limits = Limits {
            fuel: Some(1000),
            ..Limits::default()
        };
        let err = host.run(&guest, Vec::new(), &["copy".into()], &limits);
        let Err(RunError::Misconfigured(message)) = err else {
            panic!("{err:?}");
        };
        assert!(
            message.contains("HostOptions { fuel: true, .. }"),
            "{message}"
        );
    }
}
