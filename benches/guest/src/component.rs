//! The component backend, on the guest SDK (`sdk/`). Besides the shared
//! loops it has the SDK's own comparison (`benches/buffers.rs`, section 6):
//! - `raw-copy`: the input to the output with the raw chunk loop (`read` 64
//!   KiB, `append` it), as a guest without the SDK writes it;
//! - `io-copy`: the same with `std::io::copy` through the SDK's adapters;
//! - `whole`: the whole input in one `read` into fresh guest memory (section 8).

use std::io::Write;

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
