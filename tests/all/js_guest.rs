//! The JavaScript example guest (`examples/js-guest`): built with
//! componentize-js against `wit/`, checked with `bufbridge inspect`, then run
//! through the `bufbridge` CLI over an input of several chunks (and an empty
//! one), its output compared with the same transform done here in Rust: the
//! checks of `toolchain_guests`, which the Python guest passes too.
//!
//! It does the Python guest's job (`top [N]`, `rot13`, the same messages)
//! over the same text, with one difference: a letter is a character with
//! case forms, as `guest.js` explains.
//!
//! componentize-js comes from `$BUFBRIDGE_COMPONENTIZE_JS` when set, else
//! from `npm ci` of the example's `package.json` and `package-lock.json`,
//! run once in a directory under the target directory, so `cargo test`
//! needs only Node.js, npm and the npm registry. Without them it fails and
//! says what to do.

use std::path::Path;
use std::process::Command;

use crate::common::{repo, run_cli};
use crate::toolchain_guests::{Guest, Toolchain, code, guest_tests, step};

static GUEST: Guest = Guest::new(Toolchain {
    language: "JavaScript",
    dir: "js-guest",
    source: "guest.js",
    tool_files: &PACKAGE_FILES,
    tool_env: "BUFBRIDGE_COMPONENTIZE_JS",
    install_dir: "npm",
    tool: "node_modules/.bin/componentize-js",
    install,
    help,
    componentize,
    is_word_char,
});

guest_tests!(GUEST);

const PACKAGE_FILES: [&str; 2] = ["package.json", "package-lock.json"];

/// componentize-js's flags besides the files, as the example's README and
/// `package.json` give them: `--disable http fetch-event` keeps
/// StarlingMonkey's `wasi:http` handler out of the component, which the
/// `processor` world does not have.
const FLAGS: [&str; 5] = [
    "--world-name",
    "processor",
    "--disable",
    "http",
    "fetch-event",
];

/// A letter or digit as guest.js has it: an ASCII letter or digit, or a
/// character with case forms.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.to_lowercase().eq(c.to_uppercase()))
}

/// Builds `wasm` from the repository's `wit/` and guest.js, in place:
/// componentize-js writes nothing beside its inputs.
fn componentize(componentize_js: &Path, wasm: &Path) -> Command {
    let mut cmd = Command::new(componentize_js);
    cmd.arg("--wit")
        .arg(repo().join("wit"))
        .args(FLAGS)
        .arg("-o")
        .arg(wasm)
        .arg(GUEST.example().join("guest.js"))
        .current_dir(GUEST.work_dir());
    cmd
}

fn help(tool: &Path) -> String {
    format!(
        "The JavaScript guest test builds examples/js-guest with componentize-js \
         (the version pinned in its package.json), which it installs with `npm ci` \
         from the npm registry and runs with Node.js ({tool}). Install Node.js 18 \
         or newer with npm (on Debian: apt-get install nodejs npm), or install \
         componentize-js yourself and point the test at it:\n\
         \n    cp {example}/package*.json /tmp/cjs/ && (cd /tmp/cjs && npm ci)\
         \n    BUFBRIDGE_COMPONENTIZE_JS=/tmp/cjs/node_modules/.bin/componentize-js cargo test --test all js_guest::\n",
        tool = tool.display(),
        example = GUEST.example().display(),
    )
}

/// `npm ci` of the example's package files in `npm` (emptied first).
fn install(npm: &Path, help: &str) {
    let _ = std::fs::remove_dir_all(npm);
    std::fs::create_dir_all(npm).unwrap();
    for f in PACKAGE_FILES {
        std::fs::copy(GUEST.example().join(f), npm.join(f)).unwrap();
    }
    step(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(npm),
        "npm ci",
        help,
    );
}

#[test]
fn the_readme_and_package_json_build_with_the_flags_this_test_uses() {
    let readme = std::fs::read_to_string(GUEST.example().join("README.md")).unwrap();
    let package = std::fs::read_to_string(GUEST.example().join("package.json")).unwrap();
    let flags = format!("--wit ../../wit {}", FLAGS.join(" "));
    assert!(readme.contains(&flags), "README.md builds with {flags}");
    assert!(package.contains(&flags), "package.json builds with {flags}");
}

#[test]
fn the_guest_fits_the_processor_world() {
    let out = run_cli([Path::new("inspect"), &GUEST.built().wasm], None);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{report}");
    for line in [
        "import bufbridge:buffers/buffers@0.1.0;",
        "export process: func(input: borrow<buffer>, output: borrow<buffer>, args: list<string>) -> result<_, string>;",
        "The component fits the bufbridge `processor` world (wit/buffers.wit)",
    ] {
        assert!(report.contains(line), "`{line}` missing from:\n{report}");
    }
    // What `--disable http fetch-event` is for.
    assert!(!report.contains("wasi:http"), "{report}");
}
