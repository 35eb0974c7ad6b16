// A bufbridge guest in JavaScript: word frequencies and rot13, streamed.
//
// Built with componentize-js against the repository's `wit/` folder (see
// README.md). Like every bufbridge guest it never holds the whole input: it
// reads the host-owned input buffer in bounded chunks with
// `read(offset, len)` and sends its output with `append`.
//
// Commands (the first of `args`; none means `top 10`):
//
//   top [N]   the N most frequent words (default 10), one `COUNT WORD` line
//             each, most frequent first, ties in code-point order of the
//             word. A word is a run of letters and ASCII digits, with single
//             apostrophes inside (`don't`; `’` counts as `'`), compared in
//             lower case. A letter is an ASCII letter or a character with an
//             upper and a lower case form (`é`, `ß`, `Σ`; not `中`): the
//             JavaScript engine inside the component has no Unicode property
//             tables (`\p{L}` is a syntax error there), but it has case
//             mappings. The input is decoded as UTF-8; invalid bytes
//             separate words.
//   rot13     ASCII letters rotated by 13 places, every other byte unchanged.
//
// The `process` export returns `result<_, string>`: returning is `ok`, and
// throwing a string is `err(string)`. Throwing anything else (an `Error`)
// traps the run without a message, so `process` turns every exception into
// a string.

// How many bytes of the input the guest holds at once.
const CHUNK = 4096;

const DEFAULT_TOP = 10;
const USAGE =
  "known commands: `top [N]` (N most frequent words, default 10), `rot13`";

// What may join two parts of one word: `don't`, `don’t`.
const APOSTROPHES = "'\u2019";

const encoder = new TextEncoder();

// The `process` export of the `processor` world. `input` and `output` are
// `buffer` resources (borrowed for the call); offsets are BigInts (`u64`),
// lengths Numbers (`u32`).
export function process(input, output, args) {
  try {
    const [command, ...rest] = args.length > 0 ? args : ["top"];
    if (command === "top") {
      top(input, output, topCount(rest));
    } else if (command === "rot13") {
      if (rest.length > 0) {
        throw `\`rot13\` takes no arguments, but got: ${rest.join(" ")}`;
      }
      rot13(input, output);
    } else {
      throw `unknown command \`${command}\`; ${USAGE}`;
    }
  } catch (e) {
    if (typeof e === "string") throw e;
    throw `internal error in guest.js: ${e}\n${e?.stack ?? ""}`;
  }
}

// The N of `top [N]`.
function topCount(rest) {
  if (rest.length === 0) return DEFAULT_TOP;
  if (rest.length > 1) {
    throw `\`top\` takes at most one argument (N), but got: ${rest.join(" ")}`;
  }
  const n = /^[0-9]+$/.test(rest[0]) ? Number(rest[0]) : 0;
  if (n === 0) {
    throw `\`top\` takes a positive whole number of words, not \`${rest[0]}\``;
  }
  return n;
}

// The input's bytes, CHUNK at a time, in order.
function* chunks(input) {
  let offset = 0n;
  for (;;) {
    const chunk = checked("reading the input", () => input.read(offset, CHUNK));
    if (chunk.length === 0) return;
    offset += BigInt(chunk.length);
    yield chunk;
  }
}

function append(output, bytes) {
  checked("writing the output", () => output.append(bytes));
}

// Runs one buffer call. A refused operation throws a `ComponentError` whose
// `payload` is the `buffer-error` variant (`{ tag, val }`); it fails the run
// with a message a user can act on.
function checked(step, call) {
  try {
    return call();
  } catch (e) {
    if (e?.payload?.tag === undefined) throw e;
    throw `${step}: ${describe(e.payload)}`;
  }
}

function describe({ tag, val }) {
  switch (tag) {
    case "out-of-bounds":
      return `offset out of bounds (length ${val})`;
    case "limit-exceeded":
      return `buffer limit of ${val} bytes exceeded (for the output: raise --max-output)`;
    case "read-only":
      return "buffer is read-only";
    case "quota-exceeded":
      return `scratch quota of ${val} bytes exceeded`;
    default:
      return `${tag} ${val ?? ""}`;
  }
}

const ROT13 = new Uint8Array(256).map((_, b) => {
  if (b >= 0x41 && b <= 0x5a) return ((b - 0x41 + 13) % 26) + 0x41;
  if (b >= 0x61 && b <= 0x7a) return ((b - 0x61 + 13) % 26) + 0x61;
  return b;
});

function rot13(input, output) {
  for (const chunk of chunks(input)) {
    append(output, chunk.map((b) => ROT13[b]));
  }
}

function isWordChar(c) {
  if (c < "\x80") return /[0-9A-Za-z]/.test(c);
  return c.toLowerCase() !== c.toUpperCase();
}

// Where the run of word characters and apostrophes that ends `chars`
// starts: a word the next chunk may continue.
function unfinishedWord(chars) {
  let start = chars.length;
  while (
    start > 0 &&
    (isWordChar(chars[start - 1]) || APOSTROPHES.includes(chars[start - 1]))
  ) {
    start--;
  }
  return start;
}

// Adds the words of `chars` (an array of characters) to `counts`.
function countWords(chars, counts) {
  let word = "";
  const finish = () => {
    if (word !== "") {
      const w = word.toLowerCase();
      counts.set(w, (counts.get(w) ?? 0) + 1);
      word = "";
    }
  };
  chars.forEach((c, i) => {
    if (isWordChar(c)) {
      word += c;
    } else if (
      APOSTROPHES.includes(c) &&
      word !== "" &&
      i + 1 < chars.length &&
      isWordChar(chars[i + 1])
    ) {
      word += "'";
    } else {
      finish();
    }
  });
  finish();
}

// Code-point order: `<` on strings compares UTF-16 code units, which puts
// U+E000..U+FFFF after the characters above U+FFFF.
function byCodePoint(a, b) {
  for (let i = 0; i < a.length && i < b.length; ) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

function top(input, output, n) {
  const counts = new Map();
  // A UTF-8 character or a word may straddle two chunks: the decoder keeps
  // the bytes of an unfinished character, and `carry` the unfinished word.
  const decoder = new TextDecoder("utf-8");
  let carry = [];
  for (const chunk of chunks(input)) {
    const chars = carry.concat(Array.from(decoder.decode(chunk, { stream: true })));
    let cut = unfinishedWord(chars);
    if (cut === 0 && chars.length > CHUNK) {
      cut = chars.length; // one "word" longer than a chunk: split it
    }
    countWords(chars.slice(0, cut), counts);
    carry = chars.slice(cut);
  }
  countWords(carry.concat(Array.from(decoder.decode())), counts);

  const ranked = [...counts]
    .sort(([a, m], [b, k]) => k - m || byCodePoint(a, b))
    .slice(0, n);
  append(output, encoder.encode(ranked.map(([w, c]) => `${c} ${w}\n`).join("")));
}
