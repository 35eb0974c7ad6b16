//! `cargo bench`: how close bufbridge gets to what the machine allows.
//!
//! Every figure is measured in this one run, beside the thing it is compared
//! with, and reported as a ratio: absolute times on a shared machine are
//! noise, ratios between neighbours are not. Each time is the best of a few
//! repetitions. BENCHMARKS.md records a run and what the targets are.
//!
//! `BUFBRIDGE_BENCH_QUICK=1` shrinks every size for a smoke run.

mod batch;
mod datapath;
#[path = "../tests/support/measure.rs"]
mod measure;
mod streams;
#[path = "../tests/support/wasm_build.rs"]
mod wasm_build;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use std::sync::Barrier;

use bufbridge::{DEFAULT_GUEST, Guest, Host, HostOptions, Input, Limits, Output};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const GIB: u64 = 1024 * MIB as u64;

fn quick() -> bool {
    std::env::var_os("BUFBRIDGE_BENCH_QUICK").is_some()
}

/// The best of `reps` timings of `f`.
fn best(reps: usize, mut f: impl FnMut()) -> Duration {
    best_prepared(reps, || (), |()| f())
}

/// The best of `reps` timings of `run`, each given what `prepare` made
/// beforehand (untimed).
fn best_prepared<S>(
    reps: usize,
    mut prepare: impl FnMut() -> S,
    mut run: impl FnMut(S),
) -> Duration {
    (0..reps)
        .map(|_| {
            let prepared = prepare();
            let start = Instant::now();
            run(prepared);
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

struct Guests {
    host: Host,
    component: Guest,
    core: Guest,
    wasi_read: Vec<u8>,
}

fn guests(tmp: &Path) -> Guests {
    let manifest = "benches/guest/Cargo.toml";
    let wasip2 = wasm_build::build(manifest, "wasm32-wasip2", &[], tmp);
    let unknown = wasm_build::build(manifest, "wasm32-unknown-unknown", &["--lib"], tmp);
    let host = Host::new().unwrap();
    let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    let component = host
        .load(&read(&wasip2, "bufbridge_bench_guest.wasm"))
        .unwrap();
    let core = host
        .load(&read(&unknown, "bufbridge_bench_guest.wasm"))
        .unwrap();
    Guests {
        host,
        component,
        core,
        wasi_read: read(&wasip2, "wasi-read.wasm"),
    }
}

fn limits() -> Limits {
    Limits {
        timeout: None,
        ..Limits::default()
    }
}

/// One run of the bench guest: `op size count` over `input`.
fn run(g: &Guests, guest: &Guest, input: Input, op: &str, size: usize, count: u64) -> Vec<u8> {
    let args = [op.to_string(), size.to_string(), count.to_string()];
    let out = g
        .host
        .run_with(guest, input, Output::Memory, &args, &limits())
        .unwrap();
    out.into_bytes().unwrap()
}

/// Time per call of `op`: the difference between `count` calls and none, so
/// instantiation and the rest of the run cancel out.
fn per_call(g: &Guests, guest: &Guest, op: &str, size: usize, count: u64) -> Duration {
    let input = vec![7u8; size.max(1)];
    let time = |n| {
        best(5, || {
            drop(run(g, guest, Input::Bytes(input.clone()), op, size, n))
        })
    };
    time(count).saturating_sub(time(0)) / count as u32
}

/// Bytes per second of `op` at `size`, over `total` bytes.
fn bandwidth(g: &Guests, guest: &Guest, op: &str, size: usize, total: usize) -> f64 {
    let count = (total / size) as u64;
    let per = per_call(g, guest, op, size, count);
    size as f64 / secs(per)
}

/// What memcpy does for the same sizes: the physical limit.
fn memcpy_bandwidth(size: usize, total: usize) -> f64 {
    let src = vec![7u8; size];
    let mut dst = vec![0u8; size];
    let count = total / size;
    let t = best(5, || {
        for _ in 0..count {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
    });
    (count * size) as f64 / secs(t)
}

fn gbps(bytes_per_sec: f64) -> String {
    format!("{:.2} GB/s", bytes_per_sec / 1e9)
}

fn per_call_table(g: &Guests) {
    let n = if quick() { 20_000 } else { 1_000_000 };
    println!("## 1. Per call (ns per call; WIT path vs core-module path)\n");
    println!("| call | WIT | core | WIT / core |");
    println!("|---|---|---|---|");
    for (op, size) in [("len", 0), ("read", 64), ("write", 64)] {
        let wit = per_call(g, &g.component, op, size, n);
        let core = per_call(g, &g.core, op, size, n);
        let label = if size == 0 {
            "len()".to_string()
        } else {
            format!("{op} {size} B")
        };
        println!(
            "| {label} | {:.0} | {:.0} | {:.2}x |",
            wit.as_nanos(),
            core.as_nanos(),
            secs(wit) / secs(core)
        );
    }
    println!();
}

fn throughput_table(g: &Guests) {
    let total = if quick() { 16 * MIB } else { 512 * MIB };
    println!("## 2. Throughput (WIT and core paths against memcpy of the same size)\n");
    println!("| op | size | WIT | core | memcpy | WIT / core | core / memcpy |");
    println!("|---|---|---|---|---|---|---|");
    for op in ["read", "write"] {
        for size in [4 * KIB, 64 * KIB, MIB] {
            let wit = bandwidth(g, &g.component, op, size, total);
            let core = bandwidth(g, &g.core, op, size, total);
            let memcpy = memcpy_bandwidth(size, total);
            println!(
                "| {op} | {} KiB | {} | {} | {} | {:.0}% | {:.0}% |",
                size / KIB,
                gbps(wit),
                gbps(core),
                gbps(memcpy),
                100.0 * wit / core,
                100.0 * core / memcpy
            );
        }
    }
    println!();
}

/// A file of `len` bytes of a repeating, non-constant pattern.
fn make_file(path: &Path, len: u64) {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == len) {
        return;
    }
    let block: Vec<u8> = (0..MIB).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut file = std::io::BufWriter::new(File::create(path).unwrap());
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for WasiState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// The standard alternative: a WASI command reading a preopened file with
/// `std::fs`, on an engine configured as bufbridge's is.
struct WasiReader {
    engine: Engine,
    linker: Linker<WasiState>,
    component: Component,
}

impl WasiReader {
    fn new(wasm: &[u8]) -> Self {
        let mut config = Config::new();
        config.concurrency_support(false);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).unwrap();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
        let component = Component::new(&engine, wasm).unwrap();
        WasiReader {
            engine,
            linker,
            component,
        }
    }

    /// Reads `dir/name` in the guest; returns what it printed (the byte sum).
    fn read(&self, dir: &Path, name: &str) -> String {
        let stdout = MemoryOutputPipe::new(1024);
        let ctx = WasiCtxBuilder::new()
            .args(&["wasi-read", &format!("/data/{name}")])
            .preopened_dir(dir, "/data", FsPerms::ReadOnly)
            .unwrap()
            .stdout(stdout.clone())
            .build();
        let state = WasiState {
            ctx,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.set_epoch_deadline(u64::MAX / 2);
        let command = wasmtime_wasi::p2::bindings::sync::Command::instantiate(
            &mut store,
            &self.component,
            &self.linker,
        )
        .unwrap();
        command
            .wasi_cli_run()
            .call_run(&mut store)
            .unwrap()
            .unwrap();
        String::from_utf8(stdout.contents().to_vec())
            .unwrap()
            .trim()
            .to_string()
    }
}

fn bulk_read_table(g: &Guests, dir: &Path) {
    let len = if quick() { 8 * MIB } else { 64 * MIB } as u64;
    let path = dir.join("bulk-input");
    make_file(&path, len);
    let wasi = WasiReader::new(&g.wasi_read);
    let sum_of = |out: Vec<u8>| u64::from_le_bytes(out.try_into().unwrap()).to_string();
    let from = |input| run(g, &g.component, input, "sum", 64 * KIB, 0);
    let open = || Input::File(File::open(&path).unwrap());
    let bytes = std::fs::read(&path).unwrap();
    let copied = || Input::Bytes(bytes.clone());
    let expected = wasi.read(dir, "bulk-input");
    assert_eq!(sum_of(from(open())), expected, "both read the same bytes");
    assert_eq!(sum_of(from(copied())), expected);
    let t_wasi = best(5, || drop(wasi.read(dir, "bulk-input")));
    let t_file = best_prepared(5, open, |input| drop(from(input)));
    let t_memory = best_prepared(5, copied, |input| drop(from(input)));
    println!(
        "## 3. A {} MiB file into a guest in 64 KiB chunks\n",
        len / MIB as u64
    );
    println!("| way | time | speed-up over wasi:filesystem |");
    println!("|---|---|---|");
    println!(
        "| wasi:filesystem (`std::fs` on a preopened dir) | {:.1} ms | 1.00x |",
        secs(t_wasi) * 1e3
    );
    println!(
        "| bufbridge buffer, file-backed input | {:.1} ms | {:.2}x |",
        secs(t_file) * 1e3,
        secs(t_wasi) / secs(t_file)
    );
    println!(
        "| bufbridge buffer, in-memory input | {:.1} ms | {:.2}x |",
        secs(t_memory) * 1e3,
        secs(t_wasi) / secs(t_memory)
    );
    println!();
}

/// Runs `cmd`, returning its wall time and peak RSS in bytes, as the OS
/// measured them.
fn measure(cmd: &mut Command) -> (Duration, u64) {
    let m = measure::measure(cmd, true, Duration::from_secs(900));
    assert_eq!(m.code, Some(0), "{cmd:?} failed: {}", m.stderr);
    (m.wall, m.max_rss_kib * 1024)
}

fn bufbridge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bufbridge"))
}

fn end_to_end_table(dir: &Path) {
    let sizes: &[u64] = if quick() {
        &[64 << 20, 256 << 20]
    } else {
        &[GIB, 4 * GIB]
    };
    println!(
        "## 4. End to end: `bufbridge run --input F --output G -- copy` against `cat F > G`\n"
    );
    println!(
        "bufbridge syncs the output to disk before renaming it into place; `cat` does not, \
         so `cat` + `sync` (the same file synced) is the fair limit.\n"
    );
    println!(
        "| input | bufbridge | cat | cat + sync | bufbridge / (cat + sync) | bufbridge peak RSS |"
    );
    println!("|---|---|---|---|---|---|");
    let out = dir.join("copy-output");
    for &len in sizes {
        let input = dir.join(format!("copy-input-{len}"));
        make_file(&input, len);
        let run = || {
            measure(
                bufbridge()
                    .args(["run", "--input"])
                    .arg(&input)
                    .arg("--output")
                    .arg(&out)
                    .args(["--", "copy"]),
            )
        };
        run(); // warm the page cache and the compilation cache
        let (t_bb, rss) = (0..3).map(|_| run()).min().unwrap();
        let shell = |script: &str| {
            let script = script
                .replace("F", &input.display().to_string())
                .replace("G", &out.display().to_string());
            measure(Command::new("sh").arg("-c").arg(script)).0
        };
        let t_cat = (0..3)
            .map(|_| shell("rm -f 'G'; cat 'F' > 'G'"))
            .min()
            .unwrap();
        let t_sync = (0..3)
            .map(|_| shell("rm -f 'G'; cat 'F' > 'G' && sync 'G'"))
            .min()
            .unwrap();
        println!(
            "| {} MiB | {} | {} | {} | {:.2}x | {:.1} MiB |",
            len >> 20,
            gbps(len as f64 / secs(t_bb)),
            gbps(len as f64 / secs(t_cat)),
            gbps(len as f64 / secs(t_sync)),
            secs(t_sync) / secs(t_bb),
            rss as f64 / MIB as f64
        );
        std::fs::remove_file(&input).ok();
    }
    std::fs::remove_file(&out).ok();
    println!();
}

fn start_table(dir: &Path) {
    let input = dir.join("start-input");
    make_file(&input, 1024);
    let cache = dir.join("start-cache");
    let run = |extra: &[&str]| {
        let mut cmd = bufbridge();
        cmd.env("BUFBRIDGE_CACHE_DIR", &cache)
            .args(["run", "--input"])
            .arg(&input)
            .args(["--output", "-"])
            .args(extra);
        // Timed directly: the RSS harness's own start-up would swamp a few ms.
        let start = Instant::now();
        let status = cmd.stdout(std::process::Stdio::null()).status().unwrap();
        assert!(status.success());
        start.elapsed()
    };
    run(&[]); // fills the cache
    let median = |extra: &[&str]| {
        let mut times: Vec<_> = (0..11).map(|_| run(extra)).collect();
        times.sort();
        times[5]
    };
    let warm = median(&[]);
    let cold = median(&["--no-cache"]);
    println!(
        "## 5. Start: whole-process time of `bufbridge run` on a 1 KiB input (median of 11)\n"
    );
    println!("| cache | time | |");
    println!("|---|---|---|");
    println!("| `--no-cache` | {:.1} ms | 1.00x |", secs(cold) * 1e3);
    println!(
        "| warm | {:.1} ms | {:.1}x faster |",
        secs(warm) * 1e3,
        secs(cold) / secs(warm)
    );
    println!();
}

/// What one configuration of the "runs" section measured.
struct Runs {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time (user + system, all threads) per run: what a run costs
    /// whether or not other processes left the cores free.
    cpu: Duration,
    /// CPU time over wall time: how many cores the runs actually got.
    cores: f64,
}

/// The CPU time this process has used so far, user and system.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given, which is
    // zero-initialised plain data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The 1-minute load average: how busy the machine was besides us.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

/// One thread's way to do a run: given the input, returns the output.
type Runner<'a> = Box<dyn FnMut(Vec<u8>) -> Vec<u8> + 'a>;

/// How `threads` callers, each doing `per_thread` runs of `upper` over 1 KiB
/// on one shared host, fared: total runs per second of wall time, and the
/// latency of single runs. Each thread gets its runner from `runner`.
fn measure_runs<'a>(
    threads: usize,
    per_thread: usize,
    runner: &(dyn Fn() -> Runner<'a> + Sync),
) -> Runs {
    let input: Vec<u8> = (0..KIB).map(|i| b"bufbridge runs "[i % 15]).collect();
    let expected = input.to_ascii_uppercase();
    let barrier = Barrier::new(threads);
    let cpu_before = cpu_time();
    let timed: Vec<(Instant, Instant, Vec<Duration>)> = std::thread::scope(|s| {
        let callers: Vec<_> = (0..threads)
            .map(|_| {
                let (input, expected, barrier) = (&input, &expected, &barrier);
                s.spawn(move || {
                    let mut run = runner();
                    let mut latencies = Vec::with_capacity(per_thread);
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..per_thread {
                        let began = Instant::now();
                        let out = run(input.clone());
                        latencies.push(began.elapsed());
                        assert!(out == *expected, "`upper` gave the wrong output");
                    }
                    (start, Instant::now(), latencies)
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let cpu = cpu_time() - cpu_before;
    let start = timed.iter().map(|t| t.0).min().unwrap();
    let end = timed.iter().map(|t| t.1).max().unwrap();
    let mut latencies: Vec<Duration> = timed.into_iter().flat_map(|t| t.2).collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Runs {
        per_sec: latencies.len() as f64 / secs(end - start),
        p50: at(0.50),
        p99: at(0.99),
        cpu: cpu / latencies.len() as u32,
        cores: secs(cpu) / secs(end - start),
    }
}

/// The best (highest throughput) of `reps` measurements.
fn best_runs(reps: usize, mut measure: impl FnMut() -> Runs) -> Runs {
    (0..reps)
        .map(|_| measure())
        .max_by(|a, b| a.per_sec.total_cmp(&b.per_sec))
        .unwrap()
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", secs(d) * 1e6)
}

/// The rows of one host (pooling `label`) in the "runs" table.
fn runs_rows<'a>(
    label: &str,
    host: &'a Host,
    guest: &'a Guest,
    limits: &'a Limits,
    args: &'a [String],
    per_thread: usize,
) {
    let sync = move || -> Runner<'a> {
        Box::new(move |input| host.run(guest, input, args, limits).unwrap())
    };
    // As a thread-per-core service would: each thread drives its runs on a
    // current-thread runtime of its own.
    let on_runtime = move || -> Runner<'a> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Box::new(move |input| {
            let run = host.run_async(guest, input, args, limits);
            runtime.block_on(run).unwrap()
        })
    };
    let runners: [(&str, &(dyn Fn() -> Runner<'a> + Sync)); 2] =
        [("`run`", &sync), ("`run_async`", &on_runtime)];
    let mut one = 0.0;
    for (entry, runner) in runners {
        for threads in [1, 2] {
            let m = best_runs(3, || measure_runs(threads, per_thread, runner));
            if threads == 1 && entry == "`run`" {
                one = m.per_sec;
            }
            println!(
                "| {label} | {entry} | {threads} | {:.0} | {:.2}x | {} | {} | {} | {:.2} |",
                m.per_sec,
                m.per_sec / one,
                micros(m.p50),
                micros(m.p99),
                micros(m.cpu),
                m.cores
            );
        }
    }
}

fn runs_table() {
    let per_thread = if quick() { 2_000 } else { 40_000 };
    let limits = Limits::default();
    let args = ["upper".to_string()];
    println!(
        "## 7. Runs: `upper` over 1 KiB with the default guest, in one process, one shared `Host`\n"
    );
    println!(
        "Each thread does {per_thread} runs back to back (best of 3); p50 and p99 are the \
         latencies of single runs. `run_async` rows: each thread awaits its runs on a \
         current-thread tokio runtime of its own. \"vs 1 thread\" compares with `run` on \
         one thread of the same pooling setting.\n"
    );
    println!(
        "CPU per run is the process's user + system time over the runs: unlike runs/s, it \
         does not depend on whether other processes left both cores free; \"cores used\" is \
         CPU time over wall time, what the machine gave the runs (1-minute load average at \
         the start: {}).\n",
        load_average()
    );
    println!(
        "| pooling | entry | threads | runs/s | vs 1 thread | p50 | p99 | CPU per run | cores used |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for pooling in [true, false] {
        let host = Host::with_options(HostOptions {
            pooling,
            ..HostOptions::default()
        })
        .unwrap();
        let guest = host.load(DEFAULT_GUEST).unwrap();
        runs_rows(
            if pooling { "on" } else { "off" },
            &host,
            &guest,
            &limits,
            &args,
            per_thread,
        );
    }
    println!();
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write to.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(ok, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The guest SDK's adapters against the raw chunk loop they wrap: the
/// input copied to the output through the guest, both in memory, with
/// `std::io::copy` over `Input`/`Output` and with `read`/`append` of 64 KiB;
/// then the raw loop with each half of what `io::copy` does differently,
/// to show where its extra time goes.
fn sdk_table(g: &Guests) {
    let len = if quick() { 4 * MIB } else { 16 * MIB };
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let copy = |op: &str, input| {
        let args = [op.to_string()];
        let out = g
            .host
            .run_with(&g.component, input, Output::Memory, &args, &limits());
        out.unwrap().into_bytes().unwrap()
    };
    let ops = ["raw-copy", "io-copy", "io-copy-reads", "io-copy-writes"];
    for op in ops {
        assert!(
            copy(op, Input::Bytes(bytes.clone())) == bytes,
            "{op} copies"
        );
    }
    // Alternated, so a slow moment of the machine hits both; the best of
    // many, as the machine is shared. Besides wall time, the CPU time of
    // this thread (where the guest runs): it leaves out the time the
    // machine's other work took the core away.
    let mut times = [Duration::MAX; 4];
    let mut cpu = [Duration::MAX; 4];
    for _ in 0..41 {
        for (i, op) in ops.into_iter().enumerate() {
            let input = Input::Bytes(bytes.clone());
            let (start, start_cpu) = (Instant::now(), thread_cpu());
            drop(copy(op, input));
            times[i] = times[i].min(start.elapsed());
            cpu[i] = cpu[i].min(thread_cpu().saturating_sub(start_cpu));
        }
    }
    println!(
        "## 6. The guest SDK: a {} MiB input copied to the output through the guest\n",
        len / MIB
    );
    println!("| way | wall time | throughput | / raw loop | CPU time | / raw loop |");
    println!("|---|---|---|---|---|---|");
    for (i, name) in [
        "raw chunk loop (`read` 64 KiB, `append`)",
        "`std::io::copy(input, output)` over the SDK's adapters",
        "raw loop, reading through `Input` into 8 KiB (`io::copy`'s reads)",
        "raw loop, writing 8 KiB at a time to `Output` (`io::copy`'s writes)",
    ]
    .into_iter()
    .enumerate()
    {
        println!(
            "| {name} | {:.1} ms | {} | {:.2}x | {:.1} ms | {:.2}x |",
            secs(times[i]) * 1e3,
            gbps(len as f64 / secs(times[i])),
            secs(times[i]) / secs(times[0]),
            secs(cpu[i]) * 1e3,
            secs(cpu[i]) / secs(cpu[0])
        );
    }
    println!();
}

fn main() {
    // `cargo bench` passes `--bench`; a filter word selects sections.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let g = guests(&tmp);
    println!(
        "# bufbridge benchmarks{}\n",
        if quick() { " (quick)" } else { "" }
    );
    if wants("per-call") {
        per_call_table(&g);
    }
    if wants("throughput") {
        throughput_table(&g);
    }
    if wants("bulk") {
        bulk_read_table(&g, &dir);
    }
    if wants("end-to-end") {
        end_to_end_table(&dir);
    }
    if wants("start") {
        start_table(&dir);
    }
    if wants("sdk") {
        sdk_table(&g);
    }
    if wants("runs") {
        runs_table();
    }
    if wants("data path") {
        datapath::table(&g);
    }
    if wants("batch") {
        batch::batch_table(&dir, quick());
    }
    if wants("streams") {
        streams::streams_table(&g, &tmp, &dir);
    }
    if wants("streams cli") {
        streams::cli_upper_table(&g, &tmp, &dir);
    }
}
