//! What a panic in a guest looks like to the person running it.
//!
//! `wasm32-wasip2` builds abort on panic: the component traps, and no code
//! of the guest runs after the panic, so `process` cannot return the
//! message as `err(...)` (that needs unwinding, which wasm targets only have
//! with exception handling, off in stable Rust's standard library and in the
//! host). What the SDK does instead: [`hook`] writes one line,
//! `guest panicked at src/lib.rs:7:5: the message`, to the guest's stderr,
//! which `bufbridge` forwards to its own stderr just before it reports the
//! trap (exit code 3).
//!
//! Prefer returning an error: `Err(...)` reaches the host as the run's
//! message, with exit code 1.

use std::panic::PanicHookInfo;
use std::sync::Once;

/// The panic hook [`export!`](crate::export) installs: one line on stderr
/// with the message and where the panic happened.
///
/// ```
/// // To install it outside `export!` (in a test, say):
/// std::panic::set_hook(Box::new(bufbridge_guest::panic::hook));
/// ```
pub fn hook(info: &PanicHookInfo<'_>) {
    eprintln!("{}", message(info));
}

/// `guest panicked at FILE:LINE:COLUMN: MESSAGE`, the line [`hook`] prints.
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
