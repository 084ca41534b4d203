/**
 * The state store contract (src/state/store.ts), as node:test tests any store registers: what a
 * checkpoint commits loads back, a commit is all or nothing, objects are recognised by ETag or by size
 * and time, sessions are deleted and pruned by validity, findings list in time order; and for a
 * shared store the checkpoint exchange of several workers (ARCHITECTURE.md §1, *Shared state*): an
 * event id staged twice counts once, the cut is the oldest running worker's read position minus the
 * lateness (minus nothing for a live checkpoint), the input has ended when every worker has finished, a rollback leaves nothing behind, and
 * checkpoints of two workers never overlap.
 *
 * Each store's test file calls {@link storeContract} once with a factory of fresh, empty states, so
 * SQLite, memory, PostgreSQL and DynamoDB are held to the same tests.
 *
 * @example
 * storeContract("SQLite", async () => {
 *   const dir = scratchDir();
 *   return { open: async () => SqliteStore.open(join(dir, "s.sqlite")), cleanup: async () => {} };
 * }, { persistent: true });
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StoredFinding } from "../engine/engine.js";
import type { EngineEvent } from "../engine/event.js";
import { emptyFleet, type FleetState, type SessionState } from "../engine/state.js";
import type { Finding } from "../findings/finding.js";
import {
  type FindingStatus,
  type FindingStatusError,
  MAX_STATUS_REASON,
  type ScannedObject,
  type StateCommit,
  type StateStore,
  sameObject,
} from "../state/store.js";

/** One fresh, empty state (already initialised) and how to open stores on it. */
export interface ContractState {
  /**
   * Opens a store on this state. Shared stores: as worker `worker` (default `default`), each name at
   * most once at a time. Persistent stores are opened again after `close` to check what survives.
   */
  open(worker?: string): Promise<StateStore>;
  /** Removes what the state left behind (files, databases, tables), also after a failed test. */
  cleanup(): Promise<void>;
  /** Shown as the test's diagnostic: which real server or file the test used. */
  readonly server?: string;
}

export interface ContractOptions {
  /** What a commit wrote is there after the store is closed and opened again. */
  readonly persistent?: boolean;
  /** The store implements {@link SharedCheckpoints} (`store.shared`): run the exchange tests. */
  readonly shared?: boolean;
}

function session(key: string, validUntil: number): SessionState {
  return {
    key,
    kind: "ec2-instance",
    arn: `arn:aws:sts::111122223333:assumed-role/app/${key}`,
    sessionName: key,
    account: "111122223333",
    lifetimes: [{ start: validUntil - 3_600_000, validUntil, covered: true, direct: new Map(), endpoint: new Map() }],
  };
}

function finding(id: string, time: string, count = 1): StoredFinding {
  const when = Date.parse(time);
  const f: Finding = {
    schema: "firstcall.finding/v1",
    id,
    rule: "credential-ip-mismatch",
    severity: "high",
    time,
    account: "111122223333",
    region: "eu-west-1",
    principal: {
      type: "AssumedRole",
      arn: "arn:aws:sts::111122223333:assumed-role/app/i-0abc",
      accessKeyId: "ASIAEXAMPLE000000001",
      instanceId: "i-0abc",
    },
    sourceIp: "203.0.113.9",
    expectedIps: ["198.51.100.7"],
    network: "external",
    covered: true,
    event: { id: `ev-${id}`, name: "ListBuckets", source: "s3.amazonaws.com" },
    evidence: { count, firstSeen: time, lastSeen: time, eventIds: [`ev-${id}`], accessKeyIds: [], userAgents: [] },
    reason: "used from another address than its first call",
    status: "open",
  } as unknown as Finding;
  return {
    finding: f,
    obs: {
      first: { id: `ev-${id}`, time: when, timeIso: time, name: "ListBuckets", source: "s3.amazonaws.com" },
      last: when,
      lastIso: time,
      count,
      samples: [[when, `ev-${id}`]],
      names: ["ListBuckets"],
      accessKeys: [],
      userAgents: [],
    },
    session: "arn:aws:sts::111122223333:assumed-role/app/i-0abc",
    origin: "binding",
  } as unknown as StoredFinding;
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

function fleetWith(egress: string): FleetState {
  const fleet = emptyFleet();
  fleet.accounts.add("111122223333");
  fleet.egress.set(egress, "111122223333");
  fleet.watermark = 1_700_000_000_000;
  return fleet;
}

function commitOf(parts: Partial<StateCommit>): StateCommit {
  return {
    sessions: [],
    deletedSessions: [],
    fleet: emptyFleet(),
    findings: [],
    objects: [],
    pending: Buffer.from("position"),
    ...parts,
  };
}

const at = (minute: number) => `2026-12-02T09:${String(minute).padStart(2, "0")}:00.000Z`;

/**
 * The finding-status contract every store keeps (store.ts `FindingStatus`): set, replaced, cleared by
 * `open`, the history in order, bad values refused with nothing kept, many ids at once.
 * @example await findingStatusContract(await SqliteStore.open(path))
 */
export async function findingStatusContract(store: StateStore): Promise<void> {
  assert.ok(store.findingStatuses && store.setFindingStatus && store.findingStatusHistory);
  assert.equal((await store.findingStatuses()).size, 0, "a new state: every finding is open");
  const ack: FindingStatus = { id: "f1", status: "acknowledged", reason: "on it", actor: "alice", at: at(1) };
  await store.setFindingStatus(ack);
  await store.setFindingStatus({
    id: "f2",
    status: "suppressed",
    reason: "red team exercise",
    actor: "cli",
    at: at(2),
  });
  assert.deepEqual(await store.findingStatuses(["f1", "f3"]), new Map([["f1", ack]]), "only ids with a status");
  assert.deepEqual([...(await store.findingStatuses()).keys()].sort(), ["f1", "f2"]);
  // Suppressing what was acknowledged replaces it; reopening clears it; the history keeps all three.
  await store.setFindingStatus({
    id: "f1",
    status: "suppressed",
    reason: "the pentest\nticket SEC-1",
    actor: "bob",
    at: at(3),
  });
  assert.equal((await store.findingStatuses(["f1"])).get("f1")?.reason, "the pentest\nticket SEC-1");
  await store.setFindingStatus({ id: "f1", status: "open", reason: "", actor: "alice", at: at(4) });
  assert.deepEqual([...(await store.findingStatuses()).keys()], ["f2"], "open is no status");
  assert.deepEqual(await store.findingStatuses(["f1"]), new Map());
  assert.deepEqual(
    (await store.findingStatusHistory("f1")).map((s) => [s.status, s.actor, s.at]),
    [
      ["acknowledged", "alice", at(1)],
      ["suppressed", "bob", at(3)],
      ["open", "alice", at(4)],
    ],
  );
  // Refused, and nothing kept.
  for (const bad of [
    { ...ack, reason: " " },
    { ...ack, status: "closed" as FindingStatus["status"] },
    { ...ack, reason: "x".repeat(MAX_STATUS_REASON + 1) },
    { ...ack, reason: "bell\u0007" },
    { ...ack, actor: "" },
    { ...ack, actor: "a\nb" },
    { ...ack, at: "yesterday" },
    { ...ack, id: "" },
  ]) {
    await assert.rejects(store.setFindingStatus(bad), (e: FindingStatusError) => e.code === "E_STATUS");
  }
  assert.equal((await store.findingStatusHistory("f1")).length, 3);
  // Many ids at once (past one statement's batch).
  const many = Array.from({ length: 12_000 }, (_, i) => `x${i}`);
  assert.deepEqual([...(await store.findingStatuses([...many, "f2"])).keys()], ["f2"]);
}

const bytes = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString("hex"));

/**
 * Registers the contract's tests for one store under `describe(name)`.
 * @param fresh makes a new, empty state for each test.
 */
export function storeContract(name: string, fresh: () => Promise<ContractState>, options: ContractOptions = {}): void {
  /** Runs `body` on a fresh state, closing every store it opened and cleaning up, also on failure. */
  const withState = (
    body: (
      open: (worker?: string) => Promise<StateStore>,
      reopen: (s: StateStore) => Promise<StateStore>,
    ) => Promise<void>,
  ) => {
    return async (t: { diagnostic(m: string): void }) => {
      const state = await fresh();
      if (state.server) t.diagnostic(`${name}: ${state.server}`);
      const opened = new Set<StateStore>();
      const open = async (worker?: string) => {
        const s = await state.open(worker);
        opened.add(s);
        return s;
      };
      const reopen = async (s: StateStore) => {
        await s.close();
        opened.delete(s);
        return open(s.shared?.worker);
      };
      try {
        await body(open, reopen);
      } finally {
        for (const s of opened) await s.close().catch(() => {});
        await state.cleanup();
      }
    };
  };

  describe(`${name}: state store contract`, () => {
    test(
      "an empty state loads as empty",
      withState(async (open) => {
        const store = await open();
        assert.equal((await store.loadSessions(["a", "b"])).size, 0);
        assert.equal((await store.loadSessions([])).size, 0);
        assert.deepEqual(await store.loadFleet(), emptyFleet());
        assert.equal((await store.loadFindings(["f1"])).size, 0);
        assert.equal(await store.loadPending(), undefined);
        assert.deepEqual(await store.allFindings(), []);
        assert.equal(await store.scannedObject("o1"), undefined);
        if (store.scannedObjects) assert.equal((await store.scannedObjects(["o1", "o2"])).size, 0);
        assert.equal(await store.sessionCount(), 0);
        assert.equal(await store.settingsFingerprint(), undefined);
        assert.equal(await store.outputBytes("out.jsonl"), undefined);
      }),
    );

    test(
      `what a checkpoint commits loads back${options.persistent ? ", also after closing and opening again" : ""}`,
      withState(async (open, reopen) => {
        let store = await open();
        const fleet = fleetWith("198.51.100.1");
        const sessions = [session("s1", 5_000_000), session("s2", 9_000_000)];
        const findings = [finding("f1", "2026-01-01T00:00:01Z"), finding("f2", "2026-01-01T00:00:02Z", 3)];
        const objects: ScannedObject[] = [
          { id: "logs/a.json.gz", size: 10, mtimeMs: 1.5, records: 3, status: "complete" },
          { id: "s3://b/k.json.gz", size: 20, mtimeMs: 2, etag: "0123abcd-2", records: 0, status: "partial" },
        ];
        await store.commit(
          commitOf({
            sessions,
            fleet,
            findings,
            objects,
            pending: Buffer.from([0, 1, 2, 255]),
            outputs: [{ path: "out.jsonl", bytes: 42 }],
            settingsFingerprint: "fp-1",
          }),
        );
        const check = async (s: StateStore) => {
          const loaded = await s.loadSessions(["s1", "s2", "s3"]);
          assert.deepEqual([...loaded.keys()].sort(), ["s1", "s2"]);
          assert.deepEqual(loaded.get("s1"), sessions[0]);
          assert.deepEqual(loaded.get("s2"), sessions[1]);
          assert.deepEqual(await s.loadFleet(), fleet);
          const f = await s.loadFindings(["f1", "f2", "f3"]);
          assert.deepEqual([...f.keys()].sort(), ["f1", "f2"]);
          assert.deepEqual(f.get("f2"), findings[1]);
          assert.equal(bytes(await s.loadPending()), "000102ff");
          assert.deepEqual(await s.scannedObject("logs/a.json.gz"), objects[0]);
          assert.deepEqual(await s.scannedObject("s3://b/k.json.gz"), objects[1]);
          if (s.scannedObjects) {
            const m = await s.scannedObjects(["logs/a.json.gz", "s3://b/k.json.gz", "other"]);
            assert.deepEqual([...m.keys()].sort(), ["logs/a.json.gz", "s3://b/k.json.gz"]);
            assert.deepEqual(m.get("s3://b/k.json.gz"), objects[1]);
          }
          assert.equal(await s.sessionCount(), 2);
          assert.equal(await s.settingsFingerprint(), "fp-1");
          assert.equal(await s.outputBytes("out.jsonl"), 42);
          assert.equal(await s.outputBytes("other.jsonl"), undefined);
        };
        await check(store);
        if (options.persistent) {
          store = await reopen(store);
          await check(store);
        }
      }),
    );

    test(
      "a later commit replaces what it names and keeps the rest",
      withState(async (open) => {
        const store = await open();
        await store.commit(
          commitOf({
            sessions: [session("s1", 5_000_000), session("s2", 6_000_000)],
            fleet: fleetWith("198.51.100.1"),
            findings: [finding("f1", "2026-01-01T00:00:01Z")],
            objects: [{ id: "o1", size: 1, mtimeMs: 1, records: 1, status: "partial" }],
            outputs: [{ path: "out.jsonl", bytes: 10 }],
            settingsFingerprint: "fp-1",
          }),
        );
        const s1 = session("s1", 7_000_000);
        await store.commit(
          commitOf({
            sessions: [s1],
            fleet: fleetWith("198.51.100.2"),
            findings: [finding("f1", "2026-01-01T00:00:01Z", 5)],
            objects: [{ id: "o1", size: 2, mtimeMs: 3, etag: "e2", records: 7, status: "complete" }],
            pending: Buffer.from("second"),
          }),
        );
        assert.deepEqual((await store.loadSessions(["s1"])).get("s1"), s1);
        assert.ok((await store.loadSessions(["s2"])).has("s2"), "a session the commit does not name stays");
        assert.deepEqual([...(await store.loadFleet()).egress.keys()], ["198.51.100.2"], "the fleet is replaced");
        assert.equal((await store.loadFindings(["f1"])).get("f1")?.finding.evidence.count, 5);
        assert.deepEqual(await store.scannedObject("o1"), {
          id: "o1",
          size: 2,
          mtimeMs: 3,
          etag: "e2",
          records: 7,
          status: "complete",
        });
        assert.equal(Buffer.from((await store.loadPending()) ?? []).toString(), "second");
        assert.equal(await store.outputBytes("out.jsonl"), 10, "an output the commit does not name keeps its length");
        assert.equal(await store.settingsFingerprint(), "fp-1", "no fingerprint in the commit: the stored one stays");
        await store.commit(commitOf({ outputs: [{ path: "out.jsonl", bytes: 0 }], settingsFingerprint: "fp-2" }));
        assert.equal(await store.outputBytes("out.jsonl"), 0);
        assert.equal(await store.settingsFingerprint(), "fp-2");
      }),
    );

    test(
      "objects: an S3 object is the same by ETag and size, a file by size and modification time",
      withState(async (open) => {
        const store = await open();
        await store.commit(
          commitOf({
            objects: [
              { id: "s3://b/k1", size: 10, mtimeMs: 5, etag: "abc", records: 2, status: "complete" },
              { id: "/logs/f1.json", size: 7, mtimeMs: 1.25, records: 2, status: "complete" },
            ],
          }),
        );
        const s3 = await store.scannedObject("s3://b/k1");
        assert.equal(sameObject(s3, { size: 10, mtimeMs: 99, etag: "abc" }), true, "same ETag, new LastModified");
        assert.equal(sameObject(s3, { size: 10, mtimeMs: 5, etag: "abd" }), false);
        assert.equal(sameObject(s3, { size: 10, mtimeMs: 5 }), false);
        const file = await store.scannedObject("/logs/f1.json");
        assert.equal(file?.etag, undefined, "a file has no ETag");
        assert.equal(sameObject(file, { size: 7, mtimeMs: 1.25 }), true);
        assert.equal(sameObject(file, { size: 7, mtimeMs: 1.5 }), false);
        if (store.scannedObjects) {
          const many = await store.scannedObjects(["s3://b/k1", "/logs/f1.json"]);
          assert.equal(sameObject(many.get("s3://b/k1"), { size: 10, mtimeMs: 1, etag: "abc" }), true);
          assert.equal(sameObject(many.get("/logs/f1.json"), { size: 7, mtimeMs: 1.25 }), true);
        }
      }),
    );

    test(
      "sessions: deleted by key, pruned when their validity ended before the horizon, counted",
      withState(async (open) => {
        const store = await open();
        await store.commit(
          commitOf({
            sessions: [
              session("old", 5_000_000),
              session("edge", 9_000_000),
              session("live", 12_000_000),
              session("gone", 20_000_000),
            ],
          }),
        );
        assert.equal(await store.sessionCount(), 4);
        await store.commit(
          commitOf({
            sessions: [session("new", 30_000_000)],
            deletedSessions: ["gone"],
            pruneSessionsBefore: 9_000_000,
          }),
        );
        const left = await store.loadSessions(["old", "edge", "live", "gone", "new"]);
        assert.deepEqual([...left.keys()].sort(), ["edge", "live", "new"], "validity ending at the horizon stays");
        assert.equal(await store.sessionCount(), 3);
        await store.commit(commitOf({ deletedSessions: ["never-stored"], pruneSessionsBefore: 12_000_001 }));
        assert.deepEqual([...(await store.loadSessions(["edge", "live", "new"])).keys()], ["new"]);
      }),
    );

    test(
      "allFindings lists every finding in time order, then by id",
      withState(async (open) => {
        const store = await open();
        await store.commit(
          commitOf({
            findings: [
              finding("b", "2026-01-01T00:00:02Z"),
              finding("z", "2026-01-01T00:00:01Z"),
              finding("a", "2026-01-01T00:00:02Z"),
            ],
          }),
        );
        await store.commit(commitOf({ findings: [finding("c", "2025-12-31T23:59:59Z")] }));
        assert.deepEqual(
          (await store.allFindings()).map((f) => f.finding.id),
          ["c", "z", "a", "b"],
        );
      }),
    );

    test(
      "a commit that fails half-way leaves the state as it was",
      withState(async (open) => {
        const store = await open();
        await store.commit(
          commitOf({
            sessions: [session("s1", 5_000_000)],
            fleet: fleetWith("198.51.100.1"),
            pending: Buffer.from("before"),
          }),
        );
        // A document that cannot be encoded (JSON has no BigInt) fails the commit after the sessions.
        const broken = finding("f-bad", "2026-01-01T00:00:01Z");
        (broken.finding as unknown as { evidence: { count: unknown } }).evidence.count = 1n;
        await assert.rejects(
          store.commit(
            commitOf({
              sessions: [session("s2", 6_000_000)],
              deletedSessions: ["s1"],
              fleet: fleetWith("198.51.100.2"),
              findings: [finding("f-ok", "2026-01-01T00:00:00Z"), broken],
              objects: [{ id: "o1", size: 1, mtimeMs: 1, records: 1, status: "complete" }],
              pending: Buffer.from("after"),
              outputs: [{ path: "out.jsonl", bytes: 9 }],
              settingsFingerprint: "fp",
            }),
          ),
        );
        assert.deepEqual([...(await store.loadSessions(["s1", "s2"])).keys()], ["s1"]);
        assert.deepEqual([...(await store.loadFleet()).egress.keys()], ["198.51.100.1"]);
        assert.equal((await store.loadFindings(["f-ok", "f-bad"])).size, 0);
        assert.equal(await store.scannedObject("o1"), undefined);
        assert.equal(Buffer.from((await store.loadPending()) ?? []).toString(), "before");
        assert.equal(await store.outputBytes("out.jsonl"), undefined);
        assert.equal(await store.settingsFingerprint(), undefined);
        // And the store still works.
        await store.commit(commitOf({ findings: [finding("f-ok", "2026-01-01T00:00:00Z")] }));
        assert.equal((await store.loadFindings(["f-ok"])).size, 1);
      }),
    );

    test(
      "finding statuses: set, replaced, cleared, each change in the history; bad values refused",
      withState(async (open) => {
        await findingStatusContract(await open());
      }),
    );

    if (!options.shared) return;

    /** One checkpoint of a worker: begin, exchange, commit; the ids it was given, sorted. */
    const checkpoint = async (
      s: StateStore,
      events: EngineEvent[],
      position: number,
      lateness = 10,
      hold: number = lateness,
    ) => {
      const shared = s.shared;
      assert.ok(shared, "a shared store");
      await shared.begin();
      const r = await shared.exchange(events, position, lateness, hold);
      await s.commit(commitOf({}));
      return { ids: r.events.map((e) => e.id).sort(), ended: r.ended };
    };

    test(
      "shared: positions and outputs are per worker; documents are shared",
      withState(async (open) => {
        const a = await open("a");
        const b = await open("b");
        assert.equal(a.shared?.worker, "a");
        await a.commit(
          commitOf({
            sessions: [session("s1", 5_000_000)],
            fleet: fleetWith("198.51.100.1"),
            pending: Buffer.from("position-a"),
            outputs: [{ path: "out.jsonl", bytes: 42 }],
          }),
        );
        assert.ok((await b.loadSessions(["s1"])).has("s1"));
        assert.deepEqual([...(await b.loadFleet()).egress.keys()], ["198.51.100.1"]);
        assert.equal(await b.outputBytes("out.jsonl"), undefined, "b's out.jsonl is another file");
        assert.equal(await b.loadPending(), undefined);
        assert.equal(Buffer.from((await a.loadPending()) ?? []).toString(), "position-a");
      }),
    );

    test(
      "shared: an event id staged twice counts once; events wait until every running worker has read past them",
      withState(async (open) => {
        const a = await open("a");
        const b = await open("b");
        // b has read nothing yet: nothing may be processed.
        assert.deepEqual(await checkpoint(a, [event("e1", 135), event("e2", 200), event("e1", 135)], 200), {
          ids: [],
          ended: false,
        });
        // The cut is the oldest running read position (b: 150) minus the lateness (10): at or before 140.
        assert.deepEqual(await checkpoint(b, [event("e1", 135), event("e3", 120), event("e5", 141)], 150), {
          ids: ["e1", "e3"],
          ended: false,
        });
        assert.deepEqual(await checkpoint(a, [], 250), { ids: [], ended: false }, "b holds the cut back");
        // a's input ends; b still runs at 151: e5 (141) goes, e2 (200) waits.
        assert.deepEqual(await checkpoint(a, [], Number.POSITIVE_INFINITY), { ids: [], ended: false });
        assert.deepEqual(await checkpoint(b, [], 151), { ids: ["e5"], ended: false });
        // b's input ends: everything left goes and the input has ended; e1 (processed within the lateness) never again.
        assert.deepEqual(await checkpoint(b, [event("e1", 135), event("e4", 300)], Number.POSITIVE_INFINITY), {
          ids: ["e2", "e4"],
          ended: true,
        });
        assert.deepEqual(await checkpoint(b, [], Number.POSITIVE_INFINITY), { ids: [], ended: true });
      }),
    );

    test(
      "shared: a live checkpoint (hold 0) takes all that every running worker has read; ids are still kept a lateness",
      withState(async (open) => {
        const a = await open("a");
        const b = await open("b");
        assert.deepEqual(await checkpoint(a, [event("e1", 100), event("e2", 195)], 200, 50, 0), {
          ids: [],
          ended: false,
        });
        // The cut is b's read position itself (150), not 50 ms before it.
        assert.deepEqual(await checkpoint(b, [event("e3", 150), event("e4", 160)], 150, 50, 0), {
          ids: ["e1", "e3"],
          ended: false,
        });
        assert.deepEqual(await checkpoint(b, [], 200, 50, 0), { ids: ["e2", "e4"], ended: false });
        // A copy of e3 within the lateness of the cut (200 − 50) is dropped as already processed.
        assert.deepEqual(await checkpoint(a, [event("e3", 150), event("e5", 200)], 300, 50, 0), {
          ids: ["e5"],
          ended: false,
        });
      }),
    );

    test(
      "shared: a rolled-back checkpoint stages nothing, takes nothing and moves no position",
      withState(async (open) => {
        const a = await open("a");
        assert.deepEqual(await checkpoint(a, [event("e1", 100)], 105), { ids: [], ended: false });
        const shared = a.shared;
        assert.ok(shared);
        await shared.begin();
        const taken = await shared.exchange([event("e2", 101)], 500, 10);
        assert.deepEqual(taken.events.map((e) => e.id).sort(), ["e1", "e2"]);
        await shared.rollback();
        // Still at 105: e1 is not taken; e2 was never staged.
        assert.deepEqual(await checkpoint(a, [], 105), { ids: [], ended: false });
        assert.deepEqual(await checkpoint(a, [], 500), { ids: ["e1"], ended: false });
        // A rolled-back end of input: e3 was never staged and a still runs (its position is 500).
        await shared.begin();
        await shared.exchange([event("e3", 480)], Number.POSITIVE_INFINITY, 10);
        await shared.rollback();
        assert.deepEqual(await checkpoint(a, [], 500), { ids: [], ended: false });
        assert.deepEqual(await checkpoint(a, [], Number.POSITIVE_INFINITY), { ids: [], ended: true });
      }),
    );

    test(
      "shared: the checkpoints of two workers never overlap",
      withState(async (open) => {
        const a = await open("a");
        const b = await open("b");
        assert.ok(a.shared && b.shared);
        await a.shared.begin();
        let bStarted = false;
        const bBegin = b.shared.begin().then(() => {
          bStarted = true;
        });
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(bStarted, false, "b waits while a holds the checkpoint");
        await a.shared.exchange([event("e1", 100)], 200, 10);
        await a.commit(commitOf({ sessions: [session("s1", 5_000_000)], fleet: fleetWith("198.51.100.3") }));
        await bBegin;
        // b starts from what a committed.
        assert.deepEqual([...(await b.loadFleet()).egress.keys()], ["198.51.100.3"]);
        assert.ok((await b.loadSessions(["s1"])).has("s1"));
        await b.shared.rollback();
      }),
    );

    test(
      "shared: a worker opened again runs again; the input ends only when every worker has finished",
      withState(async (open, reopen) => {
        let a = await open("a");
        const b = await open("b");
        assert.deepEqual(await checkpoint(a, [event("e1", 100)], Number.POSITIVE_INFINITY), { ids: [], ended: false });
        a = await reopen(a);
        // a is running again and has read nothing: it holds everything back.
        assert.deepEqual(await checkpoint(b, [], Number.POSITIVE_INFINITY), { ids: [], ended: false });
        assert.deepEqual(await checkpoint(a, [], Number.POSITIVE_INFINITY), { ids: ["e1"], ended: true });
      }),
    );
  });
}
