//! The core-module path: the raw imports of `bufbridge:buffers/raw@0.1.0`,
//! for plain core wasm guests (C, Zig, AssemblyScript, WAT).
//!
//! [`IMPORTS`] and [`EXPORTS`] are the ABI: the linker is built from the
//! first, a module is checked against both (`inspect`), and
//! `tests/all/drift.rs` holds `wit/CORE_ABI.md` equal to them.
//!
//! Each function that moves bytes borrows the guest's linear memory and the
//! store's data at once with [`wasmtime::Memory::data_and_store_mut`], so bytes go
//! straight between guest memory and the buffer, with no `Vec` in between.
//! The rules are the buffer table's (`Buffers`); this file only
//! checks guest pointers and turns a refusal into its error code.

use std::ops::Range;

use wasmtime::{Caller, Extern, ExternType, FuncType, Linker};

use crate::handle::Handle;
use crate::rules::{BufferError, MAX_FAIL_MESSAGE};
use crate::state::RunState;
use crate::stats::Import;
use crate::stop::Failure;
use crate::view::BuffersView;

/// The import module name core guests use.
pub const MODULE: &str = "bufbridge:buffers/raw@0.1.0";

/// One import of the core ABI: its name, its type (`func(i32) -> i64`),
/// and how it is linked.
pub struct CoreImport {
    pub name: &'static str,
    pub ty: &'static str,
    link: fn(&mut Linker<RunState>, &'static str) -> wasmtime::Result<()>,
}

/// The imports of the core ABI, in the order of `wit/CORE_ABI.md`; a module
/// may import any of them.
pub const IMPORTS: &[CoreImport] = &[
    CoreImport {
        name: "len",
        ty: "func(i32) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, len).map(drop),
    },
    CoreImport {
        name: "limit",
        ty: "func(i32) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, limit).map(drop),
    },
    CoreImport {
        name: "read",
        ty: "func(i32, i64, i32, i32) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, read).map(drop),
    },
    CoreImport {
        name: "write",
        ty: "func(i32, i64, i32, i32) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, write).map(drop),
    },
    CoreImport {
        name: "append",
        ty: "func(i32, i32, i32) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, append).map(drop),
    },
    CoreImport {
        name: "truncate",
        ty: "func(i32, i64) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, truncate).map(drop),
    },
    CoreImport {
        name: "copy_from",
        ty: "func(i32, i32, i64, i64, i64) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, copy_from).map(drop),
    },
    CoreImport {
        name: "create",
        ty: "func(i64) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, create).map(drop),
    },
    CoreImport {
        name: "drop",
        ty: "func(i32) -> i64",
        link: |l, name| l.func_wrap(MODULE, name, drop_scratch).map(drop),
    },
    CoreImport {
        name: "args_size",
        ty: "func() -> i32",
        link: |l, name| l.func_wrap(MODULE, name, args_size).map(drop),
    },
    CoreImport {
        name: "args_get",
        ty: "func(i32) -> i32",
        link: |l, name| l.func_wrap(MODULE, name, args_get).map(drop),
    },
    CoreImport {
        name: "fail",
        ty: "func(i32, i32)",
        link: |l, name| l.func_wrap(MODULE, name, fail).map(drop),
    },
];

/// The exports a core guest must have, and their types (`memory`, or a
/// function's as in [`IMPORTS`]).
pub const EXPORTS: &[(&str, &str)] = &[("memory", "memory"), ("process", "func(i32, i32) -> i32")];

/// Adds the raw imports to a core-module linker.
pub(crate) fn add_to_linker(linker: &mut Linker<RunState>) -> wasmtime::Result<()> {
    IMPORTS
        .iter()
        .try_for_each(|import| (import.link)(linker, import.name))
}

/// A core import's or export's type as the tables write it:
/// `func(i32, i64) -> i64`, `func(i32, i32)`, `func() -> (i32, i32)`,
/// `memory`, `table`, `global`, `tag`.
pub(crate) fn type_text(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(f) => signature(f),
        ExternType::Memory(_) => "memory".into(),
        ExternType::Table(_) => "table".into(),
        ExternType::Global(_) => "global".into(),
        ExternType::Tag(_) => "tag".into(),
    }
}

fn signature(f: &FuncType) -> String {
    let list = |types: &mut dyn Iterator<Item = wasmtime::ValType>| {
        types.map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
    };
    let params = list(&mut f.params());
    match f.results().len() {
        0 => format!("func({params})"),
        1 => format!("func({params}) -> {}", list(&mut f.results())),
        _ => format!("func({params}) -> ({})", list(&mut f.results())),
    }
}

/// A refusal by the rules, as the negative number the ABI returns; a stop
/// traps.
fn code(result: Result<i64, Failure>) -> wasmtime::Result<i64> {
    match result {
        Ok(value) => Ok(value),
        Err(Failure::Refused(e)) => Ok(match e {
            BufferError::OutOfBounds(_) => -1,
            BufferError::LimitExceeded(_) => -2,
            BufferError::ReadOnly => -3,
            BufferError::QuotaExceeded(_) => -4,
        }),
        Err(Failure::Stopped(stop)) => Err(stop.into()),
    }
}

fn view(state: &mut RunState) -> BuffersView<'_> {
    BuffersView {
        buffers: &mut state.buffers,
        stats: &mut state.stats,
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

/// The guest's memory, the range `ptr..ptr + len` in it, and the run's state.
fn guest_bytes<'a>(
    caller: &'a mut Caller<'_, RunState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<(&'a mut [u8], Range<usize>, &'a mut RunState)> {
    let (memory, state) = memory_and_state(caller)?;
    let range = guest_range(memory, ptr, len)?;
    Ok((memory, range, state))
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

fn len(mut caller: Caller<'_, RunState>, h: i32) -> wasmtime::Result<i64> {
    Ok(view(caller.data_mut()).len(handle(h))? as i64)
}

fn limit(mut caller: Caller<'_, RunState>, h: i32) -> wasmtime::Result<i64> {
    Ok(view(caller.data_mut()).limit(handle(h))? as i64)
}

fn read(
    mut caller: Caller<'_, RunState>,
    h: i32,
    offset: i64,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<i64> {
    let (memory, dst, state) = guest_bytes(&mut caller, ptr, len)?;
    let n = dst.len() as u64;
    code(view(state).read(handle(h), unsigned(offset), n, |read| {
        read.copy_to(&mut memory[dst.start..dst.start + read.len()])?;
        Ok(read.len() as i64)
    }))
}

fn write(
    mut caller: Caller<'_, RunState>,
    h: i32,
    offset: i64,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<i64> {
    let (memory, src, state) = guest_bytes(&mut caller, ptr, len)?;
    code(
        view(state)
            .write(handle(h), unsigned(offset), &memory[src])
            .map(|()| 0),
    )
}

fn append(mut caller: Caller<'_, RunState>, h: i32, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let (memory, src, state) = guest_bytes(&mut caller, ptr, len)?;
    code(view(state).append(handle(h), &memory[src]).map(|()| 0))
}

fn truncate(mut caller: Caller<'_, RunState>, h: i32, len: i64) -> wasmtime::Result<i64> {
    let truncated = view(caller.data_mut()).truncate(handle(h), unsigned(len));
    code(truncated.map(|()| 0))
}

fn copy_from(
    mut caller: Caller<'_, RunState>,
    h: i32,
    src: i32,
    src_offset: i64,
    offset: i64,
    len: i64,
) -> wasmtime::Result<i64> {
    let (src_offset, offset, len) = (unsigned(src_offset), unsigned(offset), unsigned(len));
    let copied = view(caller.data_mut()).copy(handle(h), handle(src), src_offset, offset, len);
    // A count is at most a buffer's length, which fits in memory and so in an i64.
    code(copied.map(|count| count as i64))
}

fn create(mut caller: Caller<'_, RunState>, limit: i64) -> wasmtime::Result<i64> {
    let created = view(caller.data_mut()).create(unsigned(limit));
    code(created.map(|h| i64::from(h.to_raw())))
}

fn drop_scratch(mut caller: Caller<'_, RunState>, h: i32) -> wasmtime::Result<i64> {
    view(caller.data_mut()).drop_scratch(handle(h))?;
    Ok(0)
}

fn args_size(mut caller: Caller<'_, RunState>) -> wasmtime::Result<i32> {
    caller.data_mut().stats.record(Import::ArgsSize, 0);
    let size: usize = caller.data().core.args.iter().map(|a| a.len() + 1).sum();
    i32::try_from(size).map_err(|_| wasmtime::format_err!("the arguments do not fit in 2 GiB"))
}

fn args_get(mut caller: Caller<'_, RunState>, ptr: i32) -> wasmtime::Result<i32> {
    let (memory, state) = memory_and_state(&mut caller)?;
    state.stats.record(Import::ArgsGet, 0);
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
}

fn fail(mut caller: Caller<'_, RunState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    caller.data_mut().stats.record(Import::Fail, 0);
    let (memory, range, state) = guest_bytes(&mut caller, ptr, len)?;
    let kept = &memory[range.start..range.end.min(range.start + MAX_FAIL_MESSAGE)];
    state.core.failure = Some(String::from_utf8_lossy(kept).into_owned());
    Ok(())
}

#[cfg(test)]
mod tests {
    use wasmtime::{Engine, Store};

    use super::*;
    use crate::buffers::Buffers;
    use crate::state::Limiter;

    /// The table is what the linker has: each function with the table's type.
    #[test]
    fn the_linker_has_each_import_with_the_tables_type() {
        let engine = Engine::default();
        let mut linker = Linker::new(&engine);
        add_to_linker(&mut linker).unwrap();
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().build();
        let state = RunState::new(wasi, Buffers::new(0, 0, 0), Limiter::new(0));
        let mut store = Store::new(&engine, state);
        for import in IMPORTS {
            let linked = linker.get(&mut store, MODULE, import.name);
            let ty = linked.map(|e| type_text(&e.ty(&store))).ok();
            assert_eq!(ty.as_deref(), Some(import.ty), "{}", import.name);
        }
    }
}
