//! The "data path" section (`cargo bench -- data`): what a run costs when it
//! does nothing, what moving bytes through guest memory costs against a
//! plain host copy, and how fast the default guest computes. All with the
//! default allocator and no tunables.

use std::time::Duration;

use bytes::Bytes;

use bufbridge::{DEFAULT_GUEST, Guest, Host, HostOptions, Input, Limits, Output};

use super::{Guests, KIB, MIB, gbps, limits, quick, secs, thread_cpu};

/// The least CPU time of this thread (where the guests run) over `reps`
/// calls of `run`, each given what `prepare` made beforehand: unlike wall
/// time, it leaves out moments the shared machine took the core away.
fn best_cpu<S>(reps: usize, mut prepare: impl FnMut() -> S, mut run: impl FnMut(S)) -> Duration {
    (0..reps)
        .map(|_| {
            let prepared = prepare();
            let start = thread_cpu();
            run(prepared);
            thread_cpu().saturating_sub(start)
        })
        .min()
        .unwrap()
}

fn best(reps: usize, mut run: impl FnMut()) -> Duration {
    best_cpu(reps, || (), |()| run())
}

/// Text the default guest's `count`, `upper` and `lower` meet in practice:
/// words of varied lengths and cases, lines of varied lengths, some tabs.
fn text(len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "the",
        "Quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "LAZY",
        "dog",
        "while",
        "bufbridge",
        "counts",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(WORDS[(seed % 12) as usize].as_bytes());
        out.push(match (seed >> 8) % 16 {
            0 => b'\n',
            1 => b'\t',
            _ => b' ',
        });
    }
    out.truncate(len);
    out
}

/// The best time per run over `batches` batches of `n` runs of `run`.
fn per_run(batches: usize, n: u32, mut run: impl FnMut()) -> Duration {
    best(batches, || {
        for _ in 0..n {
            run();
        }
    }) / n
}

/// How a run's input and output are held.
#[derive(Clone, Copy, PartialEq)]
enum Io {
    /// The input a vector of its own (copied before the timing, as a
    /// caller handing over a fresh `Vec` does), the output fresh.
    Vectors,
    /// The input shared (`Input::Shared`), the output fresh (`Output::Memory`).
    Shared,
    /// The input shared, the output the last run's vector (`Output::Reuse`).
    Reused,
    /// The input a vector of its own, the output the last run's vector.
    VectorsReused,
}

/// The best of `reps` runs of `guest` with `args` over `bytes`, held as `io` says.
fn run_time(
    host: &Host,
    guest: &Guest,
    bytes: &Bytes,
    args: &[&str],
    reps: usize,
    io: Io,
) -> Duration {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut last = Vec::new();
    (0..reps)
        .map(|_| {
            let output = match io {
                Io::Reused | Io::VectorsReused => Output::Reuse(std::mem::take(&mut last)),
                Io::Vectors | Io::Shared => Output::Memory,
            };
            let input = match io {
                Io::Vectors | Io::VectorsReused => Input::Bytes(bytes.to_vec()),
                Io::Shared | Io::Reused => Input::Shared(bytes.clone()),
            };
            let start = thread_cpu();
            let out = host.run_with(guest, input, output, &args, &limits());
            last = std::hint::black_box(out.unwrap().into_bytes().unwrap());
            let time = thread_cpu().saturating_sub(start);
            if matches!(io, Io::Vectors | Io::Shared) {
                drop(std::mem::take(&mut last));
            }
            time
        })
        .min()
        .unwrap()
}

/// A host memcpy of `len` bytes into a destination already in use: the
/// machine's limit for moving them.
fn memcpy_time(len: usize, reps: usize) -> Duration {
    let src = vec![7u8; len];
    let mut dst = vec![0u8; len];
    best(reps, || {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    })
}

fn empty_runs() {
    let n = if quick() { 500 } else { 5_000 };
    println!("| pooling | per run (best of 5 batches of {n}) |");
    println!("|---|---|");
    for pooling in [true, false] {
        let host = Host::with_options(HostOptions {
            pooling,
            ..HostOptions::default()
        })
        .unwrap();
        let guest = host.load(DEFAULT_GUEST).unwrap();
        let limits = Limits::default();
        let t = per_run(5, n, || {
            let out = host.run(&guest, Vec::new(), &[], &limits).unwrap();
            assert!(out.is_empty());
        });
        let label = if pooling { "on" } else { "off" };
        println!("| {label} | {:.1} µs |", secs(t) * 1e6);
    }
    println!();
}

fn echo(g: &Guests) {
    let reps = if quick() { 7 } else { 21 };
    println!(
        "Echo: the bench guest's `raw-copy` (`read` 64 KiB into guest memory, `append` it), \
         best of {reps}, with the input a fresh vector (`Input::Bytes`, all there was \
         before) or shared (`Input::Shared`), and the output fresh (`Output::Memory`) or \
         the last run's vector (`Output::Reuse`); against memcpy: one host copy of the same \
         bytes into a buffer already in use.\n"
    );
    println!(
        "| size | memcpy | vector in, fresh out | vector in, reused out | shared in, fresh out | shared in, reused out |"
    );
    println!("|---|---|---|---|---|---|");
    for chunks in [1, 10, 100] {
        let len = chunks * 64 * KIB;
        let bytes = Bytes::from(text(len));
        let m = memcpy_time(len, reps);
        let echo = |io| {
            let t = run_time(&g.host, &g.component, &bytes, &["raw-copy"], reps, io);
            format!("{:.1} µs ({:.1}x)", secs(t) * 1e6, secs(t) / secs(m))
        };
        println!(
            "| {} KiB | {:.1} µs | {} | {} | {} | {} |",
            len / KIB,
            secs(m) * 1e6,
            echo(Io::Vectors),
            echo(Io::VectorsReused),
            echo(Io::Shared),
            echo(Io::Reused),
        );
    }
    println!();
}

/// What a caller that keeps its bytes pays to run them: a copy to hand over
/// (`Input::Bytes`), or none (`Input::Shared`); the default guest's `copy`.
fn shared_input(g: &Guests) {
    let reps = if quick() { 7 } else { 21 };
    let len = 6400 * KIB;
    let bytes = text(len);
    let shared = Bytes::from(bytes.clone());
    let guest = g.host.load(DEFAULT_GUEST).unwrap();
    let args = ["copy".to_string()];
    let run = |input: Input| {
        let out = g
            .host
            .run_with(&guest, input, Output::Memory, &args, &limits());
        drop(std::hint::black_box(out.unwrap()));
    };
    let copied = best(reps, || run(Input::Bytes(bytes.clone())));
    let kept = best(reps, || run(Input::Shared(shared.clone())));
    println!(
        "`copy` of {} KiB the caller keeps, best of {reps}:\n",
        len / KIB
    );
    println!("| input | run | |");
    println!("|---|---|---|");
    println!(
        "| `Input::Bytes(bytes.clone())` | {:.1} µs | 1.00x |",
        secs(copied) * 1e6
    );
    println!(
        "| `Input::Shared(bytes)` | {:.1} µs | {:.2}x faster |",
        secs(kept) * 1e6,
        secs(copied) / secs(kept)
    );
    println!();
}

fn compute(g: &Guests) {
    let reps = if quick() { 7 } else { 21 };
    let len = if quick() { 6400 * KIB } else { 64 * MIB };
    let bytes = Bytes::from(text(len));
    let guest = g.host.load(DEFAULT_GUEST).unwrap();
    // Reads alone: in 64 KiB chunks (what `count` does), and the whole input
    // in one call, into fresh guest memory.
    let chunk = (64 * KIB).to_string();
    let read_chunks = run_time(
        &g.host,
        &g.component,
        &bytes,
        &["sum", &chunk, "0"],
        reps,
        Io::Reused,
    );
    let read_whole = run_time(&g.host, &g.component, &bytes, &["whole"], reps, Io::Reused);
    let echo = run_time(
        &g.host,
        &g.component,
        &bytes,
        &["raw-copy"],
        reps,
        Io::Reused,
    );
    let count = run_time(&g.host, &guest, &bytes, &["count"], reps, Io::Reused);
    let upper = run_time(&g.host, &guest, &bytes, &["upper"], reps, Io::Reused);
    let lower = run_time(&g.host, &guest, &bytes, &["lower"], reps, Io::Reused);
    println!(
        "{} MiB of text, input shared and output reused (`Output::Reuse`), best of {reps}. \
         \"Guest's own work\" takes out the same \
         I/O done by the bench guest (`count`: a read in 64 KiB chunks; `upper`/`lower`: \
         the echo).\n",
        len as f64 / MIB as f64
    );
    println!("| run | whole run | throughput | guest's own work | its throughput |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, t: Duration, io: Option<Duration>| {
        let (own, own_speed) = match io {
            Some(io) => {
                let own = t.saturating_sub(io);
                (
                    format!("{:.2} ms", secs(own) * 1e3),
                    gbps(len as f64 / secs(own).max(1e-9)),
                )
            }
            None => ("".into(), "".into()),
        };
        println!(
            "| {name} | {:.2} ms | {} | {own} | {own_speed} |",
            secs(t) * 1e3,
            gbps(len as f64 / secs(t))
        );
    };
    row("read, 64 KiB chunks (bench guest)", read_chunks, None);
    row(
        "read, whole input in one call (bench guest)",
        read_whole,
        None,
    );
    row("echo, 64 KiB chunks (bench guest)", echo, None);
    row("`count` (default guest)", count, Some(read_chunks));
    row("`upper` (default guest)", upper, Some(echo));
    row("`lower` (default guest)", lower, Some(echo));
    println!();
}

/// The section: see BENCHMARKS.md, "Data path".
pub fn table(g: &Guests) {
    println!("## 8. Data path\n");
    println!(
        "Every time is CPU time of the calling thread, where the guest runs (the best of \
         several), so other work on the machine does not count in it (1-minute load average \
         at the start: {}).\n",
        super::load_average()
    );
    empty_runs();
    echo(g);
    shared_input(g);
    compute(g);
}
