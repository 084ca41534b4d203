/**
 * The two pieces of the stream that depend on event time rather than read order:
 *
 * - `ReorderBuffer` holds relevant events until the watermark (the newest event time read) minus the
 *   allowed lateness has passed them, and releases them in the engine's total order
 *   (`compareEvents`). Within the lateness the engine therefore sees exactly the order a sort of the
 *   whole input would give, whatever order objects are read in.
 * - `RecentIds` (in recent-ids.ts) remembers the eventIDs of the lateness window (and a little more),
 *   so a record delivered twice is counted once, with memory bounded by the window instead of by the run.
 */
import { compareEvents, type EngineEvent } from "../engine/event.js";

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
