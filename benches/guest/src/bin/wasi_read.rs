//! The standard alternative to bufbridge buffers: a WASI command that reads a
//! preopened file with `std::fs` in 64 KiB chunks and prints the checksum of
//! the `sum` op (the same work).

use std::io::Read;

#[path = "../checksum.rs"]
mod checksum;

fn main() {
    let path = std::env::args().nth(1).expect("usage: wasi-read FILE");
    let mut file = std::fs::File::open(path).expect("open");
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sum = 0u64;
    loop {
        let n = file.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        sum = checksum::checksum(sum, &chunk[..n]);
    }
    println!("{sum}");
}
