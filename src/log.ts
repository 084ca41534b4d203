/**
 * Diagnostic logs for bug reports: structured JSON lines (pino) on stderr, silent unless the user asks
 * with `--log-level <level>` or `--debug`. Findings and the summary never go through here; they are
 * output, and stdout stays the same whatever the level.
 *
 * What is logged: paths, counts, timings, error codes and stacks. Never a record's content, a key's
 * secret part or a session token: the logs are meant to be pasted into an issue.
 */
import { destination, type Logger, pino, stdTimeFunctions } from "pino";

/** The levels `--log-level` accepts, quietest last. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let current: Logger = pino({ level: "silent" });

/**
 * The logger in use (silent until {@link configureLog}). Call it where the line is written, not at
 * import time, so that modules imported before the options were parsed log too.
 *
 * @example
 * log().debug({ path, ms }, "state opened")
 */
export function log(): Logger {
  return current;
}

/**
 * Switches logging on at `level`, to stderr (written synchronously, so the lines are not lost when
 * the process exits on an error and appear in order with the other messages on stderr).
 *
 * @example
 * configureLog("debug")
 */
export function configureLog(level: LogLevel, fd = 2): void {
  current = pino(
    {
      name: "firstcall",
      level,
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
    },
    destination({ fd, sync: true }),
  );
}
