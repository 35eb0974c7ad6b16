//! What the two toolchain example guests share, for `python_guest`
//! (componentize-py, `examples/python-guest`) and `js_guest`
//! (componentize-js, `examples/js-guest`): they do one job (`top [N]`,
//! `rot13`, the same messages), so one text, one Rust model of each command,
//! one way to build, cache and run the component, and one set of checks
//! serve both. A guest's module gives its [`Toolchain`] (how the tool is
//! obtained and the component built, and what a letter is) and turns the
//! checks into tests of its own with [`guest_tests!`], so a failure names
//! the toolchain.
//!
//! The component is built again only when the guest's source, the files
//! its tool is installed from, the tool's path or `wit/` changed; it keeps
//! its compilation cache till then, so a warm run takes seconds, not the
//! build's and compilation's half a minute.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use crate::common::{bufbridge_run, in_cache, repo};

/// The guests' chunk size (`CHUNK` in guest.py and guest.js).
pub(crate) const CHUNK: usize = 4096;

/// Each run's time limit: generous, for a loaded machine; a run takes well under a second.
const TIMEOUT: &str = "2m";

// The example of both guests' README.md.
const TINY_INPUT: &str = "The cat sat on the mat.\nThe dog sat on the cat!\n";
const TINY_TOP_3: &str = "4 the\n2 cat\n2 on\n";
const TINY_ROT13: &str = "Gur png fng ba gur zng.\nGur qbt fng ba gur png!\n";

/// How one toolchain's guest is obtained and built.
pub(crate) struct Toolchain {
    /// The language, for messages: `Python`.
    pub(crate) language: &'static str,
    /// The example's folder under `examples/`, and this test's under the
    /// target's tmp dir (the install, the build, the compilation cache).
    pub(crate) dir: &'static str,
    /// The guest's source in the example's folder.
    pub(crate) source: &'static str,
    /// The example's files the tool is installed from.
    pub(crate) tool_files: &'static [&'static str],
    /// The variable that names a tool to use instead of installing one.
    pub(crate) tool_env: &'static str,
    /// Where the install goes, in this test's folder.
    pub(crate) install_dir: &'static str,
    /// The tool, in the install.
    pub(crate) tool: &'static str,
    /// Installs the tool into the (install) directory from the example's
    /// `tool_files`; panics with the help on failure.
    pub(crate) install: fn(dir: &Path, help: &str),
    /// What to do when the tool cannot be installed or run.
    pub(crate) help: fn(tool: &Path) -> String,
    /// The command that builds the component at `wasm` with `tool`.
    pub(crate) componentize: fn(tool: &Path, wasm: &Path) -> Command,
    /// A letter or digit as the guest has it (the rest of a word's rule is
    /// the same: see [`top`]).
    pub(crate) is_word_char: fn(char) -> bool,
}

/// A toolchain's guest, built (or the failure to build it) once per test
/// binary.
pub(crate) struct Guest {
    toolchain: Toolchain,
    built: OnceLock<Result<Built, String>>,
}

/// The guest's test-wide state: the component and the compilation cache the
/// `bufbridge` child processes share (never the user's ~/.cache).
pub(crate) struct Built {
    pub(crate) wasm: PathBuf,
    cache: PathBuf,
}

/// The test functions of a guest's module, one per shared check of
/// [`Guest`], so `cargo test` names the toolchain: `python_guest::rot13_…`.
macro_rules! guest_tests {
    ($guest:ident) => {
        $crate::toolchain_guests::guest_tests!(
            @each $guest:
            the_readme_example_gives_the_output_it_shows,
            top_counts_the_words_of_an_input_of_several_chunks,
            rot13_streams_an_input_of_several_chunks,
            an_empty_input_gives_an_empty_output,
            unknown_commands_and_bad_arguments_fail_with_a_clear_message,
            a_refused_append_fails_the_run_with_the_buffer_error
        );
    };
    (@each $guest:ident: $($check:ident),*) => {
        $(
            #[test]
            fn $check() {
                $guest.$check();
            }
        )*
    };
}
pub(crate) use guest_tests;

impl Guest {
    pub(crate) const fn new(toolchain: Toolchain) -> Guest {
        Guest {
            toolchain,
            built: OnceLock::new(),
        }
    }

    pub(crate) fn example(&self) -> PathBuf {
        repo().join("examples").join(self.toolchain.dir)
    }

    pub(crate) fn work_dir(&self) -> PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(self.toolchain.dir)
    }

    /// Builds the guest once per test binary, and compiles it once (a
    /// warm-up run fills the cache, so the tests that run in parallel only
    /// load it). A failure is kept too: every test fails with it, none
    /// builds again.
    pub(crate) fn built(&self) -> &Built {
        let built = self.built.get_or_init(|| {
            std::panic::catch_unwind(|| self.build()).map_err(|panic| {
                match (panic.downcast_ref::<String>(), panic.downcast_ref::<&str>()) {
                    (Some(message), _) => message.clone(),
                    (None, Some(message)) => message.to_string(),
                    (None, None) => "a panic without a message".into(),
                }
            })
        });
        match built {
            Ok(built) => built,
            Err(message) => panic!(
                "the {} guest did not build and run: {message}",
                self.toolchain.language
            ),
        }
    }

    fn build(&self) -> Built {
        let work = self.work_dir();
        std::fs::create_dir_all(&work).unwrap();
        let tool = self.tool();
        let wasm = work.join("words.wasm");
        let cache = work.join("cache");

        // What the component is built from, kept beside it: when none of it
        // changed, the last build and its compilation cache serve again (two
        // builds of the same source may differ, so their cache entries would
        // not).
        let mut sources = format!("{}\n", tool.display());
        let example_files = std::iter::once(&self.toolchain.source)
            .chain(self.toolchain.tool_files)
            .map(|f| self.example().join(f));
        for path in example_files.chain(wit_files()) {
            let text = std::fs::read_to_string(&path).unwrap();
            sources += &format!("--- {}\n{text}", path.display());
        }
        let stamp = work.join("words.sources.txt");
        let unchanged = std::fs::read_to_string(&stamp).ok().as_deref() == Some(sources.as_str());
        if !(unchanged && wasm.exists()) {
            let _ = std::fs::remove_file(&stamp);
            self.componentize(&tool, &wasm);
            // A fresh cache with each build: an entry is tens of MiB, and the
            // old ones would only pile up.
            let _ = std::fs::remove_dir_all(&cache);
        }
        let built = Built { wasm, cache };
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, TINY_INPUT).unwrap();
        let started = Instant::now();
        let out = run(&built, &input, &[], &["top", "3"]);
        assert_eq!(
            (code(&out), String::from_utf8_lossy(&out.stdout)),
            (0, TINY_TOP_3.into()),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "{} guest: first run (compiling unless cached) took {:.1?}",
            self.toolchain.language,
            started.elapsed()
        );
        std::fs::write(&stamp, sources).unwrap();
        built
    }

    /// The tool: `$tool_env` when set, else the one installed in this
    /// test's folder, installed (or again, when the example's files it is
    /// installed from changed) now.
    fn tool(&self) -> PathBuf {
        let t = &self.toolchain;
        if let Some(path) = std::env::var_os(t.tool_env) {
            return path.into();
        }
        let wanted: String = t
            .tool_files
            .iter()
            .map(|f| std::fs::read_to_string(self.example().join(f)).unwrap())
            .collect();
        let dir = self.work_dir().join(t.install_dir);
        let tool = dir.join(t.tool);
        // Written last: an install without it is half made and is made again.
        let stamp = dir.join("bufbridge-installed.txt");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && tool.exists()
        {
            return tool;
        }
        let help = (t.help)(&tool);
        let started = Instant::now();
        (t.install)(&dir, &help);
        assert!(
            tool.exists(),
            "no {} after installing it\n{help}",
            tool.display()
        );
        std::fs::write(&stamp, &wanted).unwrap();
        eprintln!(
            "{} guest: installed {} in {:.1?}",
            t.language,
            tool.display(),
            started.elapsed()
        );
        tool
    }

    /// Builds `wasm` with `tool`.
    fn componentize(&self, tool: &Path, wasm: &Path) {
        let _ = std::fs::remove_file(wasm);
        let started = Instant::now();
        let out = (self.toolchain.componentize)(tool, wasm)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "run {}: {e}\n{}",
                    tool.display(),
                    (self.toolchain.help)(tool)
                )
            });
        assert!(
            out.status.success() && wasm.exists(),
            "{} failed:\n{}{}{}",
            tool.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            // 127: the script's `#!/usr/bin/env node` (or python) found no interpreter.
            match out.status.code() {
                Some(127) => (self.toolchain.help)(tool),
                _ => String::new(),
            }
        );
        let size = std::fs::metadata(wasm).unwrap().len();
        eprintln!(
            "{} guest: built {} ({:.1} MiB) in {:.1?}",
            self.toolchain.language,
            wasm.display(),
            size as f64 / (1024.0 * 1024.0),
            started.elapsed()
        );
    }

    /// Runs the guest over `input` and returns its output, which must succeed.
    pub(crate) fn transform(&self, input: &[u8], words: &[&str]) -> Vec<u8> {
        let built = self.built();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, input).unwrap();
        let started = Instant::now();
        let out = run(built, &path, &[], words);
        assert_eq!(
            code(&out),
            0,
            "{words:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "{} guest: {words:?} over {} bytes took {:.1?}",
            self.toolchain.language,
            input.len(),
            started.elapsed()
        );
        out.stdout
    }

    fn top(&self, input: &[u8], n: usize) -> String {
        top(input, n, self.toolchain.is_word_char)
    }

    // The checks, one test each in every guest's module (`guest_tests!`).

    pub(crate) fn the_readme_example_gives_the_output_it_shows(&self) {
        assert_eq!(self.top(TINY_INPUT.as_bytes(), 3), TINY_TOP_3);
        assert_eq!(rot13(TINY_INPUT.as_bytes()), TINY_ROT13.as_bytes());
        let readme = std::fs::read_to_string(self.example().join("README.md")).unwrap();
        for shown in [TINY_TOP_3, TINY_ROT13] {
            assert!(readme.contains(shown), "README.md shows:\n{shown}");
        }
        // The chunk boundaries of `text()` are the guest's.
        let source = self.toolchain.source;
        let guest = std::fs::read_to_string(self.example().join(source)).unwrap();
        // Python's `CHUNK = 4096`, JavaScript's `const CHUNK = 4096;`.
        let chunk = format!("CHUNK = {CHUNK}");
        let declared = |line: &str| {
            line.strip_prefix("const ")
                .unwrap_or(line)
                .trim_end_matches(';')
                == chunk
        };
        assert!(guest.lines().any(declared), "{source} declares `{chunk}`");
        assert_eq!(
            self.transform(TINY_INPUT.as_bytes(), &["rot13"]),
            TINY_ROT13.as_bytes()
        );
    }

    pub(crate) fn top_counts_the_words_of_an_input_of_several_chunks(&self) {
        let input = text();
        assert!(input.len() > 5 * CHUNK, "{} bytes", input.len());
        let all = self.top(&input, usize::MAX);
        for word in [
            " naïve\n",
            " don't\n",
            " won't\n",
            " boundary\n",
            " straße\n",
        ] {
            assert!(all.contains(word), "the text lacks `{word}`:\n{all}");
        }
        assert_eq!(
            String::from_utf8(self.transform(&input, &["top", "25"])).unwrap(),
            self.top(&input, 25)
        );
        // No arguments: the ten most frequent.
        assert_eq!(
            String::from_utf8(self.transform(&input, &[])).unwrap(),
            self.top(&input, 10)
        );
        // More than there are: every word.
        assert_eq!(
            String::from_utf8(self.transform(&input, &["top", "1000"])).unwrap(),
            all
        );
    }

    pub(crate) fn rot13_streams_an_input_of_several_chunks(&self) {
        let mut input = text();
        input.extend_from_slice(b"\xff\x00 raw bytes pass through \xfe\n");
        assert_eq!(self.transform(&input, &["rot13"]), rot13(&input));
    }

    pub(crate) fn an_empty_input_gives_an_empty_output(&self) {
        for words in [&["rot13"][..], &["top", "3"]] {
            assert_eq!(self.transform(b"", words), b"", "{words:?}");
        }
    }

    pub(crate) fn unknown_commands_and_bad_arguments_fail_with_a_clear_message(&self) {
        let built = self.built();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, TINY_INPUT).unwrap();
        for (words, message) in [
            (
                &["frob"][..],
                "bufbridge: guest failed: unknown command `frob`; known commands: `top [N]` (N most frequent words, default 10), `rot13`\n",
            ),
            (
                &["top", "ten"],
                "bufbridge: guest failed: `top` takes a positive whole number of words, not `ten`\n",
            ),
            (
                &["top", "0"],
                "bufbridge: guest failed: `top` takes a positive whole number of words, not `0`\n",
            ),
            (
                &["top", "3", "4"],
                "bufbridge: guest failed: `top` takes at most one argument (N), but got: 3 4\n",
            ),
            (
                &["rot13", "x"],
                "bufbridge: guest failed: `rot13` takes no arguments, but got: x\n",
            ),
        ] {
            let out = run(built, &input, &[], words);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(code(&out), 1, "{words:?}: {stderr}");
            assert_eq!(stderr, message, "{words:?}");
            assert!(out.stdout.is_empty(), "{words:?} wrote output");
        }
    }

    pub(crate) fn a_refused_append_fails_the_run_with_the_buffer_error(&self) {
        let built = self.built();
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.txt");
        std::fs::write(&input, text()).unwrap();
        let out = run(built, &input, &["--max-output", "10000"], &["rot13"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 1, "{stderr}");
        assert_eq!(
            stderr,
            "bufbridge: guest failed: writing the output: buffer limit of 10000 bytes exceeded (for the output: raise --max-output)\n"
        );
        assert!(out.stdout.is_empty());
    }
}

/// The files of the repository's `wit/`, in order.
fn wit_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("wit"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `cmd` (an install step), which must succeed; `help` says what to do
/// when it cannot start or fails.
pub(crate) fn step(cmd: &mut Command, what: &str, help: &str) {
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

/// `bufbridge run WASM --input INPUT --output - OPTIONS --timeout 2m -- WORDS`.
fn run(built: &Built, input: &Path, options: &[&str], words: &[&str]) -> Output {
    let mut options = options.to_vec();
    options.extend(["--timeout", TIMEOUT]);
    let mut cmd = in_cache(
        bufbridge_run(Some(&built.wasm), input, "-", &options, words),
        &built.cache,
    );
    // Not `output_of`: its watchdog is shorter than this guest's --timeout.
    cmd.stdin(Stdio::null()).output().expect("start bufbridge")
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().expect("bufbridge exited, not killed")
}

/// A text of about 24 KiB (six chunks) with words of skewed frequency in
/// mixed case, punctuation, non-ASCII letters, and the hard cases placed
/// exactly on chunk boundaries: a two-byte character split by the first, a
/// word split after its apostrophe by the second, a three-byte apostrophe
/// split by the third, a plain word by the fourth.
fn text() -> Vec<u8> {
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

/// `top N` as the guests document it: words are runs of letters and digits
/// (`is_word_char`, the guest's own rule) with single apostrophes inside,
/// lower-cased, `’` read as `'`; the N most frequent, ties in code-point
/// order.
fn top(input: &[u8], n: usize, is_word_char: fn(char) -> bool) -> String {
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
        if is_word_char(c) {
            word.push(c);
        } else if (c == '\'' || c == '’')
            && !word.is_empty()
            && chars.get(i + 1).copied().is_some_and(is_word_char)
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

fn rot13(input: &[u8]) -> Vec<u8> {
    input
        .iter()
        .map(|&b| match b {
            b'a'..=b'z' => (b - b'a' + 13) % 26 + b'a',
            b'A'..=b'Z' => (b - b'A' + 13) % 26 + b'A',
            _ => b,
        })
        .collect()
}
