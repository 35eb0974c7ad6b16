//! What a run is given and gives back: its limits, the host's options,
//! where its input is and its output goes, and what to watch.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::Cache;
use crate::stats::Progress;
use crate::storage::Storage;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The bounds of one run. Every field has a default meant for untrusted
/// guests; raise them for guests you trust with more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The output buffer's limit: the most bytes a run can produce.
    pub max_output: u64,
    /// The most bytes all scratch buffers (`create`) may hold together.
    pub quota: u64,
    /// The most buffers alive at once, input and output included.
    pub max_buffers: usize,
    /// The most bytes one host call may move (`read`, `write`, `append`,
    /// `copy-from`): this bounds what one call holds in host memory, and how
    /// long it blocks when there is no [`Limits::timeout`]. (`digest.sha256`
    /// moves nothing and holds one chunk: only the timeout bounds it.)
    pub max_copy: u64,
    /// The most linear memory the guest may have, all memories together.
    pub memory: u64,
    /// Wall-clock time for instantiating and running the guest, the host's
    /// work for it included (long host calls look at the clock every MiB);
    /// `None` for no limit.
    pub timeout: Option<Duration>,
    /// An instruction budget; needs a host made with [`HostOptions::fuel`].
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output: 4 * GIB,
            quota: GIB,
            max_buffers: 4096,
            max_copy: 256 * MIB,
            memory: 256 * MIB,
            timeout: Some(Duration::from_secs(30)),
            fuel: None,
        }
    }
}

/// How the engine is built; fixed for the life of a [`Host`](super::Host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    /// Count instructions so [`Limits::fuel`] can be enforced. It costs
    /// guest speed, so it is off unless asked for.
    pub fuel: bool,
    /// Keep compiled guests on disk, so a guest compiles once per machine
    /// rather than once per process ([`Cache::default_dir`] is the usual
    /// place).
    pub cache: Option<Cache>,
    /// Allocate instances from a pool reserved up front, and reuse its
    /// slots from run to run. On by default: a short run costs about a
    /// third of what it does without (BENCHMARKS.md, "Runs"), and runs on
    /// many threads no longer slow each other down by unmapping memory. The
    /// price: the host reserves (but does not use) about 2 TiB of address
    /// space, keeps up to 1 MiB of each used slot's memory resident between
    /// runs, and holds at most 256 runs at once (one more fails to
    /// instantiate). Turn it off for a host that runs one guest once, as
    /// the `bufbridge` CLI does.
    pub pooling: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            fuel: false,
            cache: None,
            pooling: true,
        }
    }
}

/// Where a run's input bytes are. More ways may come (two came after the
/// first release), so a `match` on it needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    Bytes(Vec<u8>),
    /// Bytes the caller keeps too, read where they are: never copied. An
    /// `Arc<[u8]>` becomes one without a copy (`Input::from`).
    Shared(bytes::Bytes),
    /// The whole file, read on demand and never written.
    File(File),
}

impl Input {
    /// How many bytes the input holds, if that is known without reading it
    /// (a file's size from its metadata).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Bytes(bytes) => Some(bytes.len() as u64),
            Input::Shared(bytes) => Some(bytes.len() as u64),
            Input::File(file) => file.metadata().ok().map(|m| m.len()),
        }
    }
}

impl From<Vec<u8>> for Input {
    fn from(bytes: Vec<u8>) -> Self {
        Input::Bytes(bytes)
    }
}

impl From<bytes::Bytes> for Input {
    fn from(bytes: bytes::Bytes) -> Self {
        Input::Shared(bytes)
    }
}

impl From<Arc<[u8]>> for Input {
    fn from(bytes: Arc<[u8]>) -> Self {
        Input::Shared(bytes::Bytes::from_owner(bytes))
    }
}

impl From<File> for Input {
    fn from(file: File) -> Self {
        Input::File(file)
    }
}

/// Where a run's output goes. More ways may come, so a `match` on it needs
/// a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    Memory,
    /// In memory, in this vector: emptied first, its capacity used again.
    /// A caller that passes each run's output back to the next spares the
    /// runs allocating their output afresh, and the kernel faulting its
    /// pages in again, which is most of what writing a large output costs
    /// (BENCHMARKS.md, "Data path").
    Reuse(Vec<u8>),
    /// Written in place from offset 0 (the file is emptied first); on success
    /// it holds exactly the output.
    File(File),
}

/// What a successful run produced: bytes for [`Output::Memory`] and
/// [`Output::Reuse`], the file for [`Output::File`]. Marked like
/// [`Output`], whose new ways may produce new kinds.
#[derive(Debug)]
#[non_exhaustive]
pub enum Produced {
    Bytes(Vec<u8>),
    /// The [`Output::File`] given, holding exactly the output.
    File(File),
}

impl Produced {
    /// The output's bytes, read back if they are in a file.
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        match self {
            Produced::Bytes(bytes) => Ok(bytes),
            Produced::File(file) => Storage::file(file)?.into_bytes(),
        }
    }
}

/// What to watch of a run besides its result ([`Host::run_watched`](super::Host::run_watched)).
#[derive(Debug, Clone, Default)]
pub struct Watch<'a> {
    /// Split the run's time between guest and host ([`crate::Stats::host_time`]);
    /// this reads the clock twice per host call.
    pub time_host_calls: bool,
    /// Keep this up to date with how far the input has been read, for
    /// another thread to show.
    pub progress: Option<&'a Progress>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn an_input_knows_its_size_without_reading_it() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"12345").unwrap();
        assert_eq!(Input::from(file).size(), Some(5));
        assert_eq!(Input::from(vec![0; 3]).size(), Some(3));
        let shared: Arc<[u8]> = Arc::from(&b"ab"[..]);
        assert_eq!(Input::from(shared).size(), Some(2));
    }
}
