//! The engine, the linker, and one run of a guest.

use std::borrow::Cow;
use std::fmt;

use wasmtime::component::{self as cm, Component};
use wasmtime::{
    Config, Engine, ExternType, InstancePre, Module, Store, StoreLimitsBuilder, ValType,
};
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::ProcessorPre;
use crate::buffers::{Buffers, Handle, HandleError};
use crate::state::RunState;
use crate::{component, core_abi};

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
    /// The bytes are not valid WebAssembly (binary or text).
    Invalid(wasmtime::Error),
    /// A valid component that does not fit the `processor` world.
    IncompatibleComponent(wasmtime::Error),
    /// A valid core module that does not fit the core ABI.
    IncompatibleModule(wasmtime::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Invalid(e) => write!(
                f,
                "not valid WebAssembly (a component or a core module, binary or text): {e:#}"
            ),
            LoadError::IncompatibleComponent(e) => write!(
                f,
                "the component does not fit the bufbridge `processor` world (wit/buffers.wit): {e:#}"
            ),
            LoadError::IncompatibleModule(e) => write!(
                f,
                "the core module does not fit the bufbridge core ABI (wit/CORE_ABI.md): {e:#}"
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
pub struct Host {
    engine: Engine,
    component_linker: cm::Linker<RunState>,
    core_linker: wasmtime::Linker<RunState>,
}

impl Host {
    pub fn new() -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        // No async component features are used; without them host calls are cheaper.
        config.concurrency_support(false);
        let engine = Engine::new(&config)?;
        let mut component_linker = cm::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut component_linker)?;
        component::add_to_linker(&mut component_linker)?;
        let mut core_linker = wasmtime::Linker::new(&engine);
        core_abi::add_to_linker(&mut core_linker)?;
        Ok(Host {
            engine,
            component_linker,
            core_linker,
        })
    }

    /// Compiles a guest, a component or a core module in binary or text
    /// form (told apart by the bytes themselves), and checks that it fits.
    pub fn load(&self, wasm: &[u8]) -> Result<Guest, LoadError> {
        let binary = if wasm.starts_with(b"\0asm") {
            Cow::Borrowed(wasm)
        } else {
            Cow::Owned(
                wat::parse_bytes(wasm)
                    .map_err(|e| LoadError::Invalid(e.into()))?
                    .into_owned(),
            )
        };
        let kind = if wasmparser::Parser::is_component(&binary) {
            let component = Component::new(&self.engine, &binary).map_err(LoadError::Invalid)?;
            let pre = self
                .component_linker
                .instantiate_pre(&component)
                .and_then(ProcessorPre::new)
                .map_err(LoadError::IncompatibleComponent)?;
            GuestKind::Component(pre)
        } else {
            let module = Module::new(&self.engine, &binary).map_err(LoadError::Invalid)?;
            check_core_exports(&module).map_err(LoadError::IncompatibleModule)?;
            let pre = self
                .core_linker
                .instantiate_pre(&module)
                .map_err(LoadError::IncompatibleModule)?;
            GuestKind::Core(pre)
        };
        Ok(Guest { kind })
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

        match &guest.kind {
            GuestKind::Component(pre) => run_component(pre, &mut store, input, output, args)?,
            GuestKind::Core(pre) => run_core(pre, &mut store, input, output, args)?,
        }
        let output = store.data_mut().buffers.remove(output).map_err(trapped)?;
        Ok(output.into_bytes())
    }
}

fn run_component(
    pre: &ProcessorPre<RunState>,
    store: &mut Store<RunState>,
    input: Handle,
    output: Handle,
    args: &[String],
) -> Result<(), RunError> {
    let processor = pre.instantiate(&mut *store).map_err(RunError::Trapped)?;
    processor
        .call_process(
            store,
            component::resource(input),
            component::resource(output),
            args,
        )
        .map_err(RunError::Trapped)?
        .map_err(RunError::Failed)
}

fn run_core(
    pre: &InstancePre<RunState>,
    store: &mut Store<RunState>,
    input: Handle,
    output: Handle,
    args: &[String],
) -> Result<(), RunError> {
    store.data_mut().core.args = args.to_vec();
    let instance = pre.instantiate(&mut *store).map_err(RunError::Trapped)?;
    // Both exports were checked when the module was loaded.
    let memory = instance.get_memory(&mut *store, "memory");
    store.data_mut().core.memory = memory;
    let process = instance
        .get_typed_func::<(i32, i32), i32>(&mut *store, "process")
        .map_err(RunError::Trapped)?;
    let raw = |h: Handle| h.to_raw() as i32;
    match process
        .call(&mut *store, (raw(input), raw(output)))
        .map_err(RunError::Trapped)?
    {
        0 => Ok(()),
        status => Err(RunError::Failed(
            store.data_mut().core.failure.take().unwrap_or_else(|| {
                format!("`process` returned {status} without calling `fail` to say why")
            }),
        )),
    }
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
