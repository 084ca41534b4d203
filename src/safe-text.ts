/**
 * Text that reaches a person's terminal. CloudTrail fields are partly written by whoever made the call
 * (user agent, role session name, request parameters, even event names and file names in a copied
 * bucket), so an attacker can put terminal escape sequences, forged line breaks or bidirectional
 * overrides into them. Everything rendered for a person goes through {@link safeText}; JSON output goes
 * through {@link safeJsonStringify}.
 *
 * What is escaped (and why):
 * - every control character: C0 (U+0000–U+001F, including newline, carriage return, tab and ESC),
 *   DEL (U+007F) and C1 (U+0080–U+009F, which some terminals honour as CSI, OSC …);
 * - every format character (Unicode category Cf): bidirectional embeddings, overrides, isolates and
 *   marks (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), zero-width characters, the byte
 *   order mark U+FEFF, the soft hyphen, interlinear annotation and tag characters — they hide or
 *   reorder what is shown;
 * - the line and paragraph separators U+2028 and U+2029, which some terminals and editors break on;
 * - unpaired surrogates, and the Hangul filler letters (U+115F, U+1160, U+3164, U+FFA0) that render
 *   as blanks.
 *
 * How: `\n`, `\r` and `\t` keep their familiar short forms; other code points up to U+00FF become
 * `\xHH`, the rest `\uHHHH` (or `\u{HHHHH}` above the BMP), with lowercase hex. A backslash in the
 * input becomes `\\`, so every backslash in the output starts an escape and the original text can be
 * recovered exactly. Everything else — letters of every script, emoji (their zero-width joiners
 * excepted), spaces — is left as it is.
 */

// The two classes below are the same list; the text one adds the backslash (the escape character).
/** Characters JSON may leave raw that must not reach a terminal. */
const UNSAFE_JSON = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/gu;
/** The same, plus the backslash. */
const UNSAFE_TEXT = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0\\]/gu;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" };

function escapeCharacter(character: string): string {
  const short = SHORT_ESCAPES[character];
  if (short) return short;
  const codePoint = character.codePointAt(0) ?? 0;
  const hex = codePoint.toString(16);
  if (codePoint <= 0xff) return `\\x${hex.padStart(2, "0")}`;
  if (codePoint <= 0xffff) return `\\u${hex.padStart(4, "0")}`;
  return `\\u{${hex}}`;
}

/**
 * Makes a string safe to print on a terminal: the result has no control, bidirectional, invisible
 * format or line-separator character, each being shown as a visible escape instead (see the module
 * comment for the list and the notation). Use it on every value that came from input before it is
 * printed for a person, and compute column widths on its result.
 *
 * @example
 * safeText("aws-cli\x1b[2J")      // 'aws-cli\\x1b[2J'
 * safeText("ok\n2. all clear")    // 'ok\\n2. all clear'
 * safeText("evil\u202Etxt.exe")   // 'evil\\u202etxt.exe'
 * safeText("C:\\logs")            // 'C:\\\\logs'
 */
export function safeText(text: string): string {
  UNSAFE_TEXT.lastIndex = 0;
  if (!UNSAFE_TEXT.test(text)) return text;
  UNSAFE_TEXT.lastIndex = 0;
  return text.replace(UNSAFE_TEXT, escapeCharacter);
}

/**
 * {@link safeText} applied line by line: for multi-line text the program composed itself (help,
 * a stack trace), whose own line breaks are kept while everything else is escaped.
 *
 * @example
 * safeLines("error: unknown option '--\x1b]0;x\x07'\n") // "error: unknown option '--\\x1b]0;x\\x07'\n"
 */
export function safeLines(text: string): string {
  return text.split("\n").map(safeText).join("\n");
}

/**
 * `JSON.stringify`, then every character {@link safeText} would escape that JSON leaves raw (DEL, C1
 * controls, bidirectional and other format characters, U+2028/U+2029) is written as a `\uXXXX`
 * escape (a surrogate pair above the BMP). The result is valid JSON that parses to exactly the same
 * value, and `cat` on a terminal shows it without any hidden effect. Such characters can only occur
 * inside JSON strings, where a `\u` escape means the same character.
 *
 * @example
 * safeJsonStringify({ ua: "x\u202Ey" })  // '{"ua":"x\\u202ey"}'
 */
export function safeJsonStringify(value: unknown): string {
  const json = JSON.stringify(value);
  UNSAFE_JSON.lastIndex = 0;
  if (!UNSAFE_JSON.test(json)) return json;
  UNSAFE_JSON.lastIndex = 0;
  return json.replace(UNSAFE_JSON, (character) => {
    let out = "";
    for (let i = 0; i < character.length; i++) out += `\\u${character.charCodeAt(i).toString(16).padStart(4, "0")}`;
    return out;
  });
}
