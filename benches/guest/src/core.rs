//! The core-module backend, through the raw imports.

use crate::Api;

#[link(wasm_import_module = "bufbridge:buffers/raw@0.1.0")]
unsafe extern "C" {
    fn len(h: i32) -> i64;
    fn read(h: i32, offset: i64, ptr: *mut u8, len: i32) -> i64;
    fn write(h: i32, offset: i64, ptr: *const u8, len: i32) -> i64;
    fn append(h: i32, ptr: *const u8, len: i32) -> i64;
    fn args_size() -> i32;
    fn args_get(ptr: *mut u8) -> i32;
}

struct Raw {
    input: i32,
    output: i32,
}

// SAFETY (every call below): pointers and lengths describe live slices.
impl Api for Raw {
    fn input_len(&self) -> u64 {
        unsafe { len(self.input) as u64 }
    }
    fn read(&self, offset: u64, into: &mut Vec<u8>, n: usize) -> usize {
        into.resize(n, 0);
        let got = unsafe { read(self.input, offset as i64, into.as_mut_ptr(), n as i32) };
        assert!(got >= 0, "read");
        got as usize
    }
    fn write(&self, offset: u64, data: &[u8]) {
        let status = unsafe { write(self.output, offset as i64, data.as_ptr(), data.len() as i32) };
        assert_eq!(status, 0, "write");
    }
    fn emit(&self, data: &[u8]) {
        unsafe { append(self.output, data.as_ptr(), data.len() as i32) };
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn process(input: i32, output: i32) -> i32 {
    let mut raw = vec![0u8; unsafe { args_size() } as usize];
    unsafe { args_get(raw.as_mut_ptr()) };
    let text = String::from_utf8_lossy(&raw).into_owned();
    let args: Vec<&str> = text.split('\0').filter(|a| !a.is_empty()).collect();
    match crate::run(&Raw { input, output }, &args) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}
