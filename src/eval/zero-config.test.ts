/**
 * A first run has no configuration file and no `--ip-ranges`: simulate small fleets (several seeds,
 * default simulator settings otherwise), scan each twice — with the fleet's `firstcall.yaml` and its
 * ip-ranges.json, and with nothing (the defaults a first run gets: the built-in agent list, and AWS's
 * ranges from the cache or the shipped snapshot, here an empty cache folder) — and score both against
 * the truth. Target (issue 10): precision ≥ 0.95 and the same recall without configuration;
 * precision 1.0 with it. Per-seed numbers and the false findings by cause are printed as diagnostics.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadConfig } from "../config/config.js";
import { runScan } from "../pipeline/scan.js";
import { simulate } from "../simulate/simulate.js";
import { readFleet, readTruth } from "../simulate/truth.js";
import { type EvalReport, evaluate } from "./eval.js";

const SEEDS = [11, 22, 33];
// Large enough that each VPC endpoint has a few instances that use it from their start (what makes an
// endpoint whose records lack an owner field count as yours without configuration), small enough for CI.
const FLEET = { instances: 100, hours: 3 } as const;

const root = mkdtempSync(join(tmpdir(), "firstcall-zero-config-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** An empty cache folder: the scan must not depend on what `ip-ranges update` left on this machine. */
const emptyCache = join(root, "cache");
mkdirSync(emptyCache);

interface SeedRun {
  readonly seed: number;
  readonly withConfig: EvalReport;
  readonly zeroConfig: EvalReport;
  readonly zeroConfigRanges: string;
}

function line(r: EvalReport): string {
  const f = r.findings;
  return `${f.total} findings, ${f.falsePositives} false, precision ${f.precision ?? "n/a"}, recall ${r.total.recall ?? "n/a"}`;
}

function causes(r: EvalReport): string {
  return r.falsePositivesByCause.map((g) => `${g.count} × ${g.cause}`).join("; ") || "none";
}

async function runSeed(seed: number): Promise<SeedRun> {
  const outDir = join(root, `fleet-${seed}`);
  await simulate({ outDir, seed, ...FLEET });
  const truth = readTruth(join(outDir, "truth.jsonl"));
  const fleet = readFleet(join(outDir, "fleet.jsonl"));
  const configured = await runScan({
    paths: [outDir],
    statePath: ":memory:",
    jobs: 0,
    config: loadConfig(join(outDir, "firstcall.yaml")),
    ipRangesPath: join(outDir, "ip-ranges.json"),
  });
  const bare = await runScan({
    paths: [outDir],
    statePath: ":memory:",
    jobs: 0,
    ipRanges: { cacheDir: emptyCache },
  });
  return {
    seed,
    withConfig: evaluate(truth, configured.findings, fleet),
    zeroConfig: evaluate(truth, bare.findings, fleet),
    zeroConfigRanges: bare.summary.ipRanges.source,
  };
}

describe("zero-config precision on simulated fleets", () => {
  const runs: SeedRun[] = [];

  for (const seed of SEEDS) {
    test(`seed ${seed}: ${FLEET.instances} instances, ${FLEET.hours} hours`, async (t) => {
      const run = await runSeed(seed);
      runs.push(run);
      t.diagnostic(`with config: ${line(run.withConfig)}; false: ${causes(run.withConfig)}`);
      t.diagnostic(
        `zero config (AWS ranges: ${run.zeroConfigRanges}): ${line(run.zeroConfig)}; false: ${causes(run.zeroConfig)}`,
      );
      assert.equal(run.withConfig.findings.precision, 1, `with config: ${causes(run.withConfig)}`);
      for (const row of run.withConfig.kinds) {
        if (row.detectable === 0) continue;
        assert.equal(row.recall, 1, `with config, ${row.kind}`);
        const bare = run.zeroConfig.kinds.find((k) => k.kind === row.kind);
        assert.equal(bare?.recall, row.recall, `zero config, ${row.kind}: recall changed`);
      }
      // One seed's dozens of findings make its precision coarse: each seed stays at 0.9 or above, and
      // the target (0.95) holds over all seeds together (below).
      assert.ok(
        (run.zeroConfig.findings.precision ?? 1) >= 0.9,
        `zero config precision ${run.zeroConfig.findings.precision}: ${causes(run.zeroConfig)}`,
      );
    });
  }

  test("over all seeds: zero-config precision at least 0.95", () => {
    assert.equal(runs.length, SEEDS.length, "every seed ran");
    const total = runs.reduce((n, r) => n + r.zeroConfig.findings.total, 0);
    const falsePositives = runs.reduce((n, r) => n + r.zeroConfig.findings.falsePositives, 0);
    const precision = total === 0 ? 1 : (total - falsePositives) / total;
    assert.ok(total > 0, "the fleets produced findings");
    assert.ok(precision >= 0.95, `zero config precision over ${SEEDS.length} seeds ${precision}`);
  });
});
