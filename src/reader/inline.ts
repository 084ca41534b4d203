/**
 * Reads one object's facts on the calling thread with the whole-object reader (`readLogObject`).
 * Used for standard input and as the reference the streaming reader and its workers are tested
 * against.
 */

import type { LogObjectRef } from "../sources/local.js";
import type { ReadOptions } from "../sources/read.js";
import { type ReadProblem, readLogObject } from "../sources/read.js";
import { factsOf, type MalformedReason, type RecordFacts } from "./facts.js";

/** The facts of one log object and what reading it found. */
export interface ObjectFacts {
  readonly object: string;
  /** Every record, in object order. */
  readonly facts: RecordFacts[];
  readonly records: number;
  readonly timestampFallbacks: number;
  readonly insightRecords: number;
  readonly malformed: Partial<Record<MalformedReason, number>>;
  readonly problems: ReadProblem[];
  readonly skipped?: string;
  /** Bytes read (compressed size). */
  readonly bytes: number;
}

/** @example const facts = await readFactsInline(ref, { maxObjectBytes: 1 << 28 }); */
export async function readFactsInline(ref: LogObjectRef, options: ReadOptions = {}): Promise<ObjectFacts> {
  const r = await readLogObject(ref, options);
  const facts: RecordFacts[] = [];
  const malformed: Partial<Record<MalformedReason, number>> = {};
  let timestampFallbacks = 0;
  for (const rec of r.records) {
    const f = factsOf(rec);
    if (f.malformed) malformed[f.malformed] = (malformed[f.malformed] ?? 0) + 1;
    if (f.timestampFallback && !f.malformed) timestampFallbacks++;
    facts.push(f);
  }
  return {
    object: r.object,
    facts,
    records: r.records.length,
    timestampFallbacks: Math.max(timestampFallbacks, r.timestampFallbacks),
    insightRecords: r.insightRecords,
    malformed,
    problems: r.problems,
    ...(r.skipped ? { skipped: r.skipped } : {}),
    bytes: r.bytes,
  };
}
