/**
 * `watch sqs://…` end to end, in process: real servers on 127.0.0.1 (s3rver for S3, local-aws-sqs for
 * SQS, both through the real AWS SDK clients), the bundled sample trail put into a bucket, and one
 * notification per object in each shape AWS sends. Message bodies follow AWS's documented shapes
 * (see s3-notifications.test.ts).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createSqsServer } from "local-aws-sqs";
import { runScan } from "../pipeline/scan.js";
import { CLI_MAIN, REPO } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { S3Source } from "./s3.js";
import { SqsSource } from "./watch-sqs.js";

const scratchDir = scratchDirs();
const BUCKET = "org-trail-bucket";
const SAMPLE = join(REPO, "testdata/sample");
const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
// s3rver ships no types; its constructor and run/close are all this test uses.
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".json.gz") ? [join(dir, e.name)] : [],
  );
}

const s3Event = (key: string) => ({
  Records: [
    {
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventTime: new Date().toISOString(),
      eventName: "ObjectCreated:Put",
      s3: {
        s3SchemaVersion: "1.0",
        bucket: { name: BUCKET, arn: `arn:aws:s3:::${BUCKET}` },
        // S3 URL-encodes keys in notifications, a space as '+'.
        object: { key: encodeURIComponent(key).replaceAll("%2F", "/").replaceAll("%20", "+"), size: 1 },
      },
    },
  ],
});
const sns = (message: object) => ({
  Type: "Notification",
  MessageId: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
  TopicArn: "arn:aws:sns:us-east-1:111122223333:trail-topic",
  Message: JSON.stringify(message),
  Timestamp: new Date().toISOString(),
});
const eventBridge = (key: string) => ({
  version: "0",
  id: "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": "Object Created",
  source: "aws.s3",
  account: "111122223333",
  time: new Date().toISOString(),
  region: "us-east-1",
  resources: [`arn:aws:s3:::${BUCKET}`],
  detail: { version: "0", bucket: { name: BUCKET }, object: { key, size: 1 }, reason: "PutObject" },
});
const cloudTrail = (keys: string[]) => ({ s3Bucket: BUCKET, s3ObjectKey: keys });

describe("watch an SQS queue of S3 notifications", () => {
  let s3server: S3rverInstance;
  let sqsServer: Server;
  let s3: S3Client;
  let sqs: SQSClient;
  let keys: string[];
  let s3port = 0;

  before(async () => {
    s3server = new S3rver({
      address: "127.0.0.1",
      port: 0,
      silent: true,
      directory: scratchDir(),
      configureBuckets: [{ name: BUCKET }],
    });
    const s3addr = await s3server.run();
    s3port = s3addr.port;
    sqsServer = await createSqsServer({ port: 0, hostname: "127.0.0.1" });
    const sqsPort = (sqsServer.address() as AddressInfo).port;
    s3 = new S3Client({
      endpoint: `http://127.0.0.1:${s3addr.port}`,
      region: "us-east-1",
      forcePathStyle: true,
      credentials,
    });
    sqs = new SQSClient({ endpoint: `http://127.0.0.1:${sqsPort}`, region: "us-east-1", credentials });
    console.log(`# real servers: s3rver on 127.0.0.1:${s3addr.port}, local-aws-sqs on 127.0.0.1:${sqsPort}`);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
    // The sample trail under its own keys; one object also under a key with a space (URL-encoded as '+').
    keys = [];
    for (const path of walk(SAMPLE)) {
      const key = relative(SAMPLE, path);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path) }));
      keys.push(key);
    }
    keys.sort();
  });

  after(async () => {
    s3?.destroy();
    sqs?.destroy();
    await s3server?.close();
    await new Promise<void>((resolve) => sqsServer?.close(() => resolve()));
  });

  it("reads every shape, deletes only committed messages, leaves failing ones to the redrive policy", async (t) => {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: "trail-events-dlq" }));
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: "trail-events",
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: "arn:aws:sqs:us-east-1:123456789012:trail-events-dlq",
            // High: local-aws-sqs counts each ChangeMessageVisibility as a receive (real SQS does not),
            // and the heartbeat renews every second here.
            maxReceiveCount: 100,
          }),
        },
      }),
    );
    const url = queue.QueueUrl as string;
    assert.ok(dlq.QueueUrl);
    // Each object once, the shapes in turn; CloudTrail's notification names two keys at once.
    const bodies: object[] = [];
    const trail = keys.filter((k) => k.includes("/CloudTrail/"));
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const shape = i % 5;
      if (shape === 0) bodies.push(s3Event(key));
      else if (shape === 1) bodies.push(sns(s3Event(key)));
      else if (shape === 2) bodies.push(eventBridge(key));
      else if (shape === 3) bodies.push(sns(eventBridge(key)));
      else bodies.push(i % 2 === 0 ? sns(cloudTrail([key])) : cloudTrail([key]));
    }
    bodies.push({ Service: "Amazon S3", Event: "s3:TestEvent", Time: new Date().toISOString(), Bucket: BUCKET });
    bodies.push({ hello: "not a notification" });
    bodies.push(s3Event("AWSLogs/missing object.json.gz"));
    // The same object notified twice (SQS delivers at least once): read once, both messages deleted.
    bodies.push(cloudTrail([trail[0] as string]));
    for (const b of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(b) }));

    const reports: string[] = [];
    const source = new SqsSource(
      sqs,
      url,
      new S3Source({
        aws: { region: "us-east-1", endpointUrl: `http://127.0.0.1:${s3port}` },
        clientConfig: { credentials },
      }),
      {
        visibilitySeconds: 2,
        waitSeconds: 1,
        onReport: (m) => reports.push(m),
      },
    );
    const stop = new AbortController();
    const state = join(scratchDir(), "state.sqlite");
    const expectedDeleted = bodies.length - 2; // all but the invalid one and the missing object's
    const watching = runScan({
      paths: [],
      live: source,
      statePath: state,
      jobs: 0,
      checkpointMs: 200,
      signal: stop.signal,
    });
    const deadline = Date.now() + 120_000;
    // Until every good message is deleted and the failing ones came back at least once.
    while (
      Date.now() < deadline &&
      (source.counts.deleted < expectedDeleted || !reports.some((r) => /received 2 times/.test(r)))
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    stop.abort();
    const live = await watching;
    t.diagnostic(`reports: ${reports.length}; counts ${JSON.stringify(source.counts)}`);
    assert.equal(source.counts.deleted, expectedDeleted, JSON.stringify(source.counts));

    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const liveIds = live.findings.map((f) => f.id);
    assert.equal(new Set(liveIds).size, liveIds.length, "no finding delivered twice");
    assert.deepEqual([...liveIds].sort(), once.findings.map((f) => f.id).sort(), "the findings of a one-shot scan");
    assert.ok(once.findings.length >= 4);
    assert.equal(live.summary.objects.failed >= 1, true, "the missing object is reported");
    assert.ok(
      live.summary.problems.some((p) => p.object === `s3://${BUCKET}/AWSLogs/missing object.json.gz`),
      JSON.stringify(live.summary.problems),
    );
    assert.ok(reports.some((r) => /not a notification|top-level keys: hello/.test(r) && /redrive policy/.test(r)));
    assert.ok(reports.some((r) => /missing object\.json\.gz/.test(r) && /not deleted/.test(r)));
    // What is left on the queue: the two failing messages (visible again after their timeout), nothing else.
    const left = new Map<string, string>();
    // Until both came back, then one more round for anything else.
    for (let extra = 0; Date.now() < deadline && extra < 2; ) {
      const got = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 1 }),
      );
      for (const m of got.Messages ?? []) left.set(m.MessageId as string, m.Body as string);
      if (left.size >= 2) extra++;
    }
    assert.deepEqual(
      [...left.values()].sort(),
      [JSON.stringify({ hello: "not a notification" }), JSON.stringify(bodies.at(-2))].sort(),
    );

    // A restart on the same state: the same notifications again are skipped as already scanned.
    for (const key of trail.slice(0, 5)) {
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(cloudTrail([key])) }));
    }
    const again = new SqsSource(
      sqs,
      url,
      new S3Source({
        aws: { region: "us-east-1", endpointUrl: `http://127.0.0.1:${s3port}` },
        clientConfig: { credentials },
      }),
      { visibilitySeconds: 2, waitSeconds: 1 },
    );
    const stop2 = new AbortController();
    const second = runScan({
      paths: [],
      live: again,
      statePath: state,
      jobs: 0,
      checkpointMs: 200,
      signal: stop2.signal,
    });
    while (Date.now() < deadline && again.counts.deleted < 5) await new Promise((r) => setTimeout(r, 100));
    stop2.abort();
    const r2 = await second;
    assert.equal(again.counts.deleted, 5);
    assert.equal(r2.findings.length, 0, "nothing found twice across runs");
    assert.equal(r2.summary.objects.alreadyScanned, 5);
  });
  it("the CLI: watch sqs://QUEUE_URL with --endpoint-url for S3, stopped by SIGTERM (exit 0)", async (t) => {
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: "cli-events" }));
    const url = queue.QueueUrl as string;
    for (const key of keys) {
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(eventBridge(key)) }));
    }
    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const endpoint = `http://127.0.0.1:${s3port}`;
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CLI_MAIN,
        "watch",
        `sqs://${url}`,
        "--endpoint-url",
        endpoint,
        "--region",
        "us-east-1",
      ].concat(["--state", ":memory:", "--format", "jsonl", "--jobs", "0", "--checkpoint-seconds", "0.2", "-q"]),
      {
        cwd: REPO,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          FIRSTCALL_DEBUG: "",
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER",
          AWS_PROFILE: "",
          AWS_ENDPOINT_URL: "",
        },
      },
    );
    let out = "";
    let err = "";
    child.stdout?.on("data", (d) => {
      out += String(d);
    });
    child.stderr?.on("data", (d) => {
      err += String(d);
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const expected = once.findings.map((f) => f.id).sort();
      const printed = () =>
        out
          .split("\n")
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { id: string }).id);
      const end = Date.now() + 120_000;
      while (Date.now() < end && printed().length < expected.length) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500)); // the last deletes
      child.kill("SIGTERM");
      assert.equal(await exited, 0, err);
      t.diagnostic(err.trim().split("\n").slice(-3).join(" | "));
      assert.deepEqual(printed().sort(), expected);
      assert.doesNotMatch(err, /differs from SQSClient resolved endpoint/);
      const left = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      assert.equal((left.Messages ?? []).length, 0, "every message deleted");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
