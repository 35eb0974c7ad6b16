//! Drift between the forms of the contract: the text (`wit/`,
//! `wit/CORE_ABI.md`), what the host links (its `bindgen!`, wasmtime-wasi,
//! the core ABI's functions), what `bufbridge inspect` judges guests by, and
//! the default guest.
//!
//! The host's bindings and the default guest are both generated from `wit/`
//! whenever it changes, so a type they disagree on fails the build. What can
//! drift without failing anything else:
//!
//! - the default guest's coverage: a component imports only the functions
//!   it calls, so a function added to `wit/` (and implemented by the host)
//!   that the default guest never calls is missing from it, and nothing runs
//!   it end to end;
//! - the host's linker against the WIT `inspect` uses: the linker is built
//!   by code (`add_to_linker` calls), which can add or leave out interfaces;
//! - `wit/CORE_ABI.md`, which is prose, against the core linker.

use std::collections::BTreeSet;

use crate::common::*;
use bufbridge::DEFAULT_GUEST;
use bufbridge::inspect::{CORE_EXPORTS, CORE_IMPORTS, CORE_MODULE, Compare, host_wit, inspect};
use bufbridge::{LoadError, inspect::Problem};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{
    InterfaceId, ManglingAndAbi, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey,
};

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

/// `wit/` as it is in the repository now.
fn repo_wit() -> (Resolve, WorldId) {
    let mut resolve = Resolve::new();
    let (package, _) = resolve.push_dir(repo().join("wit")).expect("wit/ parses");
    let world = resolve
        .select_world(&[package], Some("processor"))
        .expect("wit/ has the processor world");
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
/// else of `bufbridge:`, and exports `process` with the world's type.
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
        print(&embedded.resolve, embedded.processor),
        print(&wit, processor)
    );
}

/// The WIT `inspect` uses ≡ the linker, one way: everything that WIT says
/// the host provides (WASI p2's `wasi:cli/imports` and the processor
/// world), the linker has with that type.
#[test]
fn the_host_links_everything_its_wit_declares() {
    let wit = host_wit();
    let everything = component_of(&wit.resolve, wit.world);
    let problems = load_problems(&everything);
    assert!(
        problems.is_empty(),
        "the host does not link what its WIT declares:\n{problems:#?}"
    );
    let report = inspect(host(), &everything).unwrap();
    assert!(report.fits(), "{report}");
}

/// `host/wasi-wit/` ≡ the WIT of the wasmtime-wasi the host links, file
/// for file and byte for byte: its `bindgen!` generates the linker's WASI
/// from that WIT, so with the test above, what `inspect` judges by is what
/// the linker provides. The crate's sources are found through `cargo
/// metadata` here, in a test, where `cargo test` has fetched every package;
/// the build itself never asks cargo.
#[test]
fn the_vendored_wasi_wit_is_wasmtime_wasis_own() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", env!("BUFBRIDGE_HOST_TARGET")])
        .arg("--manifest-path")
        .arg(repo().join("Cargo.toml"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "wasmtime-wasi")
        .expect("wasmtime-wasi is a dependency");
    let upstream = std::path::Path::new(package["manifest_path"].as_str().unwrap())
        .with_file_name("src/p2/wit");
    let vendored = repo().join("host/wasi-wit");
    let files = |root: &std::path::Path| -> Vec<(String, String)> {
        let mut files = Vec::new();
        for dir in [root.to_path_buf(), root.join("deps")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|ext| ext == "wit") {
                    let name = path.strip_prefix(root).unwrap().display().to_string();
                    files.push((name, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let (ours, theirs) = (files(&vendored), files(&upstream));
    let names = |files: &[(String, String)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "the files of {}",
        upstream.display()
    );
    for ((name, ours), (_, theirs)) in ours.iter().zip(&theirs) {
        assert!(
            ours == theirs,
            "host/wasi-wit/{name} differs from wasmtime-wasi {}'s: copy {} into host/wasi-wit/",
            package["version"],
            upstream.display()
        );
    }
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
/// function of the processor world and the linker refuses the component,
/// and `inspect` names exactly that function. So the host has each one with
/// exactly the WIT's type, and the comparison sees what the linker sees.
#[test]
fn the_host_checks_every_function_of_the_processor_world() {
    let wit = host_wit();
    let world = wit.processor;
    assert_eq!(
        load_problems(&component_of(&wit.resolve, world)),
        vec![],
        "the processor world as it is loads"
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

    let problems = load_problems(&component_of(&resolve, wit.processor));
    let items: BTreeSet<String> = problems.iter().map(|p| p.item.clone()).collect();
    // Every function whose type uses buffer-error, and only those.
    let want: BTreeSet<String> = imported_interfaces(&resolve, wit.processor)
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
    let Type::Id(id) = ty else {
        return false;
    };
    if id == target {
        return true;
    }
    let opt = |ty: &Option<Type>| ty.is_some_and(|ty| uses(resolve, ty, target));
    match &resolve.types[id].kind {
        TypeDefKind::Type(ty)
        | TypeDefKind::List(ty)
        | TypeDefKind::Option(ty)
        | TypeDefKind::FixedLengthList(ty, _) => uses(resolve, *ty, target),
        TypeDefKind::Result(r) => opt(&r.ok) || opt(&r.err),
        TypeDefKind::Tuple(t) => t.types.iter().any(|ty| uses(resolve, *ty, target)),
        TypeDefKind::Record(r) => r.fields.iter().any(|f| uses(resolve, f.ty, target)),
        TypeDefKind::Variant(v) => v.cases.iter().any(|c| opt(&c.ty)),
        TypeDefKind::Map(k, v) => uses(resolve, *k, target) || uses(resolve, *v, target),
        TypeDefKind::Future(ty) | TypeDefKind::Stream(ty) => opt(ty),
        _ => false,
    }
}

/// `(h: i32, offset: i64) -> i64` → `func(i32, i64) -> i64`.
fn signature(doc: &str) -> String {
    let doc = doc.trim().trim_matches('`');
    let (params, result) = doc.split_once(')').expect("a signature in parentheses");
    let params: Vec<&str> = params
        .trim_start_matches('(')
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.split_once(':').map_or(p, |(_, ty)| ty).trim())
        .collect();
    let result = result.trim().trim_start_matches("->").trim();
    let mut text = format!("func({})", params.join(", "));
    if !result.is_empty() {
        text.push_str(&format!(" -> {result}"));
    }
    text
}

/// The rows of the first table under each `## ` heading of CORE_ABI.md:
/// heading → (first cell, second cell).
fn doc_tables() -> Vec<(String, Vec<(String, String)>)> {
    let doc = std::fs::read_to_string(repo().join("wit/CORE_ABI.md")).unwrap();
    let mut tables: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            tables.push((heading.to_string(), Vec::new()));
        } else if let (Some(row), Some((_, rows))) = (line.strip_prefix("| `"), tables.last_mut()) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            rows.push((
                cells[0].trim_end_matches('`').to_string(),
                cells[1].to_string(),
            ));
        }
    }
    tables
}

/// `(module ...)` importing `imports` and exporting memory and `process`.
fn core_module(imports: &[(&str, String)]) -> String {
    let mut wat = String::from("(module\n");
    for (name, sig) in imports {
        let (params, result) = sig
            .strip_prefix("func(")
            .and_then(|s| s.split_once(')'))
            .unwrap();
        let params = params.replace(',', "");
        let result = result.trim().trim_start_matches("->").trim();
        let result = match result {
            "" => String::new(),
            ty => format!(" (result {ty})"),
        };
        wat.push_str(&format!(
            "  (import \"{CORE_MODULE}\" \"{name}\" (func (param {params}){result}))\n"
        ));
    }
    wat.push_str(
        "  (memory (export \"memory\") 1)\n  \
         (func (export \"process\") (param i32 i32) (result i32) i32.const 0))\n",
    );
    wat
}

/// wit/CORE_ABI.md ≡ `inspect`'s tables ≡ the core linker: the document's
/// imports and exports are the tables', and the linker has each import
/// with exactly that signature.
#[test]
fn the_core_abi_document_is_what_the_host_links() {
    let tables = doc_tables();
    let table = |prefix: &str| {
        tables
            .iter()
            .find(|(heading, _)| heading.starts_with(prefix))
            .unwrap_or_else(|| panic!("CORE_ABI.md has a `## {prefix}` section"))
    };
    let (heading, imports) = table("Imports");
    assert!(heading.contains(&format!("`{CORE_MODULE}`")), "{heading}");
    let documented: Vec<(String, String)> = imports
        .iter()
        .map(|(name, sig)| (name.clone(), signature(sig)))
        .collect();
    let ours: Vec<(String, String)> = CORE_IMPORTS
        .iter()
        .map(|(name, sig)| (name.to_string(), sig.to_string()))
        .collect();
    assert_eq!(documented, ours, "CORE_ABI.md's imports vs inspect's");
    let (_, exports) = table("Exports");
    let documented: Vec<(String, String)> = exports
        .iter()
        .map(|(name, ty)| match ty.as_str() {
            "memory" => (name.clone(), ty.clone()),
            sig => (name.clone(), signature(sig)),
        })
        .collect();
    let ours: Vec<(String, String)> = CORE_EXPORTS
        .iter()
        .map(|(name, ty)| (name.to_string(), ty.to_string()))
        .collect();
    assert_eq!(documented, ours, "CORE_ABI.md's exports vs inspect's");

    let all: Vec<(&str, String)> = CORE_IMPORTS
        .iter()
        .map(|(name, sig)| (*name, sig.to_string()))
        .collect();
    let problems = load_problems(core_module(&all).as_bytes());
    assert!(
        problems.is_empty(),
        "the core linker refuses the documented imports:\n{problems:#?}"
    );
    for (name, sig) in CORE_IMPORTS {
        let altered = sig.replacen("func(", "func(f32, ", 1).replace(", )", ")");
        let problems = load_problems(core_module(&[(name, altered.clone())]).as_bytes());
        assert_eq!(problems.len(), 1, "{name}: {problems:#?}");
        assert_eq!(
            problems[0].item,
            format!("import {CORE_MODULE:?} {name:?}"),
            "{:?}",
            problems[0]
        );
        assert_eq!(problems[0].found, format!("`{altered}`"));
    }
}

/// wit/ ≡ sdk/wit/, file for file and byte for byte: the guest SDK carries
/// a copy so that it builds when packaged, without the rest of the
/// repository, and guests built on it must see the WIT the host links.
#[test]
fn the_sdk_carries_the_wit_of_the_repository() {
    let files = |dir: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wit"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let (wit, sdk) = (files(&repo().join("wit")), files(&repo().join("sdk/wit")));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&sdk),
        names(&wit),
        "the .wit files of sdk/wit/ and wit/"
    );
    for ((name, ours), (_, theirs)) in sdk.iter().zip(&wit) {
        assert!(
            ours == theirs,
            "sdk/wit/{name} differs from wit/{name}: copy wit/*.wit into sdk/wit/"
        );
    }
}
