//! The component backend, through the WIT bindings.

use std::mem::ManuallyDrop;

// The `processor` world; with the stream ops, `stream-processor`
// (`processor` plus `streams`).
#[cfg(not(feature = "streams"))]
wit_bindgen::generate!({ path: "../../../wit", world: "processor" });
#[cfg(feature = "streams")]
wit_bindgen::generate!({ path: "../../../wit", world: "stream-processor" });

use bufbridge::buffers::buffers::BufferError;

use crate::{Api, Refused};

/// Slots hold handles without owning them: the input and output are only
/// borrowed, and created buffers are dropped by the `drop` op alone.
type Buf = ManuallyDrop<Buffer>;

impl From<BufferError> for Refused {
    fn from(e: BufferError) -> Self {
        let (code, payload) = match e {
            BufferError::OutOfBounds(n) => (1, Some(n)),
            BufferError::LimitExceeded(n) => (2, Some(n)),
            BufferError::ReadOnly => (3, None),
            BufferError::QuotaExceeded(n) => (4, Some(n)),
        };
        Refused { code, payload }
    }
}

struct Wit;

impl Api for Wit {
    type Buf = Buf;
    fn create(&self, limit: u64) -> Result<Buf, Refused> {
        Ok(ManuallyDrop::new(Buffer::create(limit)?))
    }
    fn len(&self, b: &Buf) -> u64 {
        b.len()
    }
    fn limit(&self, b: &Buf) -> u64 {
        b.limit()
    }
    fn read(&self, b: &Buf, offset: u64, len: u32) -> Result<Vec<u8>, Refused> {
        Ok(b.read(offset, len)?)
    }
    fn write(&self, b: &Buf, offset: u64, data: &[u8]) -> Result<(), Refused> {
        Ok(b.write(offset, data)?)
    }
    fn append(&self, b: &Buf, data: &[u8]) -> Result<(), Refused> {
        Ok(b.append(data)?)
    }
    fn truncate(&self, b: &Buf, len: u64) -> Result<(), Refused> {
        Ok(b.truncate(len)?)
    }
    fn copy(
        &self,
        dst: &Buf,
        src: &Buf,
        src_offset: u64,
        offset: u64,
        len: u64,
    ) -> Result<u64, Refused> {
        Ok(dst.copy_from(src, src_offset, offset, len)?)
    }
    fn drop(&self, b: Buf) {
        drop(ManuallyDrop::into_inner(b));
    }
    #[cfg(feature = "streams")]
    type Stream = wit_bindgen::StreamReader<u8>;
    #[cfg(feature = "streams")]
    fn open_stream(&self, b: &Buf, offset: u64) -> Result<Self::Stream, Refused> {
        Ok(bufbridge::buffers::streams::read_stream(b, offset)?)
    }
    #[cfg(feature = "streams")]
    fn read_stream(&self, s: &mut Self::Stream, capacity: u64) -> Option<Vec<u8>> {
        // A synchronous `process` may block on a read only because the
        // host answers every read at once.
        let (result, bytes) = wit_bindgen::block_on(s.read(Vec::with_capacity(capacity as usize)));
        match result {
            wit_bindgen::StreamResult::Complete(_) => Some(bytes),
            wit_bindgen::StreamResult::Dropped => None,
            wit_bindgen::StreamResult::Cancelled => panic!("a read was cancelled"),
        }
    }
}

struct Conformance;

impl Guest for Conformance {
    fn process(input: &Buffer, output: &Buffer, _args: Vec<String>) -> Result<(), String> {
        let script = read_all(input);
        // SAFETY: the handles stay valid for the whole call (they are the
        // borrows `process` was given) and ManuallyDrop never drops them.
        let (i, o) = unsafe {
            (
                Buffer::from_handle(input.handle()),
                Buffer::from_handle(output.handle()),
            )
        };
        let records = crate::run(&Wit, &script, ManuallyDrop::new(i), ManuallyDrop::new(o));
        output
            .append(&records)
            .map_err(|e| format!("appending the records: {e:?}"))
    }
}

fn read_all(b: &Buffer) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let chunk = b
            .read(all.len() as u64, 1 << 16)
            .expect("reading the script");
        if chunk.is_empty() {
            return all;
        }
        all.extend_from_slice(&chunk);
    }
}

export!(Conformance);
