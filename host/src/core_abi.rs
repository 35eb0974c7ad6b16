//! The core-module path: the raw imports of `bufbridge:buffers/raw@0.1.0`,
//! for plain core wasm guests (C, Zig, AssemblyScript, WAT).
//!
//! Each function that moves bytes borrows the guest's linear memory and the
//! store's data at once with [`Memory::data_and_store_mut`], so bytes go
//! straight between guest memory and the buffer, with no `Vec` in between.
//! The rules are [`Buffers`]'s; this file only checks guest pointers and turns
//! a refusal into its error code. The ABI is documented in `wit/CORE_ABI.md`.

use std::ops::Range;

use wasmtime::{Caller, Extern, Linker};

use crate::buffers::{Handle, Outcome, Stop};
use crate::rules::BufferError;
use crate::state::{RunState, trap};
use crate::stats::Import;

/// The import module name core guests use.
pub const MODULE: &str = "bufbridge:buffers/raw@0.1.0";

/// The longest message `fail` (and the component path's `abort.abort`)
/// keeps; a guest cannot make the host hold more.
pub(crate) const MAX_FAIL_MESSAGE: usize = 64 * 1024;

/// A refusal by the rules, as the negative number the ABI returns.
fn code(e: BufferError) -> i64 {
    match e {
        BufferError::OutOfBounds(_) => -1,
        BufferError::LimitExceeded(_) => -2,
        BufferError::ReadOnly => -3,
        BufferError::QuotaExceeded(_) => -4,
    }
}

/// A stop traps; a refusal becomes its code; success becomes `ok(value)`.
fn lift<T>(outcome: Outcome<T>, ok: impl FnOnce(T) -> Result<i64, Stop>) -> wasmtime::Result<i64> {
    match outcome {
        Ok(Ok(value)) => ok(value).map_err(trap),
        Ok(Err(e)) => Ok(code(e)),
        Err(stop) => Err(trap(stop)),
    }
}

fn handle(h: i32) -> Handle {
    // A negative number is no handle of ours; as u32 it is out of range and fails lookup.
    Handle::from_raw(h as u32)
}

/// Offsets and lengths are i64 on the wire and read as u64.
fn unsigned(n: i64) -> u64 {
    n as u64
}

/// The guest's memory and the run's state, borrowed together.
fn memory_and_state<'a>(
    caller: &'a mut Caller<'_, RunState>,
) -> wasmtime::Result<(&'a mut [u8], &'a mut RunState)> {
    let memory = match caller.data().core.memory {
        Some(memory) => memory,
        // Only before `process` is known (a start function calling in) do we look it up by name.
        None => match caller.get_export("memory") {
            Some(Extern::Memory(memory)) => memory,
            _ => wasmtime::bail!(
                "the guest module exports no `memory`, which the bufbridge core ABI needs"
            ),
        },
    };
    Ok(memory.data_and_store_mut(caller))
}

/// The range `ptr..ptr + len` of guest memory, or a trap naming it.
fn guest_range(memory: &[u8], ptr: i32, len: i32) -> wasmtime::Result<Range<usize>> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    match start.checked_add(len) {
        Some(end) if end <= memory.len() => Ok(start..end),
        _ => wasmtime::bail!(
            "memory range {start:#x}..{:#x} ({len} bytes at {start:#x}) is outside the guest's {}-byte memory",
            start as u64 + len as u64,
            memory.len()
        ),
    }
}

/// Adds the raw imports to a core-module linker.
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "len", |mut caller: Caller<'_, RunState>, h: i32| {
        caller.data_mut().stats.record(Import::Len, 0, 0, 0);
        Ok(caller.data().buffers.len(handle(h))? as i64)
    })?;
    linker.func_wrap(
        MODULE,
        "limit",
        |mut caller: Caller<'_, RunState>, h: i32| {
            caller.data_mut().stats.record(Import::Limit, 0, 0, 0);
            Ok(caller.data().buffers.limit(handle(h))? as i64)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "read",
        |mut caller: Caller<'_, RunState>, h: i32, offset: i64, ptr: i32, len: i32| {
            let (memory, state) = memory_and_state(&mut caller)?;
            let dst = guest_range(memory, ptr, len)?;
            let outcome = state
                .buffers
                .read(handle(h), unsigned(offset), dst.len() as u64);
            let got = lift(outcome, |read| {
                read.copy_to(&mut memory[dst.start..dst.start + read.len()])?;
                Ok(read.len() as i64)
            })?;
            state.stats.record(Import::Read, 0, got.max(0) as u64, 0);
            Ok(got)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "write",
        |mut caller: Caller<'_, RunState>, h: i32, offset: i64, ptr: i32, len: i32| {
            let (memory, state) = memory_and_state(&mut caller)?;
            let src = guest_range(memory, ptr, len)?;
            let n = src.len() as u64;
            let status = lift(
                state
                    .buffers
                    .write(handle(h), unsigned(offset), &memory[src]),
                |()| Ok(0),
            )?;
            state
                .stats
                .record(Import::Write, if status == 0 { n } else { 0 }, 0, 0);
            Ok(status)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "append",
        |mut caller: Caller<'_, RunState>, h: i32, ptr: i32, len: i32| {
            let (memory, state) = memory_and_state(&mut caller)?;
            let src = guest_range(memory, ptr, len)?;
            let n = src.len() as u64;
            let status = lift(state.buffers.append(handle(h), &memory[src]), |()| Ok(0))?;
            state
                .stats
                .record(Import::Append, if status == 0 { n } else { 0 }, 0, 0);
            Ok(status)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "truncate",
        |mut caller: Caller<'_, RunState>, h: i32, len: i64| {
            caller.data_mut().stats.record(Import::Truncate, 0, 0, 0);
            lift(
                caller.data_mut().buffers.truncate(handle(h), unsigned(len)),
                |()| Ok(0),
            )
        },
    )?;
    linker.func_wrap(
        MODULE,
        "copy_from",
        |mut caller: Caller<'_, RunState>,
         h: i32,
         src: i32,
         src_offset: i64,
         offset: i64,
         len: i64| {
            let state = caller.data_mut();
            let outcome = state.buffers.copy(
                handle(h),
                handle(src),
                unsigned(src_offset),
                unsigned(offset),
                unsigned(len),
            );
            // A count is at most a buffer's length, which fits in memory and so in an i64.
            let count = lift(outcome, |count| Ok(count as i64))?;
            state
                .stats
                .record(Import::CopyFrom, 0, 0, count.max(0) as u64);
            Ok(count)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "create",
        |mut caller: Caller<'_, RunState>, limit: i64| {
            caller.data_mut().stats.record(Import::Create, 0, 0, 0);
            lift(caller.data_mut().buffers.create(unsigned(limit)), |h| {
                Ok(i64::from(h.to_raw()))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "drop",
        |mut caller: Caller<'_, RunState>, h: i32| {
            caller.data_mut().stats.record(Import::Drop, 0, 0, 0);
            caller.data_mut().buffers.drop_scratch(handle(h))?;
            Ok(0i64)
        },
    )?;
    linker.func_wrap(MODULE, "args_size", |mut caller: Caller<'_, RunState>| {
        caller.data_mut().stats.record(Import::ArgsSize, 0, 0, 0);
        let size: usize = caller.data().core.args.iter().map(|a| a.len() + 1).sum();
        i32::try_from(size).map_err(|_| wasmtime::format_err!("the arguments do not fit in 2 GiB"))
    })?;
    linker.func_wrap(
        MODULE,
        "args_get",
        |mut caller: Caller<'_, RunState>, ptr: i32| {
            let (memory, state) = memory_and_state(&mut caller)?;
            state.stats.record(Import::ArgsGet, 0, 0, 0);
            let args = &state.core.args;
            let size = args.iter().map(|a| a.len() + 1).sum::<usize>();
            let dst = guest_range(memory, ptr, i32::try_from(size)?)?;
            let mut at = dst.start;
            for arg in args {
                memory[at..at + arg.len()].copy_from_slice(arg.as_bytes());
                memory[at + arg.len()] = 0;
                at += arg.len() + 1;
            }
            Ok(args.len() as i32)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "fail",
        |mut caller: Caller<'_, RunState>, ptr: i32, len: i32| {
            let (memory, state) = memory_and_state(&mut caller)?;
            state.stats.record(Import::Fail, 0, 0, 0);
            let range = guest_range(memory, ptr, len)?;
            let kept = &memory[range.start..range.end.min(range.start + MAX_FAIL_MESSAGE)];
            state.core.failure = Some(String::from_utf8_lossy(kept).into_owned());
            Ok(())
        },
    )?;
    Ok(())
}
