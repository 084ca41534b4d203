/**
 * The reader: log objects in, CloudTrail records out, one result per object, with every problem
 * named. Used by `scan`, `trailblazer map` and anything else that reads CloudTrail.
 */
import { type DecodeOptions, decodeLogObject } from "../cloudtrail/decode.js";
import { skipByName } from "../cloudtrail/layout.js";
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { InputError, type InputErrorCode } from "../errors.js";
import { type LogObjectRef, listLocalObjects } from "./local.js";

export interface ReadProblem {
  readonly object: string;
  readonly code: InputErrorCode;
  readonly message: string;
}

export interface LogObjectResult {
  readonly object: string;
  readonly records: CloudTrailRecord[];
  /** Empty when read cleanly. A problem with no records means the object could not be read at all. */
  readonly problems: ReadProblem[];
  /** Set when the whole object was skipped on purpose (digest, Insights, not CloudTrail). */
  readonly skipped?: string;
  readonly bytes: number;
  readonly timestampFallbacks: number;
  readonly insightRecords: number;
}

export interface ReadOptions extends DecodeOptions {}

/** Reads and decodes one object; never throws for bad input (it is reported in `problems`). */
export async function readLogObject(ref: LogObjectRef, options: ReadOptions = {}): Promise<LogObjectResult> {
  const empty = { records: [], bytes: 0, timestampFallbacks: 0, insightRecords: 0 };
  const skipped = skipByName(ref.id);
  if (skipped) return { object: ref.id, ...empty, problems: [], skipped };
  let bytes: Buffer;
  try {
    bytes = await ref.read();
  } catch (e) {
    return {
      object: ref.id,
      ...empty,
      problems: [{ object: ref.id, code: "E_READ", message: `${ref.id}: cannot read: ${(e as Error).message}` }],
    };
  }
  try {
    const d = decodeLogObject(bytes, ref.id, options);
    return {
      object: ref.id,
      records: d.records,
      problems: d.problems.map(toProblem),
      ...(d.skipped ? { skipped: d.skipped } : {}),
      bytes: bytes.length,
      timestampFallbacks: d.timestampFallbacks,
      insightRecords: d.insightRecords,
    };
  } catch (e) {
    if (e instanceof InputError) return { object: ref.id, ...empty, bytes: bytes.length, problems: [toProblem(e)] };
    throw e;
  }
}

function toProblem(e: InputError): ReadProblem {
  return { object: e.object, code: e.code, message: e.message };
}

/**
 * Walks files and directories (recursively, sorted) and yields one result per log object.
 * Paths that cannot be listed are yielded as results with an `E_READ` problem.
 *
 * @example
 * for await (const obj of readLogs(["AWSLogs/"])) {
 *   for (const p of obj.problems) console.error(p.message);
 *   for (const r of obj.records) handle(r);
 * }
 */
export async function* readLogs(paths: string[], options: ReadOptions = {}): AsyncGenerator<LogObjectResult> {
  const { objects, problems } = await listLocalObjects(paths);
  for (const p of problems) {
    yield {
      object: p.object,
      records: [],
      problems: [{ object: p.object, code: "E_READ", message: `${p.object}: ${p.message}` }],
      bytes: 0,
      timestampFallbacks: 0,
      insightRecords: 0,
    };
  }
  for (const ref of objects) yield await readLogObject(ref, options);
}
