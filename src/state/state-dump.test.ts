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
    for (const t of [
      "meta",
      "sessions",
      "findings",
      "objects",
      "finding_statuses",
      "finding_status_history",
      "outbox",
    ]) {
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

const SLACK = "slack:0123456789abcdef";
const WEBHOOK = "webhook:fedcba9876543210";

/**
 * What people and deliveries add to a state: f0 acknowledged then suppressed, f1 suppressed then
 * reopened, f2 acknowledged; six outbox rows (f0 → Slack made due twice: generation 2), one
 * delivered, one rejected, one skipped, one pending after three failed attempts, two never tried.
 */
async function addStatusesAndDeliveries(store: StateStore, [f0, f1, f2]: readonly [string, string, string]) {
  assert.ok(store.setFindingStatus && store.outbox);
  const set = (id: string, status: "open" | "acknowledged" | "suppressed", reason: string, at: string) =>
    store.setFindingStatus?.({ id, status, reason, actor: "alice", at });
  await set(f0, "acknowledged", "looking", "2026-11-02T09:00:00.000Z");
  await set(f1, "suppressed", "known scanner", "2026-11-02T09:01:00.000Z");
  await set(f0, "suppressed", "red team SEC-123", "2026-11-02T09:02:00.000Z");
  await set(f1, "open", "", "2026-11-02T09:03:00.000Z");
  await set(f2, "acknowledged", "on it\nticket 42", "2026-11-02T09:04:00.000Z");
  const commit = async (outbox: { findingId: string; destination: string }[]) => {
    await store.commit({
      sessions: [],
      deletedSessions: [],
      fleet: await store.loadFleet(),
      findings: [],
      objects: [],
      pending: (await store.loadPending()) ?? Buffer.alloc(0),
      outbox,
    });
  };
  await commit(
    [f0, f1, f2].flatMap((findingId) => [SLACK, WEBHOOK].map((destination) => ({ findingId, destination }))),
  );
  await commit([{ findingId: f0, destination: SLACK }]); // due again: generation 2
  const rows = await store.outbox.claimDeliveries([SLACK, WEBHOOK], 100);
  const want = new Map<
    string,
    { state: "pending" | "delivered" | "skipped" | "rejected"; attempts: number; message?: string }
  >([
    [`${f0} ${WEBHOOK}`, { state: "delivered", attempts: 1 }],
    [`${f1} ${SLACK}`, { state: "rejected", attempts: 1, message: "HTTP 400: invalid_payload" }],
    [`${f2} ${SLACK}`, { state: "skipped", attempts: 0, message: "suppressed: pentest" }],
    [`${f1} ${WEBHOOK}`, { state: "pending", attempts: 3, message: "HTTP 503" }],
  ]);
  await store.outbox.settleDeliveries(
    rows
      .filter((r) => want.has(`${r.findingId} ${r.destination}`))
      .map(
        (r) =>
          ({
            findingId: r.findingId,
            destination: r.destination,
            generation: r.generation,
            ...want.get(`${r.findingId} ${r.destination}`),
          }) as never,
      ),
  );
}

/** "finding destination generation" of the pending outbox rows of a SQLite state, sorted. */
function pendingRows(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare("SELECT finding_id, destination, generation FROM outbox WHERE state = 'pending'").all() as {
        finding_id: string;
        destination: string;
        generation: number;
      }[]
    )
      .map((r) => `${r.finding_id} ${r.destination} ${r.generation}`)
      .sort();
  } finally {
    db.close();
  }
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
    const ids = (await store.allFindings()).map((f) => f.finding.id).sort();
    assert.ok(ids.length >= 3, `the sample has findings to decide about (${ids.length})`);
    const [f0, f1, f2] = ids as [string, string, string];
    await addStatusesAndDeliveries(store, [f0, f1, f2]);
    const before = sqliteRows(a);
    assert.equal(before.finding_statuses?.length, 2);
    assert.equal(before.finding_status_history?.length, 5);
    assert.equal(before.outbox?.length, 6);
    const owed = pendingRows(a);
    assert.equal(owed.length, 3, "three deliveries still owed");
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
      assert.deepEqual(
        { status: imported.stored.status, history: imported.stored.history, outbox: imported.stored.outbox },
        { status: 2, history: 5, outbox: 6 },
      );
      assert.deepEqual(
        (await shared.findingStatusHistory?.(f0))?.map((s) => s.status),
        ["acknowledged", "suppressed"],
        "the audit trail in the order it was made",
      );
      assert.equal((await shared.findingStatuses?.([f1]))?.size, 0, "reopened: no latest status");
      await exportTo(shared, join(dir, "b.jsonl"));
    } finally {
      await shared.close();
    }
    // The shared state owes exactly what the SQLite state owed: pending stays pending (any worker
    // takes it), delivered, skipped and rejected are not sent again, the suppression still holds.
    const worker = await PostgresStore.open(url, { worker: "after-import" });
    try {
      const due = await worker.outbox.claimDeliveries([SLACK, WEBHOOK], 100);
      assert.deepEqual(
        due.map((r) => `${r.findingId} ${r.destination} ${r.generation}`).sort(),
        owed,
        "the rows a worker takes",
      );
      assert.equal(
        due.find((r) => r.findingId === f0)?.suppressed,
        "red team SEC-123",
        "a suppressed finding's row is skipped, not sent",
      );
    } finally {
      await worker.close();
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
    assert.deepEqual(
      sqliteRows(c),
      before,
      "findings, sessions, fleet, objects, stream position, settings, statuses, status history, outbox: identical",
    );
    const back2 = SqliteStore.open(c);
    try {
      const due = await back2.outbox?.claimDeliveries([SLACK, WEBHOOK], 100);
      assert.deepEqual(due?.map((r) => `${r.findingId} ${r.destination} ${r.generation}`).sort(), owed);
    } finally {
      await back2.close();
    }
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
        const none = { statuses: 0, statusHistory: 0, outbox: 0, keptPending: 0 };
        const expected = { findings: 1, sessions: 1, objects: 1, events: store === shared ? 1 : 0, ...none };
        assert.deepEqual(await store.prune({ before: cut, dryRun: true }), expected, `${store.location} dry run`);
        assert.deepEqual(await store.prune({ before: cut, dryRun: true }), expected, "the dry run changed nothing");
        assert.deepEqual(await store.prune({ before: cut, dryRun: false }), expected, store.location);
        assert.deepEqual(await store.prune({ before: cut, dryRun: false }), {
          findings: 0,
          sessions: 0,
          objects: 0,
          events: 0,
          ...none,
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

  test("prune: a finding goes with its statuses, history and settled deliveries; one still owed is kept and counted", async (t) => {
    const url = await initialisedTestDatabase(t);
    const dir = scratchDir();
    // Settled rows are dropped by when they were last changed (now): the cut is a minute ahead, and
    // the finding that must stay is from a later time than that.
    const cut = Date.now() + 60_000;
    const finding = (id: string, time: string) => ({
      finding: { id, time } as never,
      obs: {} as never,
      session: "s",
      origin: "rule" as const,
    });
    const batch = {
      sessions: [],
      deletedSessions: [],
      fleet: emptyFleet(),
      findings: [
        finding("old-decided", "2026-11-01T03:10:00Z"),
        finding("old-owed", "2026-11-01T03:11:00Z"),
        finding("old-plain", "2026-11-01T03:12:00Z"),
        finding("later", "2099-01-01T00:00:00Z"),
      ],
      objects: [],
      pending: Buffer.alloc(0),
      outbox: [
        { findingId: "old-decided", destination: SLACK },
        { findingId: "old-owed", destination: SLACK },
        { findingId: "later", destination: SLACK },
        { findingId: "later", destination: WEBHOOK },
      ],
    };
    const sqlite = SqliteStore.open(join(dir, "p.sqlite"));
    const shared = await PostgresStore.open(url, { worker: "w" });
    try {
      await sqlite.commit(batch);
      await shared.begin();
      await shared.commit(batch);
      for (const store of [sqlite, shared] as StateStore[]) {
        assert.ok(store.prune && store.outbox && store.setFindingStatus);
        const at = "2026-11-02T00:00:00.000Z";
        await store.setFindingStatus({ id: "old-decided", status: "acknowledged", reason: "a", actor: "bob", at });
        await store.setFindingStatus({ id: "old-decided", status: "suppressed", reason: "b", actor: "bob", at });
        await store.setFindingStatus({ id: "old-owed", status: "acknowledged", reason: "c", actor: "bob", at });
        await store.setFindingStatus({ id: "later", status: "acknowledged", reason: "d", actor: "bob", at });
        // Delivered to Slack: old-decided and later; old-owed's Slack row fails and stays owed.
        const rows = await store.outbox.claimDeliveries([SLACK, WEBHOOK], 100);
        await store.outbox.settleDeliveries(
          rows.map((r) => ({
            findingId: r.findingId,
            destination: r.destination,
            generation: r.generation,
            state: r.destination === SLACK && r.findingId !== "old-owed" ? "delivered" : "pending",
            attempts: 1,
            message: r.findingId === "old-owed" ? "HTTP 503" : undefined,
          })),
        );
        const expected = {
          findings: 2, // old-decided, old-plain
          sessions: 0,
          objects: 0,
          events: 0,
          statuses: 1, // old-decided's
          statusHistory: 2,
          outbox: 2, // old-decided's row (with its finding) and later's delivered row (settled before the cut)
          keptPending: 1, // old-owed: its Slack delivery is still owed
        };
        assert.deepEqual(await store.prune({ before: cut, dryRun: true }), expected, `${store.location} dry run`);
        assert.deepEqual(await store.prune({ before: cut, dryRun: false }), expected, store.location);
        assert.deepEqual(
          [...(await store.loadFindings(["old-decided", "old-owed", "old-plain", "later"])).keys()].sort(),
          ["later", "old-owed"],
        );
        assert.deepEqual([...((await store.findingStatuses?.()) ?? new Map()).keys()].sort(), ["later", "old-owed"]);
        assert.deepEqual(
          await store.findingStatusHistory?.("old-decided"),
          [],
          "the audit trail went with its finding",
        );
        assert.equal((await store.findingStatusHistory?.("old-owed"))?.length, 1);
        const owed = await store.outbox.claimDeliveries([SLACK, WEBHOOK], 100);
        assert.deepEqual(
          owed.map((r) => `${r.findingId} ${r.destination}`).sort(),
          [`later ${WEBHOOK}`, `old-owed ${SLACK}`],
          "every delivery still owed is still owed",
        );
        const again = await store.prune({ before: cut, dryRun: false });
        assert.deepEqual(
          again,
          { ...expected, findings: 0, statuses: 0, statusHistory: 0, outbox: 0 },
          "a second prune drops nothing and reports the kept finding again",
        );
        assert.equal(again.keptPending, 1);
      }
    } finally {
      await sqlite.close();
      await shared.close();
    }
  });

  test("outbox rows across PostgreSQL → SQLite → PostgreSQL: a row a live worker has claimed is exported pending and unclaimed", async (t) => {
    const url = await initialisedTestDatabase(t);
    const second = { url: await initialisedTestDatabase(t) };
    const dir = scratchDir();
    const finding = (id: string) => ({
      finding: { id, time: "2026-11-01T03:10:00Z" } as never,
      obs: {} as never,
      session: "s",
      origin: "rule" as const,
    });
    const worker = await PostgresStore.open(url, { worker: "sender" });
    try {
      await worker.begin();
      await worker.commit({
        sessions: [],
        deletedSessions: [],
        fleet: emptyFleet(),
        findings: [finding("sent"), finding("in-flight")],
        objects: [],
        pending: encodeStreamPosition({ watermark: 1_700_000_000_000, cut: 1_699_999_000_000, ids: [] }),
        outbox: [
          { findingId: "sent", destination: SLACK },
          { findingId: "in-flight", destination: SLACK },
        ],
      });
      const claimed = await worker.outbox.claimDeliveries([SLACK], 10);
      assert.equal(claimed.length, 2);
      const sent = claimed.find((r) => r.findingId === "sent");
      assert.ok(sent);
      await worker.outbox.settleDeliveries([{ ...sent, state: "delivered", attempts: 1 }]);
      // "in-flight" stays claimed by the live worker (its send not answered yet) while the export runs.
      const admin = await PostgresStore.open(url, { readOnly: true });
      try {
        await exportTo(admin, join(dir, "pg.jsonl"));
      } finally {
        await admin.close();
      }
    } finally {
      await worker.close();
    }
    const outboxLines = readFileSync(join(dir, "pg.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.includes('"type":"outbox"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      outboxLines.map((r) => [r.findingId, r.state, r.attempts, "claimedBy" in r || "claimed_by" in r]),
      [
        ["sent", "delivered", 1, false],
        ["in-flight", "pending", 0, false],
      ],
      "oldest first; the claim is not carried",
    );
    const path = join(dir, "home.sqlite");
    const home = SqliteStore.open(path);
    try {
      await importFrom(home, join(dir, "pg.jsonl"));
      const due = await home.outbox?.claimDeliveries([SLACK], 10);
      assert.deepEqual(
        due?.map((r) => r.findingId),
        ["in-flight"],
        "the owed delivery is owed by the SQLite state; the delivered one is not sent again",
      );
      await exportTo(home, join(dir, "home.jsonl"));
    } finally {
      await home.close();
    }
    const away = await PostgresStore.open(second.url, { readOnly: true });
    try {
      await importFrom(away, join(dir, "home.jsonl"));
    } finally {
      await away.close();
    }
    const other = await PostgresStore.open(second.url, { worker: "another" });
    try {
      const due = await other.outbox.claimDeliveries([SLACK], 10);
      assert.deepEqual(
        due.map((r) => r.findingId),
        ["in-flight"],
        "back on PostgreSQL any worker takes it: no claim of a process that is gone",
      );
    } finally {
      await other.close();
    }
  });

  test("a version 1 dump (before statuses and the outbox) still imports; a newer version is refused", async () => {
    const dir = scratchDir();
    const lines = [
      JSON.stringify({ format: "firstcall.state-dump", version: 1, ...header }),
      JSON.stringify({ type: "settings", fingerprint: "abc" }),
      JSON.stringify({
        type: "finding",
        id: "f1",
        time: "2026-11-01T03:10:00Z",
        updatedAt: "2026-11-01T03:20:00.000Z",
        worker: null,
        doc: { finding: { id: "f1", time: "2026-11-01T03:10:00Z" } },
      }),
      // The trailer of version 1 names only the types it had.
      JSON.stringify({
        type: "end",
        counts: { fleet: 0, settings: 1, stream: 0, output: 0, session: 0, finding: 1, object: 0, event: 0 },
      }),
    ];
    writeFileSync(join(dir, "v1.jsonl"), `${lines.join("\n")}\n`);
    const store = SqliteStore.open(join(dir, "v1.sqlite"));
    try {
      const r = await importFrom(store, join(dir, "v1.jsonl"));
      assert.equal(r.stored.finding, 1);
      assert.deepEqual([r.stored.status, r.stored.history, r.stored.outbox], [0, 0, 0]);
      assert.deepEqual([...(await store.loadFindings(["f1"])).keys()], ["f1"]);
    } finally {
      await store.close();
    }
    writeFileSync(
      join(dir, "v9.jsonl"),
      lines.map((l, i) => (i === 0 ? l.replace('"version":1', '"version":9') : l)).join("\n"),
    );
    await assert.rejects(openDump(join(dir, "v9.jsonl")), (e: StateError) =>
      /dump format version 9, this firstcall reads 2: upgrade firstcall/.test(e.message),
    );
    // A status a store would refuse is refused in a dump too (naming the line).
    const bad = [
      lines[0]?.replace('"version":1', '"version":2'),
      JSON.stringify({
        type: "status",
        id: "f1",
        status: "suppressed",
        reason: " ",
        actor: "x",
        at: "2026-11-01T00:00:00Z",
      }),
      JSON.stringify({ type: "end", counts: { status: 1 } }),
    ];
    writeFileSync(join(dir, "bad.jsonl"), `${bad.join("\n")}\n`);
    const target = SqliteStore.open(join(dir, "bad.sqlite"));
    try {
      await assert.rejects(
        importFrom(target, join(dir, "bad.jsonl")),
        (e: StateError) =>
          e.code === "E_STATE_DUMP" && /bad\.jsonl:2: a status record: a reason is required/.test(e.message),
      );
    } finally {
      await target.close();
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
