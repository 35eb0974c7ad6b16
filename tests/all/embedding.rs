//! The library as an embedder uses it: one host and one compiled guest shared
//! across threads, the pooling allocator, the compilation cache, and
//! file-backed input and output.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use bufbridge::{Cache, DEFAULT_GUEST, Guest, Host, HostOptions, Input, Limits, Output, Produced};

use crate::common::args;

#[test]
fn hosts_and_compiled_guests_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Host>();
    send_sync::<Guest>();
}

#[test]
fn a_pooling_host_runs_one_guest_from_many_threads() {
    let host = Host::with_options(HostOptions {
        pooling: true,
        ..HostOptions::default()
    })
    .unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|t| {
                let (host, guest) = (&host, &guest);
                s.spawn(move || {
                    for i in 0..25 {
                        let input = format!("thread {t} run {i}").into_bytes();
                        let out = host
                            .run(guest, input, &args(&["upper"]), &Limits::default())
                            .unwrap();
                        assert_eq!(out, format!("THREAD {t} RUN {i}").into_bytes());
                    }
                })
            })
            .collect();
        runs.into_iter().for_each(|run| run.join().unwrap());
    });
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).map_or(vec![], |d| d.map(|e| e.unwrap().path()).collect())
}

#[test]
fn a_cached_guest_compiles_once_and_survives_a_corrupt_entry() {
    let dir = tempfile::tempdir().unwrap();
    let options = HostOptions {
        cache: Some(Cache::new(dir.path().join("cache"))),
        ..HostOptions::default()
    };
    let run = || {
        let host = Host::with_options(options.clone()).unwrap();
        let guest = host.load(DEFAULT_GUEST).unwrap();
        host.run(
            &guest,
            b"abc".to_vec(),
            &args(&["reverse"]),
            &Limits::default(),
        )
        .unwrap()
    };
    assert_eq!(run(), b"cba");
    let cached = entries(&dir.path().join("cache"));
    assert_eq!(cached.len(), 1, "one entry for the default guest");
    let entry = std::fs::read(&cached[0]).unwrap();
    assert_eq!(run(), b"cba", "a second host loads the entry");
    assert_eq!(std::fs::read(&cached[0]).unwrap(), entry);
    // Cut the entry short: the next load compiles afresh and mends it.
    std::fs::write(&cached[0], &entry[..entry.len() / 3]).unwrap();
    assert_eq!(run(), b"cba");
    assert_eq!(std::fs::read(&cached[0]).unwrap(), entry);
}

#[test]
fn file_backed_runs_write_exactly_the_output_into_the_given_file() {
    let host = Host::new().unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    let mut input = tempfile::tempfile().unwrap();
    input.write_all(b"Hello, files").unwrap();
    // Stale bytes in the output file must not survive.
    let mut output = tempfile::tempfile().unwrap();
    output.write_all(&[b'#'; 100]).unwrap();
    let produced = host
        .run_with(
            &guest,
            Input::File(input),
            Output::File(output),
            &args(&["lower"]),
            &Limits::default(),
        )
        .unwrap();
    let Produced::File(mut file) = produced else {
        panic!("a file output produces the file")
    };
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello, files");
}

#[test]
fn an_unreadable_input_file_is_a_host_io_error() {
    let host = Host::new().unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    // Opened for writing only: reading it fails.
    let dir = tempfile::tempdir().unwrap();
    let write_only = File::create(dir.path().join("w")).unwrap();
    let mut with_bytes = &write_only;
    with_bytes.write_all(b"some bytes").unwrap();
    let err = host
        .run_with(
            &guest,
            Input::File(write_only),
            Output::Memory,
            &args(&["upper"]),
            &Limits::default(),
        )
        .unwrap_err();
    assert!(matches!(err, bufbridge::RunError::HostIo(_)), "{err:?}");
    assert!(
        err.to_string().contains("host I/O error reading the input"),
        "{err}"
    );
}
