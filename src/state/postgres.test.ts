/**
 * The PostgreSQL store against a real server (FIRSTCALL_TEST_PG, else 127.0.0.1:5432): schema
 * migrations (twice, and two at once), what a scan says on an uninitialised database, the store
 * contract (what a checkpoint commits is what loads), one live process per worker name, passwords
 * kept out of messages, and the event exchange that orders all workers' events.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import type { EngineEvent } from "../engine/event.js";
import { BINARY_SESSION_MARK } from "../engine/session-binary.js";
import { emptyFleet, encodeSessionJson, type SessionState } from "../engine/state.js";
import type { StateError } from "../errors.js";
import { runScan } from "../pipeline/scan.js";
import { backToSchema1, initialisedTestDatabase, testDatabase } from "../test-helpers/postgres.js";
import { storeContract } from "../test-helpers/store-contract.js";
import { inspectPostgres, migratePostgres, PG_SCHEMA_VERSION, PostgresStore, redactUrl } from "./postgres.js";

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

function event(id: string, time: number): EngineEvent {
  return {
    id,
    time,
    timeIso: new Date(time).toISOString(),
    name: "GetObject",
    source: "s3.amazonaws.com",
    region: "us-east-1",
    account: "111122223333",
    sourceIp: "198.51.100.7",
  };
}

const emptyCommit = { sessions: [], deletedSessions: [], findings: [], objects: [], pending: Buffer.from("") };

describe("PostgreSQL store", () => {
  test("state init creates the schema once, also when two run at once; a second run changes nothing", async (t) => {
    const { url, server } = await testDatabase();
    t.diagnostic(`PostgreSQL server: ${server}`);
    const both = await Promise.all([migratePostgres(url), migratePostgres(url)]);
    assert.deepEqual(both.map((r) => r.to).sort(), [PG_SCHEMA_VERSION, PG_SCHEMA_VERSION]);
    assert.deepEqual(both.map((r) => r.from).sort(), [0, PG_SCHEMA_VERSION], "one created it, the other found it done");
    assert.deepEqual(await migratePostgres(url), { from: PG_SCHEMA_VERSION, to: PG_SCHEMA_VERSION });
    const info = await inspectPostgres(url);
    assert.equal(info.schemaVersion, PG_SCHEMA_VERSION);
    assert.equal(info.sessions, 0);
  });

  test("a schema 1 database (objects without ETag) is migrated to the current schema by state init, keeping its rows", async (t) => {
    const url = await initialisedTestDatabase(t);
    await backToSchema1(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("INSERT INTO firstcall_objects VALUES ('s3://b/k', 10, 5, 3, 'complete', now(), 'w')");
    } finally {
      await c.end();
    }
    await assert.rejects(PostgresStore.open(url), (e: StateError) => e.code === "E_STATE_VERSION");
    // Inspect still reads it (to say which schema it is), without the tables it does not have yet.
    const old = await inspectPostgres(url);
    assert.deepEqual([old.schemaVersion, old.objects, old.statuses, old.outbox], [1, 1, undefined, undefined]);
    assert.deepEqual(await migratePostgres(url), { from: 1, to: PG_SCHEMA_VERSION });
    assert.deepEqual((await inspectPostgres(url)).outbox, { pending: 0, delivered: 0, skipped: 0, rejected: 0 });
    const store = await PostgresStore.open(url);
    try {
      assert.deepEqual(await store.scannedObject("s3://b/k"), {
        id: "s3://b/k",
        size: 10,
        mtimeMs: 5,
        records: 3,
        status: "complete",
      });
    } finally {
      await store.close();
    }
  });

  test("schema 1 → current: JSON session documents stay readable; changed sessions are written binary", async (t) => {
    const url = await initialisedTestDatabase(t);
    // Back to what schema 1 held: its version row and a deflated JSON session document.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const old = session("s1", 5_000_000);
    const stored = async () =>
      (await client.query<{ data: Buffer }>("SELECT data FROM firstcall_sessions WHERE key = 's1'")).rows[0]?.data;
    try {
      await backToSchema1(url);
      await client.query("INSERT INTO firstcall_sessions (key, valid_until, data) VALUES ('s1', $1, $2)", [
        5_000_000,
        encodeSessionJson(old),
      ]);
      await assert.rejects(
        PostgresStore.open(url, { worker: "w" }),
        new RegExp(`state schema 1, this firstcall needs ${PG_SCHEMA_VERSION}`),
      );
      assert.deepEqual(await migratePostgres(url), { from: 1, to: PG_SCHEMA_VERSION });
      const store = await PostgresStore.open(url, { worker: "w" });
      try {
        assert.deepEqual((await store.loadSessions(["s1"])).get("s1"), old);
        assert.notEqual((await stored())?.[0], BINARY_SESSION_MARK, "not rewritten by the migration");
        const changed = session("s1", 6_000_000);
        await store.commit({ ...emptyCommit, fleet: emptyFleet(), sessions: [changed] });
        assert.deepEqual((await store.loadSessions(["s1"])).get("s1"), changed);
        assert.equal((await stored())?.[0], BINARY_SESSION_MARK);
      } finally {
        await store.close();
      }
    } finally {
      await client.end();
    }
  });

  test("a scan on an uninitialised database refuses and says what to run", async (t) => {
    const { url, server } = await testDatabase();
    t.diagnostic(`PostgreSQL server: ${server}`);
    await assert.rejects(
      runScan({ paths: ["testdata/sample"], statePath: url }),
      (e: StateError) =>
        e.code === "E_STATE_SCHEMA" && e.message.includes(`firstcall state init --state ${redactUrl(url)}`),
    );
    assert.equal((await inspectPostgres(url)).schemaVersion, 0, "nothing was created by the scan");
  });

  test("what a checkpoint commits loads back; outputs and positions are per worker", async (t) => {
    const url = await initialisedTestDatabase(t);
    const a = await PostgresStore.open(url, { worker: "a" });
    const b = await PostgresStore.open(url, { worker: "b" });
    try {
      const fleet = emptyFleet();
      fleet.accounts.add("111122223333");
      fleet.egress.set("198.51.100.1", "111122223333");
      await a.commit({
        ...emptyCommit,
        sessions: [session("s1", 5_000_000), session("s2", 9_000_000)],
        fleet,
        objects: [{ id: "o1.json.gz", size: 10, mtimeMs: 1.5, records: 3, status: "complete" }],
        pending: Buffer.from("position-a"),
        outputs: [{ path: "out.jsonl", bytes: 42 }],
        settingsFingerprint: "fp",
      });
      assert.deepEqual([...(await b.loadSessions(["s1", "s2", "s3"])).keys()].sort(), ["s1", "s2"]);
      assert.deepEqual((await b.loadSessions(["s1"])).get("s1"), session("s1", 5_000_000));
      assert.deepEqual([...(await b.loadFleet()).egress], [["198.51.100.1", "111122223333"]]);
      assert.deepEqual(await b.scannedObject("o1.json.gz"), {
        id: "o1.json.gz",
        size: 10,
        mtimeMs: 1.5,
        records: 3,
        status: "complete",
      });
      assert.deepEqual([...(await b.scannedObjects(["o1.json.gz", "o2.json.gz"])).keys()], ["o1.json.gz"]);
      assert.equal(await b.settingsFingerprint(), "fp");
      assert.equal(await a.outputBytes("out.jsonl"), 42);
      assert.equal(await b.outputBytes("out.jsonl"), undefined, "b's out.jsonl is another file");
      assert.equal(Buffer.from((await a.loadPending()) ?? []).toString(), "position-a");
      assert.equal(await b.loadPending(), undefined);
      await b.commit({ ...emptyCommit, fleet, deletedSessions: ["s1"], pruneSessionsBefore: 9_500_000 });
      assert.equal(await a.sessionCount(), 0, "deleted, and pruned by validity");
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("one live process per worker name; the name is free again once it closes", async (t) => {
    const url = await initialisedTestDatabase(t);
    const first = await PostgresStore.open(url, { worker: "w" });
    await assert.rejects(PostgresStore.open(url, { worker: "w" }), (e: StateError) => e.code === "E_STATE_LOCKED");
    await first.close();
    await (await PostgresStore.open(url, { worker: "w" })).close();
  });

  test("a password never shows in the location", () => {
    assert.equal(redactUrl("postgres://me:s3cret@db:5432/fc"), "postgres://me:***@db:5432/fc");
    assert.ok(!redactUrl("postgresql://me:s%40cret@db/fc").includes("cret"));
  });

  test("exchange: duplicates count once; events wait until every running worker has read past them", async (t) => {
    const url = await initialisedTestDatabase(t);
    const a = await PostgresStore.open(url, { worker: "a" });
    const b = await PostgresStore.open(url, { worker: "b" });
    const lateness = 10;
    const exchange = async (s: PostgresStore, events: EngineEvent[], position: number) => {
      await s.begin();
      const r = await s.exchange(events, position, lateness);
      await s.commit({ ...emptyCommit, fleet: emptyFleet() });
      return { ids: r.events.map((e) => e.id).sort(), ended: r.ended };
    };
    try {
      // b has read nothing yet: nothing may be processed.
      assert.deepEqual(await exchange(a, [event("e1", 135), event("e2", 200)], 200), { ids: [], ended: false });
      // b has read up to 150: only what is older than 150 - lateness goes.
      assert.deepEqual(await exchange(b, [event("e1", 135), event("e3", 120)], 150), {
        ids: ["e1", "e3"],
        ended: false,
      });
      // a's input ends; b still runs at 150.
      assert.deepEqual(await exchange(a, [], Number.POSITIVE_INFINITY), { ids: [], ended: false });
      // b's input ends: everything left goes, and the input has ended. e1 (a re-delivered copy within the lateness of the processed position) never again.
      assert.deepEqual(await exchange(b, [event("e1", 135), event("e4", 300)], Number.POSITIVE_INFINITY), {
        ids: ["e2", "e4"],
        ended: true,
      });
      // At the end, processed events are kept one lateness behind the newest, as one process keeps ids.
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const staged = await c.query<{ id: string }>("SELECT id FROM firstcall_events ORDER BY id");
        assert.deepEqual(
          staged.rows.map((r) => r.id),
          ["e4"],
        );
      } finally {
        await c.end();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("an ephemeral worker (a Lambda invocation) holds no one back, leaves no row, and is held by registered workers", async (t) => {
    const url = await initialisedTestDatabase(t);
    const lateness = 10;
    const exchange = async (s: PostgresStore, events: EngineEvent[], position: number, holdMs?: number) => {
      await s.begin();
      const r = await s.exchange(events, position, lateness, holdMs);
      await s.commit({ ...emptyCommit, fleet: emptyFleet() });
      return { ids: r.events.map((e) => e.id).sort(), ended: r.ended };
    };
    const streamRows = async () => (await inspectPostgres(url)).workers?.map((w) => w.worker) ?? [];
    // Two invocations at once, even under one name (no name lock): neither registers, neither blocks.
    const e1 = await PostgresStore.open(url, { worker: "2026/12/02/[$LATEST]aaaa", ephemeral: true });
    const e2 = await PostgresStore.open(url, { worker: "2026/12/02/[$LATEST]aaaa", ephemeral: true });
    try {
      assert.deepEqual(await streamRows(), [], "no stream row");
      // Alone, an invocation processes what it stages; the end of its batch is reported as `ended`
      // (the pipeline does not take it as the input's end: LiveSource.endIsFinal).
      assert.deepEqual(await exchange(e1, [event("x1", 100), event("x2", 200)], Number.POSITIVE_INFINITY), {
        ids: ["x1", "x2"],
        ended: true,
      });
      // A redelivered event within the lateness counts once.
      assert.deepEqual(await exchange(e2, [event("x2", 200), event("x3", 205)], Number.POSITIVE_INFINITY), {
        ids: ["x3"],
        ended: true,
      });
      // A registered watch runs at 300 (live: no hold): the invocation's newer events wait for it.
      const w = await PostgresStore.open(url, { worker: "watcher" });
      try {
        assert.deepEqual(await exchange(w, [event("w1", 300)], 300, 0), { ids: ["w1"], ended: false });
        assert.deepEqual(await exchange(e1, [event("x4", 250), event("x5", 400)], Number.POSITIVE_INFINITY), {
          ids: ["x4"],
          ended: false,
        });
        assert.deepEqual(await exchange(w, [], 450, 0), { ids: ["x5"], ended: false });
        // Its input ends: it no longer holds anyone.
        assert.deepEqual(await exchange(w, [], Number.POSITIVE_INFINITY, 0), { ids: [], ended: true });
      } finally {
        await w.close();
      }
      assert.deepEqual(await streamRows(), ["watcher"]);
    } finally {
      await e1.close();
      await e2.close();
    }
    // With no worker running, processed ids older than the newest processed minus the lateness go.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const e3 = await PostgresStore.open(url, { worker: "w", ephemeral: true });
      assert.deepEqual(await exchange(e3, [event("z0", 500), event("z1", 1000)], Number.POSITIVE_INFINITY), {
        ids: ["z0", "z1"],
        ended: true,
      });
      await e3.close();
      const left = await client.query<{ id: string }>("SELECT id FROM firstcall_events ORDER BY id");
      assert.deepEqual(
        left.rows.map((r) => r.id),
        ["z1"],
        "only the ids within the lateness of the newest processed (1000)",
      );
    } finally {
      await client.end();
    }
  });
});

storeContract(
  "PostgreSQL",
  async () => {
    const { url, server } = await testDatabase();
    await migratePostgres(url);
    // The database is dropped when the file's tests end (testDatabase).
    return {
      open: (worker) => PostgresStore.open(url, { worker: worker ?? "default" }),
      cleanup: async () => {},
      server,
    };
  },
  { persistent: true, shared: true },
);
