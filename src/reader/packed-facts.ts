/**
 * `ObjectFacts` packed for the trip from a reader worker to the thread that runs the engine.
 *
 * Posting the facts as they are makes the receiving thread rebuild every fact, event and string one by
 * one (structured clone). Packed, the per-record numbers travel as typed arrays (moved, not copied),
 * every distinct string of the object travels once (an event's account, region, role and agent repeat
 * on almost every record), and the events are a stream of numbers that unpacking turns back into
 * objects in one tight loop. On a simulated fleet this costs the receiving thread about a fifth of the
 * time structured clone does, for about the same cost on the sending side (bench/read.ts measures both).
 *
 * The event stream keeps plain data exactly as it was: ordinary objects with their own keys in order (a
 * key set to `undefined` included), arrays, strings, numbers, booleans, null. Anything else (a class
 * instance, a null-prototype object, a `__proto__` key) cannot be packed, and `packObjectFacts`
 * returns undefined so the caller posts the facts as they are.
 */
import type { EngineEvent } from "../engine/event.js";
import type { MalformedReason, RecordFacts } from "./facts.js";
import type { ObjectFacts } from "./read-object.js";

/** The packed form; plain data and typed arrays only, so it can be posted between threads. */
export interface PackedObjectFacts {
  /** Everything but the facts. */
  readonly head: Omit<ObjectFacts, "facts">;
  readonly count: number;
  readonly times: Float64Array;
  /** Per record: `FALLBACK`, the malformed reason (`NO_TIME`, `BAD_TIME`), `HAS_ID` and `HAS_EVENT`. */
  readonly flags: Uint8Array;
  /**
   * The records' event ids end to end, `idEnds[i]` where record i's ends: one string to post instead of
   * one per record (ids are unique, nothing to share), sliced apart on unpacking.
   */
  readonly ids: string;
  readonly idEnds: Uint32Array;
  readonly strings: string[];
  /** Key lists of the objects in `events`, by shape number. */
  readonly shapes: string[][];
  /** The events of the records that have one, in order (see `Packer.value`). */
  readonly events: Float64Array;
}

const FALLBACK = 1;
const NO_TIME = 2;
const BAD_TIME = 4;
const HAS_EVENT = 8;
const HAS_ID = 16;

// Codes in the event stream; a value >= 0 is an index in `strings`.
const UNDEFINED = -1;
const NULL = -2;
const FALSE = -3;
const TRUE = -4;
const NUMBER = -5; // the number follows
const ARRAY = -6; // the length follows, then the items
const OBJECT = -7; // the shape follows, then the values in the shape's key order
const RECORD_ID = -8; // the record's own event id (an event's `id` is)

/** A value the stream cannot carry. */
class Unpackable extends Error {}

class Packer {
  readonly strings: string[] = [];
  readonly shapes: string[][] = [];
  /** The event id of the record being packed. */
  recordId: string | undefined;
  private readonly stringIndex = new Map<string, number>();
  /** The last shape seen with each number of keys: most objects repeat the one before. */
  private readonly lastShapeOfSize = new Int32Array(64).fill(-1);
  /** Shapes by their keys, one map level per key, so no key list is joined to look one up. */
  private readonly shapeTree: ShapeNode = { next: new Map(), shape: -1 };
  private data: Float64Array;
  private length = 0;

  constructor(capacity: number) {
    this.data = new Float64Array(Math.max(64, capacity));
  }

  string(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  /** The shape number of an object's key list. */
  private shape(keys: string[]): number {
    const n = keys.length;
    const last = n < 64 ? (this.lastShapeOfSize[n] as number) : -1;
    if (last !== -1) {
      const known = this.shapes[last] as string[];
      let same = true;
      for (let k = 0; k < n && same; k++) same = known[k] === keys[k];
      if (same) return last;
    }
    let node = this.shapeTree;
    for (const k of keys) {
      let next = node.next.get(k);
      if (next === undefined) {
        next = { next: new Map(), shape: -1 };
        node.next.set(k, next);
      }
      node = next;
    }
    if (node.shape === -1) {
      // Unpacking assigns keys; this one would set the prototype instead. (Checked once per shape.)
      if (keys.includes("__proto__")) throw new Unpackable("a __proto__ key");
      node.shape = this.shapes.length;
      this.shapes.push(keys);
    }
    if (n < 64) this.lastShapeOfSize[n] = node.shape;
    return node.shape;
  }

  private push(n: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = n;
  }

  value(v: unknown): void {
    switch (typeof v) {
      case "string":
        this.push(v === this.recordId ? RECORD_ID : this.string(v));
        return;
      case "number":
        this.push(NUMBER);
        this.push(v);
        return;
      case "boolean":
        this.push(v ? TRUE : FALSE);
        return;
      case "undefined":
        this.push(UNDEFINED);
        return;
      case "object":
        break;
      default:
        throw new Unpackable(typeof v);
    }
    if (v === null) {
      this.push(NULL);
      return;
    }
    if (Array.isArray(v)) {
      this.push(ARRAY);
      this.push(v.length);
      for (const item of v) this.value(item);
      return;
    }
    if (Object.getPrototypeOf(v) !== Object.prototype) throw new Unpackable("not a plain object");
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    this.push(OBJECT);
    this.push(this.shape(keys));
    for (const k of keys) this.value(o[k]);
  }

  stream(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

interface ShapeNode {
  readonly next: Map<string, ShapeNode>;
  shape: number;
}

/**
 * Packs an object's facts, or returns undefined when an event holds something other than plain data.
 *
 * @example
 * const packed = packObjectFacts(facts);
 * port.postMessage(packed ?? facts, packed ? transferListOf(packed) : []);
 */
export function packObjectFacts(o: ObjectFacts): PackedObjectFacts | undefined {
  const { facts, ...head } = o;
  const count = facts.length;
  const times = new Float64Array(count);
  const flags = new Uint8Array(count);
  const idEnds = new Uint32Array(count);
  const ids: string[] = [];
  let idLength = 0;
  const packer = new Packer(count * 48);
  try {
    for (let i = 0; i < count; i++) {
      const f = facts[i] as RecordFacts;
      times[i] = f.time;
      let flag = f.timestampFallback ? FALLBACK : 0;
      if (f.malformed === "no-time") flag |= NO_TIME;
      else if (f.malformed === "bad-time") flag |= BAD_TIME;
      if (f.eventId !== undefined) {
        flag |= HAS_ID;
        ids.push(f.eventId);
        idLength += f.eventId.length;
      }
      idEnds[i] = idLength;
      packer.recordId = f.eventId;
      if (f.event !== undefined) {
        flag |= HAS_EVENT;
        packer.value(f.event);
      }
      flags[i] = flag;
    }
  } catch (e) {
    if (e instanceof Unpackable) return undefined;
    throw e;
  }
  return {
    head,
    count,
    times,
    flags,
    ids: ids.join(""),
    idEnds,
    strings: packer.strings,
    shapes: packer.shapes,
    events: packer.stream(),
  };
}

/** The buffers to move (not copy) when posting a packed object. */
export function transferListOf(p: PackedObjectFacts): ArrayBuffer[] {
  const buffers = [p.times.buffer, p.flags.buffer, p.idEnds.buffer, p.events.buffer] as ArrayBuffer[];
  if (p.head.idKeys !== undefined) buffers.push(p.head.idKeys.buffer as ArrayBuffer);
  return buffers;
}

/** True for a value made by `packObjectFacts` (as opposed to plain `ObjectFacts`). */
export function isPacked(v: ObjectFacts | PackedObjectFacts): v is PackedObjectFacts {
  return (v as PackedObjectFacts).events instanceof Float64Array;
}

/**
 * Unpacks to `ObjectFacts` equal (deeply) to what was packed.
 *
 * @example
 * const facts = isPacked(message) ? unpackObjectFacts(message) : message;
 */
export function unpackObjectFacts(p: PackedObjectFacts): ObjectFacts {
  const { strings, shapes, events, times, flags, ids, idEnds } = p;
  let at = 0;
  let recordId: string | undefined;
  const read = (): unknown => {
    const code = events[at++] as number;
    if (code >= 0) return strings[code];
    switch (code) {
      case RECORD_ID:
        return recordId;
      case UNDEFINED:
        return undefined;
      case NULL:
        return null;
      case FALSE:
        return false;
      case TRUE:
        return true;
      case NUMBER:
        return events[at++];
      case ARRAY: {
        const n = events[at++] as number;
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = read();
        return a;
      }
      default: {
        const keys = shapes[events[at++] as number] as string[];
        const o: Record<string, unknown> = {};
        for (const k of keys) o[k] = read();
        return o;
      }
    }
  };
  const facts = new Array<RecordFacts>(p.count);
  let idStart = 0;
  for (let i = 0; i < p.count; i++) {
    const flag = flags[i] as number;
    const idEnd = idEnds[i] as number;
    const eventId = flag & HAS_ID ? ids.slice(idStart, idEnd) : undefined;
    idStart = idEnd;
    recordId = eventId;
    const time = times[i] as number;
    const timestampFallback = (flag & FALLBACK) !== 0;
    const malformed: MalformedReason | undefined =
      flag & NO_TIME ? "no-time" : flag & BAD_TIME ? "bad-time" : undefined;
    const event = flag & HAS_EVENT ? (read() as EngineEvent) : undefined;
    facts[i] =
      malformed === undefined
        ? { eventId, time, timestampFallback, event }
        : { eventId, time, timestampFallback, malformed, event };
  }
  return { ...p.head, facts };
}
