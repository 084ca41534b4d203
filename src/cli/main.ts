/**
 * The CLI entry: builds the commander program, runs it, and maps errors to exit codes through the
 * shared table (src/exit-codes.ts). Each command lives in its own file and imports its heavy modules
 * only when it runs. Every message written to stderr is escaped (src/safe-text.ts).
 */
import { Command } from "commander";
import { EXIT } from "../exit-codes.js";
import { configureLog, type LogLevel, log } from "../log.js";
import { safeLines } from "../safe-text.js";
import { registerEval } from "./eval.js";
import { registerExplain } from "./explain.js";
import { renderFailure, usageHint } from "./failure.js";
import { registerFindings } from "./findings.js";
import { globalOptions } from "./global-spec.js";
import { registerImds } from "./imds.js";
import { registerImdsProxy } from "./imds-proxy.js";
import { registerIpRanges } from "./ip-ranges.js";
import { toOptions } from "./options.js";
import { watchStream, writeOutput } from "./output.js";
import { registerPolicy } from "./policy.js";
import { registerScan } from "./scan.js";
import { registerServe } from "./serve.js";
import { registerSimulate } from "./simulate.js";
import { registerState } from "./state.js";
import { registerTrailblazer } from "./trailblazer.js";
import { registerWatch } from "./watch.js";

export const VERSION = "0.1.0";

export function buildProgram(): Command {
  const program = new Command("firstcall")
    // Before the subcommands are added, so that they inherit it: commander echoes bad arguments.
    .configureOutput({ outputError: (message, write) => write(safeLines(message.replace(/^error: /, "firstcall: "))) })
    .description("Finds stolen AWS temporary credentials in CloudTrail: the first call wins.")
    .version(VERSION)
    .exitOverride()
    // A usage error is its message and a pointer to --help (added in main), not the whole help.
    .showHelpAfterError(false);
  for (const o of toOptions(globalOptions)) program.addOption(o);
  program.hook("preAction", (_program, action) => {
    const { logLevel, debug } = program.opts<{ logLevel?: LogLevel; debug?: boolean }>();
    if (debug || logLevel) configureLog(debug ? "debug" : (logLevel as LogLevel));
    log().debug({ command: commandName(action), version: VERSION, node: process.version }, "command started");
  });
  registerScan(program);
  registerWatch(program);
  registerExplain(program);
  registerFindings(program);
  registerSimulate(program);
  registerEval(program);
  registerTrailblazer(program);
  registerIpRanges(program);
  registerPolicy(program);
  registerImds(program);
  registerImdsProxy(program);
  registerState(program, VERSION);
  registerServe(program);
  return program;
}

/** `scan`, `trailblazer replay run`: a command's name as the user types it. */
function commandName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The command the arguments name (as far as they name one), for the pointer to its --help. */
function commandOf(program: Command, argv: readonly string[]): string {
  let command = program;
  for (const arg of argv.slice(2)) {
    if (arg.startsWith("-")) continue;
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    command = sub;
  }
  return ["firstcall", commandName(command)].filter(Boolean).join(" ");
}

let crashHandlersInstalled = false;

/**
 * Errors that escape every `await` (an 'error' event nobody listens to, a rejected promise nobody
 * awaits) would make Node exit with code 1, which means "findings": report them as internal errors.
 */
function installCrashHandlers(): void {
  if (crashHandlersInstalled) return;
  crashHandlersInstalled = true;
  process.on("uncaughtException", (error) => {
    log().fatal({ err: error }, "uncaught exception");
    const failure = renderFailure(error, failureContext());
    process.stderr.write(failure.text);
    process.exit(failure.exitCode);
  });
}

function failureContext(): { version: string; debug: boolean } {
  return { version: VERSION, debug: process.env.FIRSTCALL_DEBUG === "1" };
}

/** Runs the CLI; resolves to the process exit code (see EXIT_CODES in src/exit-codes.ts). */
export async function main(argv: readonly string[]): Promise<number> {
  installCrashHandlers();
  // stderr closed too: nowhere left to report, but no crash on its 'error' event either.
  watchStream(process.stderr);
  const program = buildProgram();
  let exitCode: number;
  try {
    await program.parseAsync(argv as string[]);
    const code = program.getOptionValue("exitCode");
    exitCode = typeof code === "number" ? code : EXIT.ok;
    // Commands that print with process.stdout.write directly: wait for it, and notice if it failed.
    await writeOutput(process.stdout, "");
  } catch (e) {
    const failure = renderFailure(e, failureContext());
    log().error({ err: e, exitCode: failure.exitCode }, "command failed");
    // commander has printed its one-line message; ours is in failure.text.
    const hint = usageHint(e, commandOf(program, argv));
    process.stderr.write(failure.text + hint);
    exitCode = failure.exitCode;
  }
  return exitCode;
}

// Run directly (tsx src/cli/main.ts …): the bin script imports `main` instead.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv);
}
