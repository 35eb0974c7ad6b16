//! The one `bindgen!` of the host: Rust types and traits for the
//! `stream-processor` world of `wit/streams.wit`, which is `processor` plus
//! `streams`: everything a guest of either world may import. The traits are
//! implemented in `component.rs`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "stream-processor",
    // A buffer handle names a slot in the run's `Buffers` table; the marker
    // type keeps `Resource<Buffer>` from being confused with other resources.
    with: {
        "bufbridge:buffers/buffers.buffer": crate::component::BufferResource,
    },
    // Any import may trap: that is how a forged or dropped handle ends the run.
    // `read-stream` makes its stream in the store (`StreamReader::new`), so
    // it gets the store, not only the buffer view (`stream.rs`).
    imports: {
        default: trappable,
        "bufbridge:buffers/streams.read-stream": store | trappable,
    },
    // The functions that answer `buffer-error` return a `Failure` instead,
    // so `?` works in them; `convert_buffer_error` makes it the WIT error or
    // a trap.
    trappable_error_type: {
        "bufbridge:buffers/buffers.buffer-error" => crate::stop::Failure,
    },
    // `process` runs as a future, so a timeout can cancel it wherever it is.
    exports: { default: async },
});
