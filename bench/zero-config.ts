/**
 * Precision and recall with and without configuration, on issue 10's setting: fleets of 200
 * instances, 2 accounts, 2 regions, 12 hours, seeds 11, 22 and 33. One fleet at a time (simulate,
 * scan with the fleet's firstcall.yaml and ip-ranges.json, scan with neither — the ranges a first run
 * gets: an empty cache folder, so the shipped snapshot if there is one —, score both, delete the
 * fleet). Writes bench/results/<time>-zero-config.json after each fleet.
 *
 * Run: node --import tsx bench/zero-config.ts [--seeds 11,22,33] [--instances 200] [--hours 12]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/config.js";
import { type EvalReport, evaluate } from "../src/eval/eval.js";
import { runScan } from "../src/pipeline/scan.js";
import { simulate } from "../src/simulate/simulate.js";
import { readFleet, readTruth } from "../src/simulate/truth.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const seeds = arg("seeds", "11,22,33").split(",").map(Number);
const params = {
  instances: Number(arg("instances", "200")),
  hours: Number(arg("hours", "12")),
  accounts: 2,
  regions: 2,
};

function brief(r: EvalReport) {
  return {
    findings: r.findings.total,
    truePositives: r.findings.truePositives,
    falsePositives: r.findings.falsePositives,
    precision: r.findings.precision,
    recall: r.total.recall,
    recallByKind: Object.fromEntries(r.kinds.map((k) => [k.kind, k.recall])),
    falsePositivesByCause: r.falsePositivesByCause.map((g) => ({ cause: g.cause, count: g.count })),
  };
}

const root = mkdtempSync(join(tmpdir(), "firstcall-zero-config-bench-"));
const emptyCache = join(root, "cache");
mkdirSync(emptyCache);
const started = new Date();
const out = join(HERE, "results", `${started.toISOString().replace(/[-:]/g, "").slice(0, 15)}Z-zero-config.json`);
const fleets: unknown[] = [];
try {
  for (const seed of seeds) {
    const outDir = join(root, `fleet-${seed}`);
    const t0 = Date.now();
    const sim = await simulate({ outDir, seed, ...params });
    const truth = readTruth(join(outDir, "truth.jsonl"));
    const fleet = readFleet(join(outDir, "fleet.jsonl"));
    const t1 = Date.now();
    const configured = await runScan({
      paths: [outDir],
      statePath: ":memory:",
      config: loadConfig(join(outDir, "firstcall.yaml")),
      ipRangesPath: join(outDir, "ip-ranges.json"),
    });
    const t2 = Date.now();
    const bare = await runScan({ paths: [outDir], statePath: ":memory:", ipRanges: { cacheDir: emptyCache } });
    const t3 = Date.now();
    const row = {
      seed,
      events: sim.events,
      incidents: sim.incidents.length,
      seconds: { simulate: (t1 - t0) / 1000, scanWithConfig: (t2 - t1) / 1000, scanZeroConfig: (t3 - t2) / 1000 },
      withConfig: brief(evaluate(truth, configured.findings, fleet)),
      zeroConfig: { awsRanges: bare.summary.ipRanges.source, ...brief(evaluate(truth, bare.findings, fleet)) },
    };
    fleets.push(row);
    rmSync(outDir, { recursive: true, force: true });
    console.log(JSON.stringify(row));
    writeFileSync(
      out,
      `${JSON.stringify({ schema: "firstcall.zero-config-eval/v1", date: started.toISOString(), params: { ...params, seeds }, fleets }, null, 2)}\n`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(`written: ${out}`);
