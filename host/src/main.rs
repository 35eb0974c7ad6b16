//! The `bufbridge` command line: parses arguments, moves files, maps outcomes
//! to exit codes. Everything else is in the library; the CLI's modules are
//! in `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
