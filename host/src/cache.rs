//! A compilation cache on disk: compiled guests, keyed by the guest's bytes
//! and the engine's configuration, so a guest is compiled once per machine
//! rather than once per run.
//!
//! An entry is `MAGIC`, the SHA-256 of the artifact, then the artifact that
//! wasmtime serialized. It is written to a temporary file and renamed into
//! place, so a reader never sees half an entry; it is checked against its
//! hash before wasmtime sees it, so a corrupt or truncated file (a full disk,
//! a crash, a stray edit) is compiled afresh and rewritten, never loaded.

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// Marks an entry of this format; a new format changes it (and so misses).
const MAGIC: &[u8; 16] = b"bufbridge-cwasm1";

/// Where compiled guests are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Cache { dir: dir.into() }
    }

    /// `$BUFBRIDGE_CACHE_DIR`, else the user's cache directory
    /// (`$XDG_CACHE_HOME/bufbridge`, `~/.cache/bufbridge`, or
    /// `%LOCALAPPDATA%\bufbridge`); `None` when there is none.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = var("BUFBRIDGE_CACHE_DIR") {
            return Some(dir);
        }
        let base = if cfg!(windows) {
            var("LOCALAPPDATA")
        } else {
            var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache")))
        };
        base.map(|base| base.join("bufbridge"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component compiled from `wasm`, from the cache or compiled now
    /// (and then stored).
    pub(crate) fn component(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        self.load(
            engine,
            "component",
            wasm,
            // SAFETY: `artifact` passed `read_entry`: it is byte for byte what
            // `Component::serialize` wrote for an engine with this
            // configuration (the key covers the configuration and our
            // version; the hash covers the bytes), in the user's own cache.
            |artifact| unsafe { Component::deserialize(engine, artifact) },
            || Component::new(engine, wasm),
            Component::serialize,
        )
    }

    /// The same for a core module.
    pub(crate) fn module(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Module> {
        self.load(
            engine,
            "module",
            wasm,
            // SAFETY: as for components above, with `Module::serialize`.
            |artifact| unsafe { Module::deserialize(engine, artifact) },
            || Module::new(engine, wasm),
            Module::serialize,
        )
    }

    /// From the entry if it is whole and usable, else compiled and stored.
    fn load<T>(
        &self,
        engine: &Engine,
        kind: &str,
        wasm: &[u8],
        deserialize: impl FnOnce(&[u8]) -> wasmtime::Result<T>,
        compile: impl FnOnce() -> wasmtime::Result<T>,
        serialize: impl FnOnce(&T) -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<T> {
        let path = self.entry(engine, kind, wasm);
        if let Some(artifact) = read_entry(&path) {
            match deserialize(&artifact) {
                Ok(compiled) => {
                    tracing::debug!(entry = %path.display(), "compilation cache hit");
                    return Ok(compiled);
                }
                Err(e) => tracing::debug!(entry = %path.display(), "unusable cache entry: {e}"),
            }
        }
        tracing::debug!(entry = %path.display(), "compilation cache miss: compiling");
        let compiled = compile()?;
        if let Ok(artifact) = serialize(&compiled) {
            write_entry(&path, &artifact);
        }
        Ok(compiled)
    }

    /// The file for `wasm` compiled as `kind` by `engine`.
    fn entry(&self, engine: &Engine, kind: &str, wasm: &[u8]) -> PathBuf {
        let mut key = Sha256::new();
        key.update(MAGIC);
        // wasmtime also checks its own version when deserializing; a mismatch recompiles.
        key.update(env!("CARGO_PKG_VERSION"));
        key.update(kind);
        std::hash::Hash::hash(
            &engine.precompile_compatibility_hash(),
            &mut ShaHasher(&mut key),
        );
        key.update((wasm.len() as u64).to_le_bytes());
        key.update(wasm);
        self.dir.join(format!("{}.cwasm", hex(&key.finalize())))
    }
}

/// The artifact of the entry at `path`, if it is there and whole.
fn read_entry(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (hash, artifact) = rest.split_at_checked(32)?;
    (Sha256::digest(artifact).as_slice() == hash).then(|| artifact.to_vec())
}

/// Stores an entry. A cache that cannot be written only costs speed (the
/// next run compiles again), so failures are dropped.
fn write_entry(path: &Path, artifact: &[u8]) {
    let Some(dir) = path.parent() else { return };
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::Builder::new().suffix(".tmp").tempfile_in(dir))
        .and_then(|mut temp| {
            temp.write_all(MAGIC)?;
            temp.write_all(&Sha256::digest(artifact))?;
            temp.write_all(artifact)?;
            temp.persist(path).map_err(|e| e.error)?;
            Ok(())
        })
        .ok();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds a `Hash` value into the SHA-256 of a key.
struct ShaHasher<'a>(&'a mut Sha256);

impl Hasher for ShaHasher<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Never asked for: `Hash` implementations only write, and the key is
    /// the SHA-256 itself.
    fn finish(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module (memory (export "memory") 1)
        (func (export "process") (param i32 i32) (result i32) i32.const 0))"#;

    fn engine() -> Engine {
        Engine::default()
    }

    fn only_entry(dir: &Path) -> PathBuf {
        let entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].clone()
    }

    #[test]
    fn a_second_load_comes_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let wasm = wat::parse_str(WAT).unwrap();
        cache.module(&engine(), &wasm).unwrap();
        let entry = only_entry(dir.path());
        let written = std::fs::read(&entry).unwrap();
        assert!(written.starts_with(MAGIC));
        cache.module(&engine(), &wasm).unwrap();
        assert_eq!(
            std::fs::read(&entry).unwrap(),
            written,
            "a hit rewrites nothing"
        );
    }

    #[test]
    fn corrupt_or_truncated_entries_are_compiled_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let wasm = wat::parse_str(WAT).unwrap();
        cache.module(&engine(), &wasm).unwrap();
        let entry = only_entry(dir.path());
        let good = std::fs::read(&entry).unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        for bad in [&good[..good.len() / 2], &flipped[..], &good[..10], &[][..]] {
            std::fs::write(&entry, bad).unwrap();
            assert!(read_entry(&entry).is_none());
            let module = cache.module(&engine(), &wasm).unwrap();
            assert!(module.get_export("process").is_some());
            assert_eq!(
                std::fs::read(&entry).unwrap(),
                good,
                "the entry is rewritten whole"
            );
        }
    }

    #[test]
    fn keys_differ_by_bytes_kind_and_engine_configuration() {
        let cache = Cache::new("/nowhere");
        let wasm = wat::parse_str(WAT).unwrap();
        let mut other = wasm.clone();
        other.push(0);
        let mut fuel = wasmtime::Config::new();
        fuel.consume_fuel(true);
        let fuel = Engine::new(&fuel).unwrap();
        let base = cache.entry(&engine(), "module", &wasm);
        assert_eq!(base, cache.entry(&engine(), "module", &wasm));
        assert_ne!(base, cache.entry(&engine(), "module", &other));
        assert_ne!(base, cache.entry(&engine(), "component", &wasm));
        assert_ne!(base, cache.entry(&fuel, "module", &wasm));
    }
}
