/**
 * `policy generate` → `policy test` on simulated fleets, judged by the ground truth: for each fleet
 * (seed × size), the generated managed policy and SCP with default settings, the legitimate calls
 * each would deny (must be 0) and, per attack kind, the thief's calls each denies (every theft from
 * outside the fleet's networks must be). One fleet at a time in a temporary folder, deleted after.
 * Prints a JSON line per fleet; with --save also writes bench/results/<time>-policy-roundtrip.json.
 *
 * Run: node --import tsx bench/policy-roundtrip.ts [--seeds 7,11,23] [--instances 24,100] [--hours 6]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../src/config/config.js";
import { generatePolicies } from "../src/prevention/generate.js";
import { parsePolicy } from "../src/prevention/iam-eval.js";
import { detect, readRoleCalls } from "../src/prevention/learn.js";
import { testPolicy } from "../src/prevention/policy-test.js";
import { judgeWithTruth } from "../src/simulate/policy-truth.js";
import { simulate } from "../src/simulate/simulate.js";
import { readTruth } from "../src/simulate/truth.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const seeds = arg("seeds", "7,11,23").split(",").map(Number);
const sizes = arg("instances", "24,100").split(",").map(Number);
const hours = Number(arg("hours", "6"));
const accounts = Number(arg("accounts", "2"));
const regions = Number(arg("regions", "2"));

const root = mkdtempSync(join(tmpdir(), "firstcall-policy-bench-"));
const results: unknown[] = [];
try {
  for (const instances of sizes) {
    for (const seed of seeds) {
      const dir = join(root, `fleet-${instances}-${seed}`);
      const t0 = Date.now();
      const sim = await simulate({ outDir: dir, seed, instances, hours, accounts, regions });
      const config = parseConfig(readFileSync(join(dir, "firstcall.yaml"), "utf8"));
      const detection = await detect([dir], { config, ipRangesPath: join(dir, "ip-ranges.json") });
      const read = await readRoleCalls([dir]);
      const g = generatePolicies({
        calls: read.calls,
        trail: read.trail,
        flagged: detection.flagged,
        openFindings: detection.openFindings,
        fleet: detection.fleet,
        ownNetworks: config.ownNetworks,
      });
      const truth = readTruth(join(dir, "truth.jsonl"));
      const judged = (
        [
          ["managed", g.managed.policy, g.roles.map((r) => r.arn), g.managed],
          ["scp", g.scp.policy, ["*"], g.scp],
        ] as const
      ).map(([name, policy, roles, fitted]) => {
        const doc = parsePolicy(JSON.parse(JSON.stringify(policy)), name);
        const report = testPolicy({
          policy: doc,
          policyName: name,
          calls: read.calls,
          trail: read.trail,
          flagged: detection.flagged,
          openFindings: detection.openFindings,
          roles,
        });
        const v = judgeWithTruth(doc, read.calls, read.trail, truth, roles);
        return {
          policy: name,
          size: fitted.size,
          cidrs: fitted.cidrs.length,
          widenings: fitted.widenings.length,
          policyTest: report.counts,
          truth: {
            legitimate: v.legitimate,
            legitimateDenied: v.legitimateDenied,
            legitimateUnknown: v.legitimateUnknown,
            legitimateDeniedExamples: v.legitimateDeniedExamples,
            outsideCalls: v.outsideCalls,
            outsideDenied: v.outsideDenied,
            byKind: Object.fromEntries([...v.byKind].map(([k, t]) => [k, t])),
          },
        };
      });
      const line = {
        seed,
        instances,
        hours,
        accounts,
        regions,
        events: sim.events,
        incidents: truth.length,
        roleCalls: read.calls.length,
        roles: g.roles.length,
        seconds: Math.round((Date.now() - t0) / 1000),
        judged,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      results.push(line);
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (args.includes("--save")) {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
  mkdirSync(join(HERE, "results"), { recursive: true });
  writeFileSync(join(HERE, "results", `${stamp}Z-policy-roundtrip.json`), `${JSON.stringify(results, null, 2)}\n`);
}
