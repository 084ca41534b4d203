/**
 * `firstcall ip-ranges update`: keeps a copy of AWS's published ip-ranges.json in the cache folder.
 *
 * The request is conditional (`If-None-Match` with the last ETag, `If-Modified-Since` with the last
 * `Last-Modified`), so an unchanged list costs one round trip and no body. A new body is checked
 * (it must parse as ip-ranges.json) before it replaces the cached copy, and is written to a temporary
 * file and renamed, so a failed or bad download leaves the previous copy as it was. A list whose
 * `syncToken` (AWS's publication time) is older than the cached one is not installed: a stale
 * cache on the way must not roll the list back.
 *
 * The download goes through the environment's proxy (`HTTPS_PROXY`, `NO_PROXY`, see
 * src/aws/proxy.ts); `--from FILE` installs a copy fetched another way.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { proxyAgentFor } from "../aws/proxy.js";
import { cacheDir as defaultCacheDir } from "../cache-dir.js";
import { InputError, OutputError } from "../errors.js";
import { type AwsRanges, createDateOf, parseIpRanges } from "./aws-ranges.js";
import { CACHED_RANGES_FILE, CACHED_RANGES_META } from "./ip-ranges-source.js";

export const AWS_IP_RANGES_URL = "https://ip-ranges.amazonaws.com/ip-ranges.json";

/** What `ip-ranges.meta.json` keeps next to the cached copy. */
export interface CachedRangesMeta {
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly syncToken?: string;
  readonly createDate?: string;
  /** When the copy was last downloaded or confirmed unchanged (ISO 8601). */
  readonly checkedAt: string;
}

export interface UpdateOptions {
  /** Default: AWS's URL (`FIRSTCALL_IP_RANGES_URL` overrides it, for tests and mirrors). */
  readonly url?: string;
  /** Install this local file instead of downloading (behind a proxy, on an air-gapped machine). */
  readonly fromFile?: string;
  readonly cacheDir?: string;
  readonly timeoutMs?: number;
  readonly now?: Date;
}

export interface UpdateResult {
  /** `updated`: a new copy is in the cache; `unchanged`: the cached copy is current; `kept`: the answer was older. */
  readonly status: "updated" | "unchanged" | "kept";
  readonly path: string;
  readonly source: string;
  readonly syncToken?: string;
  readonly createDate?: string;
  readonly ageDays?: number;
  readonly previousSyncToken?: string;
  /** Merged intervals loaded from the copy (a sanity figure). */
  readonly intervals?: number;
  readonly regions?: number;
}

function readMeta(path: string): CachedRangesMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(path, "utf8")) as CachedRangesMeta;
    return meta && typeof meta === "object" ? meta : undefined;
  } catch {
    return undefined;
  }
}

function cachedRanges(path: string): AwsRanges | undefined {
  try {
    return parseIpRanges(readFileSync(path, "utf8"), path);
  } catch {
    return undefined;
  }
}

function ageDays(createDate: string | undefined, now: Date): number | undefined {
  const d = createDateOf(createDate);
  return d ? Math.max(0, Math.floor((now.getTime() - d.getTime()) / 86_400_000)) : undefined;
}

/** Writes `text` to `path` through a temporary file in the same folder and a rename. */
function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new OutputError("E_OUTPUT", `${path}: cannot write: ${(e as Error).message}`, { cause: e });
  }
}

/** AWS's syncToken is the publication time in seconds; compared as numbers when both are numbers. */
function isOlder(candidate: string | undefined, cached: string | undefined): boolean {
  if (!candidate || !cached || !/^\d+$/.test(candidate) || !/^\d+$/.test(cached)) return false;
  return Number(candidate) < Number(cached);
}

/** Largest ip-ranges.json accepted (today's is about 2 MB). */
const MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;

async function download(
  url: string,
  previous: CachedRangesMeta | undefined,
  timeoutMs: number,
): Promise<{ status: 304 } | { status: 200; text: string; etag?: string; lastModified?: string }> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (previous?.url === url) {
    if (previous.etag) headers["if-none-match"] = previous.etag;
    if (previous.lastModified) headers["if-modified-since"] = previous.lastModified;
  }
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new InputError("E_DOWNLOAD", url, "not a URL");
  }
  if (target.protocol !== "https:" && target.protocol !== "http:")
    throw new InputError("E_DOWNLOAD", url, `unsupported protocol ${target.protocol}`);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  // Through the environment's proxy (HTTPS_PROXY & co., NO_PROXY) like every request to AWS.
  const agent = proxyAgentFor(url);
  return new Promise((resolve, reject) => {
    const fail = (message: string, cause?: unknown) =>
      reject(new InputError("E_DOWNLOAD", url, message, cause === undefined ? undefined : { cause }));
    const req = send(target, { headers, timeout: timeoutMs, ...(agent ? { agent } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 304) {
        res.resume();
        resolve({ status: 304 });
        return;
      }
      if (status !== 200) {
        res.resume();
        fail(`the server answered ${status} ${res.statusMessage ?? ""}`.trimEnd());
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_DOWNLOAD_BYTES) {
          req.destroy();
          fail(`larger than ${MAX_DOWNLOAD_BYTES} bytes: not an ip-ranges.json`);
          return;
        }
        chunks.push(chunk);
      });
      res.on("error", (e) => fail(`the download broke off: ${e.message}`, e));
      res.on("end", () => {
        if (!res.complete) {
          fail("the download broke off");
          return;
        }
        const etag = res.headers.etag;
        const lastModified = res.headers["last-modified"];
        resolve({
          status: 200,
          text: Buffer.concat(chunks).toString("utf8"),
          ...(etag ? { etag } : {}),
          ...(lastModified ? { lastModified } : {}),
        });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => fail(`cannot download: ${e.message}`, e));
    req.end();
  });
}

/**
 * Downloads (or installs from a file) AWS's ip-ranges.json into the cache folder.
 *
 * @example
 * const r = await updateIpRanges();
 * console.log(r.status, r.createDate);
 */
export async function updateIpRanges(options: UpdateOptions = {}): Promise<UpdateResult> {
  const now = options.now ?? new Date();
  const dir = options.cacheDir ?? defaultCacheDir();
  const path = join(dir, CACHED_RANGES_FILE);
  const metaPath = join(dir, CACHED_RANGES_META);
  const previousMeta = readMeta(metaPath);
  const previous = cachedRanges(path);
  // Conditional headers only make sense while the copy they describe is there and usable.
  const meta = previous ? previousMeta : undefined;
  const url = options.url ?? process.env.FIRSTCALL_IP_RANGES_URL ?? AWS_IP_RANGES_URL;
  const source = options.fromFile ?? url;

  let answer: Awaited<ReturnType<typeof download>>;
  if (options.fromFile) {
    let text: string;
    try {
      text = readFileSync(options.fromFile, "utf8");
    } catch (e) {
      throw new InputError("E_READ", options.fromFile, `cannot read: ${(e as Error).message}`, { cause: e });
    }
    answer = { status: 200, text };
  } else {
    answer = await download(url, meta, options.timeoutMs ?? 30_000);
  }

  const keepMeta = (m: Partial<CachedRangesMeta>) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomically(metaPath, `${JSON.stringify({ ...meta, ...m, checkedAt: now.toISOString() }, null, 2)}\n`);
  };
  const describe = (status: UpdateResult["status"], r: AwsRanges, extra: Partial<UpdateResult> = {}) => {
    const days = ageDays(r.createDate, now);
    return {
      status,
      path,
      source,
      ...(r.syncToken ? { syncToken: r.syncToken } : {}),
      ...(r.createDate ? { createDate: r.createDate } : {}),
      ...(days !== undefined ? { ageDays: days } : {}),
      intervals: r.all.intervals,
      regions: r.ec2ByRegion.size,
      ...extra,
    };
  };

  if (answer.status === 304) {
    if (!previous)
      throw new InputError("E_DOWNLOAD", url, "the server answered 304 Not Modified but there is no cached copy");
    keepMeta({ url });
    return describe("unchanged", previous);
  }

  let fresh: AwsRanges;
  try {
    fresh = parseIpRanges(answer.text, source);
  } catch (e) {
    // The cached copy is untouched: nothing has been written yet.
    throw new InputError(
      "E_DOWNLOAD",
      source,
      `not a usable ip-ranges.json, the cached copy is unchanged: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const previousSyncToken = previous?.syncToken;
  if (previous && fresh.syncToken && fresh.syncToken === previousSyncToken) {
    keepMeta({ url, ...headerMeta(answer) });
    return describe("unchanged", previous);
  }
  if (previous && isOlder(fresh.syncToken, previousSyncToken)) {
    return describe("kept", previous, { ...(previousSyncToken ? { previousSyncToken } : {}) });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeAtomically(path, answer.text);
  writeAtomically(
    metaPath,
    `${JSON.stringify(
      {
        url: source,
        ...headerMeta(answer),
        ...(fresh.syncToken ? { syncToken: fresh.syncToken } : {}),
        ...(fresh.createDate ? { createDate: fresh.createDate } : {}),
        checkedAt: now.toISOString(),
      } satisfies CachedRangesMeta,
      null,
      2,
    )}\n`,
  );
  return describe("updated", fresh, previousSyncToken ? { previousSyncToken } : {});
}

function headerMeta(answer: { etag?: string; lastModified?: string }): { etag?: string; lastModified?: string } {
  return {
    ...(answer.etag ? { etag: answer.etag } : {}),
    ...(answer.lastModified ? { lastModified: answer.lastModified } : {}),
  };
}
