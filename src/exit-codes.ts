/**
 * The process exit codes: one meaning each, so a scheduler can tell "there are findings" from "the
 * state file is broken" from "firstcall has a bug". The CLI, the scan pipeline and the generated
 * docs/cli.md all read this table.
 */
import { FirstcallError, InputError, OutputError, StateError, UsageError } from "./errors.js";

export const EXIT = {
  ok: 0,
  findings: 1,
  usage: 2,
  input: 3,
  state: 4,
  output: 5,
  policyDenies: 6,
  undelivered: 7,
  internal: 70,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface ExitCodeEntry {
  readonly code: ExitCode;
  readonly name: keyof typeof EXIT;
  readonly meaning: string;
}

/**
 * Every exit code with its meaning, in order. When several apply to a finished scan, 1 wins over 7,
 * and 7 over 3 (a failing finding outranks findings owed to a destination, which outrank unreadable
 * input); an error that stops the run (2, 4, 5, 70) replaces them.
 *
 * @example
 * for (const e of EXIT_CODES) console.log(e.code, e.meaning)
 */
export const EXIT_CODES: readonly ExitCodeEntry[] = [
  { code: EXIT.ok, name: "ok", meaning: "no finding at or above `--fail-on`, and every input was read" },
  { code: EXIT.findings, name: "findings", meaning: "at least one finding at or above `--fail-on`" },
  {
    code: EXIT.usage,
    name: "usage",
    meaning:
      "usage or configuration error: bad flag or argument, invalid configuration file or `--ip-ranges` file (checked before any log is read)",
  },
  {
    code: EXIT.input,
    name: "input",
    meaning:
      "some input could not be read (unreadable, corrupt, truncated or missing files, dangling links), or no CloudTrail log was found at all (nothing was scanned), and no finding at or above `--fail-on`",
  },
  {
    code: EXIT.state,
    name: "state",
    meaning:
      "state error: the state file cannot be opened, created or locked, is corrupt, is not a firstcall state file, or was written by a newer version",
  },
  {
    code: EXIT.output,
    name: "output",
    meaning: "output failure: the findings or the summary could not be written (disk full, closed pipe)",
  },
  {
    code: EXIT.policyDenies,
    name: "policyDenies",
    meaning:
      "`policy test` only: the policy would deny calls that detection did not flag (legitimate traffic it would break); `policy generate`: the policy does not fit IAM's size limit",
  },
  {
    code: EXIT.undelivered,
    name: "undelivered",
    meaning:
      "`scan --to`: findings are still owed to a destination that did not take them (down, throttling); they are kept in the state and the next run retries them; no finding at or above `--fail-on`",
  },
  {
    code: EXIT.internal,
    name: "internal",
    meaning:
      "internal error, a bug in firstcall: one line on stderr says where to report it; `FIRSTCALL_DEBUG=1` adds the stack trace",
  },
  {
    code: EXIT.interrupted,
    name: "interrupted",
    meaning: "`scan` stopped by Ctrl-C after committing its last checkpoint: run the same command again to continue",
  },
];

/** Codes of {@link FirstcallError}s that are the operator's to fix (a bad file or URL given on the command line). */
const USAGE_ERROR_CODES: ReadonlySet<string> = new Set(["E_USAGE", "E_CONFIG", "E_RUN_FILE", "E_ENDPOINT"]);

/** The error better-sqlite3 throws (`SqliteError`, with a `SQLITE_…` code), recognised without importing it. */
export function isSqliteError(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error) || error.name !== "SqliteError") return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_");
}

/** A Node.js system error raised by a write (EPIPE, ENOSPC, EBADF …). */
export function isWriteSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && (error as NodeJS.ErrnoException).syscall === "write";
}

/**
 * A SQLite error seen while using the state file, as a {@link StateError} with a specific code.
 *
 * @example
 * stateErrorFromSqlite(e, "state.sqlite") // StateError E_STATE_CORRUPT "state.sqlite: database disk image is malformed (SQLITE_CORRUPT)"
 */
export function stateErrorFromSqlite(error: Error & { code: string }, location?: string): StateError {
  const code =
    error.code.startsWith("SQLITE_CORRUPT") || error.code === "SQLITE_NOTADB"
      ? "E_STATE_CORRUPT"
      : error.code.startsWith("SQLITE_BUSY") || error.code.startsWith("SQLITE_LOCKED")
        ? "E_STATE_LOCKED"
        : "E_STATE";
  const where = location ? `${location}: ` : "state file: ";
  return new StateError(code, `${where}${error.message} (${error.code})`, { cause: error });
}

/**
 * The exit code for an error that stopped a command. Unexpected errors are internal (70), never 1:
 * exit code 1 means findings and nothing else.
 *
 * @example
 * exitCodeForError(new UsageError("E_CONFIG", "bad CIDR")) // 2
 * exitCodeForError(new TypeError("x is undefined"))        // 70
 */
export function exitCodeForError(error: unknown): ExitCode {
  if (error instanceof StateError) return EXIT.state;
  if (error instanceof OutputError) return EXIT.output;
  if (error instanceof InputError) return EXIT.input;
  if (error instanceof UsageError) return error.code === "E_STATE" ? EXIT.state : EXIT.usage;
  if (error instanceof FirstcallError) return USAGE_ERROR_CODES.has(error.code) ? EXIT.usage : EXIT.internal;
  if (isSqliteError(error)) return EXIT.state;
  if (isWriteSystemError(error)) return EXIT.output;
  return EXIT.internal;
}
