//! Builds a guest crate of this repository for a wasm target, from a test or
//! a benchmark. Included with `#[path]` by every test and bench that needs a
//! guest, so there is one way to do it.

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

/// Builds the workspace at `manifest` (relative to the repository) in
/// release mode for `target`, with `extra` cargo arguments, and returns the
/// folder holding the `.wasm` files.
///
/// The build gets its own target directory under `target_root` (sharing the
/// main one would wait on the lock that the running `cargo test` holds) and
/// none of the host's RUSTFLAGS, which may name host-only options.
pub fn build(manifest: &str, target: &str, extra: &[&str], target_root: &Path) -> PathBuf {
    let name = Path::new(manifest)
        .parent()
        .and_then(Path::file_name)
        .expect("a manifest in a folder");
    let target_dir = target_root.join("wasm-guests").join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--locked", "--target", target])
        .args(extra)
        .arg("--manifest-path")
        .arg(repo().join(manifest))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .expect("run cargo to build a guest");
    assert!(
        out.status.success(),
        "building {manifest} for {target} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir.join(target).join("release")
}
