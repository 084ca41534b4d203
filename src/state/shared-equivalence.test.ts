/**
 * N workers on one shared state give exactly the findings of one process, on each shared store
 * (PostgreSQL; DynamoDB on dynalite). A simulated fleet's log objects are split across N = 1, 2, 4, 8
 * real CLI processes (`firstcall scan … --worker wI`) running at the same time against one database
 * or table; with N ≥ 2 each worker is also handed two objects of the next
 * worker (at-least-once delivery: the same object twice, concurrently). One worker is killed with
 * SIGKILL after its first committed checkpoint and started again with the same name. The union of
 * the findings the workers delivered, by id and status, must equal a single process's run on SQLite,
 * and no finding may be delivered twice.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import pg from "pg";
import { deliveryOrderKey } from "../cloudtrail/layout.js";
import { loadConfig } from "../config/config.js";
import type { Finding } from "../findings/finding.js";
import { runScan } from "../pipeline/scan.js";
import { simulate } from "../simulate/simulate.js";
import { listLocalObjects } from "../sources/local.js";
import { CLI_MAIN, REPO } from "../test-helpers/cli.js";
import { testTable } from "../test-helpers/dynamodb.js";
import { testDatabase } from "../test-helpers/postgres.js";
import { scratchDirs } from "../test-helpers/scan.js";
import { DynamoStore, initDynamo, inspectDynamo } from "./dynamodb.js";
import { migratePostgres } from "./postgres.js";

const scratchDir = scratchDirs("firstcall-shared-");

interface Worker {
  readonly name: string;
  readonly files: string[];
  readonly output: string;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

function startWorker(w: Worker, url: string, sim: string): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      CLI_MAIN,
      "scan",
      ...w.files,
      "--state",
      url,
      "--worker",
      w.name,
      "--format",
      "jsonl",
      "--output",
      w.output,
      "--config",
      join(sim, "firstcall.yaml"),
      "--ip-ranges",
      join(sim, "ip-ranges.json"),
      // Many small checkpoints, events released as soon as the lateness allows: the workers'
      // checkpoints interleave all through the run instead of meeting once at the end.
      "--checkpoint-objects",
      "3",
      "--reorder-buffer",
      "0",
      "--lateness",
      "30",
      "--jobs",
      "0",
      "-q",
    ],
    { cwd: REPO, env: { ...process.env, FIRSTCALL_DEBUG: "" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const done = new Promise<Exit>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

function assertScanExit(e: Exit, who: string): void {
  // 0: no finding at or above --fail-on; 1: some (the simulated thefts).
  assert.ok(e.code === 0 || e.code === 1, `${who} exited ${e.code ?? e.signal}: ${e.stderr}`);
}

/** A shared store the workers run against: a fresh, initialised state, and what the test reads of it. */
interface SharedBackend {
  readonly name: string;
  fresh(): Promise<{ url: string; server: string }>;
  /** Whether the worker has committed a checkpoint (it has a read position). */
  hasPosition(url: string, worker: string): Promise<boolean>;
  /** Findings and objects stored, and each worker with whether it finished. */
  stored(url: string): Promise<{ findings: number; objects: number; workers: [string, boolean][] }>;
}

const postgres: SharedBackend = {
  name: "PostgreSQL",
  async fresh() {
    const { url, server } = await testDatabase();
    await migratePostgres(url);
    return { url, server: `PostgreSQL server: ${server}` };
  },
  async hasPosition(url, worker) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ w: number | null }>("SELECT watermark AS w FROM firstcall_streams WHERE worker = $1", [
        worker,
      ]);
      return r.rows[0]?.w != null;
    } finally {
      await c.end();
    }
  },
  async stored(url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const count = async (table: string) =>
        Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
      const streams = await c.query<{ worker: string; finished: boolean }>(
        "SELECT worker, finished FROM firstcall_streams ORDER BY worker",
      );
      return {
        findings: await count("firstcall_findings"),
        objects: await count("firstcall_objects"),
        workers: streams.rows.map((r) => [r.worker, r.finished]),
      };
    } finally {
      await c.end();
    }
  },
};

const dynamodb: SharedBackend = {
  name: "DynamoDB",
  async fresh() {
    // A short lease: a worker killed holding the checkpoint lock holds the others back for lease + 10 s.
    const { url, server } = await testTable("&lease=2");
    await initDynamo(url);
    return { url, server };
  },
  async hasPosition(url, worker) {
    const store = await DynamoStore.open(url, { readOnly: true });
    try {
      return ((await store.workerPositions()).get(worker)?.position ?? null) !== null;
    } finally {
      await store.close();
    }
  },
  async stored(url) {
    const info = await inspectDynamo(url);
    return {
      findings: info.findings ?? 0,
      objects: info.objects ?? 0,
      workers: (info.workers ?? []).map((w) => [w.worker, w.finished]),
    };
  },
};

async function waitForCheckpoint(
  backend: SharedBackend,
  url: string,
  worker: string,
  exited: () => boolean,
): Promise<void> {
  for (;;) {
    if (await backend.hasPosition(url, worker)) return;
    assert.ok(!exited(), `${worker} ended before its first checkpoint could be waited for`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readLines(path: string): Finding[] {
  const text = readFileSync(path, "utf8");
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Finding);
}

/** id → [rule, principal, address, status]: what must match; evidence counts may not (see ARCHITECTURE §1). */
function summarise(findings: readonly Finding[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of findings) out.set(f.id, [f.rule, f.principal.arn, f.sourceIp, f.status ?? "open"].join(" "));
  return out;
}

describe("N workers on one shared state", () => {
  let sim = "";
  let objects: string[] = [];
  let reference = new Map<string, string>();

  before(async () => {
    sim = join(scratchDir(), "sim");
    await simulate({ outDir: sim, instances: 16, hours: 2, accounts: 2, regions: 2, seed: 7 });
    const listed = await listLocalObjects([sim]);
    objects = listed.objects
      .map((o) => o.id)
      .filter((id) => id.endsWith(".json.gz"))
      .sort((a, b) =>
        deliveryOrderKey(a) < deliveryOrderKey(b) ? -1 : deliveryOrderKey(a) > deliveryOrderKey(b) ? 1 : a < b ? -1 : 1,
      );
    const single = await runScan({
      paths: [sim],
      statePath: join(scratchDir(), "single.sqlite"),
      config: loadConfig(join(sim, "firstcall.yaml")),
      ipRangesPath: join(sim, "ip-ranges.json"),
    });
    reference = summarise(single.findings);
    assert.ok(reference.size >= 10, `the simulated fleet gives findings to compare (${reference.size})`);
  });

  for (const backend of [postgres, dynamodb])
    for (const n of [1, 2, 4, 8]) {
      test(`${backend.name}: ${n} worker(s), one killed and restarted: the findings of one process, each delivered once`, async (t) => {
        const started = Date.now();
        const { url, server } = await backend.fresh();
        t.diagnostic(server);
        const dir = scratchDir();
        const workers: Worker[] = Array.from({ length: n }, (_, i) => ({
          name: `w${i}`,
          files: objects.filter((_, j) => j % n === i),
          output: join(dir, `w${i}.jsonl`),
        }));
        // At-least-once delivery: two objects of the next worker are delivered to this one too.
        if (n > 1)
          for (const [i, w] of workers.entries()) w.files.push(...(workers[(i + 1) % n] as Worker).files.slice(2, 4));

        const runs = workers.map((w) => startWorker(w, url, sim));
        // Kill w0 once it has committed a checkpoint (mid-run: it has more to read), then restart it.
        const victim = runs[0] as (typeof runs)[0];
        let victimExited = false;
        void victim.done.then(() => {
          victimExited = true;
        });
        await waitForCheckpoint(backend, url, "w0", () => victimExited);
        assert.equal(victimExited, false, "w0 was still running when killed");
        victim.child.kill("SIGKILL");
        const killed = await victim.done;
        assert.equal(killed.signal, "SIGKILL");
        const restarted = startWorker(workers[0] as Worker, url, sim);
        const exits = await Promise.all([restarted.done, ...runs.slice(1).map((r) => r.done)]);
        for (const [i, e] of exits.entries()) assertScanExit(e, `w${i}`);

        const delivered = workers.flatMap((w) => readLines(w.output));
        const pairs = delivered.map((f) => `${f.id} ${f.status ?? "open"}`);
        const twice = pairs.filter((p, i) => pairs.indexOf(p) !== i);
        assert.deepEqual(twice, [], "no finding delivered twice (same id and status)");
        // The union by id, the last version winning (a retraction comes after what it retracts).
        const union = new Map<string, Finding>();
        for (const f of delivered) if (!union.has(f.id) || (f.status ?? "open") === "retracted") union.set(f.id, f);
        const got = summarise([...union.values()]);
        assert.deepEqual(
          [...got].sort(),
          [...reference].sort(),
          "the workers' findings equal the single process's, by id, rule, credential, address and status",
        );

        const stored = await backend.stored(url);
        assert.equal(stored.findings, reference.size, "the state holds each finding once");
        assert.equal(stored.objects, objects.length, "every object is recorded as scanned once");
        assert.deepEqual(
          stored.workers,
          workers.map((w) => [w.name, true]),
        );
        t.diagnostic(
          `${backend.name}, ${n} workers: ${objects.length} objects, ${reference.size} findings, ${delivered.length} lines delivered, ${Date.now() - started} ms`,
        );
      });
    }
});
