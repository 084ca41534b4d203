/**
 * `firstcall state init` and `state inspect` as a user runs them (real CLI processes), on a SQLite
 * file and on a real PostgreSQL server (FIRSTCALL_TEST_PG, else 127.0.0.1:5432).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { PG_SCHEMA_VERSION } from "../state/postgres.js";
import { SCHEMA_VERSION } from "../state/sqlite.js";
import { runCli } from "../test-helpers/cli.js";
import { testDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";

const scratchDir = scratchDirs();

describe("firstcall state", () => {
  test("SQLite: init creates the file, a second init does nothing, inspect counts what a scan stored", () => {
    const state = join(scratchDir(), "s.sqlite");
    const first = runCli(["state", "init", "--state", state]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`created \\(schema ${SCHEMA_VERSION}\\)`));
    assert.ok(existsSync(state));
    assert.match(
      runCli(["state", "init", "--state", state]).stdout,
      new RegExp(`already at schema ${SCHEMA_VERSION}; nothing to do`),
    );
    const scan = runCli(["scan", "testdata/sample", "--state", state, "--format", "jsonl", "-q"]);
    assert.ok(scan.status === 0 || scan.status === 1, scan.stderr);
    const inspected = runCli(["state", "inspect", "--state", state, "--format", "json"]);
    assert.equal(inspected.status, 0, inspected.stderr);
    const info = JSON.parse(inspected.stdout);
    assert.equal(info.schema, "firstcall.state-info/v1");
    assert.equal(info.kind, "sqlite");
    assert.equal(info.schemaVersion, SCHEMA_VERSION);
    assert.equal(info.findings, scan.stdout.trim().split("\n").length);
    assert.equal(info.objects, 67);
    assert.ok(info.sessions > 0 && info.bytes > 0);
    assert.match(info.findingTimes.oldest, /^2026-11-01T/);
    const text = runCli(["state", "inspect", "--state", state]);
    assert.match(text.stdout, new RegExp(`schema version {2}${SCHEMA_VERSION}\n`));
    assert.match(text.stdout, /objects {9}67\n/);
  });

  test("SQLite: inspecting a missing file is a state error (exit 4), and creates nothing", () => {
    const state = join(scratchDir(), "none.sqlite");
    const r = runCli(["state", "inspect", "--state", state]);
    assert.equal(r.status, 4);
    assert.match(r.stderr, /no state file/);
    assert.ok(!existsSync(state));
  });

  test("PostgreSQL: init, scan with a worker name, inspect; the password never printed", async (t) => {
    const { url, server } = await testDatabase();
    t.diagnostic(`PostgreSQL server: ${server}`);
    const u = new URL(url);
    u.password = "hunter2"; // trust authentication ignores it; it must still never be printed
    const withPassword = u.toString();
    const before = runCli(["state", "inspect", "--state", withPassword]);
    assert.equal(before.status, 0, before.stderr);
    assert.match(before.stdout, /not initialised: run firstcall state init/);
    const scanFirst = runCli(["scan", "testdata/sample", "--state", withPassword, "-q"]);
    assert.equal(scanFirst.status, 4);
    assert.match(scanFirst.stderr, /not initialised for firstcall; run: firstcall state init --state/);
    const init = runCli(["state", "init", "--state", withPassword]);
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, new RegExp(`created \\(schema ${PG_SCHEMA_VERSION}\\)`));
    const scan = runCli([
      "scan",
      "testdata/sample",
      "--state",
      withPassword,
      "--worker",
      "host-a",
      "--format",
      "jsonl",
    ]);
    assert.ok(scan.status === 0 || scan.status === 1, scan.stderr);
    // Reading the stored findings (--all, explain) does not register a running worker.
    const all = runCli(["scan", "testdata/sample", "--state", withPassword, "--worker", "host-a", "--all", "-q"]);
    assert.ok(all.status === 0 || all.status === 1, all.stderr);
    const firstId = (JSON.parse(scan.stdout.split("\n")[0] as string) as { id: string }).id;
    assert.ok(all.stdout.includes(firstId.slice(0, 12)), "--all prints the stored findings");
    const explained = runCli(["explain", firstId, "--state", withPassword, "--format", "json"]);
    assert.equal(explained.status, 0, explained.stderr);
    assert.equal(JSON.parse(explained.stdout).finding.id, firstId);
    const inspected = runCli(["state", "inspect", "--state", withPassword, "--format", "json"]);
    const info = JSON.parse(inspected.stdout);
    assert.equal(info.kind, "postgres");
    assert.equal(info.schemaVersion, PG_SCHEMA_VERSION);
    assert.equal(info.findings, scan.stdout.trim().split("\n").length);
    assert.equal(info.objects, 67);
    assert.deepEqual(
      info.workers.map((w: { worker: string; finished: boolean }) => [w.worker, w.finished]),
      [["host-a", true]],
    );
    const text = runCli(["state", "inspect", "--state", withPassword]);
    assert.match(text.stdout, /worker host-a: finished/);
    for (const out of [before, scanFirst, init, scan, all, explained, inspected, text]) {
      assert.ok(!`${out.stdout}${out.stderr}`.includes("hunter2"), "no password in any output");
    }
  });
});
