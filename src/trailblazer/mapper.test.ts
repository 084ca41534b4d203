/**
 * The mapper on CloudTrail built from a recorded run: a real run of sts, lambda and s3 against the
 * local recording server (a test double for AWS on 127.0.0.1), then CloudTrail files written from
 * what the server received, as AWS would log it, including calls not logged, renamed events, data
 * events, a throttled retry, an event logged without the session identity, and the harness's own
 * AssumeRole records. The files are read back with the project's CloudTrail reader.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { readLogs } from "../sources/read.js";
import { RecordingServer } from "../test-helpers/aws-recording-server.js";
import { loadCatalog } from "./catalog.js";
import { diffMappings, loadMapping, renderDiffText } from "./diff.js";
import { type Mapping, type OperationMapping, RunMatcher, renderMappingText } from "./mapper.js";
import { type CallRecord, type RunFile, readRunFile } from "./run-file.js";
import { runTrailblazer } from "./runner.js";

const SOURCE = { accessKeyId: "AKIASOURCETESTKEY002", secretAccessKey: "mapper-source-secret" };
const ACCOUNT = "123456789012";
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/firstcall-trailblazer`;

/** How the simulated CloudTrail logs each operation (default: logged under its own name). */
interface LoggingRule {
  readonly notLogged?: boolean;
  readonly eventName?: string;
  readonly data?: boolean;
  /** Logged without the role session (as for unauthenticated calls): only the user agent links it. */
  readonly anonymous?: boolean;
}

const RULES: Record<string, LoggingRule> = {
  "lambda.Invoke": { notLogged: true },
  "s3.HeadObject": { notLogged: true },
  "lambda.ListFunctions": { eventName: "ListFunctions20150331" },
  "lambda.GetFunction": { eventName: "GetFunction20150331v2" },
  "s3.ListObjectsV2": { eventName: "ListObjects" },
  "s3.GetObject": { data: true },
  "s3.PutObject": { data: true },
  "sts.AssumeRoleWithWebIdentity": { anonymous: true },
};

function eventTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

let ids = 0;
/** CloudTrail records for one call, one per try, as AWS would write them. */
function recordsFor(call: CallRecord, rules: Record<string, LoggingRule>, userAgent: string): CloudTrailRecord[] {
  const rule = rules[`${call.service}.${call.operation}`] ?? {};
  if (rule.notLogged) return [];
  const service = loadCatalog().services[call.service];
  return call.attempts.map((attempt) => ({
    eventVersion: "1.09",
    userIdentity: rule.anonymous
      ? { type: "WebIdentityUser", principalId: "accounts.example.com:app:user" }
      : {
          type: "AssumedRole",
          principalId: `AROAEXAMPLE:${call.sessionName}`,
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/firstcall-trailblazer/${call.sessionName}`,
          accountId: ACCOUNT,
          ...(call.accessKeyId ? { accessKeyId: call.accessKeyId } : {}),
        },
    eventTime: eventTime(Date.parse(attempt.sentAt) + 2000),
    eventSource: `${service?.signingName ?? call.service}.amazonaws.com`,
    eventName: rule.eventName ?? call.operation,
    awsRegion: call.region,
    sourceIPAddress: "198.51.100.7",
    userAgent,
    errorCode: attempt.errorCode === "Throttling" ? "ThrottlingException" : "AccessDenied",
    errorMessage: "explicit deny",
    eventID: `00000000-0000-4000-8000-${(++ids).toString(16).padStart(12, "0")}`,
    readOnly: call.operation.startsWith("Get") || call.operation.startsWith("List"),
    eventType: "AwsApiCall",
    managementEvent: !rule.data,
    recipientAccountId: ACCOUNT,
    eventCategory: rule.data ? "Data" : "Management",
  }));
}

describe("trailblazer map", () => {
  let dir: string;
  let run: RunFile;
  let server: RecordingServer;
  let mapping: Mapping;
  const byKey = new Map<string, OperationMapping>();

  /** Writes CloudTrail files for the run under `rules` and maps them with the reader. */
  async function mapWith(rules: Record<string, LoggingRule>, name: string): Promise<Mapping> {
    const logs = join(dir, name);
    mkdirSync(logs, { recursive: true });
    const uaBySession = new Map(server.requests.map((r) => [r.sessionName ?? "", r.headers["user-agent"] ?? ""]));
    const records = run.calls.flatMap((c) => recordsFor(c, rules, uaBySession.get(c.sessionName) ?? ""));
    // The harness's own AssumeRole calls, made by the operator, marked with the run's user agent.
    const harness: CloudTrailRecord[] = server.assumeRoleCalls.map((a) => ({
      eventVersion: "1.09",
      userIdentity: { type: "IAMUser", arn: `arn:aws:iam::${ACCOUNT}:user/operator`, accountId: ACCOUNT },
      eventTime: run.header.startedAt.replace(/\.\d{3}Z$/, "Z"),
      eventSource: "sts.amazonaws.com",
      eventName: "AssumeRole",
      awsRegion: "eu-west-1",
      userAgent: a.userAgent ?? "",
      requestParameters: { roleArn: a.roleArn, roleSessionName: a.sessionName },
      eventID: `00000000-0000-4000-9000-${(++ids).toString(16).padStart(12, "0")}`,
    }));
    const noise: CloudTrailRecord[] = [
      {
        eventVersion: "1.09",
        userIdentity: {
          type: "AssumedRole",
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/web/i-0abc`,
          accountId: ACCOUNT,
        },
        eventTime: "2024-01-01T00:00:00Z",
        eventSource: "s3.amazonaws.com",
        eventName: "ListBuckets",
        userAgent: "aws-cli/2.15",
        eventID: "00000000-0000-4000-a000-000000000001",
      },
    ];
    const half = Math.floor(records.length / 2);
    writeFileSync(join(logs, "part1.json.gz"), gzipSync(JSON.stringify({ Records: records.slice(0, half) })));
    writeFileSync(join(logs, "part2.json"), JSON.stringify({ Records: [...records.slice(half), ...noise] }));
    writeFileSync(join(logs, "harness.json"), JSON.stringify({ Records: harness }));
    const matcher = new RunMatcher(run);
    for await (const object of readLogs([logs])) {
      assert.deepEqual(object.problems, []);
      for (const r of object.records) matcher.add(r);
    }
    return matcher.result();
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trailblazer-map-"));
    const tries = new Map<string, number>();
    server = await RecordingServer.start({
      sourceCredentials: SOURCE,
      answer: (req) => {
        if (!req.sessionName?.endsWith(".GetCallerIdentity")) return undefined;
        const n = (tries.get(req.sessionName) ?? 0) + 1;
        tries.set(req.sessionName, n);
        return n === 1
          ? { status: 400, body: "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>" }
          : undefined;
      },
    });
    const runFile = join(dir, "run.jsonl");
    await runTrailblazer({
      catalog: loadCatalog(),
      roleArn: ROLE_ARN,
      region: "eu-west-1",
      services: ["sts", "lambda", "s3"],
      endpointUrl: server.url,
      rate: 0,
      runFile,
      sourceCredentials: SOURCE,
      toolVersion: "1.0.0",
      retryBaseMs: 5,
    });
    run = readRunFile(runFile);
    mapping = await mapWith(RULES, "logs1");
    for (const o of mapping.operations) byKey.set(`${o.service}.${o.operation}`, o);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("maps every call, and counts what was and was not logged", () => {
    assert.equal(mapping.operations.length, run.calls.length);
    assert.equal(mapping.counts.sent, run.calls.length);
    assert.equal(mapping.counts.notLogged, 2);
    assert.equal(mapping.counts.logged, run.calls.length - 2);
    assert.equal(mapping.counts.renamed, 3);
    assert.equal(mapping.counts.assumeRoleRecords, run.calls.length);
    assert.equal(mapping.counts.records, mapping.counts.matchedRecords + run.calls.length + 1);
    assert.ok(mapping.window);
  });

  it("reports calls not logged, with the answer they got", () => {
    const invoke = byKey.get("lambda.Invoke");
    assert.equal(invoke?.logged, false);
    assert.equal(invoke?.status, 403);
    assert.equal(invoke?.eventName, undefined);
    assert.equal(byKey.get("s3.HeadObject")?.logged, false);
  });

  it("reports the logged eventSource and eventName, and flags renamed events", () => {
    const list = byKey.get("lambda.ListFunctions");
    assert.equal(list?.eventSource, "lambda.amazonaws.com");
    assert.equal(list?.eventName, "ListFunctions20150331");
    assert.equal(list?.renamed, true);
    assert.equal(byKey.get("s3.ListObjectsV2")?.eventName, "ListObjects");
    const same = byKey.get("sts.GetSessionToken");
    assert.equal(same?.eventName, "GetSessionToken");
    assert.equal(same?.renamed, false);
    assert.equal(same?.matchedBy, "session");
  });

  it("reports management/data, read-only, the logged error code and the delay", () => {
    const get = byKey.get("s3.GetObject");
    assert.equal(get?.eventCategory, "Data");
    assert.equal(get?.managementEvent, false);
    assert.equal(get?.readOnly, true);
    const del = byKey.get("s3.DeleteBucket");
    assert.equal(del?.eventCategory, "Management");
    assert.equal(del?.readOnly, false);
    assert.equal(del?.loggedErrorCode, "AccessDenied");
    for (const o of mapping.operations.filter((m) => m.logged)) {
      assert.ok(
        o.delaySeconds !== undefined && o.delaySeconds >= 1 && o.delaySeconds <= 3,
        `${o.operation}: ${o.delaySeconds}`,
      );
    }
  });

  it("folds throttled retries into one operation, keeping the settled try", () => {
    const gci = byKey.get("sts.GetCallerIdentity");
    assert.equal(gci?.attempts, 2);
    assert.equal(gci?.events, 2);
    assert.equal(gci?.throttledEvents, 1);
    assert.equal(gci?.loggedErrorCode, "AccessDenied");
    assert.equal(gci?.answerErrorCode, "AccessDenied");
  });

  it("matches an event logged without the session identity by the run marker in its user agent", () => {
    const web = byKey.get("sts.AssumeRoleWithWebIdentity");
    assert.equal(web?.logged, true);
    assert.equal(web?.matchedBy, "user-agent");
  });

  it("renders text with the renamed and unlogged operations and a summary", () => {
    const text = renderMappingText(mapping);
    assert.match(
      text,
      /^lambda\.ListFunctions {2}→ lambda\.amazonaws\.com ListFunctions20150331 {2}RENAMED {2}Management read-only {2}AccessDenied {2}\+\ds$/m,
    );
    assert.match(text, /^lambda\.Invoke {2}NOT LOGGED {2}\(answer 403 AccessDenied(Exception)?\)$/m);
    assert.match(text, /^sts\.GetCallerIdentity .*\(1 throttled tries\)$/m);
    assert.match(
      text,
      new RegExp(
        `^run ${run.header.runId}: ${run.calls.length} calls, ${run.calls.length} sent, ${run.calls.length - 2} logged, 2 not logged, 3 renamed`,
        "m",
      ),
    );
    const interesting = renderMappingText(mapping, { onlyInteresting: true });
    assert.equal(interesting.split("\n").filter((l) => l.includes("→") || l.includes("NOT LOGGED")).length, 5);
  });

  it("diffs two mappings: now logged, no longer logged, renamed differently", async () => {
    const oldPath = join(dir, "old.json");
    writeFileSync(oldPath, JSON.stringify(mapping));
    const changed = await mapWith(
      {
        ...RULES,
        "lambda.Invoke": { data: true },
        "sts.GetSessionToken": { notLogged: true },
        "lambda.ListFunctions": {},
      },
      "logs2",
    );
    const diff = diffMappings(loadMapping(oldPath), changed);
    assert.deepEqual(diff.counts, { added: 0, removed: 0, "now-logged": 1, "no-longer-logged": 1, changed: 1 });
    assert.deepEqual(
      diff.changes.map((c) => [c.kind, c.key]),
      [
        ["now-logged", "lambda.Invoke"],
        ["changed", "lambda.ListFunctions"],
        ["no-longer-logged", "sts.GetSessionToken"],
      ],
    );
    assert.deepEqual(diff.changes[1]?.fields, { eventName: ["ListFunctions20150331", "ListFunctions"] });
    assert.match(
      renderDiffText(diff),
      /^changed {11}lambda\.ListFunctions {2}eventName: ListFunctions20150331 → ListFunctions$/m,
    );
    assert.throws(() => loadMapping(join(dir, "run.jsonl")), /not a trailblazer mapping|cannot read/);
  });
});
