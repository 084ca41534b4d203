/**
 * Which copy of AWS's ranges a scan uses, in order: `--ip-ranges FILE` (always wins), else the copy
 * `firstcall ip-ranges update` keeps in the cache folder, else the compact snapshot shipped with the
 * package (`data/aws-ip-ranges.json`), else none (addresses are then classified `unknown`). The
 * summary says which one was used and how old it is (AWS's `createDate`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheDir } from "../cache-dir.js";
import { UsageError } from "../errors.js";
import { type AwsRanges, createDateOf, parseIpRanges } from "./aws-ranges.js";

/** The cached copy's file name in the cache folder (AWS's file as downloaded). */
export const CACHED_RANGES_FILE = "ip-ranges.json";
/** What the last download answered (ETag, Last-Modified, syncToken, createDate, time). */
export const CACHED_RANGES_META = "ip-ranges.meta.json";

/** The snapshot shipped with the package: `data/` at the package root (two levels above src/net or dist/net). */
export function shippedSnapshotPath(): string {
  return fileURLToPath(new URL("../../data/aws-ip-ranges.json", import.meta.url));
}

export type IpRangesSource = "file" | "cache" | "snapshot" | "none";

/** What the scan summary says about the ranges it used. */
export interface IpRangesInfo {
  readonly source: IpRangesSource;
  readonly path?: string;
  readonly syncToken?: string;
  /** AWS's `createDate` of the copy, as written in it. */
  readonly createDate?: string;
  /** Whole days from createDate to the start of the scan (wall clock). */
  readonly ageDays?: number;
  /** A cached copy that could not be used (the next copy in the order was used instead). */
  readonly problem?: string;
}

/** Where to look when no file is given; each defaults to the real place. */
export interface IpRangesLookup {
  readonly cacheDir?: string;
  readonly snapshotPath?: string;
}

function describe(source: IpRangesSource, path: string, ranges: AwsRanges, now: Date): IpRangesInfo {
  const created = createDateOf(ranges.createDate);
  return {
    source,
    path,
    ...(ranges.syncToken ? { syncToken: ranges.syncToken } : {}),
    ...(ranges.createDate ? { createDate: ranges.createDate } : {}),
    ...(created ? { ageDays: Math.max(0, Math.floor((now.getTime() - created.getTime()) / 86_400_000)) } : {}),
  };
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError("E_CONFIG", `${path}: cannot read: ${(e as Error).message}`);
  }
}

/**
 * Loads AWS's ranges. An explicit file that cannot be read or parsed stops the run (exit 2); a cached
 * copy that cannot be used is skipped with the reason in `info.problem`, because the user did not
 * name it; the shipped snapshot is part of the package and must parse.
 */
export function loadAwsRanges(
  explicitPath: string | undefined,
  lookup: IpRangesLookup | undefined,
  now: Date = new Date(),
): { ranges?: AwsRanges; info: IpRangesInfo } {
  if (explicitPath) {
    const ranges = parseIpRanges(readText(explicitPath), explicitPath);
    return { ranges, info: describe("file", explicitPath, ranges, now) };
  }
  if (!lookup) return { info: { source: "none" } };
  let problem: string | undefined;
  const cached = join(lookup.cacheDir ?? cacheDir(), CACHED_RANGES_FILE);
  if (existsSync(cached)) {
    try {
      const ranges = parseIpRanges(readText(cached), cached);
      return { ranges, info: describe("cache", cached, ranges, now) };
    } catch (e) {
      problem = `${(e as Error).message} (run \`firstcall ip-ranges update\`)`;
    }
  }
  const snapshot = lookup.snapshotPath ?? shippedSnapshotPath();
  if (existsSync(snapshot)) {
    const ranges = parseIpRanges(readText(snapshot), snapshot);
    return { ranges, info: { ...describe("snapshot", snapshot, ranges, now), ...(problem ? { problem } : {}) } };
  }
  return { info: { source: "none", ...(problem ? { problem } : {}) } };
}
