//! Section 10 (`cargo bench -- streams`): `streams.read-stream` against the
//! `read` of a list and the core path, reading a whole input in chunks of
//! 4 KiB, 64 KiB and 1 MiB, in memory and file-backed; and the 64 MiB file
//! of section 3 read as a stream, against wasi:filesystem.
//!
//! The stream guest is the test guest `tests/guests/streams` (`count`: it
//! reads the stream to the end and keeps only the byte count); the list and
//! core figures are the bench guest's `sum` (a checksum of each chunk's
//! length and last byte, cheap beside the reading). Each guest runs on the
//! engine the host gives it: the stream guest on the one with concurrency
//! support, the others on the one without.

use std::fs::File;
use std::path::Path;

use bufbridge::{Guest, Input, Output};

use super::{
    Guests, KIB, MIB, WasiReader, best, best_prepared, gbps, limits, make_file, quick, run, secs,
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
