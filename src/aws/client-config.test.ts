/**
 * The AWS conventions (src/aws/client-config.ts) with real SDK clients: the profile files are
 * temporary files named by AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, and the endpoint is the
 * recording server on 127.0.0.1, which accepts AssumeRole only when signed with the credentials it
 * was given and records the signature's region.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { RecordingServer } from "../test-helpers/aws-recording-server.js";
import { loadCatalog } from "../trailblazer/catalog.js";
import { replayRunCommand, runCommand } from "../trailblazer/commands.js";
import { CHAIN_SCHEMA, CHAIN_VERSION } from "../trailblazer/replay.js";
import { readRunFile } from "../trailblazer/run-file.js";
import { parseAuthorization } from "../trailblazer/signer.js";
import { type AwsSettings, awsSettings, proxyNotice, resolveAws, sdkClientConfig } from "./client-config.js";

const DEFAULT_KEYS = { accessKeyId: "AKIADEFAULTPROFILE01", secretAccessKey: "default-profile-secret" };
const AUDIT_KEYS = { accessKeyId: "AKIAAUDITPROFILE0001", secretAccessKey: "audit-profile-secret" };
const ENV_KEYS = { accessKeyId: "AKIAENVIRONMENTKEY01", secretAccessKey: "environment-secret" };
const ROLE = "arn:aws:iam::123456789012:role/firstcall-trailblazer";

/** Every variable the SDK or the module reads; each test starts with none of them but the files. */
const AWS_VARIABLES = [
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_PROFILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_STS",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_EC2_METADATA_DISABLED",
  "HTTPS_PROXY",
  "https_proxy",
  "HTTP_PROXY",
  "http_proxy",
  "ALL_PROXY",
  "all_proxy",
  "NO_PROXY",
  "no_proxy",
] as const;

const dir = mkdtempSync(join(tmpdir(), "firstcall-aws-config-"));
const saved = new Map(AWS_VARIABLES.map((name) => [name, process.env[name]]));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const [name, value] of saved) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

writeFileSync(
  join(dir, "config"),
  "[default]\nregion = sa-east-1\n\n[profile audit]\nregion = eu-central-1\n\n[profile noregion]\n",
);
writeFileSync(
  join(dir, "credentials"),
  [
    "[default]",
    `aws_access_key_id = ${DEFAULT_KEYS.accessKeyId}`,
    `aws_secret_access_key = ${DEFAULT_KEYS.secretAccessKey}`,
    "[audit]",
    `aws_access_key_id = ${AUDIT_KEYS.accessKeyId}`,
    `aws_secret_access_key = ${AUDIT_KEYS.secretAccessKey}`,
    "[noregion]",
    `aws_access_key_id = ${AUDIT_KEYS.accessKeyId}`,
    `aws_secret_access_key = ${AUDIT_KEYS.secretAccessKey}`,
    "",
  ].join("\n"),
);

beforeEach(() => {
  for (const name of AWS_VARIABLES) delete process.env[name];
  process.env.AWS_CONFIG_FILE = join(dir, "config");
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "credentials");
  // Never ask an instance metadata service, should the chain get that far.
  process.env.AWS_EC2_METADATA_DISABLED = "true";
});

/** Calls AssumeRole through an SDK client configured from the settings. */
async function assumeRole(settings: AwsSettings): Promise<void> {
  const client = new STSClient({ ...sdkClientConfig(settings), maxAttempts: 1 });
  try {
    await client.send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: "client-config-test" }));
  } finally {
    client.destroy();
  }
}

describe("AWS settings from flags and environment", () => {
  test("flags beat the environment; empty variables count as unset", () => {
    const env = {
      AWS_PROFILE: "audit",
      AWS_REGION: "us-west-2",
      AWS_DEFAULT_REGION: "us-east-2",
      AWS_ENDPOINT_URL: "http://127.0.0.1:1",
    };
    assert.deepEqual(awsSettings({ profile: "dev", region: "eu-west-1", endpointUrl: "http://127.0.0.1:2" }, env), {
      profile: "dev",
      region: "eu-west-1",
      endpointUrl: "http://127.0.0.1:2",
    });
    assert.deepEqual(awsSettings({}, env), {
      profile: "audit",
      region: "us-west-2",
      endpointUrl: "http://127.0.0.1:1",
    });
    assert.deepEqual(awsSettings({}, { AWS_REGION: "", AWS_DEFAULT_REGION: "us-east-2" }), { region: "us-east-2" });
    assert.deepEqual(awsSettings({}, {}), {});
  });

  test("the proxy in use is named without the credentials its URL holds; NO_PROXY turns it off", () => {
    assert.equal(proxyNotice(awsSettings({}, {})), undefined);
    process.env.HTTPS_PROXY = "http://user:secret@proxy.example:3128";
    const notice = proxyNotice(awsSettings({}, {})) ?? "";
    assert.match(notice, /through the proxy http:\/\/proxy\.example:3128/);
    assert.doesNotMatch(notice, /secret|user/);
    process.env.NO_PROXY = ".amazonaws.com";
    assert.equal(proxyNotice(awsSettings({}, {})), undefined);
  });
});

/**
 * A forward proxy on 127.0.0.1 for plain-HTTP targets (absolute-URI requests, as HTTP_PROXY
 * clients send them): it forwards each request and records what it forwarded.
 */
async function startForwardProxy(): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const target = new URL(req.url ?? "/");
    seen.push(`${req.method} ${target.host}${target.pathname}`);
    const upstream = request(
      {
        hostname: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://proxyuser:proxypass@127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("AWS settings through the SDK (profile files, endpoint on 127.0.0.1)", () => {
  let audit: RecordingServer;
  let other: RecordingServer;
  before(async () => {
    audit = await RecordingServer.start({ sourceCredentials: AUDIT_KEYS });
    other = await RecordingServer.start({ sourceCredentials: AUDIT_KEYS });
  });
  after(async () => {
    await audit.close();
    await other.close();
  });

  test("--profile: the profile's credentials sign and the profile's region is used", async () => {
    const settings = awsSettings({ profile: "audit", endpointUrl: audit.url });
    const resolved = await resolveAws(settings, { credentials: true });
    assert.equal(resolved.region, "eu-central-1");
    assert.equal(resolved.credentials?.accessKeyId, AUDIT_KEYS.accessKeyId);
    await assumeRole(settings);
    assert.equal(audit.assumeRoleCalls.at(-1)?.signingRegion, "eu-central-1");
  });

  test("AWS_PROFILE picks the profile (over AWS_ACCESS_KEY_ID); --profile beats AWS_PROFILE", async () => {
    process.env.AWS_PROFILE = "audit";
    process.env.AWS_ACCESS_KEY_ID = ENV_KEYS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = ENV_KEYS.secretAccessKey;
    const fromEnv = await resolveAws(awsSettings({}), { credentials: true });
    assert.equal(fromEnv.credentials?.accessKeyId, AUDIT_KEYS.accessKeyId);
    assert.equal(fromEnv.region, "eu-central-1");
    const fromFlag = await resolveAws(awsSettings({ profile: "default" }), { credentials: true });
    assert.equal(fromFlag.credentials?.accessKeyId, DEFAULT_KEYS.accessKeyId);
    assert.equal(fromFlag.region, "sa-east-1");
  });

  test("region: --region beats AWS_REGION beats AWS_DEFAULT_REGION beats the profile's", async () => {
    const region = async (flag?: string) =>
      (await resolveAws(awsSettings({ profile: "audit", ...(flag ? { region: flag } : {}) }), { credentials: false }))
        .region;
    assert.equal(await region(), "eu-central-1");
    process.env.AWS_DEFAULT_REGION = "us-east-2";
    assert.equal(await region(), "us-east-2");
    process.env.AWS_REGION = "us-west-2";
    assert.equal(await region(), "us-west-2");
    assert.equal(await region("ap-south-1"), "ap-south-1");
    // And on the wire: the signature is made for the region that won.
    await assumeRole(awsSettings({ profile: "audit", region: "ap-south-1", endpointUrl: audit.url }));
    assert.equal(audit.assumeRoleCalls.at(-1)?.signingRegion, "ap-south-1");
  });

  test("a profile without a region and no region anywhere: no region, not a guess", async () => {
    const resolved = await resolveAws(awsSettings({ profile: "noregion" }), { credentials: false });
    assert.equal(resolved.region, undefined);
  });

  test("AWS_ENDPOINT_URL is honoured; --endpoint-url beats it", async () => {
    process.env.AWS_ENDPOINT_URL = audit.url;
    const before = { audit: audit.assumeRoleCalls.length, other: other.assumeRoleCalls.length };
    await assumeRole(awsSettings({ profile: "audit" }));
    assert.equal(audit.assumeRoleCalls.length, before.audit + 1);
    await assumeRole(awsSettings({ profile: "audit", endpointUrl: other.url }));
    assert.equal(other.assumeRoleCalls.length, before.other + 1);
    assert.equal(audit.assumeRoleCalls.length, before.audit + 1);
  });

  test("HTTP_PROXY: SDK clients and trailblazer's own requests go through the proxy; NO_PROXY exempts a host", async () => {
    const proxy = await startForwardProxy();
    try {
      process.env.HTTP_PROXY = proxy.url;
      process.env.NO_PROXY = "";
      const before = audit.assumeRoleCalls.length;
      await assumeRole(awsSettings({ profile: "audit", endpointUrl: audit.url }));
      assert.equal(audit.assumeRoleCalls.length, before + 1, "the call reached AWS (the recording server)");
      assert.equal(proxy.seen.length, 1, "through the proxy");
      const serverBefore = audit.requests.length + audit.assumeRoleCalls.length;
      const summary = await runCommand(
        {
          roleArn: ROLE,
          services: "sts",
          rate: 0,
          concurrency: 2,
          out: join(dir, "proxied.jsonl"),
          dryRun: false,
          profile: "audit",
          endpointUrl: audit.url,
        },
        { write: () => undefined },
        () => undefined,
      );
      assert.ok(summary.total > 0);
      const reached = audit.requests.length + audit.assumeRoleCalls.length - serverBefore;
      assert.ok(reached >= summary.total, "every signed call of the run reached the server");
      assert.equal(proxy.seen.length, 1 + reached, "…each one through the proxy");
      process.env.NO_PROXY = "127.0.0.1";
      await assumeRole(awsSettings({ profile: "audit", endpointUrl: audit.url }));
      assert.equal(proxy.seen.length, 1 + reached, "NO_PROXY: directly");
    } finally {
      await proxy.close();
    }
  });

  test("trailblazer run follows them: profile credentials, the profile's region, AWS_ENDPOINT_URL", async () => {
    process.env.AWS_PROFILE = "audit";
    process.env.AWS_ENDPOINT_URL = audit.url;
    const runFile = join(dir, "run.jsonl");
    const before = audit.assumeRoleCalls.length;
    const summary = await runCommand(
      { roleArn: ROLE, services: "sts", rate: 0, concurrency: 2, out: runFile, dryRun: false },
      { write: () => undefined },
      () => undefined,
    );
    const run = readRunFile(runFile);
    assert.equal(run.header.region, "eu-central-1");
    assert.equal(summary.byOutcome.answered, Object.keys(loadCatalog().services.sts?.operations ?? {}).length);
    const calls = audit.assumeRoleCalls.slice(before);
    assert.equal(calls.length, summary.total);
    assert.ok(calls.every((c) => c.signingRegion === "eu-central-1"));
  });

  test("trailblazer replay run signs with the profile's keys for its region, sent to AWS_ENDPOINT_URL", async () => {
    // Knows the audit keys as a session's: records what they sign (the other server refuses them).
    const replayServer = await RecordingServer.start({
      sourceCredentials: ENV_KEYS,
      knownCredentials: [AUDIT_KEYS],
    });
    try {
      process.env.AWS_ENDPOINT_URL = replayServer.url;
      const chainFile = join(dir, "chain.json");
      writeFileSync(
        chainFile,
        JSON.stringify({
          schema: CHAIN_SCHEMA,
          version: CHAIN_VERSION,
          principal: "arn:aws:sts::123456789012:assumed-role/web/i-0abc",
          steps: [
            {
              eventSource: "sqs.amazonaws.com",
              eventName: "ListQueues",
              eventTime: "2024-06-03T18:00:00Z",
              delaySeconds: 0,
              service: "sqs",
              operation: "ListQueues",
              looksReadOnly: true,
            },
          ],
        }),
      );
      const { results } = await replayRunCommand(
        chainFile,
        { profile: "audit", speed: 0, allowWrites: false, dryRun: false },
        { write: () => undefined },
        () => undefined,
      );
      assert.equal(results[0]?.outcome, "sent");
      const request = replayServer.requests.at(-1);
      assert.equal(request?.signatureProblem, undefined);
      const auth = parseAuthorization(request?.headers.authorization);
      assert.equal(auth?.accessKeyId, AUDIT_KEYS.accessKeyId);
      assert.equal(auth?.region, "eu-central-1");
    } finally {
      await replayServer.close();
    }
  });

  test("trailblazer run without any region is a usage error that names the ways to give one", async () => {
    await assert.rejects(
      runCommand(
        { roleArn: ROLE, profile: "noregion", rate: 0, concurrency: 1, dryRun: true },
        { write: () => undefined },
        () => undefined,
      ),
      /--region, set AWS_REGION or AWS_DEFAULT_REGION, or set one in the profile/,
    );
  });
});

test("an SDK client made from these settings prints no Node.js version warning", () => {
  const module = fileURLToPath(new URL("./client-config.ts", import.meta.url));
  const script = `import { sdkClientConfig } from ${JSON.stringify(module)};
import { STSClient } from "@aws-sdk/client-sts";
new STSClient(sdkClientConfig({ region: "us-east-1" })).destroy();
process.emitWarning("a warning of another kind still shows");`;
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    env,
  });
  assert.equal(child.status, 0, child.stderr);
  assert.doesNotMatch(child.stderr, /NodeVersionSupportWarning/);
  assert.match(child.stderr, /a warning of another kind still shows/);
});
