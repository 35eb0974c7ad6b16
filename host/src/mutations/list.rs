//! The mutations: one broken rule each, and the `selftest` check that
//! must catch it.

use super::{
    Mutation, read, shadow_append, shadow_create, shadow_drop, shadow_limit, shadow_read,
    shadow_sha256, shadow_truncate, shadow_write, writable,
};
use crate::rules::BufferError::{LimitExceeded, OutOfBounds, QuotaExceeded, ReadOnly};

/// The mutations of every import but `copy-from` ([`super::copy_from`]),
/// with the check that catches each. At least one per rule of the WIT doc
/// comments; the first two, and the first of `copy-from`'s, are the ones
/// issue 15 found passing the old `selftest` under an independent host.
pub(super) const MUTATIONS: &[Mutation] = &[
    Mutation {
        breaks: "sha256: a range running past the end hashes nothing instead of being cut there",
        caught_by: "sha256 of a range past the end is cut at the end",
        install: |l| {
            shadow_sha256(l, |b, h, offset, len| {
                let length = b.len(h)?;
                let cut = offset <= length && offset.saturating_add(len) > length;
                b.sha256(h, offset, if cut { 0 } else { len })
            })
        },
    },
    Mutation {
        breaks: "write: an empty write past the end is accepted",
        caught_by: "write of nothing past the end",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                if bytes.is_empty() && offset > b.len(h)? {
                    return Ok(Ok(()));
                }
                b.write(h, offset, bytes)
            })
        },
    },
    Mutation {
        breaks: "truncate: truncating to the current length is refused (off by one)",
        caught_by: "truncate to the same length",
        install: |l| {
            shadow_truncate(l, |b, h, len| {
                let length = b.len(h)?;
                if len == length && writable(b, h)? {
                    return Ok(Err(OutOfBounds(length)));
                }
                b.truncate(h, len)
            })
        },
    },
    Mutation {
        breaks: "truncate: truncating to length + 1 is accepted (off by one)",
        caught_by: "truncate cannot grow",
        install: |l| {
            shadow_truncate(l, |b, h, len| {
                if len.checked_sub(1) == Some(b.len(h)?) {
                    return Ok(Ok(()));
                }
                b.truncate(h, len)
            })
        },
    },
    Mutation {
        breaks: "drop: a dropped buffer's bytes are not given back to the quota",
        caught_by: "quota: buffers dropped earlier gave their bytes back",
        // The buffer stays in the table, holding its bytes.
        install: |l| shadow_drop(l, |_, _| Ok(())),
    },
    Mutation {
        breaks: "write: out-of-bounds is checked before read-only",
        caught_by: "input: read-only comes before out-of-bounds",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                let length = b.len(h)?;
                if offset > length {
                    return Ok(Err(OutOfBounds(length)));
                }
                b.write(h, offset, bytes)
            })
        },
    },
    Mutation {
        breaks: "truncate: out-of-bounds is checked before read-only",
        caught_by: "input: truncate past the end is still read-only",
        install: |l| {
            shadow_truncate(l, |b, h, len| {
                let length = b.len(h)?;
                if len > length {
                    return Ok(Err(OutOfBounds(length)));
                }
                b.truncate(h, len)
            })
        },
    },
    Mutation {
        breaks: "append: an empty append succeeds before any check",
        caught_by: "input: append is read-only",
        install: |l| {
            shadow_append(l, |b, h, bytes| {
                if bytes.is_empty() {
                    return Ok(Ok(()));
                }
                b.append(h, bytes)
            })
        },
    },
    Mutation {
        breaks: "read: reading at offset == length is refused (off by one)",
        caught_by: "read at the end is empty",
        install: |l| {
            shadow_read(l, |b, h, offset, len| {
                let length = b.len(h)?;
                if offset == length {
                    return Ok(Err(OutOfBounds(length)));
                }
                read(b, h, offset, len)
            })
        },
    },
    Mutation {
        breaks: "read: a read of nothing past the end is accepted",
        caught_by: "read of nothing past the end",
        install: |l| {
            shadow_read(l, |b, h, offset, len| {
                if len == 0 && offset > b.len(h)? {
                    return Ok(Ok(Vec::new()));
                }
                read(b, h, offset, len)
            })
        },
    },
    Mutation {
        breaks: "read: a read near the end is padded with zeros, not cut",
        caught_by: "read near the end clips",
        install: |l| {
            shadow_read(l, |b, h, offset, len| {
                let mut bytes = read(b, h, offset, len)?;
                if let Ok(bytes) = &mut bytes {
                    bytes.resize(bytes.len().max(len.min(4096) as usize), 0);
                }
                Ok(bytes)
            })
        },
    },
    Mutation {
        breaks: "read: out-of-bounds carries the offset, not the length",
        caught_by: "read past the end",
        install: |l| {
            shadow_read(l, |b, h, offset, len| match read(b, h, offset, len)? {
                Err(OutOfBounds(_)) => Ok(Err(OutOfBounds(offset))),
                other => Ok(other),
            })
        },
    },
    Mutation {
        breaks: "write: a write past the end fills the hole with zeros",
        caught_by: "write past the end (no holes)",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                let length = b.len(h)?;
                if offset > length && offset - length <= 4096 {
                    let hole = vec![0; (offset - length) as usize];
                    if let Err(e) = b.write(h, length, &hole)? {
                        return Ok(Err(e));
                    }
                }
                b.write(h, offset, bytes)
            })
        },
    },
    Mutation {
        breaks: "write: writing exactly up to the limit is refused (off by one)",
        caught_by: "write up to the limit",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                let limit = b.limit(h)?;
                let end = offset.saturating_add(bytes.len() as u64);
                let fills = !bytes.is_empty() && offset <= b.len(h)? && end == limit;
                if fills && writable(b, h)? {
                    return Ok(Err(LimitExceeded(limit)));
                }
                b.write(h, offset, bytes)
            })
        },
    },
    Mutation {
        breaks: "write: the limit is checked before out-of-bounds",
        caught_by: "out-of-bounds comes before limit",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                let limit = b.limit(h)?;
                if offset.saturating_add(bytes.len() as u64) > limit && writable(b, h)? {
                    return Ok(Err(LimitExceeded(limit)));
                }
                b.write(h, offset, bytes)
            })
        },
    },
    Mutation {
        breaks: "write: a write refused by the limit keeps the bytes that fit",
        caught_by: "refused write changed nothing",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                match b.write(h, offset, bytes)? {
                    Err(LimitExceeded(limit)) => {
                        let fit = (limit - offset) as usize;
                        b.write(h, offset, &bytes[..fit])?.ok();
                        Ok(Err(LimitExceeded(limit)))
                    }
                    other => Ok(other),
                }
            })
        },
    },
    Mutation {
        breaks: "write: the quota is charged for every byte written, not the growth",
        caught_by: "quota: overwriting costs nothing",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                let quota = b.quota();
                let overwrite = offset < b.len(h)?;
                if overwrite && bytes.len() as u64 > quota.limit - quota.used {
                    return Ok(Err(QuotaExceeded(quota.limit)));
                }
                b.write(h, offset, bytes)
            })
        },
    },
    Mutation {
        breaks: "append: the quota is checked before the limit",
        caught_by: "quota: limit comes before quota",
        install: |l| {
            shadow_append(l, |b, h, bytes| {
                let quota = b.quota();
                if bytes.len() as u64 > quota.limit - quota.used {
                    return Ok(Err(QuotaExceeded(quota.limit)));
                }
                b.append(h, bytes)
            })
        },
    },
    Mutation {
        breaks: "append: an empty append to a full buffer is refused (limit checked with >=)",
        caught_by: "empty append at the limit",
        install: |l| {
            shadow_append(l, |b, h, bytes| {
                let limit = b.limit(h)?;
                if b.len(h)? == limit && writable(b, h)? {
                    return Ok(Err(LimitExceeded(limit)));
                }
                b.append(h, bytes)
            })
        },
    },
    Mutation {
        breaks: "append: quota-exceeded carries the bytes left, not the quota",
        caught_by: "quota: growth past it",
        install: |l| {
            shadow_append(l, |b, h, bytes| match b.append(h, bytes)? {
                Err(QuotaExceeded(quota)) => Ok(Err(QuotaExceeded(quota - b.quota().used))),
                other => Ok(other),
            })
        },
    },
    Mutation {
        breaks: "write: overwriting inserts the bytes, moving the rest along",
        caught_by: "overwrite keeps the length",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                let length = b.len(h)?;
                if offset >= length || !writable(b, h)? {
                    return b.write(h, offset, bytes);
                }
                let Ok(tail) = read(b, h, offset, length - offset)? else {
                    return b.write(h, offset, bytes);
                };
                let mut moved = bytes.to_vec();
                moved.extend_from_slice(&tail);
                b.write(h, offset, &moved)
            })
        },
    },
    Mutation {
        breaks: "write: limit-exceeded carries offset + len(data), not the limit",
        caught_by: "write past the limit",
        install: |l| {
            shadow_write(l, |b, h, offset, bytes| {
                match b.write(h, offset, bytes)? {
                    Err(LimitExceeded(_)) => Ok(Err(LimitExceeded(offset + bytes.len() as u64))),
                    other => Ok(other),
                }
            })
        },
    },
    Mutation {
        breaks: "truncate: the bytes cut off stay counted against the quota",
        caught_by: "quota: truncate gives bytes back",
        install: |l| {
            shadow_truncate(l, |b, h, len| {
                let before = b.quota().used;
                let truncated = b.truncate(h, len)?;
                // A buffer the guest cannot see holds what was given back.
                let refunded = before - b.quota().used;
                if refunded > 0
                    && let Ok(hidden) = b.create(refunded)?
                {
                    b.write(hidden, 0, &vec![0; refunded as usize])?.ok();
                }
                Ok(truncated)
            })
        },
    },
    Mutation {
        breaks: "limit: a buffer reports one byte more than its limit",
        caught_by: "create(16): limit 16",
        install: |l| shadow_limit(l, |b, h| Ok(b.limit(h)? + 1)),
    },
    Mutation {
        breaks: "create: quota-exceeded carries the limit asked for, not the quota",
        caught_by: "create(quota) is allowed",
        install: |l| {
            shadow_create(l, |b, limit| match b.create(limit)? {
                Err(QuotaExceeded(_)) => Ok(Err(QuotaExceeded(limit))),
                other => Ok(other),
            })
        },
    },
    Mutation {
        breaks: "create: a limit equal to the quota is refused (off by one)",
        caught_by: "create(quota) is allowed",
        install: |l| {
            shadow_create(l, |b, limit| {
                if limit == b.quota().limit {
                    return Ok(Err(QuotaExceeded(limit)));
                }
                b.create(limit)
            })
        },
    },
    Mutation {
        breaks: "create: the limit is checked against the quota left, reserving growth",
        caught_by: "quota: create still allowed",
        install: |l| {
            shadow_create(l, |b, limit| {
                let quota = b.quota();
                if limit > quota.limit - quota.used {
                    return Ok(Err(QuotaExceeded(quota.limit)));
                }
                b.create(limit)
            })
        },
    },
    Mutation {
        breaks: "sha256: offset + len wraps around u64",
        caught_by: "sha256 with len u64::MAX is cut at the end",
        install: |l| {
            shadow_sha256(l, |b, h, offset, len| {
                let end = offset.wrapping_add(len).min(b.len(h)?);
                b.sha256(h, offset, end.saturating_sub(offset))
            })
        },
    },
    Mutation {
        breaks: "sha256: hashing at offset == length is refused (off by one)",
        caught_by: "sha256 at the end is of nothing",
        install: |l| {
            shadow_sha256(l, |b, h, offset, len| {
                let length = b.len(h)?;
                if offset == length {
                    return Ok(Err(OutOfBounds(length)));
                }
                b.sha256(h, offset, len)
            })
        },
    },
    Mutation {
        breaks: "sha256: a read-only buffer is refused",
        caught_by: "input: sha256 of nothing (read-only buffers hash)",
        install: |l| {
            shadow_sha256(l, |b, h, offset, len| {
                if !writable(b, h)? {
                    return Ok(Err(ReadOnly));
                }
                b.sha256(h, offset, len)
            })
        },
    },
    Mutation {
        breaks: "sha256: an offset past the end hashes nothing",
        caught_by: "sha256 past the end",
        install: |l| {
            shadow_sha256(l, |b, h, offset, len| {
                let length = b.len(h)?;
                b.sha256(h, offset.min(length), len)
            })
        },
    },
];
