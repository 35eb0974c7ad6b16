//! The WIT the host links, from the copies `build.rs` embeds: the package
//! of the guests' worlds (`wit/`: `processor`, and `stream-processor`, which
//! adds `streams`), and the whole world the host provides with WASI p2
//! (`host/wasi-wit/`), for `inspect`.

use std::sync::OnceLock;

use wit_parser::{PackageId, Resolve, SourceMap, UnresolvedPackageGroup, WorldId};

include!(concat!(env!("OUT_DIR"), "/wit_sources.rs"));

/// The full name of interface `name` of the guests' package
/// (`buffers` → `bufbridge:buffers/buffers@0.1.0`), as the linker knows it;
/// `None` if the package has no such interface.
pub(crate) fn interface_name(name: &str) -> Option<String> {
    static PACKAGE: OnceLock<(Resolve, PackageId)> = OnceLock::new();
    let (resolve, package) = PACKAGE.get_or_init(|| {
        let mut resolve = Resolve::new();
        let package = group(BUFBRIDGE_WIT)
            .and_then(|g| resolve.push_group(g).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("the host's embedded WIT does not parse: {e}"));
        (resolve, package)
    });
    let id = *resolve.packages[*package].interfaces.get(name)?;
    resolve.id_of(id)
}

/// The world the host provides: as imports every interface its linker has
/// (`wasi:cli/imports` and the `stream-processor` world's imports), as
/// exports what it calls (`process`). Parsed once from the WIT embedded at
/// build time.
pub(crate) struct HostWit {
    pub resolve: Resolve,
    pub world: WorldId,
    /// The `stream-processor` world of `wit/` (every `bufbridge:` import a
    /// guest may have), in the same `resolve` (for the drift checks,
    /// `wit_drift.rs`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub stream_processor: WorldId,
}

/// The host's WIT, parsed on first use.
pub(crate) fn host_wit() -> &'static HostWit {
    static WIT: OnceLock<HostWit> = OnceLock::new();
    WIT.get_or_init(|| {
        parse_host_wit().unwrap_or_else(|e| panic!("the host's embedded WIT does not parse: {e}"))
    })
}

fn group(files: &[(&str, &str)]) -> Result<UnresolvedPackageGroup, String> {
    let mut map = SourceMap::new();
    for (name, text) in files {
        map.push_str(name, *text);
    }
    map.parse().map_err(|(_, e)| e.to_string())
}

fn parse_host_wit() -> Result<HostWit, String> {
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
    let guests_name = world_name(&resolve.packages[buffers].name, "stream-processor");
    let text = format!(
        "package bufbridge:host;\n\
         world host {{\n  include {};\n  include {guests_name};\n}}\n",
        world_name(&cli, "imports"),
    );
    let host = resolve
        .push_source("host.wit", &text)
        .map_err(|e| format!("{e:#}"))?;
    let world = resolve
        .select_world(&[host], Some("host"))
        .map_err(|e| format!("{e:#}"))?;
    let stream_processor = resolve
        .select_world(&[buffers], Some("stream-processor"))
        .map_err(|e| format!("{e:#}"))?;
    Ok(HostWit {
        resolve,
        world,
        stream_processor,
    })
}
