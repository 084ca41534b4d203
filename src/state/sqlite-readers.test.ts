/**
 * Readers next to the writer: a read-only SqliteStore opens without the writer's lock, sees each
 * checkpoint a scan commits, and never writes; the writer's lock (on `<state>.lock`) still admits one
 * writer only.
 */
import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { emptyFleet } from "../engine/state.js";
import { runScan } from "../pipeline/scan.js";
import { REPO } from "../test-helpers/cli.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { lockPathOf, SqliteStore } from "./sqlite.js";

const scratchDir = scratchDirs();

test("a read-only store reads while a scan writes, sees its commits, and cannot commit", async (t) => {
  const state = join(scratchDir(), "state.sqlite");
  await (await SqliteStore.open(state)).close();
  assert.equal(statSync(lockPathOf(state)).mode & 0o777, 0o600, "the lock file is owner-only");
  const reader = SqliteStore.open(state, { readOnly: true });
  try {
    const before = reader.dataVersion();
    assert.deepEqual(reader.findingsChangedSince(undefined).rows, []);
    // The scan opens the state as its writer while the reader stays open.
    const scan = await runScan({ paths: [join(REPO, "testdata", "sample")], statePath: state });
    t.diagnostic(`SQLite state ${state}: scan committed ${scan.findings.length} findings while a reader was open`);
    assert.notEqual(reader.dataVersion(), before, "the reader learns that someone committed");
    const all = reader.findingsChangedSince(undefined);
    assert.equal(all.rows.length, 4);
    assert.ok(all.mark);
    const again = reader.findingsChangedSince(all.mark);
    assert.ok(
      again.rows.every((r) => r.updatedAt === all.mark?.updatedAt),
      "only the last commit's rows again",
    );
    assert.equal((await reader.allFindings()).length, 4);
    await assert.rejects(
      reader.commit({
        sessions: [],
        deletedSessions: [],
        fleet: emptyFleet(),
        findings: [],
        objects: [],
        pending: new Uint8Array(),
      }),
      /opened read-only/,
    );
    // One writer at a time, readers notwithstanding.
    const writer = SqliteStore.open(state);
    try {
      assert.throws(() => SqliteStore.open(state), /in use by another firstcall process/);
    } finally {
      await writer.close();
    }
  } finally {
    await reader.close();
  }
});

test("a read-only store refuses a missing file and a file that holds no state, without creating anything", () => {
  const dir = scratchDir();
  assert.throws(() => SqliteStore.open(join(dir, "none.sqlite"), { readOnly: true }), /no state file/);
  assert.ok(!existsSync(join(dir, "none.sqlite")));
  const empty = join(dir, "empty.sqlite");
  writeFileSync(empty, "");
  assert.throws(() => SqliteStore.open(empty, { readOnly: true }), /holds no state yet/);
  assert.ok(!existsSync(lockPathOf(empty)), "a reader takes no lock");
});
