//! The core-module backend, through the raw imports of the core ABI.

use crate::{Api, Refused};

#[link(wasm_import_module = "bufbridge:buffers/raw@0.1.0")]
unsafe extern "C" {
    fn len(h: i32) -> i64;
    fn limit(h: i32) -> i64;
    fn read(h: i32, offset: i64, ptr: *mut u8, len: i32) -> i64;
    fn write(h: i32, offset: i64, ptr: *const u8, len: i32) -> i64;
    fn append(h: i32, ptr: *const u8, len: i32) -> i64;
    fn truncate(h: i32, len: i64) -> i64;
    fn copy_from(h: i32, src: i32, src_offset: i64, offset: i64, len: i64) -> i64;
    fn create(limit: i64) -> i64;
    #[link_name = "drop"]
    fn drop_buffer(h: i32) -> i64;
}

/// Negative results are error codes; the core ABI carries no figure.
fn check(result: i64) -> Result<u64, Refused> {
    if result < 0 {
        Err(Refused {
            code: result.unsigned_abs(),
            payload: None,
        })
    } else {
        Ok(result as u64)
    }
}

struct Raw;

// SAFETY (for every call below): the pointers and lengths passed describe
// live Rust slices, and the host only touches that range.
impl Api for Raw {
    type Buf = i32;
    fn create(&self, limit: u64) -> Result<i32, Refused> {
        check(unsafe { create(limit as i64) }).map(|h| h as i32)
    }
    fn len(&self, b: &i32) -> u64 {
        unsafe { len(*b) as u64 }
    }
    fn limit(&self, b: &i32) -> u64 {
        unsafe { limit(*b) as u64 }
    }
    fn read(&self, b: &i32, offset: u64, n: u32) -> Result<Vec<u8>, Refused> {
        // Only what can come back: a read past the end is clipped anyway.
        let room = (n as u64).min(unsafe { len(*b) as u64 }.saturating_sub(offset)) as usize;
        let mut buf = vec![0; room];
        let got = check(unsafe { read(*b, offset as i64, buf.as_mut_ptr(), room as i32) })?;
        buf.truncate(got as usize);
        Ok(buf)
    }
    fn write(&self, b: &i32, offset: u64, data: &[u8]) -> Result<(), Refused> {
        check(unsafe { write(*b, offset as i64, data.as_ptr(), data.len() as i32) }).map(drop)
    }
    fn append(&self, b: &i32, data: &[u8]) -> Result<(), Refused> {
        check(unsafe { append(*b, data.as_ptr(), data.len() as i32) }).map(drop)
    }
    fn truncate(&self, b: &i32, n: u64) -> Result<(), Refused> {
        check(unsafe { truncate(*b, n as i64) }).map(drop)
    }
    fn copy(
        &self,
        dst: &i32,
        src: &i32,
        src_offset: u64,
        offset: u64,
        n: u64,
    ) -> Result<u64, Refused> {
        check(unsafe { copy_from(*dst, *src, src_offset as i64, offset as i64, n as i64) })
    }
    fn drop(&self, b: i32) {
        unsafe { drop_buffer(b) };
    }
}

/// The core ABI's entry point.
#[unsafe(no_mangle)]
pub extern "C" fn process(input: i32, output: i32) -> i32 {
    let mut script = vec![0; unsafe { len(input) } as usize];
    unsafe { read(input, 0, script.as_mut_ptr(), script.len() as i32) };
    let records = crate::run(&Raw, &script, input, output);
    match check(unsafe { append(output, records.as_ptr(), records.len() as i32) }) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}
