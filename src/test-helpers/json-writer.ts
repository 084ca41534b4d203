/**
 * Writes JSON text in the many ways that parse to the same value — escapes for characters that need
 * none, whitespace between tokens, shuffled keys, other spellings of numbers — and adds duplicate keys
 * (which `JSON.parse` resolves to the last). For testing readers that work on the text, not on
 * `JSON.parse`'s result: whatever the style, `JSON.parse(writeJson(v, style))` is the same as
 * `JSON.parse(JSON.stringify(v))` unless duplicates were asked for.
 */

export interface JsonStyle {
  /** Seed of the writer's own choices (which characters to escape, where to put spaces, …). */
  readonly seed: number;
  /** Share (0–1) of characters written as escapes though they need none. */
  readonly escapes: number;
  /** Whitespace between tokens: none, spaces only, or any JSON whitespace. */
  readonly whitespace: "none" | "spaces" | "any";
  readonly shuffleKeys: boolean;
  /** Share (0–1) of objects given an extra member under one of their keys, before or after the real one. */
  readonly duplicates: number;
}

export const PLAIN_STYLE: JsonStyle = { seed: 1, escapes: 0, whitespace: "none", shuffleKeys: false, duplicates: 0 };

/** A small seeded generator (mulberry32): the writer's choices are a pure function of the style. */
export function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SHORT_ESCAPES: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r" };
const WHITESPACE = [" ", "\t", "\n", "\r"];
const DUPLICATE_VALUES: readonly unknown[] = ["", "duplicate", 0, null, true, {}, [], { type: "AssumedRole" }];

/**
 * The text of `value` written in `style`.
 *
 * @example
 * const text = writeJson(record, { seed: 7, escapes: 0.1, whitespace: "any", shuffleKeys: true, duplicates: 0 });
 * assert.deepStrictEqual(JSON.parse(text), record);
 */
export function writeJson(value: unknown, style: JsonStyle): string {
  const random = generator(style.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  const space = (): string => {
    if (style.whitespace === "none") return "";
    let out = "";
    const n = Math.floor(random() * 3);
    for (let k = 0; k < n; k++) out += style.whitespace === "spaces" ? " " : pick(WHITESPACE);
    return out;
  };

  const unicodeEscape = (code: number): string => {
    const hex = code.toString(16).padStart(4, "0");
    return `\\u${random() < 0.5 ? hex : hex.toUpperCase()}`;
  };

  const writeString = (s: string): string => {
    let out = '"';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 34) out += random() < 0.5 ? '\\"' : unicodeEscape(c);
      else if (c === 92) out += random() < 0.5 ? "\\\\" : unicodeEscape(c);
      else if (c < 32) out += SHORT_ESCAPES[c] !== undefined && random() < 0.5 ? SHORT_ESCAPES[c] : unicodeEscape(c);
      else if (random() < style.escapes) out += c === 47 && random() < 0.5 ? "\\/" : unicodeEscape(c);
      else out += s[i];
    }
    return `${out}"`;
  };

  const writeNumber = (n: number): string => {
    const text = JSON.stringify(n);
    if (!Number.isInteger(n) || text.includes("e") || random() < 0.5) return text;
    return `${text}${pick([".0", "e0", "E+0", ".000", "e-0"])}`;
  };

  const write = (v: unknown): string => {
    if (v === null) return "null";
    if (typeof v === "string") return writeString(v);
    if (typeof v === "number") return Number.isFinite(v) ? writeNumber(v) : "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (Array.isArray(v)) {
      if (v.length === 0) return `[${space()}]`;
      return `[${v.map((item) => `${space()}${write(item === undefined ? null : item)}${space()}`).join(",")}]`;
    }
    if (typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, item]) => item !== undefined);
      if (style.shuffleKeys) {
        for (let k = entries.length - 1; k > 0; k--) {
          const j = Math.floor(random() * (k + 1));
          [entries[k], entries[j]] = [entries[j] as [string, unknown], entries[k] as [string, unknown]];
        }
      }
      const members = entries.map(([key, item]) => `${space()}${writeString(key)}${space()}:${space()}${write(item)}`);
      if (entries.length > 0 && random() < style.duplicates) {
        const at = Math.floor(random() * entries.length);
        const key = (entries[at] as [string, unknown])[0];
        const extra = `${space()}${writeString(key)}${space()}:${space()}${write(pick(DUPLICATE_VALUES))}`;
        members.splice(random() < 0.5 ? at : at + 1, 0, extra);
      }
      return members.length === 0 ? `{${space()}}` : `{${members.map((m) => `${m}${space()}`).join(",")}}`;
    }
    return "null";
  };

  return write(value);
}
