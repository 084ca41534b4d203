import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecurityHubClient } from "@aws-sdk/client-securityhub";
import { SNSClient } from "@aws-sdk/client-sns";
import { RecordingServer } from "../../test-helpers/aws-recording-server.js";
import { scratchDirs } from "../../test-helpers/scan.js";
import { FINDING_SCHEMA, type Finding } from "../finding.js";
import { allFailed } from "./destination.js";
import { EVENT_SOURCE, EventBridgeDestination } from "./eventbridge.js";
import { deliverWithRetry } from "./retry.js";
import { SecurityHubDestination } from "./securityhub.js";
import { SlackDestination, slackMessage } from "./slack.js";
import { SnsDestination } from "./sns.js";
import { destinationKey, parseTarget } from "./targets.js";
import { WebhookDestination, webhookSignature } from "./webhook.js";

const HOSTILE_AGENT = "<!channel> <https://evil.example|click me> & python-requests/2.32";

function finding(n: number, overrides: Partial<Finding> = {}): Finding {
  return {
    schema: FINDING_SCHEMA,
    id: `fc_${String(n).padStart(20, "0")}`,
    rule: "credential-ip-mismatch",
    severity: "high",
    time: "2026-11-01T03:10:00Z",
    account: "111122223333",
    region: "us-east-1",
    principal: {
      arn: "arn:aws:sts::111122223333:assumed-role/web-server/i-0a1b2c3d4e5f60003",
      roleArn: "arn:aws:iam::111122223333:role/web-server",
      sessionName: "i-0a1b2c3d4e5f60003",
      accessKeyId: "ASIAEXAMPLEEXAMPLE03",
      kind: "ec2-instance",
      instanceId: "i-0a1b2c3d4e5f60003",
    },
    sourceIp: "198.51.100.77",
    expectedIps: ["54.240.1.10"],
    network: "outside-aws",
    covered: true,
    event: { id: "ev-1", name: "ListBuckets", source: "s3.amazonaws.com", userAgent: HOSTILE_AGENT },
    evidence: {
      count: 3,
      firstSeen: "2026-11-01T03:10:00Z",
      lastSeen: "2026-11-01T03:12:00Z",
      eventIds: ["ev-1"],
      eventNames: ["ListBuckets"],
      accessKeyIds: ["ASIAEXAMPLEEXAMPLE03"],
      userAgents: [HOSTILE_AGENT],
    },
    reason: "used from 198.51.100.77, first call from 54.240.1.10",
    status: "open",
    ...overrides,
  };
}

const noWait = { sleep: async () => {}, random: () => 0.5 };

interface Received {
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  readonly status: number;
}

/** A receiver on 127.0.0.1 that answers each request with `statusFor(index)` and records it. */
async function receiver(
  statusFor: (index: number) => number,
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = statusFor(received.length);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), status });
      if (status === 429) res.setHeader("retry-after", "0");
      res.writeHead(status);
      res.end(status === 200 ? "ok" : "no");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/SECRETPATH`,
    received,
    server,
  };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

describe("webhook", () => {
  test("signed with HMAC-SHA256 over timestamp.body; a receiver that recomputes it accepts it", async (t) => {
    const r = await receiver(() => 200);
    servers.push(r.server);
    t.diagnostic(`webhook receiver on ${new URL(r.url).host}`);
    const key = "test-signing-key-0123456789";
    const dest = new WebhookDestination({ url: new URL(r.url), signingKey: key, now: () => 1_764_650_000_000 });
    const out = await dest.send([finding(1), finding(2)]);
    assert.deepEqual(out, { delivered: [finding(1).id, finding(2).id], failed: [] });
    const got = r.received[0];
    assert.ok(got);
    assert.equal(got.headers["x-firstcall-timestamp"], "1764650000");
    const expected = `sha256=${createHmac("sha256", key).update(`1764650000.${got.body}`).digest("hex")}`;
    const sent = String(got.headers["x-firstcall-signature"]);
    assert.ok(timingSafeEqual(Buffer.from(sent), Buffer.from(expected)));
    assert.equal(sent, webhookSignature(key, 1764650000, got.body));
    assert.equal(got.headers["x-firstcall-finding-ids"], `${finding(1).id},${finding(2).id}`);
    assert.deepEqual(
      JSON.parse(got.body).findings.map((f: Finding) => f.id),
      [finding(1).id, finding(2).id],
    );
    assert.ok(!dest.name.includes("SECRETPATH"), "the URL's path is never shown");
  });

  test("down then up: nothing lost, nothing delivered twice after the acknowledgement", async () => {
    const r = await receiver((i) => (i < 2 ? 500 : 200));
    servers.push(r.server);
    const findings = Array.from({ length: 150 }, (_, i) => finding(i));
    const out = await deliverWithRetry(new WebhookDestination({ url: new URL(r.url) }), findings, noWait);
    assert.deepEqual([...out.delivered].sort(), findings.map((f) => f.id).sort());
    assert.deepEqual([out.rejected, out.pending], [[], []]);
    const acknowledged = r.received
      .filter((x) => x.status === 200)
      .flatMap((x) => String(x.headers["x-firstcall-finding-ids"]).split(","));
    assert.equal(acknowledged.length, 150, "each finding acknowledged exactly once");
    assert.equal(new Set(acknowledged).size, 150);
  });

  test("a receiver that stays down: everything is returned as pending, nothing as delivered", async () => {
    const r = await receiver(() => 503);
    servers.push(r.server);
    const out = await deliverWithRetry(new WebhookDestination({ url: new URL(r.url) }), [finding(1)], {
      ...noWait,
      attempts: 3,
    });
    assert.deepEqual(out.delivered, []);
    assert.equal(out.pending.length, 1);
    assert.equal(r.received.length, 3);
    assert.ok(!out.pending[0]?.message.includes("SECRETPATH"));
  });

  test("a deadline: no try or backoff past it, a send unanswered then is left pending", async () => {
    // A destination that answers 503 at once, then never: the second try is still unanswered at the deadline.
    let sends = 0;
    const flaky = {
      name: "flaky",
      maxBatch: 2,
      send: (batch: readonly Finding[]) => {
        sends++;
        if (sends === 1)
          return Promise.resolve({
            delivered: [],
            failed: batch.map((f) => ({ id: f.id, retryable: true, message: "503" })),
          });
        return new Promise<never>(() => undefined);
      },
    };
    const deadline = Date.now() + 200;
    const out = await deliverWithRetry(flaky, [finding(1), finding(2)], {
      ...noWait,
      random: () => 0,
      attempts: 5,
      deadline,
    });
    // (a timer may fire a millisecond before Date.now() reaches its time)
    assert.ok(
      Date.now() >= deadline - 20 && Date.now() < deadline + 1000,
      `returned at the deadline (${Date.now() - deadline} ms)`,
    );
    assert.deepEqual(out.delivered, []);
    assert.deepEqual(
      out.pending.map((p) => [p.id, p.message]),
      [
        [finding(1).id, "503"],
        [finding(2).id, "503"],
      ],
      "the last failure of each, kept for the next run",
    );
    assert.equal(sends, 2, "a first try, a retry left unanswered, none after the deadline");
    // A backoff that would end past the deadline is not waited: what failed is returned at once.
    const down = { ...flaky, send: (batch: readonly Finding[]) => Promise.resolve(allFailed(batch, true, "503")) };
    const late = await deliverWithRetry(down, [finding(3)], {
      baseDelayMs: 60_000,
      random: () => 1,
      deadline: Date.now() + 5_000,
      sleep: () => Promise.reject(new Error("waited past the deadline")),
    });
    assert.deepEqual(late.pending, [{ id: finding(3).id, retryable: true, message: "503" }]);
  });

  test("a 400 is refused for good and not retried", async () => {
    const r = await receiver(() => 400);
    servers.push(r.server);
    const out = await deliverWithRetry(new WebhookDestination({ url: new URL(r.url) }), [finding(1)], noWait);
    assert.equal(out.rejected.length, 1);
    assert.equal(r.received.length, 1);
  });
});

describe("slack", () => {
  test("a readable Block Kit message; values from the logs cannot ping or hide links", () => {
    const m = slackMessage(finding(1));
    const text = JSON.stringify(m);
    assert.ok(!text.includes("<!channel>"), "the user agent's <!channel> is escaped");
    assert.ok(text.includes("&lt;!channel&gt;"));
    assert.ok(!text.includes("<https://evil.example|"));
    const blocks = m.blocks as { type: string; text?: { text: string } }[];
    assert.equal(blocks[0]?.type, "header");
    assert.match(blocks[0]?.text?.text ?? "", /^HIGH: AWS credential used from a second address/);
    assert.ok(blocks.some((b) => b.text?.text.startsWith("*What to do*")));
    assert.match(JSON.stringify(blocks.at(-1)), new RegExp(finding(1).id));
    const retracted = slackMessage(
      finding(1, { status: "retracted", retractionReason: "an address change explains it" }),
    );
    assert.match(JSON.stringify(retracted.blocks[0]), /Retracted: /);
    assert.ok(!JSON.stringify(retracted).includes("What to do"));
  });

  test("one message per finding; a 429 is retried", async () => {
    const r = await receiver((i) => (i === 1 ? 429 : 200));
    servers.push(r.server);
    const out = await deliverWithRetry(new SlackDestination({ url: new URL(r.url) }), [finding(1), finding(2)], noWait);
    assert.deepEqual([...out.delivered].sort(), [finding(1).id, finding(2).id]);
    assert.equal(r.received.filter((x) => x.status === 200).length, 2);
    for (const x of r.received) assert.ok(Array.isArray(JSON.parse(x.body).blocks));
  });
});

// No local implementation of SNS or EventBridge exists here: the recording server stands in for AWS
// (it checks the SigV4 signature and answers with the canned responses below).
const SOURCE = { accessKeyId: "AKIATESTDELIVERY0001", secretAccessKey: "delivery-test-secret" };
const CLIENT = { accessKeyId: "AKIATESTDELIVERY0002", secretAccessKey: "delivery-client-secret" };

describe("sns", () => {
  test("PublishBatch with filterable attributes; an entry SNS failed on its side is sent again alone", async (t) => {
    const server = await RecordingServer.start({
      sourceCredentials: SOURCE,
      knownCredentials: [CLIENT],
      answer: (req, index) => {
        const body = new TextDecoder().decode(req.body);
        const ids = [...body.matchAll(/PublishBatchRequestEntries\.member\.(\d+)\.Id=(f\d+)/g)].map((m) => m[2]);
        const failFirst = index === 0;
        const ok = ids.filter((_, i) => !(failFirst && i === 1));
        const xml = `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${ok
          .map((id) => `<member><Id>${id}</Id><MessageId>m-${index}-${id}</MessageId></member>`)
          .join("")}</Successful><Failed>${
          failFirst
            ? `<member><Id>${ids[1]}</Id><Code>InternalError</Code><Message>try again</Message><SenderFault>false</SenderFault></member>`
            : ""
        }</Failed></PublishBatchResult><ResponseMetadata><RequestId>r${index}</RequestId></ResponseMetadata></PublishBatchResponse>`;
        return { status: 200, headers: { "content-type": "text/xml" }, body: xml };
      },
    });
    try {
      t.diagnostic(`SNS stand-in (recording server) at ${server.url}`);
      const client = new SNSClient({ region: "us-east-1", endpoint: server.url, credentials: CLIENT, maxAttempts: 1 });
      const dest = new SnsDestination(client, "arn:aws:sns:us-east-1:111122223333:security-findings");
      const out = await deliverWithRetry(dest, [finding(1), finding(2), finding(3)], noWait);
      assert.deepEqual([...out.delivered].sort(), [finding(1).id, finding(2).id, finding(3).id]);
      assert.equal(server.requests.length, 2);
      const first = new TextDecoder().decode(server.requests[0]?.body);
      assert.match(first, /Action=PublishBatch/);
      assert.match(first, /MessageAttributes\.entry\.\d+\.Name=severity/);
      const second = new TextDecoder().decode(server.requests[1]?.body);
      assert.equal([...second.matchAll(/\.Id=/g)].length, 1, "only the failed entry is sent again");
      assert.ok(server.requests.every((r) => r.signatureProblem === undefined));
    } finally {
      await server.close();
    }
  });
});

describe("eventbridge", () => {
  test("PutEvents with source firstcall; an entry refused as malformed is not retried", async (t) => {
    const server = await RecordingServer.start({
      sourceCredentials: SOURCE,
      knownCredentials: [CLIENT],
      answer: (req) => {
        const body = JSON.parse(new TextDecoder().decode(req.body)) as {
          Entries: { Source: string; Detail: string }[];
        };
        const entries = body.Entries.map((e, i) =>
          i === 1 ? { ErrorCode: "MalformedDetail", ErrorMessage: "bad" } : { EventId: `e-${JSON.parse(e.Detail).id}` },
        );
        return {
          status: 200,
          headers: { "content-type": "application/x-amz-json-1.1" },
          body: JSON.stringify({ FailedEntryCount: entries.filter((e) => "ErrorCode" in e).length, Entries: entries }),
        };
      },
    });
    try {
      t.diagnostic(`EventBridge stand-in (recording server) at ${server.url}`);
      const client = new EventBridgeClient({
        region: "us-east-1",
        endpoint: server.url,
        credentials: CLIENT,
        maxAttempts: 1,
      });
      const out = await deliverWithRetry(
        new EventBridgeDestination(client, "security"),
        [finding(1), finding(2)],
        noWait,
      );
      assert.deepEqual(out.delivered, [finding(1).id], JSON.stringify([out, server.requests.map((r) => r.status)]));
      assert.deepEqual(
        out.rejected.map((r) => r.id),
        [finding(2).id],
      );
      assert.equal(server.requests.length, 1);
      const sent = JSON.parse(new TextDecoder().decode(server.requests[0]?.body)) as {
        Entries: { Source: string; EventBusName: string; Resources: string[] }[];
      };
      assert.equal(sent.Entries[0]?.Source, EVENT_SOURCE);
      assert.equal(sent.Entries[0]?.EventBusName, "security");
      assert.deepEqual(sent.Entries[0]?.Resources, ["arn:aws:iam::111122223333:role/web-server"]);
    } finally {
      await server.close();
    }
  });
});

describe("securityhub", () => {
  test("BatchImportFindings in ASFF; a finding Security Hub throttled is imported again, a malformed one is not", async (t) => {
    let call = 0;
    const server = await RecordingServer.start({
      sourceCredentials: SOURCE,
      knownCredentials: [CLIENT],
      answer: (req) => {
        const body = JSON.parse(new TextDecoder().decode(req.body)) as { Findings: { Id: string }[] };
        const ids = body.Findings.map((f) => f.Id);
        const failed =
          call++ === 0
            ? [
                { Id: ids[1], ErrorCode: "ThrottlingException", ErrorMessage: "slow down" },
                { Id: ids[2], ErrorCode: "InvalidInput", ErrorMessage: "bad" },
              ]
            : [];
        return {
          status: 200,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            FailedCount: failed.length,
            SuccessCount: ids.length - failed.length,
            FailedFindings: failed,
          }),
        };
      },
    });
    try {
      t.diagnostic(`Security Hub stand-in (recording server) at ${server.url}`);
      const client = new SecurityHubClient({
        region: "us-east-1",
        endpoint: server.url,
        credentials: CLIENT,
        maxAttempts: 1,
      });
      const out = await deliverWithRetry(
        new SecurityHubDestination(client),
        [finding(1), finding(2), finding(3)],
        noWait,
      );
      assert.deepEqual([...out.delivered].sort(), [finding(1).id, finding(2).id]);
      assert.deepEqual(
        out.rejected.map((r) => r.id),
        [finding(3).id],
      );
      assert.equal(server.requests.length, 2);
      assert.match(server.requests[0]?.path ?? "", /\/findings\/import$/);
      const first = JSON.parse(new TextDecoder().decode(server.requests[0]?.body)) as {
        Findings: { ProductArn: string; Severity: { Label: string } }[];
      };
      assert.equal(
        first.Findings[0]?.ProductArn,
        "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
      );
      assert.equal(first.Findings[0]?.Severity.Label, "HIGH");
    } finally {
      await server.close();
    }
  });
});

describe("parseTarget", () => {
  const scratch = scratchDirs();

  test("URLs from the environment or a file; the signing key from the environment", () => {
    const env = { SLACK_URL: "https://hooks.slack.com/services/T1/B2/xyz", FIRSTCALL_WEBHOOK_SECRET: "k" };
    const slack = parseTarget("slack:env:SLACK_URL", env);
    assert.equal(slack.kind === "slack" && slack.url.href, env.SLACK_URL);
    const dir = scratch();
    const file = join(dir, "hook");
    writeFileSync(file, "https://siem.example/ingest?token=abc\n");
    const hook = parseTarget(`webhook:file:${file}`, env);
    assert.ok(
      hook.kind === "webhook" && hook.url.href === "https://siem.example/ingest?token=abc" && hook.signingKey === "k",
    );
    assert.deepEqual(parseTarget("sns:arn:aws:sns:eu-west-1:111122223333:alerts"), {
      kind: "sns",
      topicArn: "arn:aws:sns:eu-west-1:111122223333:alerts",
      region: "eu-west-1",
    });
    assert.deepEqual(parseTarget("eventbridge"), { kind: "eventbridge", eventBusName: "default" });
  });

  test("files, formats, @PATH secrets, Security Hub Regions; keys stable and free of secrets", () => {
    const dir = scratch();
    const urlFile = join(dir, "siem-url");
    writeFileSync(urlFile, "https://siem.example/ingest/SECRET-TOKEN\n");
    const hook = parseTarget(`webhook+ocsf:@${urlFile}`, {});
    assert.ok(hook.kind === "webhook" && hook.format === "ocsf" && hook.url.pathname === "/ingest/SECRET-TOKEN");
    const keyFile = join(dir, "key");
    writeFileSync(keyFile, "from-the-flag\n");
    const signed = parseTarget(
      "webhook:https://siem.example/x",
      { FIRSTCALL_WEBHOOK_SECRET: "env" },
      {
        webhookSecretFile: keyFile,
      },
    );
    assert.ok(signed.kind === "webhook" && signed.signingKey === "from-the-flag", "the flag wins over the environment");
    assert.deepEqual(parseTarget("file+csv:out/findings.csv", {}), {
      kind: "file",
      path: join(process.cwd(), "out/findings.csv"),
      format: "csv",
    });
    assert.deepEqual(parseTarget("file:f.jsonl", {}), {
      kind: "file",
      path: join(process.cwd(), "f.jsonl"),
      format: "jsonl",
    });
    assert.deepEqual(parseTarget("securityhub", {}), { kind: "securityhub" });
    assert.deepEqual(parseTarget("securityhub:eu-west-1", {}), { kind: "securityhub", region: "eu-west-1" });
    const key = destinationKey(hook);
    assert.match(key, /^webhook:[0-9a-f]{16}$/);
    assert.equal(key, destinationKey(parseTarget(`webhook+ocsf:file:${urlFile}`, {})), "same destination, same key");
    assert.notEqual(
      key,
      destinationKey(parseTarget(`webhook:@${urlFile}`, {})),
      "another format is another destination",
    );
    assert.throws(() => parseTarget("file+html:x.html", {}), /one document per run and cannot be appended/);
    assert.throws(() => parseTarget("webhook+xml:https://a.example/", {}), /unknown webhook format/);
    assert.throws(() => parseTarget("slack+ocsf:https://hooks.slack.com/x", {}), /takes no format/);
    assert.throws(() => parseTarget("securityhub:mars", {}), /expected a Region/);
    assert.throws(() => parseTarget("file:", {}), /expected a path/);
  });

  test("errors name the problem without quoting a secret", () => {
    assert.throws(
      () => parseTarget("slack:http://hooks.slack.com/services/T1/B2/SECRET"),
      (e: Error) => /https/.test(e.message) && !e.message.includes("SECRET"),
    );
    assert.throws(() => parseTarget("slack:env:NOPE", {}), /NOPE is not set/);
    assert.throws(() => parseTarget("sns:topic"), /topic ARN/);
    assert.throws(() => parseTarget("pagerduty:x"), /unknown destination/);
  });
});
