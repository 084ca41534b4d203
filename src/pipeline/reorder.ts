/**
 * The two pieces of the stream that depend on event time rather than read order:
 *
 * - `ReorderBuffer` holds relevant events until the watermark (the newest event time read) minus the
 *   allowed lateness has passed them, and releases them in the engine's total order
 *   (`compareEvents`). Within the lateness the engine therefore sees exactly the order a sort of the
 *   whole input would give, whatever order objects are read in.
 * - `RecentIds` remembers the eventIDs of the lateness window (and a little more), so a record
 *   delivered twice is counted once, with memory bounded by the window instead of by the run.
 */
import { compareEvents, type EngineEvent } from "../engine/event.js";
import { encodeStreamPositionOf, eventIdKey } from "../state/stream-position.js";

/** A binary min-heap of events in `compareEvents` order. */
export class ReorderBuffer {
  private readonly heap: EngineEvent[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: EngineEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareEvents(h[parent] as EngineEvent, e) <= 0) break;
      h[i] = h[parent] as EngineEvent;
      i = parent;
    }
    h[i] = e;
  }

  /** Removes and returns, in order, every event at or before `cut` (ms). */
  release(cut: number): EngineEvent[] {
    const out: EngineEvent[] = [];
    while (this.heap.length > 0 && (this.heap[0] as EngineEvent).time <= cut) out.push(this.pop());
    return out;
  }

  private pop(): EngineEvent {
    const h = this.heap;
    const top = h[0] as EngineEvent;
    const last = h.pop() as EngineEvent;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && compareEvents(h[r] as EngineEvent, h[l] as EngineEvent) < 0 ? r : l;
        if (compareEvents(h[c] as EngineEvent, last) >= 0) break;
        h[i] = h[c] as EngineEvent;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

/**
 * EventIDs seen recently, forgotten once older than a horizon (insertion order ≈ time order). Ids are
 * remembered by their 12-byte key (`eventIdKey`, a truncated SHA-256: see stream-position.ts for the
 * collision odds), which is also the form a checkpoint stores.
 */
export class RecentIds {
  private readonly ids = new Map<string, number>();

  constructor(private readonly maxIds = 4_000_000) {}

  get size(): number {
    return this.ids.size;
  }

  /** True when the id was seen (and remembered); otherwise remembers it. */
  seen(id: string, time: number): boolean {
    const key = eventIdKey(id);
    if (this.ids.has(key)) return true;
    this.ids.set(key, time);
    if (this.ids.size > this.maxIds) {
      const oldest = this.ids.keys().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return false;
  }

  /** Forgets ids older than the horizon, from the oldest inserted on. */
  forgetBefore(horizon: number): void {
    for (const [key, time] of this.ids) {
      if (time >= horizon) break;
      this.ids.delete(key);
    }
  }

  /** The stream position of the ids at or before `upTo` (what a checkpoint stores), without copying them. */
  encodePosition(watermark: number | null, cut: number | null, upTo: number): Buffer {
    return encodeStreamPositionOf(watermark, cut, this.ids, upTo);
  }

  /** `[key, time]` of the ids at or before `upTo`, oldest insertion first. */
  entries(upTo = Number.POSITIVE_INFINITY): [string, number][] {
    const out: [string, number][] = [];
    for (const [key, time] of this.ids) if (time <= upTo) out.push([key, time]);
    return out;
  }

  /** Ids as `entries()` gave them (keys, not ids). */
  static from(entries: readonly (readonly [string, number])[]): RecentIds {
    const r = new RecentIds();
    for (const [key, t] of entries) r.ids.set(key, t);
    return r;
  }
}
