/** `firstcall eval`: scores findings against a simulation's ground truth. */
import type { Command, Option } from "commander";
import { formatOption, toOptions } from "./options.js";

interface EvalFlags {
  truth: string;
  fleet?: string;
  format: "text" | "json";
  jsonOut?: string;
}

/**
 * Registers `eval` on the program.
 *
 * @example
 * firstcall eval --truth sim/truth.jsonl findings.jsonl
 * firstcall eval --truth sim/truth.jsonl --format json findings.jsonl > eval.json
 */
export function registerEval(program: Command): void {
  program
    .command("eval")
    .description(
      "Score findings (scan --format jsonl) against truth.jsonl: per attack kind detected/missed, recall and detection delay; false positives by cause; precision.",
    )
    .argument("<findings>", "findings as JSON lines (- for standard input)")
    .requiredOption("--truth <file>", "truth.jsonl written by simulate")
    .option("--fleet <file>", "fleet.jsonl written by simulate (default: next to --truth, when present)")
    .addOption(toOptions([formatOption(["text", "json"])])[0] as Option)
    .option("--json-out <file>", "also write the JSON report to this file")
    .action(async (findingsPath: string, flags: EvalFlags) => {
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
