/**
 * Standard input (or any readable stream) as a live source: JSON lines, each one CloudTrail record or
 * one envelope that holds records (an EventBridge event, a CloudWatch Logs subscription message, an
 * S3 delivery's `{"Records":[…]}`): whatever `decodeLogObject` reads one per line. Lines are cut into
 * batches of at most `batchLines` lines or `batchMs` milliseconds after a batch's first line,
 * whichever comes first; each batch is one object for the checkpoints. Batches are not kept in the
 * state (a stream has no identity to skip it by when a later run reads it again).
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { type LiveObject, LiveQueue, type LiveSource } from "./live.js";

export interface LineSourceOptions {
  /** Lines per batch (default 1000). */
  readonly batchLines?: number;
  /** A batch is cut this long after its first line even when not full (default 1 s). */
  readonly batchMs?: number;
  /** Batches read ahead of the pipeline before the stream is paused (default 8). */
  readonly maxQueued?: number;
  /** Name in messages (default `stdin`). */
  readonly name?: string;
}

/**
 * @example
 * const source = new LineSource(process.stdin, { batchLines: 500 });
 */
export class LineSource implements LiveSource {
  readonly name: string;
  private readonly queue = new LiveQueue<LiveObject>();
  private readonly batchLines: number;
  private readonly batchMs: number;
  private readonly maxQueued: number;
  private lines: string[] = [];
  private firstLine = 0;
  private lineNo = 0;
  private batchStarted = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  /** Resolves when the pipeline has taken enough batches for reading to go on. */
  private drained: (() => void) | undefined;

  constructor(
    private readonly input: Readable,
    options: LineSourceOptions = {},
  ) {
    this.name = options.name ?? "stdin";
    this.batchLines = Math.max(1, options.batchLines ?? 1000);
    this.batchMs = options.batchMs ?? 1000;
    this.maxQueued = Math.max(1, options.maxQueued ?? 8);
  }

  objects(signal: AbortSignal): AsyncIterable<LiveObject> {
    if (!this.started) {
      this.started = true;
      void this.read();
    }
    const queue = this.queue;
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        for await (const o of queue.iterate(signal)) {
          yield o;
          if (queue.size < self.maxQueued) self.drained?.();
        }
      },
    };
  }

  private async read(): Promise<void> {
    const rl = createInterface({ input: this.input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of rl) {
        if (this.closed) break;
        this.lineNo++;
        if (line.trim() === "") continue;
        if (this.lines.length === 0) {
          this.firstLine = this.lineNo;
          this.batchStarted = Date.now();
          this.timer = setTimeout(() => this.cut(), this.batchMs);
        }
        this.lines.push(line);
        if (this.lines.length >= this.batchLines) this.cut();
        // Back-pressure: stop pulling lines while the pipeline is behind.
        if (this.queue.size >= this.maxQueued) {
          await new Promise<void>((resolve) => {
            this.drained = resolve;
          });
          this.drained = undefined;
        }
      }
      this.cut();
      this.queue.end();
    } catch (e) {
      this.queue.fail(e);
    } finally {
      rl.close();
    }
  }

  /** Hands the lines gathered so far to the pipeline as one batch. */
  private cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const text = `${this.lines.join("\n")}\n`;
    const id = `${this.name}:lines ${this.firstLine}-${this.lineNo}`;
    const availableAt = this.batchStarted;
    this.lines = [];
    const bytes = Buffer.from(text, "utf8");
    this.queue.push({
      id,
      availableAt,
      remember: false,
      open: async () => ({ size: bytes.length, mtimeMs: availableAt, source: { id, bytes } }),
      settle: () => {},
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.drained?.();
    this.queue.end();
  }
}
