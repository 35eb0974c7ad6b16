//! Section "batch": batch mode (`bufbridge run --output-dir DIR --input
//! FILE...`, one process, the guest loaded once) against a shell loop of
//! single-file `bufbridge run` invocations over the same files. Run alone
//! with `cargo bench --bench buffers -- batch`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The files, and the size of each (issue 12: 2,000 of 1 KiB).
const FILES: usize = 2000;
const FILE_SIZE: usize = 1024;

/// How many files the batch takes: issue 12's count, a tenth when quick.
pub fn batch_files(quick: bool) -> usize {
    if quick { FILES / 10 } else { FILES }
}

/// Writes the batch's input files into `dir` (made if missing): `files` text
/// files of [`FILE_SIZE`] bytes, each a little different.
pub fn write_inputs(dir: &Path, files: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..files)
        .map(|i| {
            let path = dir.join(format!("{i:05}.txt"));
            let line = format!("file {i}: the quick brown fox jumps over the lazy dog\n");
            let bytes: Vec<u8> = line.bytes().cycle().take(FILE_SIZE).collect();
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

pub fn batch_table(dir: &Path, quick: bool) {
    let files = batch_files(quick);
    let root = dir.join("batch");
    let _ = std::fs::remove_dir_all(&root);
    let inputs_dir = root.join("in");
    let inputs = write_inputs(&inputs_dir, files);
    let cache = root.join("cache");
    let bufbridge = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bufbridge"));
        cmd.env("BUFBRIDGE_CACHE_DIR", &cache)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    };
    let timed = |cmd: &mut Command| {
        let start = Instant::now();
        let out = cmd.output().unwrap();
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd:?} failed: {stderr}");
        took
    };
    // Warms the compilation cache, which both ways then use.
    timed(
        bufbridge()
            .args(["run", "--output", "-", "--input"])
            .arg(&inputs[0]),
    );

    let loop_out = root.join("loop-out");
    std::fs::create_dir_all(&loop_out).unwrap();
    let script = format!(
        "for f in '{}'/*; do '{}' run --input \"$f\" --output '{}'/\"${{f##*/}}\" -- upper || exit 1; done",
        inputs_dir.display(),
        env!("CARGO_BIN_EXE_bufbridge"),
        loop_out.display()
    );
    let shell_loop = timed(
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("BUFBRIDGE_CACHE_DIR", &cache),
    );

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batch = |jobs: usize| {
        let out = root.join(format!("batch-out-{jobs}"));
        let _ = std::fs::remove_dir_all(&out);
        // The best of three: a batch is short enough for the machine's noise to show.
        let took = (0..3)
            .map(|_| {
                timed(
                    bufbridge()
                        .args(["run", "--output-dir"])
                        .arg(&out)
                        .args(["-j", &jobs.to_string(), "--input"])
                        .args(&inputs)
                        .args(["--", "upper"]),
                )
            })
            .min()
            .unwrap();
        for input in [&inputs[0], &inputs[files - 1]] {
            let name = input.file_name().unwrap();
            let batched = std::fs::read(out.join(name)).unwrap();
            assert_eq!(batched, std::fs::read(loop_out.join(name)).unwrap());
        }
        took
    };
    let one_job = batch(1);
    let all_jobs = batch(cpus);

    println!(
        "## 9. Batch: `bufbridge run --output-dir` against a shell loop of single runs, \
         {files} files of {FILE_SIZE} bytes, `upper`\n"
    );
    println!(
        "The loop starts one process a file (compilation cache warm); batch mode is one \
         process that loads the guest once. Whole wall time, writes synced and renamed \
         into place in both.\n"
    );
    println!("| way | time | per file | loop / this |");
    println!("|---|---|---|---|");
    let row = |way: &str, took: Duration| {
        println!(
            "| {way} | {:.2} s | {:.0} µs | {:.1}x |",
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / files as f64,
            shell_loop.as_secs_f64() / took.as_secs_f64()
        );
    };
    row("shell loop of `bufbridge run`", shell_loop);
    row("batch, `-j 1`", one_job);
    row(&format!("batch, `-j {cpus}` (the default: CPUs)"), all_jobs);
    println!();
    let _ = std::fs::remove_dir_all(&root);
}
