/**
 * `firstcall findings ack|suppress|reopen|status` as a script runs them (real CLI processes): on a
 * SQLite state made by scanning testdata/sample — also while another process holds the scan's lock —
 * and on a real PostgreSQL database (FIRSTCALL_TEST_PG, else 127.0.0.1:5432).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { openAnyStore, openStore } from "../state/open.js";
import { runCli, runCliAsync } from "../test-helpers/cli.js";
import { testTable } from "../test-helpers/dynamodb.js";
import { testDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { sampleState } from "../test-helpers/serve.js";

const scratchDir = scratchDirs();

interface StatusesJson {
  schema: string;
  findings: { id: string; status: { status: string; reason?: string; actor?: string }; history?: unknown[] }[];
}

describe("firstcall findings", () => {
  test("SQLite: suppress, acknowledge, reopen and list, while a scan holds the state; bad uses exit 2", async (t) => {
    const state = await sampleState(scratchDir());
    const ids = (await (async () => {
      const s = openStore(state, { readOnly: true });
      try {
        return (await s.allFindings()).map((f) => f.finding.id);
      } finally {
        await s.close();
      }
    })()) as [string, string, string, string];
    // A writer holds the lock for the whole test, as a running scan does.
    const writer = openStore(state);
    try {
      const suppress = runCli([
        "findings",
        "suppress",
        ids[0].slice(0, 10),
        "--reason",
        "red team SEC-123",
        "--by",
        "alice",
        "--state",
        state,
      ]);
      assert.equal(suppress.status, 0, suppress.stderr);
      assert.equal(suppress.stdout, `${ids[0]}: suppressed\n`);
      assert.equal(runCli(["findings", "ack", ids[1], "--reason", "rotating", "--state", state]).status, 0);
      assert.equal(runCli(["findings", "ack", ids[2], "--reason", "first look", "--state", state]).status, 0);
      assert.equal(runCli(["findings", "reopen", ids[2], "--state", state]).status, 0);

      const listed = runCli(["findings", "status", "--state", state]);
      assert.equal(listed.status, 0, listed.stderr);
      const lines = listed.stdout.trim().split("\n");
      assert.equal(lines.length, 2, listed.stdout);
      assert.ok(
        lines.some(
          (l) => l.startsWith(ids[0].slice(0, 12)) && /suppressed .* alice \(cli\): red team SEC-123$/.test(l),
        ),
      );
      assert.ok(lines.some((l) => l.startsWith(ids[1].slice(0, 12)) && /acknowledged .* cli: rotating$/.test(l)));

      const history = runCli(["findings", "status", ids[2], "--format", "json", "--state", state]);
      assert.equal(history.status, 0, history.stderr);
      const h = JSON.parse(history.stdout) as StatusesJson;
      assert.equal(h.schema, "firstcall.finding-statuses/v1");
      assert.equal(h.findings[0]?.status.status, "open");
      assert.equal(h.findings[0]?.history?.length, 2);

      // What the writer (the scan) sees.
      const seen = await writer.findingStatuses?.();
      assert.deepEqual([...(seen?.keys() ?? [])].sort(), [ids[0], ids[1]].sort());
      t.diagnostic(`SQLite state ${state}: statuses set by CLI processes while this process held the writer's lock`);

      const noReason = runCli(["findings", "ack", ids[3], "--state", state]);
      assert.equal(noReason.status, 2);
      assert.match(noReason.stderr, /--reason/);
      const blank = runCli(["findings", "suppress", ids[3], "--reason", " ", "--state", state]);
      assert.equal(blank.status, 2);
      assert.match(blank.stderr, /a reason is required/);
      const unknown = runCli(["findings", "ack", "abcdef012345", "--reason", "x", "--state", state]);
      assert.equal(unknown.status, 2);
      assert.match(unknown.stderr, /no finding abcdef012345/);
      const missing = runCli(["findings", "ack", ids[3], "--reason", "x", "--state", `${state}.missing`]);
      assert.equal(missing.status, 4);
      assert.match(missing.stderr, /no state file/);
    } finally {
      await writer.close();
    }
  });

  test("PostgreSQL: suppress and list on a shared state", async (t) => {
    const { url, server } = await testDatabase();
    t.diagnostic(`PostgreSQL server: ${server}`);
    assert.equal(runCli(["state", "init", "--state", url]).status, 0);
    assert.equal(runCli(["scan", join("testdata", "sample"), "--state", url, "-q", "--no-progress"]).status, 1);
    const store = await openAnyStore(url, { readOnly: true });
    let id: string;
    try {
      id = (await store.allFindings())[0]?.finding.id as string;
    } finally {
      await store.close();
    }
    const r = runCli(["findings", "suppress", id, "--reason", "known scanner", "--state", url]);
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(
      runCli(["findings", "status", "--format", "json", "--state", url]).stdout,
    ) as StatusesJson;
    assert.deepEqual(
      listed.findings.map((f) => [f.id, f.status.status, f.status.reason, f.status.actor]),
      [[id, "suppressed", "known scanner", "cli"]],
    );
  });

  test("DynamoDB (dynalite): suppress and list on a shared table", async (t) => {
    const { url, server } = await testTable();
    t.diagnostic(server);
    // dynalite serves from this process: the CLI runs without blocking it.
    assert.equal((await runCliAsync(["state", "init", "--state", url])).status, 0);
    assert.equal(
      (await runCliAsync(["scan", join("testdata", "sample"), "--state", url, "-q", "--no-progress"])).status,
      1,
    );
    const store = await openAnyStore(url, { readOnly: true });
    let id: string;
    try {
      id = (await store.allFindings())[0]?.finding.id as string;
    } finally {
      await store.close();
    }
    const r = await runCliAsync(["findings", "suppress", id, "--reason", "known scanner", "--state", url]);
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(
      (await runCliAsync(["findings", "status", "--format", "json", "--state", url])).stdout,
    ) as StatusesJson;
    assert.deepEqual(
      listed.findings.map((f) => [f.id, f.status.status, f.status.reason, f.status.actor]),
      [[id, "suppressed", "known scanner", "cli"]],
    );
  });
});
