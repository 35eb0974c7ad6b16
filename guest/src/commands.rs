// The default guest's commands, written once: the guest dispatches on this
// list and names it for an unknown command, and the `bufbridge` CLI includes
// this file (`include!`) for `run --help`, so the help cannot miss one.
// Plain comments only: an included file cannot carry inner doc comments.

/// Each command, and what it outputs, in the order `--help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("copy", "the input, byte for byte (the default)"),
    ("upper", "ASCII letters upper-cased"),
    ("lower", "ASCII letters lower-cased"),
    ("reverse", "the bytes in reverse order"),
    ("count", "`<bytes> <lines> <words>`"),
    ("sha256", "the input's SHA-256 in hex, computed by the host"),
    (
        "selftest",
        "one line per check of every function of the interface",
    ),
];
