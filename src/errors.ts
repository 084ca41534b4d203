/**
 * Typed errors. Every error the product raises on purpose carries a stable `code` so that callers
 * (the CLI, the summary, tests) can branch on data instead of on message text.
 *
 * @example
 * try { decodeLogObject(bytes, "a.json.gz") } catch (e) {
 *   if (e instanceof InputError && e.code === "E_GZIP") console.error(e.message)
 * }
 */
export class FirstcallError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Why a log object (file, S3 object, message) could not be read, in whole or in part. */
export type InputErrorCode =
  | "E_READ" // the bytes could not be read (permissions, vanished file, I/O error)
  | "E_EMPTY" // zero bytes
  | "E_GZIP" // corrupt or truncated gzip stream
  | "E_BINARY" // not text after decompression
  | "E_JSON" // invalid or truncated JSON
  | "E_TOO_LARGE" // larger than the configured limit once decompressed
  | "E_RECORD" // a value that should be a CloudTrail record is not one
  | "E_DOWNLOAD"; // a download (AWS's ip-ranges.json) failed or gave something unusable

export class InputError extends FirstcallError<InputErrorCode> {
  /** The object the error is about (path, s3://bucket/key, message id). */
  readonly object: string;
  constructor(code: InputErrorCode, object: string, message: string, options?: { cause?: unknown }) {
    super(code, `${object}: ${message}`, options);
    this.object = object;
  }
}

/**
 * `E_STATE` is kept for code written before {@link StateError}; it exits like a state error (4), not
 * like a usage error.
 */
export type UsageErrorCode = "E_USAGE" | "E_CONFIG" | "E_STATE";

/** Bad command line or configuration file: exit code 2. */
export class UsageError extends FirstcallError<UsageErrorCode> {}

export type StateErrorCode =
  | "E_STATE" // cannot open, create or use the state file (details in the message)
  | "E_STATE_CORRUPT" // the file is damaged or is not a SQLite database
  | "E_STATE_LOCKED" // another firstcall holds the state
  | "E_STATE_FOREIGN" // the file is another application's database
  | "E_STATE_VERSION" // written by another version of firstcall
  | "E_STATE_SCHEMA" // an unexpected schema inside a firstcall state
  | "E_STATE_DUMP" // a state dump (state export/import) that cannot be written or read, or is damaged
  | "E_STATE_NOT_EMPTY" // state import into a state that holds data (without --force)
  | "E_STATE_BUSY"; // a maintenance command refused because a worker of a shared state is running

/**
 * The state store cannot be opened, created, locked or read, or holds something firstcall cannot use:
 * exit code 4.
 *
 * @example
 * throw new StateError("E_STATE_CORRUPT", "state.sqlite: database disk image is malformed")
 */
export class StateError extends FirstcallError<StateErrorCode> {}

export type OutputErrorCode = "E_OUTPUT";

/**
 * Results could not be written (disk full, closed pipe, bad descriptor): exit code 5. The message
 * names where the output was going.
 *
 * @example
 * throw new OutputError("E_OUTPUT", "standard output: EPIPE (the reading end was closed)")
 */
export class OutputError extends FirstcallError<OutputErrorCode> {}
