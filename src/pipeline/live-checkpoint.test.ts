/**
 * When a live run commits: an object that arrives while the source is otherwise idle is committed
 * (and its findings written) at once, not `checkpointMs` later; objects arriving back to back share
 * checkpoints. Real SQLite state, real files, an in-test live source.
 */
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type LiveObject, type LiveOutcome, LiveQueue, type LiveSource } from "../sources/live.js";
import { REPO } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { runScan } from "./scan.js";

const scratchDir = scratchDirs();
const SAMPLE_DAY = join(REPO, "testdata/sample/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01");

class TestSource implements LiveSource {
  readonly name = "test";
  readonly queue = new LiveQueue<LiveObject>();
  readonly settled: { id: string; at: number; outcome: LiveOutcome }[] = [];

  objects(signal: AbortSignal): AsyncIterable<LiveObject> {
    return this.queue.iterate(signal);
  }

  offer(path: string): void {
    const st = statSync(path);
    this.queue.push({
      id: path,
      availableAt: Date.now(),
      remember: true,
      open: async () => ({ size: st.size, mtimeMs: st.mtimeMs, source: { id: path, path, size: st.size } }),
      settle: (outcome) => {
        this.settled.push({ id: path, at: Date.now(), outcome });
      },
    });
  }

  async close(): Promise<void> {
    this.queue.end();
  }
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe("live checkpoints", () => {
  const files = readdirSync(SAMPLE_DAY)
    .filter((n) => n.endsWith(".json.gz"))
    .sort()
    .map((n) => join(SAMPLE_DAY, n));

  it("commits an object at once when nothing else comes, long before the checkpoint interval", async () => {
    const source = new TestSource();
    const stop = new AbortController();
    const run = runScan({
      paths: [],
      live: source,
      statePath: join(scratchDir(), "state.sqlite"),
      jobs: 0,
      checkpointMs: 10 * 60_000, // never reached by this test
      signal: stop.signal,
    });
    try {
      for (const [i, path] of files.slice(0, 3).entries()) {
        source.offer(path);
        await until(() => source.settled.length > i, 20_000);
        assert.equal(source.settled.length, i + 1, `object ${i} committed while the source was idle`);
        assert.deepEqual(source.settled[i]?.outcome, { committed: true });
      }
    } finally {
      stop.abort();
    }
    const result = await run;
    assert.ok((result.summary.stream?.checkpoints ?? 0) >= 3, "one checkpoint per idle period at least");
  });

  it("shares a checkpoint among objects offered back to back", async () => {
    const source = new TestSource();
    const stop = new AbortController();
    // All offered before the run starts taking them: the source is never idle between them.
    for (const path of files) source.offer(path);
    const run = runScan({
      paths: [],
      live: source,
      statePath: join(scratchDir(), "state.sqlite"),
      jobs: 0,
      checkpointMs: 10 * 60_000,
      signal: stop.signal,
    });
    await until(() => source.settled.length === files.length, 30_000).finally(() => stop.abort());
    const result = await run;
    assert.equal(source.settled.length, files.length);
    assert.ok(
      (result.summary.stream?.checkpoints ?? 0) < files.length,
      `${result.summary.stream?.checkpoints} checkpoints for ${files.length} objects`,
    );
  });
});
