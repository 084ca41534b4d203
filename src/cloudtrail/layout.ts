/**
 * The S3 key layout CloudTrail delivers into:
 * `[prefix/]AWSLogs/[o-orgid/]<account>/<CloudTrail|CloudTrail-Digest|CloudTrail-Insight>/<region>/YYYY/MM/DD/<file>`.
 * Used to skip digest and Insights objects without reading them, and to label objects in reports.
 */
export type TrailFolder = "CloudTrail" | "CloudTrail-Digest" | "CloudTrail-Insight";

export interface TrailKey {
  readonly organizationId?: string;
  readonly accountId: string;
  readonly folder: TrailFolder;
  readonly region: string;
  readonly date: string; // YYYY-MM-DD
}

const LAYOUT =
  /(?:^|\/)AWSLogs\/(?:(o-[a-z0-9]{10,32})\/)?(\d{12})\/(CloudTrail|CloudTrail-Digest|CloudTrail-Insight)\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\//;

/** Parses a path or S3 key in CloudTrail's layout; undefined when it is not in that layout. */
export function parseTrailKey(key: string): TrailKey | undefined {
  const m = LAYOUT.exec(key.replaceAll("\\", "/"));
  if (!m) return undefined;
  const [, org, accountId, folder, region, y, mo, d] = m;
  return {
    ...(org ? { organizationId: org } : {}),
    accountId: accountId as string,
    folder: folder as TrailFolder,
    region: region as string,
    date: `${y}-${mo}-${d}`,
  };
}

/** Why an object is skipped from its name alone, or undefined when it should be read. */
export function skipByName(key: string): string | undefined {
  const k = key.replaceAll("\\", "/");
  if (/\/CloudTrail-Digest\//.test(k) || /_CloudTrail-Digest_/.test(k)) return "CloudTrail digest file (no events)";
  if (/\/CloudTrail-Insight\//.test(k) || /_CloudTrail-Insight_/.test(k)) {
    return "CloudTrail Insights file (API rate anomalies, not calls)";
  }
  return undefined;
}

/** File names a directory walk picks up; files named on the command line are always read. */
export function isLogFileName(name: string): boolean {
  return /\.(json|jsonl|ndjson|json\.gz|jsonl\.gz|gz|log)$/i.test(name) && !name.startsWith(".");
}

const DELIVERY_STAMP = /_(\d{8}T\d{4})Z_/;

/**
 * A sort key that puts objects in CloudTrail delivery order across accounts and regions: the
 * `YYYYMMDDTHHMMZ` stamp of the file name, else the date folder of the layout, else "" (first, in
 * the order given). Reading in this order keeps the event-time watermark advancing smoothly.
 */
export function deliveryOrderKey(key: string): string {
  const name = key.slice(key.replaceAll("\\", "/").lastIndexOf("/") + 1);
  const stamp = DELIVERY_STAMP.exec(name)?.[1];
  if (stamp) return stamp;
  const date = parseTrailKey(key)?.date;
  return date ? `${date.replaceAll("-", "")}T0000` : "";
}
