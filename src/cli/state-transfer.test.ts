/**
 * `firstcall state export`, `import`, `prune` and `retire-worker` as a user runs them (real CLI
 * processes), on SQLite files and a real PostgreSQL server (FIRSTCALL_TEST_PG, else 127.0.0.1:5432).
 */
import assert from "node:assert/strict";
import { cpSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PostgresStore } from "../state/postgres.js";
import { SCHEMA_VERSION } from "../state/sqlite.js";
import { runCli, runCliAsync } from "../test-helpers/cli.js";
import { initialisedTestDatabase, testDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";

const scratchDir = scratchDirs("firstcall-state-cli-");

function json(r: { status: number | null; stdout: string; stderr: string }, status = 0): Record<string, unknown> {
  assert.equal(r.status, status, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe("firstcall state export / import / prune / retire-worker", () => {
  test("SQLite → PostgreSQL → SQLite through the CLI: counts both sides; a non-empty target refused, then replaced", async (t) => {
    const { url, server } = await testDatabase();
    t.diagnostic(`PostgreSQL server: ${server}`);
    const dir = scratchDir();
    const a = join(dir, "a.sqlite");
    // Delivered to a file destination (one outbox row per finding), and one finding suppressed.
    const scan = runCli([
      "scan",
      "testdata/sample",
      "--state",
      a,
      "--format",
      "jsonl",
      "-q",
      "--to",
      `file:${join(dir, "delivered.jsonl")}`,
    ]);
    assert.equal(scan.status, 1, scan.stderr);
    const findings = scan.stdout.trim().split("\n").length;
    const firstId = (JSON.parse(scan.stdout.split("\n")[0] as string) as { id: string }).id;
    const suppress = runCli(["findings", "suppress", firstId, "--reason", "red team SEC-1", "--state", a]);
    assert.equal(suppress.status, 0, suppress.stderr);

    const exported = json(
      runCli(["state", "export", "--state", a, "--output", join(dir, "a.jsonl.gz"), "--format", "json"]),
    );
    const counts = exported.counts as Record<string, number>;
    assert.equal(counts.finding, findings);
    assert.equal(counts.object, 67);
    assert.ok((counts.session ?? 0) > 0);
    assert.deepEqual([counts.status, counts.history, counts.outbox], [1, 1, findings]);
    assert.equal((statSync(join(dir, "a.jsonl.gz")).mode & 0o777).toString(8), "600", "as private as the state");

    const notInit = runCli(["state", "import", "--state", url, join(dir, "a.jsonl.gz")]);
    assert.equal(notInit.status, 4);
    assert.match(notInit.stderr, /not initialised for firstcall; run: firstcall state init/);
    assert.equal(runCli(["state", "init", "--state", url]).status, 0);
    const intoPg = json(runCli(["state", "import", "--state", url, join(dir, "a.jsonl.gz"), "--format", "json"]));
    assert.deepEqual(intoPg.read, counts);
    assert.deepEqual(intoPg.stored, counts, "PostgreSQL holds what was read");
    assert.deepEqual(intoPg.source, { kind: "sqlite", schemaVersion: SCHEMA_VERSION });
    // Inspect shows what was decided and what is owed, on either store.
    const owedAndDecided = { statuses: { acknowledged: 0, suppressed: 1 } };
    const outbox = { pending: 0, delivered: findings, skipped: 0, rejected: 0 };
    for (const state of [a, url]) {
      const info = json(runCli(["state", "inspect", "--state", state, "--format", "json"]));
      assert.deepEqual({ statuses: info.statuses, outbox: info.outbox }, { ...owedAndDecided, outbox }, state);
    }
    assert.match(
      runCli(["state", "inspect", "--state", url]).stdout,
      new RegExp(
        `statuses {8}0 acknowledged, 1 suppressed\n {2}outbox {10}0 pending, ${findings} delivered, 0 skipped, 0 rejected\n`,
      ),
    );

    // To standard output: the dump on stdout, the report on stderr.
    const piped = runCli(["state", "export", "--state", url]);
    assert.equal(piped.status, 0, piped.stderr);
    assert.match(
      piped.stderr,
      /→ standard output: 1 fleet, 1 settings, 1 stream, \d+ sessions, \d+ findings, 1 finding status, 1 status change, \d+ outbox rows, 67 objects/,
    );
    writeFileSync(join(dir, "b.jsonl"), piped.stdout);

    const c = join(dir, "c.sqlite");
    const back = runCli(["state", "import", "--state", c, join(dir, "b.jsonl")]);
    assert.equal(back.status, 0, back.stderr);
    assert.match(
      back.stdout,
      /\(from postgres, schema \d+\) → .*c\.sqlite\n {2}read {4}fleet 1, settings 1, stream 1, output 0, session \d+, finding \d+, status 1, history 1, outbox \d+, object 67, event 0\n {2}stored {2}fleet 1/,
    );
    // The imported state goes on where the first stopped: nothing is read again.
    const again = runCli(["scan", "testdata/sample", "--state", c, "--format", "jsonl"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, "", "no finding again");
    const status = runCli(["findings", "status", firstId, "--state", c]);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /suppressed.*red team SEC-1/s, "what was decided came along");
    assert.match(again.stderr, /files: 67 listed, 0 read, 67 already scanned/);

    const refused = runCli(["state", "import", "--state", c, join(dir, "b.jsonl")]);
    assert.equal(refused.status, 4);
    assert.match(refused.stderr, /already holds a state .* stream positions .* --force/);
    const forced = json(runCli(["state", "import", "--state", c, join(dir, "b.jsonl"), "--force", "--format", "json"]));
    assert.equal((forced.replaced as Record<string, number>).object, 67);

    writeFileSync(join(dir, "not-a-dump.jsonl"), '{"Records":[]}\n');
    const wrong = runCli(["state", "import", "--state", join(dir, "d.sqlite"), join(dir, "not-a-dump.jsonl")]);
    assert.equal(wrong.status, 4);
    assert.match(wrong.stderr, /not-a-dump\.jsonl:1: not a firstcall state dump/);
  });

  test("prune: --dry-run counts, the prune drops, a pruned object is read again; a cut after the newest event is refused", () => {
    const dir = scratchDir();
    // The sample with each file's modification time at its delivery (as `aws s3 sync` sets it).
    const logs = join(dir, "logs");
    cpSync("testdata/sample", logs, { recursive: true });
    for (const f of readdirSync(logs, { recursive: true }).map(String)) {
      const m = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z_/.exec(f);
      if (m) {
        const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00Z`);
        utimesSync(join(logs, f), at, at);
      }
    }
    const state = join(dir, "p.sqlite");
    assert.equal(runCli(["scan", logs, "--state", state, "-q"]).status, 1);
    const cut = "2026-11-01T03:00Z";
    const dry = json(runCli(["state", "prune", "--state", state, "--before", cut, "--dry-run", "--format", "json"]));
    assert.equal(dry.dryRun, true);
    const pruned = dry.objects as number;
    assert.ok(pruned > 0 && pruned < 67, `objects delivered before 03:00: ${pruned}`);
    assert.equal(dry.findings, 0, "the theft is at 03:10");
    const done = runCli(["state", "prune", "--state", state, "--before", cut]);
    assert.equal(done.status, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`dropped 0 findings, \\d+ sessions, ${pruned} scanned-object records`));
    assert.equal(json(runCli(["state", "inspect", "--state", state, "--format", "json"])).objects, 67 - pruned);
    const again = runCli(["scan", logs, "--state", state, "--format", "jsonl"]);
    assert.match(
      again.stderr,
      new RegExp(`files: 67 listed, ${pruned} read, ${67 - pruned} already scanned`),
      "what pruning costs",
    );
    const late = runCli(["state", "prune", "--state", state, "--before", "1d"]);
    assert.equal(late.status, 2);
    assert.match(late.stderr, /after the newest event this state has processed \(2026-11-01T.*live sessions/);
  });

  test("retire-worker: refused while the worker runs, done once it is gone; SQLite has no workers", async (t) => {
    const url = await initialisedTestDatabase(t);
    const worker = await PostgresStore.open(url, { worker: "host-c" });
    const busy = await runCliAsync(["state", "retire-worker", "host-c", "--state", url]);
    assert.equal(busy.status, 4);
    assert.match(busy.stderr, /worker "host-c" is running/);
    await worker.close();
    const done = await runCliAsync(["state", "retire-worker", "host-c", "--state", url, "--format", "json"]);
    assert.equal(done.status, 0, done.stderr);
    assert.deepEqual(JSON.parse(done.stdout), {
      state: url,
      worker: "host-c",
      alreadyFinished: false,
      readPosition: null,
      stillRunning: [],
      waitingEvents: 0,
    });
    const sqlite = runCli(["state", "retire-worker", "w", "--state", join(scratchDir(), "s.sqlite")]);
    assert.equal(sqlite.status, 2);
    assert.match(sqlite.stderr, /applies to a shared state/);
  });
});
