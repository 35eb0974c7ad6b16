//! One run in its store: instantiate, call `process`, and say what
//! stopped it.

use std::time::{Duration, Instant};

use wasmtime::{CallHook, InstancePre, Store, StoreContextMut, Trap};
use wasmtime_wasi::WasiCtxBuilder;

use super::{Guest, GuestKind, Limits, Produced};
use crate::bindings::StreamProcessorPre;
use crate::component;
use crate::error::{Limit, RunError};
use crate::handle::Handle;
use crate::state::RunState;
use crate::stop::{Fault, HostIo, Stop};
use crate::storage::Storage;
use crate::units::Seconds;

/// Instantiates the guest and runs `process` in `store`.
///
/// The guest runs as a future, so that the timeout ([`within`]) covers
/// everything it does: computing (it yields at each tick) and waiting in WASI
/// (a sleep or a poll is a future too). Dropping the future cancels the guest.
pub(super) async fn execute(
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
        match output.map_err(|fault| blame(Stop::Fault(fault).into(), None, limits))? {
            Storage::Memory(bytes) => Produced::Bytes(bytes),
            Storage::Shared(bytes) => Produced::Bytes(Vec::from(bytes)),
            Storage::File { file, .. } => Produced::File(file),
        },
    )
}

/// The call hook of a timed run: adds up the time spent in host functions.
pub(super) fn time_host_calls(
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

pub(super) fn host_io(doing: &str, error: std::io::Error) -> HostIo {
    HostIo {
        doing: doing.to_string(),
        error,
    }
}

/// The run's time ran out, in the guest's code or in the host's work for
/// it: the same words either way.
pub(super) fn out_of_time(timeout: Duration) -> RunError {
    let stopped = wasmtime::format_err!("the guest was stopped after {}", Seconds(timeout));
    RunError::LimitExceeded(Limit::Time(timeout), stopped)
}

/// Says what stopped a run: the host's I/O, a limit, or the guest itself.
/// The buffer table's stops come back out of the trap by their type.
pub(super) fn blame(trap: wasmtime::Error, state: Option<&RunState>, limits: &Limits) -> RunError {
    // The guest ended the run itself and said why (`abort.abort`): its words
    // beat any guess, a refused memory growth included.
    let trap = match trap.downcast::<component::Aborted>() {
        Ok(component::Aborted(message)) => return RunError::Failed(message),
        Err(trap) => trap,
    };
    if let Some(Stop::Io(_)) = trap.downcast_ref::<Stop>() {
        match trap.downcast::<Stop>() {
            Ok(Stop::Io(io)) => return RunError::HostIo(io),
            Ok(stop) => return RunError::Trapped(stop.into()),
            Err(trap) => return RunError::Trapped(trap),
        }
    }
    // By reference: the trap keeps the guest's backtrace for `details`.
    let fault = match trap.downcast_ref::<Stop>() {
        Some(Stop::Fault(fault)) => Some(fault),
        _ => None,
    };
    if let (Some(Fault::TimeUp), Some(timeout)) = (fault, limits.timeout) {
        return out_of_time(timeout);
    }
    let limit = match trap.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => limits.fuel.map(Limit::Fuel),
        _ => match fault {
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
    pre: &StreamProcessorPre<RunState>,
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

/// WASI for a guest: nothing of the host's but a place to print to.
pub(super) fn wasi_context() -> wasmtime_wasi::WasiCtx {
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
