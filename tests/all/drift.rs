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
//!
//! The checks that need the host's parsed WIT (its linker against that WIT,
//! the default guest's coverage) are in the crate, `host/src/wit_drift.rs`:
//! no wit-parser type is in the library's public API.

use crate::common::*;
use bufbridge::core_abi::{EXPORTS as CORE_EXPORTS, IMPORTS, MODULE as CORE_MODULE};
use bufbridge::inspect::Problem;

/// The problems `Host::load` finds in `wasm` (as `inspect` lists them);
/// none if it loads.
fn load_problems(wasm: &[u8]) -> Vec<Problem> {
    host().inspect(wasm).expect("valid WebAssembly").problems
}

/// The core ABI's table, as (name, type) pairs.
fn core_imports() -> Vec<(&'static str, &'static str)> {
    IMPORTS
        .iter()
        .map(|import| (import.name, import.ty))
        .collect()
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

/// wit/CORE_ABI.md ≡ the host's table of the core ABI ≡ the core linker:
/// the document's imports and exports are the table's, and the linker has
/// each import with exactly that signature.
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
    let ours: Vec<(String, String)> = core_imports()
        .iter()
        .map(|(name, sig)| (name.to_string(), sig.to_string()))
        .collect();
    assert_eq!(
        documented, ours,
        "CORE_ABI.md's imports vs the host's table"
    );
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
    assert_eq!(
        documented, ours,
        "CORE_ABI.md's exports vs the host's table"
    );

    let all: Vec<(&str, String)> = core_imports()
        .iter()
        .map(|(name, sig)| (*name, sig.to_string()))
        .collect();
    let problems = load_problems(core_module(&all).as_bytes());
    assert!(
        problems.is_empty(),
        "the core linker refuses the documented imports:\n{problems:#?}"
    );
    for (name, sig) in core_imports() {
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
