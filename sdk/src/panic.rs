//! What a panic in a guest looks like to the person running it.
//!
//! `wasm32-wasip2` builds abort on panic: no code of the guest runs after
//! the panic, so `process` cannot return the message as `err(...)` (that
//! needs unwinding, which wasm targets only have with exception handling,
//! off in stable Rust's standard library and in the host). Instead [`hook`]
//! hands the message, with where the panic happened, to the host's
//! `abort.abort` (`wit/abort.wit`), which ends the run there as failed:
//! `bufbridge run` prints `bufbridge: guest failed: guest panicked at
//! src/lib.rs:7:5: the message` and exits with code 1, as for an `Err`.
//!
//! Returning an error is still the better way: `?` says which operation
//! failed, and an error is an answer the guest chose rather than a bug.

use std::panic::PanicHookInfo;
use std::sync::Once;

use crate::bindings::bufbridge::buffers::abort::abort;

/// The panic hook [`export!`](crate::export) installs: ends the run with
/// the message and where the panic happened ([`message`]).
///
/// ```no_run
/// // To install it outside `export!`:
/// std::panic::set_hook(Box::new(bufbridge_guest::panic::hook));
/// ```
pub fn hook(info: &PanicHookInfo<'_>) {
    let message = message(info);
    // bufbridge's host never returns from `abort`. Should another host of
    // the WIT return, the message goes to stderr, and the panic then aborts
    // as it would have.
    abort(&message);
    eprintln!("{message}");
}

/// `guest panicked at FILE:LINE:COLUMN: MESSAGE`, the run's error after a
/// panic.
///
/// ```
/// std::panic::set_hook(Box::new(|info| {
///     let line = bufbridge_guest::panic::message(info);
///     assert!(line.starts_with("guest panicked at "));
/// }));
/// ```
pub fn message(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    match info.location() {
        Some(at) => format!("guest panicked at {at}: {text}"),
        None => format!("guest panicked: {text}"),
    }
}

/// Installs [`hook`] once.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(hook)));
}
