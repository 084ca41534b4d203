/**
 * Reads one log object into the facts the scan needs (`RecordFacts`, one per record), streaming:
 * the bytes are read, gunzipped and decoded piece by piece and each record is reduced as soon as its
 * text is complete, so memory holds one piece and one record, not the object.
 *
 * Streamed: `{"Records":[…]}` (S3 delivery) and one record per line, gzipped or not — the shapes
 * that come by the million. Everything else (EventBridge, CloudWatch Logs, LookupEvents, arrays, glued
 * values, base64, digests, damage the stream cannot place) is handed to the whole-object decoder
 * (`decodeLogObject`), so every shape reads exactly as it always has. The streamed shapes give the same
 * records, counters and problems as the decoder, damaged or not, with two deliberate differences:
 * an object over `maxObjectBytes` keeps the records read before the limit (the decoder keeps none), and
 * a record over `maxRecordBytes` is skipped and reported instead of being parsed.
 */

import { isAscii } from "node:buffer";
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { createGunzip, gunzipSync, constants as zlibConstants } from "node:zlib";
import { DEFAULT_MAX_OBJECT_BYTES, decodeLogObject } from "../cloudtrail/decode.js";
import { skipByName } from "../cloudtrail/layout.js";
import { looksLikeRecord } from "../cloudtrail/record.js";
import { InputError, type InputErrorCode } from "../errors.js";
import type { ReadProblem } from "../sources/read.js";
import { factsOf, type MalformedReason, type RecordFacts } from "./facts.js";
import { fastFacts, fastRecordAt, fastRecordEnd, forgetFastText } from "./fast-extract.js";
import {
  decideOpening,
  isPlainRecord,
  LinesCutter,
  NotStreamable,
  ObjectScanner,
  RecordsCutter,
} from "./json-cutter.js";

/**
 * One log object to read. Plain data, so it can be posted to a worker thread: a local file, or bytes
 * already in memory (standard input, an S3 body).
 */
export type ObjectSource =
  | {
      readonly id: string;
      readonly path: string;
      /** Stored size when known (a listing gives it); only used to share work out, never trusted. */
      readonly size?: number;
    }
  | { readonly id: string; readonly bytes: Uint8Array };

export interface ReadObjectOptions {
  /** Largest decompressed size read, in bytes (default 512 MiB, as the decoder). */
  readonly maxObjectBytes?: number;
  /** Largest single record, in characters of decoded text (default 32 MiB); larger ones are skipped and reported. */
  readonly maxRecordBytes?: number;
  /** Size of the pieces read, decompressed and scanned (default 64 KiB). Tests make it tiny. */
  readonly chunkBytes?: number;
}

/** What one object holds, reduced to facts. Never thrown: every failure is a problem. */
export interface ObjectFacts {
  readonly object: string;
  /**
   * Every record, in file order, including those that cannot be placed in time (`malformed`) and those
   * the engine has no use for (`event` undefined); Insights records are not records (counted apart).
   */
  readonly facts: RecordFacts[];
  /** `facts.length`. */
  readonly records: number;
  /** Records timed by a valid `@timestamp` because they have no `eventTime`. */
  readonly timestampFallbacks: number;
  readonly insightRecords: number;
  /** Records per reason they cannot be placed in time (the decoder drops those without any time). */
  readonly malformed: Readonly<Record<MalformedReason, number>>;
  /** Empty when read cleanly. A problem with no facts means nothing could be read. */
  readonly problems: ReadProblem[];
  /** Set when the whole object was skipped on purpose (digest, Insights, not CloudTrail). */
  readonly skipped?: string;
  /** Bytes of the object as stored (compressed). */
  readonly bytes: number;
  /** Bytes once decompressed (as far as they were read). */
  readonly rawBytes: number;
  /**
   * The records' event id keys by record index (`eventIdKeysOf`), when a reader thread made them so
   * that the thread de-duplicating records need not hash; absent when the facts were read there.
   */
  readonly idKeys?: Uint32Array;
}

export const DEFAULT_MAX_RECORD_BYTES = 32 * 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 64 * 1024;
/**
 * Objects up to this size once decompressed are read and inflated in one step (far less overhead for
 * the many small files CloudTrail writes); larger ones are streamed. It bounds memory all the same.
 */
const WHOLE_OBJECT_BYTES = 16 * 1024 * 1024;
/** The decoder's binary test looks at this many decompressed bytes. */
const BINARY_PROBE_BYTES = 4096;

/**
 * Reads one object into facts. Never throws for bad input: it is reported in `problems`.
 *
 * @example
 * const r = await readObjectFacts({ id: path, path });
 * for (const p of r.problems) console.error(p.message);
 * for (const f of r.facts) if (f.event) engine.process(f.event);
 */
export async function readObjectFacts(source: ObjectSource, options: ReadObjectOptions = {}): Promise<ObjectFacts> {
  const skipped = skipByName(source.id);
  if (skipped) return { ...nothing(source.id, 0), skipped };
  try {
    return await readFacts(source, options);
  } catch (e) {
    if (e instanceof ReadFailure) {
      return { ...nothing(source.id, 0), problems: [problem(source.id, "E_READ", `cannot read: ${e.message}`)] };
    }
    if (e instanceof NotStreamable) return wholeFacts(source, options);
    throw e;
  }
}

/** The result of an object that gave no records (yet): the base of every failed or skipped read. */
export function nothing(object: string, bytes: number): ObjectFacts {
  return {
    object,
    facts: [],
    records: 0,
    timestampFallbacks: 0,
    insightRecords: 0,
    malformed: { "no-time": 0, "bad-time": 0, "bad-identity": 0 },
    problems: [],
    bytes,
    rawBytes: 0,
  };
}

function problem(object: string, code: InputErrorCode, message: string): ReadProblem {
  return { object, code, message: `${object}: ${message}` };
}

/** The whole-object path: `decodeLogObject`, as `readLogObject` uses it, with every record reduced. */
async function wholeFacts(source: ObjectSource, options: ReadObjectOptions): Promise<ObjectFacts> {
  let bytes: Uint8Array;
  if ("bytes" in source) bytes = source.bytes;
  else {
    try {
      bytes = await readFile(source.path);
    } catch (e) {
      return {
        ...nothing(source.id, 0),
        problems: [problem(source.id, "E_READ", `cannot read: ${(e as Error).message}`)],
      };
    }
  }
  const sink = new FactsSink(source.id);
  try {
    const d = decodeLogObject(bytes, source.id, {
      ...(options.maxObjectBytes !== undefined ? { maxObjectBytes: options.maxObjectBytes } : {}),
      onRecord: (r) => sink.fact(factsOf(r)),
    });
    return {
      object: source.id,
      facts: sink.facts,
      records: sink.facts.length,
      timestampFallbacks: d.timestampFallbacks,
      insightRecords: d.insightRecords,
      malformed: sink.malformed,
      problems: d.problems.map((p) => ({ object: p.object, code: p.code, message: p.message })),
      ...(d.skipped ? { skipped: d.skipped } : {}),
      bytes: bytes.length,
      rawBytes: d.rawBytes,
    };
  } catch (e) {
    if (e instanceof InputError) {
      return {
        ...nothing(source.id, bytes.length),
        problems: [{ object: e.object, code: e.code, message: e.message }],
      };
    }
    throw e;
  }
}

/** A read of the object's bytes failed (as opposed to the bytes being bad). */
class ReadFailure extends Error {}

/**
 * Collects facts and counts what is not a record, the way the decoder's record sink does, so that
 * the streamed result and the decoder's agree on every counter, problem and skip reason.
 */
class FactsSink {
  readonly facts: RecordFacts[] = [];
  readonly malformed: Record<MalformedReason, number> = { "no-time": 0, "bad-time": 0, "bad-identity": 0 };
  readonly problems: ReadProblem[] = [];
  /** Records the decoder keeps (it drops those with no usable time). */
  kept = 0;
  timestampFallbacks = 0;
  insightRecords = 0;
  withoutTime = 0;
  notCloudTrail = 0;
  readonly notCloudTrailKeys = new Set<string>();

  constructor(readonly object: string) {}

  problem(code: InputErrorCode, message: string): void {
    this.problems.push(problem(this.object, code, message));
  }

  /** A CloudTrail record that is not an Insights record. */
  fact(f: RecordFacts): void {
    this.facts.push(f);
    if (f.malformed !== undefined) this.malformed[f.malformed]++;
    // The decoder drops a record without eventTime whose @timestamp is missing or not a time.
    if (f.malformed === "no-time" || (f.malformed === "bad-time" && f.timestampFallback)) this.withoutTime++;
    else {
      this.kept++;
      if (f.timestampFallback) this.timestampFallbacks++;
    }
  }

  /** An element of a `Records` array, classified as the decoder's `record()` does. */
  record(v: unknown): void {
    if (!looksLikeRecord(v)) {
      this.notCloudTrail++;
      return;
    }
    if (v.eventCategory === "Insight" || v.eventType === "AwsCloudTrailInsight") {
      this.insightRecords++;
      return;
    }
    this.fact(factsOf(v));
  }

  /**
   * A value on a line of its own, classified as the decoder's `value()` does; envelopes (a Records
   * file, EventBridge, CloudWatch Logs, LookupEvents, digests) and arrays are left to the decoder.
   */
  lineValue(v: unknown): void {
    if (v === null || typeof v !== "object") {
      this.notCloudTrail++;
      return;
    }
    if (Array.isArray(v) || isEnvelope(v as Record<string, unknown>)) {
      throw new NotStreamable("an envelope on a line");
    }
    if (looksLikeRecord(v)) {
      this.record(v);
      return;
    }
    this.notCloudTrail++;
    for (const k of Object.keys(v).slice(0, 5)) this.notCloudTrailKeys.add(k);
  }

  /** The decoder's closing reports and skip reasons; `extra` are problems it does not know of. */
  finish(extra: readonly ReadProblem[]): { problems: ReadProblem[]; skipped?: string } {
    if (this.withoutTime > 0) {
      this.problem("E_RECORD", `${this.withoutTime} records have neither eventTime nor @timestamp; skipped`);
    }
    const problems = [...this.problems, ...extra];
    if (this.kept === 0 && problems.length === 0) {
      if (this.insightRecords > 0)
        return { problems, skipped: "CloudTrail Insights file (API rate anomalies, not calls)" };
      if (this.notCloudTrail > 0) {
        const keys = [...this.notCloudTrailKeys].join(", ");
        return { problems, skipped: `JSON that is not CloudTrail${keys ? ` (top-level keys: ${keys})` : ""}` };
      }
    } else if (this.notCloudTrail > 0) {
      problems.push(
        problem(this.object, "E_RECORD", `${this.notCloudTrail} values are not CloudTrail records; skipped`),
      );
    }
    return { problems };
  }
}

/** True when the decoder's `value()` would read the object as something other than a record or plain JSON. */
function isEnvelope(o: Record<string, unknown>): boolean {
  if (Array.isArray(o.Records)) return true;
  if (typeof o["detail-type"] === "string" && "detail" in o) return true;
  if (typeof o.messageType === "string" && Array.isArray(o.logEvents)) return true;
  const awslogs = o.awslogs as { data?: unknown } | undefined;
  if (awslogs && typeof awslogs.data === "string") return true;
  if (Array.isArray(o.Events) || typeof o.CloudTrailEvent === "string") return true;
  return typeof o.digestStartTime === "string" || (Array.isArray(o.logFiles) && "digestS3Object" in o);
}

/** The object's bytes in pieces, counted; read errors become `ReadFailure`. */
async function* sourceBytes(source: ObjectSource, chunk: number, counter: { read: number }): AsyncGenerator<Buffer> {
  if ("bytes" in source) {
    const all = Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength);
    for (let i = 0; i < all.length; i += chunk) {
      const piece = all.subarray(i, i + chunk);
      counter.read += piece.length;
      yield piece;
    }
    return;
  }
  const stream = createReadStream(source.path, { highWaterMark: chunk });
  const pieces = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await pieces.next();
      } catch (e) {
        throw new ReadFailure((e as Error).message);
      }
      if (next.done) return;
      counter.read += next.value.length;
      yield next.value;
    }
  } finally {
    stream.destroy();
  }
}

/**
 * Gunzips a stream of pieces. A stream cut short ends quietly with `status.truncated` set, after
 * every byte that could be decompressed (a sync flush before the end pushes out what a plain end
 * would drop with the error). Any other gzip error is left to the decoder.
 */
async function* gunzipPieces(
  input: AsyncIterable<Buffer>,
  chunk: number,
  status: { truncated: boolean },
): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: Math.max(chunk, zlibConstants.Z_MIN_CHUNK) });
  const stop = new AbortController();
  let readError: unknown;
  const pump = async () => {
    try {
      for await (const piece of input) {
        if (stop.signal.aborted || gunzip.destroyed) return;
        if (!gunzip.write(piece)) {
          await new Promise<void>((resolve, reject) => {
            const done = () => {
              gunzip.off("drain", done);
              stop.signal.removeEventListener("abort", aborted);
              resolve();
            };
            const aborted = () => {
              gunzip.off("drain", done);
              reject(stop.signal.reason);
            };
            gunzip.on("drain", done);
            stop.signal.addEventListener("abort", aborted, { once: true });
          });
        }
      }
      gunzip.flush(zlibConstants.Z_SYNC_FLUSH, () => gunzip.end());
    } catch (e) {
      if (stop.signal.aborted) return;
      readError = e;
      gunzip.destroy(e as Error);
    }
  };
  const pumping = pump();
  try {
    for await (const out of gunzip) yield out as Buffer;
  } catch (e) {
    if (readError !== undefined) throw readError;
    if ((e as NodeJS.ErrnoException).code === "Z_BUF_ERROR") status.truncated = true;
    else throw new NotStreamable(`gzip: ${(e as Error).message}`);
  } finally {
    stop.abort(new Error("stopped"));
    gunzip.destroy();
    await pumping;
  }
}

/** Splits pieces larger than `size` (tests use it to put boundaries everywhere). */
async function* rechunk(input: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  for await (const piece of input) {
    if (piece.length <= size) yield piece;
    else for (let i = 0; i < piece.length; i += size) yield piece.subarray(i, i + size);
  }
}

/** The first bytes (to see the gzip magic), and an iterator over all of them again. */
async function peek(
  input: AsyncGenerator<Buffer>,
  want: number,
): Promise<{ head: Buffer; all: AsyncGenerator<Buffer> }> {
  const taken: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < want) {
    const next = await input.next();
    if (next.done) {
      ended = true;
      break;
    }
    taken.push(next.value);
    length += next.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield* taken;
      if (!ended) yield* input;
    } finally {
      await input.return(undefined);
    }
  }
  return { head: Buffer.concat(taken).subarray(0, want), all: all() };
}

/**
 * The text of one object, piece by piece, into facts: the size limit, the decoder's binary test,
 * UTF-8 decoding across pieces, the choice of shape from the first characters, and the closing reports.
 */
class ObjectReading {
  private readonly sink: FactsSink;
  private readonly reader: RecordsReader;
  private readonly limit: number;
  private readonly maxRecord: number;
  private readonly decoder = new StringDecoder("utf8");
  /**
   * No byte has gone through `decoder` yet, so it holds no partial character: a piece of plain ASCII
   * (nearly every CloudTrail log) is then turned into text as Latin-1, which gives the same characters
   * as UTF-8 for ASCII and costs far less than decoding. The first piece that is not ASCII, and every
   * piece after it, go through the decoder.
   */
  private decoderUnused = true;
  private cutter: RecordsCutter | LinesCutter | undefined;
  private prefix = "";
  private oversize = 0;
  private firstOversize = "";
  /** Decompressed bytes taken in. */
  raw = 0;
  /** Reading stopped at `maxObjectBytes`. */
  overLimit = false;

  constructor(
    private readonly object: string,
    options: ReadObjectOptions,
  ) {
    this.limit = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
    this.maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.sink = new FactsSink(object);
    this.reader = new RecordsReader(this.sink, this.maxRecord, (where) => {
      if (this.oversize++ === 0) this.firstOversize = where;
    });
  }

  /** Takes the next decompressed piece; false once the size limit is reached (stop reading). */
  push(piece: Buffer): boolean {
    let bytes = piece;
    if (this.raw + bytes.length > this.limit) {
      bytes = bytes.subarray(0, this.limit - this.raw);
      this.overLimit = true;
    }
    if (this.raw < BINARY_PROBE_BYTES && bytes.subarray(0, BINARY_PROBE_BYTES - this.raw).includes(0)) {
      throw new NotStreamable("binary");
    }
    this.raw += bytes.length;
    let text: string;
    if (this.decoderUnused && isAscii(bytes)) text = bytes.toString("latin1");
    else {
      this.decoderUnused = false;
      text = this.decoder.write(bytes);
    }
    if (text !== "") this.feed(text, false);
    return !this.overLimit;
  }

  private feed(text: string, ended: boolean): void {
    if (this.cutter !== undefined) {
      this.cutter.push(text);
      return;
    }
    this.prefix += text;
    const opening = decideOpening(this.prefix, ended, this.maxRecord);
    if (opening.kind === "more") return;
    if (opening.kind === "whole") throw new NotStreamable(opening.why);
    const start = this.prefix;
    this.prefix = "";
    if (opening.kind === "records") {
      const cutter = this.reader.recordsCutter();
      this.cutter = cutter;
      cutter.push(start, opening.arrayStart);
    } else {
      const cutter = this.reader.linesCutter();
      this.cutter = cutter;
      cutter.push(start);
    }
  }

  /**
   * Closes the object. `stored` is its size as stored, `compressed` whether it was gzip, `truncated`
   * whether the gzip stream was cut short.
   */
  end(stored: number, compressed: boolean, truncated: boolean): ObjectFacts {
    const object = this.object;
    if (this.raw === 0) throw new NotStreamable("empty");
    const extra: ReadProblem[] = [];
    if (this.overLimit) {
      // Reading stopped at the limit: the record it cut is dropped, the object is reported too large.
      if (this.cutter === undefined) throw new NotStreamable("too large to tell its shape");
      const size = compressed ? "more" : `${stored} bytes`;
      extra.push(
        problem(
          object,
          "E_TOO_LARGE",
          `larger than the limit of ${this.limit} bytes once decompressed (${size}); raise --max-object-bytes or split the file; the ${this.sink.facts.length} records before the limit were read`,
        ),
      );
    } else {
      this.feed(this.decoder.end(), true);
      const cutter = this.cutter;
      if (cutter === undefined) throw new NotStreamable("no shape to stream");
      if (cutter instanceof RecordsCutter) this.reader.endRecords(cutter);
      else cutter.end();
    }
    // The records are read: the extractor lets go of the text (it keeps it between records).
    forgetFastText();
    if (this.oversize > 0) {
      extra.push(
        problem(
          object,
          "E_TOO_LARGE",
          `${this.oversize} records larger than the limit of ${this.maxRecord} characters were skipped (the first at ${this.firstOversize})`,
        ),
      );
    }
    const sink = this.sink;
    if (truncated) {
      sink.problems.unshift(
        problem(object, "E_GZIP", "gzip stream is truncated; the records before the cut were kept"),
      );
    }
    const { problems, skipped } = sink.finish(extra);
    return {
      object,
      facts: sink.facts,
      records: sink.facts.length,
      timestampFallbacks: sink.timestampFallbacks,
      insightRecords: sink.insightRecords,
      malformed: sink.malformed,
      problems,
      ...(skipped ? { skipped } : {}),
      bytes: stored,
      rawBytes: this.raw,
    };
  }
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reused for the first read of every file (one per thread). */
const probe = Buffer.allocUnsafe(256 * 1024);

/**
 * A file's bytes when it is at most `max` bytes long, else undefined (it is then streamed). Read with
 * synchronous calls: in a reader worker nothing else waits on that thread, and for the small files
 * CloudTrail writes by the million the thread-pool round trips of asynchronous calls cost more than
 * the reads themselves. Most files fit the first read, which saves the `fstat` too.
 */
function smallFile(path: string, max: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const first = readFully(fd, probe, 0);
    if (first < probe.length) return Buffer.from(probe.subarray(0, first));
    const size = fstatSync(fd).size;
    if (size > max) return undefined;
    let out = Buffer.allocUnsafe(Math.max(size, probe.length) + 1);
    probe.copy(out);
    let length = first;
    for (;;) {
      length = readFully(fd, out, length);
      if (length < out.length) return out.subarray(0, length);
      if (length > max) return undefined; // it grew while being read
      const bigger = Buffer.allocUnsafe(out.length * 2);
      out.copy(bigger);
      out = bigger;
    }
  } catch (e) {
    throw new ReadFailure((e as Error).message);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads into `buffer` from `at` until it is full or the file ends; the length filled. */
function readFully(fd: number, buffer: Buffer, at: number): number {
  let filled = at;
  while (filled < buffer.length) {
    const n = readSync(fd, buffer, filled, buffer.length - filled, null);
    if (n === 0) break;
    filled += n;
  }
  return filled;
}

/**
 * The size of the pieces to inflate a gzip object into: its decompressed size as the gzip trailer
 * states it (ISIZE, the size modulo 2^32 of the last member), so that a single-member object inflates
 * into one buffer. Inflating into the default 16 KiB pieces and joining them costs about twice as
 * much. Only a hint: a wrong trailer (several members, damage) costs speed, never correctness.
 */
function outputChunkHint(gz: Buffer, max: number): number {
  const stated = gz.length >= 18 ? gz.readUInt32LE(gz.length - 4) : 0;
  // One byte more than stated, so that the end of the stream is seen without another piece.
  return Math.min(Math.max(stated + 1, 64 * 1024), max + 1);
}

/**
 * Inflates a gzip object in one step when it fits in `max` bytes: the decompressed bytes, whether the
 * stream was cut short, or undefined when it is larger (it is then streamed). Corrupt data goes to the
 * decoder, which reports it.
 */
function gunzipWhole(bytes: Buffer, max: number): { raw: Buffer; truncated: boolean } | undefined {
  const tooLarge = (e: unknown) =>
    (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError;
  try {
    return {
      raw: gunzipSync(bytes, { maxOutputLength: max, chunkSize: outputChunkHint(bytes, max) }),
      truncated: false,
    };
  } catch (e) {
    if (tooLarge(e)) return undefined;
    if ((e as NodeJS.ErrnoException).code !== "Z_BUF_ERROR") throw new NotStreamable(`gzip: ${(e as Error).message}`);
  }
  // Cut short: keep what decompresses, as the decoder does.
  try {
    return {
      raw: gunzipSync(bytes, { maxOutputLength: max, finishFlush: zlibConstants.Z_SYNC_FLUSH }),
      truncated: true,
    };
  } catch (e) {
    if (tooLarge(e)) return undefined;
    throw new NotStreamable(`gzip: ${(e as Error).message}`);
  }
}

async function readFacts(source: ObjectSource, options: ReadObjectOptions): Promise<ObjectFacts> {
  const object = source.id;
  // Pieces of a given size are asked for by tests of the streamed path: no whole-object shortcut then.
  const chunked = options.chunkBytes !== undefined;
  let bytes: Buffer | undefined =
    "bytes" in source ? Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength) : undefined;
  if (bytes === undefined && !chunked && "path" in source) bytes = smallFile(source.path, WHOLE_OBJECT_BYTES);
  if (bytes !== undefined && !chunked) {
    const compressed = isGzip(bytes);
    try {
      const whole = compressed
        ? gunzipWhole(bytes, WHOLE_OBJECT_BYTES)
        : bytes.length <= WHOLE_OBJECT_BYTES
          ? { raw: bytes, truncated: false }
          : undefined;
      if (whole !== undefined) {
        const reading = new ObjectReading(object, options);
        reading.push(whole.raw);
        return reading.end(bytes.length, compressed, whole.truncated);
      }
    } catch (e) {
      // The bytes are at hand: the decoder reads them without reading the file again.
      if (e instanceof NotStreamable) return wholeFacts({ id: object, bytes }, options);
      throw e;
    }
  }
  const from: ObjectSource = bytes !== undefined ? { id: object, bytes } : source;
  return streamFacts(from, options);
}

async function streamFacts(source: ObjectSource, options: ReadObjectOptions): Promise<ObjectFacts> {
  const chunk = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const counter = { read: 0 };
  const gzip = { truncated: false };
  const { head, all } = await peek(sourceBytes(source, chunk, counter), 2);
  const compressed = isGzip(head);
  let pieces: AsyncIterable<Buffer> = compressed ? gunzipPieces(all, chunk, gzip) : all;
  if (options.chunkBytes !== undefined) pieces = rechunk(pieces, chunk);
  const reading = new ObjectReading(source.id, options);
  const iterator = pieces[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done || !reading.push(next.value)) break;
    }
  } finally {
    await iterator.return?.(undefined);
  }
  // Reading stops early only at the limit; the object's size is then what is stored, not what was read.
  let stored = counter.read;
  if (reading.overLimit) stored = "bytes" in source ? source.bytes.length : await fileSize(source.path, stored);
  return reading.end(stored, compressed, gzip.truncated);
}

async function fileSize(path: string, fallback: number): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return fallback;
  }
}

/** Turns the spans the cutters find into facts, by the fast extractor or by parsing. */
class RecordsReader {
  /** A Records element the decoder's salvage of a truncated file would read differently (an envelope). */
  private irregular = false;
  private readonly scanner = new ObjectScanner();

  constructor(
    private readonly sink: FactsSink,
    private readonly maxRecord: number,
    private readonly onOversize: (where: string) => void,
  ) {}

  recordsCutter(): RecordsCutter {
    return new RecordsCutter(
      (text, start, end, flags) => this.element(text, start, end, flags),
      this.maxRecord,
      (offset) => this.onOversize(`character ${offset}`),
      (text, start) => {
        const fast = fastRecordAt(text, start, this.maxRecord);
        if (fast === undefined) return -1;
        this.sink.fact(fast);
        return fastRecordEnd();
      },
    );
  }

  linesCutter(): LinesCutter {
    return new LinesCutter(
      (text, start, end, lineNo) => this.line(text, start, end, lineNo),
      this.maxRecord,
      (lineNo) => this.onOversize(`line ${lineNo}`),
    );
  }

  private element(text: string, start: number, end: number, flags: number): void {
    const plain = isPlainRecord(flags);
    if (plain) {
      const fast = fastFacts(text, start, end);
      if (fast !== undefined) {
        this.sink.fact(fast);
        return;
      }
    }
    let value: unknown;
    try {
      value = JSON.parse(text.slice(start, end));
    } catch {
      throw new NotStreamable("a record is not valid JSON");
    }
    if (plain) this.sink.fact(factsOf(value as Record<string, unknown>));
    else {
      if (value !== null && typeof value === "object" && isEnvelope(value as Record<string, unknown>)) {
        this.irregular = true;
      }
      this.sink.record(value);
    }
  }

  private line(text: string, start: number, end: number, lineNo: number): void {
    let plain = false;
    if (text.charCodeAt(start) === 123 /* { */) {
      this.scanner.reset();
      plain = this.scanner.scan(text, start, end) === end && isPlainRecord(this.scanner.flags);
      if (plain) {
        const fast = fastFacts(text, start, end);
        if (fast !== undefined) {
          this.sink.fact(fast);
          return;
        }
      }
    }
    let value: unknown;
    try {
      value = JSON.parse(text.slice(start, end));
    } catch (e) {
      this.sink.problem("E_JSON", `line ${lineNo}: invalid JSON (${(e as Error).message}); line skipped`);
      return;
    }
    if (plain) this.sink.fact(factsOf(value as Record<string, unknown>));
    else this.sink.lineValue(value);
  }

  /** The end of a Records document: a truncated one is reported as the decoder's salvage reports it. */
  endRecords(cutter: RecordsCutter): void {
    const ending = cutter.end();
    if (ending.complete) return;
    // The decoder re-reads the elements of a truncated file as values of their own; envelopes differ.
    if (this.irregular) throw new NotStreamable("truncated, with envelopes among the records");
    this.sink.problem(
      "E_JSON",
      `truncated or invalid JSON at line ${ending.line} (byte ${ending.cutAt} of ${cutter.length}); ${cutter.elements} complete records before it were kept`,
    );
  }
}
