/**
 * `npm run bench`: measures `firstcall scan` against naive baselines on the same files, in one run.
 *
 *   (a) gunzip every file                         — the floor: nothing can read gzip faster
 *   (b) gunzip + JSON.parse every file            — the naive reader
 *   (c) firstcall scan end to end, SQLite state   — the product
 *   (d) zcat | jq selecting instance sessions     — the shell one-liner (skipped without jq)
 *
 * Each is a child process, run `--runs` times (default 3); the median wall time counts and peak RSS
 * comes from /usr/bin/time -v (or the child's own report). Then a long run: the same fleet over
 * `--long-factor` (default 4) times the hours, scanned once, to show that memory stays flat while
 * events grow. Corpora are written by `simulate` into the cache folder
 * (`$FIRSTCALL_BENCH_DIR`, else `$XDG_CACHE_HOME/firstcall/bench`) and reused while their parameters
 * match. Results are printed and written to that folder; `--save` also writes them to bench/results/.
 *
 * @example
 * npm run bench                       # ≥ 1M events, 3 runs each, and the long run
 * npm run bench -- --runs 5 --save
 * npm run bench -- --long-factor 0    # no long run
 * npm run bench -- --scaling          # adds 100 / 1k / 10k / 100k instances (1 hour each)
 * npm run bench -- --scaling --scaling-sizes 100,1000,10000
 * npm run bench -- --no-live          # without the live latency run (bench/live.ts)
 * npm run bench -- --shared [postgres://…]   # 1, 2, 4 workers on a shared state (bench/shared-state.ts)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { cacheDir } from "../src/cache-dir.js";
import { simulate } from "../src/simulate/simulate.js";
import { type LiveBench, liveBench, liveLines } from "./live.js";
import { corpusProgress, step } from "./progress.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..");
const CORPUS_ROOT = process.env.FIRSTCALL_BENCH_DIR ?? join(cacheDir(), "bench");
const RESULTS = join(HERE, "results");

interface Args {
  runs: number;
  instances: number;
  hours: number;
  minEvents: number;
  scaling: boolean;
  scalingSizes: number[];
  label: string;
  longFactor: number;
  save: boolean;
  jobs: string | undefined;
  live: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    runs: 3,
    instances: 1700,
    hours: 12,
    minEvents: 1_000_000,
    scaling: false,
    scalingSizes: [100, 1000, 10_000, 100_000],
    label: "",
    longFactor: 4,
    save: false,
    jobs: undefined,
    live: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--runs") args.runs = Number(next());
    else if (a === "--instances") args.instances = Number(next());
    else if (a === "--hours") args.hours = Number(next());
    else if (a === "--min-events") args.minEvents = Number(next());
    else if (a === "--scaling") args.scaling = true;
    else if (a === "--scaling-sizes") args.scalingSizes = next().split(",").map(Number);
    else if (a === "--label") args.label = next();
    else if (a === "--long-factor") args.longFactor = Number(next());
    else if (a === "--save") args.save = true;
    else if (a === "--jobs") args.jobs = next();
    else if (a === "--no-live") args.live = false;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

interface CorpusInfo {
  params: Record<string, unknown>;
  events: number;
  records: number;
  files: number;
  gzBytes: number;
  rawBytes: number;
  simulateMs: number;
}

/** Writes (or reuses) a simulated corpus. */
async function corpus(
  name: string,
  params: Parameters<typeof simulate>[0] extends infer O ? Omit<O, "outDir" | "force"> : never,
): Promise<{ dir: string; info: CorpusInfo; reused: boolean }> {
  const dir = join(CORPUS_ROOT, name);
  const marker = join(dir, ".corpus.json");
  if (existsSync(marker)) {
    const info = JSON.parse(readFileSync(marker, "utf8")) as CorpusInfo;
    if (JSON.stringify(info.params) === JSON.stringify(params)) return { dir, info, reused: true };
  }
  process.stderr.write(`bench: writing corpus ${name} (${JSON.stringify(params)})\n`);
  const progress = corpusProgress(name);
  const r = await simulate({
    ...params,
    outDir: dir,
    force: true,
    ...(progress ? { onProgress: progress.update } : {}),
  }).finally(() => progress?.stop());
  const info: CorpusInfo = {
    params,
    events: r.events,
    records: r.writer.records,
    files: r.writer.files,
    gzBytes: r.writer.gzBytes,
    rawBytes: r.writer.rawBytes,
    simulateMs: Math.round(r.elapsedMs),
  };
  writeFileSync(marker, `${JSON.stringify(info, null, 2)}\n`);
  return { dir, info, reused: false };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json.gz")) out.push(p);
    }
  };
  walk(join(dir, "AWSLogs"));
  return out;
}

interface Timed {
  ms: number;
  maxRssKb: number | null;
  stdout: string;
  status: number | null;
}

const HAS_TIME = existsSync("/usr/bin/time");

/** Runs a command, timing it with the monotonic clock and taking peak RSS from /usr/bin/time -v. */
function timed(cmd: string, args: string[]): Timed {
  const full = HAS_TIME ? (["/usr/bin/time", ["-v", cmd, ...args]] as const) : ([cmd, args] as const);
  const began = process.hrtime.bigint();
  const r = spawnSync(full[0], [...full[1]], { cwd: REPO, encoding: "utf8", maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? "");
  if (r.status !== 0 && r.status !== 1)
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr?.slice(-2000)}`);
  return { ms, maxRssKb: rss ? Number(rss[1]) : null, stdout: r.stdout ?? "", status: r.status };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Compiles the CLI once with tsc so the scan runs as shipped, without a TypeScript loader. */
function buildCli(): { cmd: string; args: string[]; how: string } {
  // Inside node_modules, so the compiled files resolve the project's dependencies (and git ignores it).
  // One folder per checkout: node_modules may be shared by several worktrees building at once.
  // Laid out as the package is (BASE/package.json beside BASE/dist): the code reads package.json by a
  // path relative to its own file.
  const base = join(REPO, "node_modules", ".cache", `firstcall-bench-build-${basename(REPO)}`);
  const out = join(base, "dist");
  try {
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, "package.json"), readFileSync(join(REPO, "package.json")));
    execFileSync(
      process.execPath,
      [
        join(REPO, "node_modules/typescript/bin/tsc"),
        "-p",
        "tsconfig.build.json",
        "--outDir",
        out,
        "--sourceMap",
        "false",
        "--declaration",
        "false",
      ],
      {
        cwd: REPO,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const runner = join(out, "run-cli.mjs");
    writeFileSync(runner, 'import { main } from "./cli/main.js";\nprocess.exitCode = await main(process.argv);\n');
    return { cmd: process.execPath, args: [runner], how: "compiled with tsc" };
  } catch (e) {
    process.stderr.write(
      `bench: tsc build failed, running the scan through tsx: ${(e as Error).message.slice(0, 300)}\n`,
    );
    return {
      cmd: process.execPath,
      args: ["--import", "tsx", join(REPO, "src/cli/main.ts")],
      how: "tsx (build failed)",
    };
  }
}

interface ScanRun extends Timed {
  stateBytes: number;
  /** Pages of the sessions and findings tables and of their indexes (SQLite's dbstat), null if unknown. */
  sessionPagesBytes: number | null;
  sessions: number;
  findings: number;
  unique: number;
  /** From the start of the scan to the first finding written. */
  firstFindingMs: number | null;
  checkpoints: number;
}

let scanExtraArgs: string[] = [];

function runScanOnce(cli: { cmd: string; args: string[] }, dir: string, tag: string): ScanRun {
  const stateDir = join(CORPUS_ROOT, ".state");
  mkdirSync(stateDir, { recursive: true });
  const state = join(stateDir, `${tag}.sqlite`);
  const summaryFile = join(stateDir, `${tag}.summary.json`);
  for (const f of [state, `${state}-wal`, `${state}-shm`, summaryFile]) rmSync(f, { force: true });
  const t = timed(cli.cmd, [
    ...cli.args,
    "scan",
    dir,
    "--format",
    "jsonl",
    "--state",
    state,
    "--config",
    join(dir, "firstcall.yaml"),
    "--ip-ranges",
    join(dir, "ip-ranges.json"),
    "--summary-json",
    summaryFile,
    "--no-progress",
    ...scanExtraArgs,
  ]);
  const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as {
    sessions: { stored: number };
    findings: { total: number };
    records: { unique: number };
    stream?: { firstFindingMs: number | null; checkpoints: number };
  };
  const stateBytes = [state, `${state}-wal`].reduce((s, f) => s + (existsSync(f) ? statSync(f).size : 0), 0);
  return {
    ...t,
    stateBytes,
    sessionPagesBytes: sessionPagesBytes(state),
    sessions: summary.sessions.stored,
    findings: summary.findings.total,
    unique: summary.records.unique,
    firstFindingMs: summary.stream?.firstFindingMs ?? null,
    checkpoints: summary.stream?.checkpoints ?? 0,
  };
}

/**
 * The bytes of the pages that hold what grows with the sessions tracked: the sessions and findings
 * tables and their indexes, from SQLite's dbstat on the state opened read-only after the scan. The
 * whole file also holds the stream position (the eventIDs of the lateness window, which grow with the
 * event rate, not with the sessions) and the scanned objects, so the two figures say different things.
 */
function sessionPagesBytes(state: string): number | null {
  try {
    const db = new Database(state, { readonly: true, fileMustExist: true });
    try {
      const row = db
        .prepare(
          "SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE tbl_name IN ('sessions', 'findings'))",
        )
        .get() as { bytes: number | null };
      return row.bytes;
    } finally {
      db.close();
    }
  } catch (e) {
    process.stderr.write(`bench: cannot measure the session pages of ${state}: ${(e as Error).message}\n`);
    return null;
  }
}

function perSession(bytes: number | null, sessions: number): number | null {
  return bytes !== null && sessions ? Math.round(bytes / sessions) : null;
}

function hasJq(): boolean {
  return spawnSync("jq", ["--version"], { encoding: "utf8" }).status === 0;
}

const JQ_FILTER =
  ".Records[] | select(.userIdentity.sessionContext.ec2RoleDelivery != null) | [.userIdentity.arn, .sourceIPAddress] | @tsv";

interface Measurement {
  runsMs: number[];
  medianMs: number;
  eventsPerSec: number;
  gzMBps: number;
  rawMBps: number;
  maxRssMB: number | null;
}

function measurement(runs: Timed[], info: CorpusInfo): Measurement {
  const med = median(runs.map((r) => r.ms));
  const rss = runs.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  return {
    runsMs: runs.map((r) => Math.round(r.ms)),
    medianMs: Math.round(med),
    eventsPerSec: Math.round(info.events / (med / 1000)),
    gzMBps: Number((info.gzBytes / 1e6 / (med / 1000)).toFixed(1)),
    rawMBps: Number((info.rawBytes / 1e6 / (med / 1000)).toFixed(1)),
    maxRssMB: rss.length ? Number((Math.max(...rss) / 1024).toFixed(1)) : null,
  };
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

async function main(): Promise<void> {
  // `--shared [URL] …`: the shared-state bench (bench/shared-state.ts) instead of this one.
  if (process.argv[2] === "--shared") {
    const { sharedBench } = await import("./shared-state.js");
    return sharedBench(process.argv.slice(3));
  }
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(CORPUS_ROOT, { recursive: true });
  if (args.jobs !== undefined) scanExtraArgs = ["--jobs", args.jobs];
  const cli = buildCli();
  const params = { accounts: 3, regions: 2, instances: args.instances, hours: args.hours, seed: 1, attacks: "all" };
  const { dir, info, reused } = await corpus("main", params);
  if (info.events < args.minEvents) {
    process.stderr.write(
      `bench: warning: the corpus has ${fmt(info.events)} events, fewer than ${fmt(args.minEvents)}; raise --instances\n`,
    );
  }
  const list = join(CORPUS_ROOT, ".files.txt");
  writeFileSync(list, `${listFiles(dir).join("\n")}\n`);
  const jq = hasJq();

  const runs = { gunzip: [] as Timed[], parse: [] as Timed[], scan: [] as ScanRun[], jq: [] as Timed[] };
  for (let i = 0; i < args.runs; i++) {
    process.stderr.write(`bench: run ${i + 1}/${args.runs}\n`);
    // Interleaved, so that a noisy neighbour hurts every contender alike.
    const run = `run ${i + 1}/${args.runs}`;
    runs.gunzip.push(
      step(`${run}: gunzip`, () => timed(process.execPath, [join(HERE, "baseline.mjs"), "gunzip", list])),
    );
    runs.parse.push(
      step(`${run}: JSON.parse`, () => timed(process.execPath, [join(HERE, "baseline.mjs"), "parse", list])),
    );
    runs.scan.push(step(`${run}: firstcall scan`, () => runScanOnce(cli, dir, `main-${i}`)));
    if (jq) {
      runs.jq.push(
        step(`${run}: zcat | jq`, () =>
          timed("bash", [
            "-c",
            `set -o pipefail; tr '\\n' '\\0' < '${list}' | xargs -0 zcat | jq -r '${JQ_FILTER}' | wc -l`,
          ]),
        ),
      );
    }
  }
  const a = measurement(runs.gunzip, info);
  const b = measurement(runs.parse, info);
  const c = measurement(runs.scan, info);
  const d = jq ? measurement(runs.jq, info) : undefined;
  const lastScan = runs.scan.at(-1) as ScanRun;
  const scanExtra = {
    sessions: lastScan.sessions,
    stateBytes: lastScan.stateBytes,
    stateBytesPerSession: lastScan.sessions ? Math.round(lastScan.stateBytes / lastScan.sessions) : null,
    sessionPagesBytes: lastScan.sessionPagesBytes,
    sessionPagesBytesPerSession: perSession(lastScan.sessionPagesBytes, lastScan.sessions),
    findings: lastScan.findings,
    uniqueEventsSeen: lastScan.unique,
    firstFindingMs: median(runs.scan.map((r) => r.firstFindingMs ?? Number.NaN)),
    checkpoints: lastScan.checkpoints,
  };

  // The long run: same fleet, `longFactor` times the hours. Memory must stay flat.
  let long: Record<string, unknown> | undefined;
  if (args.longFactor > 1) {
    const lp = { ...params, hours: args.hours * args.longFactor };
    const lc = await corpus(`long-x${args.longFactor}`, lp);
    process.stderr.write(`bench: long run, ${fmt(lc.info.events)} events\n`);
    const l = runScanOnce(cli, lc.dir, "long");
    const lm = measurement([l], lc.info);
    long = {
      factor: args.longFactor,
      events: lc.info.events,
      files: lc.info.files,
      gzBytes: lc.info.gzBytes,
      rawBytes: lc.info.rawBytes,
      ...lm,
      sessions: l.sessions,
      stateBytes: l.stateBytes,
      stateBytesPerSession: l.sessions ? Math.round(l.stateBytes / l.sessions) : null,
      sessionPagesBytesPerSession: perSession(l.sessionPagesBytes, l.sessions),
      findings: l.findings,
      firstFindingMs: l.firstFindingMs,
      rssOverMain: lm.maxRssMB !== null && c.maxRssMB !== null ? Number((lm.maxRssMB / c.maxRssMB).toFixed(2)) : null,
    };
  }

  let scaling: unknown[] | undefined;
  if (args.scaling) {
    scaling = [];
    for (const n of args.scalingSizes) {
      const p = { accounts: 3, regions: 2, instances: n, hours: 1, seed: 1, attacks: "all", perKind: 1, rate: 12 };
      const sc = await corpus(`scale-${n}`, p);
      process.stderr.write(`bench: scaling scan, ${fmt(n)} instances\n`);
      const s = runScanOnce(cli, sc.dir, `scale-${n}`);
      scaling.push({
        instances: n,
        events: sc.info.events,
        gzMB: Number((sc.info.gzBytes / 1e6).toFixed(1)),
        simulateMs: sc.info.simulateMs,
        scanMs: Math.round(s.ms),
        eventsPerSec: Math.round(sc.info.events / (s.ms / 1000)),
        maxRssMB: s.maxRssKb === null ? null : Number((s.maxRssKb / 1024).toFixed(1)),
        sessions: s.sessions,
        stateMB: Number((s.stateBytes / 1e6).toFixed(2)),
        stateBytesPerSession: s.sessions ? Math.round(s.stateBytes / s.sessions) : null,
        sessionPagesBytesPerSession: perSession(s.sessionPagesBytes, s.sessions),
        findings: s.findings,
      });
    }
  }

  // Live: objects made available one by one to a running watch; time to commit and to finding.
  let live: LiveBench | undefined;
  if (args.live) {
    process.stderr.write("bench: live latency\n");
    live = await liveBench({ s3Ratio: true });
  }

  const cpu = os.cpus();
  const result = {
    schema: "firstcall.bench/v1",
    date: new Date().toISOString(),
    label: args.label || undefined,
    host: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? "unknown",
      memoryGB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    scanBinary: cli.how,
    corpus: { dir, reused, ...info },
    runs: args.runs,
    gunzip: a,
    parse: b,
    scan: { ...c, ...scanExtra },
    jq: d ?? { skipped: "jq is not installed" },
    ratios: {
      scanOverGunzip: Number((c.medianMs / a.medianMs).toFixed(2)),
      scanOverParse: Number((c.medianMs / b.medianMs).toFixed(2)),
      ...(d ? { jqOverScan: Number((d.medianMs / c.medianMs).toFixed(2)) } : {}),
    },
    ...(long ? { long } : {}),
    ...(scaling ? { scaling } : {}),
    ...(live ? { live } : {}),
  };
  const stamp = result.date.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const name = `${stamp}${args.label ? `-${args.label}` : ""}.json`;
  const text = `${JSON.stringify(result, null, 2)}\n`;
  let file = join(CORPUS_ROOT, "results", name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  if (args.save) {
    mkdirSync(RESULTS, { recursive: true });
    file = join(RESULTS, name);
    writeFileSync(file, text);
  }

  const row = (name: string, m: Measurement | undefined) =>
    m
      ? `${name.padEnd(28)} ${String(m.medianMs).padStart(8)} ms ${fmt(m.eventsPerSec).padStart(11)} ev/s ${String(m.gzMBps).padStart(7)} MB/s gz ${String(m.rawMBps).padStart(7)} MB/s raw  peak RSS ${m.maxRssMB ?? "?"} MB`
      : `${name.padEnd(28)} skipped (jq not installed)`;
  const lines = [
    `corpus: ${fmt(info.events)} events, ${fmt(info.files)} files, ${(info.gzBytes / 1e6).toFixed(1)} MB gz / ${(info.rawBytes / 1e6).toFixed(1)} MB raw${reused ? " (reused)" : ""}; median of ${args.runs} runs; ${cpu.length} × ${cpu[0]?.model ?? "cpu"}`,
    row("(a) gunzip", a),
    row("(b) gunzip + JSON.parse", b),
    row("(c) firstcall scan (SQLite)", c),
    row("(d) zcat | jq", d),
    `ratios: c/a ${result.ratios.scanOverGunzip}  c/b ${result.ratios.scanOverParse}${d ? `  d/c ${result.ratios.jqOverScan}` : ""}`,
    `state: ${fmt(scanExtra.stateBytes)} bytes for ${fmt(scanExtra.sessions)} sessions = ${scanExtra.stateBytesPerSession ?? "?"} bytes/session (whole file); sessions + index + findings pages ${scanExtra.sessionPagesBytes === null ? "?" : fmt(scanExtra.sessionPagesBytes)} bytes = ${scanExtra.sessionPagesBytesPerSession ?? "?"} bytes/session; ${scanExtra.findings} findings; first finding after ${scanExtra.firstFindingMs} ms`,
  ];
  if (long) {
    lines.push(
      `long run (${long.factor}× the hours): ${fmt(long.events as number)} events in ${long.medianMs} ms, ${fmt(long.eventsPerSec as number)} ev/s, peak RSS ${long.maxRssMB} MB (${long.rssOverMain}× the main run), state ${fmt(long.stateBytes as number)} bytes for ${fmt(long.sessions as number)} sessions (${long.sessionPagesBytesPerSession ?? "?"} B/session sessions + index + findings pages)`,
    );
  }
  if (scaling) {
    lines.push("scaling (1 hour of traffic, 1 run each):");
    for (const s of scaling as Record<string, unknown>[]) {
      lines.push(
        `  ${String(s.instances).padStart(7)} instances ${fmt(s.events as number).padStart(10)} events  scan ${String(s.scanMs).padStart(7)} ms ${fmt(s.eventsPerSec as number).padStart(9)} ev/s  peak RSS ${s.maxRssMB} MB  state ${s.stateMB} MB (${s.stateBytesPerSession} B/session whole file, ${s.sessionPagesBytesPerSession ?? "?"} B/session sessions + index + findings pages)`,
      );
    }
  }
  if (live) lines.push(...liveLines(live));
  lines.push(`wrote ${file.startsWith(REPO) ? relative(REPO, file) : file}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
