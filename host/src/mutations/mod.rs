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
//! `tests/all/contract.rs`: that the input's length is the input's size, and
//! that what the output holds becomes the run's output.
//!
//! The default guest then runs `selftest` under the limits it needs to skip
//! nothing (`--quota 1MiB --max-output 64KiB`); each broken host must fail
//! it with the check listed beside the mutation among the failed ones, and
//! the real host must pass. `cargo test --lib mutations -- --nocapture`
//! prints which check caught each mutation.

mod copy_from;
mod list;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceType};

use crate::bindings::bufbridge::buffers::buffers::BufferError as WitError;
use crate::buffers::Buffers;
use crate::component::{APPEND, BufferResource, WRITE};
use crate::handle::Handle;
use crate::rules::BufferError::ReadOnly;
use crate::run::{Host, HostOptions, Limits};
use crate::state::RunState;
use crate::stop::{Fault, Outcome, Stop};
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
        WRITE,
        move |mut s, (this, offset, bytes): (Res, u64, Vec<u8>)| {
            answer(f(data(&mut s), h(&this), offset, &bytes))
        },
    )
}

fn shadow_append(
    l: &mut Linker<RunState>,
    f: fn(&mut Buffers, Handle, &[u8]) -> Outcome<()>,
) -> wasmtime::Result<()> {
    l.instance(&interface("buffers"))?
        .func_wrap(APPEND, move |mut s, (this, bytes): (Res, Vec<u8>)| {
            answer(f(data(&mut s), h(&this), &bytes))
        })
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
    for mutation in list::MUTATIONS.iter().chain(copy_from::MUTATIONS) {
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
