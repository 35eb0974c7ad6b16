//! Proof that the default guest's `selftest` catches a host that breaks any
//! one rule of `wit/buffers.wit` or `wit/digest.wit`: other hosts of `wit/`
//! use `selftest` as their conformance check, so a rule it cannot see is a
//! rule they can break unnoticed.
//!
//! Mechanism: linker shadowing, test-only. Each [`Mutation`] allows
//! shadowing in the host's own component linker and redefines one import (a
//! buffer method, `create`, the `buffer` resource's destructor, or
//! `digest.sha256`) with a wrong variant, the way `add_fast_paths` in
//! `component.rs` shadows `write` and `append`; the real linker is put back
//! from a clone afterwards. A wrong variant usually calls the real
//! [`Buffers`] method with its arguments or its answer altered, so it breaks
//! exactly one rule. Nothing here is compiled outside `cfg(test)`: there is
//! no flag in the buffer table and no new public API.
//!
//! Two rules are beyond any guest's sight and are left to
//! `tests/contract.rs`: that the input's length is the input's size, and
//! that what the output holds becomes the run's output.
//!
//! The default guest then runs `selftest` under the limits it needs to skip
//! nothing (`--quota 1MiB --max-output 64KiB`); each broken host must fail
//! it with the check listed beside the mutation among the failed ones, and
//! the real host must pass. `cargo test --lib mutations -- --nocapture`
//! prints which check caught each mutation.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceType};

use crate::bindings::bufbridge::buffers::buffers::BufferError as WitError;
use crate::buffers::{Buffers, Fault, Handle, Outcome, Stop};
use crate::component::BufferResource;
use crate::rules::BufferError::{LimitExceeded, OutOfBounds, QuotaExceeded, ReadOnly};
use crate::run::{Host, HostOptions, Limits};
use crate::state::RunState;
use crate::wit::interface_name;
use crate::{Cache, DEFAULT_GUEST, RunError};

/// The linker's name of interface `name` of `wit/`'s package.
fn interface(name: &str) -> String {
    interface_name(name).unwrap_or_else(|| panic!("wit/ has no interface `{name}`"))
}

type Res = Resource<BufferResource>;
type Answer<T> = wasmtime::Result<(Result<T, WitError>,)>;
type Install = fn(&mut Linker<RunState>) -> wasmtime::Result<()>;

/// A host that breaks one rule, and the `selftest` check that must fail.
struct Mutation {
    breaks: &'static str,
    caught_by: &'static str,
    install: Install,
}

fn h(resource: &Res) -> Handle {
    Handle::from_raw(resource.rep())
}

fn answer<T>(outcome: Outcome<T>) -> Answer<T> {
    Ok((outcome?.map_err(WitError::from),))
}

fn data<'a>(store: &'a mut StoreContextMut<'_, RunState>) -> &'a mut Buffers {
    &mut store.data_mut().buffers
}

/// The real `read`, its bytes copied out.
fn read(b: &mut Buffers, h: Handle, offset: u64, len: u64) -> Outcome<Vec<u8>> {
    match b.read(h, offset, len)? {
        Ok(read) => Ok(Ok(read.to_vec()?)),
        Err(e) => Ok(Err(e)),
    }
}

// One shadowing helper per import: each takes the wrong variant as a plain
// function of the buffer table and the call's arguments.

fn shadow_read(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, u64, u64) -> Outcome<Vec<u8>>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.func_wrap(
        "[method]buffer.read",
        move |mut s, (this, offset, len): (Res, u64, u32)| {
            answer(f(data(&mut s), h(&this), offset, len.into()))
        },
    )
}

fn shadow_write(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, u64, &[u8]) -> Outcome<()>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.func_wrap(
        "[method]buffer.write",
        move |mut s, (this, offset, bytes): (Res, u64, Vec<u8>)| {
            answer(f(data(&mut s), h(&this), offset, &bytes))
        },
    )
}

fn shadow_append(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, &[u8]) -> Outcome<()>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.func_wrap(
        "[method]buffer.append",
        move |mut s, (this, bytes): (Res, Vec<u8>)| answer(f(data(&mut s), h(&this), &bytes)),
    )
}

fn shadow_truncate(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, u64) -> Outcome<()>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.func_wrap(
        "[method]buffer.truncate",
        move |mut s, (this, len): (Res, u64)| answer(f(data(&mut s), h(&this), len)),
    )
}

/// `f(buffers, dst, src, src_offset, offset, len)`.
fn shadow_copy(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, Handle, u64, u64, u64) -> Outcome<u64>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.func_wrap(
        "[method]buffer.copy-from",
        move |mut s, (this, src, src_offset, offset, len): (Res, Res, u64, u64, u64)| {
            answer(f(data(&mut s), h(&this), h(&src), src_offset, offset, len))
        },
    )
}

fn shadow_limit(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle) -> Result<u64, Fault>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?
        .func_wrap("[method]buffer.limit", move |mut s, (this,): (Res,)| {
            Ok((f(data(&mut s), h(&this)).map_err(Stop::from)?,))
        })
}

fn shadow_create(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, u64) -> Outcome<Handle>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.func_wrap(
        "[static]buffer.create",
        move |mut s, (limit,): (u64,)| -> Answer<Res> {
            let (created,) = answer(f(data(&mut s), limit))?;
            Ok((created.map(|h| Resource::new_own(h.to_raw())),))
        },
    )
}

fn shadow_drop(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?.resource(
        "buffer",
        ResourceType::host::<BufferResource>(),
        move |mut s, rep| f(data(&mut s), Handle::from_raw(rep)),
    )
}

fn shadow_sha256(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, u64, u64) -> Outcome<[u8; 32]>,
) -> wasmtime::Result<()> {
    l.instance(&interface("digest"))?.func_wrap(
        "sha256",
        move |mut s, (buf, offset, len): (Res, u64, u64)| -> Answer<Vec<u8>> {
            let (hash,) = answer(f(data(&mut s), h(&buf), offset, len))?;
            Ok((hash.map(|hash| hash.to_vec()),))
        },
    )
}

/// Whether `h` may be written, asked with a write that changes nothing, so a
/// wrong variant can keep `read-only` first.
fn writable(b: &mut Buffers, h: Handle) -> Result<bool, Stop> {
    let end = b.len(h)?;
    Ok(b.write(h, end, &[])? != Err(ReadOnly))
}

/// What a copy-from would copy, if its source offset is in bounds.
fn count(b: &Buffers, src: Handle, src_offset: u64, len: u64) -> Option<u64> {
    let src_len = b.len(src).ok()?;
    src_len.checked_sub(src_offset).map(|left| left.min(len))
}

/// Every mutation, with the check that catches it. At least one per rule of
/// the WIT doc comments; the first three are the ones issue 15 found passing
/// the old `selftest` under an independent host.
const MUTATIONS: &[Mutation] = &[
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

/// One host for every mutation: the cache compiles the guest once.
struct Harness {
    host: Host,
    _cache_dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        let cache_dir = tempfile::tempdir().expect("a temporary cache directory");
        let options = HostOptions {
            cache: Some(Cache::new(cache_dir.path())),
            ..HostOptions::default()
        };
        Harness {
            host: Host::with_options(options).expect("start the host"),
            _cache_dir: cache_dir,
        }
    }

    /// Runs `selftest` on a host changed by `install` (none: the real host);
    /// the names of the checks that failed, or how the run failed otherwise.
    fn selftest(&mut self, install: Option<Install>) -> Result<Vec<String>, String> {
        let linker = &mut self.host.component_linker;
        let real = linker.clone();
        linker.allow_shadowing(true);
        let installed = install.map_or(Ok(()), |install| install(linker));
        let guest = installed.map(|()| self.host.load(DEFAULT_GUEST));
        // The next mutation starts from the real host again.
        self.host.component_linker = real;
        let guest = guest
            .map_err(|e| format!("installing the mutation: {e:#}"))?
            .map_err(|e| e.to_string())?;
        let limits = Limits {
            quota: 1024 * 1024,
            max_output: 64 * 1024,
            ..Limits::default()
        };
        let args = ["selftest".to_string()];
        let input = b"selftest input\n".to_vec();
        match self.host.run(&guest, input, &args, &limits) {
            Ok(report) => {
                let report = String::from_utf8_lossy(&report);
                if report.lines().any(|line| line.starts_with("skip")) {
                    Err(format!("selftest skipped checks:\n{report}"))
                } else {
                    Ok(Vec::new())
                }
            }
            Err(RunError::Failed(message)) => match message.split_once(" failed: ") {
                Some((_, names)) => Ok(names.split("; ").map(str::to_string).collect()),
                None => Err(message),
            },
            Err(e) => Err(e.summary()),
        }
    }
}

#[test]
fn selftest_catches_every_mutation_and_passes_the_real_host() {
    let mut harness = Harness::new();
    assert_eq!(
        harness.selftest(None),
        Ok(Vec::new()),
        "the real host passes"
    );
    let mut missed = Vec::new();
    for mutation in MUTATIONS {
        match harness.selftest(Some(mutation.install)) {
            Ok(failed) if failed.iter().any(|name| name == mutation.caught_by) => {
                println!(
                    "caught  {:<82} by  {:?} ({} failed)",
                    mutation.breaks,
                    mutation.caught_by,
                    failed.len()
                );
            }
            other => missed.push(format!(
                "{}: expected {:?} among the failed checks, got {other:?}",
                mutation.breaks, mutation.caught_by
            )),
        }
    }
    assert!(missed.is_empty(), "not caught:\n{}", missed.join("\n"));
}
