//! The engine, the linker, and one run of a guest.

use std::fmt;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::ProcessorPre;
use crate::buffers::{Buffers, HandleError};
use crate::component;
use crate::state::RunState;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The bounds of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The output buffer's limit: the most bytes a run can produce.
    pub max_output: u64,
    /// The most bytes all scratch buffers (`create`) may hold together.
    pub quota: u64,
    /// The most buffers alive at once, input and output included.
    pub max_buffers: usize,
    /// The most linear memory the guest may have.
    pub memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output: 4 * GIB,
            quota: GIB,
            max_buffers: 4096,
            memory: 256 * MIB,
        }
    }
}

/// Why a guest could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The bytes are not a valid WebAssembly component.
    Invalid(wasmtime::Error),
    /// A valid component, but it does not fit the `processor` world.
    Incompatible(wasmtime::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Invalid(e) => write!(f, "not a valid WebAssembly component: {e:#}"),
            LoadError::Incompatible(e) => write!(
                f,
                "the component does not fit the bufbridge `processor` world (wit/buffers.wit): {e:#}"
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// Why a run produced no output.
#[derive(Debug)]
pub enum RunError {
    /// `process` returned `err(message)`.
    Failed(String),
    /// The guest trapped or broke a limit; the run was stopped.
    Trapped(wasmtime::Error),
}

impl RunError {
    /// The cause in one line: the innermost error, which names what the guest did.
    pub fn summary(&self) -> String {
        match self {
            RunError::Failed(message) => message.clone(),
            RunError::Trapped(e) => e.root_cause().to_string(),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Failed(message) => write!(f, "guest failed: {message}"),
            RunError::Trapped(_) => write!(f, "guest trapped: {}", self.summary()),
        }
    }
}

impl std::error::Error for RunError {}

/// A compiled guest, ready to run any number of times.
#[derive(Clone)]
pub struct Guest {
    pre: ProcessorPre<RunState>,
}

/// The engine and linker, built once and shared by every run.
pub struct Host {
    engine: Engine,
    linker: Linker<RunState>,
}

impl Host {
    pub fn new() -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // No async component features are used; without them host calls are cheaper.
        config.concurrency_support(false);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        component::add_to_linker(&mut linker)?;
        Ok(Host { engine, linker })
    }

    /// Compiles a component and checks it against the `processor` world.
    pub fn load(&self, wasm: &[u8]) -> Result<Guest, LoadError> {
        let component = Component::new(&self.engine, wasm).map_err(LoadError::Invalid)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(ProcessorPre::new)
            .map_err(LoadError::Incompatible)?;
        Ok(Guest { pre })
    }

    /// Runs `process` once over `input` with `args`, in a fresh store (a trap
    /// poisons an instance, so nothing is reused between runs).
    pub fn run(
        &self,
        guest: &Guest,
        input: Vec<u8>,
        args: &[String],
        limits: &Limits,
    ) -> Result<Vec<u8>, RunError> {
        let mut buffers = Buffers::new(limits.quota, limits.max_buffers);
        let (input, output) = match (
            buffers.insert_input(input.into()),
            buffers.insert_output(limits.max_output),
        ) {
            (Ok(input), Ok(output)) => (input, output),
            (Err(e), _) | (_, Err(e)) => return Err(trapped(e)),
        };
        let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        let store_limits = StoreLimitsBuilder::new().memory_size(memory).build();
        let mut store = Store::new(
            &self.engine,
            RunState::new(wasi_context(), buffers, store_limits),
        );
        store.limiter(RunState::limiter);

        let processor = guest
            .pre
            .instantiate(&mut store)
            .map_err(RunError::Trapped)?;
        processor
            .call_process(
                &mut store,
                component::resource(input),
                component::resource(output),
                args,
            )
            .map_err(RunError::Trapped)?
            .map_err(RunError::Failed)?;
        let output = store.data_mut().buffers.remove(output).map_err(trapped)?;
        Ok(output.into_bytes())
    }
}

/// WASI for a guest: nothing of the host's but a place to print to.
fn wasi_context() -> wasmtime_wasi::WasiCtx {
    WasiCtxBuilder::new()
        // Guest prints go to the host's stderr, never into the output.
        .stdout(std::io::stderr())
        .stderr(std::io::stderr())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

fn trapped(e: HandleError) -> RunError {
    RunError::Trapped(wasmtime::Error::new(e))
}
