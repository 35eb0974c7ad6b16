//! What a run did, for `--stats`: calls and bytes per buffer import, and
//! where the time went. Counting is a few additions per call; the clock is
//! read only when a caller asked for the figures.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::units::Size;

/// The host functions a guest calls, on either path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Import {
    Create,
    Len,
    Limit,
    Read,
    Write,
    Append,
    Truncate,
    CopyFrom,
    Drop,
    Sha256,
    ArgsSize,
    ArgsGet,
    Fail,
    Abort,
}

impl Import {
    pub const ALL: [Import; 14] = [
        Import::Create,
        Import::Len,
        Import::Limit,
        Import::Read,
        Import::Write,
        Import::Append,
        Import::Truncate,
        Import::CopyFrom,
        Import::Drop,
        Import::Sha256,
        Import::ArgsSize,
        Import::ArgsGet,
        Import::Fail,
        Import::Abort,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Import::Create => "create",
            Import::Len => "len",
            Import::Limit => "limit",
            Import::Read => "read",
            Import::Write => "write",
            Import::Append => "append",
            Import::Truncate => "truncate",
            Import::CopyFrom => "copy-from",
            Import::Drop => "drop",
            Import::Sha256 => "sha256",
            Import::ArgsSize => "args_size",
            Import::ArgsGet => "args_get",
            Import::Fail => "fail",
            Import::Abort => "abort",
        }
    }
}

/// The calls of one import and the bytes they moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub calls: u64,
    /// Bytes from the guest into buffers (`write`, `append`).
    pub bytes_in: u64,
    /// Bytes from buffers into the guest (`read`).
    pub bytes_out: u64,
    /// Bytes moved host-side, never entering the guest (`copy-from`).
    pub bytes_host: u64,
}

/// The figures of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    calls: [Calls; Import::ALL.len()],
    /// Time spent in host functions (buffer imports and WASI alike).
    pub host_time: Duration,
    /// Time of the whole run: instantiation and `process`.
    pub total_time: Duration,
}

impl Stats {
    /// Counts a call of `import` that moved `bytes`: into buffers for
    /// `write` and `append`, out of them for `read`, between them for
    /// `copy-from` (the only imports that move bytes).
    pub(crate) fn record(&mut self, import: Import, bytes: u64) {
        let c = &mut self.calls[import as usize];
        c.calls += 1;
        match import {
            Import::Write | Import::Append => c.bytes_in += bytes,
            Import::Read => c.bytes_out += bytes,
            Import::CopyFrom => c.bytes_host += bytes,
            _ => {}
        }
    }

    /// The imports that were called, with their figures.
    pub fn calls(&self) -> impl Iterator<Item = (Import, Calls)> + '_ {
        Import::ALL
            .into_iter()
            .map(|i| (i, self.calls[i as usize]))
            .filter(|(_, c)| c.calls > 0)
    }

    /// Time outside host functions: the guest's own work.
    pub fn guest_time(&self) -> Duration {
        self.total_time.saturating_sub(self.host_time)
    }
}

impl fmt::Display for Stats {
    /// A small table, then the time split.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<10} {:>10} {:>12} {:>12} {:>12}",
            "import", "calls", "bytes in", "bytes out", "host-side"
        )?;
        for (import, c) in self.calls() {
            writeln!(
                f,
                "{:<10} {:>10} {:>12} {:>12} {:>12}",
                import.name(),
                c.calls,
                Size(c.bytes_in).to_string(),
                Size(c.bytes_out).to_string(),
                Size(c.bytes_host).to_string()
            )?;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "time: {:.1} ms in all, {:.1} ms in the guest, {:.1} ms in the host",
            ms(self.total_time),
            ms(self.guest_time()),
            ms(self.host_time)
        )
    }
}

/// How far a run has read into its input, readable from another thread
/// while the run goes on (for a progress indicator).
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    pub fn new() -> Self {
        Progress::default()
    }

    /// The furthest offset of the input read so far (by `read`, `copy-from`
    /// or a digest).
    pub fn input_bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn reached(&self, offset: u64) {
        self.0.fetch_max(offset, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_add_up_and_show_only_what_was_called() {
        let mut s = Stats::default();
        s.record(Import::Read, 100);
        s.record(Import::Read, 28);
        s.record(Import::CopyFrom, 4096);
        let calls: Vec<_> = s.calls().collect();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0],
            (
                Import::Read,
                Calls {
                    calls: 2,
                    bytes_in: 0,
                    bytes_out: 128,
                    bytes_host: 0
                }
            )
        );
        s.total_time = Duration::from_millis(30);
        s.host_time = Duration::from_millis(10);
        assert_eq!(s.guest_time(), Duration::from_millis(20));
        let table = s.to_string();
        assert!(table.contains("copy-from"), "{table}");
        assert!(table.ends_with("30.0 ms in all, 20.0 ms in the guest, 10.0 ms in the host"));
    }
}
