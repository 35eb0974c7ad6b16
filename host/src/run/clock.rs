//! Time: the ticker that advances the epoch and rings alarms, the time
//! limit of a run in any executor, and the runtime of blocking runs.

use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, Weak, mpsc};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::Engine;

use super::execute::host_io;
use crate::error::RunError;

/// How often the epoch advances: the resolution of [`Limits::timeout`].
const TICK: Duration = Duration::from_millis(10);
/// Advances `engine`'s epoch every [`TICK`] (and `concurrent`'s, once it
/// exists), and rings `alarms`, until the returned sender drops. One ticker
/// serves every store of the engines: each store's deadline counts ticks
/// from when its run began, so concurrent runs do not disturb each other.
pub(super) fn start_ticker(
    engine: Engine,
    concurrent: Arc<OnceLock<Engine>>,
    alarms: Arc<Alarms>,
) -> std::io::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    thread::Builder::new()
        .name("bufbridge-epoch".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                engine.increment_epoch();
                if let Some(concurrent) = concurrent.get() {
                    concurrent.increment_epoch();
                }
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
pub(super) async fn within<F: Future>(
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
pub(super) struct Alarms {
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
pub(super) fn block_on<F: Future>(run: F) -> Result<F::Output, RunError> {
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
pub(super) fn wasi_runtime() -> Result<&'static tokio::runtime::Runtime, RunError> {
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
