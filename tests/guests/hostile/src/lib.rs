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

mod script;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "processor",
});

use std::mem::ManuallyDrop;

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
