/**
 * Live latency (part of `npm run bench`; alone: `node --import tsx bench/live.ts [--save] [--s3-ratio]
 * [--objects N] [--interval-ms MS] [--s3-corpus DIR] [--no-live-runs]`): objects
 * of a simulated trail are made available one by one at a steady rate, in CloudTrail's delivery
 * order, to a running watch (`runScan` with a live source, in this process, as `firstcall watch` runs
 * it with its defaults: a checkpoint every second), and the time from each object becoming available
 * to its commit, and from the object holding a finding's first offending call to the finding being
 * written, is measured. Sources:
 *
 * - folder: each file is written beside the folder and renamed into it (the object is available at the
 *   rename), with the default `--settle-seconds 1` and with 0 (for writers that rename into place);
 * - SQS: each object is put into s3rver, then its S3 event notification is sent to a local SQS-protocol
 *   server (local-aws-sqs), both on 127.0.0.1 and through the AWS SDK (available when the PutObject
 *   returned).
 *
 * Then, if asked (`--s3-ratio`), `scan s3://` of the same corpus served by s3rver against the same files
 * scanned locally, alternated, in this process. `--s3-corpus DIR` does that on another simulated corpus
 * instead (the throughput bench's, e.g. `~/.cache/firstcall/bench/main`: its `firstcall.yaml` and
 * `ip-ranges.json` are used), and `--no-live-runs` leaves out the live runs.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import os from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createSqsServer } from "local-aws-sqs";
import { deliveryOrderKey } from "../src/cloudtrail/layout.js";
import { loadConfig } from "../src/config/config.js";
import type { Finding } from "../src/findings/finding.js";
import { runScan } from "../src/pipeline/scan.js";
import { simulate } from "../src/simulate/simulate.js";
import type { LiveObject, LiveSource } from "../src/sources/live.js";
import { S3Source } from "../src/sources/s3.js";
import { DirectorySource } from "../src/sources/watch-directory.js";
import { SqsSource } from "../src/sources/watch-sqs.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const BUCKET = "bench-trail";

export interface Percentiles {
  readonly n: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly max: number | null;
}

export interface LiveRun {
  readonly source: string;
  readonly objects: number;
  /** Object available → committed in a checkpoint, ms. */
  readonly objectLagMs: Percentiles;
  /** Object holding the finding's first offending call available → finding written, ms. */
  readonly findingLatencyMs: Percentiles;
  readonly findings: number;
  /** The same findings as a one-shot scan of the same objects. */
  readonly sameAsScan: boolean;
}

function percentiles(values: readonly number[]): Percentiles {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    v.length === 0 ? null : Math.round(v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] as number);
  return { n: v.length, p50: at(0.5), p95: at(0.95), max: v.length ? Math.round(v.at(-1) as number) : null };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".json.gz") ? [join(dir, e.name)] : [],
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A live source whose objects' settlements are timed (the wrapped source does the work). */
class TimedSource implements LiveSource {
  readonly settled = new Map<string, number>();
  constructor(private readonly inner: LiveSource) {}
  get name(): string {
    return this.inner.name;
  }
  async *objects(signal: AbortSignal): AsyncIterable<LiveObject> {
    for await (const o of this.inner.objects(signal)) {
      yield {
        ...o,
        open: () => o.open(),
        settle: (outcome) => {
          if (outcome.committed) this.settled.set(o.id, Date.now());
          o.settle(outcome);
        },
      };
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Corpus {
  readonly dir: string;
  /** Files in delivery order. */
  readonly files: readonly string[];
  /** Event id → index of the file holding it. */
  readonly objectOf: Map<string, number>;
  readonly configPath: string;
  readonly ipRangesPath: string;
}

async function makeCorpus(root: string, objects: number): Promise<Corpus> {
  const dir = join(root, "sim");
  await simulate({
    outDir: dir,
    accounts: 2,
    regions: 2,
    instances: 40,
    hours: 3,
    seed: 11,
    attacks: "all",
    force: true,
  });
  const all = walk(join(dir, "AWSLogs")).sort((a, b) => {
    const ka = deliveryOrderKey(a);
    const kb = deliveryOrderKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : a < b ? -1 : 1;
  });
  const files = all.slice(0, objects);
  const objectOf = new Map<string, number>();
  files.forEach((f, i) => {
    const records = (JSON.parse(gunzipSync(readFileSync(f)).toString("utf8")) as { Records: { eventID: string }[] })
      .Records;
    for (const r of records) if (!objectOf.has(r.eventID)) objectOf.set(r.eventID, i);
  });
  return { dir, files, objectOf, configPath: join(dir, "firstcall.yaml"), ipRangesPath: join(dir, "ip-ranges.json") };
}

/**
 * Runs a watch over `source` while `put(i)` makes object `i` available every `intervalMs`; returns
 * the timings. `put` returns the moment the object became available.
 */
async function measure(
  name: string,
  corpus: Corpus,
  source: LiveSource,
  idOf: (i: number) => string,
  put: (i: number) => Promise<number>,
  intervalMs: number,
  statePath: string,
): Promise<LiveRun> {
  const timed = new TimedSource(source);
  const written: { finding: Finding; at: number }[] = [];
  const stop = new AbortController();
  const running = runScan({
    paths: [],
    live: timed,
    statePath,
    config: loadConfig(corpus.configPath),
    ipRangesPath: corpus.ipRangesPath,
    failOn: "none",
    jobs: 1,
    checkpointMs: 1000,
    signal: stop.signal,
    sink: {
      write: async (findings) => {
        const at = Date.now();
        for (const f of findings) written.push({ finding: f, at });
        return undefined;
      },
    },
  });
  await sleep(1500); // the watcher is up (a first listing, the reader) before the first object
  const availableAt: number[] = [];
  const start = Date.now();
  for (let i = 0; i < corpus.files.length; i++) {
    const due = start + i * intervalMs;
    if (due > Date.now()) await sleep(due - Date.now());
    availableAt[i] = await put(i);
  }
  const deadline = Date.now() + 60_000;
  while (timed.settled.size < corpus.files.length && Date.now() < deadline) await sleep(100);
  await sleep(1500);
  stop.abort();
  await running;
  const lags = corpus.files.flatMap((_, i) => {
    const t = timed.settled.get(idOf(i));
    return t === undefined ? [] : [t - (availableAt[i] as number)];
  });
  const firstWritten = new Map<string, { finding: Finding; at: number }>();
  for (const w of written) if (!firstWritten.has(w.finding.id)) firstWritten.set(w.finding.id, w);
  const latencies = [...firstWritten.values()].flatMap(({ finding, at }) => {
    const i = corpus.objectOf.get(finding.event.id);
    return i === undefined ? [] : [at - (availableAt[i] as number)];
  });
  const once = await runScan({
    paths: corpus.files as string[],
    statePath: ":memory:",
    config: loadConfig(corpus.configPath),
    ipRangesPath: corpus.ipRangesPath,
    jobs: 1,
  });
  const latest = (fs: readonly Finding[]) =>
    [...new Map(fs.map((f) => [f.id, f.status ?? "open"])).entries()].map(([id, s]) => `${id}:${s}`).sort();
  return {
    source: name,
    objects: timed.settled.size,
    objectLagMs: percentiles(lags),
    findingLatencyMs: percentiles(latencies),
    findings: firstWritten.size,
    sameAsScan: JSON.stringify(latest(written.map((w) => w.finding))) === JSON.stringify(latest(once.findings)),
  };
}

async function folderRun(corpus: Corpus, root: string, intervalMs: number, settleMs: number): Promise<LiveRun> {
  const watched = join(root, `watched-${settleMs}`);
  const staging = join(root, `staging-${settleMs}`);
  mkdirSync(watched, { recursive: true });
  mkdirSync(staging, { recursive: true });
  const name = (i: number) => `${String(i).padStart(5, "0")}-${(corpus.files[i] as string).split("/").at(-1)}`;
  return measure(
    `folder (--settle-seconds ${settleMs / 1000})`,
    corpus,
    new DirectorySource(watched, { settleMs, pollMs: 10_000 }),
    (i) => join(watched, name(i)),
    async (i) => {
      // Written beside the folder, then renamed into it: available whole at the rename.
      const tmp = join(staging, name(i));
      writeFileSync(tmp, readFileSync(corpus.files[i] as string));
      renameSync(tmp, join(watched, name(i)));
      return Date.now();
    },
    intervalMs,
    join(root, `state-folder-${settleMs}.sqlite`),
  );
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

async function startS3rver(dir: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const { default: S3rver } = (await import("s3rver")) as unknown as {
    default: new (o: Record<string, unknown>) => S3rverInstance;
  };
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}

async function sqsRun(corpus: Corpus, root: string, intervalMs: number): Promise<LiveRun> {
  const s3server = await startS3rver(join(root, "s3rver"));
  const sqsServer: Server = await createSqsServer({ port: 0, hostname: "127.0.0.1" });
  const sqsEndpoint = `http://127.0.0.1:${(sqsServer.address() as { port: number }).port}`;
  const s3 = new S3Client({
    endpoint: s3server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: CREDENTIALS,
  });
  const sqs = new SQSClient({ endpoint: sqsEndpoint, region: "us-east-1", credentials: CREDENTIALS });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "bench-trail-events" }))).QueueUrl as string;
    const keyOf = (i: number) =>
      relative(corpus.dir, corpus.files[i] as string)
        .split("\\")
        .join("/");
    const source = new SqsSource(
      sqs,
      queueUrl,
      new S3Source({
        aws: { region: "us-east-1", endpointUrl: s3server.endpoint },
        clientConfig: { credentials: CREDENTIALS },
      }),
      // Short polls (local-aws-sqs answers one after 40 ms). Its long poll answers only when the wait
      // ends or 10 messages are there, where SQS answers as soon as a message is: a long poll here
      // would time the test server's wait, not firstcall. `watch` itself long-polls (20 s).
      { waitSeconds: 0, visibilitySeconds: 60 },
    );
    return await measure(
      "SQS (S3 event notifications; s3rver + local-aws-sqs)",
      corpus,
      source,
      (i) => `s3://${BUCKET}/${keyOf(i)}`,
      async (i) => {
        await s3.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: keyOf(i), Body: readFileSync(corpus.files[i] as string) }),
        );
        const at = Date.now();
        const event = {
          Records: [
            {
              eventVersion: "2.1",
              eventSource: "aws:s3",
              awsRegion: "us-east-1",
              eventTime: new Date(at).toISOString(),
              eventName: "ObjectCreated:Put",
              s3: { s3SchemaVersion: "1.0", bucket: { name: BUCKET }, object: { key: keyOf(i) } },
            },
          ],
        };
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event) }));
        return at;
      },
      intervalMs,
      join(root, "state-sqs.sqlite"),
    );
  } finally {
    s3.destroy();
    sqs.destroy();
    await s3server.close();
    await new Promise<void>((r) => sqsServer.close(() => r()));
  }
}

/** `scan s3://` of the corpus served by s3rver against the same files read locally, alternated. */
async function s3Ratio(
  corpus: Pick<Corpus, "dir" | "configPath" | "ipRangesPath">,
  root: string,
  runs: number,
): Promise<Record<string, unknown>> {
  const s3server = await startS3rver(join(root, "s3rver-scan"));
  const s3 = new S3Client({
    endpoint: s3server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: CREDENTIALS,
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const local = walk(join(corpus.dir, "AWSLogs"));
    for (const f of local) {
      const key = relative(corpus.dir, f).split("\\").join("/");
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(f) }));
    }
    const common = {
      statePath: ":memory:",
      config: loadConfig(corpus.configPath),
      ipRangesPath: corpus.ipRangesPath,
      jobs: 2,
    };
    const times = { local: [] as number[], s3: [] as number[] };
    let findings = { local: 0, s3: 0 };
    for (let r = 0; r < runs; r++) {
      let t = Date.now();
      const a = await runScan({ ...common, paths: [join(corpus.dir, "AWSLogs")] });
      times.local.push(Date.now() - t);
      t = Date.now();
      const b = await runScan({
        ...common,
        paths: [`s3://${BUCKET}/AWSLogs/`],
        s3: {
          aws: { region: "us-east-1", endpointUrl: s3server.endpoint },
          clientConfig: { credentials: CREDENTIALS },
        },
      });
      times.s3.push(Date.now() - t);
      findings = { local: a.findings.length, s3: b.findings.length };
    }
    const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)] as number;
    const bytes = local.reduce((n, f) => n + statSync(f).size, 0);
    return {
      objects: local.length,
      gzBytes: bytes,
      runs,
      localMs: times.local,
      s3Ms: times.s3,
      ratio: Number((median(times.s3) / median(times.local)).toFixed(2)),
      findings,
    };
  } finally {
    s3.destroy();
    await s3server.close();
  }
}

export interface LiveBench {
  readonly schema: "firstcall.bench-live/v1";
  readonly date: string;
  readonly host: { cpus: number; cpuModel: string; loadAverage: number[]; node: string };
  readonly corpus: { objects: number; intervalMs: number };
  readonly runs: readonly LiveRun[];
  readonly s3Scan?: Record<string, unknown>;
}

/**
 * @example const result = await liveBench({ objects: 120, intervalMs: 250 });
 */
export async function liveBench(
  options: { objects?: number; intervalMs?: number; s3Ratio?: boolean; s3Corpus?: string; liveRuns?: boolean } = {},
): Promise<LiveBench> {
  const root = join(os.tmpdir(), `firstcall-bench-live-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  try {
    const intervalMs = options.intervalMs ?? 250;
    const corpus = await makeCorpus(root, options.objects ?? 120);
    const runs: LiveRun[] = [];
    if (options.liveRuns !== false) {
      for (const settle of [1000, 0]) {
        process.stderr.write(`bench live: folder, settle ${settle} ms\n`);
        runs.push(await folderRun(corpus, root, intervalMs, settle));
      }
      process.stderr.write("bench live: SQS\n");
      runs.push(await sqsRun(corpus, root, intervalMs));
    }
    const other = options.s3Corpus;
    const s3Corpus = other
      ? { dir: other, configPath: join(other, "firstcall.yaml"), ipRangesPath: join(other, "ip-ranges.json") }
      : corpus;
    const s3Scan =
      options.s3Ratio || other ? { corpus: s3Corpus.dir, ...(await s3Ratio(s3Corpus, root, 3)) } : undefined;
    const cpu = os.cpus();
    return {
      schema: "firstcall.bench-live/v1",
      date: new Date().toISOString(),
      host: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? "?", loadAverage: os.loadavg(), node: process.version },
      corpus: { objects: corpus.files.length, intervalMs },
      runs,
      ...(s3Scan ? { s3Scan } : {}),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Lines for people: one per source. */
export function liveLines(b: LiveBench): string[] {
  const p = (x: Percentiles) => `p50 ${x.p50} ms, p95 ${x.p95} ms, max ${x.max} ms (n ${x.n})`;
  const lines = b.runs.map(
    (r) =>
      `live ${r.source}: ${r.objects} objects at one per ${b.corpus.intervalMs} ms; object → committed ${p(r.objectLagMs)}; object → finding written ${p(r.findingLatencyMs)}; ${r.findings} findings${r.sameAsScan ? ", as a one-shot scan" : ", NOT as a one-shot scan"}`,
  );
  if (b.s3Scan) lines.push(`scan s3:// (s3rver) over local: ${JSON.stringify(b.s3Scan)}`);
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const objects = value("--objects");
  const intervalMs = value("--interval-ms");
  const result = await liveBench({
    s3Ratio: argv.includes("--s3-ratio"),
    liveRuns: !argv.includes("--no-live-runs"),
    ...(argv.includes("--s3-corpus") ? { s3Corpus: argv[argv.indexOf("--s3-corpus") + 1] as string } : {}),
    ...(objects ? { objects } : {}),
    ...(intervalMs ? { intervalMs } : {}),
  });
  const text = `${JSON.stringify(result, null, 2)}\n`;
  process.stdout.write(`${liveLines(result).join("\n")}\n`);
  if (argv.includes("--save")) {
    const stamp = result.date.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const file = join(HERE, "results", `${stamp}-live-latency.json`);
    writeFileSync(file, text);
    process.stdout.write(`wrote ${relative(join(HERE, ".."), file)}\n`);
  }
}
