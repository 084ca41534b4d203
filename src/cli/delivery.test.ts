/**
 * `--to` as a user runs it: real `firstcall scan` / `watch` processes, a SQLite state file, and
 * destinations on 127.0.0.1 that are down for a first run and up for the next. For every sink: the
 * first run keeps the findings in the state (exit 7, stderr names the destination without its
 * secret), the next run delivers each of them once. SNS, EventBridge and Security Hub go through the
 * real AWS SDK clients of the CLI to a local recording server that checks their SigV4 signatures and
 * answers as the service would: no local implementation of those services exists here, so the
 * server's canned answers stand in for them (the same ones src/findings/delivery/delivery.test.ts uses).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { after, describe, test } from "node:test";
import { RecordingServer } from "../test-helpers/aws-recording-server.js";
import { CLI_MAIN, type CliProcess, REPO, runCliAsync, startCli, waitFor } from "../test-helpers/cli.js";
import { type Receiver, startReceiver } from "../test-helpers/receiver.js";
import { scratchDirs } from "../test-helpers/scan.js";

const scratchDir = scratchDirs();
const SAMPLE = join(REPO, "testdata", "sample");
const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.close();
});

const ids = (jsonl: string) =>
  jsonl
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);

const FAST = ["--to-backoff-ms", "5", "--jobs", "0"];

/**
 * The down-then-up test of one sink: a scan while it is down, then one while it is up, on the same
 * state; `acknowledged` lists the finding ids the sink took (answered as success).
 */
async function downThenUp(
  to: readonly string[],
  env: NodeJS.ProcessEnv,
  setDown: (down: boolean) => void,
  acknowledged: () => string[],
  name: RegExp,
): Promise<{ first: string; second: string }> {
  const state = join(scratchDir(), "state.sqlite");
  const args = ["scan", SAMPLE, "--state", state, "--format", "jsonl", "--fail-on", "none", ...FAST, ...to];
  setDown(true);
  const first = await runCliAsync(args, { env });
  assert.equal(first.status, 7, first.stderr);
  const found = ids(first.stdout);
  assert.equal(found.length, 4);
  assert.deepEqual(acknowledged(), []);
  const warning = first.stderr.split("\n").find((l) => /4 findings not delivered/.test(l)) ?? "";
  assert.match(warning, name, first.stderr);
  assert.match(warning, /kept in the state, the next run retries them/);
  setDown(false);
  // A new process on the same state: nothing new is read, the owed rows are sent.
  const second = await runCliAsync(args, { env });
  assert.equal(second.status, 0, second.stderr);
  assert.equal(ids(second.stdout).length, 0, "no finding is new");
  const acked = acknowledged();
  assert.deepEqual([...acked].sort(), [...found].sort(), "every finding delivered");
  assert.equal(new Set(acked).size, acked.length, "none delivered twice");
  assert.ok(!second.stderr.includes("not delivered"), second.stderr);
  assert.match(second.stderr, /firstcall: delivery: .+: 4 delivered\n/);
  return { first: first.stderr, second: second.stderr };
}

/** A webhook- or Slack-shaped receiver that answers 500 while `down`. */
async function switchable(): Promise<{ receiver: Receiver; setDown: (d: boolean) => void }> {
  let down = true;
  const receiver = await startReceiver(() => (down ? 500 : 200));
  receivers.push(receiver);
  return { receiver, setDown: (d) => (down = d) };
}

describe("scan --to: down, then up in the next run", () => {
  test("file (OCSF): a folder that does not exist yet, then does", async () => {
    const dir = join(scratchDir(), "later");
    const path = join(dir, "findings.ocsf.jsonl");
    const lines = () =>
      existsSync(path)
        ? readFileSync(path, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => (JSON.parse(l) as { finding_info: { uid: string } }).finding_info.uid)
        : [];
    await downThenUp([`--to`, `file+ocsf:${path}`], {}, (down) => (down ? undefined : mkdirSync(dir)), lines, /file /);
  });

  test("webhook: signed, the URL from the environment never shown", async (t) => {
    const { receiver, setDown } = await switchable();
    t.diagnostic(`webhook receiver ${new URL(receiver.url).host}`);
    const key = "webhook-test-key-0123456789";
    const out = await downThenUp(
      ["--to", "webhook:env:SIEM_URL"],
      { SIEM_URL: receiver.url, FIRSTCALL_WEBHOOK_SECRET: key },
      setDown,
      () => receiver.acknowledged(),
      /webhook http:\/\/127\.0\.0\.1:\d+\/…/,
    );
    for (const text of [out.first, out.second]) assert.ok(!text.includes("SECRETPATH"), text);
    for (const r of receiver.received) {
      const ts = String(r.headers["x-firstcall-timestamp"]);
      const expected = `sha256=${createHmac("sha256", key).update(`${ts}.${r.body}`).digest("hex")}`;
      assert.equal(r.headers["x-firstcall-signature"], expected);
    }
  });

  test("webhook+ocsf with the signing key from --webhook-secret-file", async () => {
    const { receiver, setDown } = await switchable();
    const keyFile = join(scratchDir(), "key");
    writeFileSync(keyFile, "file-key-0123456789\n", { mode: 0o600 });
    const urlFile = join(scratchDir(), "url");
    writeFileSync(urlFile, `${receiver.url}\n`, { mode: 0o600 });
    await downThenUp(
      ["--to", `webhook+ocsf:@${urlFile}`, "--webhook-secret-file", keyFile],
      {},
      setDown,
      () => receiver.acknowledged(),
      /webhook /,
    );
    const ok = receiver.received.find((r) => r.status === 200);
    assert.equal(ok?.headers["content-type"], "application/x-ndjson");
    const first = JSON.parse(ok?.body.split("\n")[0] ?? "{}") as { class_uid: number };
    assert.equal(first.class_uid, 2004, "OCSF Detection Finding events");
    const ts = String(ok?.headers["x-firstcall-timestamp"]);
    assert.equal(
      ok?.headers["x-firstcall-signature"],
      `sha256=${createHmac("sha256", "file-key-0123456789").update(`${ts}.${ok?.body}`).digest("hex")}`,
    );
  });

  test("slack: one Block Kit message per finding", async () => {
    const { receiver, setDown } = await switchable();
    await downThenUp(
      ["--to", "slack:env:SLACK_WEBHOOK_URL"],
      { SLACK_WEBHOOK_URL: receiver.url },
      setDown,
      () => receiver.acknowledged(),
      /slack http:\/\/127\.0\.0\.1:\d+\/…/,
    );
    const delivered = receiver.received.filter((r) => r.status === 200);
    assert.equal(delivered.length, 4);
    for (const r of delivered) assert.ok(Array.isArray((JSON.parse(r.body) as { blocks: unknown[] }).blocks));
  });
});

// The recording server stands in for AWS (see the file comment): it checks each request's SigV4
// signature against these credentials and answers with the service's response shape.
const SOURCE = { accessKeyId: "AKIATESTOUTBOX000001", secretAccessKey: "outbox-test-source" };
const CLIENT = { accessKeyId: "AKIATESTOUTBOX000002", secretAccessKey: "outbox-test-client" };

async function awsStandIn(
  answer: (body: string) => { status: number; headers: Record<string, string>; body: string },
  findingIds: (body: string) => string[],
): Promise<{
  server: RecordingServer;
  setDown: (d: boolean) => void;
  acknowledged: () => string[];
  env: NodeJS.ProcessEnv;
}> {
  let down = true;
  const server = await RecordingServer.start({
    sourceCredentials: SOURCE,
    knownCredentials: [CLIENT],
    answer: (req) =>
      down
        ? { status: 500, headers: { "content-type": "application/json" }, body: '{"message":"down for the test"}' }
        : answer(new TextDecoder().decode(req.body)),
  });
  return {
    server,
    setDown: (d) => (down = d),
    acknowledged: () =>
      server.requests.filter((r) => r.status === 200).flatMap((r) => findingIds(new TextDecoder().decode(r.body))),
    env: {
      AWS_ACCESS_KEY_ID: CLIENT.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CLIENT.secretAccessKey,
      AWS_SESSION_TOKEN: "",
      AWS_PROFILE: "",
      AWS_REGION: "us-east-1",
      // One try per SDK call: the outbox retries.
      AWS_MAX_ATTEMPTS: "1",
      AWS_CONFIG_FILE: join(scratchDir(), "none"),
      AWS_SHARED_CREDENTIALS_FILE: join(scratchDir(), "none"),
    },
  };
}

const hex32 = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1] as string);

describe("scan --to AWS destinations (real SDK clients, a local stand-in for the service)", () => {
  test("sns: PublishBatch", async (t) => {
    const s = await awsStandIn(
      (body) => {
        const entries = [...body.matchAll(/PublishBatchRequestEntries\.member\.(\d+)\.Id=(f\d+)/g)].map((m) => m[2]);
        const xml = `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${entries
          .map((id) => `<member><Id>${id}</Id><MessageId>m-${id}</MessageId></member>`)
          .join(
            "",
          )}</Successful><Failed></Failed></PublishBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>`;
        return { status: 200, headers: { "content-type": "text/xml" }, body: xml };
      },
      // Each message is the finding's JSON; its id is the one 32-hex "id" (event ids are UUIDs).
      (body) => hex32(decodeURIComponent(body.replaceAll("+", " ")), /"id":"([0-9a-f]{32})"/g),
    );
    try {
      t.diagnostic(`SNS stand-in (recording server) at ${s.server.url}`);
      await downThenUp(
        ["--to", "sns:arn:aws:sns:us-east-1:111122223333:security-findings"],
        { ...s.env, AWS_ENDPOINT_URL_SNS: s.server.url },
        s.setDown,
        s.acknowledged,
        /sns arn:aws:sns:us-east-1:111122223333:security-findings/,
      );
      assert.ok(s.server.requests.every((r) => r.signatureProblem === undefined));
    } finally {
      await s.server.close();
    }
  });

  test("eventbridge: PutEvents on a named bus", async (t) => {
    const s = await awsStandIn(
      (body) => {
        const entries = (JSON.parse(body) as { Entries: unknown[] }).Entries;
        return {
          status: 200,
          headers: { "content-type": "application/x-amz-json-1.1" },
          body: JSON.stringify({ FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `e-${i}` })) }),
        };
      },
      (body) =>
        (JSON.parse(body) as { Entries: { Detail: string }[] }).Entries.map(
          (e) => (JSON.parse(e.Detail) as { id: string }).id,
        ),
    );
    try {
      t.diagnostic(`EventBridge stand-in (recording server) at ${s.server.url}`);
      await downThenUp(
        ["--to", "eventbridge:security"],
        { ...s.env, AWS_ENDPOINT_URL_EVENTBRIDGE: s.server.url },
        s.setDown,
        s.acknowledged,
        /eventbridge security/,
      );
      assert.ok(s.server.requests.every((r) => r.signatureProblem === undefined));
    } finally {
      await s.server.close();
    }
  });

  test("securityhub: BatchImportFindings in ASFF for the importing account (--asff-account)", async (t) => {
    const s = await awsStandIn(
      (body) => {
        const n = (JSON.parse(body) as { Findings: unknown[] }).Findings.length;
        return {
          status: 200,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ FailedCount: 0, SuccessCount: n, FailedFindings: [] }),
        };
      },
      (body) => hex32(body, /"Id":"firstcall\/([0-9a-f]{32})"/g),
    );
    try {
      t.diagnostic(`Security Hub stand-in (recording server) at ${s.server.url}`);
      await downThenUp(
        ["--to", "securityhub", "--asff-account", "444455556666", "--asff-region", "us-east-1"],
        { ...s.env, AWS_ENDPOINT_URL_SECURITYHUB: s.server.url },
        s.setDown,
        s.acknowledged,
        /securityhub/,
      );
      const last = s.server.requests.at(-1);
      assert.match(last?.path ?? "", /\/findings\/import$/);
      const sent = JSON.parse(new TextDecoder().decode(last?.body)) as { Findings: { ProductArn: string }[] };
      assert.equal(
        sent.Findings[0]?.ProductArn,
        "arn:aws:securityhub:us-east-1:444455556666:product/444455556666/default",
      );
    } finally {
      await s.server.close();
    }
  });
});

describe("a throw-away state", () => {
  test("--state :memory: with a destination down: exit 7 and stderr says the findings are lost with the run", async () => {
    const { receiver } = await switchable();
    const r = await runCliAsync(
      ["scan", SAMPLE, "--state", ":memory:", "--fail-on", "none", ...FAST, "--to", "webhook:env:HOOK"],
      { env: { HOOK: receiver.url } },
    );
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stderr, /4 findings not delivered \(webhook .+ answered 500\); lost with this --state :memory: run/);
  });
});

describe("the config file's to: list", () => {
  test("delivers like --to; a bad entry names the file and the entry; it is not a judging setting", async () => {
    const dir = scratchDir();
    const out = join(dir, "delivered.jsonl");
    const config = join(dir, "firstcall.yaml");
    writeFileSync(config, `to:\n  - file:${out}\n`);
    const state = join(dir, "state.sqlite");
    const plain = await runCliAsync(["scan", SAMPLE, "--state", state, "--fail-on", "none", "--jobs", "0"]);
    assert.equal(plain.status, 0, plain.stderr);
    // The same state scanned again with a config that only adds a destination: no "settings changed".
    const r = await runCliAsync(["scan", SAMPLE, "--state", state, "--config", config, "--fail-on", "none"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /already scanned/);
    assert.ok(!/settings/i.test(r.stderr), r.stderr);
    assert.ok(!existsSync(out), "findings stored before the destination was given are not sent to it");
    const fresh = await runCliAsync(["scan", SAMPLE, "--state", ":memory:", "--config", config, "--fail-on", "none"]);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.equal(readFileSync(out, "utf8").split("\n").filter(Boolean).length, 4);

    writeFileSync(config, "to:\n  - file:x.jsonl\n  - pagerduty:abc\n");
    const bad = await runCliAsync(["scan", SAMPLE, "--state", ":memory:", "--config", config]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /firstcall\.yaml: to\[1\]: --to: unknown destination "pagerduty"/);
  });
});

describe("delivery across kills and restarts", () => {
  test("killed (-9) after sending and before marking: the batch is sent once more, then never again", async (t) => {
    let hang = true;
    let child: ChildProcess | undefined;
    const receiver = await startReceiver(() => {
      if (!hang) return 200;
      // The receiver has the batch; the sender dies before it can mark it delivered.
      hang = false;
      child?.kill("SIGKILL");
      return "hang";
    });
    receivers.push(receiver);
    const state = join(scratchDir(), "state.sqlite");
    const args = ["scan", SAMPLE, "--state", state, "--format", "jsonl", ...FAST, "--to", `webhook:env:HOOK`];
    const env = { ...process.env, FIRSTCALL_DEBUG: "", HOOK: receiver.url };
    child = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, ...args], { cwd: REPO, env, stdio: "ignore" });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child?.on("exit", (_c, s) => resolve(s)));
    assert.equal(signal, "SIGKILL");
    const inFlight = receiver.received[0];
    assert.ok(inFlight, "the first batch reached the receiver");
    const sentBeforeKill = String(inFlight.headers["x-firstcall-finding-ids"]).split(",");
    t.diagnostic(`${sentBeforeKill.length} findings were in the request the kill interrupted`);

    const again = await runCliAsync(args, { env: { HOOK: receiver.url } });
    assert.equal(again.status, 0, again.stderr);
    const acked = receiver.acknowledged();
    assert.deepEqual([...acked].sort(), [...sentBeforeKill].sort(), "each finding re-sent exactly once");
    const everything = receiver.received.flatMap((r) => String(r.headers["x-firstcall-finding-ids"]).split(","));
    for (const id of new Set(everything))
      assert.ok(everything.filter((x) => x === id).length <= 2, "at most once more");

    const requests = receiver.received.length;
    const third = await runCliAsync(args, { env: { HOOK: receiver.url } });
    assert.equal(third.status, 0, third.stderr);
    assert.equal(receiver.received.length, requests, "nothing acknowledged is sent again");
  });

  test("watch: down until SIGTERM (kept), restarted while the receiver recovers: each finding delivered once", async (t) => {
    let down = true;
    const receiver = await startReceiver(() => (down ? 502 : 200));
    receivers.push(receiver);
    const dir = join(scratchDir(), "AWSLogs");
    mkdirSync(dir);
    const state = join(scratchDir(), "state.sqlite");
    const args = [
      dir,
      "--state",
      state,
      "--format",
      "jsonl",
      "--checkpoint-seconds",
      "0.2",
      "--settle-seconds",
      "0.2",
      "--poll-seconds",
      "1",
      "--health-seconds",
      "0",
      ...FAST,
      "--to",
      "webhook:env:HOOK",
    ];
    const first = watch(args, receiver.url);
    try {
      for (const f of sampleFiles(SAMPLE)) copyFileSync(f, join(dir, basename(f)));
      await until(() => ids(first.stdout()).length >= 4 && receiver.received.length >= 2, 120_000);
      first.child.kill("SIGTERM");
      assert.equal(await first.exited, 0, first.stderr());
    } finally {
      first.child.kill("SIGKILL");
    }
    const found = ids(first.stdout());
    assert.equal(found.length, 4);
    assert.deepEqual(receiver.acknowledged(), []);
    assert.match(first.stderr(), /webhook http:\/\/127\.0\.0\.1:\d+\/…: not delivering/);
    assert.match(first.stderr(), /4 findings not delivered/);
    assert.ok(!first.stderr().includes("SECRETPATH"));

    // Restarted with the receiver still down: the rows are retried on a timer until it recovers.
    const before = receiver.received.length;
    const second = watch(args, receiver.url);
    try {
      await until(() => receiver.received.length >= before + 2, 60_000);
      down = false;
      await until(() => receiver.acknowledged().length >= 4, 60_000);
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.stderr());
    } finally {
      second.child.kill("SIGKILL");
    }
    t.diagnostic(
      `${receiver.received.length} requests in all; stderr: ${second.stderr().trim().split("\n").join(" | ")}`,
    );
    const acked = receiver.acknowledged();
    assert.deepEqual([...acked].sort(), [...found].sort());
    assert.equal(new Set(acked).size, acked.length, "none delivered twice");
    assert.equal(ids(second.stdout()).length, 0, "nothing was read again");
    // Whether the receiver recovered during the restarted process's first round (its retries) or
    // after it gave up for a while depends on timing; if it said the destination was down, it also
    // says when it came back.
    if (/not delivering/.test(second.stderr())) assert.match(second.stderr(), /delivering again/);
  });
});

function sampleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sampleFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((p) => p.endsWith(".json.gz"))
    .sort();
}

function watch(args: readonly string[], hook: string): CliProcess {
  return startCli(["watch", ...args], { env: { HOOK: hook } });
}

const until = waitFor;
