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
import { createHandler, type FirstcallLambdaResult } from "./handler.js";

const scratchDir = scratchDirs();
const BUCKET = "org-trail-bucket";
const SAMPLE = join(REPO, "testdata/sample");
const NOW = "2026-11-02T00:20:31.000Z";
// At the top level: the database is dropped when the file's tests end (a hook's `after` would drop it sooner).
const db = await testDatabase();

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
});
