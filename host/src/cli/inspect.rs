//! `bufbridge inspect`: the report on stdout; exit 0 when the guest fits,
//! 2 when it does not.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use bufbridge::{Cache, HostOptions};

use super::exit::{self, Failure, fail};
use super::guest;
use super::print::escape_controls;
use super::progress::CompileNotice;

pub fn inspect(path: Option<&Path>) -> Result<ExitCode, Failure> {
    let name = guest::name(path);
    let bytes = guest::bytes(path)?;
    let options = HostOptions {
        cache: Cache::default_dir().map(Cache::new),
        ..HostOptions::default()
    };
    let notice = CompileNotice::start(&name, options.cache.is_some(), false);
    let host = guest::host(options)?;
    let report = host
        .inspect(&bytes)
        .map_err(|e| fail(exit::USAGE, format!("cannot inspect {name}: {e}")))?;
    drop(notice);
    // Import and export names come from the guest.
    let text = report.to_string();
    match io::stdout().is_terminal() {
        true => print!("{}", escape_controls(&text)),
        false => print!("{text}"),
    }
    Ok(match report.fits() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(exit::USAGE),
    })
}
