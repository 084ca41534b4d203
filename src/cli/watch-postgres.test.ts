/**
 * `firstcall watch` on a shared PostgreSQL state, as a user runs it (real processes), against a real
 * server (FIRSTCALL_TEST_PG, else 127.0.0.1:5432; a new database, dropped after): killed with -9 and
 * restarted under its worker name, it loses and duplicates nothing, and each checkpoint processes all
 * that was read (nothing waits a lateness window, as a single live process).
 */
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import pg from "pg";
import type { Finding } from "../findings/finding.js";
import { runScan } from "../pipeline/scan.js";
import { inspectPostgres, migratePostgres, PostgresStore } from "../state/postgres.js";
import { type CliProcess, REPO, startCli, waitFor } from "../test-helpers/cli.js";
import { testDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";

const scratchDir = scratchDirs();
const SAMPLE = join(REPO, "testdata/sample");
const db = await testDatabase();

function sampleFiles(dir = SAMPLE): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sampleFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((p) => p.endsWith(".json.gz"))
    .sort();
}

function watch(args: readonly string[]): CliProcess {
  return startCli(["watch", ...args]);
}

const until = (condition: () => boolean | Promise<boolean>, ms: number) => waitFor(condition, ms, 200);

const ids = (jsonl: string) =>
  jsonl
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);

const comparable = (f: Finding) => ({ ...f, evidence: { ...f.evidence, eventIds: f.evidence.eventIds.length } });
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

describe("firstcall watch on a PostgreSQL state", () => {
  it("killed (-9) and restarted under its name: every finding once, none lost, nothing left waiting", async (t) => {
    t.diagnostic(`PostgreSQL server: ${db.server}`);
    await migratePostgres(db.url);
    const once = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const dir = join(scratchDir(), "AWSLogs");
    mkdirSync(dir);
    const out = join(scratchDir(), "findings.jsonl");
    const args = [dir, "--state", db.url, "--worker", "watcher-1", "--output", out, "--format", "jsonl", "--jobs", "0"];
    const fast = ["--checkpoint-seconds", "0.2", "--settle-seconds", "0.2", "--poll-seconds", "1", "-q"];
    const files = sampleFiles();
    const half = Math.floor(files.length / 2);
    // The digest file is skipped by its name, never listed as a log object.
    const logFiles = files.filter((f) => !basename(f).includes("CloudTrail-Digest")).length;
    const first = watch([...args, ...fast]);
    let firstCode: number | null;
    try {
      // Files arrive one by one while the watcher reads; killed once it has committed some, whatever
      // it is doing then (the rest of the first half keeps arriving while it is down).
      await until(async () => ((await inspectPostgres(db.url)).workers ?? []).length > 0, 60_000); // it has started
      const arriving = (async () => {
        for (const f of files.slice(0, half)) {
          copyFileSync(f, join(dir, basename(f)));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await until(async () => ((await inspectPostgres(db.url)).objects ?? 0) >= 10, 120_000);
      const committed = (await inspectPostgres(db.url)).objects ?? 0;
      assert.ok(committed >= 10 && committed < half, `killed midway (${committed} objects committed)`);
      t.diagnostic(
        `first watcher killed after ${committed} objects, ${existsSync(out) ? statSync(out).size : 0} bytes`,
      );
      first.child.kill("SIGKILL");
      firstCode = await first.exited;
      await arriving;
    } finally {
      first.child.kill("SIGKILL");
    }
    assert.equal(firstCode, null, "killed");
    for (const f of files.slice(half)) copyFileSync(f, join(dir, basename(f)));
    const second = watch([...args, ...fast]);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const expected = once.findings.map((f) => f.id).sort();
      await until(async () => {
        if (!existsSync(out) || ids(readFileSync(out, "utf8")).length < expected.length) return false;
        return (await inspectPostgres(db.url)).objects === logFiles;
      }, 120_000);
      assert.equal((await inspectPostgres(db.url)).objects, logFiles, "every object committed");
      // Every event read is processed while the watcher runs: none waits for a lateness window.
      const waiting = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM firstcall_events WHERE NOT processed",
      );
      assert.equal(Number(waiting.rows[0]?.n), 0, "no event left unprocessed");
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0, second.stderr());
      const written = ids(readFileSync(out, "utf8"));
      assert.equal(new Set(written).size, written.length, "no finding written twice");
      assert.deepEqual([...written].sort(), expected);
      const store = await PostgresStore.open(db.url, { readOnly: true });
      try {
        const stored = (await store.allFindings()).map((s) => comparable(s.finding)).sort(byId);
        assert.deepEqual(stored, once.findings.map(comparable).sort(byId), "evidence counted once");
      } finally {
        await store.close();
      }
    } finally {
      second.child.kill("SIGKILL");
      await client.end();
    }
  });
});
