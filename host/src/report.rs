//! The words a guest's fit is told in: what `bufbridge inspect` reports and
//! what a failed `Host::load` says. Below `error`, `inspect` and `run`,
//! which all speak them.

use std::fmt;

/// What `inspect` found.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: Kind,
    /// The guest's imports and exports: WIT for a component; for a core
    /// module, one line each with its core type.
    pub listing: String,
    /// Empty when the guest fits.
    pub problems: Vec<Problem>,
    /// A component that imports `streams` (`wit/streams.wit`): it runs on
    /// the engine with the component model's concurrency support.
    pub streams: bool,
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
        if self.streams {
            writeln!(
                f,
                "It imports `streams` (world `stream-processor`, wit/streams.wit), so it runs \
                 on the host's second engine, the one with the component model's concurrency \
                 support that `stream<u8>` needs (every host call costs a little more there).\n"
            )?;
        }
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

/// The problem the linker itself reported, for when the comparison found
/// none (it should not happen; if it does, the linker's word stands).
pub(crate) fn linker_problem(what: &str, linker: &wasmtime::Error) -> Problem {
    Problem {
        item: what.to_string(),
        expected: "imports the host's linker can satisfy".to_string(),
        found: format!("the linker's error: {linker:#}"),
    }
}
