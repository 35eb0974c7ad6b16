//! The `bufbridge` command line, as a user runs it: real files, stdin and
//! stdout, every exit code, and output files that change only on success.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

/// A temp dir with the files of one test.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Dir { dir: tempdir() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    fn entries(&self) -> Vec<String> {
        entries(self.dir.path())
    }
}

fn cli(args: &[&dyn AsRef<OsStr>]) -> Output {
    run_cli(args.iter().map(|a| a.as_ref()), None)
}

fn cli_stdin(args: &[&dyn AsRef<OsStr>], stdin: &[u8]) -> Output {
    run_cli(args.iter().map(|a| a.as_ref()), Some(stdin))
}

fn hostile() -> Option<&'static Path> {
    Some(hostile_wasm_path())
}

/// `<bytes> <lines> <words>\n`, as `wc` counts.
pub(crate) fn wc(bytes: &[u8]) -> Vec<u8> {
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    let words = bytes
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .filter(|w| !w.is_empty())
        .count();
    format!("{} {lines} {words}\n", bytes.len()).into_bytes()
}

fn reversed(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().rev().copied().collect()
}

/// Every default command with the output it must give for `input`.
fn expected(input: &[u8]) -> Vec<(&'static [&'static str], Vec<u8>)> {
    vec![
        (&[], input.to_vec()),
        (&["copy"], input.to_vec()),
        (&["upper"], input.to_ascii_uppercase()),
        (&["lower"], input.to_ascii_lowercase()),
        (&["reverse"], reversed(input)),
        (&["count"], wc(input)),
        (&["sha256"], sha256_line(input)),
    ]
}

#[test]
fn sha256_prints_the_well_known_digests() {
    // FIPS 180-2's "abc" example and the empty input.
    for (input, digest) in [
        (
            &b"abc"[..],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            &b""[..],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ] {
        let dir = Dir::new();
        dir.write("in.txt", input);
        let out = run(None, dir.path("in.txt"), "-", &[], &["sha256"]);
        assert_exit(&out, 0);
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{digest}\n"));
    }
}

/// A run that failed: `want` exit code, nothing on stdout, the destination
/// byte for byte as before, no other file appeared (no stray temp file).
#[track_caller]
fn assert_failed_untouched(out: &Output, want: i32, dir: &Dir, before: &[String]) {
    assert_exit(out, want);
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert_untouched(dir.dir.path(), before);
    assert!(!out.stderr.is_empty(), "a failure says why");
}

/// A dir with `in.txt` and a pre-existing `out.txt`.
fn dir_with_old_output(input: &[u8]) -> (Dir, Vec<String>) {
    let (dir, before) = crate::common::dir_with_old_output(input);
    (Dir { dir }, before)
}

// -------------------------------------------------------------------- help

#[test]
fn help_lists_the_exit_codes() {
    let out = cli(&[&"--help"]);
    assert_exit(&out, 0);
    let help = String::from_utf8(out.stdout).unwrap();
    for line in [
        "Exit codes:",
        "0  success",
        "1  the guest returned an error",
        "2  usage error",
        "3  the guest trapped or hit a limit",
        "4  host I/O error",
    ] {
        assert!(help.contains(line), "`{line}` missing from:\n{help}");
    }
}

#[test]
fn run_help_explains_sizes_commands_and_exit_codes() {
    let out = cli(&[&"run", &"--help"]);
    assert_exit(&out, 0);
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "--input",
        "--output",
        "--max-output",
        "--quota",
        "KiB",
        "MiB",
        "copy",
        "upper",
        "lower",
        "reverse",
        "count",
        "selftest",
        "Exit codes",
        "1 guest error",
        "2 usage error",
        "3 guest trapped",
        "4 host I/O error",
    ] {
        assert!(help.contains(word), "`{word}` missing from:\n{help}");
    }
}

// ------------------------------------------------------ the default guest

#[test]
fn every_default_command_works_on_real_files() {
    let dir = Dir::new();
    let input = b"Hello, World!\nsecond  line\twith Tabs\n\xff\x00end";
    let path = dir.write("in.txt", input);
    for (words, want) in expected(input) {
        let out = run(None, &path, dir.path("out.txt"), &[], words);
        assert_exit(&out, 0);
        assert!(out.stdout.is_empty(), "{words:?} printed to stdout");
        assert_eq!(dir.read("out.txt"), want, "{words:?}");
    }
    assert_eq!(dir.read("in.txt"), input, "the input is never modified");
    assert_eq!(dir.entries(), ["in.txt", "out.txt"]);
}

#[test]
fn a_five_mib_input_goes_through_every_command() {
    let dir = Dir::new();
    let input = generated(5 * 1024 * 1024);
    let path = dir.write("big.bin", &input);
    for (words, want) in expected(&input) {
        let out = run(None, &path, dir.path("out.bin"), &[], words);
        assert_exit(&out, 0);
        let got = dir.read("out.bin");
        assert_eq!(got.len(), want.len(), "{words:?}: length");
        assert!(got == want, "{words:?}: the bytes differ");
    }
}

#[test]
fn an_empty_input_gives_empty_outputs() {
    let dir = Dir::new();
    let path = dir.write("empty", b"");
    for (words, want) in expected(b"") {
        // A previous, longer output is replaced, not partly overwritten.
        dir.write("out", b"old contents");
        let out = run(None, &path, dir.path("out"), &[], words);
        assert_exit(&out, 0);
        assert_eq!(dir.read("out"), want, "{words:?}");
    }
    assert_eq!(expected(b"")[5].1, b"0 0 0\n");
}

#[test]
fn dash_means_stdin_and_stdout() {
    let input = generated(3 * 1024 * 1024 + 17);
    let out = output_of(bufbridge_run(None, "-", "-", &[], &["upper"]), Some(&input));
    assert_exit(&out, 0);
    assert!(out.stdout == input.to_ascii_uppercase(), "stdin to stdout");

    let dir = Dir::new();
    let out = cli_stdin(
        &[
            &"run",
            &"-i",
            &"-",
            &"-o",
            &dir.path("out"),
            &"--",
            &"count",
        ],
        b"one two\nthree\n",
    );
    assert_exit(&out, 0);
    assert_eq!(dir.read("out"), b"14 2 3\n", "stdin to a file");

    let path = dir.write("in", b"abc");
    let out = run(None, &path, "-", &[], &["reverse"]);
    assert_exit(&out, 0);
    assert_eq!(out.stdout, b"cba", "a file to stdout");
}

#[test]
fn the_output_may_be_the_input_file() {
    let dir = Dir::new();
    let path = dir.write("notes.txt", b"shout this\n");
    let out = run(None, &path, &path, &[], &["upper"]);
    assert_exit(&out, 0);
    assert_eq!(dir.read("notes.txt"), b"SHOUT THIS\n");
    assert_eq!(dir.entries(), ["notes.txt"]);
}

#[test]
fn selftest_passes_with_small_limits_and_with_defaults() {
    let dir = Dir::new();
    let path = dir.write("in", b"selftest input\n");
    let small = ["--quota", "1MiB", "--max-output", "64KiB"];
    for (options, skips) in [(&small[..], false), (&[][..], true)] {
        let out = run(None, &path, dir.path("report"), options, &["selftest"]);
        assert_exit(&out, 0);
        let report = String::from_utf8(dir.read("report")).unwrap();
        let last = report.lines().last().unwrap();
        assert!(last.ends_with(" checks, 0 failed"), "{report}");
        assert!(!report.contains("FAIL"), "{report}");
        assert_eq!(report.contains("\nskip "), skips, "{options:?}:\n{report}");
        if !skips {
            assert!(report.contains("quota is 1048576 bytes"), "{report}");
        }
    }
}

// ------------------------------------------------------------------- sizes

#[test]
fn sizes_take_units() {
    let dir = Dir::new();
    for (size, fits, too_big) in [
        ("1KiB", 1024, 1025),
        ("1k", 1024, 1025),
        ("1KB", 1000, 1001),
        ("1.5KiB", 1536, 1537),
        ("700", 700, 701),
    ] {
        let path = dir.write("in", &vec![b'x'; fits]);
        let out = run(None, &path, dir.path("out"), &["--max-output", size], &[]);
        assert_exit(&out, 0);
        assert_eq!(dir.read("out").len(), fits, "--max-output {size}");

        let path = dir.write("in", &vec![b'x'; too_big]);
        let out = run(None, &path, dir.path("out"), &["--max-output", size], &[]);
        assert_exit(&out, 1);
        let message = stderr(&out);
        assert!(
            message.contains(&format!("limit of {fits} bytes")) && message.contains("--max-output"),
            "--max-output {size}: {message}"
        );
        assert_eq!(dir.read("out").len(), fits, "the old output stays");
    }
    let out = run(
        None,
        dir.path("in"),
        dir.path("report"),
        &["--quota", "0.5MiB", "--max-output", "64KiB"],
        &["selftest"],
    );
    assert_exit(&out, 0);
    let report = String::from_utf8(dir.read("report")).unwrap();
    assert!(report.contains("quota is 524288 bytes"), "{report}");
}

#[test]
fn a_bad_size_is_a_usage_error_that_says_why() {
    let (dir, before) = dir_with_old_output(b"x");
    for (option, size, why) in [
        ("--quota", "5parsecs", "unknown unit"),
        ("--max-output", "-1", "unknown unit"),
        ("--max-output", "1.2.3k", "not a size"),
        ("--max-output", "MiB", "not a size"),
        ("--quota", "99999999999TiB", "larger than"),
    ] {
        let out = run(
            None,
            dir.path("in.txt"),
            dir.path("out.txt"),
            &[&format!("{option}={size}")],
            &[],
        );
        assert_failed_untouched(&out, 2, &dir, &before);
        let message = stderr(&out);
        assert!(
            message.contains(why) && message.contains(option),
            "{option} {size}: {message}"
        );
    }
}

// ------------------------------------------------------------- exit codes

#[test]
fn usage_errors_exit_2() {
    let (dir, before) = dir_with_old_output(b"x");
    let input = dir.path("in.txt");
    let output = dir.path("out.txt");
    for args in [
        vec![],
        vec!["run"],
        vec!["run", "--output", "-"],
        vec!["run", "--input", "-"],
        vec!["frobnicate"],
    ] {
        let out = cli_stdin(
            &args
                .iter()
                .map(|a| a as &dyn AsRef<OsStr>)
                .collect::<Vec<_>>(),
            b"",
        );
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("Usage"), "{args:?}: {}", stderr(&out));
    }
    let out = cli(&[
        &"run",
        &"--input",
        &input,
        &"--output",
        &output,
        &"--frobnicate",
    ]);
    assert_failed_untouched(&out, 2, &dir, &before);
    assert!(stderr(&out).contains("--frobnicate"), "{}", stderr(&out));
}

/// `run -i IN -o OUT upper` takes `upper` for a GUEST file: the error says
/// to put the command after `--`. A missing file of another name stays an
/// I/O error naming it.
#[test]
fn a_command_given_as_the_guest_says_to_put_it_after_the_double_dash() {
    let (dir, before) = dir_with_old_output(b"x");
    let (input, output) = (dir.path("in.txt"), dir.path("out.txt"));
    let out = cli(&[&"run", &"-i", &input, &"-o", &output, &"upper"]);
    assert_failed_untouched(&out, 2, &dir, &before);
    assert!(stderr(&out).contains("-- upper"), "{}", stderr(&out));
    let out = cli(&[&"run", &"-i", &input, &"-o", &output, &"uppper"]);
    assert_failed_untouched(&out, 4, &dir, &before);
    assert!(
        stderr(&out).contains("cannot read guest uppper") && !stderr(&out).contains("--"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_guest_error_exits_1_with_its_message_and_keeps_the_old_output() {
    let (dir, before) = dir_with_old_output(b"some input");
    let (input, output) = (dir.path("in.txt"), dir.path("out.txt"));

    let out = run(None, &input, &output, &[], &["shout"]);
    assert_failed_untouched(&out, 1, &dir, &before);
    let message = stderr(&out);
    assert!(message.contains("unknown command `shout`"), "{message}");
    assert!(
        message.contains("copy, upper, lower, reverse, count, sha256, selftest"),
        "{message}"
    );

    let out = run(None, &input, &output, &[], &["upper", "loudly"]);
    assert_failed_untouched(&out, 1, &dir, &before);
    assert!(stderr(&out).contains("loudly"), "{}", stderr(&out));

    // The guest wrote to its output before failing: none of it is kept.
    let out = run(hostile(), &input, &output, &[], &["write-then-err"]);
    assert_failed_untouched(&out, 1, &dir, &before);
    assert!(
        stderr(&out).contains("deliberate failure after writing"),
        "{}",
        stderr(&out)
    );

    // No output file appears where there was none.
    let out = run(
        hostile(),
        &input,
        dir.path("new.txt"),
        &[],
        &["write-then-err"],
    );
    assert_exit(&out, 1);
    assert_eq!(dir.entries(), before);
}

#[test]
fn a_trap_exits_3_names_the_cause_and_keeps_the_old_output() {
    let (dir, before) = dir_with_old_output(b"some input");
    let (input, output) = (dir.path("in.txt"), dir.path("out.txt"));
    for (words, cause) in [
        (&["forge-handle"][..], "12345"),
        (&["use-after-drop"], "handle"),
        (&["write-then-panic"], "deliberate panic after writing"),
        (&["alloc", "1000000000"], "memory limit"),
    ] {
        let out = run(hostile(), &input, &output, &[], words);
        assert_failed_untouched(&out, 3, &dir, &before);
        let message = stderr(&out);
        assert!(message.contains(cause), "{words:?}: {message}");
    }
    // The same with stdout as the output: nothing is written to it.
    let out = run(hostile(), &input, "-", &[], &["write-then-panic"]);
    assert_exit(&out, 3);
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
}

#[test]
fn a_file_that_is_not_a_guest_exits_2_and_keeps_the_old_output() {
    let (dir, _) = dir_with_old_output(b"some input");
    let garbage = dir.write("garbage.wasm", b"this is not WebAssembly");
    let empty_component = dir.write("empty.wat", b"(component)");
    let before = dir.entries();
    for (guest, why) in [(&garbage, "valid"), (&empty_component, "processor")] {
        let out = run(
            Some(guest.as_path()),
            dir.path("in.txt"),
            dir.path("out.txt"),
            &[],
            &[],
        );
        assert_failed_untouched(&out, 2, &dir, &before);
        let message = stderr(&out);
        assert!(
            message.contains(why) && message.contains(&guest.display().to_string()),
            "{message}"
        );
    }
}

#[test]
fn io_errors_exit_4_name_the_path_and_keep_the_old_output() {
    let (dir, before) = dir_with_old_output(b"some input");
    let (input, output) = (dir.path("in.txt"), dir.path("out.txt"));

    let missing = dir.path("missing.txt");
    let out = run(None, &missing, &output, &[], &[]);
    assert_failed_untouched(&out, 4, &dir, &before);
    assert!(stderr(&out).contains("missing.txt"), "{}", stderr(&out));

    let no_guest = dir.path("no-such-guest.wasm");
    let out = run(Some(&no_guest), &input, &output, &[], &[]);
    assert_failed_untouched(&out, 4, &dir, &before);
    assert!(
        stderr(&out).contains("no-such-guest.wasm"),
        "{}",
        stderr(&out)
    );

    // An input that is a directory cannot be read either.
    let out = run(None, dir.dir.path(), &output, &[], &[]);
    assert_failed_untouched(&out, 4, &dir, &before);

    let nowhere = dir.path("no-such-dir/out.txt");
    let out = run(None, &input, &nowhere, &[], &[]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    assert_eq!(dir.entries(), before);

    fs::create_dir(dir.path("a-dir")).unwrap();
    let out = run(None, &input, dir.path("a-dir"), &[], &[]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("a-dir"), "{}", stderr(&out));
    assert_eq!(entries(&dir.path("a-dir")), Vec::<String>::new());
}

// ------------------------------------------------------------ output files

#[test]
fn success_replaces_the_whole_file_and_keeps_its_permissions() {
    let dir = Dir::new();
    let input = dir.write("in", b"short");
    let output = dir.write("out", b"a much longer previous output");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&output, fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = run(None, &input, &output, &[], &["upper"]);
    assert_exit(&out, 0);
    assert_eq!(dir.read("out"), b"SHORT");
    assert_eq!(dir.entries(), ["in", "out"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "permissions of the replaced file");
    }
}

#[cfg(unix)]
#[test]
fn an_output_symlink_is_written_through() {
    let dir = Dir::new();
    let input = dir.write("in", b"through the link");
    dir.write("target", b"old");
    std::os::unix::fs::symlink("target", dir.path("link")).unwrap();
    let out = run(None, &input, dir.path("link"), &[], &["upper"]);
    assert_exit(&out, 0);
    assert!(fs::symlink_metadata(dir.path("link")).unwrap().is_symlink());
    assert_eq!(dir.read("target"), b"THROUGH THE LINK");
    assert_eq!(dir.entries(), ["in", "link", "target"]);
}

// ------------------------------------------------------------ the sandbox

#[test]
fn guest_prints_go_to_stderr_never_into_the_output() {
    let dir = Dir::new();
    let input = dir.write("in", b"");
    let out = run(hostile(), &input, "-", &[], &["print"]);
    assert_exit(&out, 0);
    assert_eq!(out.stdout, b"printed\n");
    let message = stderr(&out);
    assert!(message.contains("hostile-stdout-marker"), "{message}");
    assert!(message.contains("hostile-stderr-marker"), "{message}");

    let out = run(hostile(), &input, dir.path("out"), &[], &["print"]);
    assert_exit(&out, 0);
    assert_eq!(dir.read("out"), b"printed\n");
}

#[test]
fn the_guest_gets_no_env_args_files_or_network_from_the_host() {
    let dir = Dir::new();
    let input = dir.write("in", b"");
    dir.write("secret.txt", b"hunter2");
    let out = bufbridge_run(Some(hostile_wasm_path()), &input, "-", &[], &["env"])
        .env("BUFBRIDGE_TEST_SECRET", "hunter2")
        .current_dir(dir.dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("args: []\n"), "{report}");
    assert!(report.contains("vars: []\n"), "{report}");
    assert!(!report.contains("hunter2"), "{report}");
    assert!(!report.contains("secret.txt"), "{report}");
    for key in [
        "read_dir(/)",
        "read_dir(.)",
        "read(/etc/passwd)",
        "tcp-connect",
    ] {
        assert!(report.contains(&format!("{key}: err ")), "{key}:\n{report}");
    }
}

#[test]
fn a_script_from_the_input_file_runs_against_that_input() {
    let dir = Dir::new();
    let script =
        b"len 0\nread 0 0 5\n# a comment\nappend 0 x\ncreate 8\nappend 2 made\ncopy 1 2 0 0 8\n";
    let input = dir.write("script.txt", script);
    let out = run(hostile(), &input, "-", &["--quota", "8B"], &["script"]);
    assert_exit(&out, 0);
    let want = format!(
        "made--- results ---\nok {}\nok \"len 0\"\nerr read-only\nok 2\nok\nok 4\n",
        script.len()
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
}

#[test]
fn relative_paths_name_files_in_the_working_directory() {
    let dir = Dir::new();
    dir.write("in.txt", b"relative");
    dir.write("out.txt", b"old");
    let out = bufbridge_run(None, "in.txt", "out.txt", &[], &["upper"])
        .current_dir(dir.dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(dir.read("out.txt"), b"RELATIVE");
    assert_eq!(dir.entries(), ["in.txt", "out.txt"]);
}

#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stdout_exits_4() {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let dir = Dir::new();
    let input = dir.write("in", b"no room for this");
    let out = bufbridge_run(None, &input, "-", &[], &[])
        .stdout(full)
        .output()
        .unwrap();
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("stdout"), "{}", stderr(&out));
}

#[test]
fn guest_args_arrive_verbatim() {
    let dir = Dir::new();
    let input = dir.write("in", b"");
    let words = ["args", "--my-flag", "3", "two words", "ünïcode", "", "-"];
    let out = run(hostile(), &input, "-", &[], &words);
    assert_exit(&out, 0);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        r#"["--my-flag", "3", "two words", "ünïcode", "", "-"]"#
    );
}

#[cfg(unix)]
#[test]
fn a_new_output_file_gets_the_usual_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    // fs::write creates with 0666 less the umask, as shells and editors do.
    let input = dir.write("in", b"data");
    let out = run(None, &input, dir.path("new"), &[], &[]);
    assert_exit(&out, 0);
    let mode = |name: &str| fs::metadata(dir.path(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("new"), mode("in"), "not a private temp file's 0600");
}
