//! Builds the default guest (`guest/`) for wasm32-wasip2 and leaves it in
//! `OUT_DIR` for `include_bytes!`; lists the WIT the host links (`wit/` and
//! the WASI p2 WIT of wasmtime-wasi) in `OUT_DIR/wit_sources.rs` for
//! `bufbridge inspect` (`src/inspect.rs`).
//!
//! The nested cargo gets its own target directory (sharing ours would
//! deadlock on cargo's build lock) and none of the host's RUSTFLAGS, which
//! may name host-only options.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Every target `rust-toolchain.toml` lists: the default guest needs the
/// first, the core-module tests the second.
const TARGETS: [&str; 2] = [TARGET, "wasm32-unknown-unknown"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let guest_dir = manifest_dir.join("../guest");
    let wit_dir = manifest_dir.join("../wit");
    println!("cargo:rerun-if-changed={}", wit_dir.display());
    println!(
        "cargo:rerun-if-changed={}",
        guest_dir.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", guest_dir.join("src").display());

    ensure_targets_installed();
    write_wit_sources(&manifest_dir, &out_dir);

    let target_dir = out_dir.join("guest-target");
    let status = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--manifest-path",
        ])
        .arg(guest_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("could not run cargo to build the default guest");
    assert!(
        status.success(),
        "building the default guest (guest/) failed"
    );

    let wasm = target_dir.join(TARGET).join("release/bufbridge_guest.wasm");
    let dest = out_dir.join("default-guest.wasm");
    std::fs::copy(&wasm, &dest)
        .unwrap_or_else(|e| panic!("copying {} failed: {e}", wasm.display()));
}

/// Writes `wit_sources.rs`: `(name, include_str!(path))` pairs for every
/// file of `wit/` and of the WASI p2 WIT that wasmtime-wasi's `bindgen!`
/// reads (`src/p2/wit` of the wasmtime-wasi in Cargo.lock, found with
/// `cargo metadata`): exactly the interfaces and types the host's linker
/// provides, so `inspect` can name what a guest expected and what it found.
fn write_wit_sources(manifest_dir: &Path, out_dir: &Path) {
    let workspace = manifest_dir.join("..");
    // A new wasmtime-wasi comes with new WIT: find it again.
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    let out = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        // Only this platform's packages: the others may not be downloaded.
        .arg("--filter-platform")
        .arg(env::var("TARGET").unwrap())
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        // Nothing of the build script's environment: its profile, flags,
        // wrappers and jobserver (CARGO_MAKEFLAGS) confuse a nested cargo's
        // probe of rustc. Only what finds the toolchain and the registry,
        // and a target directory of its own (cargo caches what it learns of
        // rustc there, and ours is the outer cargo's).
        .env_clear()
        .envs(
            [
                "PATH",
                "HOME",
                "CARGO_HOME",
                "RUSTUP_HOME",
                "RUSTUP_TOOLCHAIN",
            ]
            .into_iter()
            .filter_map(|name| env::var_os(name).map(|value| (name, value))),
        )
        .env("CARGO_TARGET_DIR", out_dir.join("metadata-target"))
        // Cargo probes rustc with a program on stdin; give it none of ours.
        .stdin(std::process::Stdio::null())
        .output()
        .expect("could not run `cargo metadata` to find wasmtime-wasi's WIT");
    assert!(
        out.status.success(),
        "`cargo metadata` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("`cargo metadata` printed JSON");
    let wasi = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "wasmtime-wasi")
        .and_then(|package| package["manifest_path"].as_str())
        .map(|manifest| Path::new(manifest).with_file_name("src/p2/wit"))
        .expect("wasmtime-wasi is in `cargo metadata`");

    let list = |dir: &Path| -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wit"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                format!(
                    "    ({name:?}, include_str!({:?})),\n",
                    path.display().to_string()
                )
            })
            .collect()
    };
    let sources = format!(
        "/// `wit/`: the package of the `processor` world.\n\
         pub(crate) const BUFBRIDGE_WIT: &[(&str, &str)] = &[\n{}];\n\
         /// wasmtime-wasi's WASI p2 WIT: its own root package (`wasmtime:wasi`)...\n\
         pub(crate) const WASI_WIT_ROOT: &[(&str, &str)] = &[\n{}];\n\
         /// ...and the WASI packages, one a file.\n\
         pub(crate) const WASI_WIT_DEPS: &[(&str, &str)] = &[\n{}];\n",
        list(&manifest_dir.join("../wit")),
        list(&wasi),
        list(&wasi.join("deps")),
    );
    std::fs::write(out_dir.join("wit_sources.rs"), sources).expect("writing wit_sources.rs");
}

/// A pinned toolchain that rustup already had (say, as an alias of `stable`)
/// does not get the targets `rust-toolchain.toml` lists; add them here so
/// that `cargo build` and `cargo test` alone work on a fresh machine.
fn ensure_targets_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let missing: Vec<&str> = TARGETS
        .into_iter()
        .filter(|target| {
            !sysroot
                .as_deref()
                .is_some_and(|root| has_target(root, target))
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let list = missing.join(" ");
    println!(
        "cargo:warning=installing the {list} target(s) with rustup (needed to build the guests)"
    );
    let mut rustup = Command::new("rustup");
    rustup.arg("target").arg("add").args(&missing);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    let ok = rustup.status().is_ok_and(|s| s.success());
    assert!(
        ok,
        "the {list} target(s) are missing and `rustup target add {list}` failed; install them and build again"
    );
}

fn has_target(sysroot: &Path, target: &str) -> bool {
    sysroot.join("lib/rustlib").join(target).is_dir()
}
