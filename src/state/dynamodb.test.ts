/**
 * The DynamoDB store against dynalite (a DynamoDB API server on a loopback port): table creation
 * (twice, and two at once), what a scan says on a table that is not initialised, the store contract
 * (src/test-helpers/store-contract.ts), documents larger than an item, a checkpoint whose worker dies
 * after its commit marker (rolled forward) or before it (discarded), one live process per worker
 * name, and no secret in the printed location.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import type { EngineEvent } from "../engine/event.js";
import { emptyFleet, type SessionState } from "../engine/state.js";
import type { StateError } from "../errors.js";
import { initialisedTestTable, testTable } from "../test-helpers/dynamodb.js";
import { storeContract } from "../test-helpers/store-contract.js";
import {
  DYNAMO_SCHEMA_VERSION,
  DynamoStore,
  initDynamo,
  inspectDynamo,
  parseDynamoUrl,
  redactDynamoUrl,
} from "./dynamodb.js";
import { SqliteStore } from "./sqlite.js";
import type { FindingStatus, StateRecord } from "./store.js";
import { encodeStreamPosition, eventIdKey } from "./stream-position.js";

storeContract(
  "DynamoDB",
  async () => {
    const { url, server } = await testTable("&lease=2");
    await initDynamo(url);
    return {
      open: (worker) => DynamoStore.open(url, { worker: worker ?? "default" }),
      cleanup: async () => {},
      server,
    };
  },
  { persistent: true, shared: true },
);

storeContract(
  "DynamoDB, every document split into parts",
  async () => {
    const { url, server } = await testTable("&lease=2");
    await initDynamo(url);
    return {
      open: (worker) => DynamoStore.open(url, { worker: worker ?? "default", inlineBytes: 40 }),
      cleanup: async () => {},
      server,
    };
  },
  { persistent: true, shared: true },
);

async function* replay(rs: StateRecord[]): AsyncGenerator<StateRecord> {
  yield* rs;
}

describe("DynamoDB store", () => {
  test("state init creates the table once, also when two run at once; a second run changes nothing", async (t) => {
    const { url, server } = await testTable();
    t.diagnostic(server);
    assert.equal((await inspectDynamo(url)).schemaVersion, 0);
    const both = await Promise.all([initDynamo(url), initDynamo(url)]);
    assert.deepEqual(
      both.map((r) => r.to),
      [DYNAMO_SCHEMA_VERSION, DYNAMO_SCHEMA_VERSION],
    );
    assert.deepEqual(await initDynamo(url), { from: DYNAMO_SCHEMA_VERSION, to: DYNAMO_SCHEMA_VERSION });
    const info = await inspectDynamo(url);
    assert.equal(info.kind, "dynamodb");
    assert.equal(info.schemaVersion, DYNAMO_SCHEMA_VERSION);
    assert.equal(info.sessions, 0);
  });

  test("a store on a table that is not initialised refuses and says what to run", async (t) => {
    const { url, server } = await testTable();
    t.diagnostic(server);
    await assert.rejects(
      DynamoStore.open(url),
      (e: StateError) =>
        e.code === "E_STATE_SCHEMA" && e.message.includes(`firstcall state init --state ${redactDynamoUrl(url)}`),
    );
  });

  test("one live process per worker name; the name is free again once it closes", async (t) => {
    const { url, server } = await testTable("&lease=1");
    t.diagnostic(server);
    await initDynamo(url);
    const first = await DynamoStore.open(url, { worker: "w" });
    await assert.rejects(DynamoStore.open(url, { worker: "w" }), (e: StateError) => e.code === "E_STATE_LOCKED");
    await first.close();
    await (await DynamoStore.open(url, { worker: "w" })).close();
  });

  test("URLs: parameters are checked, an endpoint's password never shows", () => {
    assert.deepEqual(parseDynamoUrl("dynamodb://firstcall-state?region=eu-west-1"), {
      table: "firstcall-state",
      region: "eu-west-1",
      leaseMs: 10_000,
    });
    assert.throws(
      () => parseDynamoUrl("dynamodb://ab"),
      (e: StateError) => e.code === "E_STATE",
    );
    assert.throws(() => parseDynamoUrl("dynamodb://table?regoin=x"), /unknown parameter "regoin"/);
    const shown = redactDynamoUrl("dynamodb://t1?endpoint=http://me:s3cret@127.0.0.1:8000&region=x");
    assert.ok(!shown.includes("s3cret"), shown);
  });

  test("a worker that dies after its commit marker is rolled forward; one that dies before it leaves nothing", async (t) => {
    const { url, server } = await testTable("&lease=1");
    t.diagnostic(server);
    await initDynamo(url);
    const session = (k: string): SessionState => ({
      key: k,
      kind: "ec2-instance",
      arn: k,
      sessionName: k,
      account: "111122223333",
      lifetimes: [{ start: 0, validUntil: 9_000_000, covered: true, direct: new Map(), endpoint: new Map() }],
    });
    const event = (id: string, time: number): EngineEvent => ({
      id,
      time,
      timeIso: new Date(time).toISOString(),
      name: "GetObject",
      source: "s3.amazonaws.com",
      region: "us-east-1",
      account: "111122223333",
      sourceIp: "198.51.100.7",
    });
    const commit = (store: DynamoStore, keys: string[], objects: string[]) =>
      store.commit({
        sessions: keys.map(session),
        deletedSessions: [],
        fleet: emptyFleet(),
        findings: [],
        objects: objects.map((id) => ({ id, size: 1, mtimeMs: 1, records: 1, status: "complete" as const })),
        pending: Buffer.from("p"),
      });
    // The process "dies" at a chosen point: every later request fails and it never releases the lock.
    const dieAfter = (store: DynamoStore, writes: number) => {
      const s = store as unknown as {
        batchWrite(ops: unknown[]): Promise<void>;
        send(c: unknown, l?: boolean): Promise<unknown>;
        release(): Promise<void>;
      };
      const batchWrite = s.batchWrite.bind(s);
      const send = s.send.bind(s);
      let left = writes;
      let dead = false;
      s.batchWrite = async (ops) => {
        if (dead || left-- <= 0) {
          dead = true;
          throw new Error("killed");
        }
        await batchWrite(ops);
        if (left <= 0) dead = true;
      };
      s.send = async (c, l) => {
        if (dead) throw new Error("killed");
        return send(c, l);
      };
      s.release = async () => {};
    };

    // a: redo log and commit marker written, killed before applying them.
    const a = await DynamoStore.open(url, { worker: "a" });
    await a.begin();
    await a.exchange([event("e1", 100)], 200, 10);
    const s = a as unknown as { batchWrite(ops: unknown[]): Promise<void>; release(): Promise<void> };
    const batchWrite = s.batchWrite.bind(s);
    let calls = 0;
    s.batchWrite = async (ops) => {
      if (++calls === 2) throw new Error("killed"); // the first writes the redo log, the second would apply it
      await batchWrite(ops);
    };
    s.release = async () => {};
    await assert.rejects(commit(a, ["s-a"], ["o-a"]), /killed/);
    assert.equal(await a.scannedObject("o-a"), undefined, "not applied yet");
    await a.close();

    // b takes the lock once a's lease and the grace period are over, and applies a's checkpoint first.
    const started = Date.now();
    const b = await DynamoStore.open(url, { worker: "b" });
    t.diagnostic(`taken over after ${Date.now() - started} ms`);
    const start = await b.begin();
    assert.deepEqual(start.fleet, emptyFleet());
    assert.ok((await b.loadSessions(["s-a"])).has("s-a"), "a's committed checkpoint was rolled forward");
    assert.ok(await b.scannedObject("o-a"));
    assert.equal(await b.sessionCount(), 1);
    // b writes its redo log and dies before its commit marker.
    await b.exchange([event("e2", 150)], Number.POSITIVE_INFINITY, 10);
    dieAfter(b, 1);
    await assert.rejects(commit(b, ["s-b"], ["o-b"]));
    await b.close();

    // c finds b's redo log uncommitted: discarded; b's stream position and staged event never happened.
    const c = await DynamoStore.open(url, { worker: "c" });
    await c.begin();
    assert.equal((await c.loadSessions(["s-b"])).size, 0);
    assert.equal(await c.scannedObject("o-b"), undefined);
    const positions = await c.workerPositions();
    assert.equal(positions.get("b")?.finished, false, "b's end of input was not committed");
    assert.equal(positions.get("a")?.position, 200, "a's position was");
    await c.rollback();
    const client = new DynamoDBClient({
      region: "us-east-1",
      endpoint: new URL(url.replace(/^.*endpoint=/, "").replace(/&.*$/, "")).origin,
    });
    const table = /^dynamodb:\/\/([^?]+)/.exec(url)?.[1];
    const left = await client.send(new ScanCommand({ TableName: table, ProjectionExpression: "pk" }));
    client.destroy();
    assert.deepEqual(
      (left.Items ?? []).filter((i) => i.pk?.S?.startsWith("redo#")),
      [],
      "no redo log is left behind",
    );
    await c.close();
  });

  test("a checkpoint whose engine work outlasts the lease still commits when no one took the lock", async (t) => {
    const { url, server } = await testTable("&lease=1");
    t.diagnostic(server);
    await initDynamo(url);
    const a = await DynamoStore.open(url, { worker: "a" });
    try {
      await a.begin();
      // Longer than the whole lease, as a large batch of engine work between two requests can be.
      await new Promise((r) => setTimeout(r, 1500));
      await a.exchange([], Number.POSITIVE_INFINITY, 10);
      await a.commit({
        sessions: [],
        deletedSessions: [],
        fleet: emptyFleet(),
        findings: [],
        objects: [],
        pending: Buffer.from("p"),
        settingsFingerprint: "after-a-long-checkpoint",
      });
      assert.equal(await a.settingsFingerprint(), "after-a-long-checkpoint");
    } finally {
      await a.close();
    }
  });

  test("ephemeral workers register nothing, never hold others back, and end the input when no registered worker runs", async (t) => {
    const { url, server } = await testTable("&lease=1");
    t.diagnostic(server);
    await initDynamo(url);
    const event = (id: string, time: number): EngineEvent => ({
      id,
      time,
      timeIso: new Date(time).toISOString(),
      name: "GetObject",
      source: "s3.amazonaws.com",
      region: "us-east-1",
      account: "111122223333",
      sourceIp: "198.51.100.7",
    });
    const checkpoint = async (store: DynamoStore, events: EngineEvent[], position: number) => {
      await store.begin();
      const r = await store.exchange(events, position, 10);
      await store.commit({
        sessions: [],
        deletedSessions: [],
        fleet: emptyFleet(),
        findings: [],
        objects: [],
        pending: Buffer.from("p"),
      });
      return { ids: r.events.map((e) => e.id).sort(), ended: r.ended };
    };
    // Two invocations of one execution environment may overlap: no name lease refuses the second.
    const e1 = await DynamoStore.open(url, { worker: "env-1", ephemeral: true });
    const e2 = await DynamoStore.open(url, { worker: "env-1", ephemeral: true });
    try {
      // Only ephemeral workers: the checkpoint that stages events processes them (cut +∞), and the
      // store says ended, as for PostgreSQL (the handler's live source decides nothing on it).
      assert.deepEqual(await checkpoint(e1, [event("a", 100), event("b", 5000)], 5000), {
        ids: ["a", "b"],
        ended: true,
      });
      assert.equal((await e1.workerPositions()).size, 0, "no stream item");
      assert.equal(await e1.loadPending(), undefined, "no position kept");
      // A copy within a lateness of the newest processed event counts once; ids older are forgotten.
      assert.deepEqual(await checkpoint(e2, [event("b", 5000), event("c", 5001)], 5001), {
        ids: ["c"],
        ended: true,
      });
      // A registered worker that runs holds everything back until it has read past it, not the
      // ephemeral workers' positions.
      const w = await DynamoStore.open(url, { worker: "w" });
      try {
        assert.deepEqual(await checkpoint(e1, [event("d", 6000), event("e", 9000)], 9000), {
          ids: [],
          ended: false,
        });
        assert.deepEqual(await checkpoint(w, [], 8000), { ids: ["d"], ended: false });
        assert.deepEqual(await checkpoint(e2, [], 1), { ids: [], ended: false }, "its own position counts for nothing");
        assert.deepEqual(await checkpoint(w, [], Number.POSITIVE_INFINITY), { ids: ["e"], ended: true });
      } finally {
        await w.close();
      }
      // Stream and name lease items: only the registered worker's.
      const client = new DynamoDBClient({ region: "us-east-1", endpoint: parseDynamoUrl(url).endpoint });
      try {
        const table = parseDynamoUrl(url).table;
        const items = (await client.send(new ScanCommand({ TableName: table }))).Items ?? [];
        const of = (pk: string) => items.filter((i) => i.pk?.S === pk).map((i) => i.sk?.S);
        assert.deepEqual(of("stream"), ["w"]);
        assert.deepEqual(of("wlease"), ["w"]);
        assert.deepEqual(of("pending"), ["w"]);
      } finally {
        client.destroy();
      }
    } finally {
      await e1.close();
      await e2.close();
    }
  });

  test("a finding status is set by a reader while a worker holds the checkpoint lock, in one request", async (t) => {
    const { url, server } = await testTable("&lease=1");
    t.diagnostic(server);
    await initDynamo(url);
    const worker = await DynamoStore.open(url, { worker: "a" });
    const reader = await DynamoStore.open(url, { readOnly: true });
    try {
      await worker.begin();
      const before = reader.roundTrips;
      await reader.setFindingStatus({
        id: "f1",
        status: "suppressed",
        reason: "red team",
        actor: "cli",
        at: "2026-12-02T10:00:00.000Z",
      });
      assert.equal(reader.roundTrips - before, 1, "no lock taken, latest and history in one write");
      await worker.rollback();
      assert.equal((await worker.findingStatuses(["f1"])).get("f1")?.reason, "red team");
    } finally {
      await reader.close();
      await worker.close();
    }
  });

  test("state export / import / prune: DynamoDB to DynamoDB to SQLite and back, whole; a full table refused; prune counts then drops", async (t) => {
    const first = { url: await initialisedTestTable(t, "&lease=2") };
    const second = { url: await initialisedTestTable(t, "&lease=2") };
    const dir = mkdtempSync(join(tmpdir(), "firstcall-dyn-transfer-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const event = (id: string, time: number): EngineEvent => ({
      id,
      time,
      timeIso: new Date(time).toISOString(),
      name: "GetObject",
      source: "s3.amazonaws.com",
      region: "us-east-1",
      account: "111122223333",
      sourceIp: "198.51.100.7",
    });
    const session = (k: string, validUntil: number): SessionState => ({
      key: k,
      kind: "ec2-instance",
      arn: k,
      sessionName: k,
      account: "111122223333",
      lifetimes: [{ start: 0, validUntil, covered: true, direct: new Map(), endpoint: new Map() }],
    });
    const fleet = emptyFleet();
    fleet.accounts.add("111122223333");
    const position = encodeStreamPosition({ watermark: 5000, cut: 4000, ids: [[eventIdKey("r1"), 4500]] });
    const a = await DynamoStore.open(first.url, { worker: "a", inlineBytes: 60 });
    try {
      await a.begin();
      // e1 and e2 are processed (kept against duplicates), e3 stays staged past the cut.
      await a.exchange([event("e1", 1000), event("e2", 2000), event("e3", 9000)], 3000, 10_000, 0);
      await a.commit({
        sessions: [session("old", 1_000), session("live", 50_000_000)],
        deletedSessions: [],
        fleet,
        findings: [],
        objects: [
          { id: "s3://b/old.json.gz", size: 5, mtimeMs: 1_000, etag: "e1", records: 1, status: "complete" },
          { id: "s3://b/new.json.gz", size: 6, mtimeMs: 90_000_000_000_000, records: 2, status: "partial" },
        ],
        pending: position,
        outputs: [{ path: "out.jsonl", bytes: 12 }],
        settingsFingerprint: "fp",
      });
    } finally {
      await a.close();
    }
    const collect = async (store: DynamoStore | SqliteStore) => {
      const out: StateRecord[] = [];
      for await (const r of store.exportRecords()) out.push(r);
      return out;
    };
    const reader = await DynamoStore.open(first.url, { readOnly: true });
    const dumped = await collect(reader);
    await reader.close();
    const types = (rs: StateRecord[]) => rs.map((r) => r.type).join(",");
    assert.equal(types(dumped), "fleet,settings,stream,output,session,session,object,object,event,event,event");
    const stream = dumped.find((r) => r.type === "stream");
    assert.deepEqual(stream, {
      type: "stream",
      worker: "a",
      position: Buffer.from(position).toString("base64"),
      readPosition: 3000,
      finished: false,
    });
    assert.deepEqual(
      dumped.filter((r) => r.type === "event").map((r) => [r.id, r.processed]),
      [
        ["e3", false],
        ["e1", true],
        ["e2", true],
      ],
    );
    // Into another table: what it exports again is the same, record for record.
    const target = await DynamoStore.open(second.url, { readOnly: true });
    try {
      const result = await target.importRecords(replay(dumped), { replace: false });
      assert.equal(result.read.session, 2);
      assert.equal(await target.sessionCount(), 2, "the session count is kept");
      assert.deepEqual(await collect(target), dumped);
      await assert.rejects(
        target.importRecords(replay(dumped), { replace: false }),
        (e: StateError) => e.code === "E_STATE_NOT_EMPTY",
      );
      await assert.rejects(
        target.importRecords(replay([...dumped, dumped[4] as StateRecord]), { replace: true }),
        (e: StateError) => e.code === "E_STATE_DUMP" && /repeats session/.test(e.message),
      );
      assert.deepEqual(await collect(target), dumped, "a refused import changed nothing");
      // Prune: counted by a dry run, then dropped; unprocessed staged events are never dropped.
      const cut = { before: 5_000, dryRun: true };
      const dry = await target.prune(cut);
      assert.deepEqual(dry, {
        findings: 0,
        sessions: 1,
        objects: 1,
        events: 2,
        statuses: 0,
        statusHistory: 0,
        outbox: 0,
        keptPending: 0,
      });
      assert.deepEqual(await collect(target), dumped, "a dry run changes nothing");
      assert.deepEqual(await target.prune({ ...cut, dryRun: false }), dry);
      const left = await collect(target);
      assert.equal(types(left), "fleet,settings,stream,output,session,object,event");
      assert.equal(await target.sessionCount(), 1);
      // A worker resumes on the pruned table: e3 is still there to process.
      const w = await DynamoStore.open(second.url, { worker: "a" });
      try {
        await w.begin();
        const r = await w.exchange([], Number.POSITIVE_INFINITY, 10);
        await w.rollback();
        assert.deepEqual(
          r.events.map((e) => e.id),
          ["e3"],
        );
      } finally {
        await w.close();
      }
    } finally {
      await target.close();
    }
    // To SQLite (one stream, no staged event: the first table's worker finishes first) and back.
    const b = await DynamoStore.open(first.url, { worker: "a" });
    try {
      await b.begin();
      await b.exchange([], Number.POSITIVE_INFINITY, 10);
      await b.commit({
        sessions: [],
        deletedSessions: [],
        fleet,
        findings: [],
        objects: [],
        pending: position,
      });
    } finally {
      await b.close();
    }
    const finished = await DynamoStore.open(first.url, { readOnly: true });
    const fromDynamo = await collect(finished);
    await finished.close();
    const sqlite = SqliteStore.open(join(dir, "state.sqlite"));
    try {
      await sqlite.importRecords(replay(fromDynamo), { replace: false });
      const back = await collect(sqlite);
      const third = await testTable("&lease=2");
      await initDynamo(third.url);
      const again = await DynamoStore.open(third.url, { readOnly: true });
      try {
        await again.importRecords(replay(back), { replace: false });
        // Each store lists the records of a type in its own order.
        const sorted = (rs: StateRecord[]) =>
          [...rs].sort((x, y) => {
            const k = (r: StateRecord) => `${r.type}\u0000${JSON.stringify(Object.entries(r).sort())}`;
            return k(x) < k(y) ? -1 : k(x) > k(y) ? 1 : 0;
          });
        assert.deepEqual(sorted(await collect(again)), sorted(back), "SQLite to DynamoDB keeps every record");
        assert.deepEqual((await again.loadSessions(["old", "live"])).get("live"), session("live", 50_000_000));
        assert.equal((await again.scannedObject("s3://b/old.json.gz"))?.etag, "e1");
      } finally {
        await again.close();
      }
    } finally {
      await sqlite.close();
    }
  });

  test("state export / import: statuses and their history go with the dump; deliveries still owed are refused (no outbox here)", async (t) => {
    const source = { url: await initialisedTestTable(t, "&lease=1") };
    const target = { url: await initialisedTestTable(t, "&lease=1") };
    const at = (m: number) => `2026-12-02T10:0${m}:00.000Z`;
    const from = await DynamoStore.open(source.url, { readOnly: true });
    const changes: FindingStatus[] = [
      { id: "f1", status: "acknowledged", reason: "looking", actor: "cli", at: at(1) },
      { id: "f1", status: "suppressed", reason: "red team SEC-1", actor: "serve", at: at(2) },
      { id: "f2", status: "acknowledged", reason: "seen", actor: "cli", at: at(3) },
      { id: "f2", status: "open", reason: "", actor: "cli", at: at(4) },
    ];
    const dumped: StateRecord[] = [];
    try {
      for (const c of changes) await from.setFindingStatus(c);
      for await (const r of from.exportRecords()) dumped.push(r);
    } finally {
      await from.close();
    }
    const statusRecords = dumped.filter((r) => r.type === "status" || r.type === "history");
    assert.deepEqual(
      statusRecords.map((r) => `${r.type} ${r.id} ${r.status}`),
      [
        "status f1 suppressed",
        "history f1 acknowledged",
        "history f1 suppressed",
        "history f2 acknowledged",
        "history f2 open",
      ],
    );
    const to = await DynamoStore.open(target.url, { readOnly: true });
    try {
      const owed: StateRecord = {
        type: "outbox",
        findingId: "f1",
        destination: "webhook:0123456789abcdef",
        generation: 1,
        state: "pending",
        attempts: 2,
        message: "HTTP 500",
        createdAt: at(1),
        updatedAt: at(2),
      };
      await assert.rejects(
        to.importRecords(replay([...dumped, owed]), { replace: false }),
        (e: StateError) => e.code === "E_STATE_DUMP" && /1 deliveries still owed/.test(e.message),
      );
      assert.equal((await to.findingStatuses()).size, 0, "a refused import wrote nothing");
      const result = await to.importRecords(replay([...dumped, { ...owed, state: "delivered" }]), { replace: false });
      assert.match(result.notes.join("\n"), /1 settled deliveries were not kept/);
      assert.deepEqual([...(await to.findingStatuses()).values()], [changes[1]]);
      assert.deepEqual(
        await to.findingStatusHistory("f1"),
        changes.filter((c) => c.id === "f1"),
      );
      assert.deepEqual(
        await to.findingStatusHistory("f2"),
        changes.filter((c) => c.id === "f2"),
      );
    } finally {
      await to.close();
    }
  });
});
