//! What a guest imports and exports, and whether it fits the host, item by
//! item: the library side of `bufbridge inspect`, and the explanation
//! `Host::load` gives for a guest that does not fit.
//!
//! # How fitting is decided
//!
//! The linker stays the judge: a guest fits exactly when `Host::load`
//! accepts it. But the linker stops at the first problem and names it in its
//! own terms, so the explanation is worked out here, by comparing the guest
//! with the WIT the host links:
//!
//! - A component is decoded into WIT (`wit_parser::decoding`). Each interface
//!   it imports is looked up, by name and with the linker's semver rule, in
//!   the world the host provides: `wasi:cli/imports` from the WASI p2 WIT
//!   that wasmtime-wasi's `bindgen!` reads (`add_to_linker_async` links that
//!   world; vendored in `host/wasi-wit/`) and the `stream-processor` world
//!   of `wit/` (`processor` plus `streams`), both embedded by `build.rs` (`crate::wit`). Every function and resource it imports must be there,
//!   with the same type under the linker's rules (structural types in which
//!   field, case and flag names count but parameter names don't; a resource
//!   is the one the interface that defines it names). Its `process` export
//!   must have the world's type. Importing a subset is fine.
//! - A core module's imports and exports (`Module::imports`/`exports`) are
//!   compared with the core ABI's table in `core_abi.rs`, which
//!   `wit/CORE_ABI.md` documents.
//!
//! Why the WIT: it is what the linker's definitions are generated from, it
//! lists everything the host provides (the linker cannot be asked), and it
//! names types, so an answer reads like the WIT its author wrote. The
//! default guest's own component type would not do: a component imports
//! only what it uses. `wit_drift.rs` checks that the linker accepts a
//! component made from this WIT, and that it refuses one in which any
//! function of the `stream-processor` world has another type, with `inspect`
//! naming exactly that function.
//!
//! Should the comparison find nothing where the linker refused, the linker's
//! own error is the problem reported: the explanation never says less than
//! the linker did.
//!
//! The jobs, one a file: `compare` (the structural WIT checker), `print`
//! (WIT text for listings and problems), `core` (core modules); the words
//! of the answer are `crate::report`'s, the host's WIT is `crate::wit`'s.

mod compare;
mod core;
mod print;

pub use crate::report::{Kind, Problem, Report, Verdict};

pub(crate) use self::core::{module_listing, module_problems};
pub(crate) use print::component_listing;

use wit_parser::decoding::{DecodedWasm, decode};

use crate::report::linker_problem;
use crate::wit::host_wit;
pub(crate) use compare::Compare;

/// Every import and export of the component `binary` that does not fit the
/// host; never empty (the linker refused it: that is why we are here).
pub(crate) fn component_problems(binary: &[u8], linker: &wasmtime::Error) -> Vec<Problem> {
    let mut problems = match decode(binary) {
        Ok(DecodedWasm::Component(resolve, world)) => {
            let wit = host_wit();
            Compare {
                host: &wit.resolve,
                host_world: wit.world,
                guest: &resolve,
            }
            .world(world)
        }
        Ok(DecodedWasm::WitPackage(..)) => vec![Problem {
            item: "the component".to_string(),
            expected: "a component that implements a world".to_string(),
            found: "a WIT package (types only, no code)".to_string(),
        }],
        Err(e) => vec![Problem {
            item: "the component".to_string(),
            expected: "imports and exports that WIT can describe".to_string(),
            found: format!("{e:#}"),
        }],
    };
    if problems.is_empty() || problems[0].item == "the component" {
        problems.push(linker_problem("the component", linker));
    }
    problems
}
