/**
 * The runner against the local recording server (a test double for AWS on 127.0.0.1): throttled
 * retries, resume after an interruption, dry run, rate limit, and the session names and user
 * agents that mark each call.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { UsageError } from "../errors.js";
import { RecordingServer } from "../test-helpers/aws-recording-server.js";
import { loadCatalog } from "./catalog.js";
import { readRunFile } from "./run-file.js";
import { accountOfRole, type DryRunLine, runTrailblazer } from "./runner.js";
import {
  MAX_SESSION_NAME,
  parseSessionName,
  parseUserAgent,
  runUserAgent,
  SESSION_NAME_PATTERN,
  sessionName,
} from "./session-name.js";

const SOURCE = { accessKeyId: "AKIASOURCETESTKEY001", secretAccessKey: "another-source-secret" };
const ROLE_ARN = "arn:aws:iam::123456789012:role/firstcall-trailblazer";
const catalog = loadCatalog();

describe("session names and user agents", () => {
  it("are valid, at most 64 characters, unique across the catalog, and read back to the call", () => {
    const seen = new Set<string>();
    let seq = 0;
    for (const service of Object.values(catalog.services)) {
      for (const op of Object.keys(service.operations)) {
        seq++;
        const name = sessionName("k3x9ab12", seq, service.id, op);
        assert.ok(name.length <= MAX_SESSION_NAME);
        assert.match(name, SESSION_NAME_PATTERN);
        assert.deepEqual(parseSessionName(name), { runId: "k3x9ab12", seq });
        seen.add(name);
      }
    }
    assert.equal(seen.size, catalog.counts.operations);
    assert.equal(sessionName("k3x9ab12", 1234, "ec2", "DescribeInstances"), "tb.k3x9ab12.ya.ec2.DescribeInstances");
  });

  it("mark the run and the call in the user agent", () => {
    const ua = runUserAgent("1.2.3", "abcdefgh", 35);
    assert.equal(ua, "firstcall-trailblazer/1.2.3 run/abcdefgh call/z");
    assert.deepEqual(parseUserAgent(`aws-cli/2 ${ua}`), { runId: "abcdefgh", seq: 35 });
    assert.deepEqual(parseUserAgent("aws-sdk-js/3 firstcall-trailblazer/1.2.3 run/abcdefgh"), { runId: "abcdefgh" });
    assert.equal(parseUserAgent("aws-cli/2.0"), undefined);
  });
});

describe("trailblazer run", () => {
  let server: RecordingServer;
  let dir: string;
  let throttle = new Set<string>();
  const triesBySession = new Map<string, number>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trailblazer-runner-"));
    server = await RecordingServer.start({
      sourceCredentials: SOURCE,
      // Throttle the first two tries of the chosen operations, as AWS does under load.
      answer: (req) => {
        const op = req.sessionName?.split(".").pop() ?? "";
        if (!throttle.has(op) || req.sessionName === undefined) return undefined;
        const tries = (triesBySession.get(req.sessionName) ?? 0) + 1;
        triesBySession.set(req.sessionName, tries);
        return tries <= 2
          ? {
              status: 400,
              headers: { "content-type": "text/xml" },
              body: "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>",
            }
          : undefined;
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => ({
    catalog,
    roleArn: ROLE_ARN,
    region: "eu-west-1",
    endpointUrl: server.url,
    sourceCredentials: SOURCE,
    toolVersion: "1.0.0",
    retryBaseMs: 5,
  });

  it("retries throttled calls and records every try", async () => {
    throttle = new Set(["GetCallerIdentity"]);
    const runFile = join(dir, "throttled.jsonl");
    const summary = await runTrailblazer({ ...base(), services: ["sts"], rate: 0, runFile });
    const run = readRunFile(runFile);
    const gci = run.calls.find((c) => c.operation === "GetCallerIdentity");
    assert.equal(gci?.attempts.length, 3);
    assert.deepEqual(
      gci?.attempts.map((a) => a.errorCode),
      ["Throttling", "Throttling", "AccessDenied"],
    );
    assert.equal(summary.sent, run.calls.length + 2);
    const others = run.calls.filter((c) => c.operation !== "GetCallerIdentity");
    assert.ok(others.every((c) => c.attempts.length === 1));
    throttle = new Set();
  });

  it("stops on abort, then resumes the same run without repeating answered calls", async () => {
    const runFile = join(dir, "resume.jsonl");
    const controller = new AbortController();
    let seen = 0;
    const first = await runTrailblazer({
      ...base(),
      services: ["iam"],
      rate: 0,
      concurrency: 2,
      runFile,
      signal: controller.signal,
      onProgress: () => {
        if (++seen === 10) controller.abort();
      },
    });
    assert.equal(first.stopped, true);
    const partial = readRunFile(runFile);
    assert.ok(partial.calls.length >= 10 && partial.calls.length < first.total);
    // A torn last line from an interrupted write is dropped on resume.
    writeFileSync(runFile, `${readFileSync(runFile, "utf8")}{"type":"call","seq":`);
    const before = server.requests.length;
    const second = await runTrailblazer({ ...base(), services: ["iam"], rate: 0, runFile, resume: true });
    assert.equal(second.runId, first.runId);
    assert.equal(second.skipped, partial.calls.length);
    assert.equal(server.requests.length - before, first.total - partial.calls.length);
    const full = readRunFile(runFile);
    assert.equal(full.calls.length, first.total);
    assert.deepEqual(
      full.calls.map((c) => c.seq),
      Array.from({ length: first.total }, (_, i) => i + 1),
    );
    await assert.rejects(
      runTrailblazer({ ...base(), services: ["sts"], rate: 0, runFile, resume: true }),
      (e: unknown) => e instanceof UsageError && /other --services/.test(e.message),
    );
    await assert.rejects(
      runTrailblazer({ ...base(), services: ["iam"], rate: 0, runFile }),
      (e: unknown) => e instanceof UsageError && /--resume/.test(e.message),
    );
  });

  it("dry run builds every request and sends nothing, assumes nothing, writes nothing", async () => {
    const lines: DryRunLine[] = [];
    const before = server.requests.length + server.assumeRoleCalls.length;
    const runFile = join(dir, "dry.jsonl");
    const summary = await runTrailblazer({
      ...base(),
      services: ["s3", "iam"],
      rate: 0,
      runFile,
      dryRun: true,
      onDryRun: (l) => lines.push(l),
    });
    assert.equal(lines.length, summary.total);
    assert.equal(server.requests.length + server.assumeRoleCalls.length, before);
    assert.throws(() => readFileSync(runFile));
    const iam = lines.find((l) => l.operation === "ListUsers");
    assert.equal(iam?.region, "us-east-1", "global service in its home region");
    assert.equal(iam?.method, "POST");
  });

  it("keeps to the rate limit", async () => {
    const started = Date.now();
    const summary = await runTrailblazer({ ...base(), services: ["sts"], rate: 40, runFile: join(dir, "rate.jsonl") });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= ((summary.total - 1) * 1000) / 40 - 20, `${summary.total} calls in ${elapsed} ms`);
  });

  it("rejects a role ARN that is not one", () => {
    assert.equal(accountOfRole(ROLE_ARN), "123456789012");
    assert.throws(() => accountOfRole("arn:aws:iam::123:user/x"), UsageError);
    assert.throws(() => accountOfRole("firstcall-trailblazer"), UsageError);
  });

  it("records an AssumeRole failure and keeps going", async () => {
    const runFile = join(dir, "denied.jsonl");
    const summary = await runTrailblazer({
      ...base(),
      services: ["sts"],
      rate: 0,
      runFile,
      sourceCredentials: { accessKeyId: "AKIAUNKNOWN000000000", secretAccessKey: "wrong" },
    });
    assert.equal(summary.byOutcome["assume-role-failed"], summary.total);
    const run = readRunFile(runFile);
    assert.match(run.calls[0]?.error ?? "", /InvalidClientTokenId|not AssumeRole|unknown access key/);
  });
});
