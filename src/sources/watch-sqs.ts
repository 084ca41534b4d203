/**
 * An SQS queue of S3 notifications as a live source (`firstcall watch sqs://QUEUE_URL`).
 *
 * Each message names objects (`s3-notifications.ts`: S3 event notifications, EventBridge, CloudTrail's
 * notification, each raw or in SNS); the objects are read through an {@link S3ObjectReader}. A
 * message is deleted only once every object it names is committed in a checkpoint; until then its
 * visibility is extended (ChangeMessageVisibility every half timeout), so no other consumer takes it
 * while its objects are read or wait for their checkpoint. A message whose object cannot be read, or
 * that is not a notification at all, is not deleted: it comes back after its visibility timeout and,
 * after the queue's `maxReceiveCount`, its redrive policy moves it to the dead-letter queue. Each such
 * failure is reported with the message's receive count. A message that names nothing to read (the
 * `s3:TestEvent` S3 sends when notifications are set up, a removal) is deleted at once.
 *
 * On close, messages whose objects are not committed are made visible again at once (timeout 0), so a
 * restarted watch takes them without waiting.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { InputError } from "../errors.js";
import { log } from "../log.js";
import { safeText } from "../safe-text.js";
import { type LiveObject, LiveQueue, type LiveSource } from "./live.js";
import { type NotifiedObject, parseNotification } from "./s3-notifications.js";

/** Reads one S3 object whole (`S3Source` implements it: retries with backoff, bounded concurrency). */
export interface S3ObjectReader {
  getObject(bucket: string, key: string, signal?: AbortSignal): Promise<S3ObjectBody>;
  /** Releases its connections (called by the source's `close`). */
  close?(): void;
}

export interface S3ObjectBody {
  readonly body: Uint8Array;
  /** Stored size (bytes). */
  readonly size: number;
  /** Last-Modified (ms). */
  readonly lastModifiedMs: number;
  /** The ETag (without quotes): with the size, what identifies this version in the state. */
  readonly etag?: string;
}

export interface SqsSourceOptions {
  /** Visibility timeout asked for each received message and renewed while it is in flight (default 120 s). */
  readonly visibilitySeconds?: number;
  /** Long-poll wait of each ReceiveMessage (default 20 s, SQS's longest). */
  readonly waitSeconds?: number;
  /** Messages in flight (received, not yet deleted or given up) before receiving pauses (default 20). */
  readonly maxInFlight?: number;
  /** Told what a person should know: messages that failed or were not notifications, receive errors. */
  readonly onReport?: (message: string) => void;
}

interface InFlight {
  readonly message: Message;
  readonly receipt: string;
  readonly id: string;
  readonly receiveCount: number;
  /** Objects not yet settled. */
  remaining: number;
  failed: boolean;
}

/**
 * Parses the queue given to `watch`: `sqs://` followed by the queue URL, with or without its scheme
 * (`sqs://https://sqs.eu-west-1.amazonaws.com/123456789012/trail-events` or
 * `sqs://sqs.eu-west-1.amazonaws.com/123456789012/trail-events`; without one, https). The region is
 * read from an AWS queue host (`sqs.REGION.amazonaws.com`, the legacy `REGION.queue.amazonaws.com`).
 *
 * @example
 * parseSqsSource("sqs://https://sqs.eu-west-1.amazonaws.com/123/q") // { queueUrl: "https://…/123/q", region: "eu-west-1" }
 */
export function parseSqsSource(source: string): { queueUrl: string; region?: string } | undefined {
  if (!source.startsWith("sqs://")) return undefined;
  let rest = source.slice("sqs://".length);
  if (!/^https?:\/\//.test(rest)) rest = `https://${rest}`;
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    return undefined;
  }
  if (url.pathname.split("/").filter(Boolean).length < 2) return undefined;
  const m =
    /^sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(url.hostname) ??
    /^([a-z0-9-]+)\.queue\.amazonaws\.com$/.exec(url.hostname);
  return { queueUrl: url.toString().replace(/\/$/, ""), ...(m?.[1] ? { region: m[1] } : {}) };
}

/**
 * @example
 * const source = new SqsSource(new SQSClient(sdkClientConfig(settings)), queueUrl, new S3Source({ aws: settings }));
 */
export class SqsSource implements LiveSource {
  readonly name: string;
  private readonly queue = new LiveQueue<LiveObject>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly visibility: number;
  private readonly waitSeconds: number;
  private readonly maxInFlight: number;
  /** Aborted when the run stops or the source closes: no more ReceiveMessage. */
  private readonly receiving = new AbortController();
  /** Aborted on close: downloads too. */
  private readonly stop = new AbortController();
  private heartbeat: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private roomForMore: (() => void) | undefined;
  /** Counters for tests and the summary of the source. */
  readonly counts = { received: 0, deleted: 0, ignored: 0, failed: 0, invalid: 0 };

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly s3: S3ObjectReader,
    private readonly options: SqsSourceOptions = {},
  ) {
    this.name = queueUrl;
    this.visibility = Math.max(1, Math.round(options.visibilitySeconds ?? 120));
    this.waitSeconds = Math.min(20, Math.max(0, Math.round(options.waitSeconds ?? 20)));
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 20);
  }

  objects(signal: AbortSignal): AsyncIterable<LiveObject> {
    // Stopping ends receiving at once; messages already received stay in flight until `close`.
    signal.addEventListener("abort", () => this.receiving.abort(), { once: true });
    if (!this.polling) {
      this.polling = this.poll();
      this.heartbeat = setInterval(() => void this.extend(), (this.visibility * 1000) / 2);
    }
    return this.queue.iterate(signal);
  }

  private report(message: string): void {
    log().warn({ queue: safeText(this.queueUrl) }, message);
    this.options.onReport?.(message);
  }

  private async poll(): Promise<void> {
    let failures = 0;
    while (!this.receiving.signal.aborted) {
      if (this.inFlight.size >= this.maxInFlight) {
        await new Promise<void>((resolve) => {
          this.roomForMore = resolve;
        });
        continue;
      }
      let messages: Message[];
      try {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.maxInFlight - this.inFlight.size),
            WaitTimeSeconds: this.waitSeconds,
            VisibilityTimeout: this.visibility,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
            // The older name of the same request field, still what some SQS implementations read.
            AttributeNames: ["All"],
          }),
          { abortSignal: this.receiving.signal },
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch (e) {
        if (this.receiving.signal.aborted) return;
        const err = e as Error & { name: string };
        if (/NonExistentQueue|QueueDoesNotExist|AccessDenied|InvalidClientTokenId|UnrecognizedClient/.test(err.name)) {
          this.queue.fail(
            new InputError("E_READ", this.queueUrl, `cannot receive messages: ${err.name}: ${err.message}`),
          );
          return;
        }
        failures++;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
        this.report(
          `${this.queueUrl}: receiving failed (${err.name}: ${err.message}); trying again in ${delay / 1000} s`,
        );
        await sleep(delay, this.receiving.signal);
        continue;
      }
      for (const m of messages) await this.take(m);
    }
  }

  private async take(message: Message): Promise<void> {
    this.counts.received++;
    const id = message.MessageId ?? "?";
    const receipt = message.ReceiptHandle;
    if (receipt === undefined) return;
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1");
    const parsed = parseNotification(message.Body ?? "");
    if (parsed.kind === "invalid") {
      this.counts.invalid++;
      this.report(
        `${this.queueUrl}: message ${id} (received ${receiveCount} times): ${parsed.reason}; left on the queue for its redrive policy`,
      );
      return;
    }
    if (parsed.objects.length === 0) {
      this.counts.ignored++;
      log().debug({ message: id, shape: parsed.shape }, "message names no object to read; deleted");
      await this.delete(receipt, id);
      return;
    }
    const flight: InFlight = { message, receipt, id, receiveCount, remaining: parsed.objects.length, failed: false };
    this.inFlight.set(receipt, flight);
    const sent = Number(message.Attributes?.SentTimestamp ?? Date.now());
    for (const o of parsed.objects) this.queue.push(this.liveObject(o, flight, o.eventTime ?? sent));
  }

  private liveObject(o: NotifiedObject, flight: InFlight, availableAt: number): LiveObject {
    const id = `s3://${o.bucket}/${o.key}`;
    return {
      id,
      availableAt,
      remember: true,
      open: async () => {
        const got = await this.s3.getObject(o.bucket, o.key, this.stop.signal);
        return {
          size: got.size,
          mtimeMs: got.lastModifiedMs,
          ...(got.etag !== undefined ? { etag: got.etag } : {}),
          source: { id, bytes: got.body },
        };
      },
      settle: (outcome) => {
        flight.remaining--;
        if (!outcome.committed && !flight.failed) {
          flight.failed = true;
          this.counts.failed++;
          this.report(
            `${this.queueUrl}: message ${flight.id} (received ${flight.receiveCount} times) is not deleted: ${outcome.problem}; it comes back after its visibility timeout, and the queue's redrive policy moves it to the dead-letter queue after maxReceiveCount`,
          );
        }
        if (flight.remaining > 0) return;
        this.inFlight.delete(flight.receipt);
        this.roomForMore?.();
        this.roomForMore = undefined;
        if (!flight.failed) void this.delete(flight.receipt, flight.id);
      },
    };
  }

  private async delete(receipt: string, id: string): Promise<void> {
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt }));
      this.counts.deleted++;
    } catch (e) {
      // Committed already: a message that comes back is skipped as already scanned, then deleted.
      this.report(
        `${this.queueUrl}: message ${id} could not be deleted (${(e as Error).message}); it will be skipped when it comes back`,
      );
    }
  }

  /** Keeps the messages whose objects are still being read or committed invisible to other consumers. */
  private async extend(): Promise<void> {
    for (const f of this.inFlight.values()) {
      if (f.failed) continue;
      try {
        await this.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.queueUrl,
            ReceiptHandle: f.receipt,
            VisibilityTimeout: this.visibility,
          }),
        );
      } catch (e) {
        log().warn({ err: e, message: f.id }, "could not extend a message's visibility");
      }
    }
  }

  async close(): Promise<void> {
    this.receiving.abort();
    this.stop.abort();
    clearInterval(this.heartbeat);
    this.roomForMore?.();
    this.queue.end();
    await this.polling;
    // Abandoned: visible again now, for the next run (best effort; otherwise after the timeout).
    await Promise.all(
      [...this.inFlight.values()]
        .filter((f) => !f.failed)
        .map((f) =>
          this.sqs
            .send(
              new ChangeMessageVisibilityCommand({
                QueueUrl: this.queueUrl,
                ReceiptHandle: f.receipt,
                VisibilityTimeout: 0,
              }),
            )
            .catch(() => undefined),
        ),
    );
    this.inFlight.clear();
    this.s3.close?.();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
