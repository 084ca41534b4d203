/**
 * The folder source in process, on real files: a file that grows (lines appended, as a log shipper
 * does) is read again from where it was counted, and a file still being written is waited for.
 */
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { type LiveHealth, runScan } from "../pipeline/scan.js";
import { REPO } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { DirectorySource } from "./watch-directory.js";

const scratchDir = scratchDirs();
const SAMPLE = join(REPO, "testdata/sample");

function sampleRecords(dir = SAMPLE): object[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? [join(dir, e.name)] : []))
    .flatMap((d) => sampleRecords(d))
    .concat(
      readdirSync(dir)
        .filter((n) => n.endsWith(".json.gz") && n.includes("_CloudTrail_"))
        .flatMap(
          (n) => (JSON.parse(gunzipSync(readFileSync(join(dir, n))).toString()) as { Records: object[] }).Records,
        ),
    );
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe("watching a folder", () => {
  it("reads a grown file again, counting only the appended records; waits for a file being written", async () => {
    const records = sampleRecords();
    const half = Math.floor(records.length / 2);
    const lines = records.map((r) => `${JSON.stringify(r)}\n`);
    const dir = scratchDir();
    const file = join(dir, "shipper.jsonl");
    writeFileSync(file, lines.slice(0, half).join(""));
    let health: LiveHealth | undefined;
    const stop = new AbortController();
    const watching = runScan({
      paths: [],
      live: new DirectorySource(dir, { settleMs: 300, pollMs: 200 }),
      statePath: join(scratchDir(), "state.sqlite"),
      jobs: 0,
      checkpointMs: 100,
      healthIntervalMs: 100,
      onHealth: (h) => {
        health = h;
      },
      signal: stop.signal,
    });
    await until(() => (health?.objectsTotal ?? 0) >= 1, 30_000);
    assert.equal(health?.objectsTotal, 1);
    // Appended in pieces, each within the settle time: read once, when complete.
    for (const [i, line] of lines.slice(half).entries()) {
      appendFileSync(file, line);
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => (health?.objectsTotal ?? 0) >= 2, 30_000);
    await new Promise((r) => setTimeout(r, 800)); // a third read would show here
    stop.abort();
    const live = await watching;
    assert.equal(live.summary.records.total, records.length, JSON.stringify(live.summary.records));
    assert.equal(live.summary.records.alreadyCounted, half);
    assert.equal(live.summary.records.duplicates, 0);
    assert.equal(live.summary.objects.read, 2, "the first half, then the grown file once");
    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    assert.deepEqual(live.findings.map((f) => f.id).sort(), once.findings.map((f) => f.id).sort());
  });
});

describe("when a folder's file is complete", () => {
  const GZ = join(
    SAMPLE,
    "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/111122223333_CloudTrail_us-east-1_20261101T0040Z_sample0000000007.json.gz",
  );

  async function watchFor(dir: string, ms: number, act: () => Promise<void>) {
    let health: LiveHealth | undefined;
    const stop = new AbortController();
    const watching = runScan({
      paths: [],
      // A settle time no test waits for: a file read within the test was read because it proved complete.
      live: new DirectorySource(dir, { settleMs: 120_000, pollMs: 100 }),
      statePath: ":memory:",
      jobs: 0,
      checkpointMs: 100,
      healthIntervalMs: 50,
      onHealth: (h) => {
        health = h;
      },
      signal: stop.signal,
    });
    // The files of the test are new: written once the watch has listed the (empty) folder.
    await until(() => health !== undefined, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    await act();
    await until(() => (health?.objectsTotal ?? 0) >= 1, ms);
    stop.abort();
    return (await watching).summary;
  }

  it("reads a gzip file at once when it decompresses whole, and not while it is cut short", async () => {
    const bytes = readFileSync(GZ);
    const dir = scratchDir();
    const file = join(dir, basename(GZ));
    const started = Date.now();
    const summary = await watchFor(dir, 15_000, async () => {
      writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await new Promise((r) => setTimeout(r, 1000)); // several listings see the half file
      writeFileSync(file, bytes);
    });
    assert.ok(Date.now() - started < 15_000);
    assert.equal(summary.objects.read, 1, "read once, complete");
    assert.equal(summary.objects.failed, 0, "the half-written file was never read (it would fail to decompress)");
    const records = (JSON.parse(gunzipSync(bytes).toString()) as { Records: object[] }).Records.length;
    assert.equal(summary.records.total, records);
  });

  it("waits for the settle time for a file that cannot prove it is complete (plain JSON)", async () => {
    const dir = scratchDir();
    const summary = await watchFor(dir, 1500, async () => {
      writeFileSync(join(dir, basename(GZ).replace(/\.gz$/, "")), gunzipSync(readFileSync(GZ)));
    });
    assert.equal(summary.objects.read, 0, "not read before its size stayed the same for the settle time");
  });
});
