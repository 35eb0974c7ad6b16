//! Builds a guest crate of this repository for a wasm target with a nested
//! cargo: the one way to do it. `host/build.rs` includes this file for the
//! default guest, and every test and bench that needs a guest includes it
//! with `#[path]`.

// Each user takes what it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root (the host package lives in `host/`).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
}

/// Whether the toolchain that builds us has the standard library for
/// `target`. A missing one is the user's to add (`rust-toolchain.toml` lists
/// the targets, but rustup skips them when the pinned toolchain was
/// installed before): the error is the one line that says how.
pub fn check_target(target: &str) -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(repo())
        .output()
        .map_err(|e| format!("could not run rustc to find its sysroot: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    match sysroot.join("lib/rustlib").join(target).is_dir() {
        true => Ok(()),
        false => Err(format!(
            "the Rust target {target} is not installed; run `rustup target add {target}` \
             and build again"
        )),
    }
}

/// Builds the workspace at `manifest` (relative to the repository) in
/// release mode for `target`, with `extra` cargo arguments, in `target_dir`;
/// returns the folder holding the `.wasm` files.
///
/// The build needs a target directory of its own (sharing the outer cargo's
/// would wait on the lock it holds) and none of the host's RUSTFLAGS, which
/// may name host-only options.
pub fn try_build(
    manifest: &str,
    target: &str,
    extra: &[&str],
    target_dir: &Path,
) -> Result<PathBuf, String> {
    check_target(target)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--locked", "--target", target])
        .args(extra)
        .arg("--manifest-path")
        .arg(repo().join(manifest))
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .map_err(|e| format!("could not run cargo to build {manifest}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building {manifest} for {target} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(target).join("release"))
}

/// [`try_build`] for tests and benches, in `target_root/wasm-guests/NAME`
/// (NAME the manifest's folder); panics with the reason on failure.
pub fn build(manifest: &str, target: &str, extra: &[&str], target_root: &Path) -> PathBuf {
    let name = Path::new(manifest)
        .parent()
        .and_then(Path::file_name)
        .expect("a manifest in a folder");
    let target_dir = target_root.join("wasm-guests").join(name);
    try_build(manifest, target, extra, &target_dir).unwrap_or_else(|e| panic!("{e}"))
}

/// The default guest (`guest/`) built with its cargo feature `read-stream`
/// (its sequential commands read through `Input::stream`), in
/// `target_root/read-stream/`, apart from any build without it; returns the
/// path of the `.wasm`.
pub fn default_guest_read_stream(target_root: &Path) -> PathBuf {
    let root = target_root.join("read-stream");
    let dir = build(
        "guest/Cargo.toml",
        "wasm32-wasip2",
        &["--features", "read-stream"],
        &root,
    );
    dir.join("bufbridge_default_guest.wasm")
}
