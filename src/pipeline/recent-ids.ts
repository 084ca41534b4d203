/**
 * `RecentIds` remembers the eventIDs of the lateness window (and a little more), so a record delivered
 * twice is counted once, with memory bounded by the window instead of by the run.
 *
 * An id is remembered by its 12-byte key (`eventIdKey`, a truncated SHA-256: see stream-position.ts
 * for the collision odds), which is also the form a checkpoint stores. The keys live in typed arrays,
 * not in a `Map` of strings: a ring of insertion slots (three uint32 words and a time per slot, oldest
 * first, since ids are only ever forgotten from the oldest) and an open-addressing table of slot
 * numbers (linear probing, at most half full). The key's bytes are uniformly random, so its first word
 * is the hash. About 28 to 56 bytes per id, against about 100 for a `Map` entry of a string key and a
 * time (a heap number), and no string to make or to collect per record.
 */
import { EVENT_ID_KEY_BYTES, encodeStreamPositionOfKeys, writeEventIdKey } from "../state/stream-position.js";

const WORDS = 3;
const MIN_CAPACITY = 1024;

/**
 * EventIDs seen recently, forgotten once older than a horizon (insertion order ≈ time order).
 *
 * @example
 * const ids = new RecentIds();
 * ids.seen("e1", 1000); // false, now remembered
 * ids.seen("e1", 1000); // true
 * ids.forgetBefore(2000); // forgets e1
 */
export class RecentIds {
  /** Slots of the ring; a power of two. */
  private capacity = MIN_CAPACITY;
  /** The key of each slot, three words per slot. */
  private keys = new Uint32Array(MIN_CAPACITY * WORDS);
  private times = new Float64Array(MIN_CAPACITY);
  /** Open addressing: slot number + 1 of the key hashed there, 0 when free; twice the capacity. */
  private table = new Int32Array(MIN_CAPACITY * 2);
  /** The slot of the oldest id. */
  private head = 0;
  private count = 0;
  /** Scratch for a key made on this thread: its bytes, and the same bytes as words. */
  private readonly scratchWords = new Uint32Array(WORDS);
  private readonly scratchBytes = new Uint8Array(this.scratchWords.buffer);

  /** @param maxIds the most ids remembered: beyond it, the oldest is forgotten. */
  constructor(private readonly maxIds = 4_000_000) {}

  get size(): number {
    return this.count;
  }

  /** True when the id was seen (and remembered); otherwise remembers it. */
  seen(id: string, time: number): boolean {
    writeEventIdKey(id, this.scratchBytes, 0);
    return this.seenKey(this.scratchWords, 0, time);
  }

  /**
   * `seen` for an id whose key is already made: words `3 × record` to `3 × record + 2` of `keys` (as
   * `eventIdKeysOf` gives them).
   */
  seenKey(keys: Uint32Array, record: number, time: number): boolean {
    const o = record * WORDS;
    const a = keys[o] as number;
    const b = keys[o + 1] as number;
    const c = keys[o + 2] as number;
    if (this.find(a, b, c) !== -1) return true;
    this.insert(a, b, c, time);
    if (this.count > this.maxIds) this.dropOldest();
    return false;
  }

  /** Forgets ids older than the horizon, from the oldest inserted on. */
  forgetBefore(horizon: number): void {
    const times = this.times;
    // Not `<`: as a Map's `time >= horizon` test did, a NaN horizon forgets everything.
    while (this.count > 0 && !((times[this.head] as number) >= horizon)) this.dropOldest();
    if (this.capacity > MIN_CAPACITY && this.count < this.capacity / 8) this.resize(this.capacity / 2);
  }

  /** The stream position of the ids at or before `upTo` (what a checkpoint stores). */
  encodePosition(watermark: number | null, cut: number | null, upTo: number): Buffer {
    const { keys, times, n } = this.gather(upTo);
    return encodeStreamPositionOfKeys(watermark, cut, new Uint8Array(keys.buffer, 0, n * EVENT_ID_KEY_BYTES), times, n);
  }

  /** `[key, time]` of the ids at or before `upTo`, oldest insertion first. */
  entries(upTo = Number.POSITIVE_INFINITY): [string, number][] {
    const { keys, times, n } = this.gather(upTo);
    const bytes = Buffer.from(keys.buffer, 0, n * EVENT_ID_KEY_BYTES);
    const out: [string, number][] = new Array(n);
    for (let i = 0; i < n; i++)
      out[i] = [bytes.toString("latin1", i * EVENT_ID_KEY_BYTES, (i + 1) * EVENT_ID_KEY_BYTES), times[i] as number];
    return out;
  }

  /** Ids as `entries()` gave them (keys, not ids); a key given twice keeps its first place and last time. */
  static from(entries: readonly (readonly [string, number])[]): RecentIds {
    const r = new RecentIds();
    const bytes = r.scratchBytes;
    const words = r.scratchWords;
    for (const [key, time] of entries) {
      if (key.length !== EVENT_ID_KEY_BYTES) throw new Error(`a record key must be ${EVENT_ID_KEY_BYTES} bytes`);
      for (let i = 0; i < EVENT_ID_KEY_BYTES; i++) {
        const code = key.charCodeAt(i);
        if (code > 0xff) throw new Error("a record key must be latin1");
        bytes[i] = code;
      }
      const a = words[0] as number;
      const b = words[1] as number;
      const c = words[2] as number;
      const slot = r.find(a, b, c);
      if (slot === -1) r.insert(a, b, c, time);
      else r.times[slot] = time;
    }
    return r;
  }

  /** The slot holding the key, or -1. */
  private find(a: number, b: number, c: number): number {
    const table = this.table;
    const keys = this.keys;
    const mask = table.length - 1;
    for (let p = a & mask; ; p = (p + 1) & mask) {
      const s = (table[p] as number) - 1;
      if (s === -1) return -1;
      const k = s * WORDS;
      if (keys[k] === a && keys[k + 1] === b && keys[k + 2] === c) return s;
    }
  }

  /** Remembers a key known to be absent, as the newest. */
  private insert(a: number, b: number, c: number, time: number): void {
    if (this.count === this.capacity) this.resize(this.capacity * 2);
    const slot = (this.head + this.count) & (this.capacity - 1);
    const k = slot * WORDS;
    this.keys[k] = a;
    this.keys[k + 1] = b;
    this.keys[k + 2] = c;
    this.times[slot] = time;
    this.place(slot);
    this.count++;
  }

  /** Puts a slot in the table at the first free place from its key's hash. */
  private place(slot: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let p = (this.keys[slot * WORDS] as number) & mask;
    while (table[p] !== 0) p = (p + 1) & mask;
    table[p] = slot + 1;
  }

  /** Forgets the oldest id: its table entry is removed by shifting back those probed past it. */
  private dropOldest(): void {
    const table = this.table;
    const keys = this.keys;
    const mask = table.length - 1;
    const slot = this.head;
    let hole = (keys[slot * WORDS] as number) & mask;
    while (table[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let p = (hole + 1) & mask; table[p] !== 0; p = (p + 1) & mask) {
      const home = (keys[((table[p] as number) - 1) * WORDS] as number) & mask;
      // The entry at p may fill the hole unless its home lies cyclically in (hole, p].
      const stays = hole <= p ? home > hole && home <= p : home > hole || home <= p;
      if (!stays) {
        table[hole] = table[p] as number;
        hole = p;
      }
    }
    table[hole] = 0;
    this.head = (slot + 1) & (this.capacity - 1);
    this.count--;
  }

  /** Moves the ids, oldest first, to a ring of `capacity` slots (at least `count`) and a new table. */
  private resize(capacity: number): void {
    const keys = new Uint32Array(capacity * WORDS);
    const times = new Float64Array(capacity);
    const last = this.capacity - 1;
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & last;
      keys[i * WORDS] = this.keys[from * WORDS] as number;
      keys[i * WORDS + 1] = this.keys[from * WORDS + 1] as number;
      keys[i * WORDS + 2] = this.keys[from * WORDS + 2] as number;
      times[i] = this.times[from] as number;
    }
    this.keys = keys;
    this.times = times;
    this.capacity = capacity;
    this.head = 0;
    this.table = new Int32Array(capacity * 2);
    for (let i = 0; i < this.count; i++) this.place(i);
  }

  /** The keys (words, end to end) and times of the ids at or before `upTo`, oldest first. */
  private gather(upTo: number): { keys: Uint32Array; times: Float64Array; n: number } {
    const keys = new Uint32Array(this.count * WORDS);
    const times = new Float64Array(this.count);
    const last = this.capacity - 1;
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & last;
      const time = this.times[slot] as number;
      if (!(time <= upTo)) continue;
      keys[n * WORDS] = this.keys[slot * WORDS] as number;
      keys[n * WORDS + 1] = this.keys[slot * WORDS + 1] as number;
      keys[n * WORDS + 2] = this.keys[slot * WORDS + 2] as number;
      times[n++] = time;
    }
    return { keys, times, n };
  }
}
