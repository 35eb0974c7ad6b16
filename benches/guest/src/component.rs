//! The component backend.

wit_bindgen::generate!({ path: "../../wit", world: "processor" });

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

struct Bench;

impl Guest for Bench {
    fn process(input: &Buffer, output: &Buffer, args: Vec<String>) -> Result<(), String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::run(&Wit { input, output }, &args)
    }
}

export!(Bench);
