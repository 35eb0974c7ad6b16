//! A test-only guest that does what the default guest never would: it uses
//! handles it does not own, fails on purpose after writing, probes its
//! sandbox, and runs scripts of buffer operations. It is not shipped.
//!
//! The first argument picks the command:
//!
//! - `forge-handle`: calls `len` on buffer handle 12345, which it was never
//!   given (the host must trap the guest).
//! - `use-after-drop`: creates a scratch buffer, drops it, and calls `len`
//!   through its old handle (the host must trap the guest).
//! - `drop-input`: drops its borrow of the input, then calls `len` on it.
//! - `write-then-err`: appends `partial output` to the output, then returns
//!   `err("deliberate failure after writing")`.
//! - `write-then-panic`: appends `partial output` to the output, then panics
//!   with `deliberate panic after writing`.
//! - `print`: prints `hostile-stdout-marker` to stdout and
//!   `hostile-stderr-marker` to stderr, then writes `printed\n` to the output.
//! - `args [WORD...]`: writes the words after `args`, as a Rust debug list.
//! - `env`: writes what the guest can see of its environment to the output,
//!   one `key: value` line each (see [`env`]).
//! - `alloc N`: allocates and touches `N` bytes of guest memory, then writes
//!   `allocated N\n` to the output.
//! - `script [LINE...]`: runs a script of buffer operations (see
//!   [`script`]): the words after `script`, one line each, or else the whole
//!   input.
//!
//! Commands that attack the host's limits (tests/all/limits.rs):
//!
//! - `spin`: loops forever without calling the host (stopped only by the
//!   timeout or the fuel budget).
//! - `sleep SECONDS`: sleeps (a WASI clock poll, inside the host), then
//!   writes `slept SECONDS s\n` to the output.
//! - `memory-bomb`: allocates and fills 1 MiB blocks, keeping them all,
//!   until an allocation fails (the guest's allocator then aborts: a trap).
//! - `quota-bomb`: creates scratch buffers as large as the quota allows and
//!   appends 1 MiB chunks to them in turn until one is refused, then writes
//!   `held BYTES bytes in N buffers, then ERROR\n` to the output (`ERROR` in
//!   the WIT's spelling, such as `quota-exceeded(134217728)`) and returns
//!   `ok`.
//! - `read-all-at-once`: asks for the whole input in one call,
//!   `read(0, 4294967295)`, then writes `read N bytes, hash HASH\n` to the
//!   output (see [`word_hash`]).
//! - `recurse`: recurses without bound (no loop the optimiser could make of
//!   it), so the wasm stack overflows.
//! - `create-loop`: creates scratch buffers forever, dropping none.
//! - `print-flood MIB`: prints `MIB` MiB to stdout in 64 KiB writes, then
//!   writes `printed MIB MiB\n` to the output.

mod script;

// Built from `wit/` alone, without wit-bindgen's `async` feature, which
// the `processor` world does not need (`streams` is in its own world).
wit_bindgen::generate!({
    path: "../../../wit",
    world: "processor",
});

use std::mem::ManuallyDrop;

use bufbridge::buffers::buffers::BufferError;

struct Hostile;

impl Guest for Hostile {
    fn process(input: &Buffer, output: &Buffer, args: Vec<String>) -> Result<(), String> {
        let (command, rest) = match args.split_first() {
            Some((command, rest)) => (command.as_str(), rest),
            None => return Err("hostile: give a command".to_string()),
        };
        match command {
            "forge-handle" => {
                // SAFETY: deliberately wrong; the host is meant to trap us.
                let forged = ManuallyDrop::new(unsafe { Buffer::from_handle(12345) });
                let len = forged.len();
                Err(format!("forge-handle: the host answered len() = {len}"))
            }
            "use-after-drop" => {
                let scratch = Buffer::create(16).map_err(|e| format!("create: {e:?}"))?;
                let raw = scratch.handle();
                drop(scratch);
                // SAFETY: deliberately wrong; the host is meant to trap us.
                let stale = ManuallyDrop::new(unsafe { Buffer::from_handle(raw) });
                let len = stale.len();
                Err(format!("use-after-drop: the host answered len() = {len}"))
            }
            "drop-input" => {
                // SAFETY: deliberately wrong; drops a borrow the guest does not own.
                drop(unsafe { Buffer::from_handle(input.handle()) });
                let len = input.len();
                Err(format!("drop-input: the host answered len() = {len}"))
            }
            "write-then-err" => {
                output
                    .append(b"partial output")
                    .map_err(|e| format!("append: {e:?}"))?;
                Err("deliberate failure after writing".to_string())
            }
            "write-then-panic" => {
                output
                    .append(b"partial output")
                    .map_err(|e| format!("append: {e:?}"))?;
                panic!("deliberate panic after writing");
            }
            "print" => {
                println!("hostile-stdout-marker");
                eprintln!("hostile-stderr-marker");
                output
                    .append(b"printed\n")
                    .map_err(|e| format!("append: {e:?}"))
            }
            "args" => output
                .append(format!("{rest:?}").as_bytes())
                .map_err(|e| format!("append: {e:?}")),
            "env" => output
                .append(env().as_bytes())
                .map_err(|e| format!("append: {e:?}")),
            "alloc" => {
                let n: usize = rest
                    .first()
                    .and_then(|n| n.parse().ok())
                    .ok_or("alloc: give a size in bytes")?;
                let mut memory = vec![0u8; n];
                // Touch every page so the memory is really there.
                for byte in memory.iter_mut().step_by(4096) {
                    *byte = 1;
                }
                let touched = memory.iter().filter(|&&b| b == 1).count();
                output
                    .append(format!("allocated {n} ({touched} pages)\n").as_bytes())
                    .map_err(|e| format!("append: {e:?}"))
            }
            "script" => {
                let text = if rest.is_empty() {
                    read_all(input)?
                } else {
                    rest.join("\n").into_bytes()
                };
                script::run(input, output, &text)
            }
            "spin" => spin(),
            "sleep" => {
                let seconds: u64 = rest
                    .first()
                    .and_then(|n| n.parse().ok())
                    .ok_or("sleep: give a number of seconds")?;
                std::thread::sleep(std::time::Duration::from_secs(seconds));
                output
                    .append(format!("slept {seconds} s\n").as_bytes())
                    .map_err(|e| format!("append: {e:?}"))
            }
            "memory-bomb" => memory_bomb(),
            "quota-bomb" => {
                let report = quota_bomb()?;
                output
                    .append(report.as_bytes())
                    .map_err(|e| format!("append: {e:?}"))
            }
            "read-all-at-once" => {
                let bytes = input
                    .read(0, u32::MAX)
                    .map_err(|e| format!("read: {e:?}"))?;
                let report = format!(
                    "read {} bytes, hash {:016x}\n",
                    bytes.len(),
                    word_hash(&bytes)
                );
                output
                    .append(report.as_bytes())
                    .map_err(|e| format!("append: {e:?}"))
            }
            "recurse" => {
                let depth = recurse(0);
                Err(format!("recurse: came back from depth {depth}"))
            }
            "create-loop" => {
                let mut kept = Vec::new();
                loop {
                    let buffer = Buffer::create(0).map_err(|e| {
                        format!("create-loop: buffer {} refused: {e:?}", kept.len())
                    })?;
                    kept.push(buffer);
                }
            }
            "print-flood" => {
                let mib: usize = rest
                    .first()
                    .and_then(|n| n.parse().ok())
                    .ok_or("print-flood: give a size in MiB")?;
                print_flood(mib)?;
                output
                    .append(format!("printed {mib} MiB\n").as_bytes())
                    .map_err(|e| format!("append: {e:?}"))
            }
            other => Err(format!("hostile: unknown command `{other}`")),
        }
    }
}

export!(Hostile);

/// The whole of `buffer`, read in chunks.
fn read_all(buffer: &Buffer) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    loop {
        let chunk = buffer
            .read(bytes.len() as u64, 64 * 1024)
            .map_err(|e| format!("reading the script: {e:?}"))?;
        if chunk.is_empty() {
            return Ok(bytes);
        }
        bytes.extend_from_slice(&chunk);
    }
}

/// What the guest sees of the world, one `key: value` line each:
/// `args`, `vars`, `cwd`, `read_dir(/)`, `read_dir(.)`, `read(/etc/passwd)`,
/// `tcp-connect`. A value is `ok ...` or `err ...`.
fn env() -> String {
    fn show<T: std::fmt::Debug, E: std::fmt::Display>(r: Result<T, E>) -> String {
        match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => format!("err {e}"),
        }
    }
    let args: Vec<String> = std::env::args().collect();
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let list = |path: &str| {
        show(std::fs::read_dir(path).map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect::<Vec<_>>()
        }))
    };
    let passwd = show(std::fs::read("/etc/passwd").map(|b| b.len()));
    let tcp = show(std::net::TcpStream::connect("127.0.0.1:9").map(|_| "connected"));
    format!(
        "args: {args:?}\nvars: {vars:?}\ncwd: {}\nread_dir(/): {}\nread_dir(.): {}\n\
         read(/etc/passwd): {passwd}\ntcp-connect: {tcp}\n",
        show(std::env::current_dir()),
        list("/"),
        list("."),
    )
}

/// Loops forever; the counter keeps the loop from being optimised away.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates and fills 1 MiB blocks until the allocator gives up, which
/// aborts the guest (Rust's `handle_alloc_error`).
fn memory_bomb() -> Result<(), String> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        // A non-zero fill touches every page.
        blocks.push(vec![0xa5; 1 << 20]);
        std::hint::black_box(&blocks);
    }
}

/// Fills scratch buffers, 1 MiB at a time and in turn, until the host
/// refuses; says what it held and what the refusal was.
fn quota_bomb() -> Result<String, String> {
    const BUFFERS: usize = 4;
    // A limit above the quota is refused with the quota itself.
    let quota = match Buffer::create(u64::MAX) {
        Err(BufferError::QuotaExceeded(quota)) => quota,
        Err(e) => return Err(format!("quota-bomb: create(u64::MAX) gave {e:?}")),
        Ok(_) => return Err("quota-bomb: create(u64::MAX) was allowed".to_string()),
    };
    let mut buffers = Vec::new();
    for _ in 0..BUFFERS {
        buffers.push(Buffer::create(quota).map_err(|e| format!("quota-bomb: create: {e:?}"))?);
    }
    let chunk = vec![b'q'; 1 << 20];
    let mut held: u64 = 0;
    for i in 0.. {
        if let Err(e) = buffers[i % BUFFERS].append(&chunk) {
            return Ok(format!(
                "held {held} bytes in {BUFFERS} buffers, then {}\n",
                wit_error(e)
            ));
        }
        held += chunk.len() as u64;
    }
    unreachable!()
}

/// A buffer error as the WIT spells it.
fn wit_error(e: BufferError) -> String {
    match e {
        BufferError::OutOfBounds(n) => format!("out-of-bounds({n})"),
        BufferError::LimitExceeded(n) => format!("limit-exceeded({n})"),
        BufferError::ReadOnly => "read-only".to_string(),
        BufferError::QuotaExceeded(n) => format!("quota-exceeded({n})"),
    }
}

/// A 64-bit hash of `bytes` that an unoptimised test can compute quickly
/// too: each 8-byte little-endian word (the last one padded with zeros) is
/// mixed in with `h = (h ^ w) * 0x9e3779b97f4a7c15; h ^= h >> 29`, starting
/// from `0xcbf29ce484222325`; then the length is mixed in the same way.
fn word_hash(bytes: &[u8]) -> u64 {
    let mix = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    };
    let mut words = bytes.chunks_exact(8);
    let mut h = words.by_ref().fold(0xcbf2_9ce4_8422_2325, |h, w| {
        mix(h, u64::from_le_bytes(w.try_into().expect("8 bytes")))
    });
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        h = mix(h, u64::from_le_bytes(last));
    }
    mix(h, bytes.len() as u64)
}

/// Recurses until the stack runs out. The call is not in tail position and
/// `black_box` hides both the depth and the result, so the optimiser can
/// neither turn it into a loop nor see that it never ends.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    // Never true, but the compiler cannot know that.
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    let deeper = recurse(std::hint::black_box(depth + 1));
    std::hint::black_box(deeper).wrapping_add(depth)
}

/// Prints `mib` MiB to stdout, 64 KiB per write.
fn print_flood(mib: usize) -> Result<(), String> {
    use std::io::Write;
    let mut line = vec![b'x'; 64 * 1024];
    *line.last_mut().expect("not empty") = b'\n';
    let mut stdout = std::io::stdout().lock();
    for _ in 0..mib * 16 {
        stdout
            .write_all(&line)
            .map_err(|e| format!("print-flood: {e}"))?;
    }
    stdout.flush().map_err(|e| format!("print-flood: {e}"))
}
