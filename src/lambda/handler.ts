/**
 * firstcall as an AWS Lambda function (`firstcall/lambda`, handler `handler`). It is invoked with:
 *
 * - an SQS batch whose messages carry S3 notifications of the trail's bucket — direct S3 event
 *   notifications, the same in SNS, EventBridge "Object Created", CloudTrail's own SNS notification
 *   (`s3-notifications.ts`) — and answers with `batchItemFailures`, so that only the messages whose
 *   objects could not be read or committed come back (and, after `maxReceiveCount`, go to the
 *   dead-letter queue); the function's event source mapping must have `ReportBatchItemFailures`;
 * - an S3 event notification, or an EventBridge "Object Created" event, invoked directly (asynchronous
 *   invocation): an object that fails makes the invocation fail, so Lambda retries it.
 *
 * Each invocation is one run of the streaming scan over the objects named (`runScan` with a live
 * source that ends with the batch), as a worker of the shared state (`FIRSTCALL_STATE`, PostgreSQL):
 * an *ephemeral* worker, which holds no other worker back and keeps no position, since it lives for
 * one batch (ARCHITECTURE.md §1, *Lambda*). New findings are written to standard output, one JSON line
 * each, which the Lambda runtime sends to CloudWatch Logs; a summary line goes to standard error.
 * The end of a batch is not the end of the input: nothing waiting for more evidence is decided early.
 *
 * With destinations (`FIRSTCALL_TO`, the config's `to:`; PostgreSQL state only) each finding worth an
 * alert also goes through the state's outbox, as `--to` (src/findings/delivery/outbox.ts): its rows
 * are committed with the findings, then sent. Sending stops half the reserve before the invocation's
 * deadline (a send unanswered then is given up on); what is not delivered by then stays owed in the
 * state and the next invocation, in any execution environment, sends it first. The summary counts
 * what was delivered and what is still owed.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { DeliveryFactory } from "../cli/delivery.js";
import type { Config } from "../config/config.js";
import { InputError } from "../errors.js";
import type { DeliveryReport } from "../findings/delivery/outbox.js";
import { log } from "../log.js";
import type { FindingSink, ScanResult } from "../pipeline/scan.js";
import { safeJsonStringify, safeText } from "../safe-text.js";
import type { LiveObject, LiveOutcome, LiveSource } from "../sources/live.js";
import type { S3Source, S3SourceOptions } from "../sources/s3.js";
import { type NotifiedObject, parseNotification, parseNotificationValue } from "../sources/s3-notifications.js";
import type { S3ObjectReader } from "../sources/watch-sqs.js";
import { type LambdaSettings, lambdaSettings, noOutbox } from "./config.js";

/** What a direct (S3 or EventBridge) invocation returns: Lambda ignores it for asynchronous calls. */
export interface DirectResult {
  readonly objects: number;
  readonly findings: number;
}

export type FirstcallLambdaResult = SQSBatchResponse | DirectResult;

export interface HandlerOptions {
  /** The environment to read settings from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How S3 is reached (default: the function's role, its Region, `AWS_ENDPOINT_URL`). */
  readonly s3?: S3SourceOptions;
  /** Where finding lines go (default: standard output, which Lambda sends to CloudWatch Logs). */
  readonly write?: (text: string) => Promise<void>;
  /** Where the summary line and problems go (default: standard error). */
  readonly report?: (line: string) => void;
  /**
   * Time kept back from the invocation's deadline to stop reading and commit (default 10 s, at most a
   * third of the time left): objects not read by then are failures, retried by the next invocation.
   */
  readonly reserveMs?: number;
  /** First wait between delivery retries, doubling (default 500 ms, as `--to-backoff-ms`); for tests. */
  readonly deliveryBackoffMs?: number;
}

/** One message (or the whole direct invocation) and the objects it names. */
interface Delivery {
  /** The SQS message id (`batchItemFailures`), or undefined for a direct invocation. */
  readonly messageId?: string;
  remaining: number;
  failure?: string;
}

/**
 * Makes a handler. The package's `handler` is `createHandler()`; tests and other deployments give
 * their own environment, S3 settings and output.
 *
 * @example
 * export const handler = createHandler({ env: { ...process.env, FIRSTCALL_MIN_SEVERITY: "medium" } });
 */
export function createHandler(
  options: HandlerOptions = {},
): (event: unknown, context: Context) => Promise<FirstcallLambdaResult> {
  let ready:
    | Promise<{ settings: LambdaSettings; config: Config; s3: S3Source; delivery: DeliveryFactory | undefined }>
    | undefined;
  const write = options.write ?? ((text: string) => writeStdout(text));
  const report = options.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Settings, configuration and the S3 client are made once per execution environment and reused
  // by its invocations (connections stay open between them); the state is opened per invocation.
  const setUp = async () => {
    const env = options.env ?? process.env;
    const settings = lambdaSettings(env);
    const { loadConfig, defaultConfig } = await import("../config/config.js");
    const config = settings.configPath ? loadConfig(settings.configPath) : defaultConfig();
    const { stateKind } = await import("../state/open.js");
    if ((config.to ?? []).length > 0 && stateKind(settings.state) === "dynamodb")
      throw noOutbox(`${settings.configPath ?? "FIRSTCALL_CONFIG"}: to`);
    const { S3Source } = await import("../sources/s3.js");
    const { awsSettings } = await import("../aws/client-config.js");
    const aws = awsSettings({}, env);
    // Destinations are parsed (and their secrets read) here, before any object is read: a typo fails
    // the first invocation, naming FIRSTCALL_TO and the entry. They use the function's Region and role.
    const { deliveryFromFlags } = await import("../cli/delivery.js");
    const delivery = await deliveryFromFlags(
      {
        to: settings.to,
        ...(options.deliveryBackoffMs !== undefined ? { toBackoffMs: String(options.deliveryBackoffMs) } : {}),
      },
      {
        config,
        ...(settings.configPath ? { configPath: settings.configPath } : {}),
        aws,
        asff: settings.asff,
        minSeverity: settings.minSeverity,
        report: (message) => report(`firstcall: ${safeText(message)}`),
        env,
        toSource: "FIRSTCALL_TO",
        keepDestinationsOpen: true,
      },
    );
    const s3 = new S3Source(options.s3 ?? { aws });
    return { settings, config, s3, delivery };
  };

  return async (event, context) => {
    ready ??= setUp().catch((e) => {
      ready = undefined; // a later invocation tries again (e.g. after the configuration is fixed)
      throw e;
    });
    const { settings, config, s3, delivery } = await ready;
    const batch = eventObjects(event);
    const source = new BatchSource(batch.objects, s3, batch.shape);
    for (const d of batch.invalid) log().warn({ message: d.messageId }, d.failure ?? "invalid message");

    const { runScan } = await import("../pipeline/scan.js");
    const { findingOutput } = await import("../cli/scan-output.js");
    const output = findingOutput({ format: settings.format, minSeverity: settings.minSeverity, writeStdout: write });
    // Stop reading in time to commit before Lambda ends the invocation, and delivering in time to mark
    // what was sent and report (half the reserve is left for that).
    const startedAt = Date.now();
    const left = context.getRemainingTimeInMillis();
    const reserve = Math.min(options.reserveMs ?? 10_000, Math.floor(left / 3));
    const deliverUntil = startedAt + left - Math.floor(reserve / 2);
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), Math.max(0, left - reserve));
    let result: ScanResult;
    try {
      result = await runScan({
        paths: [],
        live: source,
        statePath: settings.state,
        worker: settings.worker ?? context.logStreamName ?? `lambda-${context.awsRequestId}`,
        ephemeralWorker: true,
        config,
        ...(settings.ipRangesPath ? { ipRangesPath: settings.ipRangesPath } : { ipRanges: {} }),
        bindUncovered: settings.bindUncovered,
        failOn: "none",
        latenessMs: settings.latenessMs,
        jobs: settings.jobs,
        // One checkpoint per invocation unless the batch is large: each is a transaction under the
        // shared state's checkpoint lock, which every concurrent invocation takes in turn.
        checkpointObjects: 500,
        checkpointMs: 300_000,
        sink: output.sink as FindingSink,
        ...(delivery ? { delivery: (store) => delivery(store, { deadline: deliverUntil }) } : {}),
        signal: stop.signal,
      });
      await output.finish();
    } finally {
      clearTimeout(timer);
      output.close();
    }
    // Objects the run never got to (stopped for the deadline) are not settled: their messages failed.
    for (const d of batch.deliveries) if (d.remaining > 0) d.failure ??= "not read before the invocation's deadline";
    const failed = [...batch.deliveries, ...batch.invalid].filter((d) => d.failure !== undefined);
    report(
      safeJsonStringify({
        schema: "firstcall.lambda-summary/v1",
        requestId: context.awsRequestId,
        shape: batch.shape,
        messages: batch.messages,
        objects: source.offered,
        alreadyScanned: result.summary.objects.alreadyScanned,
        findings: result.findings.length,
        failed: failed.map((d) => ({ ...(d.messageId ? { messageId: d.messageId } : {}), reason: d.failure })),
        ...(result.summary.delivery ? { delivery: deliverySummary(result.summary.delivery) } : {}),
        durationMs: result.summary.durationMs,
      }),
    );
    if (batch.shape === "sqs") {
      return { batchItemFailures: failed.map((d) => ({ itemIdentifier: d.messageId as string })) };
    }
    if (failed.length > 0) {
      // A direct invocation has no per-item answer: fail it whole, so Lambda retries it (objects
      // already committed are skipped then as already scanned).
      throw new InputError("E_READ", "event", `not every object was read: ${failed[0]?.failure ?? "?"}`);
    }
    return { objects: source.offered, findings: result.findings.length };
  };
}

/** The handler Lambda calls (`firstcall/lambda` → `handler`), configured by the function's environment. */
export const handler = createHandler();

/**
 * The summary's `delivery`: rows this invocation delivered, rows still owed in the state (by any
 * invocation: they are sent by the next one), and the same per destination (by name, never a secret).
 */
function deliverySummary(report: DeliveryReport) {
  return {
    delivered: report.destinations.reduce((n, d) => n + d.delivered, 0),
    owed: report.pending,
    destinations: report.destinations.map((d) => ({
      name: d.name,
      delivered: d.delivered,
      ...(d.skipped > 0 ? { skipped: d.skipped } : {}),
      ...(d.rejected > 0 ? { rejected: d.rejected } : {}),
      owed: d.pending,
      ...(d.lastError !== undefined ? { lastError: d.lastError } : {}),
    })),
  };
}

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}

interface BatchObject {
  readonly object: NotifiedObject;
  readonly delivery: Delivery;
  /** When it was written (the notification's time, else when the message was sent), ms. */
  readonly availableAt: number;
}

interface EventBatch {
  readonly shape: "sqs" | "s3" | "eventbridge";
  readonly messages: number;
  readonly objects: readonly BatchObject[];
  readonly deliveries: readonly Delivery[];
  /** Messages that are not notifications: failed as they are (the queue's redrive policy takes them). */
  readonly invalid: readonly Delivery[];
}

const isSqsEvent = (e: unknown): e is SQSEvent =>
  typeof e === "object" &&
  e !== null &&
  Array.isArray((e as SQSEvent).Records) &&
  (e as SQSEvent).Records.length > 0 &&
  (e as SQSEvent).Records.every((r) => r?.eventSource === "aws:sqs");

/**
 * The objects an invocation's event names, grouped by the message (or invocation) they came in.
 *
 * @throws InputError when the event is neither an SQS batch, an S3 notification nor an EventBridge event.
 * @example eventObjects(sqsEvent).objects.length
 */
export function eventObjects(event: unknown): EventBatch {
  if (isSqsEvent(event)) {
    const deliveries: Delivery[] = [];
    const invalid: Delivery[] = [];
    const objects: BatchObject[] = [];
    for (const record of event.Records) {
      const parsed = parseNotification(record.body);
      if (parsed.kind === "invalid") {
        invalid.push({ messageId: record.messageId, remaining: 0, failure: parsed.reason });
        continue;
      }
      // A message naming nothing (the S3 test event, a removal) succeeds: it is deleted.
      const delivery: Delivery = { messageId: record.messageId, remaining: parsed.objects.length };
      deliveries.push(delivery);
      const sent = sentAt(record);
      for (const o of parsed.objects) objects.push({ object: o, delivery, availableAt: o.eventTime ?? sent });
    }
    return { shape: "sqs", messages: event.Records.length, objects, deliveries, invalid };
  }
  const parsed = parseNotificationValue(event);
  if (parsed.kind === "invalid")
    throw new InputError("E_READ", "event", `not an event firstcall reads: ${parsed.reason}`);
  const delivery: Delivery = { remaining: parsed.objects.length };
  return {
    shape: parsed.shape === "eventbridge" ? "eventbridge" : "s3",
    messages: 1,
    objects: parsed.objects.map((o) => ({ object: o, delivery, availableAt: o.eventTime ?? Date.now() })),
    deliveries: [delivery],
    invalid: [],
  };
}

function sentAt(record: SQSRecord): number {
  const t = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(t) && t > 0 ? t : Date.now();
}

/**
 * The objects of one invocation as a live source that ends with them. Its end is not the input's
 * (`endIsFinal: false`): the next invocation brings more.
 */
class BatchSource implements LiveSource {
  readonly name: string;
  readonly endIsFinal = false;
  offered = 0;
  private readonly stop = new AbortController();

  constructor(
    private readonly batch: readonly BatchObject[],
    private readonly s3: S3ObjectReader,
    shape: string,
  ) {
    this.name = `lambda:${shape}`;
  }

  async *objects(signal: AbortSignal): AsyncIterable<LiveObject> {
    for (const b of this.batch) {
      if (signal.aborted) return;
      this.offered++;
      yield this.liveObject(b);
    }
  }

  private liveObject(b: BatchObject): LiveObject {
    const { bucket, key } = b.object;
    const id = `s3://${bucket}/${key}`;
    let settled = false;
    return {
      id,
      availableAt: b.availableAt,
      remember: true,
      open: async () => {
        const got = await this.s3.getObject(bucket, key, this.stop.signal);
        return {
          size: got.size,
          mtimeMs: got.lastModifiedMs,
          ...(got.etag !== undefined ? { etag: got.etag } : {}),
          source: { id, bytes: got.body },
        };
      },
      settle: (outcome: LiveOutcome) => {
        if (settled) return;
        settled = true;
        b.delivery.remaining--;
        if (!outcome.committed) {
          b.delivery.failure ??= outcome.problem;
          log().warn({ object: safeText(id), message: b.delivery.messageId }, outcome.problem);
        }
      },
    };
  }

  async close(): Promise<void> {
    // The S3 client is the execution environment's, kept for the next invocation.
    this.stop.abort();
  }
}
