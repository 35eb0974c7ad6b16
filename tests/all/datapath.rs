//! The data path (issue 16): the default guest's vectorised `count`,
//! `upper` and `lower` give what their byte-at-a-time definitions give, at
//! every length and alignment, across 16-byte blocks, the count's batches
//! and the 64 KiB chunks; and shared input bytes run without a copy.

use bufbridge::{DEFAULT_GUEST, Guest, Host, Limits};

use crate::cli::wc;

/// Bytes drawn from every class the kernels tell apart: each white space,
/// the neighbours of the letter ranges and of white space, letters, and
/// bytes above ASCII (whose case must not change).
fn mixed(len: usize, seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8] = b" \t\n\x0b\x0c\r\x08\x0e\x1f!@AMZ[`amz{\x7f\x80\xc1\xe1\xfa\xff";
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Runs of one class make long words and long gaps too.
            ALPHABET[((state >> 20) % ALPHABET.len() as u64) as usize]
        })
        .collect()
}

fn run(host: &Host, guest: &Guest, input: &[u8], command: &str) -> Vec<u8> {
    host.run(guest, input.to_vec(), &[command.into()], &Limits::default())
        .unwrap()
}

#[test]
fn count_upper_and_lower_match_their_definitions_at_every_boundary() {
    let host = Host::new().unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    let chunk = 64 * 1024;
    let batch = 255 * 16;
    let mut lengths: Vec<usize> = (0..=70).collect();
    lengths.extend([batch - 1, batch, batch + 1, 2 * batch + 17]);
    lengths.extend([chunk - 1, chunk, chunk + 1, 2 * chunk + 5, 3 * chunk + 4095]);
    for (i, &len) in lengths.iter().enumerate() {
        let input = mixed(len, i as u64 + 1);
        assert_eq!(
            run(&host, &guest, &input, "count"),
            wc(&input),
            "count of {len}"
        );
        assert_eq!(
            run(&host, &guest, &input, "upper"),
            input.to_ascii_uppercase(),
            "upper of {len}"
        );
        assert_eq!(
            run(&host, &guest, &input, "lower"),
            input.to_ascii_lowercase(),
            "lower of {len}"
        );
    }
}

#[test]
fn a_word_split_across_blocks_and_chunks_counts_once() {
    let host = Host::new().unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    // One word over everything; then words whose boundaries fall on every
    // offset around a 16-byte block's and a chunk's edge.
    let long = vec![b'x'; 3 * 64 * 1024 + 3];
    assert_eq!(run(&host, &guest, &long, "count"), wc(&long));
    for edge in [16, 64 * 1024] {
        for shift in 0..4 {
            let mut input = vec![b'w'; edge + 8];
            input[edge - 2 + shift] = b' ';
            input[edge + 3] = b'\n';
            assert_eq!(run(&host, &guest, &input, "count"), wc(&input));
        }
    }
}

#[test]
fn shared_input_runs_as_a_vector_does_and_stays_the_callers() {
    use bufbridge::{Input, Output};
    use std::sync::Arc;
    let host = Host::new().unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    let text = mixed(3 * 64 * 1024 + 11, 7);
    let run = |input: Input, command: &str| {
        let args = [command.to_string()];
        let out = host.run_with(&guest, input, Output::Memory, &args, &Limits::default());
        out.unwrap().into_bytes().unwrap()
    };
    let shared = bytes::Bytes::from(text.clone());
    let arc: Arc<[u8]> = text.clone().into();
    for command in ["copy", "upper", "reverse", "count", "sha256"] {
        let expected = run(Input::from(text.clone()), command);
        assert_eq!(
            run(Input::from(shared.clone()), command),
            expected,
            "{command}"
        );
        assert_eq!(
            run(Input::from(arc.clone()), command),
            expected,
            "{command}"
        );
    }
    assert_eq!(shared, text, "the caller's bytes are as they were");
    assert_eq!(&arc[..], text);
}

#[test]
fn a_reused_output_vector_holds_only_the_new_output() {
    use bufbridge::{Input, Output, Produced};
    let host = Host::new().unwrap();
    let guest = host.load(DEFAULT_GUEST).unwrap();
    let args = ["upper".to_string()];
    let mut last = b"left over from an earlier run, longer than the next output".to_vec();
    for input in [&b"first"[..], b"", b"a second, longer input"] {
        let output = Output::Reuse(std::mem::take(&mut last));
        let run = host.run_with(
            &guest,
            Input::from(input.to_vec()),
            output,
            &args,
            &Limits::default(),
        );
        let Produced::Bytes(bytes) = run.unwrap() else {
            panic!("an output in memory comes back as bytes");
        };
        assert_eq!(bytes, input.to_ascii_uppercase());
        last = bytes;
    }
}
