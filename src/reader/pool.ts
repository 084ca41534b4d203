/**
 * Reads log objects into facts on worker threads, so the thread that runs the engine only receives
 * results. Results come back packed (typed arrays moved, each distinct string once) and are unpacked
 * here into plain `ObjectFacts`: far cheaper for the receiving thread than structured clone of the facts.
 *
 * Nothing a worker does can break a read: a worker that crashes or runs out of memory, or a file that
 * vanishes, becomes a problem on that object's result, and the pool carries on with a fresh worker.
 * If no worker can run at all (they fail while starting), the objects are read on the calling thread
 * and `workerFailure` says why; reads never hang.
 */
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { skipByName } from "../cloudtrail/layout.js";
import type { ReadProblem } from "../sources/read.js";
import { isPacked, unpackObjectFacts } from "./packed-facts.js";
import {
  nothing,
  type ObjectFacts,
  type ObjectSource,
  type ReadObjectOptions,
  readObjectFacts,
} from "./read-object.js";
import type { ReadResult, ReadTask } from "./worker.js";

export interface FactsReaderOptions {
  /** Worker threads (default `os.availableParallelism()`); 0 reads on the calling thread. */
  readonly jobs?: number;
  /** Largest decompressed object, in bytes (default 512 MiB). */
  readonly maxObjectBytes?: number;
  /** Largest single record, in characters (default 32 MiB). */
  readonly maxRecordBytes?: number;
  /**
   * Heap limit of each worker, in MiB (default: Node's). A worker over it is replaced and the object
   * it was reading is reported too large, instead of the process running out of memory.
   */
  readonly workerHeapMb?: number;
  /** Young generation of each worker, in MiB (default 8: a bounded nursery instead of V8's 48). */
  readonly workerYoungGenerationMb?: number;
}

/**
 * An object whose bytes this thread fetches when the reader gets to it (an S3 object, standard
 * input), then hands to a worker like bytes in memory. `readInOrder` asks for them no further ahead
 * than the tasks it keeps running, so memory holds a bounded number of fetched objects.
 */
export interface FetchedSource {
  readonly id: string;
  /** Stored size when known (a listing gives it): used to share work out before the bytes are here. */
  readonly size?: number;
  /** The bytes; a rejection becomes an `E_READ` problem naming the object. */
  fetch(): Promise<Uint8Array>;
}

/** What the reader reads: a file, bytes in memory, or bytes to fetch. */
export type ReaderSource = ObjectSource | FetchedSource;

const DEFAULT_WORKER_YOUNG_GENERATION_MB = 8;

/** The worker entry next to this module: `.ts` when running the sources (tsx), `.js` once built. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./worker${extname(here)}`, import.meta.url));
}

/**
 * A pool of readers.
 *
 * @example
 * const reader = new FactsReader({ jobs: 4 });
 * try {
 *   for await (const obj of reader.readInOrder(paths.map((p) => ({ id: p, path: p })))) {
 *     for (const f of obj.facts) if (f.event) engine.process(f.event);
 *   }
 * } finally {
 *   await reader.close();
 * }
 */
export class FactsReader {
  /** Worker threads in use (0: reading on the calling thread). */
  readonly jobs: number;
  private readonly options: ReadObjectOptions;
  /**
   * Set when the workers could not run at all (none alive, e.g. they fail while starting): reads are
   * then done on the calling thread, with the same results, and the caller may want to say why.
   */
  workerFailure: Error | undefined;
  private readonly pool: Piscina | undefined;
  private readonly workerHeapMb: number | undefined;
  /** Aborts the tasks piscina would otherwise keep queued forever once no worker can start. */
  private readonly stop = new AbortController();
  /** A task has come back from a worker: workers can run, so a failed task is the objects' doing. */
  private workersProven = false;
  private closed = false;

  constructor(options: FactsReaderOptions = {}) {
    this.jobs = Math.max(0, Math.floor(options.jobs ?? availableParallelism()));
    this.options = {
      ...(options.maxObjectBytes !== undefined ? { maxObjectBytes: options.maxObjectBytes } : {}),
      ...(options.maxRecordBytes !== undefined ? { maxRecordBytes: options.maxRecordBytes } : {}),
    };
    this.workerHeapMb = options.workerHeapMb;
    if (this.jobs > 0) {
      this.pool = new Piscina({
        filename: workerFile(),
        minThreads: this.jobs,
        maxThreads: this.jobs,
        idleTimeout: 30_000,
        resourceLimits: {
          // V8's default young generation (up to 16 MiB per semi-space) is mostly garbage between
          // scavenges in a reader, which allocates short-lived text and facts: a small one keeps each
          // worker's memory down (measured: about 28 MiB less resident memory per worker).
          maxYoungGenerationSizeMb: options.workerYoungGenerationMb ?? DEFAULT_WORKER_YOUNG_GENERATION_MB,
          ...(options.workerHeapMb !== undefined ? { maxOldGenerationSizeMb: options.workerHeapMb } : {}),
        },
      });
      // A worker that dies between tasks is replaced (without a listener the event would end the
      // process). When none is left, piscina starts no other and keeps queued tasks forever.
      const pool = this.pool;
      pool.on("error", (e: Error) => {
        if (pool.threads.length === 0 && this.workerFailure === undefined) this.giveUpWorkers(e);
      });
    }
  }

  /** Reads one object. Never rejects: every failure is a problem on the result. */
  async read(source: ObjectSource): Promise<ObjectFacts> {
    const [result] = await this.readMany([source]);
    return result as ObjectFacts;
  }

  /**
   * Reads several objects as one task (a worker reads them one after the other and sends the results
   * in one message), which spares the receiving thread the fixed cost of a task per object. Results
   * are in the order of `sources`. If the task fails (a worker crash), each object is read again on
   * its own, so that only the object at fault is reported. Never rejects.
   */
  async readMany(sources: readonly ObjectSource[]): Promise<ObjectFacts[]> {
    return this.readTask(sources, 0);
  }

  private async readTask(sources: readonly ObjectSource[], attempt: number): Promise<ObjectFacts[]> {
    const pool = this.pool;
    if (this.closed) return sources.map((s) => failed(s.id, new Error("the reader is closed"), undefined));
    if (pool === undefined || this.workerFailure !== undefined) return this.readAllHere(sources);
    try {
      const task: ReadTask = { sources, options: this.options };
      const results = (await pool.run(task, { signal: this.stop.signal })) as ReadResult[];
      this.workersProven = true;
      return results.map((r) => (isPacked(r) ? unpackObjectFacts(r) : r));
    } catch (e) {
      if (this.closed) return sources.map((s) => failed(s.id, e, undefined));
      if (this.workerFailure === undefined && pool.threads.length === 0) this.giveUpWorkers(e as Error);
      if (this.workerFailure !== undefined) return this.readAllHere(sources);
      // Until a task has come back, a failure may be a worker failing to start (piscina hands tasks to
      // workers still starting): try again, and the objects are blamed only once workers are proven.
      if (!this.workersProven && attempt < this.jobs) return this.readTask(sources, attempt + 1);
      if (sources.length === 1) return [failed((sources[0] as ObjectSource).id, e, this.workerHeapMb)];
      return (await Promise.all(sources.map((s) => this.readTask([s], this.jobs)))).flat();
    }
  }

  private giveUpWorkers(e: Error): void {
    this.workerFailure = e;
    this.stop.abort(e);
  }

  private async readAllHere(sources: readonly ObjectSource[]): Promise<ObjectFacts[]> {
    const out: ObjectFacts[] = [];
    for (const source of sources) out.push(await this.readHere(source));
    return out;
  }

  private async readHere(source: ObjectSource): Promise<ObjectFacts> {
    try {
      return await readObjectFacts(source, this.options);
    } catch (e) {
      return failed(source.id, e, undefined);
    }
  }

  /**
   * Reads objects and yields the results in the order of `sources`, several objects per task: a task
   * takes up to `batch` objects (default 16) and up to `batchBytes` of stored size (default 1 MiB, for
   * sources that give a `size`), and up to `ahead` tasks run at a time (default twice the workers).
   * Small tasks share the work out evenly; several small objects per task spare the receiving thread
   * the fixed cost of a task each. Give sources their `size` so that big objects go one per task.
   */
  async *readInOrder(sources: Iterable<ReaderSource>, options: ReadInOrderOptions = {}): AsyncGenerator<ObjectFacts> {
    const batch = this.pool === undefined ? 1 : Math.max(1, options.batch ?? 16);
    const batchBytes = options.batchBytes ?? 1024 * 1024;
    const ahead = Math.max(1, options.ahead ?? this.jobs * 2);
    const pending: Promise<ObjectFacts[]>[] = [];
    const it = sources[Symbol.iterator]();
    let carried: ReaderSource | undefined;
    let done = false;
    const nextGroup = (): ReaderSource[] => {
      const group: ReaderSource[] = [];
      let bytes = 0;
      while (group.length < batch) {
        let source = carried;
        carried = undefined;
        if (source === undefined) {
          const next = it.next();
          if (next.done) {
            done = true;
            break;
          }
          source = next.value;
        }
        const size = sizeOf(source);
        if (group.length > 0 && bytes + size > batchBytes) {
          carried = source;
          break;
        }
        group.push(source);
        bytes += size;
      }
      return group;
    };
    const fill = () => {
      while ((!done || carried !== undefined) && pending.length < ahead) {
        const group = nextGroup();
        if (group.length > 0) pending.push(this.readFetched(group));
      }
    };
    fill();
    while (pending.length > 0) {
      const results = await (pending.shift() as Promise<ObjectFacts[]>);
      fill();
      yield* results;
    }
  }

  /**
   * Fetches the bytes of the group's fetched sources (all at once: the fetcher bounds its own
   * requests), then reads the group as one task; a fetch that fails is that object's problem.
   *
   * The bytes are fetched on this thread and copied to the worker with the task (structured clone),
   * not moved: if the worker dies, the objects are read again from the same bytes. Log objects are
   * stored gzipped, so the copy is a fraction of what the worker then inflates and parses.
   */
  private async readFetched(group: readonly ReaderSource[]): Promise<ObjectFacts[]> {
    if (!group.some((s) => "fetch" in s)) return this.readMany(group as ObjectSource[]);
    const fetched = await Promise.all(
      group.map(async (s): Promise<ObjectSource | ObjectFacts> => {
        if (!("fetch" in s)) return s;
        // A digest or Insights object is skipped by its name: not worth a request.
        if (skipByName(s.id)) return { id: s.id, bytes: new Uint8Array(0) };
        try {
          return { id: s.id, bytes: await s.fetch() };
        } catch (e) {
          return {
            ...nothing(s.id, 0),
            problems: [{ object: s.id, code: "E_READ", message: `${s.id}: cannot read: ${(e as Error).message}` }],
          };
        }
      }),
    );
    const toRead = fetched.filter((f): f is ObjectSource => "id" in f);
    const results = toRead.length > 0 ? await this.readMany(toRead) : [];
    let next = 0;
    return fetched.map((f) => ("id" in f ? (results[next++] as ObjectFacts) : f));
  }

  /** Stops the workers. Reads still running are reported as failed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.destroy();
  }
}

export interface ReadInOrderOptions {
  /** Most objects per task (default 16). */
  readonly batch?: number;
  /** Most stored bytes per task, for sources that give a `size` (default 1 MiB). */
  readonly batchBytes?: number;
  /** Tasks at a time (default twice the workers). */
  readonly ahead?: number;
}

function sizeOf(source: ReaderSource): number {
  return "bytes" in source ? source.bytes.length : (source.size ?? 0);
}

function failed(object: string, e: unknown, heapMb: number | undefined): ObjectFacts {
  const error = e as NodeJS.ErrnoException;
  const problem: ReadProblem =
    error?.code === "ERR_WORKER_OUT_OF_MEMORY"
      ? {
          object,
          code: "E_TOO_LARGE",
          message: `${object}: the reader ran out of memory on this object${heapMb ? ` (worker heap limit ${heapMb} MiB)` : ""}`,
        }
      : { object, code: "E_READ", message: `${object}: the reader failed: ${error?.message ?? String(e)}` };
  return { ...nothing(object, 0), problems: [problem] };
}
