/**
 * Turns the bytes of one log object (a file, an S3 object, a message) into CloudTrail records,
 * whatever the wrapping:
 *
 * - `{"Records":[…]}` as S3 delivers it, gzipped or not;
 * - a bare JSON array of records (Stratus Red Team, exports);
 * - one record per line (CloudWatch Logs exports, Logstash/Kafka captures), or values glued together;
 * - EventBridge events (`detail` holds the record), one per line or in an array;
 * - CloudWatch Logs subscription payloads (`logEvents[].message`), also as the raw `awslogs.data`
 *   base64+gzip form a Lambda receives;
 * - `LookupEvents` output (`Events[].CloudTrailEvent` is the record as a JSON string).
 *
 * Digest and Insights files and JSON that is not CloudTrail are recognised and reported as skipped,
 * never parsed as events. Damage is reported per object with the offset or line, and every complete
 * record before or after the damage is kept: a truncated file loses only its last, partial record.
 */
import { constants as bufferConstants } from "node:buffer";
import { gunzipSync, constants as zlibConstants } from "node:zlib";
import { InputError } from "../errors.js";
import { lineOf, skipSpace, splitValues } from "./json-values.js";
import { type CloudTrailRecord, looksLikeRecord } from "./record.js";

export type ObjectShape =
  | "records-file"
  | "array"
  | "ndjson"
  | "concatenated"
  | "eventbridge"
  | "cloudwatch-logs"
  | "lookup-events"
  | "single-record"
  | "digest"
  | "insight"
  | "not-cloudtrail";

export interface DecodeOptions {
  /** Largest decompressed size accepted, in bytes (default 512 MiB, capped by the engine's string limit). */
  readonly maxObjectBytes?: number;
  /**
   * Called with every CloudTrail record found (Insights records excepted), in file order, before the
   * decoder fills `eventTime` from `@timestamp` or drops the record for having no time: lets a caller
   * see exactly what the object holds, including the records `records` leaves out.
   */
  readonly onRecord?: (record: CloudTrailRecord) => void;
}

export interface DecodeResult {
  readonly shape: ObjectShape;
  readonly records: CloudTrailRecord[];
  /** Partial damage: the object was read, but something in it was lost. Empty when clean. */
  readonly problems: InputError[];
  /** Set when the whole object is not events (digest, Insights, other JSON): why it was skipped. */
  readonly skipped?: string;
  /** Records whose time came from `@timestamp` because `eventTime` was missing. */
  readonly timestampFallbacks: number;
  /** Insights records dropped (they describe API rates, not calls). */
  readonly insightRecords: number;
  readonly compressed: boolean;
  readonly bytes: number;
  /** Size once decompressed. */
  readonly rawBytes: number;
}

export const DEFAULT_MAX_OBJECT_BYTES = 512 * 1024 * 1024;

/**
 * Decodes one log object.
 *
 * @throws InputError when nothing at all could be read (corrupt gzip, binary, not JSON, empty, too large).
 * @example
 * const { records, problems } = decodeLogObject(readFileSync(path), path);
 */
export function decodeLogObject(bytes: Uint8Array, object: string, options: DecodeOptions = {}): DecodeResult {
  const limit = Math.min(options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES, bufferConstants.MAX_STRING_LENGTH);
  if (bytes.length === 0) throw new InputError("E_EMPTY", object, "empty file (0 bytes)");
  const problems: InputError[] = [];
  const compressed = bytes[0] === 0x1f && bytes[1] === 0x8b;
  let raw: Buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (compressed) raw = gunzip(raw, object, limit, problems);
  else if (raw.length > limit) throw tooLarge(object, raw.length, limit);
  if (raw.length === 0) throw new InputError("E_EMPTY", object, "empty after decompression");
  if (looksBinary(raw)) {
    throw new InputError("E_BINARY", object, "binary data, not JSON text (is this really a CloudTrail log?)");
  }
  const text = raw.toString("utf8");
  const sink = new RecordSink(object, problems, options.onRecord);
  const shape = decodeText(text, object, sink, limit);
  return sink.finish(shape, compressed, bytes.length, raw.length);
}

function tooLarge(object: string, size: number, limit: number): InputError {
  return new InputError(
    "E_TOO_LARGE",
    object,
    `larger than the limit of ${limit} bytes once decompressed (${size > 0 ? `${size} bytes` : "more"}); raise --max-object-bytes or split the file`,
  );
}

function gunzip(buf: Buffer, object: string, limit: number, problems: InputError[]): Buffer {
  try {
    return gunzipSync(buf, { maxOutputLength: limit });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw tooLarge(object, 0, limit);
    if (err.code === "Z_BUF_ERROR") {
      // Truncated stream ("unexpected end of file"): keep what was decompressed, report the loss.
      try {
        const partial = gunzipSync(buf, { maxOutputLength: limit, finishFlush: zlibConstants.Z_SYNC_FLUSH });
        problems.push(
          new InputError("E_GZIP", object, "gzip stream is truncated; the records before the cut were kept"),
        );
        return partial;
      } catch {
        // fall through to the generic error
      }
    }
    throw new InputError("E_GZIP", object, `corrupt gzip data (${err.message})`, { cause: e });
  }
}

function looksBinary(buf: Buffer): boolean {
  const n = Math.min(buf.length, 4096);
  for (let i = 0; i < n; i++) if (buf[i] === 0) return true;
  return false;
}

function decodeText(text: string, object: string, sink: RecordSink, limit: number): ObjectShape {
  const start = skipSpace(text);
  if (start >= text.length) throw new InputError("E_EMPTY", object, "contains only whitespace");
  const first = text.charCodeAt(start);
  if (first !== 123 /* { */ && first !== 91 /* [ */) {
    const fromBase64 = tryBase64Gzip(text.slice(start).trim(), limit);
    if (fromBase64 !== undefined) return decodeText(fromBase64, object, sink, limit);
    throw new InputError("E_JSON", object, `not JSON: starts with ${JSON.stringify(text.slice(start, start + 20))}`);
  }
  let whole: unknown;
  let parsed = false;
  try {
    whole = JSON.parse(text);
    parsed = true;
  } catch {
    // Not one JSON value: one per line, glued values, or damaged. Handled below.
  }
  if (parsed) return sink.value(whole, limit);
  return decodeDamagedOrMany(text, start, object, sink, limit);
}

function decodeDamagedOrMany(
  text: string,
  start: number,
  object: string,
  sink: RecordSink,
  limit: number,
): ObjectShape {
  const firstNewline = text.indexOf("\n", start);
  const firstLine = firstNewline === -1 ? text.slice(start) : text.slice(start, firstNewline);
  if (firstNewline !== -1 && parses(firstLine)) {
    // One value per line: each line stands alone, so one bad line costs one record.
    let shape: ObjectShape = "ndjson";
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo++;
      const trimmed = line.trim();
      if (trimmed === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch (e) {
        sink.problem("E_JSON", `line ${lineNo}: invalid JSON (${(e as Error).message}); line skipped`);
        continue;
      }
      const s = sink.value(value, limit);
      if (s === "eventbridge") shape = "eventbridge";
    }
    return shape;
  }
  // Values glued together (Firehose), or one truncated value: keep every complete value.
  const spans = [...splitValues(text, start)];
  const only = spans[0];
  if (spans.length === 1 && only !== undefined && !only.complete)
    return salvageTruncated(text, only.start, object, sink, limit);
  for (const span of spans) {
    if (!span.complete) {
      sink.problem(
        "E_JSON",
        `truncated or invalid JSON at line ${lineOf(text, span.start)} (byte ${span.start}); the rest of the file was skipped`,
      );
      break;
    }
    try {
      sink.value(JSON.parse(text.slice(span.start, span.end)), limit);
    } catch (e) {
      sink.problem("E_JSON", `invalid JSON value at line ${lineOf(text, span.start)}: ${(e as Error).message}`);
    }
  }
  return "concatenated";
}

/** A single top-level value cut short: recover the complete records of its `Records` array or its elements. */
function salvageTruncated(text: string, start: number, object: string, sink: RecordSink, limit: number): ObjectShape {
  let arrayStart = -1;
  let shape: ObjectShape = "array";
  if (text.charCodeAt(start) === 91) arrayStart = start + 1;
  else {
    const m = /"(Records|Events|logEvents)"\s*:\s*\[/.exec(text.slice(start, start + 65536));
    if (m) {
      arrayStart = start + m.index + m[0].length;
      shape = m[1] === "Records" ? "records-file" : m[1] === "Events" ? "lookup-events" : "cloudwatch-logs";
    }
  }
  if (arrayStart === -1) {
    throw new InputError("E_JSON", object, `truncated or invalid JSON (no complete value, ${text.length} bytes)`);
  }
  let kept = 0;
  let cutAt = text.length;
  for (const span of splitValues(text, arrayStart)) {
    if (!span.complete) {
      cutAt = span.start;
      break;
    }
    try {
      const value: unknown = JSON.parse(text.slice(span.start, span.end));
      if (shape === "lookup-events" || shape === "cloudwatch-logs") sink.value(wrapElement(shape, value), limit);
      else sink.value(value, limit);
      kept++;
    } catch (e) {
      cutAt = span.start;
      sink.problem("E_JSON", `invalid JSON at line ${lineOf(text, span.start)}: ${(e as Error).message}`);
      break;
    }
  }
  sink.problem(
    "E_JSON",
    `truncated or invalid JSON at line ${lineOf(text, cutAt)} (byte ${cutAt} of ${text.length}); ${kept} complete records before it were kept`,
  );
  return shape;
}

function wrapElement(shape: ObjectShape, value: unknown): unknown {
  if (shape === "lookup-events") return { Events: [value] };
  return { messageType: "DATA_MESSAGE", logEvents: [value] };
}

function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

function tryBase64Gzip(text: string, limit: number): string | undefined {
  if (text.length < 20 || !/^[A-Za-z0-9+/=\r\n]+$/.test(text.slice(0, 4096))) return undefined;
  const buf = Buffer.from(text, "base64");
  if (buf[0] !== 0x1f || buf[1] !== 0x8b) return undefined;
  try {
    return gunzipSync(buf, { maxOutputLength: limit }).toString("utf8");
  } catch {
    return undefined;
  }
}

/** Collects records from decoded values and counts what is not a record. */
class RecordSink {
  readonly records: CloudTrailRecord[] = [];
  timestampFallbacks = 0;
  insightRecords = 0;
  digests = 0;
  notCloudTrail = 0;
  notCloudTrailKeys = new Set<string>();
  withoutTime = 0;

  constructor(
    private readonly object: string,
    private readonly problems: InputError[],
    private readonly onRecord?: (record: CloudTrailRecord) => void,
  ) {}

  problem(code: "E_JSON" | "E_RECORD", message: string): void {
    this.problems.push(new InputError(code, this.object, message));
  }

  /** Classifies one decoded JSON value and returns the shape it had. */
  value(v: unknown, limit: number): ObjectShape {
    if (Array.isArray(v)) {
      let shape: ObjectShape = "array";
      for (const item of v) if (this.value(item, limit) === "eventbridge") shape = "eventbridge";
      return shape;
    }
    if (v === null || typeof v !== "object") {
      this.notCloudTrail++;
      return "not-cloudtrail";
    }
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.Records)) {
      for (const r of o.Records) this.record(r);
      return "records-file";
    }
    if (typeof o["detail-type"] === "string" && "detail" in o) {
      this.record(o.detail);
      return "eventbridge";
    }
    if (typeof o.messageType === "string" && Array.isArray(o.logEvents)) {
      for (const e of o.logEvents) {
        const message = (e as { message?: unknown } | null)?.message;
        if (typeof message !== "string") {
          this.notCloudTrail++;
          continue;
        }
        try {
          this.value(JSON.parse(message), limit);
        } catch (err) {
          this.problem("E_JSON", `a CloudWatch Logs message is not JSON (${(err as Error).message}); skipped`);
        }
      }
      return "cloudwatch-logs";
    }
    const awslogs = o.awslogs as { data?: unknown } | undefined;
    if (awslogs && typeof awslogs.data === "string") {
      const inner = tryBase64Gzip(awslogs.data, limit);
      if (inner === undefined) this.problem("E_JSON", "awslogs.data is not base64 gzip; skipped");
      else this.value(JSON.parse(inner), limit);
      return "cloudwatch-logs";
    }
    if (Array.isArray(o.Events)) {
      for (const e of o.Events) this.lookupEvent(e);
      return "lookup-events";
    }
    if (typeof o.CloudTrailEvent === "string") {
      this.lookupEvent(o);
      return "lookup-events";
    }
    if (typeof o.digestStartTime === "string" || (Array.isArray(o.logFiles) && "digestS3Object" in o)) {
      this.digests++;
      return "digest";
    }
    if (looksLikeRecord(o)) {
      this.record(o);
      return "single-record";
    }
    this.notCloudTrail++;
    for (const k of Object.keys(o).slice(0, 5)) this.notCloudTrailKeys.add(k);
    return "not-cloudtrail";
  }

  private lookupEvent(e: unknown): void {
    const s = (e as { CloudTrailEvent?: unknown } | null)?.CloudTrailEvent;
    if (typeof s !== "string") {
      this.notCloudTrail++;
      return;
    }
    try {
      this.record(JSON.parse(s));
    } catch (err) {
      this.problem("E_JSON", `a LookupEvents CloudTrailEvent is not JSON (${(err as Error).message}); skipped`);
    }
  }

  private record(r: unknown): void {
    if (!looksLikeRecord(r)) {
      this.notCloudTrail++;
      return;
    }
    if (r.eventCategory === "Insight" || r.eventType === "AwsCloudTrailInsight") {
      this.insightRecords++;
      return;
    }
    this.onRecord?.(r);
    if (typeof r.eventTime !== "string") {
      const ts = r["@timestamp"];
      if (typeof ts === "string" && !Number.isNaN(Date.parse(ts))) {
        r.eventTime = ts;
        this.timestampFallbacks++;
      } else {
        this.withoutTime++;
        return;
      }
    }
    this.records.push(r);
  }

  finish(shape: ObjectShape, compressed: boolean, bytes: number, rawBytes: number): DecodeResult {
    if (this.withoutTime > 0) {
      this.problem("E_RECORD", `${this.withoutTime} records have neither eventTime nor @timestamp; skipped`);
    }
    const base = {
      records: this.records,
      problems: this.problems,
      timestampFallbacks: this.timestampFallbacks,
      insightRecords: this.insightRecords,
      compressed,
      bytes,
      rawBytes,
    };
    if (this.records.length === 0 && this.problems.length === 0) {
      if (this.digests > 0) return { ...base, shape: "digest", skipped: "CloudTrail digest file (no events)" };
      if (this.insightRecords > 0) {
        return { ...base, shape: "insight", skipped: "CloudTrail Insights file (API rate anomalies, not calls)" };
      }
      if (this.notCloudTrail > 0) {
        const keys = [...this.notCloudTrailKeys].join(", ");
        return {
          ...base,
          shape: "not-cloudtrail",
          skipped: `JSON that is not CloudTrail${keys ? ` (top-level keys: ${keys})` : ""}`,
        };
      }
    } else if (this.notCloudTrail > 0) {
      this.problem("E_RECORD", `${this.notCloudTrail} values are not CloudTrail records; skipped`);
    }
    return { ...base, shape };
  }
}
