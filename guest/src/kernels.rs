//! The inner loops of `count`, `upper` and `lower`, 16 bytes at a time with
//! wasm `simd128` (which wasmtime enables by default), and byte by byte for
//! the tail and on other targets. A byte at a time they ran at 0.4 GB/s;
//! these run several times faster than the host calls that feed them.

/// ASCII white space as `count` (and `wc`) splits words: space, `\t`,
/// `\n`, `\v`, `\f`, `\r`.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Lines and words seen so far, and whether the last byte was in a word
/// (a word can span two chunks).
#[derive(Debug, Default)]
pub struct Tally {
    pub lines: u64,
    pub words: u64,
    in_word: bool,
}

impl Tally {
    /// Counts the newlines and the starts of words in `bytes`.
    pub fn add(&mut self, bytes: &[u8]) {
        #[cfg(target_arch = "wasm32")]
        let bytes = simd::tally(self, bytes);
        for &byte in bytes {
            let space = is_space(byte);
            self.lines += u64::from(byte == b'\n');
            self.words += u64::from(!space && !self.in_word);
            self.in_word = !space;
        }
    }
}

/// ASCII `a`–`z` to `A`–`Z`, in place.
pub fn upper(bytes: &mut [u8]) {
    #[cfg(target_arch = "wasm32")]
    let bytes = simd::flip_case(bytes, b'a');
    bytes.make_ascii_uppercase();
}

/// ASCII `A`–`Z` to `a`–`z`, in place.
pub fn lower(bytes: &mut [u8]) {
    #[cfg(target_arch = "wasm32")]
    let bytes = simd::flip_case(bytes, b'A');
    bytes.make_ascii_lowercase();
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::*;

    use super::Tally;

    /// `a <= limit` per unsigned lane: `min(a, limit) == a`, two
    /// instructions on x86 where an unsigned compare takes more.
    #[target_feature(enable = "simd128")]
    fn at_most(a: v128, limit: u8) -> v128 {
        u8x16_eq(u8x16_min(a, u8x16_splat(limit)), a)
    }

    /// Flips bit 5 of the 26 letters from `first` (`a` or `A`) in each
    /// whole 16-byte block of `bytes`; returns the tail left to do.
    #[target_feature(enable = "simd128")]
    pub fn flip_case(bytes: &mut [u8], first: u8) -> &mut [u8] {
        let mut blocks = bytes.chunks_exact_mut(16);
        for block in &mut blocks {
            let at = block.as_mut_ptr().cast::<v128>();
            // SAFETY: `block` is 16 bytes of `bytes`, borrowed mutably;
            // wasm loads and stores need no alignment.
            let v = unsafe { v128_load(at) };
            let letter = at_most(u8x16_sub(v, u8x16_splat(first)), 25);
            let flipped = v128_xor(v, v128_and(letter, u8x16_splat(0x20)));
            // SAFETY: as above.
            unsafe { v128_store(at, flipped) };
        }
        blocks.into_remainder()
    }

    /// Adds the whole 16-byte blocks of `bytes` to `tally`; returns the tail.
    ///
    /// Per block: a lane is white space, a newline, or the start of a word
    /// (not space, after a space: the previous lane's, or the last of the
    /// previous block's). Counts gather in byte lanes (0 - all-ones = +1),
    /// emptied into `tally` before they can wrap.
    #[target_feature(enable = "simd128")]
    pub fn tally<'b>(tally: &mut Tally, bytes: &'b [u8]) -> &'b [u8] {
        let (whole, tail) = bytes.split_at(bytes.len() - bytes.len() % 16);
        // Lane 15 says whether the byte before the first was white space.
        let mut prev_space = u8x16_splat(if tally.in_word { 0 } else { 0xff });
        for batch in whole.chunks(255 * 16) {
            let (mut lines, mut words) = (u8x16_splat(0), u8x16_splat(0));
            for block in batch.chunks_exact(16) {
                // SAFETY: `block` is 16 readable bytes; wasm loads need no
                // alignment.
                let v = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
                let space = v128_or(
                    u8x16_eq(v, u8x16_splat(b' ')),
                    at_most(u8x16_sub(v, u8x16_splat(b'\t')), b'\r' - b'\t'),
                );
                let before = i8x16_shuffle::<
                    15,
                    16,
                    17,
                    18,
                    19,
                    20,
                    21,
                    22,
                    23,
                    24,
                    25,
                    26,
                    27,
                    28,
                    29,
                    30,
                >(prev_space, space);
                words = u8x16_sub(words, v128_andnot(before, space));
                lines = u8x16_sub(lines, u8x16_eq(v, u8x16_splat(b'\n')));
                prev_space = space;
            }
            tally.lines += sum(lines);
            tally.words += sum(words);
        }
        if let Some(&byte) = whole.last() {
            tally.in_word = !super::is_space(byte);
        }
        tail
    }

    /// The sum of the 16 byte lanes.
    #[target_feature(enable = "simd128")]
    fn sum(lanes: v128) -> u64 {
        let wide = u32x4_extadd_pairwise_u16x8(u16x8_extadd_pairwise_u8x16(lanes));
        [
            u32x4_extract_lane::<0>(wide),
            u32x4_extract_lane::<1>(wide),
            u32x4_extract_lane::<2>(wide),
            u32x4_extract_lane::<3>(wide),
        ]
        .into_iter()
        .map(u64::from)
        .sum()
    }
}
