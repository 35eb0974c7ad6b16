//! Text from a guest, printed so it cannot drive the terminal or flood it.

use std::io::{self, IsTerminal};

pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

/// Prints `bufbridge: MESSAGE` to stderr, made [`printable`].
pub fn error(message: &str) {
    eprintln!("bufbridge: {}", printable(message, stderr_is_terminal()));
}

/// The longest line of a message printed whole; a longer one (an invalid
/// guest's text, quoted by the parser) is cut.
const MAX_LINE_CHARS: usize = 1000;
/// The most lines of a message printed.
const MAX_LINES: usize = 500;

/// A message as printed: lines capped (a 100 MB invalid guest must not
/// come back as a 100 MB message) and, on a terminal, control characters
/// escaped, since a guest's text could otherwise drive the terminal.
pub fn printable(message: &str, terminal: bool) -> String {
    let mut out = String::new();
    let lines = message.split('\n').count();
    for (i, line) in message.split('\n').take(MAX_LINES).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => {
                out.push_str(&line[..cut]);
                out.push_str(&format!(" … ({} more bytes)", line.len() - cut));
            }
            None => out.push_str(line),
        }
    }
    if lines > MAX_LINES {
        out.push_str(&format!("\n… ({} more lines)", lines - MAX_LINES));
    }
    match terminal {
        true => escape_controls(&out),
        false => out,
    }
}

/// Control characters but newline and tab, written as `\u{1b}`.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_debug()),
            c => out.push(c),
        }
    }
    out
}
