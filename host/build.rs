//! Builds the default guest (`guest/`) for wasm32-wasip2 and leaves it in
//! `OUT_DIR` for `include_bytes!`.
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
