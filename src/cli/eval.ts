/** `firstcall eval`: scores findings against a simulation's ground truth. */
import type { Command } from "commander";
import { evalSpec } from "./eval-spec.js";
import { commandFromSpec } from "./options.js";

interface EvalFlags {
  truth: string;
  fleet?: string;
  format: "text" | "json";
  jsonOut?: string;
}

/** Registers `eval` on the program (options and examples: src/cli/eval-spec.ts). */
export function registerEval(program: Command): void {
  commandFromSpec(program, evalSpec).action(async (findingsPath: string, flags: EvalFlags) => {
    const { existsSync, writeFileSync } = await import("node:fs");
    const { dirname, join } = await import("node:path");
    const { UsageError } = await import("../errors.js");
    const { evaluate, loadTruth, readFindings } = await import("../eval/eval.js");
    const { formatEvalText } = await import("../eval/format.js");
    if (flags.format !== "text" && flags.format !== "json") {
      throw new UsageError("E_USAGE", `--format: expected text or json, got ${flags.format}`);
    }
    const sibling = join(dirname(flags.truth), "fleet.jsonl");
    const fleetPath = flags.fleet ?? (existsSync(sibling) ? sibling : undefined);
    const { incidents, fleet } = loadTruth(flags.truth, fleetPath);
    const report = evaluate(incidents, readFindings(findingsPath), fleet);
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (flags.jsonOut) writeFileSync(flags.jsonOut, json);
    process.stdout.write(flags.format === "json" ? json : formatEvalText(report));
  });
}
