/**
 * The delivery outbox with real stores (memory, a SQLite file, PostgreSQL at 127.0.0.1:5432) and a
 * real HTTP receiver on 127.0.0.1: rows committed with the findings, delivered once acknowledged,
 * kept while the receiver is down and delivered by the next run, re-sent on a re-alert only,
 * suppressed findings skipped, and two PostgreSQL workers never sending the same row.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { StoredFinding } from "../../engine/engine.js";
import { emptyFleet } from "../../engine/state.js";
import { runScan } from "../../pipeline/scan.js";
import { MemoryStore } from "../../state/memory.js";
import { PostgresStore } from "../../state/postgres.js";
import { SCHEMA_VERSION, SqliteStore } from "../../state/sqlite.js";
import type { StateStore } from "../../state/store.js";
import { REPO } from "../../test-helpers/cli.js";
import { initialisedTestDatabase } from "../../test-helpers/postgres.js";
import { type Receiver, startReceiver } from "../../test-helpers/receiver.js";
import { scratchDirs } from "../../test-helpers/scan.js";
import type { Finding } from "../finding.js";
import type { KeyedDestination } from "./open.js";
import { alertReason, Outbox, type OutboxOptions } from "./outbox.js";
import { destinationKey, parseTarget } from "./targets.js";
import { WebhookDestination } from "./webhook.js";

const scratchDir = scratchDirs();
const SAMPLE = join(REPO, "testdata", "sample");
const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.close();
});

async function receiver(answer: (index: number) => number | "hang"): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

function webhook(url: string): KeyedDestination {
  const target = parseTarget(`webhook:${url}`, {});
  return { key: destinationKey(target), destination: new WebhookDestination({ url: new URL(url) }) };
}

const fast: Pick<OutboxOptions, "retry" | "downDelayMs"> = { retry: { baseDelayMs: 1, maxDelayMs: 5 }, downDelayMs: 5 };

/** The scan's `delivery` option for one webhook. */
function deliveryTo(url: string) {
  return (store: StateStore) => new Outbox(store, { destinations: [webhook(url)], ...fast });
}

/** The four findings of the sample, as a SQLite state stores them. */
async function sampleFindings(): Promise<StoredFinding[]> {
  const path = join(scratchDir(), "sample.sqlite");
  await runScan({ paths: [SAMPLE], statePath: path, jobs: 0 });
  const store = SqliteStore.open(path);
  try {
    return await store.allFindings();
  } finally {
    await store.close();
  }
}

function logFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? logFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((p) => p.endsWith(".json.gz"))
    .sort();
}

const noCommit = { sessions: [], deletedSessions: [], objects: [], pending: Buffer.from(""), fleet: emptyFleet() };

describe("alertReason", () => {
  test("new, status changed and severity raised alert; more calls or a lowered severity do not", async () => {
    const [stored] = await sampleFindings();
    const f = stored?.finding as Finding;
    assert.equal(alertReason(undefined, f), "new");
    assert.equal(alertReason(f, { ...f, status: "retracted" }), "status");
    assert.equal(alertReason({ ...f, status: "retracted" }, { ...f, status: "open" }), "status");
    const low: Finding = { ...f, severity: "low" };
    assert.equal(alertReason(low, { ...low, severity: "high" }), "severity");
    assert.equal(alertReason({ ...low, severity: "high" }, low), undefined);
    assert.equal(alertReason(f, { ...f, evidence: { ...f.evidence, count: f.evidence.count + 5 } }), undefined);
  });
});

describe("outbox with a scan", () => {
  test("a receiver down for a while: everything delivered, each finding acknowledged once", async (t) => {
    const r = await receiver((i) => (i < 3 ? 500 : 200));
    t.diagnostic(`receiver ${new URL(r.url).host}, 500 for the first 3 requests`);
    const result = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0, delivery: deliveryTo(r.url) });
    assert.equal(result.findings.length, 4);
    const acked = r.acknowledged();
    assert.deepEqual([...acked].sort(), result.findings.map((f) => f.id).sort());
    assert.equal(new Set(acked).size, acked.length, "no finding acknowledged twice");
    assert.equal(result.summary.delivery?.pending, 0);
    assert.equal(result.summary.delivery?.destinations[0]?.delivered, 4);
    assert.ok(r.received.length > 3, "the failed requests were retried");
  });

  test("down for a whole run (SQLite): kept, exit 7; a finding suppressed meanwhile is skipped; the next run delivers the rest once", async (t) => {
    const path = join(scratchDir(), "state.sqlite");
    let down = true;
    const r = await receiver(() => (down ? 503 : 200));
    t.diagnostic(`SQLite state ${path}; receiver ${new URL(r.url).host}`);
    const first = await runScan({
      paths: [SAMPLE],
      statePath: path,
      jobs: 0,
      failOn: "none",
      delivery: deliveryTo(r.url),
    });
    assert.equal(first.findings.length, 4);
    assert.deepEqual(r.acknowledged(), []);
    assert.equal(first.summary.delivery?.pending, 4);
    assert.equal(first.exitCode, 7, "findings owed to a destination");
    assert.match(first.summary.delivery?.destinations[0]?.lastError ?? "", /answered 503/);
    assert.ok(!JSON.stringify(first.summary).includes("SECRETPATH"), "the URL's path is never shown");

    // Someone suppresses one finding (serve's acknowledge/suppress) while nothing runs.
    const suppressed = first.findings[0]?.id as string;
    const store = SqliteStore.open(path);
    await store.setFindingStatus?.({
      id: suppressed,
      status: "suppressed",
      reason: "pentest",
      actor: "test",
      at: new Date().toISOString(),
    });
    await store.close();

    down = false;
    const second = await runScan({ paths: [SAMPLE], statePath: path, jobs: 0, delivery: deliveryTo(r.url) });
    assert.equal(second.findings.length, 0, "nothing new was read");
    const acked = r.acknowledged();
    assert.deepEqual(
      [...acked].sort(),
      first.findings
        .map((f) => f.id)
        .filter((id) => id !== suppressed)
        .sort(),
    );
    const report = second.summary.delivery?.destinations[0];
    assert.deepEqual([report?.delivered, report?.skipped, report?.pending], [3, 1, 0]);
    assert.equal(second.exitCode, 0);

    const sent = r.received.length;
    const third = await runScan({ paths: [SAMPLE], statePath: path, jobs: 0, delivery: deliveryTo(r.url) });
    assert.equal(r.received.length, sent, "nothing is sent again once acknowledged");
    assert.equal(third.summary.delivery?.destinations[0]?.delivered, 0);
  });

  test("a state without an outbox refuses --to with a clear error", async () => {
    const store = new MemoryStore();
    const bare: StateStore = Object.assign(Object.create(store) as StateStore, { outbox: undefined });
    assert.throws(
      () => new Outbox(bare, { destinations: [] }),
      (e: Error & { code?: string }) => e.code === "E_USAGE" && /keeps no delivery outbox/.test(e.message),
    );
  });
});

describe("SQLite schema 5", () => {
  test("a schema 4 file: a reader reads it as it is; a writer adds the outbox, keeping findings and statuses", async (t) => {
    const path = join(scratchDir(), "v4.sqlite");
    await runScan({ paths: [SAMPLE], statePath: path, jobs: 0 });
    const writer = SqliteStore.open(path);
    const id = (await writer.allFindings())[0]?.finding.id as string;
    await writer.setFindingStatus({
      id,
      status: "suppressed",
      reason: "known",
      actor: "test",
      at: new Date(0).toISOString(),
    });
    await writer.close();
    const raw = new Database(path);
    raw.exec("DROP TABLE outbox");
    raw.pragma("user_version = 4");
    raw.close();
    const reader = SqliteStore.open(path, { readOnly: true });
    try {
      assert.equal((await reader.allFindings()).length, 4);
      assert.equal(reader.outbox, undefined, "a reader never delivers");
    } finally {
      await reader.close();
    }
    const upgraded = SqliteStore.open(path);
    try {
      assert.equal((await upgraded.allFindings()).length, 4);
      assert.equal((await upgraded.findingStatuses([id])).get(id)?.status, "suppressed");
      assert.deepEqual(await upgraded.claimDeliveries(["x"], 10), []);
    } finally {
      await upgraded.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      assert.equal(check.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      t.diagnostic(`SQLite state ${path}: schema 4 → ${SCHEMA_VERSION}`);
    } finally {
      check.close();
    }
  });
});

describe("outbox rows", () => {
  test("a re-alert (retraction) is delivered again; a finding that only gained calls is not; a row re-due while sending stays due", async () => {
    const [stored] = await sampleFindings();
    const f = stored as StoredFinding;
    const store = new MemoryStore();
    const r = await receiver(() => 200);
    const dest = webhook(r.url);
    const outbox = new Outbox(store, { destinations: [dest], ...fast });
    const commit = async (finding: Finding, previous?: Finding) =>
      store.commit({
        ...noCommit,
        findings: [{ ...f, finding }],
        outbox: outbox.tasksFor([{ ...(previous ? { previous } : {}), current: finding }]),
      });
    await commit(f.finding);
    const grown = { ...f.finding, evidence: { ...f.finding.evidence, count: 99 } };
    await commit(grown, f.finding);
    const retracted: Finding = { ...grown, status: "retracted", retractionReason: "explained" };
    const report1 = await outbox.finish();
    assert.equal(report1.destinations[0]?.delivered, 1, "the new finding once; its growth alerts nobody");

    const again = new Outbox(store, { destinations: [dest], ...fast });
    await commit(retracted, grown);
    const report2 = await again.finish();
    assert.equal(report2.destinations[0]?.delivered, 1);
    const bodies = r.received.map((x) => JSON.parse(x.body) as { findings: Finding[] });
    assert.deepEqual(
      bodies.map((b) => b.findings.map((x) => x.status)),
      [["open"], ["retracted"]],
    );

    // A destination that takes the finding while the scan commits a newer version of it.
    let raced = false;
    const racing: KeyedDestination = {
      key: dest.key,
      destination: {
        name: "racing",
        maxBatch: 10,
        send: async (findings) => {
          if (!raced) {
            raced = true;
            await commit({ ...retracted, status: "open", severity: "high" }, retracted);
          }
          return { delivered: findings.map((x) => x.id), failed: [] };
        },
      },
    };
    const racer = new Outbox(store, { destinations: [racing], ...fast });
    const before = await store.outbox.deliveryCounts([dest.key]);
    assert.equal(before.get(dest.key)?.pending, 0);
    await commit({ ...retracted, status: "open" }, retracted);
    const report3 = await racer.finish();
    assert.equal(report3.destinations[0]?.delivered, 2, "the version committed during the send is sent too");
    assert.equal(report3.pending, 0);
  });
});

describe("outbox on PostgreSQL", () => {
  test("two workers delivering at once never send the same finding twice", async (t) => {
    const url = await initialisedTestDatabase(t);
    const [stored] = await sampleFindings();
    const f = stored as StoredFinding;
    const r = await receiver(() => 200);
    const dest = webhook(r.url);
    const a = await PostgresStore.open(url, { worker: "a" });
    const b = await PostgresStore.open(url, { worker: "b" });
    try {
      const findings = Array.from({ length: 300 }, (_, i) => ({
        ...f,
        finding: { ...f.finding, id: `${String(i).padStart(4, "0")}${f.finding.id.slice(4)}` },
      }));
      // Half committed by each worker, as each finding is decided by one worker's checkpoint.
      for (const [store, part] of [
        [a, findings.slice(0, 150)],
        [b, findings.slice(150)],
      ] as const)
        await store.commit({
          ...noCommit,
          findings: part,
          outbox: part.map((x) => ({ findingId: x.finding.id, destination: dest.key })),
        });
      // Small claims, so that the two interleave many times.
      const options = { destinations: [dest], ...fast, batch: 7 };
      const [ra, rb] = await Promise.all([new Outbox(a, options).finish(), new Outbox(b, options).finish()]);
      const acked = r.acknowledged();
      t.diagnostic(
        `worker a sent ${ra.destinations[0]?.delivered}, worker b ${rb.destinations[0]?.delivered}, ${r.received.length} requests`,
      );
      assert.equal(acked.length, 300, "each finding sent once");
      assert.equal(new Set(acked).size, 300);
      assert.equal((ra.destinations[0]?.delivered ?? 0) + (rb.destinations[0]?.delivered ?? 0), 300);
      assert.ok((ra.destinations[0]?.delivered ?? 0) > 0 && (rb.destinations[0]?.delivered ?? 0) > 0, "both took part");
      assert.equal(ra.pending + rb.pending, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test("two scan workers on one database, one webhook: the findings of one process, each delivered once", async (t) => {
    const url = await initialisedTestDatabase(t);
    const r = await receiver((i) => (i % 3 === 0 ? 500 : 200));
    const files = logFiles(SAMPLE);
    const half = Math.ceil(files.length / 2);
    const run = (worker: string, paths: string[]) =>
      runScan({ paths, statePath: url, worker, jobs: 0, checkpointObjects: 5, delivery: deliveryTo(r.url) });
    const [a, b] = await Promise.all([run("a", files.slice(0, half)), run("b", files.slice(half))]);
    const single = await runScan({ paths: [SAMPLE], statePath: ":memory:", jobs: 0 });
    const found = [...a.findings, ...b.findings].map((f) => f.id);
    assert.deepEqual([...found].sort(), single.findings.map((f) => f.id).sort());
    const acked = r.acknowledged();
    t.diagnostic(
      `${r.received.length} requests (every third answered 500); a delivered ${a.summary.delivery?.destinations[0]?.delivered}, b ${b.summary.delivery?.destinations[0]?.delivered}`,
    );
    assert.deepEqual([...acked].sort(), [...found].sort(), "every finding delivered");
    assert.equal(new Set(acked).size, acked.length, "none delivered twice");
    assert.equal((a.summary.delivery?.pending ?? 0) + (b.summary.delivery?.pending ?? 0), 0);
  });

  test("rows claimed by a live worker are not taken; a dead worker's claims are taken at once", async (t) => {
    const url = await initialisedTestDatabase(t);
    const [stored] = await sampleFindings();
    const f = stored as StoredFinding;
    const a = await PostgresStore.open(url, { worker: "a" });
    const b = await PostgresStore.open(url, { worker: "b" });
    try {
      await a.commit({ ...noCommit, findings: [f], outbox: [{ findingId: f.finding.id, destination: "webhook:x" }] });
      assert.equal((await a.claimDeliveries(["webhook:x"], 10)).length, 1);
      assert.deepEqual(await b.claimDeliveries(["webhook:x"], 10), [], "a holds it while alive");
      // a dies without settling (its connections close, and its advisory lock with them).
      await a.close();
      const taken = await b.claimDeliveries(["webhook:x"], 10);
      assert.deepEqual(
        taken.map((x) => [x.findingId, x.generation, x.stored?.finding.id]),
        [[f.finding.id, 1, f.finding.id]],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});
