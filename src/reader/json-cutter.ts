/**
 * Cuts the record spans out of decoded text that arrives in pieces, without holding more than the
 * record being cut: the elements of a `{"Records":[…]}` file, or the lines of a one-record-per-line
 * file. A piece may end anywhere — inside a string, an escape, a key — and the next one carries on.
 *
 * While it walks an element, the cutter also notes the element's top-level keys that decide how the
 * decoder would classify it (a record, an Insights record, an envelope, something else), so a plain
 * record can go to the fast extractor without being parsed. It does not validate JSON: the span is
 * parsed (or read by the fast extractor, which must decline what `JSON.parse` rejects) afterwards.
 */

const QUOTE = 34; // "
const BACKSLASH = 92; // \
const OPEN_BRACE = 123; // {
const CLOSE_BRACE = 125; // }
const OPEN_BRACKET = 91; // [
const CLOSE_BRACKET = 93; // ]
const COLON = 58; // :
const COMMA = 44; // ,

/** JSON's own whitespace (what `JSON.parse` skips between tokens). */
export function isJsonSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** What `String.prototype.trim` removes (ECMAScript WhiteSpace and LineTerminator). */
export function isTrimSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** Bits of `ObjectScanner.flags`: the last value of these top-level keys is a string. */
export const HAS_EVENT_NAME = 1;
export const HAS_EVENT_SOURCE = 2;
export const HAS_EVENT_VERSION = 4;
export const HAS_EVENT_TIME = 8;
export const HAS_EVENT_ID = 16;
/**
 * The element may not be a plain record: an Insights marker, an envelope key (`Records`, `detail`,
 * `logEvents`, …), or an escape in a key or marker that only a parser can read. Such elements are parsed.
 */
export const SUSPECT = 32;

/** True when the flags prove a plain CloudTrail record (what `looksLikeRecord` accepts, not Insights). */
export function isPlainRecord(flags: number): boolean {
  if (flags & SUSPECT) return false;
  if (flags & (HAS_EVENT_NAME | HAS_EVENT_SOURCE)) return true;
  return (flags & HAS_EVENT_VERSION) !== 0 && (flags & (HAS_EVENT_TIME | HAS_EVENT_ID)) !== 0;
}

// Keys of interest; 1..5 are the string-valued keys behind the HAS_* bits (bit = 1 << (id - 1)).
const KEY_OTHER = 0;
const KEY_CATEGORY = 6;
const KEY_TYPE = 7;
const KEY_ENVELOPE = 8;
const KEY_IDS = new Map<string, number>([
  ["eventName", 1],
  ["eventSource", 2],
  ["eventVersion", 3],
  ["eventTime", 4],
  ["eventID", 5],
  ["eventCategory", KEY_CATEGORY],
  ["eventType", KEY_TYPE],
  // Keys that make the decoder read an object as something other than a record.
  ["Records", KEY_ENVELOPE],
  ["detail-type", KEY_ENVELOPE],
  ["detail", KEY_ENVELOPE],
  ["messageType", KEY_ENVELOPE],
  ["logEvents", KEY_ENVELOPE],
  ["awslogs", KEY_ENVELOPE],
  ["Events", KEY_ENVELOPE],
  ["CloudTrailEvent", KEY_ENVELOPE],
  ["digestStartTime", KEY_ENVELOPE],
  ["logFiles", KEY_ENVELOPE],
  ["digestS3Object", KEY_ENVELOPE],
]);

// Where the scanner is among the members of the element's top level.
const EXPECT_KEY = 0;
const IN_KEY = 1;
const AFTER_KEY = 2;
const EXPECT_VALUE = 3;
const IN_VALUE = 4;

// What a string being captured is.
const CAPTURE_NONE = 0;
const CAPTURE_KEY = 1;
const CAPTURE_CATEGORY = 2;
const CAPTURE_TYPE = 3;

/**
 * Finds the end of one JSON object given in pieces, and notes its top-level keys on the way.
 *
 * @example
 * const s = new ObjectScanner();
 * let end = s.scan(piece1, start, piece1.length); // -1: the object goes on
 * end = s.scan(piece2, 0, piece2.length);         // index just past its closing brace
 */
export class ObjectScanner {
  flags = 0;
  private depth = 0;
  private inString = false;
  /** The previous piece ended inside a string with an unpaired backslash: the next character is escaped. */
  private escapeNext = false;
  private role = EXPECT_KEY;
  private keyId = KEY_OTHER;
  private capture = CAPTURE_NONE;
  private captureStart = 0;
  private capturePrefix = "";

  reset(): void {
    this.flags = 0;
    this.depth = 0;
    this.inString = false;
    this.escapeNext = false;
    this.role = EXPECT_KEY;
    this.keyId = KEY_OTHER;
    this.capture = CAPTURE_NONE;
    this.capturePrefix = "";
  }

  /**
   * Scans `text[from, to)`, which must start with the object's `{` on the first call. Returns the
   * index just past the closing brace, or -1 when the object continues in the next piece.
   */
  scan(text: string, from: number, to: number): number {
    let i = from;
    let depth = this.depth;
    if (this.inString) {
      if (this.capture !== CAPTURE_NONE) this.captureStart = from;
      if (this.escapeNext && i < to) {
        this.escapeNext = false;
        i++;
      }
    }
    while (i < to) {
      if (this.inString) {
        const q = text.indexOf('"', i);
        if (q === -1 || q >= to) {
          let j = to - 1;
          while (j >= i && text.charCodeAt(j) === BACKSLASH) j--;
          this.escapeNext = ((to - 1 - j) & 1) === 1;
          if (this.capture !== CAPTURE_NONE) this.capturePrefix += text.slice(this.captureStart, to);
          i = to;
          break;
        }
        let j = q - 1;
        while (j >= i && text.charCodeAt(j) === BACKSLASH) j--;
        i = q + 1;
        if (((q - 1 - j) & 1) === 1) continue; // an escaped quote
        this.inString = false;
        if (this.capture !== CAPTURE_NONE) this.closeCapture(text, q);
        continue;
      }
      const c = text.charCodeAt(i++);
      if (c === QUOTE) {
        this.inString = true;
        if (depth === 1) this.openString(i);
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === 0) this.role = EXPECT_KEY;
        else if (depth === 1 && this.role === EXPECT_VALUE) this.openValue(false);
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) {
          this.depth = 0;
          return i;
        }
      } else if (depth === 1) {
        if (c === COLON) {
          if (this.role === AFTER_KEY) this.role = EXPECT_VALUE;
        } else if (c === COMMA) {
          this.role = EXPECT_KEY;
        } else if (this.role === EXPECT_VALUE && !isJsonSpace(c)) {
          this.openValue(false);
        }
      }
    }
    this.depth = depth;
    return -1;
  }

  private openString(start: number): void {
    if (this.role === EXPECT_KEY) {
      this.role = IN_KEY;
      this.capture = CAPTURE_KEY;
      this.captureStart = start;
      this.capturePrefix = "";
    } else if (this.role === EXPECT_VALUE) {
      const key = this.keyId;
      this.openValue(true);
      if (key === KEY_CATEGORY || key === KEY_TYPE) {
        this.capture = key === KEY_CATEGORY ? CAPTURE_CATEGORY : CAPTURE_TYPE;
        this.captureStart = start;
        this.capturePrefix = "";
      }
    }
  }

  private openValue(isString: boolean): void {
    const key = this.keyId;
    if (key >= 1 && key <= 5) {
      const bit = 1 << (key - 1);
      this.flags = isString ? this.flags | bit : this.flags & ~bit;
    }
    this.role = IN_VALUE;
  }

  private closeCapture(text: string, end: number): void {
    const raw =
      this.capturePrefix === "" ? text.slice(this.captureStart, end) : this.capturePrefix + text.slice(0, end);
    const kind = this.capture;
    this.capture = CAPTURE_NONE;
    this.capturePrefix = "";
    const escaped = raw.includes("\\");
    if (kind === CAPTURE_KEY) {
      this.role = AFTER_KEY;
      this.keyId = KEY_IDS.get(raw) ?? KEY_OTHER;
      if (escaped || this.keyId === KEY_ENVELOPE) this.flags |= SUSPECT;
    } else if (kind === CAPTURE_CATEGORY) {
      if (escaped || raw === "Insight") this.flags |= SUSPECT;
    } else if (escaped || raw === "AwsCloudTrailInsight") {
      this.flags |= SUSPECT;
    }
  }
}

/** Thrown when the text is not in a shape the cutter follows; the caller decodes the whole object instead. */
export class NotStreamable extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/** Receives one element: `text.slice(start, end)` is its JSON, `flags` what the scanner noted. */
export type ElementHandler = (text: string, start: number, end: number, flags: number) => void;

/** How a `{"Records":[…]}` text ended. */
export type RecordsEnding =
  | { readonly complete: true }
  /**
   * The text stops inside the document: `cutAt` is where the decoder's salvage would stop (the start
   * of the partial element, the array's `]`, or the end), with its 1-based line.
   */
  | { readonly complete: false; readonly cutAt: number; readonly line: number };

// States of the Records cutter between elements.
const FIRST = 0;
const IN_ELEMENT = 1;
const AFTER_ELEMENT = 2;
const EXPECT_ELEMENT = 3;
const AFTER_ARRAY = 4;
const DONE = 5;

/**
 * Cuts the elements of a `{"Records":[…]}` document, given the text after its `[`. Anything outside
 * the plain S3 layout (an element that is not an object, keys after the array, text after the document)
 * throws `NotStreamable`.
 */
export class RecordsCutter {
  /** Complete elements seen. */
  elements = 0;
  private state = FIRST;
  private readonly scanner = new ObjectScanner();
  /** Offset, in the whole decoded text, of the current piece. */
  private base = 0;
  private piece = "";
  private newlines = 0;
  private nextNewline = -1;
  private elementStart = 0;
  private elementLine = 1;
  private startInPiece = 0;
  private closeAt = 0;
  private closeLine = 1;
  private parts: string[] = [];
  private partsLength = 0;
  private oversize = false;

  constructor(
    private readonly onElement: ElementHandler,
    /** Elements longer than this many characters are not kept; `onOversize` gets their offset. */
    private readonly maxChars: number,
    private readonly onOversize: (offset: number) => void,
  ) {}

  /** Feeds the next piece; the first piece may start at `from` (just past the `[`). */
  push(text: string, from = 0): void {
    const n = text.length;
    this.piece = text;
    this.nextNewline = text.indexOf("\n");
    let i = from;
    if (this.state === IN_ELEMENT) i = this.continueElement(text, 0, true);
    while (i < n) {
      const c = text.charCodeAt(i);
      if (isJsonSpace(c)) {
        i++;
        continue;
      }
      switch (this.state) {
        case FIRST:
        case EXPECT_ELEMENT:
        case AFTER_ELEMENT:
          if (c === OPEN_BRACE && this.state !== AFTER_ELEMENT) {
            this.state = IN_ELEMENT;
            this.startInPiece = i;
            this.elementStart = this.base + i;
            this.elementLine = this.lineAt(i);
            this.scanner.reset();
            i = this.continueElement(text, i, false);
          } else if (c === COMMA && this.state === AFTER_ELEMENT) {
            this.state = EXPECT_ELEMENT;
            i++;
          } else if (c === CLOSE_BRACKET && this.state !== EXPECT_ELEMENT) {
            this.state = AFTER_ARRAY;
            this.closeAt = this.base + i;
            this.closeLine = this.lineAt(i);
            i++;
          } else {
            throw new NotStreamable(`unexpected ${JSON.stringify(text[i])} between records`);
          }
          break;
        case AFTER_ARRAY:
          if (c !== CLOSE_BRACE) throw new NotStreamable("more keys after the Records array");
          this.state = DONE;
          i++;
          break;
        default:
          throw new NotStreamable("text after the end of the document");
      }
    }
    this.lineAt(n);
    this.piece = "";
    this.base += n;
  }

  /** Scans the current element from `from`; returns where scanning stopped in this piece. */
  private continueElement(text: string, from: number, continuation: boolean): number {
    const n = text.length;
    const end = this.scanner.scan(text, from, n);
    if (end === -1) {
      if (!this.oversize) {
        const part = continuation ? text : text.slice(from);
        this.partsLength += part.length;
        if (this.partsLength > this.maxChars) this.dropParts();
        else this.parts.push(part);
      }
      return n;
    }
    this.elements++;
    this.state = AFTER_ELEMENT;
    if (this.oversize) {
      this.oversize = false;
      this.onOversize(this.elementStart);
    } else if (!continuation) {
      if (end - from > this.maxChars) this.onOversize(this.elementStart);
      else this.onElement(text, this.startInPiece, end, this.scanner.flags);
    } else {
      const whole = this.parts.join("") + text.slice(0, end);
      this.parts = [];
      this.partsLength = 0;
      if (whole.length > this.maxChars) this.onOversize(this.elementStart);
      else this.onElement(whole, 0, whole.length, this.scanner.flags);
    }
    return end;
  }

  private dropParts(): void {
    this.oversize = true;
    this.parts = [];
    this.partsLength = 0;
  }

  /** 1-based line of `index` in the current piece; newlines are counted once, in order. */
  private lineAt(index: number): number {
    while (this.nextNewline !== -1 && this.nextNewline < index) {
      this.newlines++;
      this.nextNewline = this.piece.indexOf("\n", this.nextNewline + 1);
    }
    return this.newlines + 1;
  }

  /** Characters seen so far. */
  get length(): number {
    return this.base;
  }

  /** Call once the text has ended (not when reading stopped at a size limit). */
  end(): RecordsEnding {
    if (this.state === DONE) return { complete: true };
    if (this.state === IN_ELEMENT) return { complete: false, cutAt: this.elementStart, line: this.elementLine };
    if (this.state === AFTER_ARRAY) return { complete: false, cutAt: this.closeAt, line: this.closeLine };
    return { complete: false, cutAt: this.base, line: this.newlines + 1 };
  }
}

/** Receives one non-blank line, trimmed: `text.slice(start, end)`, numbered from 1. */
export type LineHandler = (text: string, start: number, end: number, lineNo: number) => void;

/**
 * Cuts text into lines as `text.split("\n")` would, trims them as `String.prototype.trim` would and
 * hands over the non-blank ones with their numbers.
 */
export class LinesCutter {
  private lineNo = 0;
  private parts: string[] = [];
  private partsLength = 0;
  private oversize = false;

  constructor(
    private readonly onLine: LineHandler,
    private readonly maxChars: number,
    private readonly onOversize: (lineNo: number) => void,
  ) {}

  push(text: string): void {
    let pos = 0;
    for (;;) {
      const nl = text.indexOf("\n", pos);
      if (nl === -1) {
        this.keep(text, pos, text.length);
        return;
      }
      this.lineNo++;
      if (this.parts.length === 0 && !this.oversize) this.line(text, pos, nl);
      else {
        this.keep(text, pos, nl);
        this.flush();
      }
      pos = nl + 1;
    }
  }

  end(): void {
    if (this.parts.length === 0 && !this.oversize) return;
    this.lineNo++;
    this.flush();
  }

  private keep(text: string, from: number, to: number): void {
    if (from === to || this.oversize) return;
    this.partsLength += to - from;
    if (this.partsLength > this.maxChars) {
      this.oversize = true;
      this.parts = [];
    } else this.parts.push(from === 0 && to === text.length ? text : text.slice(from, to));
  }

  private flush(): void {
    if (this.oversize) {
      this.oversize = false;
      this.partsLength = 0;
      this.onOversize(this.lineNo);
      return;
    }
    const whole = this.parts.join("");
    this.parts = [];
    this.partsLength = 0;
    this.line(whole, 0, whole.length);
  }

  private line(text: string, from: number, to: number): void {
    let s = from;
    let e = to;
    while (s < e && isTrimSpace(text.charCodeAt(s))) s++;
    while (e > s && isTrimSpace(text.charCodeAt(e - 1))) e--;
    if (s === e) return;
    if (e - s > this.maxChars) this.onOversize(this.lineNo);
    else this.onLine(text, s, e, this.lineNo);
  }
}

/** How a document starts, decided from its first characters. */
export type Opening =
  | { readonly kind: "records"; readonly arrayStart: number }
  | { readonly kind: "lines" }
  | { readonly kind: "whole"; readonly why: string }
  | { readonly kind: "more" };

/**
 * Decides from a prefix of the decoded text whether the document is a `{"Records":[…]}` file (the
 * decoder's "records-file"), one value per line (its "ndjson", which it recognises by a first line
 * that parses on its own), or something to decode whole. `ended` says the prefix is the whole text.
 * `maxLine` bounds how long a first line may be before giving up on lines.
 */
export function decideOpening(prefix: string, ended: boolean, maxLine: number): Opening {
  let i = 0;
  const n = prefix.length;
  // The decoder skips these before looking at the first character (a BOM included).
  while (i < n) {
    const c = prefix.charCodeAt(i);
    if (c === 0xfeff) return { kind: "whole", why: "byte order mark" };
    if (!isJsonSpace(c)) break;
    i++;
  }
  if (i === n) return ended ? { kind: "whole", why: "no content" } : { kind: "more" };
  if (prefix.charCodeAt(i) !== OPEN_BRACE) return { kind: "whole", why: "does not start with an object" };
  const records = matchRecordsOpening(prefix, i);
  if (records > 0) return { kind: "records", arrayStart: records };
  if (records === 0 && !ended) return { kind: "more" };
  const nl = prefix.indexOf("\n", i);
  if (nl === -1) {
    if (ended || n - i > maxLine) return { kind: "whole", why: "a single value" };
    return { kind: "more" };
  }
  try {
    JSON.parse(prefix.slice(i, nl));
  } catch {
    return { kind: "whole", why: "first line is not a value of its own" };
  }
  return { kind: "lines" };
}

const RECORDS_KEY = '"Records"';

/**
 * Matches `{ "Records" : [` (JSON whitespace allowed) at `start`: the index after `[`, 0 when the
 * prefix ends before the match is decided, -1 when it does not match.
 */
function matchRecordsOpening(text: string, start: number): number {
  const n = text.length;
  let i = start + 1;
  const skip = () => {
    while (i < n && isJsonSpace(text.charCodeAt(i))) i++;
  };
  skip();
  for (let k = 0; k < RECORDS_KEY.length; k++, i++) {
    if (i >= n) return 0;
    if (text.charCodeAt(i) !== RECORDS_KEY.charCodeAt(k)) return -1;
  }
  skip();
  if (i >= n) return 0;
  if (text.charCodeAt(i) !== COLON) return -1;
  i++;
  skip();
  if (i >= n) return 0;
  return text.charCodeAt(i) === OPEN_BRACKET ? i + 1 : -1;
}
