/**
 * Replay: a chain recorded from CloudTrail (records spread over files, out of order) is played
 * back against the local recording server, a test double for AWS on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { UsageError } from "../errors.js";
import { RecordingServer } from "../test-helpers/aws-recording-server.js";
import { loadCatalog } from "./catalog.js";
import { parseChain, recordChain, replayChain, resolveEvent } from "./replay.js";
import { parseAuthorization } from "./signer.js";

const catalog = loadCatalog();
const ATTACKER = "arn:aws:sts::123456789012:assumed-role/web/i-0abc";
const CREDS = { accessKeyId: "AKIAREPLAYTESTKEY000", secretAccessKey: "replay-secret" };
const SOURCE = { accessKeyId: "AKIASOURCETESTKEY003", secretAccessKey: "unused-source-secret" };

function rec(
  arn: string,
  time: string,
  eventSource: string,
  eventName: string,
  awsRegion = "us-east-1",
): CloudTrailRecord {
  return {
    eventVersion: "1.08",
    userIdentity: { type: "AssumedRole", arn },
    eventTime: time,
    eventSource,
    eventName,
    awsRegion,
  };
}

const RECORDS: CloudTrailRecord[] = [
  rec(ATTACKER, "2024-05-01T10:00:03Z", "cloudtrail.amazonaws.com", "DescribeTrails"),
  rec(ATTACKER, "2024-05-01T10:00:00Z", "sts.amazonaws.com", "GetCallerIdentity"),
  rec("arn:aws:sts::123456789012:assumed-role/other/x", "2024-05-01T10:00:01Z", "s3.amazonaws.com", "ListBuckets"),
  rec(ATTACKER, "2024-05-01T10:00:06Z", "s3.amazonaws.com", "ListBuckets"),
  rec(ATTACKER, "2024-05-01T10:00:07Z", "lambda.amazonaws.com", "ListFunctions20150331", "eu-west-1"),
  rec(ATTACKER, "2024-05-01T10:00:09Z", "ec2.amazonaws.com", "TerminateInstances"),
  rec(ATTACKER, "2024-05-01T10:00:10Z", "example.amazonaws.com", "DoSomething"),
];

describe("trailblazer replay", () => {
  let server: RecordingServer;
  before(async () => {
    server = await RecordingServer.start({ sourceCredentials: SOURCE, knownCredentials: [CREDS] });
  });
  after(() => server.close());

  it("resolves logged events to catalog operations, renamed ones included", () => {
    assert.equal(resolveEvent(catalog, "monitoring.amazonaws.com", "GetMetricData")?.service.id, "monitoring");
    assert.equal(
      resolveEvent(catalog, "lambda.amazonaws.com", "ListFunctions20150331")?.operation.name,
      "ListFunctions",
    );
    assert.equal(
      resolveEvent(catalog, "lambda.amazonaws.com", "GetFunctionConfiguration20150331v2")?.operation.name,
      "GetFunctionConfiguration",
    );
    assert.equal(resolveEvent(catalog, "example.amazonaws.com", "DoSomething"), undefined);
  });

  it("records one principal's calls in time order across files, with the pauses between them", async () => {
    const chain = await recordChain(catalog, ATTACKER, RECORDS);
    assert.deepEqual(
      chain.steps.map((s) => [s.eventName, s.delaySeconds, s.operation]),
      [
        ["GetCallerIdentity", 0, "GetCallerIdentity"],
        ["DescribeTrails", 3, "DescribeTrails"],
        ["ListBuckets", 3, "ListBuckets"],
        ["ListFunctions20150331", 1, "ListFunctions"],
        ["TerminateInstances", 2, "TerminateInstances"],
        ["DoSomething", 1, undefined],
      ],
    );
    const prefix = await recordChain(catalog, "arn:aws:sts::123456789012:assumed-role/*", RECORDS);
    assert.equal(prefix.steps.length, RECORDS.length);
    assert.equal(parseChain(JSON.parse(JSON.stringify(chain)), "chain.json").steps.length, 6);
    assert.throws(() => parseChain({ steps: [] }, "x.json"), UsageError);
  });

  it("replays the chain with the given credentials, skipping writes and unknown events unless allowed", async () => {
    const chain = await recordChain(catalog, ATTACKER, RECORDS);
    const before = server.requests.length;
    const results = await replayChain({
      catalog,
      chain,
      credentials: CREDS,
      region: "us-east-1",
      accountId: "123456789012",
      endpointUrl: server.url,
      speed: Number.POSITIVE_INFINITY,
      userAgent: "firstcall-trailblazer/1.0.0 replay/test",
    });
    assert.deepEqual(
      results.map((r) => r.outcome),
      ["sent", "sent", "sent", "sent", "skipped-write", "skipped-unresolved"],
    );
    const sent = server.requests.slice(before);
    assert.equal(sent.length, 4);
    for (const r of sent) {
      assert.equal(r.signatureProblem, undefined);
      assert.equal(parseAuthorization(r.headers.authorization)?.accessKeyId, CREDS.accessKeyId);
      assert.equal(r.headers["user-agent"], "firstcall-trailblazer/1.0.0 replay/test");
    }
    assert.equal(parseAuthorization(sent[3]?.headers.authorization)?.region, "eu-west-1", "step keeps its region");
    assert.equal(results[0]?.status, 403);

    const withWrites = await replayChain({
      catalog,
      chain,
      credentials: CREDS,
      region: "us-east-1",
      accountId: "123456789012",
      endpointUrl: server.url,
      speed: Number.POSITIVE_INFINITY,
      allowWrites: true,
      dryRun: true,
      userAgent: "x",
    });
    assert.equal(withWrites[4]?.outcome, "dry-run");
    assert.match(withWrites[4]?.url ?? "", /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("keeps the recorded timing, scaled by speed", async () => {
    const chain = await recordChain(catalog, ATTACKER, RECORDS.slice(0, 2));
    const started = Date.now();
    await replayChain({
      catalog,
      chain,
      credentials: CREDS,
      region: "us-east-1",
      accountId: "123456789012",
      endpointUrl: server.url,
      speed: 20,
      userAgent: "x",
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 2000, `${elapsed} ms for a 3 s gap at 20×`);
  });
});
