//! The integration tests: one binary, one module an area, so the host and
//! wasmtime are linked and the test guests built once for all of them. A new
//! area is a file beside these and a `mod` line here.
//!
//! Run one area with its module path: `cargo test --test all cli::`.
//! Tests that time things or measure memory take `common::serial()`, the
//! binary's one lock, so they never run beside each other. Nothing here
//! changes the process's environment, working directory, signals or limits:
//! tests share one process. The one process-wide setting is `measure`'s: it
//! makes this process a child subreaper, so an orphaned grandchild of any
//! test waits as a zombie until the binary exits.

mod common;
// What the areas of the toolchain example guests (`js_guest`,
// `python_guest`) share: their text, models, build and checks.
#[cfg(target_os = "linux")]
#[path = "../support/measure.rs"]
mod measure;
mod toolchain_guests;

mod batch;
mod cli;
mod cli_safety;
mod conformance;
mod contract;
mod core_abi;
mod datapath;
mod drift;
mod embedding;
mod embedding_async;
mod host_limits;
mod inspect;
mod js_guest;
mod limits;
mod python_guest;
mod sandbox;
mod scale;
mod sdk;
mod serve;
mod streams;
mod tooling;
