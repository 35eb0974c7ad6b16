//! Batch mode (`bufbridge run --output-dir DIR --input FILE...`): many inputs
//! in one process, each written atomically, failures named and isolated;
//! and `run --help` listing every command the default guest has.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{
    assert_exit, bufbridge, entries, generated, hostile_wasm_path, run_cli, stderr, tempdir,
};

/// `bufbridge run [GUEST] --output-dir DIR [OPTIONS] --input INPUTS... [-- WORDS]`.
fn batch(
    guest: Option<&Path>,
    dir: &Path,
    options: &[&str],
    inputs: &[PathBuf],
    words: &[&str],
) -> Output {
    run_cli(batch_args(guest, dir, options, inputs, words), None)
}

fn batch_args<'a>(
    guest: Option<&'a Path>,
    dir: &'a Path,
    options: &'a [&'a str],
    inputs: &'a [PathBuf],
    words: &'a [&'a str],
) -> Vec<&'a OsStr> {
    let mut args: Vec<&OsStr> = vec![OsStr::new("run")];
    args.extend(guest.map(Path::as_os_str));
    args.extend([OsStr::new("--output-dir"), dir.as_os_str()]);
    args.extend(options.iter().map(OsStr::new));
    args.push(OsStr::new("--input"));
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    if !words.is_empty() {
        args.push(OsStr::new("--"));
        args.extend(words.iter().map(OsStr::new));
    }
    args
}

/// `bufbridge run --input INPUT --output - -- WORDS`.
fn single(input: &Path, words: &[&str]) -> Output {
    let mut args = vec![
        OsStr::new("run"),
        OsStr::new("--input"),
        input.as_os_str(),
        OsStr::new("--output"),
        OsStr::new("-"),
        OsStr::new("--"),
    ];
    args.extend(words.iter().map(OsStr::new));
    run_cli(args, None)
}

/// Writes `files` (name, bytes) into `dir`; returns their paths in order.
fn write_inputs(dir: &Path, files: &[(&str, &[u8])]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

// ----------------------------------------------------------------- batches

#[test]
fn a_failing_input_is_named_and_the_others_are_still_written() {
    let tmp = tempdir();
    let big = generated(4096);
    let inputs = write_inputs(
        &tmp.path().join("in"),
        &[
            ("a.txt", b"first\n"),
            ("big.txt", &big),
            ("c.txt", b"third\n"),
        ],
    );
    let out_dir = tmp.path().join("out");
    // `big.txt` needs more output than --max-output allows: the guest's
    // write fails and it says so, exit 1.
    let out = batch(
        None,
        &out_dir,
        &["-j", "2", "--max-output", "1KiB"],
        &inputs,
        &["upper"],
    );
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("big.txt"), "the failed input is named:\n{err}");
    assert!(err.contains("1 of 3 inputs failed"), "{err}");
    assert!(!err.contains("a.txt") && !err.contains("c.txt"), "{err}");
    assert_eq!(
        entries(&out_dir),
        ["a.txt", "c.txt"],
        "no file for the failed input, no temporary file"
    );
    assert_eq!(std::fs::read(out_dir.join("a.txt")).unwrap(), b"FIRST\n");
    assert_eq!(std::fs::read(out_dir.join("c.txt")).unwrap(), b"THIRD\n");

    // A missing input is a host I/O error (4): the highest code wins.
    let mut with_missing = inputs.clone();
    with_missing.push(tmp.path().join("in/missing.txt"));
    let out = batch(
        None,
        &out_dir,
        &["--max-output", "1KiB"],
        &with_missing,
        &["upper"],
    );
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("missing.txt") && err.contains("big.txt"),
        "{err}"
    );
    assert!(err.contains("2 of 4 inputs failed"), "{err}");
}

#[test]
fn outputs_equal_single_file_runs() {
    let tmp = tempdir();
    let inputs = write_inputs(
        &tmp.path().join("in"),
        &[
            ("empty", b""),
            ("small.txt", b"Hello, World!\n"),
            ("large.bin", &generated(300_000)),
            ("odd name with spaces", b"\xff\x00 bytes\n"),
        ],
    );
    for command in ["copy", "upper", "reverse", "count", "sha256"] {
        let out_dir = tmp.path().join(format!("out-{command}"));
        let out = batch(None, &out_dir, &[], &inputs, &[command]);
        assert_exit(&out, 0);
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{}",
            stderr(&out)
        );
        for input in &inputs {
            let single = single(input, &[command]);
            assert_exit(&single, 0);
            let batched = std::fs::read(out_dir.join(input.file_name().unwrap())).unwrap();
            assert_eq!(batched, single.stdout, "{command} of {}", input.display());
        }
    }
}

#[test]
fn duplicate_file_names_are_refused_before_anything_runs() {
    let tmp = tempdir();
    let mut inputs = write_inputs(&tmp.path().join("one"), &[("x.txt", b"1"), ("y.txt", b"2")]);
    inputs.extend(write_inputs(&tmp.path().join("two"), &[("x.txt", b"3")]));
    let out_dir = tmp.path().join("out");
    let out = batch(None, &out_dir, &[], &inputs, &[]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("one/x.txt") && err.contains("two/x.txt"),
        "both are named:\n{err}"
    );
    assert!(!out_dir.exists(), "nothing was written, not even DIR");
}

#[test]
fn an_output_that_would_replace_its_input_is_refused() {
    let tmp = tempdir();
    let inputs = write_inputs(tmp.path(), &[("a.txt", b"keep me")]);
    let out = batch(None, tmp.path(), &[], &inputs, &["upper"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("its own output"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&inputs[0]).unwrap(), b"keep me");
}

#[test]
fn dir_is_created_but_not_its_parents() {
    let tmp = tempdir();
    let inputs = write_inputs(&tmp.path().join("in"), &[("a.txt", b"abc")]);
    let made = tmp.path().join("new");
    let out = batch(None, &made, &[], &inputs, &["upper"]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(made.join("a.txt")).unwrap(), b"ABC");

    let deep = tmp.path().join("no/such/dir");
    let out = batch(None, &deep, &[], &inputs, &["upper"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("cannot create output directory"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("no").exists());
}

#[test]
fn several_inputs_without_output_dir_are_a_usage_error() {
    let tmp = tempdir();
    let inputs = write_inputs(tmp.path(), &[("a", b"1"), ("b", b"2")]);
    let out = run_cli(
        [
            OsStr::new("run"),
            OsStr::new("--output"),
            OsStr::new("-"),
            OsStr::new("--input"),
            inputs[0].as_os_str(),
            inputs[1].as_os_str(),
        ],
        None,
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--output-dir"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

/// Waits until `n` temporary output files are in `dir`.
fn wait_for_temp_files(dir: &Path, n: usize, child: &mut Child) {
    let started = Instant::now();
    while entries(dir)
        .iter()
        .filter(|name| name.ends_with(".bufbridge-tmp"))
        .count()
        < n
    {
        assert!(child.try_wait().unwrap().is_none(), "bufbridge ended early");
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no temporary files appeared"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signal_leaves_the_finished_outputs_and_no_partial_file() {
    let tmp = tempdir();
    let inputs = write_inputs(
        &tmp.path().join("in"),
        &[("a", b"1"), ("b", b"2"), ("c", b"3")],
    );
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("a"), b"old").unwrap();
    let args = batch_args(
        Some(hostile_wasm_path()),
        &out_dir,
        &["-j", "2"],
        &inputs,
        &["sleep", "60"],
    );
    let mut child = bufbridge()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_temp_files(&out_dir, 2, &mut child);
    // SAFETY: sends a signal to our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 130);
    assert!(stderr(&out).contains("no partial file"), "{}", stderr(&out));
    assert_eq!(entries(&out_dir), ["a"], "only the old output, untouched");
    assert_eq!(std::fs::read(out_dir.join("a")).unwrap(), b"old");
}

// -------------------------------------------------------------------- help

#[test]
fn run_help_lists_every_command_of_the_default_guest() {
    // The guest's own list, as it gives it for a command it does not know.
    let tmp = tempdir();
    let input = tmp.path().join("in.txt");
    std::fs::write(&input, b"x").unwrap();
    let run = |words: &[&str]| single(&input, words);
    let out = run(&["no-such-command"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    let known = err
        .split("known commands: ")
        .nth(1)
        .unwrap_or_else(|| panic!("the guest lists its commands:\n{err}"))
        .trim();
    let commands: Vec<&str> = known.split(", ").collect();
    assert!(
        commands.contains(&"sha256") && commands.len() >= 7,
        "{commands:?}"
    );

    let help = run_cli(["run", "--help"], None);
    assert_exit(&help, 0);
    let help = String::from_utf8(help.stdout).unwrap();
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("The default guest's commands"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for command in &commands {
        let listed = listed.contains(command);
        assert!(listed, "`{command}` missing from the help's list:\n{help}");
        // And the guest runs it: the list is what it dispatches on.
        let out = run(&[command]);
        assert!(
            !stderr(&out).contains("unknown command"),
            "{command}: {}",
            stderr(&out)
        );
    }
}
