/**
 * Writing results so that a failure is noticed: a full disk or a reader that went away (`| head`) must
 * give exit code 5 and one line on stderr, not a crash on an unhandled 'error' event nor a silent
 * exit 0 with half the findings lost.
 */
import { writeFileSync } from "node:fs";
import { OutputError } from "../errors.js";

/** The first error a watched stream reported, kept so that later writes fail at once. */
const streamErrors = new WeakMap<NodeJS.WritableStream, { error?: Error }>();

/**
 * Listens for the stream's 'error' event (once per stream) and remembers the first error. Without a
 * listener, an EPIPE on stdout is an unhandled 'error' event that kills the process.
 *
 * @example
 * watchStream(process.stderr) // stderr closed: messages are lost quietly instead of crashing
 */
export function watchStream(stream: NodeJS.WritableStream): { readonly error?: Error } {
  let state = streamErrors.get(stream);
  if (!state) {
    const created: { error?: Error } = {};
    state = created;
    streamErrors.set(stream, created);
    stream.on("error", (error: Error) => {
      created.error ??= error;
    });
  }
  return state;
}

function describeWriteError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EPIPE") return "EPIPE: the reading end of the pipe was closed";
  return error.message;
}

function outputError(name: string, error: Error): OutputError {
  return new OutputError("E_OUTPUT", `cannot write ${name}: ${describeWriteError(error)}`, { cause: error });
}

/**
 * Writes text to a stream and resolves once it has been handed to the operating system; rejects with
 * an {@link OutputError} naming the destination when the write fails (EPIPE, ENOSPC, EBADF …) or the
 * stream already failed. Writing `""` waits for everything written before it.
 *
 * @example
 * await writeOutput(process.stdout, format.render(findings))
 * await writeOutput(process.stdout, text, { hint: "scan --all prints them again" })
 */
export function writeOutput(
  stream: NodeJS.WritableStream,
  text: string,
  options: {
    /** How the destination is named in the error (default: standard output, or output). */
    readonly name?: string;
    /** Added to the error message: what the operator can do about it. */
    readonly hint?: string;
  } = {},
): Promise<void> {
  const state = watchStream(stream);
  const name = `${options.name ?? (stream === process.stdout ? "standard output" : "output")}`;
  const fail = (error: Error): OutputError => {
    const e = outputError(name, error);
    return options.hint ? new OutputError(e.code, `${e.message} (${options.hint})`, { cause: error }) : e;
  };
  return new Promise((resolve, reject) => {
    if (state.error) {
      reject(fail(state.error));
      return;
    }
    let settled = false;
    const settle = (error: Error | null | undefined): void => {
      if (settled) return;
      settled = true;
      stream.off("error", settle);
      const failed = error ?? state.error;
      if (failed) reject(fail(failed));
      else resolve();
    };
    // Some streams report a failure only as an event, some only to the callback; either settles.
    stream.on("error", settle);
    try {
      stream.write(text, settle);
    } catch (error) {
      settle(error as Error);
    }
  });
}

/**
 * Writes a whole file; an {@link OutputError} naming the file when it cannot be written.
 *
 * @example
 * writeFileOutput("summary.json", json)
 */
export function writeFileOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (error) {
    throw outputError(path, error as Error);
  }
}
