//! Section 10 (`cargo bench -- streams`): `streams.read-stream` against the
//! `read` of a list and the core path, reading a whole input in chunks of
//! 4 KiB, 64 KiB and 1 MiB, in memory and file-backed; and the 64 MiB file
//! of section 3 read as a stream, against wasi:filesystem. `streams cli`
//! (`cargo bench -- cli`): the CLI's `upper` of 1 GiB with the default
//! guest built with and without `read-stream`.
//!
//! The stream guest is the test guest `tests/guests/streams` (`count`: it
//! reads the stream to the end and keeps only the byte count); the list and
//! core figures are the bench guest's `sum` (a checksum of each chunk's
//! length and last byte, cheap beside the reading). Each guest runs on the
//! engine the host gives it: the stream guest on the one with concurrency
//! support, the others on the one without.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bufbridge::{DEFAULT_GUEST, Guest, Input, Output};

use super::{
    GIB, Guests, KIB, MIB, WasiReader, best, best_prepared, gbps, limits, make_file, quick, run,
    secs,
};

/// One run of the stream guest: `count 0 SIZE` over `input`; what it wrote.
fn stream(g: &Guests, guest: &Guest, input: Input, size: usize) -> String {
    let args = ["count".to_string(), "0".into(), size.to_string()];
    let out = g
        .host
        .run_with(guest, input, Output::Memory, &args, &limits())
        .unwrap();
    String::from_utf8(out.into_bytes().unwrap()).unwrap()
}

pub fn streams_table(g: &Guests, tmp: &Path, dir: &Path) {
    let wasip2 = super::wasm_build::build("tests/guests/Cargo.toml", "wasm32-wasip2", &[], tmp);
    let wasm = std::fs::read(wasip2.join("bufbridge_test_streams.wasm")).unwrap();
    let guest = g.host.load(&wasm).unwrap();
    let total = if quick() { 16 * MIB } else { 256 * MIB };
    let path = dir.join("streams-input");
    make_file(&path, total as u64);
    let bytes = std::fs::read(&path).unwrap();
    let reps = 5;
    println!(
        "## 10. Stream reads (`read-stream`) vs list reads vs the core path, {} MiB in chunks\n",
        total / MIB
    );
    println!(
        "| input | chunk | stream | list | core | stream / core | list / core | stream / list |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for file in [false, true] {
        let input = || {
            if file {
                Input::File(File::open(&path).unwrap())
            } else {
                Input::Bytes(bytes.clone())
            }
        };
        for size in [4 * KIB, 64 * KIB, MIB] {
            let expected = format!("{total} bytes in {} reads\n", total.div_ceil(size));
            assert_eq!(stream(g, &guest, input(), size), expected);
            // Interleaved, so that a change in the machine's load hits all three.
            let (mut t_stream, mut t_list, mut t_core) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..reps {
                t_stream.push(best_prepared(1, input, |i| {
                    drop(stream(g, &guest, i, size))
                }));
                t_list.push(best_prepared(1, input, |i| {
                    drop(run(g, &g.component, i, "sum", size, 0))
                }));
                t_core.push(best_prepared(1, input, |i| {
                    drop(run(g, &g.core, i, "sum", size, 0))
                }));
            }
            let speed = |t: &[std::time::Duration]| total as f64 / secs(*t.iter().min().unwrap());
            let (s, l, c) = (speed(&t_stream), speed(&t_list), speed(&t_core));
            println!(
                "| {} | {} KiB | {} | {} | {} | {:.0}% | {:.0}% | {:.2}x |",
                if file { "file" } else { "memory" },
                size / KIB,
                gbps(s),
                gbps(l),
                gbps(c),
                100.0 * s / c,
                100.0 * l / c,
                s / l
            );
        }
    }
    println!();

    // Section 3's file, read as a stream in 64 KiB chunks.
    let len = if quick() { 8 * MIB } else { 64 * MIB } as u64;
    let bulk = dir.join("bulk-input");
    make_file(&bulk, len);
    let wasi = WasiReader::new(&g.wasi_read);
    let open = || Input::File(File::open(&bulk).unwrap());
    let t_wasi = best(reps, || drop(wasi.read(dir, "bulk-input")));
    let t_stream = best_prepared(reps, open, |i| drop(stream(g, &guest, i, 64 * KIB)));
    let t_list = best_prepared(reps, open, |i| {
        drop(run(g, &g.component, i, "sum", 64 * KIB, 0))
    });
    println!(
        "A {} MiB file into a guest in 64 KiB chunks:\n",
        len / MIB as u64
    );
    println!("| way | time | speed-up over wasi:filesystem |");
    println!("|---|---|---|");
    for (way, t) in [
        ("wasi:filesystem (`std::fs` on a preopened dir)", t_wasi),
        ("`read` (list), file-backed input", t_list),
        ("`read-stream`, file-backed input", t_stream),
    ] {
        println!(
            "| {way} | {:.1} ms | {:.2}x |",
            secs(t) * 1e3,
            secs(t_wasi) / secs(t)
        );
    }
    println!();
}

/// User and system CPU time of this process's waited-for children so far.
fn children_cpu() -> (Duration, Duration) {
    // SAFETY: getrusage only writes the struct it is given, which is
    // zero-initialised plain data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (time(usage.ru_utime), time(usage.ru_stime))
}

/// One process's wall time and CPU time (user, system).
#[derive(Clone, Copy)]
struct Timed {
    wall: Duration,
    user: Duration,
    sys: Duration,
}

/// Runs `cmd` to the end; its wall and CPU time.
fn timed(cmd: &mut Command) -> Timed {
    let (user, sys) = children_cpu();
    let start = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    let (user_after, sys_after) = children_cpu();
    Timed {
        wall,
        user: user_after - user,
        sys: sys_after - sys,
    }
}

/// The best and the median of each figure (each sorted on its own).
fn best_median(runs: &[Timed]) -> [(Duration, Duration); 3] {
    let of = |f: fn(&Timed) -> Duration| {
        let mut v: Vec<Duration> = runs.iter().map(f).collect();
        v.sort();
        (v[0], v[v.len() / 2])
    };
    [of(|t| t.wall), of(|t| t.user), of(|t| t.sys)]
}

/// Section 10, the end-to-end figure of issue 14: the CLI's `upper` of
/// 1 GiB with the default guest as shipped (`read` of a list) and built
/// with its feature `read-stream` (`Input::stream`), to a file and to
/// stdout (`/dev/null`), interleaved; the batch of section 9 both ways; and
/// what an empty run costs on each engine, through the library.
pub fn cli_upper_table(g: &Guests, tmp: &Path, dir: &Path) {
    let streaming = super::wasm_build::default_guest_read_stream(tmp);
    let scratch = tempfile::tempdir_in(dir).unwrap();
    let listing = scratch.path().join("list.wasm");
    std::fs::write(&listing, DEFAULT_GUEST).unwrap();
    let guests = [("list (shipped)", &listing), ("stream", &streaming)];
    let len = if quick() { 64 * MIB as u64 } else { GIB };
    let input = scratch.path().join("input");
    make_file(&input, len);
    let out = scratch.path().join("output");
    let cache = scratch.path().join("cache");
    let bufbridge = |guest: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bufbridge"));
        cmd.env("BUFBRIDGE_CACHE_DIR", &cache)
            .arg("run")
            .arg(guest)
            .stdout(Stdio::null());
        cmd
    };
    let to_file = |guest: &Path| {
        timed(
            bufbridge(guest)
                .arg("-i")
                .arg(&input)
                .arg("-o")
                .arg(&out)
                .args(["--", "upper"]),
        )
    };
    let to_stdout = |guest: &Path| {
        timed(
            bufbridge(guest)
                .arg("-i")
                .arg(&input)
                .args(["-o", "-", "--", "upper"]),
        )
    };
    // Both write the same (which warms the page and compilation caches).
    let mut digests = Vec::new();
    for (_, guest) in guests {
        to_file(guest);
        let mut file = File::open(&out).unwrap();
        let mut hash = sha2::Sha256::default();
        std::io::copy(&mut file, &mut hash).unwrap();
        digests.push(sha2::Digest::finalize(hash));
    }
    assert_eq!(digests[0], digests[1], "both guests write the same");

    let reps = if quick() { 3 } else { 5 };
    let mut runs: [[Vec<Timed>; 2]; 2] = Default::default();
    for _ in 0..reps {
        for (i, (_, guest)) in guests.iter().enumerate() {
            runs[0][i].push(to_file(guest));
            runs[1][i].push(to_stdout(guest));
        }
    }
    println!(
        "### CLI `upper` of {} MiB: `bufbridge run GUEST -i F -o OUT -- upper`\n",
        len / MIB as u64
    );
    println!(
        "The default guest as shipped (the list `read`) and built with its feature \
         `read-stream` (`Input::stream`), interleaved, {reps} runs each; the input in the \
         page cache. User and system CPU time of the process from `getrusage` \
         (`RUSAGE_CHILDREN`), medians. Load average at the start: {}.\n",
        super::load_average()
    );
    println!(
        "| output | guest | wall best | wall median | user | sys | list / stream (best, median) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (o, output) in ["`-o OUT` (a file)", "`-o -` to `/dev/null`"]
        .into_iter()
        .enumerate()
    {
        let list = best_median(&runs[o][0]);
        for (i, (name, _)) in guests.iter().enumerate() {
            let [wall, user, sys] = best_median(&runs[o][i]);
            let ratio = match i {
                0 => String::new(),
                _ => format!(
                    "{:.2}x, {:.2}x",
                    secs(list[0].0) / secs(wall.0),
                    secs(list[0].1) / secs(wall.1)
                ),
            };
            println!(
                "| {output} | {name} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {ratio} |",
                secs(wall.0),
                secs(wall.1),
                secs(user.1),
                secs(sys.1)
            );
        }
    }
    println!();
    std::fs::remove_file(&input).ok();
    std::fs::remove_file(&out).ok();

    // Section 9's batch: many small files, one process.
    let files = crate::batch::batch_files(quick());
    let inputs = crate::batch::write_inputs(&scratch.path().join("batch-in"), files);
    let batch = |guest: &Path| {
        let out = scratch.path().join("batch-out");
        let _ = std::fs::remove_dir_all(&out);
        timed(
            bufbridge(guest)
                .arg("--output-dir")
                .arg(&out)
                .args(["-j", "1", "--input"])
                .args(&inputs)
                .args(["--", "upper"]),
        )
    };
    let mut batches: [Vec<Timed>; 2] = Default::default();
    for _ in 0..reps {
        for (i, (_, guest)) in guests.iter().enumerate() {
            batches[i].push(batch(guest));
        }
    }

    // What a run of `upper` over nothing costs on each engine.
    let n = if quick() { 200 } else { 2000 };
    let per_run = |wasm: &[u8]| {
        let guest = g.host.load(wasm).unwrap();
        let args = ["upper".to_string()];
        let each = || {
            for _ in 0..n {
                g.host.run(&guest, Vec::new(), &args, &limits()).unwrap();
            }
        };
        each(); // warm
        best(5, each) / n
    };
    let empty = [
        per_run(DEFAULT_GUEST),
        per_run(&std::fs::read(&streaming).unwrap()),
    ];

    println!(
        "### {files} files of 1 KiB, `bufbridge run GUEST --output-dir D -j 1 --input F... -- upper`; \
         and one empty run through the library (`Host::run`, best of 5 × {n})\n"
    );
    println!("| guest | engine | batch best | batch median | per file | user | sys | empty run |");
    println!("|---|---|---|---|---|---|---|---|");
    for (i, (name, _)) in guests.iter().enumerate() {
        let [wall, user, sys] = best_median(&batches[i]);
        println!(
            "| {name} | {} | {:.2} s | {:.2} s | {:.0} µs | {:.2} s | {:.2} s | {:.1} µs |",
            ["first", "second (concurrency support)"][i],
            secs(wall.0),
            secs(wall.1),
            secs(wall.1) * 1e6 / files as f64,
            secs(user.1),
            secs(sys.1),
            secs(empty[i]) * 1e6
        );
    }
    println!();
}
