//! Benchmark loops over the buffer interface, built twice: as a component on
//! wasm32-wasip2 (`component.rs`) and as a core module on
//! wasm32-unknown-unknown (`core.rs`), so both paths run the same loop.
//!
//! Arguments: `OP SIZE COUNT`, where OP is
//! - `len`: `len()` of the input, COUNT times;
//! - `read`: `read(0, SIZE)` of the input, COUNT times;
//! - `write`: `write(0, SIZE bytes)` to the output, COUNT times;
//! - `sum`: reads the whole input in SIZE chunks (COUNT is ignored) and
//!   writes a checksum to the output: the sum of each chunk's length and
//!   last byte, cheap beside the reading it measures.

mod checksum;
#[cfg(target_os = "wasi")]
mod component;
#[cfg(not(target_os = "wasi"))]
mod core;

/// What the loops need of a path. Reads land in `into`, which the core path
/// fills in place and the component path replaces with the bytes it got.
pub trait Api {
    fn input_len(&self) -> u64;
    fn read(&self, offset: u64, into: &mut Vec<u8>, len: usize) -> usize;
    fn write(&self, offset: u64, data: &[u8]);
    fn emit(&self, data: &[u8]);
}

pub fn run(api: &impl Api, args: &[&str]) -> Result<(), String> {
    let [op, size, count] = args else {
        return Err(format!("usage: OP SIZE COUNT, got {args:?}"));
    };
    let size: usize = size.parse().map_err(|_| "SIZE must be a number")?;
    let count: u64 = count.parse().map_err(|_| "COUNT must be a number")?;
    let mut chunk = vec![0u8; size];
    match *op {
        "len" => {
            let mut total = 0u64;
            for _ in 0..count {
                total = total.wrapping_add(std::hint::black_box(api.input_len()));
            }
            api.emit(&total.to_le_bytes());
        }
        "read" => {
            let mut total = 0usize;
            for _ in 0..count {
                total += api.read(0, &mut chunk, size);
            }
            api.emit(&(total as u64).to_le_bytes());
        }
        "write" => {
            for _ in 0..count {
                api.write(0, std::hint::black_box(&chunk));
            }
        }
        "sum" => {
            let (mut offset, mut sum) = (0u64, 0u64);
            loop {
                let n = api.read(offset, &mut chunk, size);
                if n == 0 {
                    break;
                }
                sum = checksum::checksum(sum, &chunk[..n]);
                offset += n as u64;
            }
            api.emit(&sum.to_le_bytes());
        }
        other => return Err(format!("unknown op {other}")),
    }
    Ok(())
}
