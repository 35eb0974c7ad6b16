//! The Python example guest (`examples/python-guest`): built with
//! componentize-py against `wit/`, then run through the `bufbridge` CLI over
//! an input of several chunks (and an empty one), its output compared with
//! the same transform done here in Rust: the checks of `toolchain_guests`,
//! which the JavaScript guest passes too.
//!
//! componentize-py comes from `$BUFBRIDGE_COMPONENTIZE_PY` when set, else
//! from a virtual environment this test makes once under the target
//! directory (`python3 -m venv`, or `$BUFBRIDGE_PYTHON -m venv`, and `pip
//! install -r examples/python-guest/requirements.txt`), so `cargo test` needs
//! only python3 and PyPI. Without either it fails and says what to do.

use std::path::Path;
use std::process::Command;

use crate::toolchain_guests::{Guest, Toolchain, guest_tests, step};

static GUEST: Guest = Guest::new(Toolchain {
    language: "Python",
    dir: "python-guest",
    source: "guest.py",
    tool_files: &["requirements.txt"],
    tool_env: "BUFBRIDGE_COMPONENTIZE_PY",
    install_dir: "venv",
    tool: if cfg!(windows) {
        "Scripts/componentize-py.exe"
    } else {
        "bin/componentize-py"
    },
    install,
    help,
    componentize,
    // `str.isalnum`, as guest.py has it.
    is_word_char: char::is_alphanumeric,
});

guest_tests!(GUEST);

/// The interpreter that makes the venv.
fn python() -> std::ffi::OsString {
    std::env::var_os("BUFBRIDGE_PYTHON").unwrap_or_else(|| "python3".into())
}

/// `cmd` without the caller's Python environment, which would mix another
/// Python's packages into the venv's.
fn own_python(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
}

fn help(_tool: &Path) -> String {
    let requirements = GUEST.example().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let pin = wanted.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    format!(
        "The Python guest test builds examples/python-guest with {pin}, which it \
         installs with `{python} -m venv {venv}` and pip from PyPI. Install Python 3 \
         with venv and pip (on Debian: apt-get install python3-venv), or set \
         BUFBRIDGE_PYTHON to a Python 3 interpreter, or make the venv yourself and \
         point the test at it:\n\
         \n    python3 -m venv /tmp/cpy && /tmp/cpy/bin/pip install -r {requirements}\
         \n    BUFBRIDGE_COMPONENTIZE_PY=/tmp/cpy/bin/componentize-py cargo test --test all python_guest::\n",
        python = python().to_string_lossy(),
        venv = GUEST.work_dir().join("venv").display(),
        requirements = requirements.display(),
    )
}

/// Makes the venv `venv` (again, from scratch) and pip-installs
/// requirements.txt into it.
fn install(venv: &Path, help: &str) {
    step(
        Command::new(python())
            .args(["-m", "venv", "--clear"])
            .arg(venv),
        "-m venv",
        help,
    );
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    step(
        own_python(Command::new(bin.join("python")).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
        ]))
        .arg(GUEST.example().join("requirements.txt")),
        "pip install",
        help,
    );
}

/// Builds from a copy of guest.py, so componentize-py's __pycache__ lands
/// in the target directory, not in the source tree.
fn componentize(componentize_py: &Path, wasm: &Path) -> Command {
    let src = GUEST.work_dir().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(GUEST.example().join("guest.py"), src.join("guest.py")).unwrap();
    let mut cmd = Command::new(componentize_py);
    cmd.arg("-d")
        .arg(crate::common::repo().join("wit"))
        .args(["-w", "processor", "componentize", "guest", "-o"])
        .arg(wasm)
        .current_dir(&src);
    own_python(&mut cmd);
    cmd
}
