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

/** Width of a `ReorderBuffer` bucket (ms): CloudTrail times have whole seconds. */
const BUCKET_MS = 1000;

/** The events of one bucket-width of time, in arrival order until released. */
interface Bucket {
  /** `floor(time / BUCKET_MS)` of its events, less the buffer's `keyBase`. */
  readonly key: number;
  events: EngineEvent[];
}

/**
 * Events held until released in `compareEvents` order. Rather than a heap (two dozen comparisons per
 * event at a hundred thousand held), events are appended to the bucket of their second, and a bucket
 * is sorted once, when it is released: arrival is nearly in time order, so each sort is cheap and the
 * comparisons per event are few. Buckets are kept in key order (a new key is nearly always the newest);
 * the bucket a cut falls in is split, its events at or before the cut released, the others kept.
 */
export class ReorderBuffer {
  /** Buckets in key order, from `head` on (the released ones before it are dropped now and then). */
  private buckets: Bucket[] = [];
  private head = 0;
  private readonly byKey = new Map<number, Bucket>();
  /** Subtracted from keys so that they stay small integers (cheaper as Map keys). */
  private keyBase = Number.NaN;
  /** The bucket the previous event went to: consecutive events are often of the same second. */
  private last: Bucket | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(e: EngineEvent): void {
    if (Number.isNaN(this.keyBase)) this.keyBase = Math.floor(e.time / BUCKET_MS);
    const key = Math.floor(e.time / BUCKET_MS) - this.keyBase;
    let bucket = this.last;
    if (bucket === undefined || bucket.key !== key) {
      bucket = this.byKey.get(key);
      if (bucket === undefined) bucket = this.addBucket(key);
      this.last = bucket;
    }
    bucket.events.push(e);
    this.count++;
  }

  /** Removes and returns, in order, every event at or before `cut` (ms). */
  release(cut: number): EngineEvent[] {
    const cutKey = Math.floor(cut / BUCKET_MS) - this.keyBase;
    const buckets = this.buckets;
    let out: EngineEvent[] | undefined;
    let i = this.head;
    for (; i < buckets.length; i++) {
      const bucket = buckets[i] as Bucket;
      if (bucket.key < cutKey) {
        // Every event of the bucket is before the start of the cut's bucket.
        const events = bucket.events.sort(compareEvents);
        this.byKey.delete(bucket.key);
        this.count -= events.length;
        if (out === undefined) out = events;
        else for (const e of events) out.push(e);
        continue;
      }
      if (bucket.key === cutKey) {
        const released: EngineEvent[] = [];
        const kept: EngineEvent[] = [];
        for (const e of bucket.events) (e.time <= cut ? released : kept).push(e);
        if (released.length > 0) {
          released.sort(compareEvents);
          this.count -= released.length;
          if (out === undefined) out = released;
          else for (const e of released) out.push(e);
        }
        if (kept.length > 0) {
          bucket.events = kept;
          break;
        }
        this.byKey.delete(bucket.key);
        i++;
      }
      break;
    }
    if (i > this.head) {
      if (this.last !== undefined && !this.byKey.has(this.last.key)) this.last = undefined;
      this.head = i;
      // Drop released buckets once they are half the array, so that the array stays small.
      if (this.head * 2 >= buckets.length) {
        this.buckets = buckets.slice(this.head);
        this.head = 0;
      }
    }
    return out ?? [];
  }

  /** A new, empty bucket, inserted in key order (usually the newest; else found by bisection). */
  private addBucket(key: number): Bucket {
    const bucket: Bucket = { key, events: [] };
    this.byKey.set(key, bucket);
    const buckets = this.buckets;
    const newest = buckets[buckets.length - 1];
    if (buckets.length === this.head || (newest as Bucket).key < key) {
      buckets.push(bucket);
      return bucket;
    }
    let lo = this.head;
    let hi = buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((buckets[mid] as Bucket).key < key) lo = mid + 1;
      else hi = mid;
    }
    buckets.splice(lo, 0, bucket);
    return bucket;
  }
}
