/**
 * The reader worker's entry (loaded by piscina in each worker thread): reads objects into facts and
 * moves them back packed (see packed-facts.ts), or as they are when they cannot be packed.
 */
import { move, transferableSymbol, valueSymbol } from "piscina";
import { eventIdKeysOf } from "../state/stream-position.js";
import { type PackedObjectFacts, packObjectFacts, transferListOf } from "./packed-facts.js";
import { type ObjectFacts, type ObjectSource, type ReadObjectOptions, readObjectFacts } from "./read-object.js";

export interface ReadTask {
  readonly sources: readonly ObjectSource[];
  readonly options: ReadObjectOptions;
}

/** What a task sends back for each source: packed facts, or the facts themselves. */
export type ReadResult = PackedObjectFacts | ObjectFacts;

/** Reads the task's objects one after the other; one message carries all the results. */
export default async function readObjects(task: ReadTask): Promise<unknown> {
  const results: ReadResult[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const source of task.sources) {
    const read = await readObjectFacts(source, task.options);
    // The keys the main thread de-duplicates records by, hashed here rather than there.
    const idKeys = eventIdKeysOf(read.facts);
    const facts: ObjectFacts = { ...read, idKeys };
    const packed = packObjectFacts(facts);
    if (packed === undefined) {
      results.push(facts);
      buffers.push(idKeys.buffer as ArrayBuffer);
    } else {
      results.push(packed);
      buffers.push(...transferListOf(packed));
    }
  }
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return results;
    },
  });
}
