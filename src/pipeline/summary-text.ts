import { safeText } from "../safe-text.js";
import type { ScanSummary } from "./scan.js";

/**
 * The summary as a person reads it (stderr in text mode). File names, reasons and problem messages
 * come from the input (a bucket's key names, a file's bytes quoted in an error), so they are escaped.
 */
export function renderSummaryText(s: ScanSummary): string {
  const o = s.objects;
  const r = s.records;
  const lines: string[] = [];
  lines.push(
    `files: ${o.listed} listed, ${o.read} read, ${o.alreadyScanned} already scanned, ${o.skipped} skipped, ${o.failed} unreadable, ${o.partial} partly read${o.ignored ? `, ${o.ignored} non-log files ignored` : ""}`,
  );
  lines.push(
    `records: ${r.total} read, ${r.unique} unique (${r.duplicates} duplicate eventIDs), ${r.relevant} relevant to detection${r.timestampFallbacks ? `, ${r.timestampFallbacks} timed by @timestamp (no eventTime)` : ""}${r.outsideTimeWindow ? `, ${r.outsideTimeWindow} outside --since/--until` : ""}${r.insight ? `, ${r.insight} Insights records skipped` : ""}${malformedText(r.malformed)}${r.lateBeyondWindow ? `, ${r.lateBeyondWindow} arrived later than --lateness (processed out of order)` : ""}${r.alreadyCounted ? `, ${r.alreadyCounted} already counted by an earlier run` : ""}`,
  );
  if (s.timeRange) lines.push(`event time: ${s.timeRange.first} .. ${s.timeRange.last}`);
  lines.push(`AWS ranges: ${ipRangesText(s.ipRanges)}`);
  const c = s.coverage;
  lines.push(
    `coverage: ${c.ratio === null ? "no instance-credential events" : `${(c.ratio * 100).toFixed(1)}% of ${c.instanceEvents} instance-credential events had their issuance in view`}; ${s.engine.issuances} issuances, ${s.engine.awsOnBehalf} calls by AWS on your behalf, ${s.engine.malformedSource ? `${s.engine.malformedSource} calls whose sourceIPAddress is not an address (judged as one), ` : ""}${s.engine.untracked} untracked role calls`,
  );
  lines.push(
    `sessions: ${s.sessions.touched} touched, ${s.sessions.stored} in state (${safeText(s.state)}), ${s.sessions.expired} expired`,
  );
  const rules = Object.entries(s.findings.byRule)
    .map(([k, v]) => `${safeText(k)} ${v}`)
    .join(", ");
  lines.push(`findings: ${s.findings.total}${rules ? ` (${rules})` : ""}`);
  for (const k of s.skipped.slice(0, 20)) lines.push(`skipped: ${safeText(k.object)}: ${safeText(k.reason)}`);
  if (s.skipped.length > 20) lines.push(`skipped: … and ${s.skipped.length - 20} more (see --summary-json)`);
  for (const p of s.problems) lines.push(`error [${safeText(p.code)}] ${safeText(p.message)}`);
  return `${lines.join("\n")}\n`;
}

function ipRangesText(r: ScanSummary["ipRanges"]): string {
  const age = r.createDate
    ? ` of ${safeText(r.createDate)}${r.ageDays !== undefined ? ` (${r.ageDays} days old)` : ""}`
    : "";
  // AWS adds ranges every week; a month-old list misses some, which shows as `outside-aws`.
  const stale = r.source !== "snapshot" && (r.ageDays ?? 0) > 30 ? "; old: run `firstcall ip-ranges update`" : "";
  const problem = `${stale}${r.problem ? `; ${safeText(r.problem)}` : ""}`;
  switch (r.source) {
    case "file":
      return `--ip-ranges ${safeText(r.path ?? "")}${age}${problem}`;
    case "cache":
      return `cached copy ${safeText(r.path ?? "")}${age}${problem}`;
    case "snapshot":
      return `snapshot shipped with firstcall${age}; \`firstcall ip-ranges update\` fetches the current list${problem}`;
    default:
      return `none (addresses are not classified; run \`firstcall ip-ranges update\` or give --ip-ranges)${problem}`;
  }
}

function malformedText(m: ScanSummary["records"]["malformed"]): string {
  const parts = Object.entries(m)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([reason, n]) => `${n} malformed (${reason})`);
  return parts.length ? `, ${parts.join(", ")}` : "";
}
