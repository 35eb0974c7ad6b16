//! The checksum both readers compute, so they do the same work (shared by
//! the library and the `wasi-read` binary, which must not link the library:
//! it would import the buffer interface).

/// Folds a chunk into the checksum: its length and its last byte.
pub fn checksum(sum: u64, chunk: &[u8]) -> u64 {
    let last = chunk.last().copied().unwrap_or(0);
    sum.wrapping_add(chunk.len() as u64)
        .wrapping_add(u64::from(last))
}
