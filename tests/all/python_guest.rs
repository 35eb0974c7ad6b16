//! The Python example guest (`examples/python-guest`): built with
//! componentize-py against `wit/`, then run through the `bufbridge` CLI over
//! an input of several chunks, its output compared with the same transform
//! done here in Rust.
//!
//! componentize-py comes from `$BUFBRIDGE_COMPONENTIZE_PY` when set, else
//! from a virtual environment this test makes once under the target
//! directory (`python3 -m venv`, or `$BUFBRIDGE_PYTHON -m venv`, and `pip
//! install -r examples/python-guest/requirements.txt`), so `cargo test` needs
//! only python3 and PyPI. Without either it fails and says what to do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

/// The guest's chunk size (`CHUNK` in guest.py; guest.js has the same).
pub(crate) const CHUNK: usize = 4096;

/// Each run's time limit: generous, for a loaded machine; a run takes well under a second.
const TIMEOUT: &str = "2m";

use crate::common::{bufbridge_run, in_cache, repo};

fn example() -> PathBuf {
    repo().join("examples/python-guest")
}

/// Where this test keeps its venv, build and compilation cache.
fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-guest")
}

/// The guest's test-wide state: the component and the compilation cache the
/// `bufbridge` child processes share (never the user's ~/.cache).
struct Built {
    wasm: PathBuf,
    cache: PathBuf,
}

/// Builds the guest once per test binary, and compiles it once (a warm-up
/// run fills the cache, so the tests that run in parallel only load it).
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let work = work_dir();
        let componentize_py = componentize_py(&work);

        // Build from a copy of the source, so componentize-py's __pycache__
        // lands in the target directory, not in the source tree.
        let src = work.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::copy(example().join("guest.py"), src.join("guest.py")).unwrap();
        let wasm = work.join("words.wasm");
        let started = Instant::now();
        let out = Command::new(&componentize_py)
            .arg("-d")
            .arg(repo().join("wit"))
            .args(["-w", "processor", "componentize", "guest", "-o"])
            .arg(&wasm)
            .current_dir(&src)
            .env_remove("VIRTUAL_ENV")
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", componentize_py.display()));
        assert!(
            out.status.success(),
            "componentize-py failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let size = std::fs::metadata(&wasm).unwrap().len();
        eprintln!(
            "python guest: componentize-py built {} ({:.1} MiB) in {:.1?}",
            wasm.display(),
            size as f64 / (1024.0 * 1024.0),
            started.elapsed()
        );

        // A fresh cache each time: an entry is tens of MiB, and stale ones
        // (from an older guest or host) would pile up.
        let cache = work.join("cache");
        let _ = std::fs::remove_dir_all(&cache);
        let built = Built { wasm, cache };
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, TINY_INPUT).unwrap();
        let started = Instant::now();
        let out = run(&built, &input, &["top", "3"]);
        assert_eq!(
            (code(&out), String::from_utf8_lossy(&out.stdout)),
            (0, TINY_TOP_3.into())
        );
        eprintln!(
            "python guest: first run (compiling) took {:.1?}",
            started.elapsed()
        );
        built
    })
}

/// componentize-py: `$BUFBRIDGE_COMPONENTIZE_PY`, else the one in this
/// test's venv, made (or remade, when the requirements changed) now.
fn componentize_py(work: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("BUFBRIDGE_COMPONENTIZE_PY") {
        return path.into();
    }
    let requirements = example().join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let venv = work.join("venv");
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let tool = bin.join(format!("componentize-py{}", std::env::consts::EXE_SUFFIX));
    // Written last: a venv without it is half made and is made again.
    let stamp = venv.join("bufbridge-requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && tool.exists() {
        return tool;
    }

    let python = std::env::var_os("BUFBRIDGE_PYTHON").unwrap_or_else(|| "python3".into());
    let pin = wanted.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    let help = format!(
        "The Python guest test builds examples/python-guest with {pin}, which it \
         installs with `{python} -m venv {venv}` and pip from PyPI. Install Python 3 \
         with venv and pip (on Debian: apt-get install python3-venv), or set \
         BUFBRIDGE_PYTHON to a Python 3 interpreter, or make the venv yourself and \
         point the test at it:\n\
         \n    python3 -m venv /tmp/cpy && /tmp/cpy/bin/pip install -r {requirements}\
         \n    BUFBRIDGE_COMPONENTIZE_PY=/tmp/cpy/bin/componentize-py cargo test --test all python_guest::\n",
        python = python.to_string_lossy(),
        venv = venv.display(),
        requirements = requirements.display(),
    );
    let started = Instant::now();
    step(
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "-m venv",
        &help,
    );
    step(
        Command::new(bin.join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&requirements)
            .env_remove("VIRTUAL_ENV")
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME"),
        "pip install",
        &help,
    );
    assert!(
        tool.exists(),
        "no {} after pip install\n{help}",
        tool.display()
    );
    std::fs::write(&stamp, &wanted).unwrap();
    eprintln!(
        "python guest: made the venv {} in {:.1?}",
        venv.display(),
        started.elapsed()
    );
    tool
}

fn step(cmd: &mut Command, what: &str, help: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not start `{what}`: {e}\n{help}"));
    assert!(
        out.status.success(),
        "`{what}` failed:\n{}{}\n{help}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `bufbridge run WASM --input INPUT --output - --timeout 2m -- WORDS`.
fn run(built: &Built, input: &Path, words: &[&str]) -> Output {
    let mut cmd = in_cache(
        bufbridge_run(
            Some(&built.wasm),
            input,
            "-",
            &["--timeout", TIMEOUT],
            words,
        ),
        &built.cache,
    );
    // Not `output_of`: its watchdog is shorter than this guest's --timeout.
    cmd.stdin(Stdio::null()).output().expect("start bufbridge")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("bufbridge exited, not killed")
}

/// Runs the guest over `input` and returns its output, which must succeed.
fn transform(input: &[u8], words: &[&str]) -> Vec<u8> {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    std::fs::write(&path, input).unwrap();
    let started = Instant::now();
    let out = run(built, &path, words);
    assert_eq!(
        code(&out),
        0,
        "{words:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "python guest: {words:?} over {} bytes took {:.1?}",
        input.len(),
        started.elapsed()
    );
    out.stdout
}

// The example of examples/python-guest/README.md (and of examples/js-guest).
pub(crate) const TINY_INPUT: &str = "The cat sat on the mat.\nThe dog sat on the cat!\n";
pub(crate) const TINY_TOP_3: &str = "4 the\n2 cat\n2 on\n";
pub(crate) const TINY_ROT13: &str = "Gur png fng ba gur zng.\nGur qbt fng ba gur png!\n";

/// A text of about 24 KiB (six chunks) with words of skewed frequency in
/// mixed case, punctuation, non-ASCII letters, and the hard cases placed
/// exactly on chunk boundaries: a two-byte character split by the first, a
/// word split after its apostrophe by the second, a three-byte apostrophe
/// split by the third, a plain word by the fourth.
pub(crate) fn text() -> Vec<u8> {
    let boundaries = [
        (CHUNK - 3, "Naïve"),        // "Na" and 1 byte of ï | 1 byte of ï and "ve"
        (2 * CHUNK - 4, "don't"),    // "don'" | "t"
        (3 * CHUNK - 4, "won’t"),    // "won" and 1 byte of ’ | 2 bytes of ’ and "t"
        (4 * CHUNK - 2, "boundary"), // "bo" | "undary"
    ];
    let mut text = Text {
        text: String::new(),
        seed: 0x2545_f491_4f6c_dd1d,
    };
    for (at, word) in boundaries {
        while text.text.len() + 40 < at {
            text.put_word();
        }
        // Pad with spaces up to `at`, then write the word from there.
        assert!(text.text.len() <= at, "the text passed {at} already");
        text.text.push_str(&" ".repeat(at - text.text.len()));
        text.text.push_str(word);
        text.text.push(' ');
    }
    while text.text.len() < 6 * CHUNK - 100 {
        text.put_word();
    }
    text.text.push_str("The end.\n");
    text.text.into_bytes()
}

struct Text {
    text: String,
    seed: u64,
}

impl Text {
    const WORDS: &[&str] = &[
        "the",
        "of",
        "buffer",
        "and",
        "guest",
        "host",
        "a",
        "to",
        "chunk",
        "in",
        "bytes",
        "python",
        "naïve",
        "café",
        "straße",
        "smørrebrød",
        "don't",
        "it’s",
        "snake_case",
        "42",
        "wasm",
        "stream",
        "offset",
        "read",
        "append",
        "x1",
    ];

    /// xorshift64: the same text on every machine.
    fn next(&mut self, below: usize) -> usize {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed % below as u64) as usize
    }

    /// One word, low indices far more often than high ones, in some case,
    /// and a separator.
    fn put_word(&mut self) {
        let i = self.next(Self::WORDS.len());
        let word = Self::WORDS[self.next(i + 1)];
        let word = match self.next(8) {
            0 if word.is_ascii() => word.to_ascii_uppercase(),
            1 | 2 => {
                let mut chars = word.chars();
                let first = chars.next().unwrap();
                first.to_uppercase().chain(chars).collect()
            }
            _ => word.to_string(),
        };
        self.text.push_str(&word);
        let separator = match self.next(12) {
            0 => ".\n",
            1 => ", ",
            2 => "; ",
            3 => " — ",
            4 => "\n",
            _ => " ",
        };
        self.text.push_str(separator);
    }
}

/// `top N` as guest.py documents it: words are runs of letters and digits
/// with single apostrophes inside, lower-cased, `’` read as `'`; the N most
/// frequent, ties in code-point order.
fn top(input: &[u8], n: usize) -> String {
    let text = std::str::from_utf8(input).unwrap();
    let chars: Vec<char> = text.chars().collect();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut word = String::new();
    let mut finish = |word: &mut String| {
        if !word.is_empty() {
            *counts.entry(word.to_lowercase()).or_default() += 1;
            word.clear();
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        let apostrophe = c == '\'' || c == '’';
        if c.is_alphanumeric() {
            word.push(c);
        } else if apostrophe
            && !word.is_empty()
            && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
        {
            word.push('\'');
        } else {
            finish(&mut word);
        }
    }
    finish(&mut word);
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
    ranked
        .iter()
        .take(n)
        .map(|(word, count)| format!("{count} {word}\n"))
        .collect()
}

pub(crate) fn rot13(input: &[u8]) -> Vec<u8> {
    input
        .iter()
        .map(|&b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            _ => b,
        })
        .collect()
}

#[test]
fn the_readme_example_gives_the_output_it_shows() {
    assert_eq!(top(TINY_INPUT.as_bytes(), 3), TINY_TOP_3);
    assert_eq!(rot13(TINY_INPUT.as_bytes()), TINY_ROT13.as_bytes());
    let readme = std::fs::read_to_string(example().join("README.md")).unwrap();
    for shown in [TINY_TOP_3, TINY_ROT13] {
        assert!(readme.contains(shown), "README.md shows:\n{shown}");
    }
    assert_eq!(
        transform(TINY_INPUT.as_bytes(), &["rot13"]),
        TINY_ROT13.as_bytes()
    );
}

#[test]
fn top_counts_the_words_of_an_input_of_several_chunks() {
    let input = text();
    assert!(input.len() > 5 * CHUNK, "{} bytes", input.len());
    let want = top(&input, 25);
    let all = top(&input, usize::MAX);
    for word in [" naïve\n", " don't\n", " won't\n", " boundary\n"] {
        assert!(all.contains(word), "the text lacks `{word}`:\n{all}");
    }
    assert_eq!(
        String::from_utf8(transform(&input, &["top", "25"])).unwrap(),
        want
    );
    // No arguments: the ten most frequent.
    assert_eq!(
        String::from_utf8(transform(&input, &[])).unwrap(),
        top(&input, 10)
    );
    // More than there are: every word.
    assert_eq!(
        String::from_utf8(transform(&input, &["top", "1000"])).unwrap(),
        top(&input, usize::MAX)
    );
}

#[test]
fn rot13_streams_an_input_of_several_chunks() {
    let mut input = text();
    input.extend_from_slice(b"\xff\x00 raw bytes pass through \xfe\n");
    assert_eq!(transform(&input, &["rot13"]), rot13(&input));
}

#[test]
fn unknown_commands_and_bad_arguments_fail_with_a_clear_message() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, TINY_INPUT).unwrap();
    for (words, message) in [
        (
            &["frob"][..],
            "guest failed: unknown command `frob`; known commands: `top [N]` (N most frequent words, default 10), `rot13`",
        ),
        (
            &["top", "ten"],
            "`top` takes a positive whole number of words, not `ten`",
        ),
        (
            &["top", "0"],
            "`top` takes a positive whole number of words, not `0`",
        ),
        (
            &["top", "3", "4"],
            "`top` takes at most one argument (N), but got: 3 4",
        ),
        (&["rot13", "x"], "`rot13` takes no arguments, but got: x"),
    ] {
        let out = run(built, &input, words);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 1, "{words:?}: {stderr}");
        assert!(stderr.contains(message), "{words:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{words:?} wrote output");
    }
}

#[test]
fn a_refused_append_fails_the_run_with_the_buffer_error() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, text()).unwrap();
    let mut cmd = in_cache(
        bufbridge_run(
            Some(&built.wasm),
            &input,
            "-",
            &["--max-output", "10000"],
            &["rot13"],
        ),
        &built.cache,
    );
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(
        stderr.contains(
            "writing the output: buffer limit of 10000 bytes exceeded (for the output: raise --max-output)"
        ),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
