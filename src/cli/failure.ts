/**
 * What the CLI prints and returns when a command stops on an error: the exit code from the shared
 * table (src/exit-codes.ts) and one escaped line for stderr. A stack trace is printed only with
 * `FIRSTCALL_DEBUG=1`: for an operator a stack is noise, and for a bug report it is asked for.
 */
import { CommanderError } from "commander";
import { UsageError } from "../errors.js";
import { EXIT, type ExitCode, exitCodeForError, isSqliteError, stateErrorFromSqlite } from "../exit-codes.js";
import { safeLines, safeText } from "../safe-text.js";

/** Where internal errors are to be reported. */
export const REPORT_BUGS_TO = "the firstcall issue tracker";

export interface Failure {
  readonly exitCode: ExitCode;
  /** What to write to stderr: empty, or lines each ending in a newline, with no raw control character. */
  readonly text: string;
}

export interface FailureContext {
  readonly version: string;
  /** `FIRSTCALL_DEBUG=1`: add the stack trace. */
  readonly debug: boolean;
}

/**
 * The stack frames, one escaped line each. The stack's head repeats the message, which is already on
 * the first line and may hold line breaks of its own: it is left out, so a message cannot forge lines.
 */
function stackOf(error: unknown): string {
  const stack = error instanceof Error ? error.stack : undefined;
  if (!stack) return "";
  const head = String(error);
  const frames = stack.startsWith(head)
    ? stack.slice(head.length).replace(/^\n/, "")
    : stack
        .split("\n")
        .filter((line) => /^\s+at /.test(line))
        .join("\n");
  return frames ? `${safeLines(frames)}\n` : "";
}

/**
 * The line that follows a usage error: where the whole usage is. Nothing for other errors, for
 * configuration errors (the message names the file and the key) and for `--help`/`--version`.
 *
 * @example
 * usageHint(new UsageError("E_USAGE", "--jobs: not a number"), "firstcall scan")
 * // "firstcall: see 'firstcall scan --help'\n"
 */
export function usageHint(error: unknown, command: string): string {
  const usage =
    error instanceof CommanderError
      ? error.exitCode !== 0 && error.code !== "commander.helpDisplayed" && error.code !== "commander.version"
      : error instanceof UsageError && error.code === "E_USAGE";
  return usage ? `firstcall: see '${safeText(command)} --help'\n` : "";
}

/**
 * Maps an error that stopped a command to its exit code and message.
 *
 * @example
 * renderFailure(new TypeError("boom"), { version: "0.1.0", debug: false })
 * // { exitCode: 70, text: "firstcall: internal error: TypeError: boom (a bug in firstcall 0.1.0; …)\n" }
 */
export function renderFailure(error: unknown, context: FailureContext): Failure {
  // commander has already printed its message (through the escaping writer set up in main).
  if (error instanceof CommanderError) return { exitCode: error.exitCode === 0 ? EXIT.ok : EXIT.usage, text: "" };
  const debug = context.debug ? stackOf(error) : "";
  const exitCode = exitCodeForError(error);
  if (exitCode === EXIT.internal) {
    const what =
      error instanceof Error
        ? `${error.name}${"code" in error && typeof error.code === "string" ? ` [${error.code}]` : ""}: ${error.message}`
        : String(error);
    const hint = context.debug ? "" : "; run again with FIRSTCALL_DEBUG=1 for the stack trace";
    return {
      exitCode,
      text: `firstcall: internal error: ${safeText(what)} (a bug in firstcall ${context.version}: please report it to ${REPORT_BUGS_TO} with the command line${hint})\n${debug}`,
    };
  }
  const shown = isSqliteError(error) ? stateErrorFromSqlite(error) : (error as Error);
  return { exitCode, text: `firstcall: ${safeText(shown.message)}\n${debug}` };
}
