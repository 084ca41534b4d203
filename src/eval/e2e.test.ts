/**
 * simulate → scan → eval on a small fleet: the engine must find every incident some rule can see,
 * and nothing else. A correctness test; the benchmark lives in bench/.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadConfig } from "../config/config.js";
import { runScan } from "../pipeline/scan.js";
import { simulate } from "../simulate/simulate.js";
import { ATTACK_KINDS, readFleet, readTruth } from "../simulate/truth.js";
import { evaluate } from "./eval.js";

const root = mkdtempSync(join(tmpdir(), "firstcall-e2e-"));
after(() => rmSync(root, { recursive: true, force: true }));

async function simulateAndScan(
  name: string,
  options: Parameters<typeof simulate>[0] extends infer O ? Omit<O, "outDir"> : never,
) {
  const outDir = join(root, name);
  await simulate({ outDir, ...options });
  const { findings, summary } = await runScan({
    paths: [outDir],
    statePath: ":memory:",
    config: loadConfig(join(outDir, "firstcall.yaml")),
    ipRangesPath: join(outDir, "ip-ranges.json"),
  });
  return { outDir, findings, summary };
}

describe("simulate → scan → eval", () => {
  test("every detectable incident of every kind is found, with no false positive", async () => {
    const { outDir, findings, summary } = await simulateAndScan("attacked", {
      instances: 40,
      hours: 2,
      accounts: 3,
      regions: 2,
      // Three SSRF replays: one of each flavour, including the one no rule can see.
      attacks: ATTACK_KINDS.map((k) => `${k}:${k === "ssrf-replay" ? 3 : 2}`).join(","),
      seed: 7,
    });
    assert.equal(summary.problems.length, 0, JSON.stringify(summary.problems));
    assert.equal(summary.coverage.ratio, 1);
    const report = evaluate(readTruth(join(outDir, "truth.jsonl")), findings, readFleet(join(outDir, "fleet.jsonl")));
    assert.equal(report.total.incidents, 2 * ATTACK_KINDS.length + 1, "every requested incident was placed");
    for (const row of report.kinds) {
      if (row.detectable === 0) continue;
      const missed = report.incidents
        .filter((i) => i.kind === row.kind && i.detectable && !i.detected)
        .map((i) => i.id);
      assert.equal(row.recall, 1, `${row.kind}: missed ${missed.join(", ")}`);
    }
    const silent = report.incidents
      .filter((i) => i.rulesMissing.length > 0)
      .map((i) => `${i.id}: ${i.rulesMissing.join(",")}`);
    assert.deepEqual(silent, [], "every rule the truth expects fires");
    assert.equal(
      report.findings.falsePositives,
      0,
      report.falsePositivesByCause.map((g) => `${g.count} × ${g.cause} (${g.examples[0]?.session})`).join("; "),
    );
    assert.ok(
      report.incidents.some((i) => !i.detectable),
      "an SSRF replay no rule can see is in the truth",
    );
  });

  test("the benign fleet alone raises no finding", async () => {
    const { findings, summary } = await simulateAndScan("benign", {
      instances: 60,
      hours: 3,
      accounts: 3,
      regions: 2,
      seed: 21,
      attacks: "none",
    });
    assert.ok(summary.records.unique > 5000);
    assert.deepEqual(
      findings.map((f) => `${f.rule} ${f.principal.arn} ${f.sourceIp}`),
      [],
    );
  });
});
