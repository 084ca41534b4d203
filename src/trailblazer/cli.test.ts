/**
 * `firstcall trailblazer …` through commander, in process. Network calls go only to the local
 * recording server (a test double for AWS on 127.0.0.1).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Command } from "commander";
import { registerTrailblazer } from "../cli/trailblazer.js";
import { UsageError } from "../errors.js";
import { RecordingServer } from "../test-helpers/aws-recording-server.js";
import { readRunFile } from "./run-file.js";

const SOURCE = { accessKeyId: "AKIASOURCETESTKEY004", secretAccessKey: "cli-source-secret" };

/** Runs the CLI with its output collected; resolves to [exit code, output]. */
async function cli(...args: string[]): Promise<[number, string]> {
  const program = new Command("firstcall").exitOverride();
  let out = "";
  registerTrailblazer(program, { write: (text: string) => (out += text) });
  await program.parseAsync(["node", "firstcall", "trailblazer", ...args]);
  const code = program.getOptionValue("exitCode");
  return [typeof code === "number" ? code : 0, out];
}

describe("firstcall trailblazer (CLI)", () => {
  let server: RecordingServer;
  let dir: string;
  before(async () => {
    server = await RecordingServer.start({ sourceCredentials: SOURCE });
    dir = mkdtempSync(join(tmpdir(), "trailblazer-cli-"));
    process.env.AWS_ACCESS_KEY_ID = SOURCE.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = SOURCE.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("catalog lists services, and a service's operations with --services", async () => {
    const [code, out] = await cli("catalog");
    assert.equal(code, 0);
    assert.match(out, /^ec2 {2}ec2 {2}\d+ operations {2}Amazon Elastic Compute Cloud$/m);
    const [, sts] = await cli("catalog", "--services", "sts");
    assert.match(sts, /^ {2}AssumeRole {2}POST \/ {2}required: RoleArn, RoleSessionName$/m);
    const [, json] = await cli("catalog", "--services", "sts", "--json");
    const parsed = JSON.parse(json) as { schema: string; services: Record<string, unknown> };
    assert.equal(parsed.schema, "firstcall.trailblazer.catalog");
    assert.deepEqual(Object.keys(parsed.services), ["sts"]);
  });

  it("usage errors are UsageErrors (exit code 2 in main)", async () => {
    await assert.rejects(cli("catalog", "--services", "nope"), UsageError);
    await assert.rejects(
      cli("run", "--region", "us-east-1"),
      (e: unknown) => e instanceof UsageError && /--role-arn/.test(e.message),
    );
    await assert.rejects(
      cli("run", "--role-arn", "arn:aws:iam::123456789012:role/x", "--region", "us-east-1", "--rate", "fast"),
      UsageError,
    );
    await assert.rejects(cli("map"), (e: unknown) => (e as { code?: string }).code === "commander.missingArgument");
  });

  it("run --dry-run prints the requests and sends nothing", async () => {
    const before = server.requests.length + server.assumeRoleCalls.length;
    const [code, out] = await cli(
      "run",
      "--role-arn",
      "arn:aws:iam::123456789012:role/firstcall-trailblazer",
      "--region",
      "eu-west-1",
      "--services",
      "iam",
      "--dry-run",
      "--placeholder",
      "UserName=alice",
    );
    assert.equal(code, 0);
    assert.match(
      out,
      /iam\.GetUser\tus-east-1\ttb\.[0-9a-z]+\.[0-9a-z]+\.iam\.GetUser\tPOST https:\/\/iam\.amazonaws\.com\//,
    );
    assert.match(out, /Action=DeleteUser&Version=2010-05-08&UserName=alice/);
    assert.equal(server.requests.length + server.assumeRoleCalls.length, before);
  });

  it("run writes a run file from calls to the endpoint, and map reads CloudTrail against it", async () => {
    const runFile = join(dir, "run.jsonl");
    const [code] = await cli(
      "run",
      "--role-arn",
      "arn:aws:iam::123456789012:role/firstcall-trailblazer",
      "--region",
      "eu-west-1",
      "--services",
      "sts",
      "--endpoint-url",
      server.url,
      "--rate",
      "0",
      "--out",
      runFile,
      "--no-progress",
    );
    assert.equal(code, 0);
    const run = readRunFile(runFile);
    assert.ok(run.calls.length > 5 && run.calls.every((c) => c.outcome === "answered"));
    const call = run.calls.find((c) => c.operation === "GetCallerIdentity");
    assert.ok(call);
    const logs = join(dir, "logs");
    mkdirSync(logs);
    writeFileSync(
      join(logs, "trail.json"),
      JSON.stringify({
        Records: [
          {
            eventVersion: "1.09",
            eventTime: new Date(Date.parse(call.attempts[0]?.sentAt ?? "") + 5000).toISOString(),
            eventSource: "sts.amazonaws.com",
            eventName: "GetCallerIdentity",
            userIdentity: {
              type: "AssumedRole",
              arn: `arn:aws:sts::123456789012:assumed-role/firstcall-trailblazer/${call.sessionName}`,
            },
            errorCode: "AccessDenied",
            managementEvent: true,
            eventCategory: "Management",
            readOnly: true,
          },
        ],
      }),
    );
    const mappingFile = join(dir, "mapping.json");
    const [mapCode] = await cli("map", runFile, logs, "--format", "json", "-o", mappingFile);
    assert.equal(mapCode, 0);
    const mapping = JSON.parse(readFileSync(mappingFile, "utf8")) as { counts: { logged: number; notLogged: number } };
    assert.equal(mapping.counts.logged, 1);
    assert.equal(mapping.counts.notLogged, run.calls.length - 1);
    const [, text] = await cli("map", runFile, logs, "--interesting");
    assert.match(text, /^sts\.GetSessionToken {2}NOT LOGGED/m);
    const [, diff] = await cli("map", runFile, logs, "--diff", mappingFile);
    assert.match(diff, /0 now logged, 0 no longer logged, 0 logged differently, 0 added, 0 removed/);
  });
});
