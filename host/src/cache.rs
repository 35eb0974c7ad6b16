//! A compilation cache on disk: compiled guests, keyed by the guest's bytes
//! and the engine's configuration, so a guest is compiled once per machine
//! rather than once per run.
//!
//! An entry is `MAGIC`, its key (what its file is named after), the SHA-256
//! of the key and the artifact, then the artifact that wasmtime serialized.
//! It is written to a temporary file and renamed into place, so a reader
//! never sees half an entry; it is checked before wasmtime sees it, so a
//! corrupt or truncated file (a full disk, a crash, a stray edit), or an
//! entry renamed or copied over another (compiled from another guest or for
//! another engine), is compiled afresh and rewritten, never loaded.
//!
//! Loading an entry runs its native code: the checks above find accidents,
//! not forgeries. So entries are read only from a directory that no other
//! user can write, only if we own them and nobody else can write them, only
//! if they are regular files (opened without following links, and without
//! waiting on a FIFO) and only up to a size an artifact can have.

use std::hash::Hasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// Marks an entry of this format; a new format changes it (and so misses).
const MAGIC: &[u8; 16] = b"bufbridge-cwasm2";

/// The bytes before the artifact: `MAGIC`, the key, the checksum.
const HEADER: usize = MAGIC.len() + 32 + 32;

const MIB: u64 = 1024 * 1024;

/// The largest entry read for a guest of `wasm_len` bytes: an artifact is a
/// few times its guest, so a file far larger is not one (and is not read).
fn max_entry(wasm_len: usize) -> u64 {
    (64 * MIB)
        .saturating_add((wasm_len as u64).saturating_mul(16))
        .min(1024 * MIB)
}

/// Where compiled guests are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: PathBuf,
}

/// What an entry is named after and bound to.
type Key = [u8; 32];

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
            // `Component::serialize` wrote for this guest and an engine with
            // this configuration (the key in the header covers the guest, the
            // configuration and our version; the checksum covers the key and
            // the bytes), in a file and directory that only this user can
            // write (on Unix; see the module's documentation).
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

    /// From the entry if it is whole, ours and usable, else compiled and
    /// stored.
    fn load<T>(
        &self,
        engine: &Engine,
        kind: &str,
        wasm: &[u8],
        deserialize: impl FnOnce(&[u8]) -> wasmtime::Result<T>,
        compile: impl FnOnce() -> wasmtime::Result<T>,
        serialize: impl FnOnce(&T) -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<T> {
        if let Err(why) = trusted_dir(&self.dir) {
            // Loud, not only under -v: the cache is off until it is fixed.
            tracing::warn!(
                "not using the compilation cache {}: {why}; compiling",
                self.dir.display()
            );
            return compile();
        }
        let key = self.key(engine, kind, wasm);
        let path = self.dir.join(format!("{}.cwasm", hex(&key)));
        let max = max_entry(wasm.len());
        match read_entry(&path, &key, max) {
            Ok(entry) => match deserialize(&entry[HEADER..]) {
                Ok(compiled) => {
                    tracing::debug!(entry = %path.display(), "compilation cache hit");
                    return Ok(compiled);
                }
                Err(e) => tracing::debug!(entry = %path.display(), "unusable cache entry: {e}"),
            },
            Err(why) => tracing::debug!(
                entry = %path.display(),
                "compilation cache miss ({why}): compiling"
            ),
        }
        let compiled = compile()?;
        match serialize(&compiled) {
            Ok(artifact) if (HEADER + artifact.len()) as u64 <= max => {
                write_entry(&self.dir, &path, &key, &artifact)
            }
            Ok(artifact) => tracing::debug!(
                bytes = artifact.len(),
                max,
                "not caching an artifact larger than an entry may be"
            ),
            Err(e) => tracing::debug!("cannot serialize the compiled guest: {e}"),
        }
        Ok(compiled)
    }

    /// The key of `wasm` compiled as `kind` by `engine`.
    fn key(&self, engine: &Engine, kind: &str, wasm: &[u8]) -> Key {
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
        key.finalize().into()
    }
}

/// The checksum in an entry's header: of its key and its artifact.
fn checksum(key: &Key, artifact: &[u8]) -> [u8; 32] {
    let mut sum = Sha256::new();
    sum.update(key);
    sum.update(artifact);
    sum.finalize().into()
}

/// The entry at `path` (header included) if it is safe to read, whole, and
/// made for `key`; else why not.
fn read_entry(path: &Path, key: &Key, max: u64) -> Result<Vec<u8>, String> {
    let file = open_entry(path)?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot look at it: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    trusted(&meta, "it")?;
    if meta.len() > max {
        return Err(format!(
            "{} bytes, more than an entry for this guest can be ({max})",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // It may have grown since: never read past `max`.
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("it grew past {max} bytes while read"));
    }
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("not an entry of this format")?;
    let (bound, rest) = rest.split_at_checked(32).ok_or("damaged: too short")?;
    let (sum, artifact) = rest.split_at_checked(32).ok_or("damaged: too short")?;
    if sum != checksum(bound.try_into().expect("32 bytes"), artifact) {
        return Err("damaged: its checksum does not match".into());
    }
    if bound != key {
        return Err("it was made for another guest or engine (renamed or copied over)".into());
    }
    Ok(bytes)
}

/// Opens an entry for reading without following a symbolic link, and without
/// waiting for a writer if it is a FIFO (what it is is checked next).
fn open_entry(path: &Path) -> Result<std::fs::File, String> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no entry".to_string(),
        #[cfg(unix)]
        _ if e.raw_os_error() == Some(libc::ELOOP) => {
            "a symbolic link, which is never followed".to_string()
        }
        _ => format!("cannot open it: {e}"),
    })
}

/// Whether `dir` may hold entries to load: ours, and writable by nobody
/// else. A directory not made yet is fine: it will be made so.
fn trusted_dir(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err("not a directory".into()),
        Ok(meta) => trusted(&meta, "the directory"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot look at it: {e}")),
    }
}

/// Whether a file or directory is owned by this user and writable by no one
/// else, who could otherwise put native code there for us to run.
#[cfg(unix)]
fn trusted(meta: &std::fs::Metadata, what: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let us = unsafe { libc::geteuid() };
    if meta.uid() != us {
        return Err(format!(
            "{what} is owned by user {}, not by us (user {us})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{what} is writable by others (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_meta: &std::fs::Metadata, _what: &str) -> Result<(), String> {
    Ok(())
}

/// Stores an entry, making the directory (for this user only) if need be. A
/// cache that cannot be written only costs speed (the next run compiles
/// again), so failures are only logged.
fn write_entry(dir: &Path, path: &Path, key: &Key, artifact: &[u8]) {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let written = builder
        .create(dir)
        .and_then(|()| tempfile::Builder::new().suffix(".tmp").tempfile_in(dir))
        .and_then(|mut temp| {
            temp.write_all(MAGIC)?;
            temp.write_all(key)?;
            temp.write_all(&checksum(key, artifact))?;
            temp.write_all(artifact)?;
            // Renaming replaces whatever is at `path` (a link, a FIFO)
            // rather than writing through it.
            temp.persist(path).map_err(|e| e.error)?;
            Ok(())
        });
    if let Err(e) = written {
        tracing::debug!(entry = %path.display(), "cannot write the cache entry: {e}");
    }
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
        let key = cache.key(&engine(), "module", &wasm);
        for bad in [&good[..good.len() / 2], &flipped[..], &good[..10], &[][..]] {
            std::fs::write(&entry, bad).unwrap();
            assert!(read_entry(&entry, &key, max_entry(wasm.len())).is_err());
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
        let base = cache.key(&engine(), "module", &wasm);
        assert_eq!(base, cache.key(&engine(), "module", &wasm));
        assert_ne!(base, cache.key(&engine(), "module", &other));
        assert_ne!(base, cache.key(&engine(), "component", &wasm));
        assert_ne!(base, cache.key(&fuel, "module", &wasm));
    }

    #[test]
    fn an_entry_is_read_only_for_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let wasm = wat::parse_str(WAT).unwrap();
        cache.module(&engine(), &wasm).unwrap();
        let entry = only_entry(dir.path());
        let key = cache.key(&engine(), "module", &wasm);
        let max = max_entry(wasm.len());
        assert!(read_entry(&entry, &key, max).is_ok());
        let mut other = key;
        other[0] ^= 1;
        let why = read_entry(&entry, &other, max).unwrap_err();
        assert!(why.contains("another guest"), "{why}");
        assert!(
            read_entry(&entry, &key, 100)
                .unwrap_err()
                .contains("more than")
        );
    }
}
