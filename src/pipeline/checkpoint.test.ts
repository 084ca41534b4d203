/**
 * Checkpoints and the state file, tested with real processes: a scan killed (SIGKILL) at random
 * moments and run again prints every finding of an uninterrupted run exactly once; two scans on one
 * state file wait for or refuse each other; the state file is private and marked as firstcall's.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { loadConfig } from "../config/config.js";
import { simulate } from "../simulate/simulate.js";
import { openStore } from "../state/open.js";
import { committedObjects, tempDir } from "../test-helpers/scan.js";
import { runScan } from "./scan.js";

const MAIN = join(import.meta.dirname, "..", "cli", "main.ts");

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

function finish(child: ChildProcess): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  child.stdout?.resume();
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })));
}

function ids(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

async function storedFindings(state: string): Promise<string> {
  const store = openStore(state);
  try {
    const all = (await store.allFindings()).map((f) => f.finding);
    return JSON.stringify(all.sort((a, b) => (a.id < b.id ? -1 : 1)));
  } finally {
    await store.close();
  }
}

describe("kill and resume", () => {
  let dir: string;
  let fleet: string;
  before(async () => {
    dir = tempDir();
    fleet = join(dir, "fleet");
    await simulate({ outDir: fleet, accounts: 2, regions: 1, instances: 40, hours: 4, seed: 5 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const scanArgs = (state: string, out: string) => [
    "scan",
    fleet,
    "--format",
    "jsonl",
    "--state",
    state,
    "--output",
    out,
    "--config",
    join(fleet, "firstcall.yaml"),
    "--ip-ranges",
    join(fleet, "ip-ranges.json"),
    "--reorder-buffer",
    "500",
    "--lateness",
    "30",
    "--checkpoint-objects",
    "4",
    // Checkpoints by object count only, so every run commits at the same points.
    "--checkpoint-seconds",
    "3600",
    "--quiet",
    "--no-progress",
  ];

  test("the same findings whatever the number of reader threads", async () => {
    const canonical = async (jobs: number) => {
      const r = await runScan({
        paths: [fleet],
        statePath: ":memory:",
        config: loadConfig(join(fleet, "firstcall.yaml")),
        ipRangesPath: join(fleet, "ip-ranges.json"),
        jobs,
      });
      return JSON.stringify([...r.findings].sort((a, b) => (a.id < b.id ? -1 : 1)));
    };
    const reference = await canonical(0);
    assert.ok((JSON.parse(reference) as unknown[]).length >= 5);
    for (const jobs of [1, 2, 3]) assert.equal(await canonical(jobs), reference, `--jobs ${jobs}`);
  });

  test("kill -9 at random moments, run again: every finding exactly once, the same state as one run", async () => {
    const refState = join(dir, "ref.sqlite");
    const refOut = join(dir, "ref.jsonl");
    const ref = await finish(cli(scanArgs(refState, refOut)));
    assert.equal(ref.code, 1, ref.stderr);
    const reference = ids(refOut);
    assert.ok(reference.length >= 5, `the fleet has thefts to find (${reference.length})`);

    const state = join(dir, "killed.sqlite");
    const out = join(dir, "killed.jsonl");
    let kills = 0;
    let killsAfterProgress = 0;
    let rnd = 12345;
    // Every other run is killed at a random moment within a window that starts small and grows
    // whenever a killed run committed nothing new (on a loaded machine start-up alone can outlast a
    // fixed delay); the others are killed a random instant after their first checkpoint. So runs die
    // before, during and after checkpoints and still make progress; after the attempts, one last run
    // is left to finish.
    let window = 1000;
    let completed = false;
    for (let attempt = 0; attempt < 40 && !completed; attempt++) {
      rnd = (rnd * 1103515245 + 12345) % 2 ** 31;
      const before = committedObjects(state);
      const child = cli(scanArgs(state, out));
      const done = finish(child);
      let timer: NodeJS.Timeout | undefined;
      let exited = false;
      void done.then(() => {
        exited = true;
      });
      if (attempt % 2 === 0) {
        // At a random time after the start: often before any checkpoint, or in the middle of one.
        timer = setTimeout(() => child.kill("SIGKILL"), 300 + (rnd % window));
      } else {
        // Shortly after this run's first checkpoint, so some kills surely come after progress,
        // however slow the machine.
        const progressed = async () => {
          while (!exited && committedObjects(state) <= before) await new Promise((r) => setTimeout(r, 50));
          if (!exited) timer = setTimeout(() => child.kill("SIGKILL"), rnd % 400);
        };
        void progressed();
      }
      const r = await done;
      clearTimeout(timer);
      if (r.signal === "SIGKILL") {
        kills++;
        if (committedObjects(state) > before) killsAfterProgress++;
        else window = Math.round(window * 1.5);
        continue;
      }
      assert.ok(r.code === 0 || r.code === 1, `unexpected exit ${r.code}: ${r.stderr}`);
      completed = true;
    }
    if (!completed) {
      const r = await finish(cli(scanArgs(state, out)));
      assert.ok(r.code === 0 || r.code === 1, `unexpected exit ${r.code}: ${r.stderr}`);
    }
    process.stdout.write(
      `# kill and resume: ${kills} kills (${killsAfterProgress} after a checkpoint) before the run completed\n`,
    );
    assert.ok(kills >= 2, "the scan was killed at least twice");
    assert.ok(killsAfterProgress >= 1, "at least one killed run had committed a checkpoint");
    const printed = ids(out);
    assert.equal(new Set(printed).size, printed.length, "no finding printed twice");
    assert.deepEqual([...printed].sort(), [...reference].sort());
    assert.equal(await storedFindings(state), await storedFindings(refState));
  });
});

describe("the state file", () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a second scan on a locked state is refused at once, or waits with --lock-timeout", async () => {
    const state = join(dir, "locked", "state.sqlite");
    const holder = openStore(state);
    const refused = await finish(cli(["scan", "testdata/sample", "--state", state, "--quiet", "--no-progress"]));
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /in use by another firstcall process/);
    const waiting = cli(["scan", "testdata/sample", "--state", state, "--lock-timeout", "60", "--no-progress"]);
    let told = "";
    waiting.stderr?.on("data", (d) => {
      told += String(d);
    });
    const waited = finish(waiting);
    // Release the lock only once the second scan said it is waiting for it.
    for (let i = 0; i < 600 && !told.includes("waiting for it"); i++) await new Promise((r) => setTimeout(r, 100));
    await holder.close();
    const r = await waited;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /waiting for it/);
  });

  test("is created owner-only and marked as firstcall's; another database is refused", async () => {
    const state = join(dir, "fresh", "sub", "state.sqlite");
    await (await openStore(state)).close();
    assert.equal(statSync(state).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "fresh", "sub")).mode & 0o777, 0o700);
    const db = new Database(state);
    assert.equal(db.pragma("application_id", { simple: true }), 0x66637374);
    db.close();

    const foreign = join(dir, "foreign.sqlite");
    const other = new Database(foreign);
    other.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    other.close();
    const r = await finish(cli(["scan", "testdata/sample", "--state", foreign, "--quiet", "--no-progress"]));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /not a firstcall state file/);
    const after = new Database(foreign);
    const tables = after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    after.close();
    assert.deepEqual(tables, [{ name: "customers" }], "nothing was added to the other database");
  });

  test("a state written by firstcall 0.1 is refused with what to do; an impossible path fails at once", async () => {
    const old = join(dir, "old.sqlite");
    const db = new Database(old);
    db.exec(
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE sessions (key TEXT PRIMARY KEY, data TEXT); CREATE TABLE objects (id TEXT PRIMARY KEY)",
    );
    db.close();
    const r = await finish(cli(["scan", "testdata/sample", "--state", old, "--quiet", "--no-progress"]));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /firstcall 0\.1.*Move the file aside/);

    writeFileSync(join(dir, "a-file"), "x");
    const bad = await finish(
      cli(["scan", "testdata/sample", "--state", join(dir, "a-file", "x.sqlite"), "--quiet", "--no-progress"]),
    );
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(bad.stderr, /cannot create the state file/);
  });
});
