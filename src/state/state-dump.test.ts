/**
 * Moving a state between stores through a dump (`exportRecords` → state-dump.ts → `importRecords`),
 * on real SQLite files and a real PostgreSQL server (FIRSTCALL_TEST_PG, else 127.0.0.1:5432):
 * SQLite → PostgreSQL → SQLite gives back the very rows; a two-worker PostgreSQL state becomes one
 * SQLite state that a later scan resumes; a state that holds data is refused unless replaced; a
 * damaged dump imports nothing; an export while a worker commits sees one snapshot; prune and
 * retire-worker.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import Database from "better-sqlite3";
import pg from "pg";
import { emptyFleet, type SessionState } from "../engine/state.js";
import { StateError } from "../errors.js";
import { runScan } from "../pipeline/scan.js";
import { initialisedTestDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { PostgresStore } from "./postgres.js";
import { SqliteStore } from "./sqlite.js";
import { openDump, writeDump } from "./state-dump.js";
import type { StateRecord, StateStore } from "./store.js";
import { decodeStreamPosition, encodeStreamPosition, eventIdKey } from "./stream-position.js";

const scratchDir = scratchDirs("firstcall-dump-");
const header = { firstcall: "test", source: { kind: "test", schemaVersion: 0 }, createdAt: "2026-12-02T00:00:00.000Z" };

/** Every row of every table of a SQLite state, as text: what "identical" means below. */
function sqliteRows(path: string): Record<string, string[]> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, string[]> = {};
    for (const t of ["meta", "sessions", "findings", "objects"]) {
      out[t] = (db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all() as Record<string, unknown>[]).map((r) =>
        JSON.stringify(r, (_k, v) => (Buffer.isBuffer(v) ? v.toString("base64") : v)),
      );
    }
    return out;
  } finally {
    db.close();
  }
}

async function exportTo(store: StateStore, path: string): Promise<void> {
  assert.ok(store.exportRecords);
  await writeDump(store.exportRecords(), header, path);
}

async function importFrom(store: StateStore, path: string, replace = false) {
  assert.ok(store.importRecords);
  const { records } = await openDump(path);
  return store.importRecords(records, { replace });
}

async function* recordsOf(list: StateRecord[]): AsyncGenerator<StateRecord> {
  yield* list;
}

function session(key: string, validUntil: number): SessionState {
  return {
    key,
    kind: "ec2-instance",
    arn: key,
    sessionName: "i-0abc",
    account: "111122223333",
    lifetimes: [{ start: validUntil - 3_600_000, validUntil, covered: true, direct: new Map(), endpoint: new Map() }],
  };
}

describe("state dump", () => {
  test("SQLite → PostgreSQL → SQLite gives back every row, byte for byte (ETags and output lengths too)", async (t) => {
    const url = await initialisedTestDatabase(t);
    const dir = scratchDir();
    const a = join(dir, "a.sqlite");
    await runScan({ paths: ["testdata/sample"], statePath: a });
    // What a scan of S3 and a run with --output add: an object known by its ETag, an output length.
    const store = SqliteStore.open(a);
    await store.commit({
      sessions: [],
      deletedSessions: [],
      fleet: await store.loadFleet(),
      findings: [],
      objects: [
        {
          id: "s3://trail/AWSLogs/x.json.gz",
          size: 9,
          mtimeMs: 1_700_000_000_000,
          etag: "0a1b",
          records: 2,
          status: "partial",
        },
      ],
      pending: (await store.loadPending()) ?? Buffer.alloc(0),
      outputs: [{ path: "/var/findings.jsonl", bytes: 1234 }],
    });
    const before = sqliteRows(a);
    assert.ok((before.sessions?.length ?? 0) > 0 && (before.findings?.length ?? 0) > 0, "the scan stored something");
    try {
      await exportTo(store, join(dir, "a.jsonl.gz"));
    } finally {
      await store.close();
    }

    const shared = await PostgresStore.open(url, { readOnly: true });
    try {
      const imported = await importFrom(shared, join(dir, "a.jsonl.gz"));
      assert.deepEqual(imported.stored, imported.read, "PostgreSQL holds what was read");
      assert.equal(imported.read.object, 68);
      assert.deepEqual((await shared.scannedObject("s3://trail/AWSLogs/x.json.gz"))?.etag, "0a1b");
      await exportTo(shared, join(dir, "b.jsonl"));
    } finally {
      await shared.close();
    }

    const c = join(dir, "c.sqlite");
    const back = SqliteStore.open(c);
    try {
      const imported = await importFrom(back, join(dir, "b.jsonl"));
      assert.deepEqual(imported.notes, []);
      await exportTo(back, join(dir, "c.jsonl"));
    } finally {
      await back.close();
    }
    assert.deepEqual(sqliteRows(c), before, "findings, sessions, fleet, objects, stream position, settings: identical");
    const body = (text: string) => text.split("\n").slice(1);
    assert.deepEqual(
      body(readFileSync(join(dir, "c.jsonl"), "utf8")),
      body(gunzipSync(readFileSync(join(dir, "a.jsonl.gz"))).toString("utf8")),
      "the dumps of the first and the last state are the same records",
    );
  });

  test("a two-worker PostgreSQL state into SQLite: positions merged, and a later scan reads nothing again", async (t) => {
    const url = await initialisedTestDatabase(t);
    const dir = scratchDir();
    const files = (await import("node:fs"))
      .readdirSync("testdata/sample", { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".json.gz"))
      .sort()
      .map((f) => join("testdata/sample", f));
    const half = Math.floor(files.length / 2);
    const first = await runScan({ paths: files.slice(0, half), statePath: url, worker: "a" });
    const second = await runScan({ paths: files.slice(half), statePath: url, worker: "b" });
    const found = new Set([...first.findings, ...second.findings].map((f) => f.id));
    const shared = await PostgresStore.open(url, { readOnly: true });
    try {
      await exportTo(shared, join(dir, "shared.jsonl.gz"));
    } finally {
      await shared.close();
    }
    const path = join(dir, "one.sqlite");
    const one = SqliteStore.open(path);
    try {
      const r = await importFrom(one, join(dir, "shared.jsonl.gz"));
      assert.equal(r.read.stream, 2);
      assert.equal(r.stored.stream, 1);
      assert.equal(r.stored.object, files.length);
      assert.ok(
        r.notes.some((n) => n.includes("positions of 2 workers (a, b) were merged")),
        r.notes.join("; "),
      );
    } finally {
      await one.close();
    }
    const again = await runScan({ paths: ["testdata/sample"], statePath: path });
    assert.equal(again.summary.objects.read, 0, "every object is known as scanned");
    assert.equal(again.summary.objects.alreadyScanned, files.length);
    assert.deepEqual(again.findings, [], "nothing new");
    const stored = SqliteStore.open(path, { readOnly: true });
    try {
      const all = await stored.allFindings();
      assert.deepEqual(new Set(all.map((f) => f.finding.id)), found, "the workers' findings are all there");
    } finally {
      await stored.close();
    }
  });

  test("positions are merged with the processed events' ids; events not processed yet are refused", async () => {
    const dir = scratchDir();
    const position = (ids: [string, number][], watermark: number) =>
      encodeStreamPosition({ watermark, cut: watermark - 10, ids: ids.map(([id, t]) => [eventIdKey(id), t]) }).toString(
        "base64",
      );
    const streams: StateRecord[] = [
      {
        type: "stream",
        worker: "a",
        position: position(
          [
            ["e1", 100],
            ["e3", 300],
          ],
          300,
        ),
        readPosition: null,
        finished: true,
      },
      { type: "stream", worker: "b", position: position([["e2", 200]], 250), readPosition: null, finished: true },
      { type: "output", worker: "a", path: "out.jsonl", bytes: 10 },
      { type: "output", worker: "b", path: "out.jsonl", bytes: 20 },
    ];
    const event = (id: string, time: number, processed: boolean): StateRecord => ({
      type: "event",
      id,
      time,
      processed,
      event: { id, time },
    });
    const path = join(dir, "m.sqlite");
    const store = SqliteStore.open(path);
    try {
      await assert.rejects(
        store.importRecords(recordsOf([...streams, event("e4", 400, true), event("e5", 500, false)]), {
          replace: false,
        }),
        (e: StateError) =>
          e.code === "E_STATE_DUMP" && /1 events that workers read but .* not processed/.test(e.message),
      );
      assert.equal(await store.loadPending(), undefined, "nothing was imported");
      const r = await store.importRecords(recordsOf([...streams, event("e4", 400, true)]), { replace: false });
      assert.equal(r.stored.output, 0, "two workers' lengths of one path: neither is this writer's");
      assert.equal(r.notes.length, 3, r.notes.join("; "));
      const merged = decodeStreamPosition((await store.loadPending()) as Uint8Array);
      assert.equal(merged.watermark, 300);
      assert.equal(merged.cut, 290);
      assert.deepEqual(
        merged.ids.map(([k, t]) => [k, t]),
        [
          [eventIdKey("e1"), 100],
          [eventIdKey("e2"), 200],
          [eventIdKey("e3"), 300],
          [eventIdKey("e4"), 400],
        ],
        "every id once, in time order",
      );
    } finally {
      await store.close();
    }
  });

  test("a state that holds data is refused, and replaced with --force; a damaged dump imports nothing", async () => {
    const dir = scratchDir();
    const src = join(dir, "src.sqlite");
    await runScan({ paths: ["testdata/sample"], statePath: src });
    const s = SqliteStore.open(src, { readOnly: true });
    await exportTo(s, join(dir, "d.jsonl"));
    await s.close();
    const target = join(dir, "t.sqlite");
    const t = SqliteStore.open(target);
    try {
      await t.commit({
        sessions: [session("old", 5)],
        deletedSessions: [],
        fleet: emptyFleet(),
        findings: [],
        objects: [],
        pending: encodeStreamPosition({ watermark: 1, cut: null, ids: [] }),
      });
      await assert.rejects(
        importFrom(t, join(dir, "d.jsonl")),
        (e: StateError) =>
          e instanceof StateError &&
          e.code === "E_STATE_NOT_EMPTY" &&
          /stream positions .* scanned objects/.test(e.message),
      );
      assert.equal(await t.sessionCount(), 1, "refused: untouched");

      const lines = readFileSync(join(dir, "d.jsonl"), "utf8").trimEnd().split("\n");
      writeFileSync(join(dir, "cut.jsonl"), `${lines.slice(0, -3).join("\n")}\n`);
      await assert.rejects(
        importFrom(t, join(dir, "cut.jsonl"), true),
        (e: StateError) => e.code === "E_STATE_DUMP" && /cut\.jsonl:\d+: .*truncated/.test(e.message),
      );
      const lied = lines.map((l) => (l.startsWith('{"type":"end"') ? l.replace('"finding":4', '"finding":5') : l));
      writeFileSync(join(dir, "lied.jsonl"), `${lied.join("\n")}\n`);
      await assert.rejects(
        importFrom(t, join(dir, "lied.jsonl"), true),
        (e: StateError) =>
          e.code === "E_STATE_DUMP" && /trailer counts 5 finding records, the dump holds 4/.test(e.message),
      );
      assert.deepEqual([...(await t.loadSessions(["old"])).keys()], ["old"], "a damaged dump changed nothing");

      const r = await importFrom(t, join(dir, "d.jsonl"), true);
      assert.equal(r.replaced.session, 1);
      assert.deepEqual(r.stored, r.read);
      assert.equal((await t.loadSessions(["old"])).size, 0, "replaced");
    } finally {
      await t.close();
    }
  });

  test("PostgreSQL: an export reads one snapshot while a worker commits", async (t) => {
    const url = await initialisedTestDatabase(t);
    const worker = await PostgresStore.open(url, { worker: "w" });
    const reader = await PostgresStore.open(url, { readOnly: true });
    try {
      const commit = (sessions: SessionState[]) =>
        worker.commit({
          sessions,
          deletedSessions: [],
          fleet: emptyFleet(),
          findings: [],
          objects: [],
          pending: encodeStreamPosition({ watermark: null, cut: null, ids: [] }),
        });
      // More sessions than one page of the export, so it reads them in several queries.
      await commit(Array.from({ length: 4500 }, (_, i) => session(`s${String(i).padStart(5, "0")}`, 10_000 + i)));
      assert.ok(reader.exportRecords);
      const it = reader.exportRecords()[Symbol.asyncIterator]();
      const seen: StateRecord[] = [];
      for (;;) {
        const n = await it.next();
        assert.ok(!n.done);
        seen.push(n.value);
        if (n.value.type === "session") break;
      }
      // A checkpoint commits meanwhile: new sessions after every key, and the newest ones deleted.
      await commit(Array.from({ length: 10 }, (_, i) => session(`z${i}`, 99_999)));
      await worker.commit({
        sessions: [],
        deletedSessions: ["s04499", "s04498"],
        fleet: emptyFleet(),
        findings: [],
        objects: [],
        pending: encodeStreamPosition({ watermark: null, cut: null, ids: [] }),
      });
      for (let n = await it.next(); !n.done; n = await it.next()) seen.push(n.value);
      const keys = seen.flatMap((r) => (r.type === "session" ? [r.key] : []));
      assert.equal(keys.length, 4500, "the sessions as they were when the export began");
      assert.ok(keys.includes("s04499") && !keys.some((k) => k.startsWith("z")));
      assert.equal(await worker.sessionCount(), 4508, "the worker's checkpoints did commit");
    } finally {
      await worker.close();
      await reader.close();
    }
  });

  test("prune drops what is older than the cut, staged events only once processed; --dry-run counts only", async (t) => {
    const url = await initialisedTestDatabase(t);
    const dir = scratchDir();
    const cut = Date.parse("2026-11-01T12:00:00Z");
    const batch = {
      sessions: [session("old", cut - 1), session("live", cut + 1)],
      deletedSessions: [],
      fleet: emptyFleet(),
      findings: ["2026-11-01T11:59:59Z", "2026-11-01T12:00:00Z"].map((time, i) => ({
        finding: { id: `f${i}`, time } as never,
        obs: {} as never,
        session: "old",
        origin: "rule" as const,
      })),
      objects: [
        { id: "old.json.gz", size: 1, mtimeMs: cut - 1000, records: 1, status: "complete" as const },
        { id: "new.json.gz", size: 1, mtimeMs: cut, records: 1, status: "complete" as const },
      ],
      pending: Buffer.alloc(0),
    };
    const sqlite = SqliteStore.open(join(dir, "p.sqlite"));
    const shared = await PostgresStore.open(url, { worker: "w" });
    try {
      await sqlite.commit(batch);
      await shared.commit(batch);
      await shared.begin();
      await shared.exchange(
        [{ id: "e-old", time: cut - 5000 } as never, { id: "e-new", time: cut + 5000 } as never],
        cut + 5000,
        10_000,
      );
      await shared.commit({ ...batch, sessions: [], findings: [], objects: [] });
      await shared.begin();
      await shared.exchange([{ id: "e-waiting", time: cut - 4000 } as never], cut - 3000, 10_000);
      await shared.commit({ ...batch, sessions: [], findings: [], objects: [] });
      for (const store of [sqlite, shared] as StateStore[]) {
        assert.ok(store.prune);
        const expected = { findings: 1, sessions: 1, objects: 1, events: store === shared ? 1 : 0 };
        assert.deepEqual(await store.prune({ before: cut, dryRun: true }), expected, `${store.location} dry run`);
        assert.deepEqual(await store.prune({ before: cut, dryRun: true }), expected, "the dry run changed nothing");
        assert.deepEqual(await store.prune({ before: cut, dryRun: false }), expected, store.location);
        assert.deepEqual(await store.prune({ before: cut, dryRun: false }), {
          findings: 0,
          sessions: 0,
          objects: 0,
          events: 0,
        });
        assert.deepEqual([...(await store.loadSessions(["old", "live"])).keys()], ["live"]);
        assert.deepEqual([...(await store.loadFindings(["f0", "f1"])).keys()], ["f1"]);
        assert.equal(await store.scannedObject("old.json.gz"), undefined, "a pruned object would be read again");
        assert.ok(await store.scannedObject("new.json.gz"));
      }
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const left = await c.query<{ id: string }>("SELECT id FROM firstcall_events ORDER BY id");
        assert.deepEqual(
          left.rows.map((r) => r.id),
          ["e-new", "e-waiting"],
          "the processed event before the cut went; the one not processed yet stays, however old",
        );
      } finally {
        await c.end();
      }
    } finally {
      await sqlite.close();
      await shared.close();
    }
  });

  test("retire-worker: refused while the worker runs; once retired, the others' events are no longer held back", async (t) => {
    const url = await initialisedTestDatabase(t);
    const empty = {
      sessions: [],
      deletedSessions: [],
      findings: [],
      objects: [],
      pending: Buffer.alloc(0),
      fleet: emptyFleet(),
    };
    const dead = await PostgresStore.open(url, { worker: "dead" });
    const live = await PostgresStore.open(url, { worker: "live" });
    const admin = await PostgresStore.open(url, { readOnly: true });
    try {
      await dead.begin();
      await dead.exchange([], 100, 10);
      await dead.commit(empty);
      await assert.rejects(
        admin.retireWorker("dead"),
        (e: StateError) => e.code === "E_STATE_BUSY" && /worker "dead" is running/.test(e.message),
      );
      await assert.rejects(admin.retireWorker("nobody"), (e: StateError) =>
        /no worker named "nobody" \(workers: dead, live\)/.test(e.message),
      );
      await dead.close(); // killed: its position (100) stays and holds the others back
      await live.begin();
      const held = await live.exchange([{ id: "e1", time: 500 } as never], 1000, 10);
      await live.commit(empty);
      assert.deepEqual(held.events, [], "held back by the dead worker's position");
      const r = await admin.retireWorker("dead");
      assert.deepEqual(r, {
        worker: "dead",
        alreadyFinished: false,
        readPosition: new Date(100).toISOString(),
        stillRunning: ["live"],
        waitingEvents: 1,
      });
      await live.begin();
      const freed = await live.exchange([], 1000, 10);
      await live.commit(empty);
      assert.deepEqual(
        freed.events.map((e) => e.id),
        ["e1"],
      );
      assert.equal((await admin.retireWorker("dead")).alreadyFinished, true, "a second retire changes nothing");
    } finally {
      await live.close();
      await admin.close();
    }
  });
});
