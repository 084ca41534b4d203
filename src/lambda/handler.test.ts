/**
 * The Lambda handler invoked in process, as Lambda would invoke it, against real servers: s3rver on
 * 127.0.0.1 (the bundled sample trail put into a bucket, read through the real AWS SDK client) and a
 * real PostgreSQL database (FIRSTCALL_TEST_PG, else 127.0.0.1:5432; a new database per test file,
 * dropped after). Event shapes are copied from AWS's documentation: the S3 "Event message structure"
 * example, Lambda's SQS event ("Using Lambda with Amazon SQS"), SNS's notification JSON ("Amazon SNS
 * message and JSON formats"), S3's EventBridge "Object Created" event ("EventBridge event message
 * structure") and CloudTrail's SNS notification (`s3Bucket` / `s3ObjectKey`); only bucket, keys and
 * times are ours. The same batches also run on a DynamoDB table (dynalite in this process).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { UsageError } from "../errors.js";
import type { Finding } from "../findings/finding.js";
import { runScan } from "../pipeline/scan.js";
import { DynamoStore, initDynamo } from "../state/dynamodb.js";
import { migratePostgres, PostgresStore } from "../state/postgres.js";
import { REPO } from "../test-helpers/cli.js";
import { testTable } from "../test-helpers/dynamodb.js";
import { testDatabase } from "../test-helpers/postgres.js";
import { localS3Client, S3RVER_CREDENTIALS, startS3rver, uploadTree } from "../test-helpers/s3.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { lambdaSettings } from "./config.js";
import { createHandler, type FirstcallLambdaResult } from "./handler.js";

const scratchDir = scratchDirs();
/** Folders for the files the delivery tests write (removed when the file's tests end). */
const deliveryDir = scratchDirs("fc-lambda-");
const BUCKET = "org-trail-bucket";
const SAMPLE = join(REPO, "testdata/sample");
const NOW = "2026-11-02T00:20:31.000Z";
// At the top level: the database is dropped when the file's tests end (a hook's `after` would drop it sooner).
const db = await testDatabase();
// Fresh states for the delivery tests: their findings are new there, so each is owed to the destinations.
const fileDb = await testDatabase();
const webhookDb = await testDatabase();
const deadlineDb = await testDatabase();

/** S3 "Event message structure": one record per object (S3 sends one; the shape allows several). */
const s3Event = (keys: readonly string[]) => ({
  Records: keys.map((key) => ({
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "us-east-1",
    eventTime: NOW,
    eventName: "ObjectCreated:Put",
    userIdentity: { principalId: "AWS:AROAEXAMPLE:regionalDeliverySession" },
    requestParameters: { sourceIPAddress: "10.0.0.1" },
    responseElements: {
      "x-amz-request-id": "C3D13FE58DE4C810",
      "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
    },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "trail-logs",
      bucket: { name: BUCKET, ownerIdentity: { principalId: "A3NL1KOZZKExample" }, arn: `arn:aws:s3:::${BUCKET}` },
      // Keys are URL-encoded in S3 notifications (a space as '+').
      object: {
        key: encodeURIComponent(key).replaceAll("%2F", "/").replaceAll("%20", "+"),
        size: 1024,
        eTag: "d41d8cd98f00b204e9800998ecf8427e",
        sequencer: "0055AED6DCD90281E5",
      },
    },
  })),
});

const sns = (message: object) => ({
  Type: "Notification",
  MessageId: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
  TopicArn: "arn:aws:sns:us-east-1:111122223333:trail-topic",
  Subject: "Amazon S3 Notification",
  Message: JSON.stringify(message),
  Timestamp: NOW,
  SignatureVersion: "1",
  Signature: "EXAMPLEw6JRN...",
  SigningCertURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
  UnsubscribeURL:
    "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:111122223333:trail-topic:c9135db0-26c4-47ec-8998-413945fb5a96",
});

const eventBridge = (key: string) => ({
  version: "0",
  id: "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": "Object Created",
  source: "aws.s3",
  account: "111122223333",
  time: NOW,
  region: "us-east-1",
  resources: [`arn:aws:s3:::${BUCKET}`],
  detail: {
    version: "0",
    bucket: { name: BUCKET },
    object: {
      key,
      size: 5,
      etag: "b1946ac92492d2347c6235b4d2611184",
      "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
      sequencer: "617f08299329d189",
    },
    "request-id": "N4N7GDK58NMKJ12R",
    requester: "123456789012",
    "source-ip-address": "1.2.3.4",
    reason: "PutObject",
  },
});

const cloudTrail = (keys: readonly string[]) => ({ s3Bucket: BUCKET, s3ObjectKey: keys });

/** Lambda's SQS event record, as in "Using Lambda with Amazon SQS". */
function sqsRecord(body: object | string): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a/MAg7NBzG3tP8lWoIr4ydJnHs0uYiHLa3r6AbsLH2p8NJ7g4Vtg",
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.parse(NOW)),
      SenderId: "AIDAIENQZJOLO23YVJ4VO",
      ApproximateFirstReceiveTimestamp: String(Date.parse(NOW) + 2),
    },
    messageAttributes: {},
    md5OfBody: "e4e68fb7bd0e697a0ae8f1bb342846b3",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:111122223333:trail-events",
    awsRegion: "us-east-1",
  };
}

/** What Lambda passes as the context, for one execution environment (its log stream). */
function context(logStream: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "firstcall",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:111122223333:function:firstcall",
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: "/aws/lambda/firstcall",
    logStreamName: logStream,
    getRemainingTimeInMillis: () => 120_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A webhook receiver on 127.0.0.1 answering `status()` to each POST, and the ids of the posts it took (2xx). */
async function webhookReceiver(status: () => number | "hang") {
  const taken: string[] = [];
  let refused = 0;
  const hanging: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      const answer = status();
      if (answer === "hang") {
        hanging.push(res);
        return;
      }
      if (answer >= 200 && answer < 300) taken.push(...String(req.headers["x-firstcall-finding-ids"]).split(","));
      else refused++;
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/firstcall`,
    taken,
    refused: () => refused,
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface DeliverySummary {
  readonly findings: number;
  readonly delivery?: {
    delivered: number;
    owed: number;
    destinations: { name: string; delivered: number; owed: number; lastError?: string }[];
  };
}

/** Findings without what depends on which events came first among equals (the capped sample of ids). */
const comparable = (f: Finding) => ({ ...f, evidence: { ...f.evidence, eventIds: f.evidence.eventIds.length } });
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe("the Lambda handler", () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let keys: string[];
  let pgUrl: string;
  const written: string[] = [];
  const reports: string[] = [];
  let handler: ReturnType<typeof createHandler>;
  let local: Finding[];

  before(async () => {
    s3 = await startS3rver(scratchDir());
    const client = localS3Client(s3.endpoint);
    keys = (await uploadTree(client, BUCKET, SAMPLE, "")).filter((k) => k.endsWith(".json.gz"));
    client.destroy();
    pgUrl = db.url;
    await migratePostgres(pgUrl);
    console.log(`# real servers: s3rver at ${s3.endpoint}; PostgreSQL ${db.server}`);
    handler = createHandler({
      env: { FIRSTCALL_STATE: pgUrl },
      s3: { aws: { region: "us-east-1", endpointUrl: s3.endpoint }, clientConfig: { credentials: S3RVER_CREDENTIALS } },
      write: async (text) => {
        written.push(text);
      },
      report: (line) => reports.push(line),
    });
    local = (await runScan({ paths: [SAMPLE], statePath: ":memory:", ipRanges: {}, jobs: 0 })).findings;
  });

  after(async () => {
    await s3?.close();
  });

  const printed = () =>
    written
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding);

  async function storedFindings(): Promise<Finding[]> {
    const store = await PostgresStore.open(pgUrl, { readOnly: true });
    try {
      return (await store.allFindings()).map((s) => s.finding);
    } finally {
      await store.close();
    }
  }

  let redelivery: SQSEvent;
  let failingIds: string[];

  test("S3, EventBridge and SQS batches of every shape: the findings of a local scan, failures named per message", async (t) => {
    assert.equal(keys.length, 67, "the sample's objects are in the bucket");
    // Direct invocations: S3 event notifications (two objects in one event) and EventBridge events.
    const direct = keys.slice(0, 6);
    const viaSqs = keys.slice(6);
    for (let i = 0; i < direct.length; i += 2) {
      const r = (await handler(s3Event(direct.slice(i, i + 2)), context("2026/11/02/[$LATEST]direct"))) as {
        objects: number;
      };
      assert.equal(r.objects, 2);
    }
    // SQS: the shapes in turn, ten messages a batch; CloudTrail's notification names two keys at once.
    const bodies: object[] = [];
    for (let i = 0; i < viaSqs.length; i++) {
      const key = viaSqs[i] as string;
      const shape = i % 6;
      if (shape === 0) bodies.push(s3Event([key]));
      else if (shape === 1) bodies.push(sns(s3Event([key])));
      else if (shape === 2) bodies.push(eventBridge(key));
      else if (shape === 3) bodies.push(sns(eventBridge(key)));
      else if (shape === 4) bodies.push(sns(cloudTrail([key])));
      else bodies.push(cloudTrail([key]));
    }
    const batches: SQSRecord[][] = [];
    for (let i = 0; i < bodies.length; i += 10) batches.push(bodies.slice(i, i + 10).map((b) => sqsRecord(b)));
    // The last batch also holds: S3's test event (succeeds, names nothing), a message that is not a
    // notification and one naming a missing object (both fail, alone).
    const invalid = sqsRecord({ hello: "not a notification" });
    const missing = sqsRecord(s3Event(["AWSLogs/missing object.json.gz"]));
    const testEvent = sqsRecord({
      Service: "Amazon S3",
      Event: "s3:TestEvent",
      Time: NOW,
      Bucket: BUCKET,
      RequestId: "5582815E1AEA5ADF",
      HostId: "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    });
    batches.at(-1)?.push(invalid, missing, testEvent);
    failingIds = [invalid.messageId, missing.messageId].sort();
    // Two execution environments at once, then the rest one by one.
    const answers: FirstcallLambdaResult[] = await Promise.all([
      handler({ Records: batches[0] }, context("2026/11/02/[$LATEST]aaaa")),
      handler({ Records: batches[1] }, context("2026/11/02/[$LATEST]bbbb")),
    ]);
    for (const b of batches.slice(2)) answers.push(await handler({ Records: b }, context("2026/11/02/[$LATEST]aaaa")));
    // EventBridge invoking the function directly.
    const last = viaSqs.at(-1) as string;
    await handler(eventBridge(last), context("2026/11/02/[$LATEST]cccc"));

    for (const a of answers.slice(0, -1)) assert.deepEqual(a, { batchItemFailures: [] });
    assert.deepEqual(
      (answers.at(-1) as SQSBatchResponse).batchItemFailures.map((f) => f.itemIdentifier).sort(),
      failingIds,
      "only the two failing messages are retried",
    );
    redelivery = { Records: batches.flat() };

    const lines = printed();
    t.diagnostic(`${lines.length} finding lines, ${reports.length} summary lines; local scan: ${local.length}`);
    assert.ok(local.length >= 4);
    assert.equal(new Set(lines.map((f) => f.id)).size, lines.length, "each finding written once");
    const latest = [...new Map(lines.map((f) => [f.id, f])).values()];
    assert.deepEqual(
      latest.map((f) => f.id).sort(),
      local.map((f) => f.id).sort(),
      "the findings of a local scan of the same objects",
    );
    const stored = await storedFindings();
    assert.deepEqual(stored.map(comparable).sort(byId), local.map(comparable).sort(byId), "stored as a local scan's");
    const summaries = reports.map((r) => JSON.parse(r) as { schema: string; failed: { messageId?: string }[] });
    assert.ok(summaries.every((s) => s.schema === "firstcall.lambda-summary/v1"));
    assert.deepEqual(
      summaries
        .flatMap((s) => s.failed.map((f) => f.messageId))
        .filter(Boolean)
        .sort(),
      failingIds,
    );
  });

  test("a redelivered batch writes no finding and changes no evidence", async () => {
    const before = (await storedFindings()).sort(byId);
    const writtenBefore = written.length;
    const answer = (await handler(redelivery, context("2026/11/02/[$LATEST]dddd"))) as SQSBatchResponse;
    assert.deepEqual(answer.batchItemFailures.map((f) => f.itemIdentifier).sort(), failingIds);
    assert.equal(written.slice(writtenBefore).join(""), "", "nothing written again");
    assert.deepEqual((await storedFindings()).sort(byId), before, "evidence counted once");
    const summary = JSON.parse(reports.at(-1) as string) as { objects: number; alreadyScanned: number };
    // The digest named by a notification is skipped by its name (never fetched), the missing object fails.
    const digests = keys.slice(6).filter((k) => k.includes("CloudTrail-Digest/")).length;
    assert.equal(digests, 1);
    assert.equal(summary.alreadyScanned, summary.objects - 1 - digests, "all skipped as already scanned");
  });

  test("on DynamoDB (dynalite): two environments at once give the findings of a local scan; a redelivery writes nothing", async (t) => {
    const { url, server } = await testTable();
    t.diagnostic(server);
    await initDynamo(url);
    const out: string[] = [];
    const dynamo = createHandler({
      env: { FIRSTCALL_STATE: url },
      s3: { aws: { region: "us-east-1", endpointUrl: s3.endpoint }, clientConfig: { credentials: S3RVER_CREDENTIALS } },
      write: async (text) => {
        out.push(text);
      },
      report: () => undefined,
    });
    const batches: SQSRecord[][] = [];
    for (let i = 0; i < keys.length; i += 10) {
      batches.push(keys.slice(i, i + 10).map((k) => sqsRecord(s3Event([k]))));
    }
    const answers = await Promise.all([
      dynamo({ Records: batches[0] }, context("2026/11/02/[$LATEST]dyn-a")),
      dynamo({ Records: batches[1] }, context("2026/11/02/[$LATEST]dyn-b")),
    ]);
    for (const b of batches.slice(2)) answers.push(await dynamo({ Records: b }, context("2026/11/02/[$LATEST]dyn-a")));
    for (const a of answers) assert.deepEqual(a, { batchItemFailures: [] });
    const lines = out
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding);
    const latest = [...new Map(lines.map((f) => [f.id, f])).values()];
    assert.deepEqual(latest.map((f) => f.id).sort(), local.map((f) => f.id).sort(), "a local scan's findings");
    const reader = await DynamoStore.open(url, { readOnly: true });
    try {
      const stored = (await reader.allFindings()).map((s) => s.finding);
      assert.deepEqual(stored.map(comparable).sort(byId), local.map(comparable).sort(byId), "stored as a local scan's");
      // Ephemeral workers: no stream item is left behind to hold a later worker back.
      assert.equal((await reader.workerPositions()).size, 0);
    } finally {
      await reader.close();
    }
    const before = out.length;
    assert.deepEqual(await dynamo({ Records: batches.flat() }, context("2026/11/02/[$LATEST]dyn-c")), {
      batchItemFailures: [],
    });
    assert.equal(out.slice(before).join(""), "", "nothing written again");
  });

  test("a state the function's environments cannot share is refused, naming the variable", async () => {
    for (const [state, message] of [
      [undefined, /FIRSTCALL_STATE is not set/],
      [join(scratchDir(), "state.sqlite"), /SQLite state is not shared/],
      [":memory:", /memory state is not shared/],
    ] as const) {
      const h = createHandler({ env: state === undefined ? {} : { FIRSTCALL_STATE: state } });
      await assert.rejects(
        h(eventBridge(keys[0] as string), context("x")),
        (e: UsageError) => e.code === "E_USAGE" && message.test(e.message),
      );
    }
    await assert.rejects(
      handler({ detail: {}, "detail-type": "EC2 Instance State-change Notification", source: "aws.ec2" }, context("x")),
      /not an event firstcall reads/,
    );
  });

  /** A handler on a state of its own, as an execution environment with these settings would be. */
  const environment = (env: Record<string, string>, out: string[], reports: string[], extra = {}) =>
    createHandler({
      env,
      s3: { aws: { region: "us-east-1", endpointUrl: s3.endpoint }, clientConfig: { credentials: S3RVER_CREDENTIALS } },
      write: async (text) => {
        out.push(text);
      },
      report: (line) => reports.push(line),
      deliveryBackoffMs: 1,
      ...extra,
    });
  const lines = (text: string) =>
    text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Finding);
  const summaryOf = (reports: readonly string[]) =>
    JSON.parse(reports.filter((r) => r.startsWith("{")).at(-1) as string) as DeliverySummary;
  const wholeBatch = () => ({ Records: keys.map((k) => sqsRecord(s3Event([k]))) });

  test("FIRSTCALL_TO=file:…: each finding of the batch is delivered to the file once, as written to stdout", async (t) => {
    await migratePostgres(fileDb.url);
    const file = join(deliveryDir(), "findings.jsonl");
    const out: string[] = [];
    const reports: string[] = [];
    const h = environment({ FIRSTCALL_STATE: fileDb.url, FIRSTCALL_TO: `  file:${file}\n` }, out, reports);
    const batch = wholeBatch();
    assert.deepEqual(await h(batch, context("2026/11/02/[$LATEST]file-a")), { batchItemFailures: [] });
    const printed = lines(out.join(""));
    const delivered = lines(readFileSync(file, "utf8"));
    t.diagnostic(`${printed.length} findings on stdout, ${delivered.length} lines in the file`);
    assert.ok(printed.length >= 4);
    assert.deepEqual(delivered.map((f) => f.id).sort(), printed.map((f) => f.id).sort(), "the findings of stdout");
    assert.equal(new Set(delivered.map((f) => f.id)).size, delivered.length, "each once");
    assert.deepEqual(delivered.map(comparable).sort(byId), printed.map(comparable).sort(byId), "as written to stdout");
    const summary = summaryOf(reports);
    assert.equal(summary.delivery?.delivered, printed.length);
    assert.equal(summary.delivery?.owed, 0);
    // The batch again (SQS redelivers it), in another environment: nothing new, nothing sent again.
    const again = environment({ FIRSTCALL_STATE: fileDb.url, FIRSTCALL_TO: `file:${file}` }, out, reports);
    assert.deepEqual(await again(batch, context("2026/11/02/[$LATEST]file-b")), { batchItemFailures: [] });
    assert.equal(lines(readFileSync(file, "utf8")).length, delivered.length, "nothing delivered twice");
    assert.deepEqual(summaryOf(reports).delivery, {
      delivered: 0,
      owed: 0,
      destinations: [{ name: `file ${file}`, delivered: 0, owed: 0 }],
    });
  });

  test("a webhook that is down: the rows stay owed; the next invocation, in another environment, delivers them once", async (t) => {
    await migratePostgres(webhookDb.url);
    let up = false;
    const receiver = await webhookReceiver(() => (up ? 200 : 503));
    try {
      const env = { FIRSTCALL_STATE: webhookDb.url, FIRSTCALL_TO: `webhook:${receiver.url}` };
      const out: string[] = [];
      const reports: string[] = [];
      const first = environment(env, out, reports);
      assert.deepEqual(await first(wholeBatch(), context("2026/11/02/[$LATEST]hook-a")), { batchItemFailures: [] });
      const printed = lines(out.join(""));
      const owed = summaryOf(reports).delivery;
      t.diagnostic(`first invocation: ${JSON.stringify(owed)}; ${receiver.refused()} posts answered 503`);
      assert.ok(printed.length >= 4);
      assert.ok(receiver.refused() > 0, "the webhook was tried");
      assert.equal(owed?.delivered, 0);
      assert.equal(owed?.owed, printed.length, "every finding still owed");
      assert.match(owed?.destinations[0]?.lastError ?? "", /answered 503/);
      assert.ok(!JSON.stringify(reports).includes("/hooks/firstcall"), "the URL's path (its secret) is never shown");
      assert.deepEqual(receiver.taken, []);

      // The webhook is back; another execution environment's invocation, with a batch naming nothing new.
      up = true;
      const second = environment(env, out, reports);
      const testEvent = sqsRecord({ Service: "Amazon S3", Event: "s3:TestEvent", Time: NOW, Bucket: BUCKET });
      assert.deepEqual(await second({ Records: [testEvent] }, context("2026/11/02/[$LATEST]hook-b")), {
        batchItemFailures: [],
      });
      assert.deepEqual([...receiver.taken].sort(), printed.map((f) => f.id).sort(), "each finding delivered once");
      const summary = summaryOf(reports);
      assert.equal(summary.delivery?.delivered, printed.length);
      assert.equal(summary.delivery?.owed, 0);
      // And once only: a third invocation has nothing left to send.
      await second({ Records: [testEvent] }, context("2026/11/02/[$LATEST]hook-b"));
      assert.equal(receiver.taken.length, printed.length, "none delivered twice");
    } finally {
      await receiver.close();
    }
  });

  test("a webhook that never answers: the invocation still returns before its deadline, the rows owed", async (t) => {
    await migratePostgres(deadlineDb.url);
    const receiver = await webhookReceiver(() => "hang");
    try {
      const out: string[] = [];
      const reports: string[] = [];
      const h = environment(
        { FIRSTCALL_STATE: deadlineDb.url, FIRSTCALL_TO: `webhook:${receiver.url}` },
        out,
        reports,
        {
          reserveMs: 6_000,
        },
      );
      // 20 s left: reading stops 6 s before the deadline, delivering 3 s before it. Each webhook post
      // would wait 10 s for an answer, five times over, without the deadline.
      const allowed = 20_000;
      const started = Date.now();
      await h(wholeBatch(), {
        ...context("2026/11/02/[$LATEST]late-a"),
        getRemainingTimeInMillis: () => allowed - (Date.now() - started),
      });
      const took = Date.now() - started;
      const summary = summaryOf(reports);
      t.diagnostic(`returned after ${took} ms: ${JSON.stringify(summary.delivery)}`);
      assert.ok(took < allowed, "returned before the deadline");
      assert.ok(summary.findings > 0);
      assert.equal(summary.delivery?.delivered, 0);
      assert.equal(summary.delivery?.owed, summary.findings, "every finding still owed");
    } finally {
      await receiver.close();
    }
  });

  test("FIRSTCALL_TO is refused on a DynamoDB state, and so is the config's to:", async () => {
    const dynamo = "dynamodb://firstcall?region=us-east-1";
    const h = createHandler({
      env: { FIRSTCALL_STATE: dynamo, FIRSTCALL_TO: "sns:arn:aws:sns:us-east-1:111122223333:alerts" },
    });
    await assert.rejects(
      h(eventBridge(keys[0] as string), context("x")),
      (e: UsageError) =>
        e.code === "E_USAGE" && /^FIRSTCALL_TO: a DynamoDB state keeps no delivery outbox/.test(e.message),
    );
    const config = join(deliveryDir(), "firstcall.yaml");
    writeFileSync(config, "to:\n  - securityhub\n");
    const fromConfig = createHandler({ env: { FIRSTCALL_STATE: dynamo, FIRSTCALL_CONFIG: config } });
    await assert.rejects(
      fromConfig(eventBridge(keys[0] as string), context("x")),
      (e: UsageError) =>
        e.code === "E_USAGE" && e.message.startsWith(`${config}: to: a DynamoDB state keeps no delivery outbox`),
    );
  });

  test("a malformed FIRSTCALL_TO entry is refused at the first invocation, naming it (never its secret)", async () => {
    const dir = deliveryDir();
    for (const [to, message] of [
      [
        `file:${dir}/a.jsonl webhok:https://hooks.example/T000/secret`,
        /^FIRSTCALL_TO: entry 2 of 2 \(webhok:…\): unknown destination "webhok"/,
      ],
      [
        "webhook:env:FC_LAMBDA_UNSET",
        /^FIRSTCALL_TO: entry 1 of 1 \(webhook:…\): webhook: the environment variable FC_LAMBDA_UNSET is not set/,
      ],
      [
        "slack:http://hooks.example/T000/secret",
        /^FIRSTCALL_TO: entry 1 of 1 \(slack:…\): slack: expected an https:\/\/ URL/,
      ],
      ["sns:alerts", /^FIRSTCALL_TO: entry 1 of 1 \(sns:…\): sns: expected a topic ARN/],
    ] as const) {
      const h = createHandler({ env: { FIRSTCALL_STATE: "postgres://nobody@127.0.0.1:1/none", FIRSTCALL_TO: to } });
      await assert.rejects(h(eventBridge(keys[0] as string), context("x")), (e: UsageError) => {
        assert.equal(e.code, "E_USAGE");
        assert.match(e.message, message);
        assert.ok(!e.message.includes("secret"), e.message);
        return true;
      });
    }
    assert.ok(!existsSync(join(dir, "a.jsonl")), "nothing written when a destination is refused");
    const badAccount = createHandler({
      env: {
        FIRSTCALL_STATE: "postgres://nobody@127.0.0.1:1/none",
        FIRSTCALL_TO: "securityhub",
        FIRSTCALL_ASFF_ACCOUNT: "1234",
      },
    });
    await assert.rejects(
      badAccount(eventBridge(keys[0] as string), context("x")),
      /FIRSTCALL_ASFF_ACCOUNT: not a 12-digit account id: 1234/,
    );
    // Entries: any run of spaces, tabs or newlines separates them.
    assert.deepEqual(
      lambdaSettings({ FIRSTCALL_STATE: "postgres://db/x", FIRSTCALL_TO: "\tsecurityhub\n eventbridge:alerts  \n" }).to,
      ["securityhub", "eventbridge:alerts"],
    );
    assert.deepEqual(lambdaSettings({ FIRSTCALL_STATE: "postgres://db/x", FIRSTCALL_TO: " " }).to, []);
  });
});
