/**
 * The stream's position as a checkpoint stores it (the `pending` document of a state store): the
 * watermark, the released cut, and the records at or before the cut that are still inside the
 * lateness window, so that a resumed scan neither counts twice a record it reads again nor forgets a
 * duplicate delivered across the two runs.
 *
 * A record is remembered by a 12-byte key, the first 96 bits of the SHA-256 of its eventID, not by the
 * id itself (a 36-character UUID): in the state file that is 12 bytes plus a varint time difference
 * per record, about 15 bytes on the bench corpus instead of about 24 as deflated JSON, and in memory a
 * 12-character string instead of a 36-character one. Two different ids share a key with probability 2⁻⁹⁶ per pair: with a million
 * ids in the window and a billion records read, the chance that any record is wrongly taken for a
 * duplicate is about 10⁻¹⁴ (n·m / 2⁹⁶). The hash is cryptographic, so ids cannot be chosen to collide
 * either. The encoding is binary and independent of the store (SQLite, PostgreSQL, memory):
 *
 * ```
 * "FCP1"  watermark f64 LE (NaN: none)  cut f64 LE (NaN: none)  count u32 LE
 * count × 12-byte keys   count × time (zigzag LEB128 varint of the difference to the time before, ms)
 * ```
 *
 * @example
 * const data = encodeStreamPosition({ watermark: 1700000000000, cut: 1699999000000, ids: [[eventIdKey(id), t]] });
 * const { watermark, cut, ids } = decodeStreamPosition(data);
 */
import { hash } from "node:crypto";
import { decodeDocument } from "../engine/state.js";
import { StateError } from "../errors.js";

/** Bytes of a record's key. */
export const EVENT_ID_KEY_BYTES = 12;

const MAGIC = "FCP1";
const HEADER_BYTES = 4 + 8 + 8 + 4;

/** What a checkpoint keeps of the stream besides the engine's state. */
export interface StreamPosition {
  readonly watermark: number | null;
  readonly cut: number | null;
  /** `[eventIdKey(id), event time ms]`, oldest insertion first. */
  readonly ids: readonly (readonly [string, number])[];
}

/**
 * The key a record's eventID is remembered by: the first 12 bytes of its SHA-256, as a 12-character
 * latin1 string (one byte per character, so it is also compact in memory).
 *
 * @example
 * eventIdKey("3038ebd2-c98a-4c65-9b6e-e22506292313").length // 12
 */
export function eventIdKey(id: string): string {
  return hash("sha256", id, "buffer").toString("latin1", 0, EVENT_ID_KEY_BYTES);
}

/**
 * Writes the key of `id` (the bytes of {@link eventIdKey}) into `out` at byte `at`.
 *
 * @example writeEventIdKey("e1", new Uint8Array(12), 0)
 */
export function writeEventIdKey(id: string, out: Uint8Array, at: number): void {
  const digest = hash("sha256", id, "buffer");
  for (let i = 0; i < EVENT_ID_KEY_BYTES; i++) out[at + i] = digest[i] as number;
}

/**
 * The keys of records' event ids by record index: record i's 12 bytes ({@link eventIdKey}) are words
 * 3i to 3i+2, read over the same bytes in the platform's byte order; zeros for a record without an id.
 * A reader thread computes them, so the thread that de-duplicates records does not hash.
 *
 * @example const keys = eventIdKeysOf(objectFacts.facts);
 */
export function eventIdKeysOf(records: readonly { readonly eventId: string | undefined }[]): Uint32Array {
  const words = new Uint32Array(records.length * 3);
  const bytes = new Uint8Array(words.buffer);
  for (let i = 0; i < records.length; i++) {
    const id = (records[i] as { readonly eventId: string | undefined }).eventId;
    if (id !== undefined) writeEventIdKey(id, bytes, i * EVENT_ID_KEY_BYTES);
  }
  return words;
}

/** Encodes a stream position (see the module comment for the layout). */
export function encodeStreamPosition(p: StreamPosition): Buffer {
  return encodePosition(p.watermark, p.cut, p.ids.length, p.ids);
}

/**
 * Encodes a stream position straight from the map of remembered ids (`RecentIds`, in insertion
 * order): the ids whose time is at or before `upTo`. The same bytes as {@link encodeStreamPosition}
 * of those entries, without building a pair per id (a checkpoint writes the whole lateness window,
 * about 100k ids on a 285k-event corpus, and the pairs were most of a checkpoint's time).
 *
 * @example encodeStreamPositionOf(null, null, new Map([[eventIdKey("e1"), 1000]]), Infinity)
 */
export function encodeStreamPositionOf(
  watermark: number | null,
  cut: number | null,
  ids: ReadonlyMap<string, number>,
  upTo: number,
): Buffer {
  let n = 0;
  for (const time of ids.values()) if (time <= upTo) n++;
  return encodePosition(watermark, cut, n, ids, upTo);
}

/**
 * Encodes a stream position from its keys end to end (`n` × 12 bytes, oldest insertion first) and
 * their times: the same bytes as {@link encodeStreamPosition} of those entries, without a string per
 * key (`RecentIds` keeps keys as bytes).
 *
 * @example encodeStreamPositionOfKeys(null, null, new Uint8Array(12), [1000], 1)
 */
export function encodeStreamPositionOfKeys(
  watermark: number | null,
  cut: number | null,
  keys: Uint8Array,
  times: ArrayLike<number>,
  n: number,
): Buffer {
  if (keys.length < n * EVENT_ID_KEY_BYTES || times.length < n) throw new Error("fewer keys or times than records");
  const out = Buffer.allocUnsafe(HEADER_BYTES + n * (EVENT_ID_KEY_BYTES + 8));
  writeHeader(out, watermark, cut, n);
  out.set(keys.subarray(0, n * EVENT_ID_KEY_BYTES), HEADER_BYTES);
  let at = HEADER_BYTES + n * EVENT_ID_KEY_BYTES;
  let before = 0;
  for (let i = 0; i < n; i++) {
    const time = times[i] as number;
    if (!Number.isSafeInteger(time)) throw new Error(`a record time must be whole milliseconds, got ${time}`);
    at = writeVarint(out, at, zigzag(time - before));
    before = time;
  }
  return out.subarray(0, at);
}

function writeHeader(out: Buffer, watermark: number | null, cut: number | null, n: number): void {
  out.write(MAGIC, 0, "latin1");
  out.writeDoubleLE(watermark ?? Number.NaN, 4);
  out.writeDoubleLE(cut ?? Number.NaN, 12);
  out.writeUInt32LE(n, 20);
}

function encodePosition(
  watermark: number | null,
  cut: number | null,
  n: number,
  ids: Iterable<readonly [string, number]>,
  upTo = Number.POSITIVE_INFINITY,
): Buffer {
  // A varint of a time difference takes at most 8 bytes (|difference| < 2⁵³).
  const out = Buffer.allocUnsafe(HEADER_BYTES + n * (EVENT_ID_KEY_BYTES + 8));
  writeHeader(out, watermark, cut, n);
  let at = HEADER_BYTES;
  for (const [key, time] of ids) {
    if (!(time <= upTo)) continue;
    if (key.length !== EVENT_ID_KEY_BYTES) throw new Error(`a record key must be ${EVENT_ID_KEY_BYTES} bytes`);
    // By hand: one native write per key cost more than the 12 bytes themselves.
    for (let i = 0; i < EVENT_ID_KEY_BYTES; i++) {
      const c = key.charCodeAt(i);
      if (c > 0xff) throw new Error("a record key must be latin1");
      out[at++] = c;
    }
  }
  let before = 0;
  for (const [, time] of ids) {
    if (!(time <= upTo)) continue;
    if (!Number.isSafeInteger(time)) throw new Error(`a record time must be whole milliseconds, got ${time}`);
    at = writeVarint(out, at, zigzag(time - before));
    before = time;
  }
  return out.subarray(0, at);
}

/**
 * Decodes what {@link encodeStreamPosition} wrote.
 * @throws StateError (`E_STATE_SCHEMA`) when the bytes are not a stream position of this format.
 */
export function decodeStreamPosition(data: Uint8Array): StreamPosition {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bad = (why: string) =>
    new StateError("E_STATE_SCHEMA", `the stored stream position cannot be read (${why}); move the state aside`);
  if (buf.length < HEADER_BYTES || buf.toString("latin1", 0, 4) !== MAGIC) throw bad("unknown format");
  const watermark = buf.readDoubleLE(4);
  const cut = buf.readDoubleLE(12);
  const n = buf.readUInt32LE(20);
  if (buf.length < HEADER_BYTES + n * (EVENT_ID_KEY_BYTES + 1)) throw bad("truncated");
  const ids: [string, number][] = new Array(n);
  let at = HEADER_BYTES + n * EVENT_ID_KEY_BYTES;
  let time = 0;
  for (let i = 0; i < n; i++) {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (at >= buf.length) throw bad("truncated");
      const byte = buf[at++] as number;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) break;
    }
    time += unzigzag(value);
    const k = HEADER_BYTES + i * EVENT_ID_KEY_BYTES;
    ids[i] = [buf.toString("latin1", k, k + EVENT_ID_KEY_BYTES), time];
  }
  return {
    watermark: Number.isNaN(watermark) ? null : watermark,
    cut: Number.isNaN(cut) ? null : cut,
    ids,
  };
}

/**
 * Converts the stream position of a state schema 2 (deflated JSON, `ids` as `[eventID, time]`) to this
 * encoding, for a store's migration.
 * @throws when the bytes are not such a document.
 */
export function streamPositionFromSchema2(data: Uint8Array): Buffer {
  const doc = decodeDocument<{ watermark?: number | null; cut?: number | null; ids?: unknown }>(data);
  if (!Array.isArray(doc.ids)) throw new Error("no ids");
  const ids: [string, number][] = [];
  for (const entry of doc.ids) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Number.isSafeInteger(entry[1]))
      throw new Error("an id entry is not [string, time]");
    ids.push([eventIdKey(entry[0]), entry[1] as number]);
  }
  return encodeStreamPosition({
    watermark: typeof doc.watermark === "number" ? doc.watermark : null,
    cut: typeof doc.cut === "number" ? doc.cut : null,
    ids,
  });
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

/** LEB128 with arithmetic, not bit operators: values go past 2³². */
function writeVarint(out: Buffer, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}
