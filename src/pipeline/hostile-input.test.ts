/**
 * Hostile input: CloudTrail records are partly written by the attacker (user agents, session names,
 * request parameters) and logs can be forged or damaged. A scan must survive any of it: never throw,
 * exit 0, 1 or 3, and return well-formed findings. The property and its mutations live in
 * src/test-helpers/hostile-records.ts, shared with the nightly `scripts/fuzz-hostile.ts`.
 */
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import type { Finding } from "../findings/finding.js";
import { type CliRun, runCliAsync } from "../test-helpers/cli.js";
import {
  type CliHostileFile,
  checkFinding,
  checkHostileCase,
  checkScanResult,
  cliHostileFiles,
  describeCase,
  failureSignature,
  fixedHostileFiles,
  type HostileCase,
  hostileCaseArbitrary,
  loadSeedCorpora,
  PROTOTYPE_NAMES,
  SCENARIO_INSTANCES,
  type SeedCorpora,
  scenarioRecords,
} from "../test-helpers/hostile-records.js";
import { tempDir } from "../test-helpers/scan.js";
import { runScan } from "./scan.js";

/** Fixed so that CI runs the same cases every time; the nightly script varies the seed. */
const SEED = 20261201;
const NUM_RUNS = 200;

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

describe("hostile CloudTrail input", () => {
  let corpora: SeedCorpora;
  let corporaBefore: string;
  let root: string;
  let dirs = 0;
  const freshDir = (): string => {
    const dir = join(root, String(dirs++));
    mkdirSync(dir);
    return dir;
  };

  before(async () => {
    corpora = await loadSeedCorpora(repoRoot);
    corporaBefore = JSON.stringify(corpora);
    root = tempDir("firstcall-hostile-");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("the hostile names cover every property a plain object inherits", () => {
    for (const name of Object.getOwnPropertyNames(Object.prototype)) assert.ok(PROTOTYPE_NAMES.includes(name), name);
  });

  test("the unmutated scenario reaches every engine path", async () => {
    const I = SCENARIO_INSTANCES;
    const brief = async (bindUncovered: boolean) => {
      const path = join(freshDir(), "scenario.json");
      writeFileSync(path, JSON.stringify({ Records: scenarioRecords() }));
      const result = await runScan({ paths: [path], statePath: ":memory:", bindUncovered });
      return result.findings.map((f) => `${f.rule} ${f.principal.sessionName} ${f.sourceIp}`).sort();
    };
    const expected = [
      `credential-ip-mismatch ${I.endpoint} 10.0.1.5`, // foreign endpoint
      `credential-ip-mismatch ${I.endpoint} 10.0.1.6`, // second private address (created endpoint is known)
      `credential-ip-mismatch ${I.thief} 203.0.113.66`,
      `credential-ip-mismatch ${I.thief} 2600:1f18:1234::10`,
      "credential-ip-mismatch deploy-session 192.0.2.50", // keyed by access key
      "credential-ip-mismatch task-0123 10.0.9.9", // unknown endpoint, no instance id
      "credential-ip-mismatch task-0123 198.51.100.20",
      `imdsv1-credential ${I.thief} 203.0.113.66`,
      `instance-credential-foreign-agent ${I.thief} 203.0.113.66`,
      `instance-credential-recon ${I.thief} 203.0.113.66`,
      `instance-credential-recon ${I.thief} 54.0.0.10`,
    ];
    // No finding for the addresses learned from AssociateAddress (by instance and by interface),
    // AttachNetworkInterface, RunInstances + AssignPrivateIpAddresses and StartInstances.
    assert.deepEqual(await brief(false), expected.sort());
    assert.deepEqual(
      await brief(true),
      [...expected, `credential-ip-mismatch ${I.uncovered} 203.0.113.77`].sort(),
      "--bind-uncovered binds the calls without issuance",
    );
  });

  test("runScan neither throws nor returns a malformed result on mutated records", async () => {
    const details = await fc.check(
      fc.asyncProperty(hostileCaseArbitrary(), async (c) => {
        const dir = freshDir();
        try {
          await checkHostileCase(corpora, c, dir);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
    if (details.failed && details.counterexample) {
      const c: HostileCase = details.counterexample[0];
      const error = details.errorInstance;
      assert.fail(
        [
          `after ${details.numRuns} cases (seed ${details.seed}, path "${details.counterexamplePath}"):`,
          failureSignature(error),
          describeCase(corpora, c),
          `case: ${JSON.stringify(c)}`,
          `replay: write the case to a file and run node --import tsx scripts/fuzz-hostile.ts --replay FILE`,
          error instanceof Error ? (error.stack ?? "").split("\n").slice(0, 10).join("\n") : String(error),
        ].join("\n"),
      );
    }
    assert.equal(details.numRuns, NUM_RUNS);
    assert.equal(JSON.stringify(corpora), corporaBefore, "mutations never change the seed records");
  });

  describe("fixed hostile files", () => {
    for (const file of fixedHostileFiles()) {
      test(`in process: ${file.name}`, async () => {
        const path = join(freshDir(), "hostile.json");
        writeFileSync(path, JSON.stringify({ Records: file.records }));
        let result: Awaited<ReturnType<typeof runScan>>;
        try {
          result = await runScan({ paths: [path], statePath: ":memory:", bindUncovered: file.bindUncovered });
        } catch (e) {
          assert.fail(`runScan threw ${failureSignature(e)}`);
        }
        checkScanResult(result);
        // Every file is the whole scenario: the stolen instance credential must still be reported.
        assert.ok(
          result.findings.some((f) => f.rule === "credential-ip-mismatch" && f.sourceIp === "203.0.113.66"),
          "the theft in the scenario is still found",
        );
      });
    }

    test("CLI: exit 0, 1 or 3, never an unexpected error, 1 exactly when a high finding is printed", async () => {
      const files = cliHostileFiles();
      const outcomes = await mapLimit(files, 2, (file) => scanWithCli(freshDir(), file));
      const problems: string[] = [];
      for (const [i, o] of outcomes.entries()) {
        const name = files[i]?.name;
        if (![0, 1, 3].includes(o.status ?? -1)) problems.push(`${name}: exit code ${o.status}`);
        if (o.stderr.includes("unexpected error")) {
          problems.push(`${name}: ${o.stderr.slice(o.stderr.indexOf("unexpected error"), 300)}`);
        }
        const findings: Finding[] = [];
        for (const line of o.stdout.split("\n").filter((l) => l !== "")) {
          try {
            const f = JSON.parse(line) as Finding;
            checkFinding(f);
            findings.push(f);
          } catch (e) {
            problems.push(`${name}: bad output line: ${(e as Error).message.slice(0, 200)}`);
          }
        }
        const high = findings.some((f) => f.severity === "high");
        if ((o.status === 1) !== high) problems.push(`${name}: exit ${o.status} with high finding: ${high}`);
      }
      assert.deepEqual(problems, []);
    });
  });
});

/** Runs `firstcall scan FILE --state :memory: --format jsonl` on one hostile file. */
function scanWithCli(dir: string, file: CliHostileFile): Promise<CliRun> {
  const path = join(dir, "hostile.json");
  writeFileSync(path, file.text);
  const args = ["scan", path, "--state", ":memory:", "--format", "jsonl"];
  if (file.bindUncovered) args.push("--bind-uncovered");
  return runCliAsync(args);
}

/** Maps with at most `limit` promises running (the CLI runs are separate processes). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
