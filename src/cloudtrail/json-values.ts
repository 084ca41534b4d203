/**
 * Splits text holding several JSON values (one record per line, values glued together as Firehose
 * writes them, or the elements of a truncated array) into the source spans of each value, without
 * parsing them. Strings are skipped with their escapes, so braces inside strings do not count.
 *
 * This is what lets the reader keep every complete record of a truncated file instead of losing the
 * whole file to one `JSON.parse` error.
 */

/** A top-level value's span in the text: `text.slice(start, end)`. `complete` is false at a truncation. */
export interface ValueSpan {
  readonly start: number;
  readonly end: number;
  readonly complete: boolean;
}

const OPEN_BRACE = 123; // {
const CLOSE_BRACE = 125; // }
const OPEN_BRACKET = 91; // [
const CLOSE_BRACKET = 93; // ]
const QUOTE = 34; // "
const BACKSLASH = 92; // \
const COMMA = 44; // ,

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9 || c === 0xfeff;
}

/**
 * Finds the end (exclusive) of the object or array starting at `start`, or -1 when the text ends first.
 * Only objects and arrays are supported: CloudTrail values at the top level are always one of them.
 */
export function endOfCompound(text: string, start: number): number {
  let depth = 0;
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) break;
        else i++;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

/**
 * Yields the spans of consecutive top-level values in `text[from, to)`, separated by whitespace or
 * (inside arrays) commas. Stops at the first character that cannot start an object or array, and
 * reports it as an incomplete span so the caller can name the offset of the damage.
 */
export function* splitValues(text: string, from = 0, to = text.length): Generator<ValueSpan> {
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (isSpace(c) || c === COMMA) {
      i++;
      continue;
    }
    if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
      yield { start: i, end: to, complete: false };
      return;
    }
    const end = endOfCompound(text, i);
    if (end === -1 || end > to) {
      yield { start: i, end: to, complete: false };
      return;
    }
    yield { start: i, end, complete: true };
    i = end;
  }
}

/** Index of the first non-space character at or after `from`, or `text.length`. */
export function skipSpace(text: string, from = 0): number {
  let i = from;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** 1-based line number of an offset, for error messages a person can follow. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}
