//! bufbridge: move bytes between a Wasmtime host and WebAssembly guests
//! through host-owned buffers.
//!
//! A guest implements the `processor` world of `wit/buffers.wit`: the host
//! hands it a read-only input buffer and an empty output buffer, and keeps
//! whatever the output holds when `process` returns `ok`.
//!
//! ```no_run
//! use bufbridge::{Host, Limits, DEFAULT_GUEST};
//!
//! let host = Host::new()?;
//! let guest = host.load(DEFAULT_GUEST)?;
//! let output = host.run(&guest, b"hello".to_vec(), &["upper".into()], &Limits::default())?;
//! assert_eq!(output, b"HELLO");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map, each using only those below it: [`run`] (engine, linker, one
//! run) → `component` (the generated traits on a split view of the store,
//! from the one `bindgen!` in `bindings`) → `state` (the store's data) →
//! [`buffers`] (the handle table) → [`storage`] (the bytes) → [`rules`]
//! (bounds, limits, quota, read-only).

mod bindings;
pub mod buffers;
pub mod cache;
mod component;
mod core_abi;
pub mod destination;
pub mod error;
pub mod rules;
pub mod run;
mod state;
pub mod storage;
pub mod units;

pub use cache::Cache;
pub use error::{Limit, LoadError, RunError};
pub use run::{Guest, Host, HostOptions, Input, Limits, Output, Produced};

/// The default guest (`guest/`), built for wasm32-wasip2 by the build script:
/// `copy`, `upper`, `lower`, `reverse`, `count` and `selftest`.
pub const DEFAULT_GUEST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default-guest.wasm"));
