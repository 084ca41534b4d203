/**
 * Per-record cost of reading CloudTrail records, in one process:
 *
 *   (a) JSON.parse only                      — the floor of the naive reader
 *   (b) JSON.parse + factsOf                 — the reference extraction
 *   (c) fastFacts, falling back to (b)       — the fast path as the reader uses it
 *
 * A fleet is simulated into a temporary directory (removed at the end), or `--dir` names existing logs
 * (`{"Records":[…]}` files, gzipped or not). The files are gunzipped and split into record spans with
 * `splitValues` before timing, so only the per-record work is measured. Variants run interleaved for
 * `--rounds` rounds after a warm-up; CPU time (user + system) is used, which other processes on a busy
 * machine disturb less than wall time. Medians are printed, and the speed-up against (a) as the median
 * (and range) of the per-round ratios, which the machine's changing load disturbs least.
 *
 * @example
 * node --import tsx bench/extract.ts
 * node --import tsx bench/extract.ts --instances 300 --hours 6 --seed 3 --rounds 7
 * node --import tsx bench/extract.ts --dir /work/shared/datasets/sans504-s3-ransomware
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { endOfCompound, splitValues } from "../src/cloudtrail/json-values.js";
import { factsOf } from "../src/reader/facts.js";
import { fastFacts } from "../src/reader/fast-extract.js";
import { simulate } from "../src/simulate/simulate.js";

interface Args {
  instances: number;
  hours: number;
  seed: number;
  rounds: number;
  dir: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { instances: 300, hours: 6, seed: 3, rounds: 7, dir: undefined };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--instances") args.instances = Number(value);
    else if (flag === "--hours") args.hours = Number(value);
    else if (flag === "--seed") args.seed = Number(value);
    else if (flag === "--rounds") args.rounds = Number(value);
    else if (flag === "--dir") args.dir = value;
    else throw new Error(`unknown option ${flag}`);
  }
  return args;
}

interface Corpus {
  /** Decompressed texts; spans index into them. */
  readonly texts: string[];
  readonly textOf: number[];
  readonly starts: number[];
  readonly ends: number[];
  readonly bytes: number;
  readonly files: number;
}

function listLogFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listLogFiles(p));
    else if (/\.json(\.gz)?$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** The `[` of the top-level `Records` array, or -1 when the text is not a `{"Records":[…]}` file. */
function recordsArrayStart(text: string): number {
  const m = /^\s*\{\s*"Records"\s*:\s*\[/.exec(text);
  return m ? m[0].length - 1 : -1;
}

function loadCorpus(dir: string): Corpus {
  const corpus: Corpus = { texts: [], textOf: [], starts: [], ends: [], bytes: 0, files: 0 };
  let bytes = 0;
  for (const path of listLogFiles(dir)) {
    let raw = readFileSync(path);
    if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
    const text = raw.toString("utf8");
    const open = recordsArrayStart(text);
    if (open === -1) continue;
    const close = endOfCompound(text, open);
    if (close === -1) continue;
    const index = corpus.texts.push(text) - 1;
    for (const span of splitValues(text, open + 1, close - 1)) {
      if (!span.complete) break;
      corpus.textOf.push(index);
      corpus.starts.push(span.start);
      corpus.ends.push(span.end);
      bytes += span.end - span.start;
    }
  }
  return { ...corpus, bytes, files: corpus.texts.length };
}

type Variant = (text: string, start: number, end: number) => unknown;

const VARIANTS: readonly { readonly name: string; readonly run: Variant }[] = [
  { name: "(a) JSON.parse", run: (t, s, e) => JSON.parse(t.slice(s, e)) },
  { name: "(b) JSON.parse + factsOf", run: (t, s, e) => factsOf(JSON.parse(t.slice(s, e))) },
  { name: "(c) fastFacts (+ fallback)", run: (t, s, e) => fastFacts(t, s, e) ?? factsOf(JSON.parse(t.slice(s, e))) },
];

/** CPU microseconds (user + system) to run `variant` over every record once. */
function timeOnce(c: Corpus, variant: Variant): number {
  const { texts, textOf, starts, ends } = c;
  const before = process.cpuUsage();
  let kept = 0;
  for (let r = 0; r < starts.length; r++) {
    if (variant(texts[textOf[r] as number] as string, starts[r] as number, ends[r] as number) !== undefined) kept++;
  }
  const used = process.cpuUsage(before);
  if (kept !== starts.length) throw new Error("a variant lost records");
  return used.user + used.system;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fallbackRate(c: Corpus): { fallbacks: number; withEvent: number } {
  let fallbacks = 0;
  let withEvent = 0;
  for (let r = 0; r < c.starts.length; r++) {
    const facts = fastFacts(c.texts[c.textOf[r] as number] as string, c.starts[r] as number, c.ends[r] as number);
    if (facts === undefined) fallbacks++;
    else if (facts.event) withEvent++;
  }
  return { fallbacks, withEvent };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let dir = args.dir;
  let temp: string | undefined;
  try {
    if (dir === undefined) {
      temp = mkdtempSync(join(tmpdir(), "firstcall-bench-extract-"));
      dir = join(temp, "sim");
      process.stderr.write(`simulating ${args.instances} instances × ${args.hours} h (seed ${args.seed})…\n`);
      await simulate({ outDir: dir, instances: args.instances, hours: args.hours, seed: args.seed });
    }
    const corpus = loadCorpus(dir);
    const n = corpus.starts.length;
    if (n === 0) throw new Error(`no {"Records":[…]} files under ${dir}`);
    const { fallbacks, withEvent } = fallbackRate(corpus);
    console.log(
      `corpus: ${corpus.files} files, ${n} records, ${(corpus.bytes / 1e6).toFixed(1)} MB of record text ` +
        `(${Math.round(corpus.bytes / n)} B per record); ${withEvent} records give the engine an event`,
    );
    console.log(`fast path: ${n - fallbacks} records, fallback ${fallbacks} (${((100 * fallbacks) / n).toFixed(2)} %)`);
    for (const v of VARIANTS) timeOnce(corpus, v.run); // warm-up
    const times = VARIANTS.map(() => [] as number[]);
    for (let round = 0; round < args.rounds; round++) {
      VARIANTS.forEach((v, i) => {
        times[i]?.push(timeOnce(corpus, v.run));
      });
    }
    const base = times[0] as number[];
    console.log(
      `CPU time of ${args.rounds} interleaved rounds (node ${process.version}); speed-up against (a) per round:`,
    );
    VARIANTS.forEach((v, i) => {
      const own = times[i] as number[];
      const us = median(own);
      const ratios = own.map((t, round) => (base[round] as number) / t);
      console.log(
        `  ${v.name.padEnd(28)} ${Math.round(n / (us / 1e6))
          .toLocaleString("en")
          .padStart(9)} records/s  ${(corpus.bytes / us).toFixed(0).padStart(4)} MB/s  ` +
          `${((us * 1000) / n).toFixed(0).padStart(6)} ns/record (median; best ${((Math.min(...own) * 1000) / n).toFixed(0)})  ` +
          `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
      );
    });
  } finally {
    if (temp !== undefined) rmSync(temp, { recursive: true, force: true });
  }
}

await main();
