/**
 * The folder source in process, on real files: a file that grows (lines appended, as a log shipper
 * does) is read again from where it was counted, and a file still being written is waited for.
 */
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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
