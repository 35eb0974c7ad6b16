//! Drift between the host's linker, the WIT `inspect` judges by and the
//! default guest: the checks of `tests/all/drift.rs` that need the host's
//! parsed WIT and its structural checker, which are the crate's own (no
//! wit-parser type is in its public API). Test-only, like `mutations.rs`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{
    InterfaceId, ManglingAndAbi, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey,
};

use crate::inspect::Compare;
use crate::report::Problem;
use crate::wit::host_wit;
use crate::{DEFAULT_GUEST, Host, LoadError};

/// One host for all the checks.
fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new().expect("start the host"))
}

/// The repository's root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A component of `world` whose functions do nothing: made from the WIT
/// alone, it imports every function of the world.
fn component_of(resolve: &Resolve, world: WorldId) -> Vec<u8> {
    let mut module = wit_component::dummy_module(resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, resolve, world, StringEncoding::UTF8)
        .expect("embed the world");
    ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .expect("encode a component of the world")
}

/// The problems `Host::load` finds in `wasm`; none if it loads.
fn load_problems(wasm: &[u8]) -> Vec<Problem> {
    match host().load(wasm) {
        Ok(_) => Vec::new(),
        Err(
            LoadError::IncompatibleComponent(problems) | LoadError::IncompatibleModule(problems),
        ) => problems,
        Err(e) => panic!("not valid WebAssembly: {e}"),
    }
}

/// `wit/` as it is in the repository now, and its `processor` world.
fn repo_wit() -> (Resolve, WorldId) {
    repo_world("processor")
}

/// `wit/` as it is in the repository now, and its world `name`.
fn repo_world(name: &str) -> (Resolve, WorldId) {
    let mut resolve = Resolve::new();
    let (package, _) = resolve.push_dir(repo().join("wit")).expect("wit/ parses");
    let world = resolve
        .select_world(&[package], Some(name))
        .unwrap_or_else(|e| panic!("wit/ has no world {name}: {e}"));
    (resolve, world)
}

fn decoded_default_guest() -> (Resolve, WorldId) {
    match decode(DEFAULT_GUEST).expect("the default guest decodes") {
        DecodedWasm::Component(resolve, world) => (resolve, world),
        DecodedWasm::WitPackage(..) => panic!("the default guest is a WIT package"),
    }
}

/// The interfaces `world` imports, by name (`bufbridge:buffers/buffers@0.1.0`).
fn imported_interfaces(resolve: &Resolve, world: WorldId) -> Vec<(String, InterfaceId)> {
    resolve.worlds[world]
        .imports
        .iter()
        .filter_map(|(key, item)| match (key, item) {
            (WorldKey::Interface(_), WorldItem::Interface { id, .. }) => {
                Some((resolve.id_of(*id).unwrap(), *id))
            }
            _ => None,
        })
        .collect()
}

/// The names of the functions and resources of interface `id`.
fn items(resolve: &Resolve, id: InterfaceId) -> BTreeSet<String> {
    let interface = &resolve.interfaces[id];
    let resources = interface
        .types
        .iter()
        .filter(|(_, ty)| matches!(resolve.types[**ty].kind, TypeDefKind::Resource))
        .map(|(name, _)| format!("resource {name}"));
    interface
        .functions
        .keys()
        .cloned()
        .chain(resources)
        .collect()
}

/// wit/ ≡ the default guest: it imports every interface, function and
/// resource of the `processor` world, each with the world's type, nothing
/// else of `bufbridge:` (so not `streams`: a guest that imports it runs on
/// the engine with concurrency support, where every other call costs
/// more), and exports `process` with the world's type.
#[test]
fn the_default_guest_imports_the_processor_world_exactly() {
    let (wit, processor) = repo_wit();
    let (guest, guest_world) = decoded_default_guest();
    let compare = Compare {
        host: &wit,
        host_world: processor,
        guest: &guest,
    };
    let guest_imports = imported_interfaces(&guest, guest_world);
    let world_imports = imported_interfaces(&wit, processor);

    for (name, id) in &world_imports {
        let Some((_, guest_id)) = guest_imports.iter().find(|(n, _)| n == name) else {
            panic!(
                "the default guest does not import `{name}` of the processor world: \
                 make guest/ call it (its selftest checks every function)"
            );
        };
        let (want, have) = (items(&wit, *id), items(&guest, *guest_id));
        let missing: Vec<_> = want.difference(&have).collect();
        assert!(
            missing.is_empty(),
            "the default guest does not import {missing:?} of `{name}`: \
             make guest/ call them (its selftest checks every function)"
        );
        let problems = compare.import(*guest_id);
        assert!(
            problems.is_empty(),
            "the default guest imports `{name}` with other types than wit/ has:\n{problems:#?}"
        );
    }
    for (name, _) in &guest_imports {
        if name.starts_with("bufbridge:") {
            assert!(
                world_imports.iter().any(|(n, _)| n == name),
                "the default guest imports `{name}`, which the processor world in wit/ does not"
            );
        }
    }
    let problems = compare.exports(guest_world);
    assert!(
        problems.is_empty(),
        "the default guest's exports differ from the processor world in wit/:\n{problems:#?}"
    );
}

/// `processor` mentions no `stream` or `future` type, so toolchains without
/// the component model's async types build for it (componentize-js 0.23
/// stops with an internal error on a world that merely imports one;
/// wit-bindgen wants its `async` feature): `streams` stays in its own world.
#[test]
fn the_processor_world_has_no_async_types() {
    let (wit, processor) = repo_wit();
    let mut found = Vec::new();
    for (name, id) in imported_interfaces(&wit, processor) {
        for (ty_name, ty) in &wit.interfaces[id].types {
            if mentions_async(&wit, Type::Id(*ty)) {
                found.push(format!("{name}, type {ty_name}"));
            }
        }
        for f in wit.interfaces[id].functions.values() {
            let mut types = f.params.iter().map(|p| p.ty).chain(f.result);
            if types.any(|ty| mentions_async(&wit, ty)) {
                found.push(format!("{name}, {}", display_name(&f.name)));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the processor world mentions stream/future types: {found:?}"
    );
    let (wit, streams) = repo_world("stream-processor");
    assert!(
        imported_interfaces(&wit, streams)
            .iter()
            .any(|(n, _)| crate::wit::interface_name("streams").as_ref() == Some(n)),
        "stream-processor imports streams"
    );
}

/// wit/ ≡ the WIT `inspect` compares with, which build.rs embeds.
#[test]
fn inspect_judges_by_the_wit_in_the_repository() {
    let (wit, processor) = repo_wit();
    let embedded = host_wit();
    // The package of the processor world, printed as WIT.
    let print = |resolve: &Resolve, world: WorldId| {
        let mut printer = wit_component::WitPrinter::default();
        let package = resolve.worlds[world].package.unwrap();
        printer.print(resolve, package, &[]).expect("print WIT");
        printer.output.to_string()
    };
    assert_eq!(
        print(&embedded.resolve, embedded.stream_processor),
        print(&wit, processor)
    );
}

/// The WIT `inspect` uses ≡ the linker, one way: everything that WIT says
/// the host provides (WASI p2's `wasi:cli/imports` and the
/// `stream-processor` world), the linker has with that type.
#[test]
fn the_host_links_everything_its_wit_declares() {
    let wit = host_wit();
    let everything = component_of(&wit.resolve, wit.world);
    let problems = load_problems(&everything);
    assert!(
        problems.is_empty(),
        "the host does not link what its WIT declares:\n{problems:#?}"
    );
    let report = host().inspect(&everything).unwrap();
    assert!(report.fits(), "{report}");
}

/// The name of a function as `inspect` gives it: `buffer.len`, `sha256`.
fn display_name(name: &str) -> String {
    name.strip_prefix("[method]")
        .or_else(|| name.strip_prefix("[static]"))
        .map(str::to_string)
        .or_else(|| {
            name.strip_prefix("[constructor]")
                .map(|r| format!("{r}.constructor"))
        })
        .unwrap_or_else(|| name.to_string())
}

/// The linker ≡ the WIT `inspect` uses, the other way: alter any one
/// function of the `stream-processor` world (`processor` plus `streams`)
/// and the linker refuses the component,
/// and `inspect` names exactly that function. So the host has each one with
/// exactly the WIT's type, and the comparison sees what the linker sees.
#[test]
fn the_host_checks_every_function_of_both_worlds() {
    let wit = host_wit();
    let world = wit.stream_processor;
    assert_eq!(
        load_problems(&component_of(&wit.resolve, world)),
        vec![],
        "the stream-processor world as it is loads"
    );
    let mut cases = Vec::new();
    for (name, id) in imported_interfaces(&wit.resolve, world) {
        for function in wit.resolve.interfaces[id].functions.keys() {
            let mut resolve = wit.resolve.clone();
            let f = resolve.interfaces[id].functions.get_mut(function).unwrap();
            f.result = Some(Type::Bool);
            cases.push((
                format!("import {name}, {}", display_name(function)),
                resolve,
            ));
        }
    }
    let mut resolve = wit.resolve.clone();
    let process = resolve.worlds[world]
        .exports
        .get_mut(&WorldKey::Name("process".into()))
        .expect("the world exports process");
    let WorldItem::Function(process) = process else {
        panic!("process is a function");
    };
    process.result = Some(Type::Bool);
    cases.push(("export process".to_string(), resolve));
    assert!(
        cases.len() >= 10,
        "every function of the world: {}",
        cases.len()
    );

    for (item, resolve) in cases {
        let problems = load_problems(&component_of(&resolve, world));
        assert_eq!(problems.len(), 1, "{item}: {problems:#?}");
        assert_eq!(problems[0].item, item);
        assert!(problems[0].found.ends_with("-> bool`"), "{:?}", problems[0]);
    }
}

/// A type altered where a function uses it, same names everywhere: the
/// explanation spells out the types so the difference shows.
#[test]
fn a_type_that_differs_under_the_same_name_is_spelled_out() {
    let wit = host_wit();
    let mut resolve = wit.resolve.clone();
    let error = resolve
        .types
        .iter()
        .find(|(_, ty)| ty.name.as_deref() == Some("buffer-error"))
        .map(|(id, _)| id)
        .expect("wit/ defines buffer-error");
    let TypeDefKind::Variant(variant) = &mut resolve.types[error].kind else {
        panic!("buffer-error is a variant");
    };
    let case = variant
        .cases
        .iter_mut()
        .find(|c| c.name == "read-only")
        .expect("buffer-error has read-only");
    case.name = "readonly".into();

    let problems = load_problems(&component_of(&resolve, wit.stream_processor));
    let items: BTreeSet<String> = problems.iter().map(|p| p.item.clone()).collect();
    // Every function whose type uses buffer-error, and only those.
    let want: BTreeSet<String> = imported_interfaces(&resolve, wit.stream_processor)
        .into_iter()
        .flat_map(|(name, id)| {
            let resolve = &resolve;
            resolve.interfaces[id]
                .functions
                .values()
                .filter(move |f| {
                    let mut types = f.params.iter().map(|p| p.ty).chain(f.result);
                    types.any(|ty| uses(resolve, ty, error))
                })
                .map(move |f| format!("import {name}, {}", display_name(&f.name)))
        })
        .collect();
    for item in [
        "import bufbridge:buffers/buffers@0.1.0, buffer.read",
        "import bufbridge:buffers/digest@0.1.0, sha256",
    ] {
        assert!(want.contains(item), "{item} uses buffer-error: {want:?}");
    }
    assert_eq!(items, want, "{problems:#?}");
    for p in &problems {
        assert!(
            p.expected.contains("buffer-error = variant {") && p.expected.contains(", read-only,"),
            "{p}"
        );
        assert!(p.found.contains(", readonly,"), "{p}");
    }
}

/// Whether `ty` is or contains the type `target` (through aliases, lists,
/// results, ...).
fn uses(resolve: &Resolve, ty: Type, target: wit_parser::TypeId) -> bool {
    reaches(resolve, ty, &|id| id == target)
}

/// Whether `ty` is or contains a `stream` or `future` type.
fn mentions_async(resolve: &Resolve, ty: Type) -> bool {
    reaches(resolve, ty, &|id| {
        matches!(
            resolve.types[id].kind,
            TypeDefKind::Stream(_) | TypeDefKind::Future(_)
        )
    })
}

/// Whether `ty` or a type it contains is one `hit` picks.
fn reaches(resolve: &Resolve, ty: Type, hit: &dyn Fn(wit_parser::TypeId) -> bool) -> bool {
    let Type::Id(id) = ty else {
        return false;
    };
    if hit(id) {
        return true;
    }
    let go = |ty: Type| reaches(resolve, ty, hit);
    let opt = |ty: &Option<Type>| ty.is_some_and(go);
    match &resolve.types[id].kind {
        TypeDefKind::Type(ty)
        | TypeDefKind::List(ty)
        | TypeDefKind::Option(ty)
        | TypeDefKind::FixedLengthList(ty, _) => go(*ty),
        TypeDefKind::Result(r) => opt(&r.ok) || opt(&r.err),
        TypeDefKind::Tuple(t) => t.types.iter().any(|ty| go(*ty)),
        TypeDefKind::Record(r) => r.fields.iter().any(|f| go(f.ty)),
        TypeDefKind::Variant(v) => v.cases.iter().any(|c| opt(&c.ty)),
        TypeDefKind::Map(k, v) => go(*k) || go(*v),
        TypeDefKind::Future(ty) | TypeDefKind::Stream(ty) => opt(ty),
        _ => false,
    }
}
