/**
 * `firstcall watch` as a user runs it: a real process (node + tsx, as `runCli`), stopped with SIGTERM.
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { runScan } from "../pipeline/scan.js";
import { type CliProcess, REPO, startCli, waitFor } from "../test-helpers/cli.js";
import { committedObjects, scratchDirs } from "../test-helpers/scan.js";

const scratchDir = scratchDirs();
const SAMPLE = join(REPO, "testdata/sample");

function sampleFiles(dir = SAMPLE): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sampleFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((p) => p.endsWith(".json.gz"))
    .sort();
}

type Watcher = CliProcess;

function watch(args: readonly string[]): Watcher {
  return startCli(["watch", ...args]);
}

const until = waitFor;

const ids = (jsonl: string) =>
  jsonl
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);

describe("firstcall watch", () => {
  it("watches a folder: files dropped one by one give the findings of a one-shot scan, SIGTERM exits 0", async (t) => {
    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const expected = once.findings.map((f) => f.id).sort();
    const dir = join(scratchDir(), "AWSLogs");
    mkdirSync(dir);
    const state = join(scratchDir(), "state.sqlite");
    const w = watch([
      dir,
      "--state",
      state,
      "--format",
      "jsonl",
      "--jobs",
      "0",
      "--checkpoint-seconds",
      "0.2",
      "--settle-seconds",
      "0.2",
      "--poll-seconds",
      "1",
      "--health-seconds",
      "1",
    ]);
    try {
      const files = sampleFiles();
      for (const f of files) {
        copyFileSync(f, join(dir, basename(f)));
        await new Promise((r) => setTimeout(r, 20));
      }
      await until(() => ids(w.stdout()).length >= expected.length && /health: \d+ objects/.test(w.stderr()), 120_000);
      // One more settle and checkpoint for anything still on its way, then stop.
      await new Promise((r) => setTimeout(r, 1000));
      w.child.kill("SIGTERM");
      const code = await w.exited;
      t.diagnostic(`${files.length} files; stderr: ${w.stderr().split("\n").slice(-12).join(" | ")}`);
      assert.equal(code, 0, w.stderr());
      const printed = ids(w.stdout());
      assert.equal(new Set(printed).size, printed.length, "no finding printed twice");
      assert.deepEqual([...printed].sort(), expected);
      assert.match(w.stderr(), /health: \d+ objects \(\+\d+\), \d+ events\/s/);
      assert.match(w.stderr(), /SIGTERM: stopping/);
      // Everything was committed: a scan of the folder on the same state reads nothing again.
      const after = await runScan({ paths: [dir], statePath: state, jobs: 0 });
      // (Digest files are skipped by name, never remembered: scan skips them again by name.)
      const digests = files.filter((f) => f.includes("CloudTrail-Digest")).length;
      assert.equal(after.summary.objects.alreadyScanned, files.length - digests);
      assert.equal(after.summary.objects.read, 0);
      assert.equal(after.findings.length, 0);
    } finally {
      w.child.kill("SIGKILL");
    }
  });

  it("killed (-9) and restarted: with --output, every finding exactly once, none lost", async () => {
    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const dir = join(scratchDir(), "AWSLogs");
    mkdirSync(dir);
    const state = join(scratchDir(), "state.sqlite");
    const out = join(scratchDir(), "findings.jsonl");
    const args = [dir, "--state", state, "--output", out, "--format", "jsonl", "--jobs", "0"];
    const fast = ["--checkpoint-seconds", "0.2", "--settle-seconds", "0.2", "--poll-seconds", "1", "-q"];
    const files = sampleFiles();
    const half = Math.floor(files.length / 2);
    const first = watch([...args, ...fast]);
    let firstCode: number | null;
    try {
      for (const f of files.slice(0, half)) copyFileSync(f, join(dir, basename(f)));
      // Killed once a checkpoint has committed some of the objects, whatever it is doing then (this
      // half of the sample holds no finding, so the output file cannot tell).
      await until(() => committedObjects(state) > 0, 120_000);
      assert.ok(committedObjects(state) > 0, `a checkpoint was committed before the kill: ${first.stderr()}`);
      first.child.kill("SIGKILL");
      firstCode = await first.exited;
    } finally {
      first.child.kill("SIGKILL");
    }
    assert.equal(firstCode, null, "killed");
    for (const f of files.slice(half)) copyFileSync(f, join(dir, basename(f)));
    const second = watch([...args, ...fast]);
    try {
      const expected = once.findings.map((f) => f.id).sort();
      await until(() => existsSync(out) && ids(readFileSync(out, "utf8")).length >= expected.length, 120_000);
      await new Promise((r) => setTimeout(r, 1000));
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.stderr());
      const written = ids(readFileSync(out, "utf8"));
      assert.equal(new Set(written).size, written.length, "no finding written twice");
      assert.deepEqual([...written].sort(), expected);
    } finally {
      second.child.kill("SIGKILL");
    }
  });

  it("reads JSON lines on standard input (records and envelopes) and exits 0 at their end", async () => {
    const records = sampleFiles().flatMap(
      (f) => (JSON.parse(gunzipSync(readFileSync(f)).toString("utf8")) as { Records: object[] }).Records,
    );
    // Every third record in an EventBridge envelope, every fifth in a CloudWatch Logs subscription message.
    const lines = records.map((r, i) =>
      JSON.stringify(
        i % 3 === 0
          ? { version: "0", "detail-type": "AWS API Call via CloudTrail", source: "aws.sts", detail: r }
          : i % 5 === 0
            ? {
                messageType: "DATA_MESSAGE",
                logGroup: "trail",
                logEvents: [{ id: String(i), message: JSON.stringify(r) }],
              }
            : r,
      ),
    );
    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const w = watch(["-", "--state", ":memory:", "--format", "jsonl", "--jobs", "0", "--batch-lines", "200", "-q"]);
    w.child.stdin?.end(`${lines.join("\n")}\n`);
    const code = await w.exited;
    assert.equal(code, 0, w.stderr());
    const printed = ids(w.stdout());
    assert.equal(new Set(printed).size, printed.length);
    assert.deepEqual([...printed].sort(), once.findings.map((f) => f.id).sort());
  });

  it("refuses a source that is neither a folder, - nor a queue URL", async () => {
    const w = watch(["no-such-folder", "--state", ":memory:"]);
    assert.equal(await w.exited, 2);
    assert.match(w.stderr(), /no-such-folder: no such folder/);
    const q = watch(["sqs://nothing", "--state", ":memory:"]);
    assert.equal(await q.exited, 2);
    assert.match(q.stderr(), /not a queue URL/);
  });
});
