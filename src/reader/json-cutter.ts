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
const KEY_NAME = 1;
const KEY_SOURCE = 2;
const KEY_VERSION = 3;
const KEY_TIME = 4;
const KEY_ID = 5;
const KEY_CATEGORY = 6;
const KEY_TYPE = 7;
/** A key that makes the decoder read an object as something other than a record (`Records`, `detail`, …). */
const KEY_ENVELOPE = 8;

/**
 * The key written at `text[start, end)` (without quotes, escapes not decoded), by length first so
 * that most keys are told apart without comparing a character.
 */
function keyIdOf(text: string, start: number, end: number): number {
  // (No helper closure here: this runs for every top-level key.)
  switch (end - start) {
    case 6:
      return text.startsWith("detail", start) || text.startsWith("Events", start) ? KEY_ENVELOPE : KEY_OTHER;
    case 7:
      if (text.startsWith("eventID", start)) return KEY_ID;
      return text.startsWith("Records", start) || text.startsWith("awslogs", start) ? KEY_ENVELOPE : KEY_OTHER;
    case 8:
      return text.startsWith("logFiles", start) ? KEY_ENVELOPE : KEY_OTHER;
    case 9:
      if (text.charCodeAt(start) === 101 /* e */ && text.startsWith("event", start)) {
        if (text.startsWith("Name", start + 5)) return KEY_NAME;
        if (text.startsWith("Time", start + 5)) return KEY_TIME;
        if (text.startsWith("Type", start + 5)) return KEY_TYPE;
        return KEY_OTHER;
      }
      return text.startsWith("logEvents", start) ? KEY_ENVELOPE : KEY_OTHER;
    case 11:
      if (text.startsWith("eventSource", start)) return KEY_SOURCE;
      return text.startsWith("detail-type", start) || text.startsWith("messageType", start) ? KEY_ENVELOPE : KEY_OTHER;
    case 12:
      return text.startsWith("eventVersion", start) ? KEY_VERSION : KEY_OTHER;
    case 13:
      return text.startsWith("eventCategory", start) ? KEY_CATEGORY : KEY_OTHER;
    case 14:
      return text.startsWith("digestS3Object", start) ? KEY_ENVELOPE : KEY_OTHER;
    case 15:
      return text.startsWith("CloudTrailEvent", start) || text.startsWith("digestStartTime", start)
        ? KEY_ENVELOPE
        : KEY_OTHER;
    default:
      return KEY_OTHER;
  }
}

/**
 * True when an unrecognised key might still be one of the keys of interest written with escapes.
 * Decoding keeps a first character that is not a backslash, and every key of interest starts with
 * one of `eRdmlaEC`; only those keys are searched for a backslash.
 */
function mayHideKey(text: string, start: number, end: number): boolean {
  switch (text.charCodeAt(start)) {
    case 92: // \
      return true;
    case 101: // e
    case 82: // R
    case 100: // d
    case 109: // m
    case 108: // l
    case 97: // a
    case 69: // E
    case 67: // C
      for (let i = start + 1; i < end; i++) if (text.charCodeAt(i) === BACKSLASH) return true;
      return false;
    default:
      return false;
  }
}

function hasBackslash(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === BACKSLASH) return true;
  return false;
}

/** True when the backslashes just before `q` (none before `bound`) are an odd run: `q` is escaped. */
function escapedAt(text: string, q: number, bound: number): boolean {
  let j = q - 1;
  while (j >= bound && text.charCodeAt(j) === BACKSLASH) j--;
  return ((q - 1 - j) & 1) === 1;
}

// Where the scanner is among the members of the element's top level.
const EXPECT_KEY = 0;
const AFTER_KEY = 1;
const EXPECT_VALUE = 2;
const IN_VALUE = 3;

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
  /** The raw text so far of a top-level string that continues from an earlier piece. */
  private carried = "";

  reset(): void {
    this.flags = 0;
    this.depth = 0;
    this.inString = false;
    this.escapeNext = false;
    this.role = EXPECT_KEY;
    this.keyId = KEY_OTHER;
    this.carried = "";
  }

  /**
   * Scans `text[from, to)`, which must start with the object's `{` on the first call. Returns the
   * index just past the closing brace, or -1 when the object continues in the next piece.
   */
  scan(text: string, from: number, to: number): number {
    let i = from;
    let depth = this.depth;
    if (this.inString) {
      // A string that began in an earlier piece.
      let bound = from;
      if (this.escapeNext) {
        if (from >= to) return -1;
        this.escapeNext = false;
        bound++;
      }
      let q = text.indexOf('"', bound);
      while (q !== -1 && q < to && escapedAt(text, q, bound)) q = text.indexOf('"', q + 1);
      if (q === -1 || q >= to) {
        this.escapeNext = escapedAt(text, to, bound);
        if (depth === 1) this.carried += text.slice(from, to);
        return -1;
      }
      this.inString = false;
      if (depth === 1) {
        const raw = this.carried + text.slice(from, q);
        this.carried = "";
        this.member(raw, 0, raw.length);
      }
      i = q + 1;
    }
    while (i < to) {
      const c = text.charCodeAt(i++);
      if (c === QUOTE) {
        const start = i;
        let q = text.indexOf('"', i);
        while (q !== -1 && q < to && text.charCodeAt(q - 1) === BACKSLASH && escapedAt(text, q, start)) {
          q = text.indexOf('"', q + 1);
        }
        if (q === -1 || q >= to) {
          this.inString = true;
          this.escapeNext = escapedAt(text, to, start);
          if (depth === 1) this.carried = text.slice(start, to);
          this.depth = depth;
          return -1;
        }
        i = q + 1;
        if (depth === 1) this.member(text, start, q);
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === 1) {
          if (this.role === EXPECT_VALUE) this.openValue(false);
        } else if (depth === 0) this.role = EXPECT_KEY;
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (--depth === 0) {
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

  /** A whole string at the top level, `text[start, end)` without its quotes: a key or a value. */
  private member(text: string, start: number, end: number): void {
    if (this.role === EXPECT_KEY) {
      const key = keyIdOf(text, start, end);
      this.keyId = key;
      this.role = AFTER_KEY;
      if (key === KEY_ENVELOPE || (key === KEY_OTHER && mayHideKey(text, start, end))) this.flags |= SUSPECT;
    } else if (this.role === EXPECT_VALUE) {
      const key = this.keyId;
      this.openValue(true);
      if (key === KEY_CATEGORY) {
        if ((end - start === 7 && text.startsWith("Insight", start)) || hasBackslash(text, start, end)) {
          this.flags |= SUSPECT;
        }
      } else if (key === KEY_TYPE) {
        if ((end - start === 20 && text.startsWith("AwsCloudTrailInsight", start)) || hasBackslash(text, start, end)) {
          this.flags |= SUSPECT;
        }
      }
    }
  }

  private openValue(isString: boolean): void {
    const key = this.keyId;
    if (key >= KEY_NAME && key <= KEY_ID) {
      const bit = 1 << (key - 1);
      this.flags = isString ? this.flags | bit : this.flags & ~bit;
    }
    this.role = IN_VALUE;
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
    /**
     * Tried first on each element that starts in a piece: reads the element whole if it can (and hands
     * it on itself), returning the index just past it, or -1 to leave it to the cutter.
     */
    private readonly readWhole?: (text: string, start: number) => number,
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
            const read = this.readWhole === undefined ? -1 : this.readWhole(text, i);
            if (read !== -1) {
              this.elements++;
              this.state = AFTER_ELEMENT;
              i = read;
              break;
            }
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
