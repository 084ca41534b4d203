/**
 * The run file: JSON Lines, one header line describing the run, then one line per call with what
 * was sent and what came back. Appending one line per call makes a run resumable after a crash or
 * Ctrl-C, and the file maps every session name back to its operation.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { FirstcallError, UsageError } from "../errors.js";

export const RUN_SCHEMA = "firstcall.trailblazer.run";
export const RUN_VERSION = 1;

export interface RunHeader {
  readonly type: "run";
  readonly schema: typeof RUN_SCHEMA;
  readonly version: typeof RUN_VERSION;
  readonly runId: string;
  readonly startedAt: string;
  readonly roleArn: string;
  readonly accountId: string;
  readonly region: string;
  readonly userAgent: string;
  readonly endpointUrl?: string;
  readonly services?: readonly string[];
  readonly catalog: { readonly source: string; readonly operations: number };
}

export interface ResumeMarker {
  readonly type: "resume";
  readonly at: string;
}

/** One try of a call: several when AWS throttled it and the runner retried. */
export interface CallAttempt {
  readonly sentAt: string;
  readonly durationMs: number;
  readonly status?: number;
  readonly errorCode?: string;
  readonly requestId?: string;
  /** Network failure (no HTTP answer). */
  readonly error?: string;
}

export interface SentRequest {
  readonly method: string;
  readonly url: string;
  /** Headers as sent, with the session token and the signature redacted. */
  readonly headers: Readonly<Record<string, string>>;
  readonly bodyBytes: number;
  /** The body when it is text and short; placeholders only, so nothing secret. */
  readonly body?: string;
}

export type CallOutcome = "answered" | "assume-role-failed" | "network-error" | "build-failed";

export interface CallRecord {
  readonly type: "call";
  readonly seq: number;
  readonly service: string;
  readonly operation: string;
  readonly protocol: string;
  /** The region the call was sent to (home region for global services). */
  readonly region: string;
  readonly sessionName: string;
  /** The temporary access key the call was signed with: CloudTrail logs it as userIdentity.accessKeyId. */
  readonly accessKeyId?: string;
  readonly request?: SentRequest;
  readonly attempts: readonly CallAttempt[];
  readonly outcome: CallOutcome;
  readonly error?: string;
}

export type RunLine = RunHeader | ResumeMarker | CallRecord;

/** A run file read back: its header and the last record for each call. */
export interface RunFile {
  readonly header: RunHeader;
  readonly calls: CallRecord[];
}

const MAX_BODY_CHARS = 4096;

/** Redacts the secret parts of sent headers: the session token and the signature. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === "x-amz-security-token") out[name] = "[redacted]";
    else if (name.toLowerCase() === "authorization")
      out[name] = value.replace(/Signature=[0-9a-f]+/, "Signature=[redacted]");
    else out[name] = value;
  }
  return out;
}

/** The body as stored in the run file: text up to 4 KiB. */
export function bodyForRecord(body: string | Uint8Array | undefined): { bodyBytes: number; body?: string } {
  if (body === undefined) return { bodyBytes: 0 };
  const bytes = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  return text.length <= MAX_BODY_CHARS ? { bodyBytes: bytes, body: text } : { bodyBytes: bytes };
}

/**
 * Appends lines to a run file. Each line is written (synchronously) as soon as the call ends, so
 * an interrupted run loses at most the calls in flight.
 */
export class RunFileWriter {
  constructor(readonly path: string) {}

  /** Starts a new file with its header; refuses to overwrite an existing one. */
  create(header: RunHeader): void {
    if (existsSync(this.path)) {
      throw new UsageError(
        "E_USAGE",
        `${this.path} exists: pass --resume ${this.path} to continue it, or choose another --out`,
      );
    }
    writeFileSync(this.path, `${JSON.stringify(header)}\n`);
  }

  /** Continues an existing file: drops a torn last line left by an interrupted write. */
  resume(): void {
    const text = readFileSync(this.path, "utf8");
    if (text !== "" && !text.endsWith("\n")) writeFileSync(this.path, text.slice(0, text.lastIndexOf("\n") + 1));
    this.append({ type: "resume", at: new Date().toISOString() });
  }

  append(line: RunLine): void {
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}

/**
 * Reads a run file. A torn last line (from an interrupted write) is ignored; any other bad line
 * is an error. Later lines for the same call (a resumed retry) replace earlier ones.
 *
 * @example
 * const run = readRunFile("trailblazer-run.jsonl");
 * run.calls.filter((c) => c.outcome === "answered").length;
 */
export function readRunFile(path: string): RunFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError("E_USAGE", `cannot read run file ${path}: ${(error as Error).message}`);
  }
  const lines = text.split("\n");
  let header: RunHeader | undefined;
  const calls = new Map<number, CallRecord>();
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    let parsed: RunLine;
    try {
      parsed = JSON.parse(line) as RunLine;
    } catch (error) {
      if (index === lines.length - 1 || (index === lines.length - 2 && lines[lines.length - 1] === "")) return;
      throw new FirstcallError("E_RUN_FILE", `${path}:${index + 1}: not JSON`, { cause: error });
    }
    if (parsed.type === "run") {
      if (parsed.schema !== RUN_SCHEMA || parsed.version !== RUN_VERSION) {
        throw new FirstcallError("E_RUN_FILE", `${path}: not a ${RUN_SCHEMA} v${RUN_VERSION} file`);
      }
      header ??= parsed;
    } else if (parsed.type === "call") {
      calls.set(parsed.seq, parsed);
    }
  });
  if (header === undefined) throw new UsageError("E_USAGE", `${path}: not a trailblazer run file (no header line)`);
  return { header, calls: [...calls.values()].sort((a, b) => a.seq - b.seq) };
}
