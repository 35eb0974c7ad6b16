//! The mutations of `copy-from`, the import with the most rules.

use super::{Mutation, count, read, shadow_copy, writable};
use crate::rules::BufferError::{LimitExceeded, OutOfBounds, QuotaExceeded};

/// With the check that catches each.
pub(super) const MUTATIONS: &[Mutation] = &[
    Mutation {
        breaks: "copy-from: a copy of 0 bytes skips the destination's checks",
        caught_by: "copy-from of 0 bytes past the destination's end",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                if count(b, src, src_offset, len) == Some(0) {
                    // Checks read-only and the source, then copies nothing.
                    let end = b.len(dst)?;
                    return b.copy(dst, src, src_offset, end, 0);
                }
                b.copy(dst, src, src_offset, offset, len)
            })
        },
    },
    Mutation {
        breaks: "copy-from: the source's out-of-bounds is checked before read-only",
        caught_by: "input: copy-from into it is read-only",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                let src_len = b.len(src)?;
                if src_offset > src_len {
                    return Ok(Err(OutOfBounds(src_len)));
                }
                b.copy(dst, src, src_offset, offset, len)
            })
        },
    },
    Mutation {
        breaks: "copy-from: a copy of 0 bytes returns 0 before any check",
        caught_by: "input: copy-from of 0 bytes into it is read-only",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                if len == 0 {
                    return Ok(Ok(0));
                }
                b.copy(dst, src, src_offset, offset, len)
            })
        },
    },
    Mutation {
        breaks: "copy-from: the limit is checked against len, not the bytes copied",
        caught_by: "copy-from counts what the source has",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                let limit = b.limit(dst)?;
                let checked = count(b, src, src_offset, len).is_some() && offset <= b.len(dst)?;
                if checked && offset.saturating_add(len) > limit && writable(b, dst)? {
                    return Ok(Err(LimitExceeded(limit)));
                }
                b.copy(dst, src, src_offset, offset, len)
            })
        },
    },
    Mutation {
        breaks: "copy-from: the quota is checked before the limit",
        caught_by: "quota: copy-from: limit comes before quota",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                let (length, quota) = (b.len(dst)?, b.quota());
                let n = count(b, src, src_offset, len).filter(|_| offset <= length);
                let growth = n.map_or(0, |n| offset.saturating_add(n).saturating_sub(length));
                if growth > quota.limit - quota.used && writable(b, dst)? {
                    return Ok(Err(QuotaExceeded(quota.limit)));
                }
                b.copy(dst, src, src_offset, offset, len)
            })
        },
    },
    Mutation {
        breaks: "copy-from: returns len, not the bytes copied",
        caught_by: "copy-from counts what the source has",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                Ok(b.copy(dst, src, src_offset, offset, len)?.map(|_| len))
            })
        },
    },
    Mutation {
        breaks: "copy-from: the source's out-of-bounds carries the destination's length",
        caught_by: "copy-from: source offset past its end",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                match b.copy(dst, src, src_offset, offset, len)? {
                    Err(OutOfBounds(_)) if count(b, src, src_offset, len).is_none() => {
                        Ok(Err(OutOfBounds(b.len(dst)?)))
                    }
                    other => Ok(other),
                }
            })
        },
    },
    Mutation {
        breaks: "copy-from: the destination is checked before the source",
        caught_by: "copy-from: source check comes before destination checks",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                let length = b.len(dst)?;
                if offset > length && writable(b, dst)? {
                    return Ok(Err(OutOfBounds(length)));
                }
                b.copy(dst, src, src_offset, offset, len)
            })
        },
    },
    Mutation {
        breaks: "copy-from: within one buffer, bytes are copied front to back, not as memmove",
        caught_by: "self copy forward: memmove",
        install: |l| {
            shadow_copy(l, |b, dst, src, src_offset, offset, len| {
                let n = count(b, src, src_offset, len).filter(|&n| n > 0);
                let (Some(n), true) = (n, src == dst && writable(b, dst)?) else {
                    return b.copy(dst, src, src_offset, offset, len);
                };
                for i in 0..n {
                    let byte = read(b, src, src_offset + i, 1)?.unwrap_or_default();
                    if let Err(e) = b.write(dst, offset.saturating_add(i), &byte)? {
                        return Ok(Err(e));
                    }
                }
                Ok(Ok(n))
            })
        },
    },
];
