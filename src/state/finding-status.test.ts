/**
 * Finding statuses (acknowledged / suppressed, with who, when and why) in every store: the same
 * contract (`findingStatusContract`, also run by every store's contract suite) for the in-memory
 * store, a SQLite file and a real PostgreSQL database (FIRSTCALL_TEST_PG, else 127.0.0.1:5432); the
 * migrations that add them (SQLite schema 3 → 4, PostgreSQL 1 → 2); a reader left on a schema 3 file; and a status written beside a running scan, which holds the
 * writer's lock and checkpoints meanwhile without losing it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import type { StateError } from "../errors.js";
import { runScan } from "../pipeline/scan.js";
import { REPO } from "../test-helpers/cli.js";
import { backToSchema1, initialisedTestDatabase, testDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { findingStatusContract } from "../test-helpers/store-contract.js";
import { MemoryStore } from "./memory.js";
import { migratePostgres, PG_SCHEMA_VERSION, PostgresStore } from "./postgres.js";
import { SCHEMA_VERSION, SqliteStore } from "./sqlite.js";
import { validateFindingStatus } from "./store.js";

const scratchDir = scratchDirs();

const at = (minute: number) => `2026-12-02T09:${String(minute).padStart(2, "0")}:00.000Z`;

test("validateFindingStatus accepts a reopen without a reason and refuses an acknowledgement without one", () => {
  validateFindingStatus({ id: "f", status: "open", reason: "", actor: "cli", at: at(0) });
  assert.throws(
    () => validateFindingStatus({ id: "f", status: "acknowledged", reason: "", actor: "cli", at: at(0) }),
    /a reason is required to mark a finding acknowledged/,
  );
});

test("in-memory store keeps statuses and their history", async () => {
  await findingStatusContract(new MemoryStore());
});

describe("SQLite", () => {
  test("a new file (schema 4) keeps statuses and their history, also after reopening", async (t) => {
    const path = join(scratchDir(), "state.sqlite");
    const store = SqliteStore.open(path);
    try {
      await findingStatusContract(store);
    } finally {
      await store.close();
    }
    const again = SqliteStore.open(path, { readOnly: true });
    try {
      assert.deepEqual([...(await again.findingStatuses()).keys()], ["f2"]);
      assert.equal((await again.findingStatusHistory("f1")).length, 3);
      assert.deepEqual(
        again.statusChangesSince(2).map((c) => [c.seq, c.id, c.status]),
        [
          [3, "f1", "suppressed"],
          [4, "f1", "open"],
        ],
      );
      // A plain reader writes nothing.
      await assert.rejects(
        again.setFindingStatus({ id: "f2", status: "open", reason: "", actor: "cli", at: at(9) }),
        /opened read-only/,
      );
    } finally {
      await again.close();
    }
    t.diagnostic(`SQLite state ${path}, schema ${SCHEMA_VERSION}`);
  });

  test("a schema 3 file: a reader sees no statuses and cannot write one; a writer migrates it to 4, keeping findings", async () => {
    const path = join(scratchDir(), "v3.sqlite");
    const scan = await runScan({ paths: [join(REPO, "testdata", "sample")], statePath: path });
    assert.equal(scan.findings.length, 4);
    // Back to what schema 3 was: the same file without the status tables (nor the outbox of schema 5).
    const raw = new Database(path);
    raw.exec("DROP TABLE finding_statuses; DROP TABLE finding_status_history; DROP TABLE outbox;");
    raw.pragma("user_version = 3");
    raw.close();

    const reader = SqliteStore.open(path, { readOnly: true, statusWrites: true });
    try {
      assert.equal((await reader.allFindings()).length, 4);
      assert.deepEqual(await reader.findingStatuses(), new Map());
      assert.deepEqual(reader.statusChangesSince(0), []);
      await assert.rejects(
        reader.setFindingStatus({ id: "f", status: "suppressed", reason: "r", actor: "cli", at: at(0) }),
        (e: StateError) => e.code === "E_STATE_VERSION" && /schema 3.*state init/.test(e.message),
      );
      // A writer opening it meanwhile migrates it; the open reader then sees the tables.
      const writer = SqliteStore.open(path);
      try {
        const id = scan.findings[0]?.id ?? "";
        await reader.setFindingStatus({ id, status: "suppressed", reason: "known", actor: "cli", at: at(5) });
        assert.equal((await writer.findingStatuses([id])).get(id)?.status, "suppressed");
        assert.equal((await writer.allFindings()).length, 4, "the findings were kept");
      } finally {
        await writer.close();
      }
    } finally {
      await reader.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma("user_version", { simple: true }), SCHEMA_VERSION);
    } finally {
      check.close();
    }
  });

  test("a status set while a scan holds the state survives the scan's checkpoints", async (t) => {
    const path = join(scratchDir(), "busy.sqlite");
    const first = await runScan({ paths: [join(REPO, "testdata", "sample")], statePath: path });
    const id = first.findings[0]?.id ?? "";
    const statuses = SqliteStore.open(path, { readOnly: true, statusWrites: true });
    // The writer holds the lock for its whole life, as a scan does, and commits checkpoints.
    const writer = SqliteStore.open(path);
    try {
      assert.throws(() => SqliteStore.open(path), /in use by another firstcall process/, "the lock is held");
      await statuses.setFindingStatus({ id, status: "acknowledged", reason: "looking", actor: "admin", at: at(1) });
      const stored = await writer.loadFindings([id]);
      await writer.commit({
        sessions: [],
        deletedSessions: [],
        fleet: await writer.loadFleet(),
        findings: [...stored.values()],
        objects: [],
        pending: (await writer.loadPending()) ?? new Uint8Array(),
      });
      await statuses.setFindingStatus({ id, status: "suppressed", reason: "pentest", actor: "admin", at: at(2) });
      assert.equal((await writer.findingStatuses([id])).get(id)?.status, "suppressed", "the writer sees it");
    } finally {
      await writer.close();
    }
    // A whole scan (rescanning, rewriting every finding) leaves it as it was.
    await runScan({ paths: [join(REPO, "testdata", "sample")], statePath: path, rescan: true });
    try {
      assert.equal((await statuses.findingStatuses([id])).get(id)?.reason, "pentest");
      assert.equal((await statuses.findingStatusHistory(id)).length, 2);
      t.diagnostic(`SQLite state ${path}: statuses written beside a lock-holding writer`);
    } finally {
      await statuses.close();
    }
  });
});

describe("PostgreSQL", () => {
  test("statuses keep the store contract; a reader's connection may set them", async (t) => {
    const { url, server } = await testDatabase();
    t.diagnostic(`PostgreSQL server: ${server}`);
    assert.deepEqual(await migratePostgres(url), { from: 0, to: PG_SCHEMA_VERSION });
    const worker = await PostgresStore.open(url, { worker: "a" });
    try {
      await findingStatusContract(worker);
    } finally {
      await worker.close();
    }
    const reader = await PostgresStore.open(url, { readOnly: true });
    try {
      await reader.setFindingStatus({ id: "f3", status: "acknowledged", reason: "seen", actor: "serve", at: at(7) });
      assert.deepEqual([...(await reader.findingStatuses()).keys()].sort(), ["f2", "f3"]);
    } finally {
      await reader.close();
    }
  });

  test("a schema 1 database is migrated to the current schema by state init, keeping its rows; scans refuse it until then", async (t) => {
    const url = await initialisedTestDatabase(t);
    // Back to schema 1: what firstcall wrote before statuses.
    await backToSchema1(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("INSERT INTO firstcall_meta (key, value) VALUES ('settings', 'abc')");
    } finally {
      await c.end();
    }
    await assert.rejects(
      PostgresStore.open(url, { worker: "a" }),
      (e: StateError) => e.code === "E_STATE_VERSION" && /state schema 1.*state init/.test(e.message),
    );
    assert.deepEqual(await migratePostgres(url), { from: 1, to: PG_SCHEMA_VERSION });
    const store = await PostgresStore.open(url, { worker: "a" });
    try {
      assert.equal(await store.settingsFingerprint(), "abc");
      await store.setFindingStatus({ id: "f", status: "suppressed", reason: "r", actor: "cli", at: at(0) });
      assert.equal((await store.findingStatuses()).size, 1);
    } finally {
      await store.close();
    }
  });
});
