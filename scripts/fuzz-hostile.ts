/**
 * The larger (nightly) run of the hostile-input property of src/pipeline/hostile-input.test.ts:
 * mutated CloudTrail records must never crash a scan or produce a malformed result.
 *
 * Unlike the test, it does not stop at the first failure: every distinct failure (error type,
 * message and first `src/` stack frame, or the broken contract check) is shrunk on its own and
 * reported with a replayable case. Exit code 1 when anything failed.
 *
 * Run:    node --import tsx scripts/fuzz-hostile.ts [--runs N] [--seed S] [--seeds PATH]... [--json FILE]
 *         (default 5000 runs, seed from the clock and printed; --seeds adds log files or directories to
 *         the real records, e.g. /work/shared/datasets; --json writes the failures as JSON)
 * Sweep:  node --import tsx scripts/fuzz-hostile.ts --sweep   (every string field of every scenario record
 *         set to every Object.prototype name, in that record alone and in every record of its kind)
 * Replay: node --import tsx scripts/fuzz-hostile.ts --replay case.json   (a case as printed by a run)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import fc from "fast-check";
import {
  checkHostileCase,
  crashSite,
  describeCase,
  failureSignature,
  fieldPaths,
  type HostileCase,
  hostileCaseArbitrary,
  loadSeedCorpora,
  PROTOTYPE_NAMES,
} from "../src/test-helpers/hostile-records.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5000" },
    seed: { type: "string", default: String(Date.now() % 2 ** 31) },
    seeds: { type: "string", multiple: true, default: [] },
    json: { type: "string" },
    replay: { type: "string" },
    sweep: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const seed = Number(values.seed);
if (!Number.isSafeInteger(runs) || runs <= 0 || !Number.isSafeInteger(seed)) {
  console.error("fuzz-hostile: --runs and --seed take integers");
  process.exit(2);
}

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const corpora = await loadSeedCorpora(repoRoot, values.seeds);
const root = mkdtempSync(join(tmpdir(), "firstcall-fuzz-"));
let caseNumber = 0;

/** Runs one case in a fresh directory that is removed afterwards. */
async function runCase(c: HostileCase): Promise<void> {
  const dir = join(root, String(caseNumber++));
  mkdirSync(dir);
  try {
    await checkHostileCase(corpora, c, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The failure signature of a case, or undefined when it passes. */
async function signatureOf(c: HostileCase): Promise<string | undefined> {
  try {
    await runCase(c);
    return undefined;
  } catch (e) {
    return failureSignature(e);
  }
}

/**
 * fast-check's shrinker leaves some irrelevant mutations and spreads in place; drop each mutation,
 * then each spread, while the same failure remains.
 */
async function minimize(c: HostileCase, signature: string): Promise<HostileCase> {
  let best = c;
  for (let i = best.mutations.length - 1; i >= 0 && best.mutations.length > 1; i--) {
    const fewer = { ...best, mutations: best.mutations.filter((_, j) => j !== i) };
    if ((await signatureOf(fewer)) === signature) best = fewer;
  }
  for (let i = 0; i < best.mutations.length; i++) {
    const m = best.mutations[i];
    if (!m || !("spread" in m) || m.spread === 0) continue;
    const narrower = { ...best, mutations: best.mutations.map((x, j) => (j === i ? { ...m, spread: 0 } : x)) };
    if ((await signatureOf(narrower)) === signature) best = narrower;
  }
  const simpler: Partial<HostileCase>[] = [{ store: "memory" }, { bindUncovered: false }, { config: "default" }];
  for (const change of simpler) {
    const candidate = { ...best, ...change };
    if (JSON.stringify(candidate) !== JSON.stringify(best) && (await signatureOf(candidate)) === signature) {
      best = candidate;
    }
  }
  return best;
}

interface Failure {
  signature: string;
  site: string | undefined;
  message: string;
  stack: string;
  seed: number;
  case: HostileCase;
}

try {
  if (values.replay) {
    const c = JSON.parse(readFileSync(values.replay, "utf8")) as HostileCase;
    try {
      await runCase(c);
      console.log("replay: passed");
    } catch (e) {
      console.log(`replay: ${failureSignature(e)}\n${describeCase(corpora, c)}\n${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
  } else if (values.sweep) {
    const started = Date.now();
    const failures = new Map<string, { count: number; first: HostileCase }>();
    let cases = 0;
    for (const [record, r] of corpora.scenario.entries()) {
      const fields = fieldPaths(r, true).length;
      for (let field = 0; field < fields; field++) {
        for (const named of PROTOTYPE_NAMES) {
          for (const spread of [0, corpora.scenario.length]) {
            const c: HostileCase = {
              base: "scenario",
              mutations: [{ op: "replace", target: { record, anywhere: false }, field, value: { named }, spread }],
              store: "memory",
              split: 0,
              bindUncovered: true,
              config: "default",
            };
            cases++;
            const signature = await signatureOf(c);
            if (signature === undefined) continue;
            const seen = failures.get(signature);
            if (seen) seen.count++;
            else failures.set(signature, { count: 1, first: c });
          }
        }
      }
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`fuzz-hostile sweep: ${cases} cases in ${seconds.toFixed(1)} s, ${failures.size} distinct failures`);
    for (const [signature, f] of failures) {
      console.log(
        `\n== ${signature} (${f.count} cases)\n${describeCase(corpora, f.first)}\n${JSON.stringify(f.first)}`,
      );
    }
    if (failures.size > 0) process.exitCode = 1;
  } else {
    const started = Date.now();
    const failures = new Map<string, Failure>();
    let remaining = runs;
    let done = 0;
    for (let round = 0; remaining > 0; round++) {
      const roundSeed = seed + round;
      // Failures already known pass here, so fast-check shrinks (and stops at) the next new one.
      const details = await fc.check(
        fc.asyncProperty(hostileCaseArbitrary(), async (c) => {
          try {
            await runCase(c);
          } catch (e) {
            if (failures.has(failureSignature(e))) return;
            throw e;
          }
        }),
        { seed: roundSeed, numRuns: remaining },
      );
      done += details.numRuns;
      if (!details.failed || !details.counterexample) break;
      remaining -= details.numRuns;
      const error = details.errorInstance;
      const signature = failureSignature(error);
      failures.set(signature, {
        signature,
        site: crashSite(error),
        message: error instanceof Error ? error.message.slice(0, 400) : String(error),
        stack: error instanceof Error ? (error.stack ?? "").split("\n").slice(0, 8).join("\n") : "",
        seed: roundSeed,
        case: await minimize(details.counterexample[0], signature),
      });
      console.error(`fuzz-hostile: new failure after ${done} cases: ${signature}`);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `fuzz-hostile: ${done} cases (seed ${seed}) in ${seconds.toFixed(1)} s, ${failures.size} distinct failures`,
    );
    for (const f of failures.values()) {
      console.log(
        `\n== ${f.signature}\n${f.stack}\nshrunk case (seed ${f.seed}):\n${describeCase(corpora, f.case)}\n${JSON.stringify(f.case)}`,
      );
    }
    if (values.json)
      writeFileSync(
        values.json,
        `${JSON.stringify({ seed, runs: done, seconds, failures: [...failures.values()] }, null, 2)}\n`,
      );
    if (failures.size > 0) process.exitCode = 1;
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
