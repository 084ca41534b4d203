/**
 * The fast path of the reader: the facts of one record read straight from its JSON text, without
 * building the record. Returns undefined whenever it is not certain, and the caller falls back to
 * `JSON.parse` + `factsOf` — so the fast path can only ever be faster, never different.
 */
import type { RecordFacts } from "./facts.js";

/**
 * Facts of the record whose JSON text is `text.slice(start, end)` (one object), or undefined to
 * ask for the `JSON.parse` fallback.
 */
export function fastFacts(_text: string, _start: number, _end: number): RecordFacts | undefined {
  return undefined;
}
