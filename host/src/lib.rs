//! bufbridge: move bytes between a Wasmtime host and WebAssembly guests
//! through host-owned buffers.
//!
//! A guest implements the `processor` world of `wit/buffers.wit`: the host
//! hands it a read-only input buffer and an empty output buffer, and keeps
//! whatever the output holds when `process` returns `ok`.
//!
//! ```
//! use bufbridge::{Host, Limits, DEFAULT_GUEST};
//!
//! let host = Host::new()?;
//! let guest = host.load(DEFAULT_GUEST)?;
//! let output = host.run(&guest, b"hello".to_vec(), &["upper".into()], &Limits::default())?;
//! assert_eq!(output, b"HELLO");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Files and file-backed buffers: [`Host::run_with`] with [`Input::File`]
//! and [`Output::File`] keeps the host's memory flat whatever their size.
//! Async services await [`Host::run_async`] (and its `_with`/`_watched`
//! forms) from any tokio runtime; [`Host`] says which to call where.
//! Limits ([`Limits`]) bound what a guest may take; a failed run says why
//! ([`RunError`]). `examples/embed.rs` is a whole embedding in a few dozen
//! lines.
//!
//! Module map, each using only those below it: [`run`] (the engine, the
//! linkers, loading, limits, one run) → [`inspect`] (why a guest does not
//! fit, and `Host::inspect`) → `component` (the generated traits, from the
//! one `bindgen!` in `bindings`; `stream`, the producer of `read-stream`) and [`core_abi`] (the core ABI's table and
//! raw imports) → `view` (the buffer table as a guest calls it, counted for
//! `--stats`) → `state` (the store's data) → `buffers` (the handle table) →
//! `stop` (why an operation stops a run) and `handle` → `storage` (the
//! bytes, in memory or in a file) → `rules` (bounds, limits, quota,
//! read-only). Beside them, below whatever uses them: [`error`], `report`
//! (the words of a verdict) and `wit` (the WIT the host links). [`cache`]
//! keeps compiled guests on disk; [`destination`] writes output files
//! atomically.

mod bindings;
mod buffers;
pub mod cache;
mod component;
pub mod core_abi;
pub mod destination;
pub mod error;
mod handle;
pub mod inspect;
#[cfg(test)]
mod mutations;
mod report;
mod rules;
pub mod run;
pub mod scaffold;
mod state;
pub mod stats;
mod stop;
mod storage;
mod stream;
pub mod units;
mod view;
mod wit;
#[cfg(test)]
mod wit_drift;

pub use cache::Cache;
pub use error::{Limit, LoadError, RunError};
pub use run::{Guest, Host, HostOptions, Input, Limits, Output, Produced, Watch};
pub use stats::{Progress, Stats};
pub use stop::HostIo;

/// The default guest (`guest/`), built for wasm32-wasip2 by the build script:
/// the commands of `guest/src/commands.rs`.
pub const DEFAULT_GUEST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default-guest.wasm"));
