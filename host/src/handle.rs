//! A buffer as the guest names it: an index into the run's table and a
//! generation, so that a dropped handle does not name the next buffer.

/// A buffer as the guest names it. Handles are non-negative `i32`s so the core
/// ABI can return them where negative numbers are error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handle(u32);

/// Index bits of a handle; the bits above count how often the slot was reused,
/// so a dropped handle does not silently name the next buffer in its slot.
pub(crate) const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
pub(crate) const GENERATION_MASK: u32 = (1 << (31 - INDEX_BITS)) - 1;

/// The most buffers alive at once that handles can name.
pub const MAX_LIVE_BUFFERS: usize = 1 << INDEX_BITS;

impl Handle {
    /// The handle as the guest sees it.
    pub fn to_raw(self) -> u32 {
        self.0
    }

    /// A handle the guest gave back; checked on use.
    pub fn from_raw(raw: u32) -> Self {
        Handle(raw)
    }

    pub(crate) fn new(index: usize, generation: u32) -> Self {
        Handle((generation << INDEX_BITS) | index as u32)
    }

    pub(crate) fn index(self) -> usize {
        (self.0 & INDEX_MASK) as usize
    }

    pub(crate) fn generation(self) -> u32 {
        self.0 >> INDEX_BITS
    }
}
