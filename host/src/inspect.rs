//! What a guest imports and exports, and whether it fits the host, item by
//! item: the library side of `bufbridge inspect`, and the explanation
//! `Host::load` gives for a guest that does not fit.
//!
//! # How fitting is decided
//!
//! The linker stays the judge: a guest fits exactly when [`Host::load`]
//! accepts it. But the linker stops at the first problem and names it in its
//! own terms, so the explanation is worked out here, by comparing the guest
//! with the WIT the host links:
//!
//! - A component is decoded into WIT (`wit_parser::decoding`). Each interface
//!   it imports is looked up, by name and with the linker's semver rule, in
//!   the world the host provides: `wasi:cli/imports` from the WASI p2 WIT
//!   that wasmtime-wasi's `bindgen!` reads (`add_to_linker_async` links that
//!   world; vendored in `host/wasi-wit/`) and the `processor` world of
//!   `wit/`, both embedded by `build.rs` ([`host_wit`]). Every function and resource it imports must be there,
//!   with the same type under the linker's rules (structural types in which
//!   field, case and flag names count but parameter names don't; a resource
//!   is the one the interface that defines it names). Its `process` export
//!   must have the world's type. Importing a subset is fine.
//! - A core module is compared with the tables of `wit/CORE_ABI.md`
//!   ([`CORE_IMPORTS`], [`CORE_EXPORTS`]).
//!
//! Why the WIT: it is what the linker's definitions are generated from, it
//! lists everything the host provides (the linker cannot be asked), and it
//! names types, so an answer reads like the WIT its author wrote. The
//! default guest's own component type would not do: a component imports
//! only what it uses. `tests/drift.rs` checks that the linker accepts a
//! component made from this WIT, and that it refuses one in which any
//! function of the `processor` world has another type, with `inspect`
//! naming exactly that function.
//!
//! Should the comparison find nothing where the linker refused, the linker's
//! own error is the problem reported: the explanation never says less than
//! the linker did.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{
    Function, FunctionKind, Handle, InterfaceId, Resolve, SourceMap, Type, TypeDefKind, TypeId,
    TypeOwner, UnresolvedPackageGroup, WorldId, WorldItem, WorldKey,
};

use crate::error::LoadError;
use crate::run::Host;

include!(concat!(env!("OUT_DIR"), "/wit_sources.rs"));

/// What `inspect` found.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: Kind,
    /// The guest's imports and exports: WIT for a component; for a core
    /// module, one line each with its core type.
    pub listing: String,
    /// Empty when the guest fits.
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn fits(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    /// The listing, then the verdict with one line per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, how) = match self.kind {
            Kind::Component => ("component", "in WIT"),
            Kind::CoreModule => ("core module", "with their core types"),
        };
        writeln!(f, "A {what}. Its imports and exports, {how}:\n")?;
        writeln!(f, "{}", self.listing.trim_end())?;
        writeln!(f)?;
        let verdict = Verdict::new(self.kind, &self.problems).to_string();
        let mut chars = verdict.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase());
        writeln!(f, "{}{}", first.unwrap_or_default(), chars.as_str())
    }
}

/// A component, or a core module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Component,
    CoreModule,
}

/// One item that does not fit: a missing import or export, or one of the
/// wrong type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `import <interface>, <function>`, `export process`, ...
    pub item: String,
    /// What the host provides or needs there.
    pub expected: String,
    /// What the guest has there.
    pub found: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.item, self.expected, self.found
        )
    }
}

/// Whether a guest fits, and if not, each problem on a line of its own:
/// what `inspect` ends with and what a failed `Host::load` says.
pub struct Verdict<'a> {
    kind: Kind,
    problems: &'a [Problem],
}

impl<'a> Verdict<'a> {
    pub fn new(kind: Kind, problems: &'a [Problem]) -> Self {
        Verdict { kind, problems }
    }
}

impl fmt::Display for Verdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, contract) = match self.kind {
            Kind::Component => (
                "component",
                "the bufbridge `processor` world (wit/buffers.wit)",
            ),
            Kind::CoreModule => ("core module", "the bufbridge core ABI (wit/CORE_ABI.md)"),
        };
        if self.problems.is_empty() {
            return write!(f, "the {what} fits {contract}");
        }
        let n = self.problems.len();
        let s = if n == 1 { "" } else { "s" };
        write!(f, "the {what} does not fit {contract}; {n} problem{s}:")?;
        for problem in self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Lists what `wasm` (a component or a core module, binary or text) imports
/// and exports, and checks it the way [`Host::load`] does, explaining every
/// item that does not fit. Fails only for bytes that are not WebAssembly.
pub fn inspect(host: &Host, wasm: &[u8]) -> Result<Report, LoadError> {
    let binary = if wasm.starts_with(b"\0asm") {
        Cow::Borrowed(wasm)
    } else {
        let binary = wat::parse_bytes(wasm).map_err(|e| LoadError::Invalid(e.into()))?;
        Cow::Owned(binary.into_owned())
    };
    let problems = match host.load(&binary) {
        Ok(_) => Vec::new(),
        Err(
            LoadError::IncompatibleComponent(problems) | LoadError::IncompatibleModule(problems),
        ) => problems,
        Err(invalid @ LoadError::Invalid(_)) => return Err(invalid),
    };
    Ok(if wasmparser::Parser::is_component(&binary) {
        Report {
            kind: Kind::Component,
            listing: component_listing(&binary),
            problems,
        }
    } else {
        Report {
            kind: Kind::CoreModule,
            listing: module_listing(&binary),
            problems,
        }
    })
}

/// The problem the linker itself reported, for when the comparison found
/// none (it should not happen; if it does, the linker's word stands).
fn linker_problem(what: &str, linker: &wasmtime::Error) -> Problem {
    Problem {
        item: what.to_string(),
        expected: "imports the host's linker can satisfy".to_string(),
        found: format!("the linker's error: {linker:#}"),
    }
}

// ---------------------------------------------------------------- components

/// The world the host provides: as imports every interface its linker has
/// (`wasi:cli/imports` and the `processor` world's imports), as exports what
/// it calls (`process`). Parsed once from the WIT embedded at build time.
pub struct HostWit {
    pub resolve: Resolve,
    pub world: WorldId,
    /// The `processor` world of `wit/`, in the same `resolve`.
    pub processor: WorldId,
}

/// The host's WIT, parsed on first use.
pub fn host_wit() -> &'static HostWit {
    static WIT: OnceLock<HostWit> = OnceLock::new();
    WIT.get_or_init(|| {
        parse_host_wit().unwrap_or_else(|e| panic!("the host's embedded WIT does not parse: {e}"))
    })
}

fn parse_host_wit() -> Result<HostWit, String> {
    fn group(files: &[(&str, &str)]) -> Result<UnresolvedPackageGroup, String> {
        let mut map = SourceMap::new();
        for (name, text) in files {
            map.push_str(name, *text);
        }
        map.parse().map_err(|(_, e)| e.to_string())
    }
    let mut resolve = Resolve::new();
    let deps = WASI_WIT_DEPS
        .iter()
        .map(|file| group(std::slice::from_ref(file)))
        .collect::<Result<Vec<_>, _>>()?;
    resolve
        .push_groups(group(WASI_WIT_ROOT)?, deps)
        .map_err(|e| e.to_string())?;
    let buffers = resolve
        .push_group(group(BUFBRIDGE_WIT)?)
        .map_err(|e| e.to_string())?;
    let cli = resolve
        .packages
        .iter()
        .find(|(_, p)| p.name.namespace == "wasi" && p.name.name == "cli")
        .map(|(_, p)| p.name.clone())
        .ok_or("no wasi:cli package in wasmtime-wasi's WIT")?;
    let world_name = |name: &wit_parser::PackageName, world: &str| match &name.version {
        Some(v) => format!("{}:{}/{world}@{v}", name.namespace, name.name),
        None => format!("{}:{}/{world}", name.namespace, name.name),
    };
    let processor_name = world_name(&resolve.packages[buffers].name, "processor");
    let text = format!(
        "package bufbridge:host;\n\
         world host {{\n  include {};\n  include {processor_name};\n}}\n",
        world_name(&cli, "imports"),
    );
    let host = resolve
        .push_source("host.wit", &text)
        .map_err(|e| format!("{e:#}"))?;
    let world = resolve
        .select_world(&[host], Some("host"))
        .map_err(|e| format!("{e:#}"))?;
    let processor = resolve
        .select_world(&[buffers], Some("processor"))
        .map_err(|e| format!("{e:#}"))?;
    Ok(HostWit {
        resolve,
        world,
        processor,
    })
}

/// The component's world and the packages it uses, printed as WIT.
fn component_listing(binary: &[u8]) -> String {
    match decode(binary) {
        Ok(DecodedWasm::Component(resolve, world)) => print_world(&resolve, world)
            .unwrap_or_else(|e| format!("(its WIT cannot be printed: {e:#})")),
        Ok(DecodedWasm::WitPackage(..)) => "(a WIT package: types only, no code)".to_string(),
        Err(e) => format!("(its imports and exports cannot be described in WIT: {e:#})"),
    }
}

/// `world` and every package it uses, in WIT, without doc comments.
pub fn print_world(resolve: &Resolve, world: WorldId) -> Result<String, String> {
    let main = resolve.worlds[world]
        .package
        .ok_or("the world has no package")?;
    let nested: Vec<_> = resolve
        .topological_packages()
        .into_iter()
        .filter(|&p| p != main)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(false);
    printer
        .print(resolve, main, &nested)
        .map_err(|e| format!("{e:#}"))?;
    Ok(printer.output.to_string())
}

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

/// The host's WIT on one side, the guest's (decoded) on the other.
pub struct Compare<'a> {
    pub host: &'a Resolve,
    /// The world the host provides: what it links as imports, what it calls
    /// as exports.
    pub host_world: WorldId,
    pub guest: &'a Resolve,
}

impl Compare<'_> {
    /// What of the guest's world `guest` does not fit the host's world.
    pub fn world(&self, guest: WorldId) -> Vec<Problem> {
        let mut problems = Vec::new();
        let gw = &self.guest.worlds[guest];
        for (key, item) in &gw.imports {
            let name = self.guest.name_world_key(key);
            match item {
                WorldItem::Interface { id, .. } if matches!(key, WorldKey::Interface(_)) => {
                    problems.extend(self.import(*id))
                }
                WorldItem::Interface { .. } => problems.push(Problem {
                    item: format!("import {name}"),
                    expected: format!(
                        "interfaces with package names (the host provides no `{name}`)"
                    ),
                    found: "an interface of the component's own".to_string(),
                }),
                WorldItem::Function(f) => problems.push(Problem {
                    item: format!("import {name}"),
                    expected: format!(
                        "functions only inside interfaces (the host provides no `{name}`)"
                    ),
                    found: format!("`{}`", func_text(self.guest, f, false)),
                }),
                // A `use` of an interface's type; or a type of the world's
                // own, which the host cannot provide.
                WorldItem::Type { id, .. } => {
                    if !matches!(self.guest.types[*id].kind, TypeDefKind::Type(_)) {
                        problems.push(Problem {
                            item: format!("import {name}"),
                            expected: format!(
                                "types only inside interfaces (the host provides no `{name}`)"
                            ),
                            found: format!("a {}", self.guest.types[*id].kind.as_str()),
                        })
                    }
                }
            }
        }
        problems.extend(self.exports(guest));
        problems
    }

    /// What the host calls that the guest's world `guest` does not export
    /// with the host world's type.
    pub fn exports(&self, guest: WorldId) -> Vec<Problem> {
        let mut problems = Vec::new();
        let (hw, gw) = (
            &self.host.worlds[self.host_world],
            &self.guest.worlds[guest],
        );
        for (key, item) in &hw.exports {
            let (WorldKey::Name(name), WorldItem::Function(want)) = (key, item) else {
                continue;
            };
            let item_name = format!("export {name}");
            let expected = format!("`{}`", func_text(self.host, want, false));
            match gw.exports.get(key) {
                Some(WorldItem::Function(have)) => {
                    if let Some(p) = self.function(item_name, want, have) {
                        problems.push(p)
                    }
                }
                Some(WorldItem::Interface { .. }) => problems.push(Problem {
                    item: item_name,
                    expected,
                    found: "an interface".to_string(),
                }),
                Some(WorldItem::Type { .. }) => problems.push(Problem {
                    item: item_name,
                    expected,
                    found: "a type".to_string(),
                }),
                None => {
                    let others: Vec<String> = gw
                        .exports
                        .keys()
                        .map(|k| format!("`{}`", self.guest.name_world_key(k)))
                        .collect();
                    let found = if others.is_empty() {
                        "nothing: the component exports nothing".to_string()
                    } else {
                        format!("nothing: the component exports {}", others.join(", "))
                    };
                    problems.push(Problem {
                        item: item_name,
                        expected,
                        found,
                    })
                }
            }
        }
        problems
    }

    /// What of the guest's imported interface `id` the host lacks: the
    /// interface itself, or its resources and functions.
    pub fn import(&self, id: InterfaceId) -> Vec<Problem> {
        let mut problems = Vec::new();
        let name = self.guest.id_of(id).unwrap_or_default();
        let item = format!("import {name}");
        let host = match self.host_interface(id) {
            Ok(host) => host,
            Err((expected, found)) => {
                return vec![Problem {
                    item,
                    expected,
                    found,
                }];
            }
        };
        let (hi, gi) = (&self.host.interfaces[host], &self.guest.interfaces[id]);
        let host_name = self.host.id_of(host).unwrap_or_default();
        for (ty_name, &ty) in &gi.types {
            if !matches!(self.guest.types[ty].kind, TypeDefKind::Resource) {
                continue;
            }
            let matching = hi
                .types
                .get(ty_name)
                .is_some_and(|&h| self.same_resource(h, ty));
            if !matching {
                problems.push(Problem {
                    item: format!("{item}, resource {ty_name}"),
                    expected: format!(
                        "no such resource: the host's `{host_name}` has {}",
                        listed(
                            hi.types
                                .iter()
                                .filter(|&(_, &t)| {
                                    matches!(self.host.types[t].kind, TypeDefKind::Resource)
                                })
                                .map(|(n, _)| format!("`{n}`"))
                        )
                    ),
                    found: format!("resource `{ty_name}`"),
                });
            }
        }
        for (f_name, have) in &gi.functions {
            let f_item = format!("{item}, {}", func_name(self.guest, have));
            match hi.functions.get(f_name) {
                Some(want) => {
                    if let Some(p) = self.function(f_item, want, have) {
                        problems.push(p)
                    }
                }
                None => problems.push(Problem {
                    item: f_item,
                    expected: format!(
                        "no such function: the host's `{host_name}` has {}",
                        listed(
                            hi.functions
                                .values()
                                .map(|f| format!("`{}`", func_name(self.host, f)))
                        )
                    ),
                    found: format!("`{}`", func_text(self.guest, have, false)),
                }),
            }
        }
        problems
    }

    /// The host's interface for the guest's `id`: same namespace, package
    /// and name, a compatible version; or what to say instead.
    fn host_interface(&self, id: InterfaceId) -> Result<InterfaceId, (String, String)> {
        let gi = &self.guest.interfaces[id];
        let gp = &self.guest.packages[gi.package.expect("a named interface has a package")].name;
        let gname = gi.name.as_deref().unwrap_or_default();
        let provided = self.provided();
        let same_name: Vec<InterfaceId> = provided
            .iter()
            .copied()
            .filter(|&h| {
                let hi = &self.host.interfaces[h];
                let hp = &self.host.packages[hi.package.unwrap()].name;
                hp.namespace == gp.namespace
                    && hp.name == gp.name
                    && hi.name.as_deref() == Some(gname)
            })
            .collect();
        if let Some(&host) = same_name.iter().find(|&&h| {
            let hp = &self.host.packages[self.host.interfaces[h].package.unwrap()].name;
            compatible(hp.version.as_ref(), gp.version.as_ref())
        }) {
            return Ok(host);
        }
        let found_version = gp
            .version
            .as_ref()
            .map_or("no version".to_string(), |v| format!("version {v}"));
        if !same_name.is_empty() {
            let versions = listed(
                same_name
                    .iter()
                    .map(|&h| format!("`{}`", self.host.id_of(h).unwrap_or_default())),
            );
            return Err((
                format!("a version compatible with {versions}"),
                found_version,
            ));
        }
        let same_package: BTreeSet<String> = provided
            .iter()
            .filter(|&&h| {
                let hp = &self.host.packages[self.host.interfaces[h].package.unwrap()].name;
                hp.namespace == gp.namespace && hp.name == gp.name
            })
            .map(|&h| format!("`{}`", self.host.id_of(h).unwrap_or_default()))
            .collect();
        let expected = if same_package.is_empty() {
            let packages: BTreeSet<String> = provided
                .iter()
                .map(|&h| {
                    let p = &self.host.packages[self.host.interfaces[h].package.unwrap()].name;
                    format!("`{p}`")
                })
                .collect();
            format!(
                "an interface the host provides, from {}",
                listed(packages.into_iter())
            )
        } else {
            format!(
                "an interface the host provides: {}",
                listed(same_package.into_iter())
            )
        };
        Err((
            expected,
            "an interface the host does not provide".to_string(),
        ))
    }

    /// The interfaces the host world imports.
    fn provided(&self) -> Vec<InterfaceId> {
        self.host.worlds[self.host_world]
            .imports
            .iter()
            .filter_map(|(key, item)| match (key, item) {
                (WorldKey::Interface(_), WorldItem::Interface { id, .. }) => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// `None` when `have` has the type of `want`; else the problem.
    pub fn function(&self, item: String, want: &Function, have: &Function) -> Option<Problem> {
        if self.same_function(want, have) {
            return None;
        }
        let (mut expected, mut found) = (
            func_text(self.host, want, false),
            func_text(self.guest, have, false),
        );
        if expected == found {
            // Same names, different types: spell the types out, and say
            // which interface each resource comes from.
            expected = func_text(self.host, want, true);
            found = func_text(self.guest, have, true);
        }
        Some(Problem {
            item,
            expected: format!("`{expected}`"),
            found: format!("`{found}`"),
        })
    }

    fn same_function(&self, want: &Function, have: &Function) -> bool {
        is_async(&want.kind) == is_async(&have.kind)
            && want.params.len() == have.params.len()
            && want
                .params
                .iter()
                .zip(&have.params)
                .all(|(w, h)| self.same_type(w.ty, h.ty))
            && self.same_opt(want.result, have.result)
    }

    fn same_opt(&self, want: Option<Type>, have: Option<Type>) -> bool {
        match (want, have) {
            (None, None) => true,
            (Some(w), Some(h)) => self.same_type(w, h),
            _ => false,
        }
    }

    fn same_type(&self, want: Type, have: Type) -> bool {
        match (dealias(self.host, want), dealias(self.guest, have)) {
            (Type::Id(w), Type::Id(h)) => self.same_def(w, h),
            (Type::Id(_), _) | (_, Type::Id(_)) => false,
            (w, h) => w == h,
        }
    }

    fn same_def(&self, want: TypeId, have: TypeId) -> bool {
        use TypeDefKind as K;
        let types = |a: &[Type], b: &[Type]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| self.same_type(*x, *y))
        };
        match (&self.host.types[want].kind, &self.guest.types[have].kind) {
            (K::Record(w), K::Record(h)) => {
                w.fields.len() == h.fields.len()
                    && w.fields
                        .iter()
                        .zip(&h.fields)
                        .all(|(w, h)| w.name == h.name && self.same_type(w.ty, h.ty))
            }
            (K::Resource, K::Resource) => self.same_resource(want, have),
            (K::Handle(Handle::Own(w)), K::Handle(Handle::Own(h)))
            | (K::Handle(Handle::Borrow(w)), K::Handle(Handle::Borrow(h))) => {
                self.same_resource(*w, *h)
            }
            (K::Flags(w), K::Flags(h)) => {
                w.flags.len() == h.flags.len()
                    && w.flags.iter().zip(&h.flags).all(|(w, h)| w.name == h.name)
            }
            (K::Tuple(w), K::Tuple(h)) => types(&w.types, &h.types),
            (K::Variant(w), K::Variant(h)) => {
                w.cases.len() == h.cases.len()
                    && w.cases
                        .iter()
                        .zip(&h.cases)
                        .all(|(w, h)| w.name == h.name && self.same_opt(w.ty, h.ty))
            }
            (K::Enum(w), K::Enum(h)) => {
                w.cases.len() == h.cases.len()
                    && w.cases.iter().zip(&h.cases).all(|(w, h)| w.name == h.name)
            }
            (K::Option(w), K::Option(h)) | (K::List(w), K::List(h)) => self.same_type(*w, *h),
            (K::Result(w), K::Result(h)) => {
                self.same_opt(w.ok, h.ok) && self.same_opt(w.err, h.err)
            }
            (K::Map(wk, wv), K::Map(hk, hv)) => {
                self.same_type(*wk, *hk) && self.same_type(*wv, *hv)
            }
            (K::FixedLengthList(w, wn), K::FixedLengthList(h, hn)) => {
                wn == hn && self.same_type(*w, *h)
            }
            (K::Future(w), K::Future(h)) | (K::Stream(w), K::Stream(h)) => self.same_opt(*w, *h),
            (K::Type(_), _) | (_, K::Type(_)) => self.same_type(Type::Id(want), Type::Id(have)),
            _ => false,
        }
    }

    /// Resources are nominal: the same name in the same interface (by name,
    /// with a compatible version), as the linker looks them up.
    fn same_resource(&self, want: TypeId, have: TypeId) -> bool {
        match (
            resource_origin(self.host, want),
            resource_origin(self.guest, have),
        ) {
            (Some((wi, wn)), Some((hi, hn))) => {
                let (wi, hi) = (&self.host.interfaces[wi], &self.guest.interfaces[hi]);
                let (Some(wp), Some(hp)) = (wi.package, hi.package) else {
                    return false;
                };
                let (wp, hp) = (&self.host.packages[wp].name, &self.guest.packages[hp].name);
                wn == hn
                    && wi.name == hi.name
                    && wp.namespace == hp.namespace
                    && wp.name == hp.name
                    && compatible(wp.version.as_ref(), hp.version.as_ref())
            }
            _ => false,
        }
    }
}

/// Whether the linker finds an item of version `host` under `guest`: equal,
/// or on the same semver track (wasmtime's `alternate_lookup_key`: same
/// major, or `0.minor` for `0.x`; nothing matches `0.0.x` or a prerelease
/// but itself).
fn compatible(host: Option<&semver::Version>, guest: Option<&semver::Version>) -> bool {
    fn track(v: &semver::Version) -> Option<(u64, u64)> {
        if !v.pre.is_empty() {
            None
        } else if v.major != 0 {
            Some((v.major, 0))
        } else if v.minor != 0 {
            Some((0, v.minor))
        } else {
            None
        }
    }
    match (host, guest) {
        (None, None) => true,
        (Some(h), Some(g)) => h == g || track(h).is_some_and(|t| Some(t) == track(g)),
        _ => false,
    }
}

fn is_async(kind: &FunctionKind) -> bool {
    matches!(
        kind,
        FunctionKind::AsyncFreestanding
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::AsyncStatic(_)
    )
}

/// Follows `type a = b` to what `b` is.
fn dealias(resolve: &Resolve, mut ty: Type) -> Type {
    while let Type::Id(id) = ty {
        match resolve.types[id].kind {
            TypeDefKind::Type(inner) => ty = inner,
            _ => break,
        }
    }
    ty
}

/// The interface that defines resource `id`, and its name there.
fn resource_origin(resolve: &Resolve, id: TypeId) -> Option<(InterfaceId, &str)> {
    let Type::Id(id) = dealias(resolve, Type::Id(id)) else {
        return None;
    };
    let def = &resolve.types[id];
    match (&def.kind, def.owner, &def.name) {
        (TypeDefKind::Resource, TypeOwner::Interface(i), Some(name)) => Some((i, name)),
        _ => None,
    }
}

/// `a`, `a and b`, `a, b and c`; `nothing` for none.
fn listed(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A function as a WIT author names it: `read`, `buffer.read`,
/// `buffer.constructor`.
fn func_name(resolve: &Resolve, f: &Function) -> String {
    match f.kind {
        FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => f.name.clone(),
        FunctionKind::Method(r)
        | FunctionKind::AsyncMethod(r)
        | FunctionKind::Static(r)
        | FunctionKind::AsyncStatic(r)
        | FunctionKind::Constructor(r) => format!(
            "{}.{}",
            resolve.types[r].name.as_deref().unwrap_or("?"),
            f.item_name()
        ),
    }
}

/// `func(a: T) -> R` as WIT writes it (a method without its `self`). With
/// `spelled_out`, named types are given with their definitions and resources
/// with the interface that defines them.
fn func_text(resolve: &Resolve, f: &Function, spelled_out: bool) -> String {
    let skip = usize::from(
        matches!(
            f.kind,
            FunctionKind::Method(_) | FunctionKind::AsyncMethod(_)
        ) && !spelled_out,
    );
    let params: Vec<String> = f
        .params
        .iter()
        .skip(skip)
        .map(|p| format!("{}: {}", p.name, type_text(resolve, p.ty, spelled_out)))
        .collect();
    let prefix = if is_async(&f.kind) {
        "async func"
    } else {
        "func"
    };
    let mut text = format!("{prefix}({})", params.join(", "));
    if let Some(result) = f.result {
        text.push_str(" -> ");
        text.push_str(&type_text(resolve, result, spelled_out));
    }
    text
}

fn type_text(resolve: &Resolve, ty: Type, spelled_out: bool) -> String {
    let id = match ty {
        Type::Bool => return "bool".into(),
        Type::U8 => return "u8".into(),
        Type::U16 => return "u16".into(),
        Type::U32 => return "u32".into(),
        Type::U64 => return "u64".into(),
        Type::S8 => return "s8".into(),
        Type::S16 => return "s16".into(),
        Type::S32 => return "s32".into(),
        Type::S64 => return "s64".into(),
        Type::F32 => return "f32".into(),
        Type::F64 => return "f64".into(),
        Type::Char => return "char".into(),
        Type::String => return "string".into(),
        Type::ErrorContext => return "error-context".into(),
        Type::Id(id) => id,
    };
    let t = |ty: Type| type_text(resolve, ty, spelled_out);
    let opt = |ty: Option<Type>| ty.map_or("_".to_string(), t);
    let def = &resolve.types[id];
    let name = def.name.as_deref();
    let body = match &def.kind {
        TypeDefKind::Resource => {
            let name = name.unwrap_or("?");
            return match (spelled_out, def.owner) {
                (true, TypeOwner::Interface(i)) => match resolve.id_of(i) {
                    Some(iface) => format!("{iface}.{name}"),
                    None => format!("{name} (of an interface of the component's own)"),
                },
                (true, TypeOwner::World(_)) => format!("{name} (of the component's own)"),
                _ => name.to_string(),
            };
        }
        TypeDefKind::Handle(Handle::Own(r)) => return t(Type::Id(*r)),
        TypeDefKind::Handle(Handle::Borrow(r)) => return format!("borrow<{}>", t(Type::Id(*r))),
        TypeDefKind::Type(inner) => match name {
            Some(name) if !spelled_out => return name.to_string(),
            _ => return t(*inner),
        },
        TypeDefKind::Option(ty) => format!("option<{}>", t(*ty)),
        TypeDefKind::List(ty) => format!("list<{}>", t(*ty)),
        TypeDefKind::FixedLengthList(ty, n) => format!("list<{}, {n}>", t(*ty)),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", t(*k), t(*v)),
        TypeDefKind::Future(ty) => ty.map_or("future".into(), |ty| format!("future<{}>", t(ty))),
        TypeDefKind::Stream(ty) => ty.map_or("stream".into(), |ty| format!("stream<{}>", t(ty))),
        TypeDefKind::Result(r) => match (r.ok, r.err) {
            (None, None) => "result".to_string(),
            (Some(ok), None) => format!("result<{}>", t(ok)),
            (ok, Some(err)) => format!("result<{}, {}>", opt(ok), t(err)),
        },
        TypeDefKind::Tuple(tuple) => format!(
            "tuple<{}>",
            tuple
                .types
                .iter()
                .map(|ty| t(*ty))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Record(r) => format!(
            "record {{ {} }}",
            r.fields
                .iter()
                .map(|f| format!("{}: {}", f.name, t(f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Variant(v) => format!(
            "variant {{ {} }}",
            v.cases
                .iter()
                .map(|c| match c.ty {
                    Some(ty) => format!("{}({})", c.name, t(ty)),
                    None => c.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Enum(e) => format!(
            "enum {{ {} }}",
            e.cases
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Flags(fl) => format!(
            "flags {{ {} }}",
            fl.flags
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Unknown => "?".to_string(),
    };
    match name {
        // A named type: by its name, or, spelled out, `name: definition`.
        Some(name) if spelled_out => format!("{name} = {body}"),
        Some(name) => name.to_string(),
        None => body,
    }
}

// -------------------------------------------------------------- core modules

/// The module every import of a core guest comes from (wit/CORE_ABI.md).
pub const CORE_MODULE: &str = crate::core_abi::MODULE;

/// The imports of the core ABI (wit/CORE_ABI.md) and their types (the
/// table's signatures without the parameter names); a module may import any
/// of them.
pub const CORE_IMPORTS: &[(&str, &str)] = &[
    ("len", "func(i32) -> i64"),
    ("limit", "func(i32) -> i64"),
    ("read", "func(i32, i64, i32, i32) -> i64"),
    ("write", "func(i32, i64, i32, i32) -> i64"),
    ("append", "func(i32, i32, i32) -> i64"),
    ("truncate", "func(i32, i64) -> i64"),
    ("copy_from", "func(i32, i32, i64, i64, i64) -> i64"),
    ("create", "func(i64) -> i64"),
    ("drop", "func(i32) -> i64"),
    ("args_size", "func() -> i32"),
    ("args_get", "func(i32) -> i32"),
    ("fail", "func(i32, i32)"),
];

/// The exports a core guest must have (wit/CORE_ABI.md).
pub const CORE_EXPORTS: &[(&str, &str)] =
    &[("memory", "memory"), ("process", "func(i32, i32) -> i32")];

/// A core module's import or export, with its type as [`CORE_IMPORTS`]
/// writes it (`func(i32) -> i64`, `memory`, `table`, `global`, `tag`).
struct CoreItem {
    module: Option<String>,
    name: String,
    ty: String,
}

/// The imports and exports of the core module `binary`.
fn core_items(binary: &[u8]) -> Result<(Vec<CoreItem>, Vec<CoreItem>), String> {
    use wasmparser::{CompositeInnerType, ExternalKind, Payload, TypeRef};
    let mut types: Vec<Option<String>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let func_text = |types: &[Option<String>], index: u32| {
        types
            .get(index as usize)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "a function of a non-function type".to_string())
    };
    for payload in wasmparser::Parser::new(0).parse_all(binary) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(|e| e.to_string())?.into_types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(signature(f)),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    let ty = match import.ty {
                        TypeRef::Func(i) | TypeRef::FuncExact(i) => {
                            funcs.push(i);
                            func_text(&types, i)
                        }
                        TypeRef::Memory(_) => "memory".into(),
                        TypeRef::Table(_) => "table".into(),
                        TypeRef::Global(_) => "global".into(),
                        TypeRef::Tag(_) => "tag".into(),
                    };
                    imports.push(CoreItem {
                        module: Some(import.module.to_string()),
                        name: import.name.to_string(),
                        ty,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    funcs.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    let ty = match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => funcs
                            .get(export.index as usize)
                            .map_or("a function".to_string(), |&t| func_text(&types, t)),
                        ExternalKind::Memory => "memory".into(),
                        ExternalKind::Table => "table".into(),
                        ExternalKind::Global => "global".into(),
                        ExternalKind::Tag => "tag".into(),
                    };
                    exports.push(CoreItem {
                        module: None,
                        name: export.name.to_string(),
                        ty,
                    });
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

/// `func(i32, i64) -> i64`, `func(i32, i32)`, `func() -> (i32, i32)`.
fn signature(f: &wasmparser::FuncType) -> String {
    let list = |types: &[wasmparser::ValType]| {
        types
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match f.results() {
        [] => format!("func({})", list(f.params())),
        [one] => format!("func({}) -> {one}", list(f.params())),
        many => format!("func({}) -> ({})", list(f.params()), list(many)),
    }
}

fn module_listing(binary: &[u8]) -> String {
    let (imports, exports) = match core_items(binary) {
        Ok(items) => items,
        Err(e) => return format!("(cannot be read: {e})"),
    };
    let mut text = String::from("imports:\n");
    if imports.is_empty() {
        text.push_str("  (none)\n");
    }
    for item in &imports {
        let module = item.module.as_deref().unwrap_or_default();
        text.push_str(&format!("  {module:?} {:?}: {}\n", item.name, item.ty));
    }
    text.push_str("exports:\n");
    if exports.is_empty() {
        text.push_str("  (none)\n");
    }
    for item in &exports {
        text.push_str(&format!("  {}: {}\n", item.name, item.ty));
    }
    text
}

/// Every import and export of the core module `binary` that does not fit
/// the core ABI; never empty (it was refused).
pub(crate) fn module_problems(binary: &[u8], refusal: &wasmtime::Error) -> Vec<Problem> {
    let mut problems = Vec::new();
    match core_items(binary) {
        Ok((imports, exports)) => {
            for import in &imports {
                let module = import.module.as_deref().unwrap_or_default();
                let item = format!("import {module:?} {:?}", import.name);
                if module != CORE_MODULE {
                    problems.push(Problem {
                        item,
                        expected: format!("imports from `{CORE_MODULE}` only"),
                        found: format!("an import from `{module}`"),
                    });
                    continue;
                }
                match CORE_IMPORTS.iter().find(|(name, _)| *name == import.name) {
                    Some((_, ty)) if *ty == import.ty => {}
                    Some((_, ty)) => problems.push(Problem {
                        item,
                        expected: format!("`{ty}`"),
                        found: format!("`{}`", import.ty),
                    }),
                    None => problems.push(Problem {
                        item,
                        expected: format!(
                            "one of the ABI's functions ({})",
                            CORE_IMPORTS
                                .iter()
                                .map(|(name, _)| *name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        found: format!("`{}` ({})", import.name, import.ty),
                    }),
                }
            }
            for (name, ty) in CORE_EXPORTS {
                let item = format!("export {name}");
                match exports.iter().find(|e| e.name == *name) {
                    Some(e) if e.ty == *ty => {}
                    Some(e) => problems.push(Problem {
                        item,
                        expected: format!("`{ty}`"),
                        found: format!("`{}`", e.ty),
                    }),
                    None => problems.push(Problem {
                        item,
                        expected: format!("`{ty}`"),
                        found: "nothing: the module has no such export".to_string(),
                    }),
                }
            }
        }
        Err(e) => problems.push(Problem {
            item: "the core module".to_string(),
            expected: "a module whose sections can be read".to_string(),
            found: e,
        }),
    }
    if problems.is_empty() {
        problems.push(linker_problem("the core module", refusal));
    }
    problems
}
