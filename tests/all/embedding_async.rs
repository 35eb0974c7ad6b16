//! The library inside async services: `run_async` from either kind of tokio
//! runtime, the blocking `run` where it can and cannot block, time limits
//! that hold without tokio's timers, and many runs at once on one host.

use std::time::{Duration, Instant};

use crate::common::{args, default_guest, generated, host, hostile_guest};
use bufbridge::{Guest, Limit, Limits, RunError};
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// A short time limit, far below the default, that `spin` runs into.
fn short(timeout: Duration) -> Limits {
    Limits {
        timeout: Some(timeout),
        ..Limits::default()
    }
}

/// `Host::run_async` with owned arguments, so the future can be made inline.
async fn run_async(
    guest: &Guest,
    input: Vec<u8>,
    words: &[&str],
    limits: Limits,
) -> Result<Vec<u8>, RunError> {
    host().run_async(guest, input, &args(words), &limits).await
}

#[track_caller]
fn assert_stopped_by_time(result: Result<Vec<u8>, RunError>, timeout: Duration) {
    match result {
        Err(RunError::LimitExceeded(Limit::Time(t), _)) => assert_eq!(t, timeout),
        other => panic!("expected the time limit of {timeout:?}, got {other:?}"),
    }
}

#[test]
fn run_async_gives_what_run_gives_in_either_kind_of_runtime() {
    let input = generated(100_000);
    let limits = Limits::default();
    let runtimes = [
        ("multi-thread", multi_thread()),
        ("current-thread", current_thread()),
    ];
    for command in [
        &["upper"][..],
        &["reverse"],
        &["count"],
        &["sha256"],
        &["copy"],
    ] {
        let words = args(command);
        let expected = host()
            .run(default_guest(), input.clone(), &words, &limits)
            .unwrap();
        for (kind, runtime) in &runtimes {
            let run = host().run_async(default_guest(), input.clone(), &words, &limits);
            let got = runtime.block_on(run).unwrap();
            assert!(got == expected, "{command:?} in a {kind} runtime");
        }
    }
    // Failures too: the guest's own error, and a limit.
    let words = args(&["no-such-command"]);
    let expected = host()
        .run(default_guest(), vec![], &words, &limits)
        .unwrap_err()
        .to_string();
    let timeout = Duration::from_millis(200);
    for (kind, runtime) in &runtimes {
        let run = host().run_async(default_guest(), vec![], &words, &limits);
        match runtime.block_on(run) {
            Err(e @ RunError::Failed(_)) => assert_eq!(e.to_string(), expected, "{kind}"),
            other => panic!("{kind}: expected the guest's error, got {other:?}"),
        }
        let run = run_async(hostile_guest(), vec![], &["spin"], short(timeout));
        assert_stopped_by_time(runtime.block_on(run), timeout);
    }
}

#[test]
fn a_run_is_a_send_future_that_can_be_spawned() {
    let runtime = multi_thread();
    let task = runtime.spawn(async {
        let words = args(&["upper"]);
        host()
            .run_async(
                default_guest(),
                b"spawned".to_vec(),
                &words,
                &Limits::default(),
            )
            .await
    });
    assert_eq!(runtime.block_on(task).unwrap().unwrap(), b"SPAWNED");
}

#[test]
fn run_works_inside_a_multi_thread_runtime() {
    let runtime = multi_thread();
    let run = || {
        host().run(
            default_guest(),
            b"blocking".to_vec(),
            &args(&["upper"]),
            &Limits::default(),
        )
    };
    // From the thread that drives `block_on`, and from a worker.
    assert_eq!(runtime.block_on(async { run() }).unwrap(), b"BLOCKING");
    let task = runtime.spawn(async move { run() });
    assert_eq!(runtime.block_on(task).unwrap().unwrap(), b"BLOCKING");
    // The blocking run keeps its time limit there too.
    let timeout = Duration::from_millis(200);
    let spin = runtime.spawn(async move {
        host().run(hostile_guest(), vec![], &args(&["spin"]), &short(timeout))
    });
    assert_stopped_by_time(runtime.block_on(spin).unwrap(), timeout);
}

#[test]
fn run_inside_a_current_thread_runtime_says_to_use_run_async() {
    let runtime = current_thread();
    let result = runtime.block_on(async {
        host().run(
            default_guest(),
            b"x".to_vec(),
            &args(&["upper"]),
            &Limits::default(),
        )
    });
    let err = result.unwrap_err();
    assert!(matches!(err, RunError::HostIo(_)), "{err:?}");
    assert!(err.to_string().contains("`Host::run_async`"), "{err}");
    // The runtime is fine afterwards, and `run_async` works in it.
    let run = run_async(
        default_guest(),
        b"x".to_vec(),
        &["upper"],
        Limits::default(),
    );
    assert_eq!(runtime.block_on(run).unwrap(), b"X");
}

#[test]
fn time_limits_hold_in_a_runtime_without_tokio_timers() {
    // No `enable_time`: neither the run's time limit nor WASI's own sleep
    // may depend on this runtime's timers.
    let runtime = Builder::new_current_thread().build().unwrap();
    let timeout = Duration::from_millis(300);
    for command in [&["spin"][..], &["sleep", "30"]] {
        let started = Instant::now();
        let run = run_async(hostile_guest(), vec![], command, short(timeout));
        assert_stopped_by_time(runtime.block_on(run), timeout);
        // A 30 s sleep was cut short (the bound only guards against a hang).
        assert!(started.elapsed() < Duration::from_secs(20), "{command:?}");
    }
    // A guest's sleep that fits in its limit ends, and the run succeeds.
    let run = run_async(
        hostile_guest(),
        vec![],
        &["sleep", "1"],
        short(Duration::from_secs(20)),
    );
    assert_eq!(runtime.block_on(run).unwrap(), b"slept 1 s\n");
}

/// What run `i` of [`mixed_runs`] does, and what it must give.
fn mixed_run(i: usize) -> (bool, Vec<String>, Vec<u8>, Limits) {
    match i % 4 {
        0 => (false, args(&["forge-handle"]), vec![], Limits::default()),
        1 => (
            false,
            args(&["spin"]),
            vec![],
            short(Duration::from_millis(100)),
        ),
        2 => (
            false,
            args(&["memory-bomb"]),
            vec![],
            Limits {
                memory: 16 << 20,
                ..Limits::default()
            },
        ),
        _ => (
            true,
            args(&["upper"]),
            format!("run {i} ").repeat(i).into_bytes(),
            Limits::default(),
        ),
    }
}

/// `n` runs at once on `runtime` (the default guest's `upper` among hostile
/// ones that trap, spin or exhaust their memory); checks each result.
fn mixed_runs(runtime: &Runtime, n: usize) {
    runtime.block_on(async {
        let mut runs = JoinSet::new();
        for i in 0..n {
            runs.spawn(async move {
                let (good, words, input, limits) = mixed_run(i);
                let guest = if good {
                    default_guest()
                } else {
                    hostile_guest()
                };
                (i, host().run_async(guest, input, &words, &limits).await)
            });
        }
        let mut seen = 0;
        while let Some(joined) = runs.join_next().await {
            let (i, result) = joined.unwrap();
            let (_, _, input, _) = mixed_run(i);
            match (i % 4, result) {
                (0, Err(RunError::Trapped(e))) => {
                    assert!(e.root_cause().to_string().contains("12345"), "run {i}: {e}")
                }
                (1, Err(RunError::LimitExceeded(Limit::Time(_), _))) => {}
                (2, Err(RunError::LimitExceeded(Limit::Memory(m), _))) => assert_eq!(m, 16 << 20),
                (3, Ok(out)) => assert_eq!(out, input.to_ascii_uppercase(), "run {i}"),
                (kind, other) => panic!("run {i} (kind {kind}): {other:?}"),
            }
            seen += 1;
        }
        assert_eq!(seen, n);
    });
}

#[test]
fn many_concurrent_runs_on_one_host_are_correct_and_isolated() {
    mixed_runs(&multi_thread(), 64);
    // On one thread the runs interleave: a spinning guest yields to the others.
    mixed_runs(&current_thread(), 32);
}
