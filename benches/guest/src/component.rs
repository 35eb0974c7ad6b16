//! The component backend, on the guest SDK (`sdk/`). Besides the shared
//! loops it has the SDK's own comparison (`benches/buffers.rs`, section 6):
//! - `raw-copy`: the input to the output with the raw chunk loop (`read` 64
//!   KiB, `append` it), as a guest without the SDK writes it;
//! - `io-copy`: the same with `std::io::copy` through the SDK's adapters;
//! - `io-copy-reads`, `io-copy-writes`: the raw loop with one half of
//!   `io::copy`'s way: reads through `Input` into an 8 KiB buffer (each byte
//!   copied once in the guest), or writes of 8 KiB through `Output` (eight
//!   host calls where the loop makes one).
//! - `whole`: the whole input in one `read` into fresh guest memory (section 8).

use std::io::{Read, Write};

use bufbridge_guest::{Buffer, Input, Output};

use crate::Api;

struct Wit<'a> {
    input: &'a Buffer,
    output: &'a Buffer,
}

impl Api for Wit<'_> {
    fn input_len(&self) -> u64 {
        self.input.len()
    }
    fn read(&self, offset: u64, into: &mut Vec<u8>, len: usize) -> usize {
        *into = self.input.read(offset, len as u32).expect("read");
        into.len()
    }
    fn write(&self, offset: u64, data: &[u8]) {
        self.output.write(offset, data).expect("write");
    }
    fn emit(&self, data: &[u8]) {
        self.output.append(data).expect("emit");
    }
}

bufbridge_guest::export!(process);

/// The size of the buffer `std::io::copy` moves bytes through.
const IO_COPY_BUFFER: usize = 8 * 1024;

fn process(input: &mut Input, output: &mut Output, args: Vec<String>) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("raw-copy") => {
            let (input, output) = (input.buffer(), output.buffer());
            let mut offset = 0;
            loop {
                let chunk = input.read(offset, 64 * 1024).map_err(|e| e.to_string())?;
                if chunk.is_empty() {
                    return Ok(());
                }
                offset += chunk.len() as u64;
                output.append(&chunk).map_err(|e| e.to_string())?;
            }
        }
        Some("io-copy-reads") => {
            let mut chunk = vec![0; 64 * 1024];
            loop {
                let mut filled = 0;
                while filled < chunk.len() {
                    let end = (filled + IO_COPY_BUFFER).min(chunk.len());
                    match input
                        .read(&mut chunk[filled..end])
                        .map_err(|e| e.to_string())?
                    {
                        0 => break,
                        n => filled += n,
                    }
                }
                if filled == 0 {
                    return Ok(());
                }
                let output = output.buffer();
                output.append(&chunk[..filled]).map_err(|e| e.to_string())?;
            }
        }
        Some("io-copy-writes") => {
            let mut offset = 0;
            loop {
                let chunk = input.buffer().read(offset, 64 * 1024);
                let chunk = chunk.map_err(|e| e.to_string())?;
                if chunk.is_empty() {
                    return output.flush().map_err(|e| e.to_string());
                }
                offset += chunk.len() as u64;
                for piece in chunk.chunks(IO_COPY_BUFFER) {
                    output.write_all(piece).map_err(|e| e.to_string())?;
                }
            }
        }
        Some("whole") => {
            let input = input.buffer();
            let all = input
                .read(0, input.len() as u32)
                .map_err(|e| e.to_string())?;
            let sum = crate::checksum::checksum(0, &all);
            output
                .buffer()
                .append(&sum.to_le_bytes())
                .map_err(|e| e.to_string())
        }
        Some("io-copy") => {
            std::io::copy(input, output).map_err(|e| e.to_string())?;
            output.flush().map_err(|e| e.to_string())
        }
        _ => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let wit = Wit {
                input: input.buffer(),
                output: output.buffer(),
            };
            crate::run(&wit, &args)
        }
    }
}
