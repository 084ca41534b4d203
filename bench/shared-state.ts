/**
 * `npm run bench -- --shared [URL]`: throughput of 1, 2, 4 workers scanning one simulated trail into
 * one shared state, against a single process on SQLite over the same files.
 *
 * For each worker count a fresh state is made (PostgreSQL: a new database next to the one the URL
 * names, dropped afterwards; the role needs CREATEDB), `state init` is run on it, and the trail's
 * objects are dealt round-robin in delivery order to N `firstcall scan --worker wI` processes started
 * together (each with its default checkpoints, reader threads and lateness, as a user would run them).
 * Reported per N: wall time from the first start to the last exit, events/s over the trail's events,
 * round trips to the store per 1,000 events, the share of the workers' time spent waiting for the store
 * (and the part of it waiting for another worker's checkpoint: the lock), the state's size, and that
 * every run gives the same findings as the single process.
 *
 * Options: `--instances N --hours H` (the simulated fleet; default 400 × 6 h, cached in the bench
 * folder like `npm run bench`'s corpora), `--workers 1,2,4`, `--save` (writes a .md to bench/results/).
 * The store comes from the URL's scheme, so another shared store (DynamoDB) slots in with its own
 * `freshState` below.
 *
 * @example
 * npm run bench -- --shared                                     # FIRSTCALL_TEST_PG, else the local server
 * npm run bench -- --shared postgres://me@db/postgres --workers 1,2,4,8 --save
 * npm run bench -- --shared dynalite --save                    # DynamoDB's API, served in this process
 * node --import tsx bench/shared-state.ts --instances 1700 --hours 12
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { cacheDir } from "../src/cache-dir.js";
import { deliveryOrderKey } from "../src/cloudtrail/layout.js";
import { simulate } from "../src/simulate/simulate.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..");
const CORPUS_ROOT = process.env.FIRSTCALL_BENCH_DIR ?? join(cacheDir(), "bench");
const CLI = [process.execPath, "--import", "tsx", join(REPO, "src/cli/main.ts")];

interface Args {
  url: string;
  instances: number;
  hours: number;
  workers: number[];
  save: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    url: process.env.FIRSTCALL_TEST_PG || "postgres://postgres@127.0.0.1:5432/postgres",
    instances: 400,
    hours: 6,
    workers: [1, 2, 4],
    save: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--instances") args.instances = Number(next());
    else if (a === "--hours") args.hours = Number(next());
    else if (a === "--workers") args.workers = next().split(",").map(Number);
    else if (a === "--save") args.save = true;
    else if (a === "--state") args.url = next();
    else if (/^[a-z]+:\/\//i.test(a) || a === "dynalite") args.url = a;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

/** A simulated trail, written once and reused while its parameters match. */
async function corpus(instances: number, hours: number): Promise<{ dir: string; events: number; files: string[] }> {
  const params = { accounts: 3, regions: 2, instances, hours, seed: 1, attacks: "all" };
  const dir = join(CORPUS_ROOT, `shared-${instances}x${hours}h`);
  const marker = join(dir, ".corpus.json");
  let events: number;
  if (
    existsSync(marker) &&
    JSON.stringify(JSON.parse(readFileSync(marker, "utf8")).params) === JSON.stringify(params)
  ) {
    events = JSON.parse(readFileSync(marker, "utf8")).events as number;
  } else {
    process.stderr.write(`bench: writing corpus ${dir}\n`);
    const r = await simulate({ ...params, outDir: dir, force: true });
    events = r.events;
    writeFileSync(marker, `${JSON.stringify({ params, events })}\n`);
  }
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json.gz") && !e.name.includes("Digest")) files.push(p);
    }
  };
  walk(join(dir, "AWSLogs"));
  files.sort((a, b) =>
    deliveryOrderKey(a) < deliveryOrderKey(b) ? -1 : deliveryOrderKey(a) > deliveryOrderKey(b) ? 1 : a < b ? -1 : 1,
  );
  return { dir, events, files };
}

/** A new, empty shared state for one measurement, and how to remove it. */
async function freshState(
  url: string,
  tag: string,
): Promise<{
  url: string;
  drop: () => Promise<void>;
  bytes: () => Promise<{ total: number; events: number; eventRows: number }>;
}> {
  if (url === "dynalite" || /^dynamodb:\/\//i.test(url)) return freshTable(url, tag);
  if (!/^postgres(ql)?:\/\//i.test(url)) throw new Error(`no fresh-state maker for ${url.replace(/\/\/.*@/, "//…@")}`);
  const name = `firstcall_bench_${process.pid}_${tag}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  const stateUrl = u.toString();
  return {
    url: stateUrl,
    bytes: async () => {
      const c = new pg.Client({ connectionString: stateUrl });
      await c.connect();
      try {
        const r = await c.query<{ n: string; events: string; rows: string }>(
          `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n,
             pg_total_relation_size('firstcall_events') AS events,
             (SELECT count(*) FROM firstcall_events) AS rows
           FROM pg_class c
           WHERE c.relkind = 'r' AND c.relname LIKE 'firstcall\\_%' AND pg_table_is_visible(c.oid)`,
        );
        return {
          total: Number(r.rows[0]?.n ?? 0),
          events: Number(r.rows[0]?.events ?? 0),
          eventRows: Number(r.rows[0]?.rows ?? 0),
        };
      } finally {
        await c.end();
      }
    },
    drop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A new DynamoDB table for one measurement: on `dynamodb://BASE?…` a table named after BASE, or on
 * `dynalite` a dynalite server started in this process on a loopback port (the workers reach it by
 * the URL's endpoint). Size is the table's `TableSizeBytes` as the server reports it.
 */
async function freshTable(url: string, tag: string): Promise<Awaited<ReturnType<typeof freshState>>> {
  let base = url;
  if (url === "dynalite") {
    dynaliteEndpoint ??= await startDynalite();
    base = `dynamodb://firstcall_bench?region=us-east-1&endpoint=${dynaliteEndpoint}`;
  }
  const u = new URL(base);
  const table = `${u.hostname}_${process.pid}_${tag}`;
  const stateUrl = `dynamodb://${table}${u.search}`;
  const { DynamoDBClient, DeleteTableCommand, DescribeTableCommand } = await import("@aws-sdk/client-dynamodb");
  const client = () =>
    new DynamoDBClient({
      region: u.searchParams.get("region") ?? "us-east-1",
      ...(u.searchParams.get("endpoint") ? { endpoint: u.searchParams.get("endpoint") as string } : {}),
    });
  return {
    url: stateUrl,
    bytes: async () => {
      const c = client();
      try {
        const d = await c.send(new DescribeTableCommand({ TableName: table }));
        return { total: d.Table?.TableSizeBytes ?? 0, events: 0, eventRows: 0 };
      } finally {
        c.destroy();
      }
    },
    drop: async () => {
      const c = client();
      try {
        await c.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
      } finally {
        c.destroy();
      }
    },
  };
}

let dynaliteEndpoint: string | undefined;

/** dynalite in memory on 127.0.0.1 (it ignores credentials' values but needs some in each request). */
async function startDynalite(): Promise<string> {
  process.env.AWS_ACCESS_KEY_ID = "dynalite";
  process.env.AWS_SECRET_ACCESS_KEY = "dynalite";
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const { default: dynalite } = await import("dynalite");
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", () => resolveListen()));
  server.unref();
  return `http://127.0.0.1:${(server.address() as import("node:net").AddressInfo).port}`;
}

interface WorkerRun {
  ms: number;
  /** The scan's own duration (its summary's durationMs): without process start-up. */
  scanMs: number;
  code: number | null;
  roundTrips: number;
  storeMs: number;
  lockWaitMs: number;
  findings: Set<string>;
  stderr: string;
}

function runWorker(args: string[], summaryFile: string): Promise<WorkerRun> {
  return new Promise((resolvePromise) => {
    const began = performance.now();
    rmSync(summaryFile, { force: true });
    const child = spawn(CLI[0] as string, [...CLI.slice(1), ...args, "--summary-json", summaryFile], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FIRSTCALL_DEBUG: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("exit", (code) => {
      const closed = stderr
        .split("\n")
        .filter((l) => l.includes('"shared state closed"'))
        .map((l) => JSON.parse(l) as { roundTrips: number; storeMs: number; lockWaitMs: number })[0];
      const findings = new Set(
        stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => {
            const f = JSON.parse(l) as { id: string; status?: string };
            return `${f.id} ${f.status ?? "open"}`;
          }),
      );
      const summary = existsSync(summaryFile)
        ? (JSON.parse(readFileSync(summaryFile, "utf8")) as { durationMs: number })
        : undefined;
      rmSync(summaryFile, { force: true });
      resolvePromise({
        ms: performance.now() - began,
        scanMs: summary?.durationMs ?? Number.NaN,
        code,
        roundTrips: closed?.roundTrips ?? 0,
        storeMs: closed?.storeMs ?? 0,
        lockWaitMs: closed?.lockWaitMs ?? 0,
        findings,
        stderr: stderr
          .split("\n")
          .filter((l) => !l.startsWith("{"))
          .join("\n"),
      });
    });
  });
}

function scanArgs(dir: string, state: string): string[] {
  return [
    "scan",
    "--state",
    state,
    "--format",
    "jsonl",
    "--config",
    join(dir, "firstcall.yaml"),
    "--ip-ranges",
    join(dir, "ip-ranges.json"),
    "--no-progress",
    "-q",
  ];
}

interface Row {
  workers: number;
  wallMs: number;
  scanMs: number;
  eventsPerSec: number;
  roundTripsPer1000: number;
  roundTrips: number;
  storeShare: number;
  lockShare: number;
  stateMB: number;
  /** Of which the staged events' table, and the event rows left in it. */
  eventsMB: number;
  eventRows: number;
  sameFindings: boolean;
}

/** Runs the bench; `argv` are its options (see the module comment). */
export async function sharedBench(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  mkdirSync(CORPUS_ROOT, { recursive: true });
  const { dir, events, files } = await corpus(args.instances, args.hours);
  process.stderr.write(
    `bench: ${files.length} objects, ${events.toLocaleString("en-US")} events; store ${args.url.replace(/\/\/[^@]*@/, "//…@")}\n`,
  );

  // The reference: one process, SQLite.
  const sqlite = join(CORPUS_ROOT, ".state", `shared-ref-${process.pid}.sqlite`);
  mkdirSync(dirname(sqlite), { recursive: true });
  const reference = await runWorker([...scanArgs(dir, sqlite), dir], `${sqlite}.summary.json`);
  for (const f of [sqlite, `${sqlite}-wal`, `${sqlite}-shm`, `${sqlite}.lock`]) rmSync(f, { force: true });
  if (reference.code !== 0 && reference.code !== 1) throw new Error(`reference scan failed: ${reference.stderr}`);
  process.stderr.write(`bench: SQLite, one process: ${Math.round(reference.ms)} ms\n`);

  const rows: Row[] = [];
  for (const n of args.workers) {
    const state = await freshState(args.url, `n${n}`);
    try {
      // Not spawnSync: a dynalite server in this process must answer the child meanwhile.
      const init = await new Promise<{ status: number | null; stderr: string }>((done) => {
        const child = spawn(CLI[0] as string, [...CLI.slice(1), "state", "init", "--state", state.url], {
          cwd: REPO,
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
          stderr += d;
        });
        child.on("close", (status) => done({ status, stderr }));
      });
      if (init.status !== 0) throw new Error(`state init failed: ${init.stderr}`);
      const began = performance.now();
      const runs = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          runWorker(
            [
              ...scanArgs(dir, state.url),
              "--worker",
              `w${i}`,
              "--log-level",
              "debug",
              ...files.filter((_, j) => j % n === i),
            ],
            join(CORPUS_ROOT, ".state", `shared-w${i}-${process.pid}.summary.json`),
          ),
        ),
      );
      const wallMs = performance.now() - began;
      const size = await state.bytes();
      // The workers start together: the slowest one's scan is the run's (process start-up left out).
      const scanMs = Math.max(...runs.map((r) => r.scanMs));
      for (const [i, r] of runs.entries())
        if (r.code !== 0 && r.code !== 1) throw new Error(`worker w${i} exited ${r.code}: ${r.stderr.slice(-2000)}`);
      const union = new Set(runs.flatMap((r) => [...r.findings]));
      const roundTrips = runs.reduce((s, r) => s + r.roundTrips, 0);
      const workerMs = runs.reduce((s, r) => s + r.ms, 0);
      const row: Row = {
        workers: n,
        wallMs: Math.round(wallMs),
        scanMs: Math.round(scanMs),
        eventsPerSec: Math.round(events / (scanMs / 1000)),
        roundTripsPer1000: Number(((roundTrips / events) * 1000).toFixed(2)),
        roundTrips,
        storeShare: Number((runs.reduce((s, r) => s + r.storeMs, 0) / workerMs).toFixed(3)),
        lockShare: Number((runs.reduce((s, r) => s + r.lockWaitMs, 0) / workerMs).toFixed(3)),
        stateMB: Number((size.total / 1e6).toFixed(1)),
        eventsMB: Number((size.events / 1e6).toFixed(1)),
        eventRows: size.eventRows,
        sameFindings: union.size === reference.findings.size && [...union].every((f) => reference.findings.has(f)),
      };
      rows.push(row);
      process.stderr.write(`bench: ${JSON.stringify(row)}\n`);
    } finally {
      await state.drop();
    }
  }

  const one = rows.find((r) => r.workers === 1);
  const lines = [
    `# Shared state: ${args.workers.join(", ")} workers on ${args.url === "dynalite" ? "dynalite (DynamoDB API, in memory)" : new URL(args.url).protocol.replace(":", "")}`,
    "",
    `Corpus: simulated, ${args.instances} instances × ${args.hours} h, 3 accounts, 2 regions, all attack kinds (seed 1): ${files.length} objects, ${events.toLocaleString("en-US")} events.`,
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} at the end; Node ${process.version}; CLI through tsx.`,
    `Reference: one process on SQLite, scan ${Math.round(reference.scanMs).toLocaleString("en-US")} ms (${Math.round(events / (reference.scanMs / 1000)).toLocaleString("en-US")} events/s; ${Math.round(reference.ms).toLocaleString("en-US")} ms with process start-up), ${reference.findings.size} findings.`,
    "",
    "| workers | scan ms | wall ms | events/s | × 1 worker | round trips | per 1,000 events | time waiting for the store | of which the checkpoint lock | tables (of which staged events) | event rows left | findings = one process |",
    "| ------: | ------: | ------: | -------: | ---------: | ----------: | ---------------: | -------------------------: | ---------------------------: | ------------------------------: | --------------: | :--------------------- |",
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${r.scanMs.toLocaleString("en-US")} | ${r.wallMs.toLocaleString("en-US")} | ${r.eventsPerSec.toLocaleString("en-US")} | ${one ? (r.eventsPerSec / one.eventsPerSec).toFixed(2) : "?"} | ${r.roundTrips} | ${r.roundTripsPer1000} | ${(r.storeShare * 100).toFixed(1)} % | ${(r.lockShare * 100).toFixed(1)} % | ${r.stateMB} MB (${r.eventsMB} MB) | ${r.eventRows} | ${r.sameFindings ? "yes" : "NO"} |`,
    ),
    "",
    "Scan ms: the slowest worker's own scan duration (its summary's `durationMs`); events/s are over it. Wall ms runs from the start of the first worker to the exit of the last, process start-up included. Database size: the `firstcall_*` tables with their indexes and TOAST, after the run. Time waiting for the store is the workers' summed wall time between sending a statement and its answer, over their summed run time; the checkpoint lock part is the wait for `SELECT … FOR UPDATE` while another worker's checkpoint holds it.",
    ...(/^postgres/i.test(args.url)
      ? []
      : [
          "",
          "DynamoDB: round trips are requests; the lock wait is the time taking the lock item; the size is the table's `TableSizeBytes` as the server reports it (staged events are not counted apart). dynalite is a local implementation of the API on LevelDB in memory, so its latency is loopback's, not DynamoDB's (single-digit milliseconds a request over a network): on AWS multiply the requests by that.",
        ]),
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (args.save) {
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const file = join(HERE, "results", `${stamp}-shared-state.md`);
    writeFileSync(file, `${lines.join("\n")}\n`);
    process.stderr.write(`bench: wrote ${file}\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await sharedBench(process.argv.slice(2));
