//! The JavaScript example guest (`examples/js-guest`): built with
//! componentize-js against `wit/`, checked with `bufbridge inspect`, then run
//! through the `bufbridge` CLI over an input of several chunks, its output
//! compared with the same transform done here in Rust.
//!
//! It does the Python guest's job (`top [N]`, `rot13`, the same messages)
//! over the same text (`python_guest::text`), with one difference: a letter
//! is a character with case forms, as `guest.js` explains.
//!
//! componentize-js comes from `$BUFBRIDGE_COMPONENTIZE_JS` when set, else
//! from `npm ci` of the example's `package.json` and `package-lock.json`,
//! run once in a directory under the target directory, so `cargo test`
//! needs only Node.js, npm and the npm registry. Without them it fails and
//! says what to do. The component is built again only when guest.js, the
//! package files or `wit/` changed (it keeps its compilation cache till
//! then), so a warm run takes seconds, not the build's and compilation's
//! half a minute.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use crate::common::{bufbridge_run, in_cache, repo, run_cli};
use crate::python_guest::{CHUNK, TINY_INPUT, TINY_ROT13, TINY_TOP_3, rot13, text};

/// Each run's time limit: generous, for a loaded machine; a run takes well under a second.
const TIMEOUT: &str = "2m";

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

fn example() -> PathBuf {
    repo().join("examples/js-guest")
}

/// Where this test keeps its npm install, build and compilation cache.
fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("js-guest")
}

/// The guest's test-wide state: the component and the compilation cache the
/// `bufbridge` child processes share (never the user's ~/.cache).
struct Built {
    wasm: PathBuf,
    cache: PathBuf,
}

/// Builds the guest once per test binary, and compiles it once (a warm-up
/// run fills the cache, so the tests that run in parallel only load it).
/// A failure is kept too: every test fails with it, none builds again.
fn built() -> &'static Built {
    static BUILT: OnceLock<Result<Built, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        std::panic::catch_unwind(build).map_err(|panic| {
            match (panic.downcast_ref::<String>(), panic.downcast_ref::<&str>()) {
                (Some(message), _) => message.clone(),
                (None, Some(message)) => message.to_string(),
                (None, None) => "a panic without a message".into(),
            }
        })
    });
    match built {
        Ok(built) => built,
        Err(message) => panic!("the JavaScript guest did not build and run: {message}"),
    }
}

fn build() -> Built {
    let work = work_dir();
    let componentize_js = componentize_js(&work);
    let wasm = work.join("words.wasm");
    let cache = work.join("cache");

    // What the component is built from, kept beside it: when none of it
    // changed, the last build and its compilation cache serve again (two
    // builds of the same guest.js differ, so their cache entries would not).
    let mut sources = format!("{}\n", componentize_js.display());
    let example_files =
        ["guest.js", "package.json", "package-lock.json"].map(|f| example().join(f));
    for path in example_files.into_iter().chain(wit_files()) {
        let text = std::fs::read_to_string(&path).unwrap();
        sources += &format!("--- {}\n{text}", path.display());
    }
    let stamp = work.join("words.sources.txt");
    let unchanged = std::fs::read_to_string(&stamp).ok().as_deref() == Some(sources.as_str());
    if !(unchanged && wasm.exists()) {
        let _ = std::fs::remove_file(&stamp);
        componentize(&componentize_js, &wasm);
        // A fresh cache with each build: an entry is tens of MiB, and the
        // old ones would only pile up.
        let _ = std::fs::remove_dir_all(&cache);
    }
    let built = Built { wasm, cache };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, TINY_INPUT).unwrap();
    let started = Instant::now();
    let out = run(&built, &input, &["top", "3"]);
    assert_eq!(
        (code(&out), String::from_utf8_lossy(&out.stdout)),
        (0, TINY_TOP_3.into()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "js guest: first run (compiling unless cached) took {:.1?}",
        started.elapsed()
    );
    std::fs::write(&stamp, sources).unwrap();
    built
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

/// Builds `wasm` from the repository's `wit/` and guest.js, in place:
/// componentize-js writes nothing beside its inputs.
fn componentize(componentize_js: &Path, wasm: &Path) {
    let _ = std::fs::remove_file(wasm);
    let started = Instant::now();
    let out = Command::new(componentize_js)
        .arg("--wit")
        .arg(repo().join("wit"))
        .args(FLAGS)
        .arg("-o")
        .arg(wasm)
        .arg(example().join("guest.js"))
        .current_dir(work_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "run {}: {e}\n{}",
                componentize_js.display(),
                help(componentize_js)
            )
        });
    assert!(
        out.status.success() && wasm.exists(),
        "componentize-js failed:\n{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        // 127: `#!/usr/bin/env node` found no `node`.
        match out.status.code() {
            Some(127) => help(componentize_js),
            _ => String::new(),
        }
    );
    let size = std::fs::metadata(wasm).unwrap().len();
    eprintln!(
        "js guest: componentize-js built {} ({:.1} MiB) in {:.1?}",
        wasm.display(),
        size as f64 / (1024.0 * 1024.0),
        started.elapsed()
    );
}

/// What to do when componentize-js cannot be installed or run.
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
        example = example().display(),
    )
}

/// componentize-js: `$BUFBRIDGE_COMPONENTIZE_JS`, else the one `npm ci`
/// installed in this test's directory, installed (or again, when the
/// example's package files changed) now.
fn componentize_js(work: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("BUFBRIDGE_COMPONENTIZE_JS") {
        return path.into();
    }
    let files = ["package.json", "package-lock.json"];
    let wanted: String = files
        .iter()
        .map(|f| std::fs::read_to_string(example().join(f)).unwrap())
        .collect();
    let npm = work.join("npm");
    let tool = npm.join("node_modules/.bin/componentize-js");
    // Written last: an install without it is half made and is made again.
    let stamp = npm.join("bufbridge-installed.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && tool.exists() {
        return tool;
    }

    let help = help(&tool);
    let _ = std::fs::remove_dir_all(&npm);
    std::fs::create_dir_all(&npm).unwrap();
    for f in files {
        std::fs::copy(example().join(f), npm.join(f)).unwrap();
    }
    let started = Instant::now();
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&npm)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not start `npm ci`: {e}\n{help}"));
    assert!(
        out.status.success(),
        "`npm ci` failed:\n{}{}\n{help}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tool.exists(), "no {} after npm ci\n{help}", tool.display());
    std::fs::write(&stamp, &wanted).unwrap();
    eprintln!(
        "js guest: npm ci in {} took {:.1?}",
        npm.display(),
        started.elapsed()
    );
    tool
}

/// `bufbridge run WASM --input INPUT --output - --timeout 2m OPTIONS -- WORDS`.
fn run_with(built: &Built, input: &Path, options: &[&str], words: &[&str]) -> Output {
    let mut options = options.to_vec();
    options.extend(["--timeout", TIMEOUT]);
    let mut cmd = in_cache(
        bufbridge_run(Some(&built.wasm), input, "-", &options, words),
        &built.cache,
    );
    // Not `output_of`: its watchdog is shorter than this guest's --timeout.
    cmd.stdin(Stdio::null()).output().expect("start bufbridge")
}

fn run(built: &Built, input: &Path, words: &[&str]) -> Output {
    run_with(built, input, &[], words)
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
    let out = run(built, &path, words);
    assert_eq!(
        code(&out),
        0,
        "{words:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A letter or digit as guest.js has it: an ASCII letter or digit, or a
/// character with case forms.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.to_lowercase().eq(c.to_uppercase()))
}

/// `top N` as guest.js documents it: words are runs of letters and digits
/// with single apostrophes inside, lower-cased, `’` read as `'`; the N most
/// frequent, ties in code-point order.
fn top(input: &[u8], n: usize) -> String {
    let chars: Vec<char> = String::from_utf8_lossy(input).chars().collect();
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

#[test]
fn the_readme_and_package_json_build_and_run_as_this_test_does() {
    assert_eq!(top(TINY_INPUT.as_bytes(), 3), TINY_TOP_3);
    let readme = std::fs::read_to_string(example().join("README.md")).unwrap();
    let package = std::fs::read_to_string(example().join("package.json")).unwrap();
    let flags = format!("--wit ../../wit {}", FLAGS.join(" "));
    assert!(readme.contains(&flags), "README.md builds with {flags}");
    assert!(package.contains(&flags), "package.json builds with {flags}");
    // The chunk boundaries of `text()` are guest.js's.
    let guest = std::fs::read_to_string(example().join("guest.js")).unwrap();
    let chunk = format!("const CHUNK = {CHUNK};");
    assert!(guest.contains(&chunk), "guest.js has `{chunk}`");
    for shown in [TINY_TOP_3, TINY_ROT13] {
        assert!(readme.contains(shown), "README.md shows:\n{shown}");
    }
    assert_eq!(
        transform(TINY_INPUT.as_bytes(), &["rot13"]),
        TINY_ROT13.as_bytes()
    );
}

#[test]
fn the_guest_fits_the_processor_world() {
    let out = run_cli([Path::new("inspect"), &built().wasm], None);
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

#[test]
fn top_counts_the_words_of_an_input_of_several_chunks() {
    let input = text();
    assert!(input.len() > 5 * CHUNK, "{} bytes", input.len());
    let all = top(&input, usize::MAX);
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
        String::from_utf8(transform(&input, &["top", "25"])).unwrap(),
        top(&input, 25)
    );
    // No arguments: the ten most frequent.
    assert_eq!(
        String::from_utf8(transform(&input, &[])).unwrap(),
        top(&input, 10)
    );
    // More than there are: every word.
    assert_eq!(
        String::from_utf8(transform(&input, &["top", "1000"])).unwrap(),
        all
    );
}

#[test]
fn rot13_streams_an_input_of_several_chunks() {
    let mut input = text();
    input.extend_from_slice(b"\xff\x00 raw bytes pass through \xfe\n");
    assert_eq!(transform(&input, &["rot13"]), rot13(&input));
}

#[test]
fn an_empty_input_gives_an_empty_output() {
    for words in [&["rot13"][..], &["top", "3"]] {
        assert_eq!(transform(b"", words), b"", "{words:?}");
    }
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
        let out = run(built, &input, words);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 1, "{words:?}: {stderr}");
        assert_eq!(stderr, message, "{words:?}");
        assert!(out.stdout.is_empty(), "{words:?} wrote output");
    }
}

#[test]
fn a_refused_append_fails_the_run_with_the_buffer_error() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, text()).unwrap();
    let out = run_with(built, &input, &["--max-output", "10000"], &["rot13"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{stderr}");
    assert_eq!(
        stderr,
        "bufbridge: guest failed: writing the output: buffer limit of 10000 bytes exceeded (for the output: raise --max-output)\n"
    );
    assert!(out.stdout.is_empty());
}
