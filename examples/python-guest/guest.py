"""A bufbridge guest in Python: word frequencies and rot13, streamed.

Built with componentize-py against the repository's `wit/` folder (see
README.md). Like every bufbridge guest it never holds the whole input: it
reads the host-owned input buffer in bounded chunks with `read(offset, len)`
and sends its output with `append`.

Commands (the first of `args`; none means `top 10`):

    top [N]   the N most frequent words (default 10), one `COUNT WORD` line
              each, most frequent first, ties in code-point order of the word.
              A word is a run of letters and digits (`str.isalnum`), with
              single apostrophes inside (`don't`; `’` counts as `'`),
              compared in lower case. The input is decoded as UTF-8; invalid
              bytes separate words.
    rot13     ASCII letters rotated by 13 places, every other byte unchanged.
"""

import codecs
import re
from collections import Counter

import wit_world
from componentize_py_types import Err
from wit_world.imports.buffers import (
    Buffer,
    BufferError_LimitExceeded,
    BufferError_OutOfBounds,
    BufferError_QuotaExceeded,
    BufferError_ReadOnly,
)

# How many bytes of the input the guest holds at once.
CHUNK = 4096

DEFAULT_TOP = 10
USAGE = "known commands: `top [N]` (N most frequent words, default 10), `rot13`"

# What may join two parts of one word: `don't`, `don’t`.
APOSTROPHES = "'\u2019"
# A letter or digit: `str.isalnum`, which is what `\w` means less `_`.
ALNUM = r"[^\W_]"
WORD = re.compile(f"{ALNUM}+(?:[{APOSTROPHES}]{ALNUM}+)*")

ROT13 = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    b"NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


class WitWorld(wit_world.WitWorld):
    def process(self, input: Buffer, output: Buffer, args: list[str]) -> None:
        """The `process` export: raising `Err(message)` fails the run with
        `message`; returning keeps what `output` holds."""
        command, rest = (args[0], args[1:]) if args else ("top", [])
        if command == "top":
            top(input, output, top_count(rest))
        elif command == "rot13":
            if rest:
                raise Err(f"`rot13` takes no arguments, but got: {' '.join(rest)}")
            rot13(input, output)
        else:
            raise Err(f"unknown command `{command}`; {USAGE}")


def top_count(rest: list[str]) -> int:
    """The N of `top [N]`."""
    if not rest:
        return DEFAULT_TOP
    if len(rest) > 1:
        raise Err(f"`top` takes at most one argument (N), but got: {' '.join(rest)}")
    if not rest[0].isascii() or not rest[0].isdigit() or int(rest[0]) == 0:
        raise Err(f"`top` takes a positive whole number of words, not `{rest[0]}`")
    return int(rest[0])


def chunks(input: Buffer):
    """The input's bytes, CHUNK at a time, in order."""
    offset = 0
    while True:
        chunk = checked("reading the input", lambda: input.read(offset, CHUNK))
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


def append(output: Buffer, data: bytes) -> None:
    checked("writing the output", lambda: output.append(data))


def checked(step: str, call):
    """Runs one buffer call; a refused operation fails the run with a message
    a user can act on, rather than a Python traceback."""
    try:
        return call()
    except Err as e:
        raise Err(f"{step}: {describe(e.value)}") from None


def describe(error) -> str:
    match error:
        case BufferError_OutOfBounds(length):
            return f"offset out of bounds (length {length})"
        case BufferError_LimitExceeded(limit):
            return f"buffer limit of {limit} bytes exceeded (for the output: raise --max-output)"
        case BufferError_ReadOnly():
            return "buffer is read-only"
        case BufferError_QuotaExceeded(quota):
            return f"scratch quota of {quota} bytes exceeded"
    return repr(error)


def rot13(input: Buffer, output: Buffer) -> None:
    for chunk in chunks(input):
        append(output, chunk.translate(ROT13))


def unfinished_word(text: str) -> int:
    """Where the run of word characters that ends `text` starts: a word the
    next chunk may continue."""
    start = len(text)
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in APOSTROPHES):
        start -= 1
    return start


def count_words(text: str, end: int, counts: Counter) -> None:
    """Adds the words of `text[:end]` to `counts`."""
    counts.update(
        word.lower().replace("\u2019", "'") for word in WORD.findall(text, 0, end)
    )


def top(input: Buffer, output: Buffer, n: int) -> None:
    counts: Counter = Counter()
    # A UTF-8 character or a word may straddle two chunks: the decoder keeps
    # the bytes of an unfinished character, and `carry` the unfinished word.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry = ""
    for chunk in chunks(input):
        text = carry + decoder.decode(chunk)
        cut = unfinished_word(text)
        if cut == 0 and len(text) > CHUNK:
            cut = len(text)  # one "word" longer than a chunk: split it
        count_words(text, cut, counts)
        carry = text[cut:]
    text = carry + decoder.decode(b"", final=True)
    count_words(text, len(text), counts)

    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]
    append(output, "".join(f"{count} {word}\n" for word, count in ranked).encode())
