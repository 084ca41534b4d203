/**
 * The S3 source against a real S3 REST server (s3rver on 127.0.0.1) through the real SDK client.
 * Throttling and access denied come from a small proxy in front of s3rver (src/test-helpers/s3.ts):
 * s3rver has no access control and never throttles, so those answers cannot come from it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { runScan, type ScanOptions } from "../pipeline/scan.js";
import { runCliAsync } from "../test-helpers/cli.js";
import {
  ACCESS_DENIED,
  createBucket,
  localS3Client,
  putAll,
  S3FaultProxy,
  S3RVER_CREDENTIALS,
  SLOW_DOWN,
  startS3rver,
  uploadTree,
} from "../test-helpers/s3.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { parseS3Url, S3Source } from "./s3.js";

const scratchDir = scratchDirs("firstcall-s3-");
const SAMPLE = join(import.meta.dirname, "../../testdata/sample");
const BUCKET = "trail-bucket";
const BIG = "big-trail";
const ORG = "o-exampleorg12";
const ACCOUNT = "111122223333";

let server: { endpoint: string; close(): Promise<void> };
let proxy: S3FaultProxy;
let client: S3Client;
let sampleKeys: string[];

before(async () => {
  server = await startS3rver(scratchDir());
  proxy = await S3FaultProxy.start(server.endpoint);
  client = localS3Client(server.endpoint);
  // testdata/sample in the plain layout at the bucket's root, and in an organisation trail's layout
  // under a prefix (as a trail with a key prefix writes it).
  sampleKeys = await uploadTree(client, BUCKET, join(SAMPLE, "AWSLogs"), "AWSLogs/");
  await uploadTree(client, BUCKET, join(SAMPLE, "AWSLogs"), `org/AWSLogs/${ORG}/`);
  // A trail of two regions over 400 days (one small object a day each), and some digests: for pruning.
  const objects: { key: string; body: string }[] = [];
  for (let t = Date.parse("2025-10-01"); t <= Date.parse("2026-11-04"); t += 86_400_000) {
    const d = new Date(t).toISOString().slice(0, 10);
    const [y, m, day] = d.split("-");
    const stamp = `${y}${m}${day}T0005Z`;
    for (const region of ["us-east-1", "eu-west-1"]) {
      const base = `AWSLogs/${ORG}/${ACCOUNT}`;
      objects.push({
        key: `${base}/CloudTrail/${region}/${y}/${m}/${day}/${ACCOUNT}_CloudTrail_${region}_${stamp}_x.json.gz`,
        body: "{}",
      });
      // Digests for the month the tests list (enough to show their folders are not listed).
      if (d.startsWith("2026-10")) {
        objects.push({
          key: `${base}/CloudTrail-Digest/${region}/${y}/${m}/${day}/${ACCOUNT}_CloudTrail-Digest_${region}_t_${stamp}.json.gz`,
          body: "{}",
        });
      }
    }
  }
  await createBucket(client, BIG);
  await putAll(client, BIG, objects);
});

after(async () => {
  client?.destroy();
  await proxy?.close();
  await server?.close();
});

/** Options reaching S3 through the proxy with s3rver's credentials. */
function s3Options(concurrency = 8): NonNullable<ScanOptions["s3"]> {
  return {
    aws: { endpointUrl: proxy.endpoint, region: "us-east-1" },
    concurrency,
    clientConfig: { credentials: S3RVER_CREDENTIALS },
  };
}

function source(concurrency = 8): S3Source {
  return new S3Source(s3Options(concurrency));
}

/** Findings without anything that names where they were read from (there is nothing: checked whole). */
function same(a: unknown, b: unknown): void {
  assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}

describe("s3:// URLs", () => {
  test("bucket and prefix", () => {
    assert.deepEqual(parseS3Url("s3://org-trail/AWSLogs/o-abc/"), { bucket: "org-trail", prefix: "AWSLogs/o-abc/" });
    assert.deepEqual(parseS3Url("s3://org-trail"), { bucket: "org-trail", prefix: "" });
    assert.throws(() => parseS3Url("s3:///AWSLogs/"), /not an S3 bucket name/);
    assert.throws(() => parseS3Url("s3://Bad_Bucket/x"), /not an S3 bucket name/);
  });
});

describe("scan s3:// (s3rver)", () => {
  test("the plain layout gives exactly the findings of the local scan", async (t) => {
    t.diagnostic(`s3rver at ${server.endpoint}, through the counting proxy ${proxy.endpoint}`);
    const local = await runScan({ paths: [SAMPLE], jobs: 1 });
    const remote = await runScan({ paths: [`s3://${BUCKET}/AWSLogs/`], jobs: 1, s3: s3Options() });
    assert.ok(local.findings.length > 0);
    same(remote.findings, local.findings);
    assert.equal(remote.exitCode, local.exitCode);
    assert.equal(remote.summary.objects.read, local.summary.objects.read);
    assert.equal(remote.summary.records.total, local.summary.records.total);
    // The digest is listed and skipped by its name, as a local digest file is, without a GET.
    assert.equal(remote.summary.objects.skipped, 1);
    assert.match(remote.summary.skipped[0]?.object ?? "", /^s3:\/\/trail-bucket\/AWSLogs\/.*CloudTrail-Digest/);
    assert.equal(remote.summary.paths[0]?.path, `s3://${BUCKET}/AWSLogs/`);
  });

  test("the organisation layout under a prefix, with a window and reading on the main thread", async () => {
    const window = { since: new Date("2026-11-01T02:00:00Z"), until: new Date("2026-11-01T05:00:00Z") };
    const local = await runScan({ paths: [SAMPLE], jobs: 0, ...window });
    const remote = await runScan({ paths: [`s3://${BUCKET}/org/`], jobs: 0, ...window, s3: s3Options() });
    assert.ok(local.findings.length > 0);
    same(remote.findings, local.findings);
    assert.equal(remote.summary.records.relevant, local.summary.records.relevant);
  });

  test("a rescan skips objects by ETag and reads again only the one that changed", async () => {
    const state = join(scratchDir(), "state.sqlite");
    const url = `s3://${BUCKET}/AWSLogs/`;
    const first = await runScan({ paths: [url], statePath: state, jobs: 1, s3: s3Options() });
    assert.equal(first.summary.objects.read, sampleKeys.length - 1);
    const gets = proxy.of("GetObject").length;
    const second = await runScan({ paths: [url], statePath: state, jobs: 1, s3: s3Options() });
    assert.equal(second.summary.objects.read, 0);
    assert.equal(second.summary.objects.alreadyScanned, sampleKeys.length);
    assert.equal(proxy.of("GetObject").length, gets, "nothing fetched on a rescan");
    // Replace one object (same key, other content: another ETag).
    const changed = sampleKeys.find((k) => k.includes("/CloudTrail/")) as string;
    await putAll(client, BUCKET, [{ key: changed, body: JSON.stringify({ Records: [] }) }]);
    const third = await runScan({ paths: [url], statePath: state, jobs: 1, s3: s3Options() });
    assert.equal(third.summary.objects.read, 1);
    assert.equal(third.summary.objects.alreadyScanned, sampleKeys.length - 1);
    assert.equal(proxy.of("GetObject").length, gets + 1);
    assert.equal(proxy.of("GetObject").at(-1)?.key, changed);
    // Put the original back for the other tests.
    const { readFileSync } = await import("node:fs");
    await putAll(client, BUCKET, [{ key: changed, body: readFileSync(join(SAMPLE, changed)) }]);
  });

  test("throttling (503 SlowDown) and a transient 500 are retried with backoff", async (t) => {
    t.diagnostic("the 503/500 answers come from the proxy: s3rver never throttles");
    // Every GET is throttled once; five of them twice and then answered 500; the listing twice.
    const hard = new Set(sampleKeys.filter((k) => k.includes("/CloudTrail/")).slice(0, 5));
    const tries = new Map<string, number>();
    proxy.fault = (r) => {
      if (r.operation !== "GetObject" && r.operation !== "ListObjectsV2") return undefined;
      const n = (tries.get(r.key + r.prefix) ?? 0) + 1;
      tries.set(r.key + r.prefix, n);
      if (n === 1 || (n === 2 && (r.operation === "ListObjectsV2" || hard.has(r.key)))) return SLOW_DOWN;
      if (n === 3 && hard.has(r.key)) return { status: 500, code: "InternalError", message: "try again" };
      return undefined;
    };
    try {
      const local = await runScan({ paths: [SAMPLE], jobs: 1 });
      const before = proxy.requests.length;
      const remote = await runScan({ paths: [`s3://${BUCKET}/AWSLogs/`], jobs: 1, s3: s3Options() });
      same(remote.findings, local.findings);
      assert.equal(remote.summary.objects.failed, 0);
      assert.equal(remote.exitCode, local.exitCode);
      const seen = proxy.requests.slice(before);
      const objects = sampleKeys.length - 1; // the digest is not fetched
      assert.equal(seen.filter((r) => r.status === 503).length, objects + hard.size + 2);
      assert.equal(seen.filter((r) => r.status === 500).length, hard.size);
      assert.equal(seen.filter((r) => r.operation === "GetObject" && r.status === 200).length, objects);
    } finally {
      proxy.fault = () => undefined;
    }
  });

  test("access denied on one prefix and on one object: named, the rest goes on, exit code 3", async (t) => {
    t.diagnostic("the 403 answers come from the proxy: s3rver has no access control");
    const deniedObject = sampleKeys.find((k) => k.endsWith("T0035Z_sample0000000006.json.gz")) as string;
    proxy.fault = (r) =>
      (r.operation === "ListObjectsV2" && r.prefix.startsWith("org/AWSLogs/")) ||
      (r.operation === "GetObject" && r.key === deniedObject)
        ? ACCESS_DENIED
        : undefined;
    try {
      const window = { since: new Date("2026-11-01T00:00:00Z"), until: new Date("2026-11-02T00:00:00Z") };
      const r = await runScan({ paths: [`s3://${BUCKET}/`], jobs: 1, ...window, s3: s3Options() });
      const messages = r.summary.problems.map((p) => p.message);
      assert.ok(
        messages.some((m) => m.startsWith(`s3://${BUCKET}/org/AWSLogs/`) && m.includes("access denied")),
        messages.join("\n"),
      );
      assert.ok(
        messages.some((m) => m.startsWith(`s3://${BUCKET}/${deniedObject}: cannot read: access denied`)),
        messages.join("\n"),
      );
      assert.match(messages.join("\n"), /s3:GetObject/);
      // Everything else under AWSLogs/ was read.
      assert.equal(r.summary.objects.read, sampleKeys.length - 2);
      assert.equal(r.summary.objects.failed, 2);
      assert.ok(r.findings.length > 0);
      assert.equal(r.exitCode, 1, "a high finding sets 1 over the input problem's 3");
      const quiet = await runScan({
        paths: [`s3://${BUCKET}/`],
        jobs: 1,
        ...window,
        failOn: "none",
        s3: s3Options(),
      });
      assert.equal(quiet.exitCode, 3);
    } finally {
      proxy.fault = () => undefined;
    }
  });

  test("local paths and s3:// URLs in one scan", async () => {
    const local = await runScan({ paths: [SAMPLE], jobs: 1 });
    const mixed = await runScan({ paths: [SAMPLE, `s3://${BUCKET}/org/`], jobs: 1, s3: s3Options() });
    // The same records twice: every one is a duplicate of the other copy, so the findings are the same.
    same(mixed.findings, local.findings);
    assert.equal(mixed.summary.records.duplicates, local.summary.records.total);
    assert.deepEqual(
      mixed.summary.paths.map((p) => [p.path, p.cloudTrail]),
      [
        [SAMPLE, sampleKeys.length - 1],
        [`s3://${BUCKET}/org/`, sampleKeys.length - 1],
      ],
    );
  });
});

describe("listing pruned by --since/--until (s3rver)", () => {
  const root = `AWSLogs/${ORG}/${ACCOUNT}/CloudTrail`;

  test("a week of a 400-day trail lists only the week's days", async (t) => {
    const s3 = source();
    const before = proxy.requests.length;
    try {
      const { objects, problems } = await s3.list(`s3://${BIG}/`, {
        since: new Date("2026-10-01T00:00:00Z"),
        until: new Date("2026-10-08T00:00:00Z"),
      });
      assert.deepEqual(problems, []);
      const lists = proxy.requests.slice(before).filter((r) => r.operation === "ListObjectsV2");
      t.diagnostic(`${lists.length} ListObjectsV2 requests: ${lists.map((r) => r.prefix || "(root)").join(", ")}`);
      // Root, AWSLogs/, the organisation, the account, CloudTrail/ (5 delimited listings), then 8
      // days (the week and the day after) in each of the 2 regions.
      assert.equal(lists.length, 5 + 2 * 8);
      assert.ok(
        lists.every((r) => !/\/\d{4}\/$|\/\d{4}\/\d{2}\/$/.test(r.prefix)),
        "no year or month listed",
      );
      assert.ok(
        lists.every((r) => !r.prefix.includes("CloudTrail-Digest")),
        "digest folders are not listed",
      );
      const days = objects.map((o) => /\/(\d{4})\/(\d{2})\/(\d{2})\//.exec(o.id)?.slice(1).join("-"));
      assert.equal(objects.length, 16);
      assert.ok(days.every((d) => d !== undefined && d >= "2026-10-01" && d <= "2026-10-08"));
      // Identified by ETag (without quotes) and size.
      assert.match(objects[0]?.etag ?? "", /^[0-9a-f]{32}$/);
      assert.equal(objects[0]?.size, 2);
    } finally {
      s3.close();
    }
  });

  test("a prefix inside the tree, and a window open on one side", async () => {
    const s3 = source();
    try {
      let before = proxy.requests.length;
      const month = await s3.list(`s3://${BIG}/${root}/us-east-1/2026/10/`, {
        since: new Date("2026-10-30T00:00:00Z"),
        until: new Date("2026-11-03T00:00:00Z"),
      });
      // Only October's days of the window: the 30th and 31st.
      assert.deepEqual(
        month.objects.map((o) => o.id.split("/").slice(-4, -1).join("-")),
        ["2026-10-30", "2026-10-31"],
      );
      assert.equal(proxy.requests.slice(before).filter((r) => r.operation === "ListObjectsV2").length, 2);

      before = proxy.requests.length;
      const open = await s3.list(`s3://${BIG}/${root}/eu-west-1`, { since: new Date("2026-11-02T12:00:00Z") });
      assert.deepEqual(
        open.objects.map((o) => o.id.split("/").slice(-4, -1).join("-")),
        ["2026-11-02", "2026-11-03", "2026-11-04"],
      );
      // The region (found by a delimited listing of the name given), its years, 2026's months,
      // November's days, then 3 days: never a year's worth of days.
      const lists = proxy.requests.slice(before).filter((r) => r.operation === "ListObjectsV2");
      assert.equal(lists.length, 1 + 1 + 1 + 1 + 3, lists.map((r) => r.prefix).join(", "));

      // Without a window, one listing of the prefix (no delimiter).
      before = proxy.requests.length;
      const all = await s3.list(`s3://${BIG}/${root}/eu-west-1/2026/11/`);
      assert.equal(all.objects.length, 4);
      assert.equal(proxy.requests.slice(before).filter((r) => r.operation === "ListObjectsV2").length, 1);
    } finally {
      s3.close();
    }
  });

  test("a bucket that does not exist is one problem naming it", async () => {
    const s3 = source();
    try {
      const r = await s3.list("s3://no-such-bucket/AWSLogs/", { since: new Date("2026-11-01T00:00:00Z") });
      assert.equal(r.objects.length, 0);
      assert.equal(r.problems.length, 1);
      assert.match(r.problems[0]?.message ?? "", /no such bucket/);
      assert.equal(r.problems[0]?.object, "s3://no-such-bucket/AWSLogs/");
    } finally {
      s3.close();
    }
  });

  test("one object by bucket and key (HEAD for its ETag), then read", async () => {
    const s3 = source();
    try {
      const key = sampleKeys.find((k) => k.includes("/CloudTrail/")) as string;
      const ref = await s3.headObject(BUCKET, key);
      assert.equal(ref.id, `s3://${BUCKET}/${key}`);
      assert.match(ref.etag ?? "", /^[0-9a-f]{32}$/);
      const bytes = await ref.read();
      assert.equal(bytes.length, ref.size);
      // The GET names the version identified: S3 answers 412 when the object was replaced since.
      assert.equal(proxy.of("GetObject").at(-1)?.ifMatch, `"${ref.etag}"`);
      // s3rver ignores If-Match: the proxy answers the 412 S3 would give for a stale ETag.
      proxy.fault = (r) =>
        r.operation === "GetObject" && r.ifMatch === `"${"0".repeat(32)}"`
          ? {
              status: 412,
              code: "PreconditionFailed",
              message: "At least one of the pre-conditions you specified did not hold",
            }
          : undefined;
      const stale = s3.objectRef({ bucket: BUCKET, key, etag: "0".repeat(32), size: ref.size });
      await assert.rejects(stale.read(), /changed since it was listed/);
    } finally {
      proxy.fault = () => undefined;
      s3.close();
    }
  });
});

describe("firstcall scan s3:// (CLI, s3rver)", () => {
  test("--endpoint-url, credentials from the environment, jsonl like the local scan", async (t) => {
    t.diagnostic(`s3rver at ${server.endpoint}`);
    const env = {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_PROFILE: "",
      AWS_REGION: "",
      AWS_DEFAULT_REGION: "",
      AWS_ENDPOINT_URL: "",
      AWS_CONFIG_FILE: join(scratchDir(), "none"),
      AWS_SHARED_CREDENTIALS_FILE: join(scratchDir(), "none"),
      HTTPS_PROXY: "",
      HTTP_PROXY: "",
    };
    const common = ["--state", ":memory:", "--format", "jsonl", "-q"];
    const local = await runCliAsync(["scan", "testdata/sample", ...common], { env });
    const remote = await runCliAsync(
      ["scan", `s3://${BUCKET}/AWSLogs/`, "--endpoint-url", server.endpoint, "--s3-concurrency", "4", ...common],
      { env },
    );
    assert.equal(remote.stderr, local.stderr);
    assert.equal(remote.status, local.status);
    assert.equal(remote.stdout, local.stdout);
    assert.ok(remote.stdout.split("\n").filter(Boolean).length > 0);
    // AWS_ENDPOINT_URL does the same as the flag.
    const viaEnv = await runCliAsync(["scan", `s3://${BUCKET}/org/`, ...common], {
      env: { ...env, AWS_ENDPOINT_URL: server.endpoint },
    });
    assert.equal(viaEnv.stdout, local.stdout);
    // A malformed URL is a usage error.
    const bad = await runCliAsync(["scan", "s3://UPPER/x", ...common], { env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not an S3 bucket name/);
  });
});
