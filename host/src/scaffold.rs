//! `bufbridge new NAME`: a guest crate on the SDK (`sdk/`, the
//! `bufbridge-guest` crate) that builds with one command and runs at once.
//!
//! ```no_run
//! use std::path::Path;
//!
//! let made = bufbridge::scaffold::create(Path::new("my-guest"), None)?;
//! print!("{made}"); // where it is, how to build it and run it
//! # Ok::<(), bufbridge::scaffold::ScaffoldError>(())
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The one command that builds a scaffolded guest, in its folder.
pub const BUILD_COMMAND: &str = "cargo build --release";

/// Where a scaffolded guest's `.wasm` lands, relative to its folder: the
/// target comes from its `.cargo/config.toml`.
const WASM_DIR: &str = "target/wasm32-wasip2/release";

/// The SDK of the checkout this binary was built from: `sdk/` beside
/// `host/`. A guest made by `bufbridge new` depends on it by path, since
/// the SDK is not published.
pub fn default_sdk() -> PathBuf {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    host.parent().unwrap_or(host).join("sdk")
}

/// Why a guest crate was not made.
#[derive(Debug)]
pub enum ScaffoldError {
    /// Like `cargo new`, nothing is ever written over what is there.
    Exists(PathBuf),
    /// The folder's name is not a crate name.
    BadName(String),
    /// The SDK is not where the guest would depend on it.
    NoSdk(PathBuf),
    /// Making a folder or writing a file failed.
    Io(PathBuf, io::Error),
}

impl ScaffoldError {
    /// Whether the request itself was wrong (exit code 2), rather than the
    /// file system (exit code 4).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ScaffoldError::Io(..))
    }
}

impl fmt::Display for ScaffoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaffoldError::Exists(dir) => write!(
                f,
                "{} already exists; choose another name (nothing was written)",
                dir.display()
            ),
            ScaffoldError::BadName(name) => write!(
                f,
                "`{name}` is not a crate name: use letters, digits, `-` and `_`, \
                 starting with a letter"
            ),
            ScaffoldError::NoSdk(sdk) => write!(
                f,
                "the guest SDK is not at {} (it is sdk/ of a bufbridge checkout): \
                 pass --sdk PATH",
                sdk.display()
            ),
            ScaffoldError::Io(path, e) => write!(f, "cannot write {}: {e}", path.display()),
        }
    }
}

impl std::error::Error for ScaffoldError {}

/// A guest crate just made.
#[derive(Debug)]
pub struct Scaffold {
    /// Its folder, as given.
    pub dir: PathBuf,
    /// The crate's name (the folder's).
    pub name: String,
    /// The files written, relative to `dir`.
    pub files: Vec<&'static str>,
}

impl Scaffold {
    /// The built guest, relative to the crate's folder.
    pub fn wasm(&self) -> PathBuf {
        Path::new(WASM_DIR).join(format!("{}.wasm", self.name.replace('-', "_")))
    }
}

/// What to do next, for the terminal.
impl fmt::Display for Scaffold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        writeln!(f, "Created the guest `{}` in {dir}", self.name)?;
        writeln!(f, "Build it:  cd {dir} && {BUILD_COMMAND}")?;
        writeln!(
            f,
            "Run it:    bufbridge run {} --input FILE --output -",
            self.wasm().display()
        )?;
        writeln!(f, "Start in {dir}/src/lib.rs.")
    }
}

/// Makes a guest crate in `dir` (which must not exist; its parents are
/// made), depending on the SDK at `sdk` ([`default_sdk`] when `None`).
pub fn create(dir: &Path, sdk: Option<&Path>) -> Result<Scaffold, ScaffoldError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ScaffoldError::BadName(name));
    }
    let sdk = sdk.map_or_else(default_sdk, Path::to_path_buf);
    let sdk = std::path::absolute(&sdk).unwrap_or(sdk);
    if !sdk.join("Cargo.toml").is_file() {
        return Err(ScaffoldError::NoSdk(sdk));
    }
    if dir.symlink_metadata().is_ok() {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| ScaffoldError::Io(path, e)
    };
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    // create_dir, not create_dir_all: it fails if the folder appeared since.
    std::fs::create_dir(dir).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => ScaffoldError::Exists(dir.to_path_buf()),
        _ => ScaffoldError::Io(dir.to_path_buf(), e),
    })?;
    let made = Scaffold {
        dir: dir.to_path_buf(),
        name,
        files: Vec::new(),
    };
    let files = files(&made, &sdk);
    for sub in [".cargo", "src"] {
        std::fs::create_dir(dir.join(sub)).map_err(io(&dir.join(sub)))?;
    }
    for (file, text) in &files {
        std::fs::write(dir.join(file), text).map_err(io(&dir.join(file)))?;
    }
    Ok(Scaffold {
        files: files.iter().map(|(file, _)| *file).collect(),
        ..made
    })
}

/// A TOML string holding `text`.
fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The crate's files: (path in the crate, contents).
fn files(made: &Scaffold, sdk: &Path) -> Vec<(&'static str, String)> {
    let name = &made.name;
    let sdk_path = sdk.display().to_string();
    let wasm = made.wasm().display().to_string();
    vec![
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A component: built for wasm32-wasip2 (.cargo/config.toml), run by bufbridge.
[lib]
crate-type = ["cdylib"]

[dependencies]
# The bufbridge guest SDK, from the bufbridge checkout that made this crate
# (a path dependency: the SDK is not published).
bufbridge-guest = {{ path = {sdk} }}

[profile.release]
opt-level = "s"
strip = "debuginfo"

# A workspace of its own, wherever it is put.
[workspace]
"#,
                sdk = toml_string(&sdk_path),
            ),
        ),
        (
            ".cargo/config.toml",
            "# Guests are components for WASI 0.2: `cargo build` builds one.\n\
             [build]\n\
             target = \"wasm32-wasip2\"\n"
                .to_string(),
        ),
        (
            "src/lib.rs",
            "use bufbridge_guest::{Input, Output, Result};\n\
             \n\
             bufbridge_guest::export!(process);\n\
             \n\
             fn process(input: &mut Input, output: &mut Output, _args: Vec<String>) -> Result<()> {\n\
             \x20   // Start here: `input` is std::io::BufRead + Seek, `output` is Write + Seek,\n\
             \x20   // `_args` are the words after `--`. This copies the input, host-side.\n\
             \x20   bufbridge_guest::copy(input, output)?;\n\
             \x20   Ok(())\n\
             }\n"
            .to_string(),
        ),
        (".gitignore", "/target\n".to_string()),
        (
            "README.md",
            format!(
                "# {name}\n\
                 \n\
                 A bufbridge guest, made by `bufbridge new`.\n\
                 \n\
                 Build it (the wasm32-wasip2 target comes from `.cargo/config.toml`;\n\
                 `rustup target add wasm32-wasip2` once if it is missing):\n\
                 \n\
                 ```sh\n\
                 {BUILD_COMMAND}\n\
                 ```\n\
                 \n\
                 Run it:\n\
                 \n\
                 ```sh\n\
                 bufbridge run {wasm} --input in.txt --output out.txt -- your args\n\
                 ```\n\
                 \n\
                 `src/lib.rs` is the guest. It depends on the bufbridge guest SDK,\n\
                 `bufbridge-guest`, by **path**: `{sdk_path}`, the `sdk/` folder of the\n\
                 bufbridge checkout that made this crate (the SDK is not published). If\n\
                 that checkout moves, change the path in `Cargo.toml`. `cargo doc --open`\n\
                 documents the SDK.\n"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_crate_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["1st", "my guest", "é", "-x"] {
            let err = create(&tmp.path().join(name), None).unwrap_err();
            assert!(matches!(err, ScaffoldError::BadName(_)), "{name}: {err}");
            assert!(err.is_usage());
        }
        assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
    }

    #[test]
    fn a_missing_sdk_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let nowhere = tmp.path().join("nowhere");
        let err = create(&tmp.path().join("g"), Some(&nowhere)).unwrap_err();
        assert!(err.to_string().contains("--sdk"), "{err}");
        assert!(!tmp.path().join("g").exists());
    }

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
