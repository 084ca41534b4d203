/**
 * Live sources: log objects that arrive over time (a watched folder, standard input cut into batches,
 * an SQS queue of S3 notifications), for `firstcall watch`. The streaming scan (`runScan` with
 * `live`) takes objects from a source one after the other and tells each one, once its effects are
 * committed in a checkpoint, that it may be forgotten (an SQS message deleted, a batch dropped). An
 * object is told exactly once: committed, or failed with the reason.
 */
import type { ObjectSource } from "../reader/read-object.js";

/** One object a live source offers. */
export interface LiveObject {
  /** Path, `s3://bucket/key` or a batch name (`stdin:lines 1-500`): names it in problems and the state. */
  readonly id: string;
  /** When it became available (file written, S3 event time, first line of a batch), ms: the health line's lag. */
  readonly availableAt: number;
  /**
   * Keep it in the state's scanned objects, so that it is skipped when offered again unchanged (files,
   * S3 objects). Batches of standard input have no identity to skip by: false.
   */
  readonly remember: boolean;
  /**
   * Only ever appended to (a folder's files fed by a log shipper): when it grew since an earlier
   * read, the records counted then are skipped (the state keeps their number).
   */
  readonly appendOnly?: boolean;
  /** Finds or fetches the object: its identity and what the reader reads. Rejects when it cannot. */
  open(): Promise<OpenedObject>;
  /** Told once: its effects are committed in a checkpoint (or it was already scanned), or it failed. */
  settle(outcome: LiveOutcome): void;
}

export interface OpenedObject {
  readonly size: number;
  readonly mtimeMs: number;
  /** An S3 object's ETag (without quotes): with the size, what identifies it in the state. */
  readonly etag?: string;
  readonly source: ObjectSource;
}

export type LiveOutcome = { readonly committed: true } | { readonly committed: false; readonly problem: string };

/** A source of objects over time. */
export interface LiveSource {
  /** For messages and the summary: the folder, `-`, the queue URL. */
  readonly name: string;
  /**
   * Whether the end of `objects` is the end of the input (default true: standard input's EOF), so that
   * the last checkpoint decides what waits for more evidence (held NAT moves). False for a source
   * that ends while more will come to another run (one Lambda invocation's batch).
   */
  readonly endIsFinal?: boolean;
  /**
   * The objects, as they come. Ends when the source has no more (end of standard input) or when
   * `signal` is aborted; a source that can fail for good (the queue is gone) rejects.
   */
  objects(signal: AbortSignal): AsyncIterable<LiveObject>;
  /** Stops watching and polling; objects not yet settled are abandoned (offered again by a later run). */
  close(): Promise<void>;
}

/**
 * An unbounded hand-over queue between a source's producers (watchers, timers, pollers) and the
 * pipeline's one consumer. `next()` waits for an item, the end, an error, or the abort of `signal`.
 *
 * @example
 * const q = new LiveQueue<LiveObject>();
 * q.push(obj); q.end();
 * for await (const o of q.iterate(signal)) handle(o);
 */
export class LiveQueue<T> {
  private readonly items: T[] = [];
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.notify();
  }

  /** No more items after those queued. */
  end(): void {
    this.ended = true;
    this.notify();
  }

  /** The source failed for good: the consumer's next wait rejects (after the queued items). */
  fail(error: unknown): void {
    this.failure = error;
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *iterate(signal: AbortSignal): AsyncGenerator<T> {
    const onAbort = () => this.notify();
    signal.addEventListener("abort", onAbort);
    try {
      for (;;) {
        if (signal.aborted) return;
        const item = this.items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.ended) {
          if (this.failure !== undefined) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
