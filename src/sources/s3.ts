/**
 * CloudTrail straight from S3 (`s3://bucket/prefix`), with the AWS SDK v3 and the AWS CLI's
 * conventions for profile, region, endpoint and proxy (src/aws/client-config.ts).
 *
 * Listing follows CloudTrail's key layout,
 * `[prefix/]AWSLogs/[o-orgid/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/file`, so that a time window
 * lists only its days: accounts and regions are found with `Delimiter: "/"` listings, then only the
 * day folders inside the window are listed. Without a window the prefix is listed in one go (one
 * request per 1,000 keys). A prefix may point anywhere in the tree (the bucket, a folder above
 * `AWSLogs/`, an organisation, an account, a region, a month, a day, even the start of a file name).
 *
 * Objects are named `s3://bucket/key` and identified by ETag and size (a rescan skips an object with
 * the same ETag). Every request goes through one gate of `concurrency` requests at a time; throttling
 * (503 SlowDown) and transient errors are retried by the SDK's standard retry strategy (exponential
 * backoff with jitter) up to `maxAttempts`. Access denied on one prefix or object is a problem naming
 * it, and the rest goes on.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { type AwsSettings, resolveAws, sdkClientConfig } from "../aws/client-config.js";
import { isLogFileName, parseTrailKey } from "../cloudtrail/layout.js";
import type { ListProblem, LogObjectRef } from "./local.js";
import { parseS3Url, s3ObjectId } from "./s3-url.js";
import type { S3ObjectBody } from "./watch-sqs.js";

export { isS3Url, parseS3Url, type S3Location, s3ObjectId } from "./s3-url.js";

/** Requests to S3 at a time (listings and GETs together) when not told otherwise. */
export const DEFAULT_S3_CONCURRENCY = 16;
/**
 * Attempts per request (the first and its retries) when neither the caller nor `AWS_MAX_ATTEMPTS`
 * says otherwise: more than the SDK's 3, because a scan of a busy trail bucket meets S3's per-prefix
 * request rate (503 SlowDown) and should ride it out rather than report objects as unreadable.
 */
export const DEFAULT_S3_MAX_ATTEMPTS = 8;
/**
 * Windows up to this many days are listed day by day without listing years and months first
 * (fewer requests); longer ones list the year and month folders and keep those in the window.
 */
const MAX_ENUMERATED_DAYS = 100;
const DAY_MS = 86_400_000;

/** The event-time window a listing is pruned to. */
export interface ListWindow {
  /** Only events at or after this time. */
  readonly since?: Date;
  /** Only events before this time. */
  readonly until?: Date;
}

/** What one `s3://` input held. */
export interface S3Listing {
  readonly objects: LogObjectRef[];
  /** Prefixes that could not be listed (access denied, missing bucket…), by name. */
  readonly problems: ListProblem[];
  /** Keys whose names are not log file names. */
  readonly ignored: number;
}

export interface S3SourceOptions {
  /** Profile, region and endpoint, as `awsSettings(flags)` gives them. */
  readonly aws?: AwsSettings;
  /** Requests at a time, listings and GETs together (default 16). */
  readonly concurrency?: number;
  /** Attempts per request, retries included (default `AWS_MAX_ATTEMPTS`, else 8). */
  readonly maxAttempts?: number;
  /**
   * Path-style requests (`endpoint/bucket/key`). Default: on when an endpoint URL is given (S3-compatible
   * servers such as MinIO or a local test server rarely resolve bucket host names), off for AWS.
   */
  readonly forcePathStyle?: boolean;
  /** Extra SDK client settings (tests give static credentials here). */
  readonly clientConfig?: Partial<S3ClientConfig>;
}

/** The facts of an object that identify it (from a listing, a HEAD, or an S3 event notification). */
export interface S3ObjectInfo {
  readonly bucket: string;
  readonly key: string;
  /** With or without the quotes S3 puts around it. */
  readonly etag?: string;
  readonly size?: number;
  readonly lastModified?: Date;
}

/**
 * A connection to S3 that lists CloudTrail trees and reads objects, sharing one client and one gate
 * of concurrent requests. Close it when done.
 *
 * @example
 * const s3 = new S3Source({ aws: awsSettings({ profile: "audit" }) });
 * try {
 *   const { objects, problems } = await s3.list("s3://org-trail/AWSLogs/", { since: new Date("2026-11-01") });
 *   for (const ref of objects) console.log(ref.id, ref.etag, (await ref.read()).length);
 * } finally {
 *   s3.close();
 * }
 */
export class S3Source {
  /** Requests started (not counting the SDK's retries): for logs and tests. */
  readonly requests = { list: 0, get: 0, head: 0 };
  private readonly gate: Gate;
  private clientPromise: Promise<S3Client> | undefined;

  constructor(private readonly options: S3SourceOptions = {}) {
    this.gate = new Gate(Math.max(1, Math.floor(options.concurrency ?? DEFAULT_S3_CONCURRENCY)));
  }

  /** The SDK client, made on first use (finding the profile's region may read files). */
  private client(): Promise<S3Client> {
    this.clientPromise ??= this.makeClient();
    return this.clientPromise;
  }

  private async makeClient(): Promise<S3Client> {
    const settings = this.options.aws ?? {};
    // S3 answers a request sent to the wrong region with a redirect the client follows, so any
    // region will do when none is set anywhere (the AWS CLI does the same with us-east-1).
    const region =
      settings.region ??
      this.options.clientConfig?.region ??
      (await resolveAws(settings, { credentials: false })).region;
    const envAttempts = Number(process.env.AWS_MAX_ATTEMPTS);
    const maxAttempts =
      this.options.maxAttempts ??
      (Number.isInteger(envAttempts) && envAttempts > 0 ? envAttempts : DEFAULT_S3_MAX_ATTEMPTS);
    return new S3Client({
      ...sdkClientConfig(settings),
      region: typeof region === "string" ? region : "us-east-1",
      followRegionRedirects: true,
      forcePathStyle: this.options.forcePathStyle ?? settings.endpointUrl !== undefined,
      retryMode: "standard",
      maxAttempts,
      ...withoutRegion(this.options.clientConfig),
    });
  }

  /**
   * Lists the log objects under `s3://bucket/prefix`, pruned to the days of `window` when given.
   * Never throws for S3's answers: a prefix that cannot be listed is a problem naming it.
   *
   * Day folders are CloudTrail's delivery dates (UTC): an event is filed under the day it was
   * delivered, minutes after it happened, so the listing takes the day of `until` and the next one.
   *
   * @throws UsageError for a malformed URL.
   */
  async list(url: string, window: ListWindow = {}): Promise<S3Listing> {
    const { bucket, prefix } = parseS3Url(url);
    const days = dayRange(window);
    const found = new Map<string, LogObjectRef>();
    const problems: ListProblem[] = [];
    let ignored = 0;
    /** Set by an error no other prefix would escape: the listing ends with that one problem. */
    let stopped = false;
    const take = (key: string, info: S3ObjectInfo) => {
      if (key.endsWith("/")) return; // a folder marker made by a console
      const name = key.slice(key.lastIndexOf("/") + 1);
      if (!isLogFileName(name)) {
        ignored++;
        return;
      }
      const date = parseTrailKey(key)?.date;
      if (date !== undefined && !days.contains(date)) return;
      found.set(key, this.objectRef(info));
    };
    /** Lists one prefix; with `delimiter`, returns its sub-folders. A failure becomes a problem. */
    const listing = async (at: string, delimiter: boolean): Promise<string[] | undefined> => {
      const folders: string[] = [];
      if (stopped) return undefined;
      try {
        const client = await this.client();
        const pages = paginateListObjectsV2(
          { client },
          { Bucket: bucket, Prefix: at, ...(delimiter ? { Delimiter: "/" } : {}) },
        );
        // Pages come one after the other (each needs the previous one's token): one gate slot per page.
        const iterator = pages[Symbol.asyncIterator]();
        for (;;) {
          const page = await this.gate.run(() => {
            this.requests.list++;
            return iterator.next();
          });
          if (page.done) break;
          for (const o of page.value.Contents ?? []) {
            if (o.Key === undefined) continue;
            take(o.Key, {
              bucket,
              key: o.Key,
              ...(o.ETag !== undefined ? { etag: o.ETag } : {}),
              ...(o.Size !== undefined ? { size: o.Size } : {}),
              ...(o.LastModified !== undefined ? { lastModified: o.LastModified } : {}),
            });
          }
          for (const p of page.value.CommonPrefixes ?? []) if (p.Prefix !== undefined) folders.push(p.Prefix);
        }
        return folders;
      } catch (e) {
        if (stopped) return undefined;
        problems.push({
          object: s3ObjectId(bucket, at),
          message: `cannot list: ${describeS3Error(e, "s3:ListBucket")}`,
        });
        if (isFatal(e)) {
          stopped = true;
          throw new StopListing();
        }
        return undefined;
      }
    };

    /** Walks a folder (a prefix ending with `/`, or the bucket's root) by where it is in the layout. */
    const walk = async (folder: string): Promise<void> => {
      const place = placeOf(folder);
      if (place.kind === "days") {
        const dayFolders = place.days.filter((d) => days.contains(d.date));
        await Promise.all(dayFolders.map((d) => listing(d.prefix, false)));
        return;
      }
      if (place.kind === "skip") return;
      if (place.kind === "dates" && days.count() <= MAX_ENUMERATED_DAYS) {
        await Promise.all(
          days.within(place).map((d) => listing(`${place.regionPrefix}${d.replaceAll("-", "/")}/`, false)),
        );
        return;
      }
      const children = await listing(folder, true);
      if (children === undefined) return;
      await Promise.all(children.filter((c) => place.kind !== "dates" || days.overlaps(c)).map((c) => walk(c)));
    };

    try {
      if (days.unbounded()) await listing(prefix, false);
      else if (prefix === "" || prefix.endsWith("/")) await walk(prefix);
      else {
        // The start of a folder or file name: what it names is found with one delimited listing.
        const children = await listing(prefix, true);
        if (children !== undefined) await Promise.all(children.map((c) => walk(c)));
      }
    } catch (e) {
      if (!(e instanceof StopListing)) throw e;
    }
    // Requests finish in any order: the listing is sorted by key, so runs are reproducible.
    const objects = [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, ref]) => ref);
    return { objects, problems, ignored };
  }

  /**
   * A log object to read, from what identifies it (a listing, a HEAD, an S3 event notification).
   * `read()` GETs it through the gate, and with the ETag when known (`If-Match`), so the bytes read
   * are those of the object identified: one replaced since is an error naming it, never a silent mix.
   *
   * @example
   * const ref = s3.objectRef({ bucket: "trail", key, etag: record.s3.object.eTag, size: record.s3.object.size });
   * const facts = await readObjectFacts({ id: ref.id, bytes: await ref.read() });
   */
  objectRef(info: S3ObjectInfo): LogObjectRef {
    const etag = info.etag === undefined ? undefined : unquoteEtag(info.etag);
    const id = s3ObjectId(info.bucket, info.key);
    return {
      id,
      size: info.size ?? 0,
      mtimeMs: info.lastModified?.getTime() ?? 0,
      ...(etag !== undefined ? { etag } : {}),
      read: () => this.getBytes(info.bucket, info.key, etag),
    };
  }

  /**
   * Reads what identifies an object (size, ETag, time) with a HEAD request, for callers that know
   * only its bucket and key; the ref's `read()` then gets exactly that version.
   *
   * @throws Error naming `s3://bucket/key` and the reason (access denied, no such key…).
   * @example const ref = await s3.headObject("trail", "AWSLogs/…/file.json.gz");
   */
  async headObject(bucket: string, key: string): Promise<LogObjectRef> {
    const client = await this.client();
    try {
      const head = await this.gate.run(() => {
        this.requests.head++;
        return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      });
      return this.objectRef({
        bucket,
        key,
        ...(head.ETag !== undefined ? { etag: head.ETag } : {}),
        ...(head.ContentLength !== undefined ? { size: head.ContentLength } : {}),
        ...(head.LastModified !== undefined ? { lastModified: head.LastModified } : {}),
      });
    } catch (e) {
      throw new Error(`${s3ObjectId(bucket, key)}: ${describeS3Error(e, "s3:GetObject")}`, { cause: e });
    }
  }

  /**
   * Reads an object named only by bucket and key (an S3 notification) with one GET, and takes what
   * identifies the version read (ETag, size, time) from the answer itself: `firstcall watch sqs://` and
   * the Lambda handler read objects this way (the `S3ObjectReader` of watch-sqs.ts).
   *
   * @throws Error naming the reason (access denied with the permission to check, no such key…).
   * @example const { body, etag } = await s3.getObject("trail", "AWSLogs/…/file.json.gz");
   */
  async getObject(bucket: string, key: string, signal?: AbortSignal): Promise<S3ObjectBody> {
    const client = await this.client();
    try {
      return await this.gate.run(async () => {
        this.requests.get++;
        const answer = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key }),
          signal ? { abortSignal: signal } : {},
        );
        const body = answer.Body === undefined ? new Uint8Array(0) : await answer.Body.transformToByteArray();
        return {
          body,
          size: answer.ContentLength ?? body.length,
          lastModifiedMs: answer.LastModified?.getTime() ?? 0,
          ...(answer.ETag !== undefined ? { etag: unquoteEtag(answer.ETag) } : {}),
        };
      });
    } catch (e) {
      throw new Error(describeS3Error(e, "s3:GetObject"), { cause: e });
    }
  }

  private async getBytes(bucket: string, key: string, etag: string | undefined): Promise<Buffer> {
    const client = await this.client();
    try {
      return await this.gate.run(async () => {
        this.requests.get++;
        const answer = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...(etag !== undefined ? { IfMatch: `"${etag}"` } : {}) }),
        );
        if (answer.Body === undefined) return Buffer.alloc(0);
        // The body is read inside the gate: the gate bounds connections, not just request starts.
        return Buffer.from(await answer.Body.transformToByteArray());
      });
    } catch (e) {
      // Only the reason: the reader puts the object's name in front.
      throw new Error(describeS3Error(e, "s3:GetObject"), { cause: e });
    }
  }

  /** Releases the client's connections. */
  close(): void {
    void this.clientPromise?.then((c) => c.destroy()).catch(() => undefined);
  }
}

/** ETags are quoted in S3's answers and in event notifications sometimes not: stored without quotes. */
function unquoteEtag(etag: string): string {
  return etag.replace(/^"(.*)"$/, "$1");
}

function withoutRegion(config: Partial<S3ClientConfig> | undefined): Partial<S3ClientConfig> {
  if (config === undefined) return {};
  const { region: _region, ...rest } = config;
  return rest;
}

class StopListing extends Error {}

interface SdkError {
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * Errors that no other prefix of the same bucket would escape: no credentials, no such bucket, no
 * network. Listing stops at the first (one problem, not one per prefix).
 */
function isFatal(e: unknown): boolean {
  const err = e as SdkError;
  if (err?.name === "NoSuchBucket") return true;
  return err?.$metadata?.httpStatusCode === undefined;
}

/** One line saying why S3 refused, with the permission to check when it is access denied. */
export function describeS3Error(e: unknown, permission: string): string {
  const err = e as SdkError;
  const status = err?.$metadata?.httpStatusCode;
  const name = err?.name ?? "Error";
  if (name === "AccessDenied" || status === 403) {
    return `access denied (${name}${status ? ` ${status}` : ""}): check ${permission} for this prefix, and kms:Decrypt when the trail is encrypted with SSE-KMS`;
  }
  if (name === "PreconditionFailed" || status === 412) {
    return "the object changed since it was listed (its ETag no longer matches); scan again";
  }
  if (name === "NoSuchBucket") return "no such bucket";
  if (name === "NoSuchKey" || (status === 404 && permission === "s3:GetObject")) return "no such object";
  const detail = err?.message && err.message !== name ? `: ${err.message}` : "";
  return `${name}${status ? ` (HTTP ${status})` : ""}${detail}`;
}

/** Where a folder is in CloudTrail's layout, and so how to list it. */
type Place =
  /** Above the region level (the bucket, a prefix, AWSLogs/, an organisation, an account): list its folders. */
  | { readonly kind: "folders" }
  /** A folder that holds no events (CloudTrail-Digest/, CloudTrail-Insight/): not listed. */
  | { readonly kind: "skip" }
  /** A region, year or month folder: its days are known from the window. */
  | {
      readonly kind: "dates";
      readonly regionPrefix: string;
      readonly year?: string;
      readonly month?: string;
    }
  /** A day folder. */
  | { readonly kind: "days"; readonly days: readonly { date: string; prefix: string }[] };

const TREE =
  /^(?:.*\/)?AWSLogs\/(?:o-[a-z0-9]{10,32}\/)?(?:(\d{12})\/(?:([^/]+)\/(?:([a-z0-9-]+)\/(?:(\d{4})\/(?:(\d{2})\/(?:(\d{2})\/)?)?)?)?)?)?$/;

function placeOf(folder: string): Place {
  const m = TREE.exec(folder);
  if (!m) return { kind: "folders" };
  const [, account, trailFolder, region, year, month, day] = m;
  if (account === undefined || trailFolder === undefined) return { kind: "folders" };
  // Digest and Insights folders hold no API calls: a pruned listing does not even list them.
  if (trailFolder !== "CloudTrail") return { kind: "skip" };
  if (region === undefined) return { kind: "folders" };
  // The last `/CloudTrail/REGION/`: the trail's own prefix may hold the same words.
  const regionFolder = `/CloudTrail/${region}/`;
  const regionPrefix = folder.slice(0, folder.lastIndexOf(regionFolder) + regionFolder.length);
  if (day !== undefined) return { kind: "days", days: [{ date: `${year}-${month}-${day}`, prefix: folder }] };
  return {
    kind: "dates",
    regionPrefix,
    ...(year !== undefined ? { year } : {}),
    ...(month !== undefined ? { month } : {}),
  };
}

/** The days (UTC, `YYYY-MM-DD`) whose folders can hold events of the window. */
interface DayRange {
  unbounded(): boolean;
  contains(date: string): boolean;
  /** Whether a year or month folder (`…/REGION/2026/`, `…/REGION/2026/11/`) holds days of the range. */
  overlaps(folder: string): boolean;
  /** Days of a bounded range, at most {@link MAX_ENUMERATED_DAYS}. */
  count(): number;
  /** The days of a bounded range inside a region, year or month folder. */
  within(place: { year?: string; month?: string }): string[];
}

function dayRange(window: ListWindow): DayRange {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const first = window.since ? day(window.since.getTime()) : undefined;
  // `until` is exclusive; its events may be delivered (and filed) on the next day.
  const last = window.until ? day(window.until.getTime() - 1 + DAY_MS) : undefined;
  const inRange = (from: string, to: string) =>
    (first === undefined || to >= first) && (last === undefined || from <= last);
  return {
    unbounded: () => first === undefined && last === undefined,
    contains: (date) => inRange(date, date),
    overlaps: (folder) => {
      const m = /\/(\d{4})\/(?:(\d{2})\/)?$/.exec(folder);
      if (!m) return true;
      const [, y, mo] = m;
      return mo === undefined ? inRange(`${y}-01-01`, `${y}-12-31`) : inRange(`${y}-${mo}-01`, `${y}-${mo}-31`);
    },
    count: () => {
      if (first === undefined || last === undefined) return Number.POSITIVE_INFINITY;
      return Math.round((Date.parse(last) - Date.parse(first)) / DAY_MS) + 1;
    },
    within: (place) => {
      const out: string[] = [];
      if (first === undefined || last === undefined) return out;
      for (let t = Date.parse(first); t <= Date.parse(last); t += DAY_MS) {
        const d = day(t);
        if (place.year !== undefined && d.slice(0, 4) !== place.year) continue;
        if (place.month !== undefined && d.slice(5, 7) !== place.month) continue;
        out.push(d);
      }
      return out;
    },
  };
}

/** At most `size` tasks at a time, started in the order they were asked for. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
