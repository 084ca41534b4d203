/**
 * The state dump: a store-independent, versioned file of a state's records (`firstcall state export`
 * writes it, `state import` reads it), to move a state between SQLite and PostgreSQL (and any store
 * that implements `exportRecords`/`importRecords`).
 *
 * JSON lines, gzipped when the file name ends in `.gz` (read either way: gzip is recognised by its
 * magic bytes). Line 1 is the header, then one {@link StateRecord} per line, then a trailer with the
 * number of records of each type:
 *
 * ```
 * {"format":"firstcall.state-dump","version":2,"firstcall":"0.1.0","source":{"kind":"sqlite","schemaVersion":3},"createdAt":"…"}
 * {"type":"fleet","doc":{…}}
 * {"type":"session","key":"arn:aws:sts::…","validUntil":1762000000000,"doc":{…}}
 * {"type":"status","id":"…","status":"suppressed","reason":"red team SEC-123","actor":"cli","at":"…"}
 * {"type":"history","id":"…","status":"acknowledged","reason":"looking","actor":"cli","at":"…"}
 * {"type":"outbox","findingId":"…","destination":"slack:…","generation":1,"state":"pending","attempts":3,"message":"HTTP 503","createdAt":"…","updatedAt":"…"}
 * …
 * {"type":"end","counts":{"fleet":1,"settings":1,"stream":1,"output":0,"session":812,"finding":4,"status":1,"history":2,"outbox":4,"object":67,"event":0}}
 * ```
 *
 * The trailer is what makes a truncated dump (a full disk, a killed export, a partial copy) fail the
 * import instead of importing part of a state: the reader checks it against what it read, and the
 * import's transaction is rolled back when they differ.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { BINARY_SESSION_MARK, DEFLATED_SESSION_MARK, encodeSessionBinary } from "../engine/session-binary.js";
import {
  decodeDocument,
  decodeSession,
  encodeDocument,
  encodeSessionCompact,
  encodeSessionJson,
} from "../engine/state.js";
import { StateError } from "../errors.js";
import {
  emptyCounts,
  type FindingStatus,
  FindingStatusError,
  type RecordCounts,
  type StateRecord,
  type StateRecordType,
  validateFindingStatus,
} from "./store.js";
import { decodeStreamPosition, encodeStreamPosition } from "./stream-position.js";

export const DUMP_FORMAT = "firstcall.state-dump";
/**
 * Bumped when a reader of an older version could not read what is written. 2: finding statuses, their
 * history and the outbox (`status`, `history`, `outbox` records); a version 1 dump (none of them) is
 * still read, and imports a state without statuses or deliveries owed.
 */
export const DUMP_VERSION = 2;

export interface DumpHeader {
  readonly format: typeof DUMP_FORMAT;
  readonly version: number;
  /** The firstcall version that wrote the dump. */
  readonly firstcall: string;
  /** The store it was exported from and that store's schema version. */
  readonly source: { readonly kind: string; readonly schemaVersion: number };
  readonly createdAt: string;
}

const TYPES: readonly StateRecordType[] = Object.keys(emptyCounts()) as StateRecordType[];

/**
 * Writes a dump of `records` to `path` (gzipped when it ends in `.gz`), or to `out` when given
 * (standard output). Resolves once every byte is flushed, with the records written per type and the
 * bytes of the file.
 * @example const { counts } = await writeDump(store.exportRecords(), header, "state.jsonl.gz")
 */
export async function writeDump(
  records: AsyncIterable<StateRecord>,
  header: Omit<DumpHeader, "format" | "version">,
  path: string | undefined,
  out?: Writable,
): Promise<{ counts: RecordCounts; bytes: number }> {
  const counts = emptyCounts();
  const file = path === undefined ? undefined : createWriteStream(path, { mode: 0o600 });
  const target: Writable = file ?? out ?? process.stdout;
  const gzip = path?.endsWith(".gz") ? createGzip() : undefined;
  if (gzip) gzip.pipe(target);
  const sink: Writable = gzip ?? target;
  let failure: Error | undefined;
  const onError = (e: Error) => {
    failure ??= e;
  };
  sink.on("error", onError);
  target.on("error", onError);
  const write = async (line: string) => {
    if (failure) throw failure;
    if (!sink.write(line)) await Promise.race([once(sink, "drain"), once(sink, "error")]);
  };
  try {
    await write(`${JSON.stringify({ format: DUMP_FORMAT, version: DUMP_VERSION, ...header })}\n`);
    for await (const r of records) {
      counts[r.type]++;
      await write(`${JSON.stringify(r)}\n`);
    }
    await write(`${JSON.stringify({ type: "end", counts })}\n`);
    if (gzip || file) {
      sink.end();
      await once(file ?? sink, file ? "close" : "finish");
    }
    if (failure) throw failure;
  } catch (e) {
    file?.destroy();
    throw new StateError(
      "E_STATE_DUMP",
      `${path ?? "standard output"}: cannot write the dump: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  return { counts, bytes: file ? file.bytesWritten : 0 };
}

/**
 * Opens a dump: reads and checks its header, then yields its records one at a time (`records`, to be
 * consumed once). The records' iterator throws a StateError (`E_STATE_DUMP`, naming the file and
 * line) on a malformed line, and at the end when the trailer is missing or its counts differ from
 * the records read: an import inside a transaction then rolls back.
 * @example const { header, records } = await openDump("state.jsonl.gz"); await store.importRecords(records, …)
 */
export async function openDump(path: string): Promise<{ header: DumpHeader; records: AsyncIterable<StateRecord> }> {
  const bad = (line: number, why: string) => new StateError("E_STATE_DUMP", `${path}:${line}: ${why}`);
  let input: Readable;
  try {
    input = await openMaybeGzipped(path);
  } catch (e) {
    throw new StateError("E_STATE_DUMP", `${path}: cannot read the dump: ${(e as Error).message}`, { cause: e });
  }
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
  const readLine = async (): Promise<string | undefined> => {
    try {
      const next = await lines.next();
      return next.done ? undefined : next.value;
    } catch (e) {
      throw new StateError("E_STATE_DUMP", `${path}: cannot read the dump: ${(e as Error).message}`, { cause: e });
    }
  };
  const first = await readLine();
  if (first === undefined) throw bad(1, "empty: not a firstcall state dump");
  const header = parseLine(first, () =>
    bad(1, "not a firstcall state dump (the first line is not JSON)"),
  ) as Partial<DumpHeader>;
  if (header?.format !== DUMP_FORMAT) throw bad(1, `not a firstcall state dump (no "format": "${DUMP_FORMAT}")`);
  if (typeof header.version !== "number" || header.version > DUMP_VERSION)
    throw bad(
      1,
      `dump format version ${String(header.version)}, this firstcall reads ${DUMP_VERSION}: upgrade firstcall`,
    );
  async function* records(): AsyncGenerator<StateRecord> {
    const counts = emptyCounts();
    let n = 1;
    for (;;) {
      const line = await readLine();
      n++;
      if (line === undefined) throw bad(n, "the dump ends without its trailer: it is truncated (nothing was imported)");
      if (line.length === 0) continue;
      const value = parseLine(line, () => bad(n, "not JSON")) as { type?: unknown; counts?: unknown };
      if (value?.type === "end") {
        const claimed = value.counts as Partial<RecordCounts> | undefined;
        for (const t of TYPES) {
          if ((claimed?.[t] ?? 0) !== counts[t])
            throw bad(
              n,
              `the trailer counts ${claimed?.[t] ?? 0} ${t} records, the dump holds ${counts[t]}: it is damaged (nothing was imported)`,
            );
        }
        if ((await readLine()) !== undefined) throw bad(n + 1, "data after the trailer");
        return;
      }
      const problem = checkRecord(value);
      if (problem) throw bad(n, problem);
      const record = value as StateRecord;
      counts[record.type]++;
      yield record;
    }
  }
  return { header: header as DumpHeader, records: records() };
}

async function openMaybeGzipped(path: string): Promise<Readable> {
  const magic = await new Promise<Buffer>((resolve, reject) => {
    const s = createReadStream(path, { start: 0, end: 1 });
    const parts: Buffer[] = [];
    s.on("data", (d) => parts.push(d as Buffer));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
  const file = createReadStream(path);
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    file.on("error", (e) => gunzip.destroy(e));
    return file.pipe(gunzip);
  }
  return file;
}

function parseLine(line: string, bad: () => Error): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw bad();
  }
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isObject = (v: unknown): boolean => typeof v === "object" && v !== null;

/** What is wrong with a record read from a dump, or undefined when it has every field its type needs. */
export function checkRecord(v: { type?: unknown } & Record<string, unknown>): string | undefined {
  const need = (ok: boolean, field: string) =>
    ok ? undefined : `a ${String(v.type)} record without a valid "${field}"`;
  switch (v?.type) {
    case "fleet":
      return need(isObject(v.doc), "doc");
    case "settings":
      return need(isString(v.fingerprint), "fingerprint");
    case "stream":
      return (
        need(isString(v.worker), "worker") ??
        need(v.position === null || isString(v.position), "position") ??
        need(v.readPosition === null || isNumber(v.readPosition), "readPosition") ??
        need(typeof v.finished === "boolean", "finished")
      );
    case "output":
      return need(isString(v.worker), "worker") ?? need(isString(v.path), "path") ?? need(isNumber(v.bytes), "bytes");
    case "session":
      return need(isString(v.key), "key") ?? need(isNumber(v.validUntil), "validUntil") ?? need(isObject(v.doc), "doc");
    case "finding":
      return (
        need(isString(v.id), "id") ??
        need(isString(v.time), "time") ??
        need(isString(v.updatedAt), "updatedAt") ??
        need(v.worker === null || isString(v.worker), "worker") ??
        need(isObject(v.doc), "doc")
      );
    case "object":
      return (
        need(isString(v.id), "id") ??
        need(isNumber(v.size), "size") ??
        need(isNumber(v.mtimeMs), "mtimeMs") ??
        need(v.etag === null || isString(v.etag), "etag") ??
        need(isNumber(v.records), "records") ??
        need(v.status === "complete" || v.status === "partial", "status") ??
        need(isString(v.scannedAt), "scannedAt") ??
        need(v.worker === null || isString(v.worker), "worker")
      );
    case "event":
      return (
        need(isString(v.id), "id") ??
        need(isNumber(v.time), "time") ??
        need(typeof v.processed === "boolean", "processed") ??
        need(isObject(v.event), "event")
      );
    case "status":
    case "history":
      return (
        need(v.type === "history" || v.status !== "open", "status") ??
        need(isString(v.actor), "actor") ??
        need(isString(v.at) && Number.isFinite(Date.parse(v.at)), "at") ??
        statusProblem(v as unknown as FindingStatus)
      );
    case "outbox":
      return (
        need(isString(v.findingId) && v.findingId.length > 0, "findingId") ??
        need(isString(v.destination) && v.destination.length > 0, "destination") ??
        need(Number.isInteger(v.generation) && (v.generation as number) >= 1, "generation") ??
        need(OUTBOX_STATES.includes(v.state as string), "state") ??
        need(Number.isInteger(v.attempts) && (v.attempts as number) >= 0, "attempts") ??
        need(v.message === null || isString(v.message), "message") ??
        need(isString(v.createdAt), "createdAt") ??
        need(isString(v.updatedAt), "updatedAt")
      );
    default:
      return `unknown record type ${JSON.stringify(v?.type)} (written by a newer firstcall?)`;
  }
}

const OUTBOX_STATES: readonly string[] = ["pending", "delivered", "skipped", "rejected"];

/** The same checks a store makes when a status is set, so a dump cannot bring in what `setFindingStatus` refuses. */
function statusProblem(s: FindingStatus): string | undefined {
  try {
    validateFindingStatus(s);
    return undefined;
  } catch (e) {
    if (e instanceof FindingStatusError) return `a ${String((s as { type?: unknown }).type)} record: ${e.message}`;
    throw e;
  }
}

/** How messages name each record type, one and several. */
const NOUNS: Record<StateRecordType, readonly [string, string]> = {
  fleet: ["fleet", "fleets"],
  settings: ["settings", "settings"],
  stream: ["stream", "streams"],
  output: ["output", "outputs"],
  session: ["session", "sessions"],
  finding: ["finding", "findings"],
  status: ["finding status", "finding statuses"],
  history: ["status change", "status changes"],
  outbox: ["outbox row", "outbox rows"],
  object: ["object", "objects"],
  event: ["event", "events"],
};

/**
 * A stored session (any form) as the dump's `doc`: the JSON of its deflated-JSON form. A binary or
 * deflated binary row (`session-binary.ts`) is decoded and written as that JSON, so a dump does not
 * depend on the binary layout either; a JSON row is its own JSON.
 * @param key the key the row is stored under (reads the deflated binary form, see `decodeSession`)
 * @example const doc = sessionDocument(row.data, row.key)
 */
export function sessionDocument(data: Uint8Array, key?: string): unknown {
  if (data[0] === BINARY_SESSION_MARK || data[0] === DEFLATED_SESSION_MARK)
    return decodeDocument(encodeSessionJson(decodeSession(data, key)));
  return decodeDocument(data);
}

/**
 * The bytes a store keeps for a dump's session `doc`, as a checkpoint of that store writes them: the
 * binary form when the session fits it, else the deflated JSON; with `compactUnder` (the SQLite
 * store, which files the row under that key) the binary form deflated (`encodeSessionCompact`). A
 * document the engine cannot load, or that names another session than the key it is filed under, is
 * refused here, not at the next scan.
 * @example putSession.run(r.key, r.validUntil, sessionBytes(r.doc, { compactUnder: r.key }))
 */
export function sessionBytes(doc: unknown, options: { compactUnder?: string } = {}): Buffer {
  const json = encodeDocument(doc);
  const session = decodeSession(json, options.compactUnder);
  if (options.compactUnder !== undefined) return encodeSessionCompact(session);
  return encodeSessionBinary(session) ?? json;
}

/** "3 sessions, 1 finding, 2 finding statuses, …": the non-zero counts, for messages. */
export function describeCounts(counts: RecordCounts): string {
  const parts = TYPES.filter((t) => counts[t] > 0).map((t) => `${counts[t]} ${NOUNS[t][counts[t] === 1 ? 0 : 1]}`);
  return parts.length > 0 ? parts.join(", ") : "no records";
}

/**
 * One stream position from several (a store with a single stream importing a shared store's
 * workers): the newest watermark and cut, and every remembered record, plus the ids of processed
 * staged events (`extraIds`), each once, in time order (the order `RecentIds` forgets them in). A
 * single process resuming from it skips every record any of the workers had processed.
 * @example const merged = mergeStreamPositions([a.position, b.position], [])
 */
export function mergeStreamPositions(
  positions: readonly Uint8Array[],
  extraIds: readonly (readonly [string, number])[],
): Buffer {
  let watermark: number | null = null;
  let cut: number | null = null;
  const ids = new Map<string, number>();
  for (const p of positions) {
    const d = decodeStreamPosition(p);
    if (d.watermark !== null && (watermark === null || d.watermark > watermark)) watermark = d.watermark;
    if (d.cut !== null && (cut === null || d.cut > cut)) cut = d.cut;
    for (const [k, t] of d.ids) if (!ids.has(k)) ids.set(k, t);
  }
  for (const [k, t] of extraIds) if (!ids.has(k)) ids.set(k, t);
  const sorted = [...ids].sort((a, b) => a[1] - b[1]);
  return encodeStreamPosition({ watermark, cut, ids: sorted });
}

type StreamRecord = Extract<StateRecord, { type: "stream" }>;
type OutputRecord = Extract<StateRecord, { type: "output" }>;

/**
 * What a store with one stream (SQLite: one writer) keeps of a dump's streams, output lengths and
 * staged events: one position (several workers' merged, with the ids of the processed events), the
 * output lengths when they all belong to one worker, and notes saying what was merged or left out.
 * @throws StateError (`E_STATE_DUMP`) when events were read by a worker but not processed yet: one
 *   stream has no place for them, and dropping them would lose findings.
 */
export function collapseStreams(
  streams: readonly StreamRecord[],
  outputs: readonly OutputRecord[],
  processedIds: readonly (readonly [string, number])[],
  unprocessed: number,
  location: string,
): { pending: Buffer | undefined; outputs: readonly OutputRecord[]; notes: string[] } {
  const notes: string[] = [];
  if (unprocessed > 0) {
    const running = streams.filter((s) => !s.finished).map((s) => s.worker);
    throw new StateError(
      "E_STATE_DUMP",
      `${location}: the dump holds ${unprocessed} events that workers read but the shared state has not processed yet${running.length > 0 ? ` (workers not finished: ${running.join(", ")})` : ""}; a state with one writer has no place for them. Let every worker finish (retire dead ones with firstcall state retire-worker, then run one worker once more), export again, and import that. Nothing was imported.`,
    );
  }
  const positioned = streams.filter((s) => s.position !== null);
  let pending: Buffer | undefined;
  if (positioned.length === 1 && processedIds.length === 0) {
    pending = Buffer.from((positioned[0] as StreamRecord).position as string, "base64");
  } else if (positioned.length > 0 || processedIds.length > 0) {
    pending = mergeStreamPositions(
      positioned.map((s) => Buffer.from(s.position as string, "base64")),
      processedIds,
    );
    if (positioned.length > 1)
      notes.push(
        `the positions of ${positioned.length} workers (${positioned.map((s) => s.worker).join(", ")}) were merged into one`,
      );
    if (processedIds.length > 0)
      notes.push(`${processedIds.length} processed event ids were kept in the stream position (for de-duplication)`);
  }
  const owners = new Set(outputs.map((o) => o.worker));
  if (owners.size > 1) {
    notes.push(
      `${outputs.length} output-file lengths of workers ${[...owners].join(", ")} were not kept (one writer keeps one set; its --output files start afresh)`,
    );
    return { pending, outputs: [], notes };
  }
  return { pending, outputs, notes };
}
