//! The rules of a buffer: bounds, limits, quota and read-only.
//!
//! Plain arithmetic on lengths, with no wasmtime and no bytes in it, so that
//! the component path and the core-module path both ask the same functions
//! and a rule is written (and tested) exactly once. Every check here runs
//! *before* anything changes: an operation either passes all of them and is
//! then carried out, or is refused and changes nothing.
//!
//! The checks run in the order the WIT contract (`wit/buffers.wit`) lists
//! them, so the error a guest sees is the first rule it broke.

use std::fmt;
use std::ops::Range;

/// The longest failure message a guest can make the host keep: the core
/// ABI's `fail`, the component path's `abort.abort`.
pub const MAX_FAIL_MESSAGE: usize = 64 * 1024;

/// Why an operation on a buffer was refused (the WIT `buffer-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferError {
    /// An offset lies past the end; carries the length it was checked against.
    OutOfBounds(u64),
    /// The buffer would grow past its limit; carries the limit.
    LimitExceeded(u64),
    /// The buffer cannot be changed.
    ReadOnly,
    /// Scratch buffers would hold more than the quota; carries the quota.
    QuotaExceeded(u64),
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::OutOfBounds(len) => write!(f, "out of bounds (length {len})"),
            BufferError::LimitExceeded(limit) => write!(f, "limit exceeded (limit {limit})"),
            BufferError::ReadOnly => f.write_str("read-only"),
            BufferError::QuotaExceeded(quota) => write!(f, "quota exceeded (quota {quota})"),
        }
    }
}

impl std::error::Error for BufferError {}

/// The three kinds of buffer a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The input of `process`: read-only, limit = length.
    Input,
    /// The output of `process`: writable, bounded by its own limit.
    Output,
    /// Made by the guest with `create`: writable, counted against the quota.
    Scratch,
}

/// What the rules need to know of one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub kind: Kind,
    /// Bytes held now.
    pub len: u64,
    /// Most bytes it may ever hold.
    pub limit: u64,
}

/// The bytes all scratch buffers of one run may hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The most bytes, as configured by the host.
    pub limit: u64,
    /// The bytes held now by scratch buffers.
    pub used: u64,
}

impl Quota {
    pub fn new(limit: u64) -> Self {
        Quota { limit, used: 0 }
    }

    /// Records that a buffer of `kind` went from `old_len` to `new_len` bytes.
    /// Call only with lengths that [`write()`], [`truncate()`] or [`copy()`]
    /// approved, or when a buffer is dropped (`new_len == 0`).
    pub fn resize(&mut self, kind: Kind, old_len: u64, new_len: u64) {
        if kind == Kind::Scratch {
            // Approved lengths keep `used` within 0..=limit, so neither side wraps.
            self.used = self.used - old_len + new_len;
        }
    }
}

/// `create(limit)`: a limit above the whole quota can never be met.
pub fn create(quota: &Quota, limit: u64) -> Result<(), BufferError> {
    if limit > quota.limit {
        return Err(BufferError::QuotaExceeded(quota.limit));
    }
    Ok(())
}

/// `read(offset, len)`: the range of bytes to hand back, clipped at the end.
pub fn read(shape: &Shape, offset: u64, len: u64) -> Result<Range<u64>, BufferError> {
    if offset > shape.len {
        return Err(BufferError::OutOfBounds(shape.len));
    }
    let end = offset.saturating_add(len).min(shape.len);
    Ok(offset..end)
}

/// `write(offset, data)` of `n` bytes: the buffer's new length.
pub fn write(shape: &Shape, quota: &Quota, offset: u64, n: u64) -> Result<u64, BufferError> {
    if shape.kind == Kind::Input {
        return Err(BufferError::ReadOnly);
    }
    grow(shape, quota, offset, n)
}

/// `truncate(len)`: shortens, never grows.
pub fn truncate(shape: &Shape, len: u64) -> Result<(), BufferError> {
    if shape.kind == Kind::Input {
        return Err(BufferError::ReadOnly);
    }
    if len > shape.len {
        return Err(BufferError::OutOfBounds(shape.len));
    }
    Ok(())
}

/// An approved `copy-from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    /// Bytes to copy.
    pub count: u64,
    /// The destination's length afterwards.
    pub new_len: u64,
}

/// `copy-from(src, src_offset, offset, len)` into `dst`, where `src_len` is
/// the source's length (the destination's own when copying within a buffer).
pub fn copy(
    dst: &Shape,
    quota: &Quota,
    src_len: u64,
    src_offset: u64,
    offset: u64,
    len: u64,
) -> Result<Copy, BufferError> {
    if dst.kind == Kind::Input {
        return Err(BufferError::ReadOnly);
    }
    if src_offset > src_len {
        return Err(BufferError::OutOfBounds(src_len));
    }
    let count = len.min(src_len - src_offset);
    let new_len = grow(dst, quota, offset, count)?;
    Ok(Copy { count, new_len })
}

/// The checks shared by every operation that puts `n` bytes at `offset`.
fn grow(shape: &Shape, quota: &Quota, offset: u64, n: u64) -> Result<u64, BufferError> {
    if offset > shape.len {
        return Err(BufferError::OutOfBounds(shape.len));
    }
    // `offset + n` may not fit in a u64; such a write is past any limit.
    let end = offset
        .checked_add(n)
        .filter(|&end| end <= shape.limit)
        .ok_or(BufferError::LimitExceeded(shape.limit))?;
    let new_len = end.max(shape.len);
    if shape.kind == Kind::Scratch {
        let growth = new_len - shape.len;
        if growth > quota.limit - quota.used {
            return Err(BufferError::QuotaExceeded(quota.limit));
        }
    }
    Ok(new_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: Shape = Shape {
        kind: Kind::Input,
        len: 10,
        limit: 10,
    };
    const OUTPUT: Shape = Shape {
        kind: Kind::Output,
        len: 4,
        limit: 8,
    };
    const SCRATCH: Shape = Shape {
        kind: Kind::Scratch,
        len: 4,
        limit: 100,
    };
    const QUOTA: Quota = Quota { limit: 10, used: 4 };

    #[test]
    fn create_refuses_a_limit_above_the_quota() {
        assert_eq!(create(&QUOTA, 10), Ok(()));
        assert_eq!(create(&QUOTA, 0), Ok(()));
        assert_eq!(create(&QUOTA, 11), Err(BufferError::QuotaExceeded(10)));
        assert_eq!(
            create(&QUOTA, u64::MAX),
            Err(BufferError::QuotaExceeded(10))
        );
    }

    #[test]
    fn read_clips_at_the_end_and_refuses_past_it() {
        assert_eq!(read(&INPUT, 0, 4), Ok(0..4));
        assert_eq!(read(&INPUT, 8, 4), Ok(8..10));
        assert_eq!(read(&INPUT, 10, 4), Ok(10..10));
        assert_eq!(read(&INPUT, 3, 0), Ok(3..3));
        assert_eq!(read(&INPUT, 11, 0), Err(BufferError::OutOfBounds(10)));
        assert_eq!(
            read(&INPUT, u64::MAX, u64::MAX),
            Err(BufferError::OutOfBounds(10))
        );
        assert_eq!(read(&INPUT, 5, u64::MAX), Ok(5..10));
    }

    #[test]
    fn write_extends_without_holes() {
        assert_eq!(
            write(&OUTPUT, &QUOTA, 0, 2),
            Ok(4),
            "overwrite keeps the length"
        );
        assert_eq!(write(&OUTPUT, &QUOTA, 2, 4), Ok(6), "overwrite and extend");
        assert_eq!(
            write(&OUTPUT, &QUOTA, 4, 4),
            Ok(8),
            "append up to the limit"
        );
        assert_eq!(
            write(&OUTPUT, &QUOTA, 4, 0),
            Ok(4),
            "empty write at the end"
        );
        assert_eq!(
            write(&OUTPUT, &QUOTA, 5, 0),
            Err(BufferError::OutOfBounds(4))
        );
    }

    #[test]
    fn write_checks_run_in_contract_order() {
        // Read-only beats everything else, even a wildly bad offset.
        assert_eq!(
            write(&INPUT, &QUOTA, u64::MAX, u64::MAX),
            Err(BufferError::ReadOnly)
        );
        // Out of bounds beats the limit.
        assert_eq!(
            write(&OUTPUT, &QUOTA, 5, 100),
            Err(BufferError::OutOfBounds(4))
        );
        assert_eq!(
            write(&OUTPUT, &QUOTA, 4, 5),
            Err(BufferError::LimitExceeded(8))
        );
        // The limit beats the quota.
        let tiny_limit = Shape {
            limit: 6,
            ..SCRATCH
        };
        assert_eq!(
            write(&tiny_limit, &QUOTA, 4, 50),
            Err(BufferError::LimitExceeded(6))
        );
        assert_eq!(
            write(&SCRATCH, &QUOTA, 4, 7),
            Err(BufferError::QuotaExceeded(10))
        );
    }

    #[test]
    fn offsets_near_u64_max_never_wrap() {
        let full = Shape {
            kind: Kind::Output,
            len: u64::MAX,
            limit: u64::MAX,
        };
        assert_eq!(
            write(&full, &QUOTA, u64::MAX, 1),
            Err(BufferError::LimitExceeded(u64::MAX))
        );
        assert_eq!(write(&full, &QUOTA, u64::MAX, 0), Ok(u64::MAX));
        assert_eq!(
            write(&OUTPUT, &QUOTA, u64::MAX, 1),
            Err(BufferError::OutOfBounds(4))
        );
        assert_eq!(
            copy(&full, &QUOTA, u64::MAX, 0, 1, u64::MAX),
            Err(BufferError::LimitExceeded(u64::MAX))
        );
    }

    #[test]
    fn quota_counts_only_scratch_growth() {
        // Overwriting inside a scratch buffer costs nothing, even at full quota.
        let full_quota = Quota {
            limit: 10,
            used: 10,
        };
        assert_eq!(write(&SCRATCH, &full_quota, 0, 4), Ok(4));
        assert_eq!(
            write(&SCRATCH, &full_quota, 2, 3),
            Err(BufferError::QuotaExceeded(10))
        );
        // Growth up to exactly the quota is allowed.
        assert_eq!(write(&SCRATCH, &QUOTA, 4, 6), Ok(10));
        // The output is bounded by its limit, not the quota.
        let big_output = Shape {
            kind: Kind::Output,
            len: 0,
            limit: 1000,
        };
        assert_eq!(write(&big_output, &full_quota, 0, 1000), Ok(1000));
    }

    #[test]
    fn quota_resize_tracks_scratch_bytes_only() {
        let mut quota = Quota::new(10);
        quota.resize(Kind::Scratch, 0, 6);
        quota.resize(Kind::Output, 0, 100);
        assert_eq!(quota.used, 6);
        quota.resize(Kind::Scratch, 6, 2);
        assert_eq!(quota.used, 2);
        quota.resize(Kind::Scratch, 2, 0);
        assert_eq!(quota.used, 0);
    }

    #[test]
    fn truncate_shortens_only_writable_buffers() {
        assert_eq!(truncate(&OUTPUT, 0), Ok(()));
        assert_eq!(truncate(&OUTPUT, 4), Ok(()));
        assert_eq!(truncate(&OUTPUT, 5), Err(BufferError::OutOfBounds(4)));
        assert_eq!(truncate(&INPUT, 20), Err(BufferError::ReadOnly));
        assert_eq!(truncate(&INPUT, 0), Err(BufferError::ReadOnly));
    }

    #[test]
    fn copy_counts_what_the_source_has() {
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 10, 8, 4, 100),
            Ok(Copy {
                count: 2,
                new_len: 6
            })
        );
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 10, 10, 4, 100),
            Ok(Copy {
                count: 0,
                new_len: 4
            })
        );
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 10, 0, 0, 3),
            Ok(Copy {
                count: 3,
                new_len: 4
            })
        );
    }

    #[test]
    fn copy_checks_run_in_contract_order() {
        assert_eq!(
            copy(&INPUT, &QUOTA, 10, 99, 99, 1),
            Err(BufferError::ReadOnly)
        );
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 10, 11, 99, 1),
            Err(BufferError::OutOfBounds(10))
        );
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 10, 0, 5, 1),
            Err(BufferError::OutOfBounds(4))
        );
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 10, 0, 0, 9),
            Err(BufferError::LimitExceeded(8))
        );
        assert_eq!(
            copy(&SCRATCH, &QUOTA, 10, 0, 4, 10),
            Err(BufferError::QuotaExceeded(10))
        );
        // Only the bytes that exist count against the limit.
        assert_eq!(
            copy(&OUTPUT, &QUOTA, 6, 2, 4, u64::MAX),
            Ok(Copy {
                count: 4,
                new_len: 8
            })
        );
    }
}
