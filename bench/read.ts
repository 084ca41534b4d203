/**
 * `node --import tsx bench/read.ts`: how fast log objects become facts, against naive baselines, on a
 * simulated fleet (a few hundred MB of CloudTrail once decompressed).
 *
 *   (a) gunzip every file                                   — the floor
 *   (b) gunzip + JSON.parse every file, one thread          — the naive reader
 *   (c) readObjectFacts, on the calling thread (jobs 0)     — the reader alone
 *   (d) FactsReader with 2 workers                          — the reader as the scan will use it
 *   (e) what the receiving thread pays for one object's facts: structured clone vs packed
 *
 * Each of (a)–(d) runs in a child process, `--runs` times (default 3; the fastest counts), and reports
 * wall time, events/s, MB/s of decompressed JSON, the peak RSS of the process (workers included) and,
 * on Linux, the CPU time of the main thread — the thread that will also run the engine.
 *
 * The fleet is written into $XDG_CACHE_HOME (else the system temp directory) and removed afterwards,
 * unless `--keep`; `--dir D` reuses (and keeps) a fleet written there before.
 *
 * @example
 * node --import tsx bench/read.ts
 * node --import tsx bench/read.ts --instances 400 --hours 1 --runs 1
 * node --import tsx bench/read.ts --dir /tmp/fleet --keep
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { gunzipSync } from "node:zlib";
import { packObjectFacts, unpackObjectFacts } from "../src/reader/packed-facts.js";
import { FactsReader } from "../src/reader/pool.js";
import { type ObjectFacts, readObjectFacts } from "../src/reader/read-object.js";
import { simulate } from "../src/simulate/simulate.js";

interface Args {
  instances: number;
  hours: number;
  runs: number;
  dir: string | undefined;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { instances: 1600, hours: 2, runs: 3, dir: undefined, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--instances") args.instances = Number(next());
    else if (a === "--hours") args.hours = Number(next());
    else if (a === "--runs") args.runs = Number(next());
    else if (a === "--dir") args.dir = next();
    else if (a === "--keep") args.keep = true;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

/** Every log file under a directory, sorted (as a scan lists them). */
function logFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".json.gz")) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** CPU time of the main thread in ms (Linux), or undefined. */
function mainThreadCpuMs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return undefined;
  }
}

interface Measure {
  variant: string;
  ms: number;
  /** Time to start the workers (before `ms`), for the pool. */
  startMs: number;
  records: number;
  rawBytes: number;
  maxRssMb: number;
  mainCpuMs: number | undefined;
  /** CPU time of the whole process, every thread. */
  cpuMs: number;
}

interface Variant {
  readonly label: string;
  /** Set-up not timed as reading (starting workers); returns what `run` needs. */
  readonly open?: (files: string[]) => Promise<FactsReader>;
  readonly run: (files: string[], reader?: FactsReader) => Promise<{ records: number; rawBytes: number }>;
}

const VARIANTS: Record<string, Variant> = {
  gunzip: {
    label: "(a) gunzip",
    run: async (files) => {
      let rawBytes = 0;
      for (const f of files) rawBytes += gunzipSync(readFileSync(f)).length;
      return { records: 0, rawBytes };
    },
  },
  parse: {
    label: "(b) gunzip + JSON.parse",
    run: async (files) => {
      let rawBytes = 0;
      let records = 0;
      for (const f of files) {
        const raw = gunzipSync(readFileSync(f));
        rawBytes += raw.length;
        records += (JSON.parse(raw.toString("utf8")) as { Records: unknown[] }).Records.length;
      }
      return { records, rawBytes };
    },
  },
  facts: {
    label: "(c) readObjectFacts, jobs 0",
    run: async (files) => {
      let rawBytes = 0;
      let records = 0;
      for (const f of files) {
        const r = await readObjectFacts({ id: f, path: f });
        rawBytes += r.rawBytes;
        records += r.records;
      }
      return { records, rawBytes };
    },
  },
  pool: {
    label: "(d) FactsReader, jobs 2",
    open: async (files) => {
      const reader = new FactsReader({ jobs: 2 });
      // Start both workers (under tsx each loads the TypeScript sources).
      await Promise.all(files.slice(0, 2).map((f) => reader.read({ id: f, path: f })));
      return reader;
    },
    run: async (files, reader) => {
      if (!reader) throw new Error("no reader");
      let rawBytes = 0;
      let records = 0;
      try {
        const sources = files.map((f) => ({ id: f, path: f, size: statSync(f).size }));
        for await (const r of reader.readInOrder(sources)) {
          rawBytes += r.rawBytes;
          records += r.records;
          // What a consumer does at least: look at every fact.
          for (const f of r.facts) if (f.event !== undefined && f.eventId === undefined) records += 0;
        }
      } finally {
        await reader.close();
      }
      return { records, rawBytes };
    },
  },
};

async function child(variant: string, dir: string): Promise<void> {
  const files = logFiles(dir);
  const v = VARIANTS[variant];
  if (!v) throw new Error(`unknown variant ${variant}`);
  const t0 = performance.now();
  const reader = await v.open?.(files);
  const startMs = performance.now() - t0;
  const cpu0 = mainThreadCpuMs();
  const all0 = process.cpuUsage();
  const t1 = performance.now();
  const { records, rawBytes } = await v.run(files, reader);
  const ms = performance.now() - t1;
  const cpu1 = mainThreadCpuMs();
  const all = process.cpuUsage(all0);
  const m: Measure = {
    variant,
    ms,
    startMs,
    records,
    rawBytes,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    mainCpuMs: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined,
    cpuMs: (all.user + all.system) / 1000,
  };
  console.log(JSON.stringify(m));
}

/** (e): what the receiving thread pays per record, structured clone of the facts vs packed. */
async function transfer(dir: string): Promise<void> {
  const files = logFiles(dir).slice(0, 400);
  const all: ObjectFacts[] = [];
  for (const f of files) all.push(await readObjectFacts({ id: f, path: f }));
  const records = all.reduce((n, o) => n + o.records, 0);
  const look = (o: ObjectFacts) => {
    let n = 0;
    for (const f of o.facts) if (f.event !== undefined) n += f.event.name.length + (f.eventId?.length ?? 0);
    return n;
  };
  const best = { clone: Infinity, packedReceive: Infinity, pack: Infinity, cloneSend: Infinity, packedSend: Infinity };
  let sink = 0;
  let plainBytes = 0;
  let packedBytes = 0;
  for (let round = 0; round < 8; round++) {
    let t = performance.now();
    const plain = all.map((o) => v8.serialize(o));
    best.cloneSend = Math.min(best.cloneSend, performance.now() - t);
    t = performance.now();
    const packed = all.map((o) => packObjectFacts(o));
    best.pack = Math.min(best.pack, performance.now() - t);
    t = performance.now();
    const packedBuffers = packed.map((p) => v8.serialize(p));
    best.packedSend = Math.min(best.packedSend, performance.now() - t);
    t = performance.now();
    for (const b of plain) sink += look(v8.deserialize(b));
    best.clone = Math.min(best.clone, performance.now() - t);
    t = performance.now();
    for (const b of packedBuffers) sink += look(unpackObjectFacts(v8.deserialize(b)));
    best.packedReceive = Math.min(best.packedReceive, performance.now() - t);
    plainBytes = plain.reduce((n, b) => n + b.length, 0);
    packedBytes = packedBuffers.reduce((n, b) => n + b.length, 0);
  }
  const us = (ms: number) => ((ms * 1000) / records).toFixed(2);
  console.log(
    JSON.stringify({
      records,
      objects: all.length,
      receive: { structuredClone: us(best.clone), packed: us(best.packedReceive) },
      send: { structuredClone: us(best.cloneSend), packed: us(best.pack + best.packedSend) },
      megabytes: { structuredClone: (plainBytes / 1e6).toFixed(1), packed: (packedBytes / 1e6).toFixed(1) },
      sink: sink > 0,
    }),
  );
}

function runChild(args: string[]): string {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`child ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout.trim().split("\n").pop() as string;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") return child(argv[1] as string, argv[2] as string);
  if (argv[0] === "--transfer") return transfer(argv[1] as string);
  const args = parseArgs(argv);
  const base = process.env.XDG_CACHE_HOME || tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = args.dir ?? mkdtempSync(join(base, "firstcall-bench-read-"));
  const reuse = args.dir !== undefined && existsSync(join(dir, "AWSLogs"));
  try {
    if (!reuse) {
      console.log(`writing a simulated fleet (${args.instances} instances, ${args.hours} h) into ${dir} …`);
      const sim = await simulate({ outDir: dir, instances: args.instances, hours: args.hours, seed: 42, force: true });
      console.log(
        `${sim.files.length} files, ${sim.writer.records} records, ${(sim.writer.rawBytes / 1e6).toFixed(0)} MB raw, ${(sim.writer.gzBytes / 1e6).toFixed(1)} MB gzipped`,
      );
    }
    const logs = join(dir, "AWSLogs");
    const rows: Measure[] = [];
    for (const variant of Object.keys(VARIANTS)) {
      let best: Measure | undefined;
      for (let run = 0; run < args.runs; run++) {
        const m = JSON.parse(runChild(["--child", variant, logs])) as Measure;
        if (!best || m.ms < best.ms) best = m;
      }
      rows.push(best as Measure);
      const m = best as Measure;
      const label = (VARIANTS[variant]?.label ?? variant).padEnd(30);
      const events =
        m.records > 0 ? `${(m.records / (m.ms / 1000) / 1000).toFixed(0).padStart(5)} k events/s` : "".padStart(16);
      const main = m.mainCpuMs !== undefined ? `, main thread ${(m.mainCpuMs / 1000).toFixed(2)} s` : "";
      const cpu = `; CPU ${(m.cpuMs / 1000).toFixed(2)} s${main}`;
      const start = m.startMs > 1 ? ` (+ ${(m.startMs / 1000).toFixed(2)} s starting workers)` : "";
      console.log(
        `${label} ${(m.ms / 1000).toFixed(2).padStart(6)} s ${events} ${(m.rawBytes / 1e6 / (m.ms / 1000)).toFixed(0).padStart(5)} MB/s  peak RSS ${m.maxRssMb.toFixed(0)} MB${cpu}${start}`,
      );
    }
    const t = JSON.parse(runChild(["--transfer", logs]));
    console.log(
      `(e) receiving the facts of ${t.records} records (${t.objects} objects), per record: structured clone ${t.receive.structuredClone} µs, packed ${t.receive.packed} µs; sending: ${t.send.structuredClone} µs vs ${t.send.packed} µs; ${t.megabytes.structuredClone} MB vs ${t.megabytes.packed} MB`,
    );
  } finally {
    if (!args.keep && args.dir === undefined) rmSync(dir, { recursive: true, force: true });
    else console.log(`fleet kept in ${dir}`);
  }
}

await main();
