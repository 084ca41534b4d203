/**
 * The CLI entry: builds the commander program, runs it, and maps errors to exit codes
 * (2 for usage, configuration and state errors). Each command lives in its own file and imports
 * its heavy modules only when it runs.
 */
import { Command, CommanderError } from "commander";
import { FirstcallError, OutputError, StateError, UsageError } from "../errors.js";
import { registerEval } from "./eval.js";
import { registerScan } from "./scan.js";
import { registerSimulate } from "./simulate.js";
import { registerTrailblazer } from "./trailblazer.js";

export const VERSION = "0.1.0";

export function buildProgram(): Command {
  const program = new Command("firstcall")
    .description("Finds stolen AWS temporary credentials in CloudTrail: the first call wins.")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();
  registerScan(program);
  registerSimulate(program);
  registerEval(program);
  registerTrailblazer(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    const code = program.getOptionValue("exitCode");
    return typeof code === "number" ? code : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UsageError) {
      process.stderr.write(`firstcall: ${e.message}\n`);
      return 2;
    }
    if (e instanceof StateError) {
      process.stderr.write(`firstcall: ${e.message}\n`);
      return 4;
    }
    if (e instanceof OutputError) {
      process.stderr.write(`firstcall: ${e.message}\n`);
      return 5;
    }
    if (e instanceof FirstcallError) {
      process.stderr.write(`firstcall: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`firstcall: unexpected error: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}

// Run directly (tsx src/cli/main.ts …): the bin script imports `main` instead.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv);
}
