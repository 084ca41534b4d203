/**
 * AWS's ranges end to end: `ip-ranges update` against a real HTTP server on 127.0.0.1 (conditional
 * requests, 304, bad bodies, errors), the compact snapshot, and which copy a scan uses (explicit
 * file, cached copy, shipped snapshot, none) as its summary reports it. Also the CLI command, as a
 * process.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { InputError } from "../errors.js";
import { EXIT } from "../exit-codes.js";
import { renderSummaryText } from "../pipeline/summary-text.js";
import { at, call, ec2Issuance } from "../test-helpers/records.js";
import { scanRecords } from "../test-helpers/scan.js";
import { PrefixSetBuilder, parseIpRanges, SNAPSHOT_SCHEMA, snapshotOf } from "./aws-ranges.js";
import { CidrSet } from "./ip.js";
import { CACHED_RANGES_FILE, CACHED_RANGES_META, loadAwsRanges } from "./ip-ranges-source.js";
import { updateIpRanges } from "./ip-ranges-update.js";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "firstcall-ip-ranges-"));

/** A small ip-ranges.json in AWS's format: nested and adjacent prefixes, both families, other services. */
function rangesFile(syncToken: string, createDate: string, extraEc2 = "3.5.0.0/24") {
  return JSON.stringify({
    syncToken,
    createDate,
    prefixes: [
      { ip_prefix: "3.0.0.0/15", region: "us-east-1", service: "AMAZON", network_border_group: "us-east-1" },
      { ip_prefix: "3.0.0.0/16", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
      { ip_prefix: "3.0.4.0/24", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
      { ip_prefix: "3.1.0.0/16", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
      { ip_prefix: extraEc2, region: "eu-west-1", service: "EC2", network_border_group: "eu-west-1" },
      { ip_prefix: "52.95.0.0/16", region: "us-east-1", service: "AMAZON", network_border_group: "us-east-1" },
      { ip_prefix: "52.95.0.0/16", region: "us-east-1", service: "S3", network_border_group: "us-east-1" },
      { ip_prefix: "13.32.0.0/15", region: "GLOBAL", service: "CLOUDFRONT", network_border_group: "GLOBAL" },
    ],
    ipv6_prefixes: [
      { ipv6_prefix: "2600:1f18::/33", region: "us-east-1", service: "EC2", network_border_group: "us-east-1" },
      { ipv6_prefix: "2600:1f18::/32", region: "us-east-1", service: "AMAZON", network_border_group: "us-east-1" },
    ],
  });
}

const V1 = rangesFile("1764633600", "2025-12-02-00-00-00");
const V2 = rangesFile("1764720000", "2025-12-03-00-00-00", "3.6.0.0/24");

/** What the test server answers, and what it was asked. */
const served: { body: string; etag: string; status: number; lastModified: string } = {
  body: V1,
  etag: '"v1"',
  status: 200,
  lastModified: "Tue, 02 Dec 2025 00:00:00 GMT",
};
const requests: IncomingHttpHeaders[] = [];
let server: Server;
let url = "";

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.headers);
    if (served.status !== 200) {
      res.writeHead(served.status).end("oops");
      return;
    }
    if (req.headers["if-none-match"] === served.etag) {
      res.writeHead(304, { etag: served.etag }).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json", etag: served.etag, "last-modified": served.lastModified });
    res.end(served.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ip-ranges.json`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(root, { recursive: true, force: true });
});

function serve(body: string, etag: string, status = 200): void {
  Object.assign(served, { body, etag, status });
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InputError && e.code === "E_DOWNLOAD", String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

describe("ip-ranges update", () => {
  const cache = join(root, "cache-update");
  const now = new Date("2025-12-12T00:00:00Z");

  test("downloads into the cache, then asks conditionally and gets 304", async () => {
    serve(V1, '"v1"');
    const first = await updateIpRanges({ url, cacheDir: cache, now });
    assert.equal(first.status, "updated");
    assert.equal(first.syncToken, "1764633600");
    assert.equal(first.createDate, "2025-12-02-00-00-00");
    assert.equal(first.ageDays, 10);
    assert.equal(readFileSync(join(cache, CACHED_RANGES_FILE), "utf8"), V1);
    const meta = JSON.parse(readFileSync(join(cache, CACHED_RANGES_META), "utf8"));
    assert.equal(meta.etag, '"v1"');
    assert.equal(meta.syncToken, "1764633600");
    assert.equal(requests.at(-1)?.["if-none-match"], undefined, "nothing cached: an unconditional request");

    const second = await updateIpRanges({ url, cacheDir: cache, now });
    assert.equal(second.status, "unchanged");
    assert.equal(second.syncToken, "1764633600");
    assert.equal(requests.at(-1)?.["if-none-match"], '"v1"');
    assert.equal(requests.at(-1)?.["if-modified-since"], "Tue, 02 Dec 2025 00:00:00 GMT");
  });

  test("a new list replaces the cached copy and says what it replaced", async () => {
    serve(V2, '"v2"');
    const r = await updateIpRanges({ url, cacheDir: cache, now });
    assert.equal(r.status, "updated");
    assert.equal(r.previousSyncToken, "1764633600");
    assert.equal(readFileSync(join(cache, CACHED_RANGES_FILE), "utf8"), V2);
  });

  test("a bad body, an error status or no server leave the cached copy untouched, with a clear error", async () => {
    const before = readFileSync(join(cache, CACHED_RANGES_FILE), "utf8");
    const metaBefore = readFileSync(join(cache, CACHED_RANGES_META), "utf8");
    serve("<html>captive portal</html>", '"portal"');
    await rejects(updateIpRanges({ url, cacheDir: cache, now }), /not a usable ip-ranges\.json.*not JSON/);
    serve(rangesFile("1764806400", "2025-12-04-00-00-00", "3.7.0.0/99"), '"bad-cidr"');
    await rejects(updateIpRanges({ url, cacheDir: cache, now }), /not a usable ip-ranges\.json.*3\.7\.0\.0\/99/);
    serve(JSON.stringify({ syncToken: "1" }), '"no-prefixes"');
    await rejects(updateIpRanges({ url, cacheDir: cache, now }), /not an AWS ip-ranges\.json file/);
    serve("", "", 503);
    await rejects(updateIpRanges({ url, cacheDir: cache, now }), /answered 503/);
    await rejects(
      updateIpRanges({ url: "http://127.0.0.1:9/ip-ranges.json", cacheDir: cache, now }),
      /cannot download/,
    );
    assert.equal(readFileSync(join(cache, CACHED_RANGES_FILE), "utf8"), before);
    assert.equal(readFileSync(join(cache, CACHED_RANGES_META), "utf8"), metaBefore);
  });

  test("an older list (a stale cache on the way) is not installed", async () => {
    serve(V1, '"v1-again"');
    const r = await updateIpRanges({ url, cacheDir: cache, now });
    assert.equal(r.status, "kept");
    assert.equal(r.syncToken, "1764720000", "the cached copy's");
    assert.equal(readFileSync(join(cache, CACHED_RANGES_FILE), "utf8"), V2);
  });

  test("--from installs a local file, checked the same way", async () => {
    const dir = join(root, "cache-from");
    const file = join(root, "downloaded.json");
    writeFileSync(file, V1);
    const r = await updateIpRanges({ fromFile: file, cacheDir: dir, now });
    assert.equal(r.status, "updated");
    assert.equal(readFileSync(join(dir, CACHED_RANGES_FILE), "utf8"), V1);
    writeFileSync(file, "{}");
    await rejects(updateIpRanges({ fromFile: file, cacheDir: join(root, "cache-from-bad"), now }), /not an AWS/);
    assert.equal(existsSync(join(root, "cache-from-bad")), false, "nothing written for a bad file");
  });

  test("the CLI command prints what it did; a bad body exits 3 and names the URL", async () => {
    const dir = join(root, "cache-cli");
    serve(V2, '"v2"');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ["--import", "tsx", MAIN, "ip-ranges", "update", ...args], (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
        );
      });
    const first = await run(["--url", url, "--cache-dir", dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /^updated: .*ip-ranges\.json from http:\/\/127\.0\.0\.1:\d+\/ip-ranges\.json \(syncToken 1764720000, created 2025-12-03-00-00-00, \d+ days old\)\n$/,
    );
    const again = await run(["--url", url, "--cache-dir", dir, "--format", "json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).status, "unchanged");
    serve("not json", '"x"');
    const bad = await run(["--url", url, "--cache-dir", dir]);
    assert.equal(bad.code, EXIT.input);
    assert.match(bad.stderr, /127\.0\.0\.1.*not a usable ip-ranges\.json/);
    assert.equal(readFileSync(join(dir, CACHED_RANGES_FILE), "utf8"), V2);
  });
});

describe("the compact snapshot", () => {
  test("keeps AMAZON and EC2 per region, drops contained prefixes, and answers like the full file", () => {
    const snap = snapshotOf(V1, "ip-ranges.json");
    assert.equal(snap.schema, SNAPSHOT_SCHEMA);
    assert.equal(snap.syncToken, "1764633600");
    assert.deepEqual(snap.ec2["us-east-1"], ["3.0.0.0/16", "3.1.0.0/16", "2600:1f18::/33"]);
    assert.deepEqual(snap.ec2["eu-west-1"], ["3.5.0.0/24"]);
    assert.deepEqual(snap.amazon, ["3.0.0.0/15", "52.95.0.0/16", "2600:1f18::/32"]);
    assert.equal(JSON.stringify(snapshotOf(V1, "again")), JSON.stringify(snap), "deterministic");
    const full = parseIpRanges(V1, "full");
    const compact = parseIpRanges(JSON.stringify(snap), "snapshot");
    const probes = [
      "3.0.4.9",
      "3.1.255.255",
      "3.2.0.0",
      "3.5.0.7",
      "52.95.1.1",
      "13.32.0.1",
      "8.8.8.8",
      "2600:1f18::1",
      "2600:1f18:8000::1",
      "2600:1f19::1",
      "::ffff:3.0.0.1",
      "not-an-ip",
    ];
    for (const ip of probes) {
      assert.equal(compact.all.has(ip), full.all.has(ip), `all ${ip}`);
      for (const region of ["us-east-1", "eu-west-1"])
        assert.equal(
          compact.ec2ByRegion.get(region)?.has(ip),
          full.ec2ByRegion.get(region)?.has(ip),
          `${region} ${ip}`,
        );
    }
    assert.equal(full.all.has("3.1.0.0"), true);
    assert.equal(full.all.has("13.32.0.1"), false, "CloudFront-only ranges are not used");
    assert.equal(full.ec2ByRegion.get("us-east-1")?.has("2600:1f18:8000::1"), false);
    // 3.0.0.0/15 with the EC2 /16s and /24 inside it, 3.5.0.0/24, 52.95.0.0/16, and the IPv6 /32 with its /33.
    assert.equal(full.all.intervals, 4, "contained prefixes merge into one interval");
  });
});

describe("merged prefix sets", () => {
  test("answer like the reference CIDR list for any prefixes and addresses of both families", () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, b]) => `${a}/${b}`);
    // Compressed and full forms; ipV6() also yields embedded-IPv4 forms, which take the careful path.
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, b]) => `${a}/${b}`);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(v4, v6), { maxLength: 12 }),
        fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 12 }),
        (prefixes, probes) => {
          const builder = new PrefixSetBuilder();
          for (const p of prefixes) builder.add(p);
          const merged = builder.build();
          const reference = new CidrSet(prefixes);
          for (const ip of [...probes, ...prefixes.map((p) => p.slice(0, p.indexOf("/")))])
            assert.equal(merged.has(ip), reference.has(ip), `${ip} in ${prefixes.join(" ")}`);
        },
      ),
      { numRuns: 300, seed: 10 },
    );
  });

  test("refuse what is not a prefix, with the reason", () => {
    for (const bad of ["010.0.0.0/8", "3.0.0.0/33", "3.0.0.0", "2600::/129", "2600:::1/64", "cloudfront"])
      assert.throws(() => new PrefixSetBuilder().add(bad), /not an IP address or CIDR/, bad);
  });
});

describe("which copy a scan uses", () => {
  const HOME = "3.0.4.10";
  const records = () => [
    ec2Issuance("i-0aaaabbbbccccdddd", "ASIARANGESAAAAAAAAA1", at(0)),
    call("i-0aaaabbbbccccdddd", "ASIARANGESAAAAAAAAA1", HOME, at(1)),
    call("i-0aaaabbbbccccdddd", "ASIARANGESAAAAAAAAA1", "198.51.100.9", at(2)),
  ];
  const dir = join(root, "lookup");
  const cache = join(dir, "cache");
  const emptyCache = join(dir, "empty-cache");
  const snapshot = join(dir, "snapshot.json");
  const explicit = join(dir, "explicit.json");
  before(() => {
    mkdirSync(cache, { recursive: true });
    mkdirSync(emptyCache, { recursive: true });
    writeFileSync(join(cache, CACHED_RANGES_FILE), V2);
    writeFileSync(snapshot, JSON.stringify(snapshotOf(V1, "v1")));
    writeFileSync(explicit, V1);
  });

  test("--ip-ranges wins, then the cached copy, then the snapshot, then none; the summary says which and how old", async () => {
    const scan = (o: object) => scanRecords(records(), { jobs: 0, ...o });
    const file = await scan({ ipRangesPath: explicit, ipRanges: { cacheDir: cache, snapshotPath: snapshot } });
    assert.equal(file.summary.ipRanges.source, "file");
    assert.equal(file.summary.ipRanges.createDate, "2025-12-02-00-00-00");
    assert.equal(typeof file.summary.ipRanges.ageDays, "number");
    const cached = await scan({ ipRanges: { cacheDir: cache, snapshotPath: snapshot } });
    assert.deepEqual([cached.summary.ipRanges.source, cached.summary.ipRanges.syncToken], ["cache", "1764720000"]);
    const shipped = await scan({ ipRanges: { cacheDir: emptyCache, snapshotPath: snapshot } });
    assert.deepEqual([shipped.summary.ipRanges.source, shipped.summary.ipRanges.syncToken], ["snapshot", "1764633600"]);
    assert.match(
      renderSummaryText(file.summary),
      /^AWS ranges: --ip-ranges .*explicit\.json of 2025-12-02-00-00-00 \(\d+ days old\); old: run `firstcall ip-ranges update`$/m,
    );
    assert.match(
      renderSummaryText(cached.summary),
      /^AWS ranges: cached copy .*ip-ranges\.json of 2025-12-03-00-00-00/m,
    );
    assert.match(
      renderSummaryText(shipped.summary),
      /^AWS ranges: snapshot shipped with firstcall of 2025-12-02-00-00-00/m,
    );
    const none = await scan({ ipRanges: { cacheDir: emptyCache, snapshotPath: join(dir, "absent.json") } });
    assert.equal(none.summary.ipRanges.source, "none");
    assert.match(renderSummaryText(none.summary), /^AWS ranges: none \(addresses are not classified/m);
    const api = await scan({});
    assert.equal(api.summary.ipRanges.source, "none", "the library looks nowhere unless asked");
    // The ranges classify the thief's address: outside AWS with ranges, unknown without.
    const network = (r: typeof file) => r.findings.find((f) => f.rule === "credential-ip-mismatch")?.network;
    assert.equal(network(shipped), "outside-aws");
    assert.equal(network(none), "unknown");
  });

  test("a damaged cached copy is skipped for the snapshot, and the summary says why", () => {
    const damaged = join(dir, "damaged");
    mkdirSync(damaged);
    writeFileSync(join(damaged, CACHED_RANGES_FILE), "{");
    const { info } = loadAwsRanges(undefined, { cacheDir: damaged, snapshotPath: snapshot });
    assert.equal(info.source, "snapshot");
    assert.match(info.problem ?? "", /not JSON.*ip-ranges update/);
    assert.throws(() => loadAwsRanges(join(damaged, CACHED_RANGES_FILE), undefined), /not JSON/);
  });
});
