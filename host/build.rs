//! Builds the default guest (`guest/`) for wasm32-wasip2 and leaves it in
//! `OUT_DIR` for `include_bytes!`; lists the WIT the host links (`wit/`, and
//! the WASI p2 WIT of wasmtime-wasi vendored in `host/wasi-wit/`) in
//! `OUT_DIR/wit_sources.rs` for the host's WIT (`src/wit.rs`).
//!
//! It needs no network and changes nothing outside `OUT_DIR`: a missing
//! wasm target stops the build with the command that adds it.

use std::env;
use std::path::{Path, PathBuf};

#[path = "../tests/support/wasm_build.rs"]
mod wasm_build;

/// The target of the default guest. The core-module test guests'
/// `wasm32-unknown-unknown` is the tests' own business.
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let guest_dir = manifest_dir.join("../guest");
    for watched in [
        manifest_dir.join("../wit"),
        manifest_dir.join("wasi-wit"),
        guest_dir.join("Cargo.toml"),
        guest_dir.join("Cargo.lock"),
        guest_dir.join("src"),
        manifest_dir.join("../sdk/Cargo.toml"),
        manifest_dir.join("../sdk/src"),
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }

    write_wit_sources(&manifest_dir, &out_dir);
    // For tests/all/drift.rs, which asks cargo about this platform's packages.
    println!(
        "cargo:rustc-env=BUFBRIDGE_HOST_TARGET={}",
        env::var("TARGET").unwrap()
    );

    let built = wasm_build::try_build(
        "guest/Cargo.toml",
        TARGET,
        &[],
        &out_dir.join("guest-target"),
    );
    let dir = match built {
        Ok(dir) => dir,
        Err(e) => {
            // One line the user can act on, not a build-script panic.
            println!("cargo::error={}", e.replace('\n', "\ncargo::error="));
            return;
        }
    };
    let wasm = dir.join("bufbridge_default_guest.wasm");
    let dest = out_dir.join("default-guest.wasm");
    std::fs::copy(&wasm, &dest)
        .unwrap_or_else(|e| panic!("copying {} failed: {e}", wasm.display()));
}

/// Writes `wit_sources.rs`: `(name, include_str!(path))` pairs for every
/// file of `wit/` and of the vendored WASI p2 WIT, exactly what the linker
/// provides (`tests/all/drift.rs` holds the copy equal to wasmtime-wasi's), so
/// `inspect` can name what a guest expected and what it found.
fn write_wit_sources(manifest_dir: &Path, out_dir: &Path) {
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
    let wasi = manifest_dir.join("wasi-wit");
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
