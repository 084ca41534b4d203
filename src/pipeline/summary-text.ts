import { safeText } from "../safe-text.js";
import type { PathSummary, ScanNotice, ScanSummary } from "./scan.js";

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
  const retracted = s.findings.retracted
    ? `; ${s.findings.retracted} retracted (explained by evidence read later)`
    : "";
  lines.push(`findings: ${s.findings.total}${rules ? ` (${rules})` : ""}${retracted}`);
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

/**
 * A notice told before the scan reads (ScanOptions.onNotice), as one line for stderr.
 *
 * @example
 * renderNotice({ kind: "path-problem", problem }) // "firstcall: logs/: no such file or directory\n"
 */
export function renderNotice(notice: ScanNotice): string {
  if (notice.kind === "path-problem") return `firstcall: ${safeText(notice.problem.message)}\n`;
  return `firstcall: warning: the configuration, --ip-ranges or --bind-uncovered differ from those the files already scanned in ${safeText(notice.state)} were judged with; those files are not judged again: run with --rescan to judge them with the current settings, or use a fresh --state\n`;
}

/** Why a path held no CloudTrail log, from its counts. */
function whyNoLogs(p: PathSummary): string {
  const parts: string[] = [];
  if (p.notCloudTrail > 0)
    parts.push(`${p.notCloudTrail} ${p.notCloudTrail === 1 ? "file is" : "files are"} not CloudTrail`);
  if (p.ignored > 0)
    parts.push(
      `${p.ignored} ${p.ignored === 1 ? "file" : "files"} ignored, not named like log files (*.json, *.json.gz, *.jsonl, *.gz, *.log)`,
    );
  return parts.length > 0 ? parts.join(", ") : "the folder is empty";
}

/** Paths that held no CloudTrail log and whose listing or reading reported no error (which says why itself). */
function pathsWithoutLogs(s: ScanSummary): PathSummary[] {
  return s.paths.filter((p) => p.cloudTrail === 0 && p.listingProblems === 0 && p.unreadable === 0);
}

/**
 * What stderr says when the scan found no CloudTrail log at all (`summary.objects.cloudTrail` is 0):
 * the errors, and each path with no log and why, and nothing else: no summary, since nothing was
 * scanned. Problems already told as notices (`told`, their messages) are not repeated, so a missing
 * path gives exactly one line.
 */
export function renderNothingScanned(s: ScanSummary, told: ReadonlySet<string> = new Set()): string {
  const lines: string[] = [];
  for (const p of s.problems)
    if (!told.has(p.message)) lines.push(`firstcall: error [${safeText(p.code)}] ${safeText(p.message)}`);
  for (const p of pathsWithoutLogs(s))
    lines.push(`firstcall: ${safeText(p.path)}: no CloudTrail log found: ${whyNoLogs(p)}; nothing was scanned`);
  if (lines.length === 0 && told.size === 0) lines.push("firstcall: no CloudTrail log found; nothing was scanned");
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/** After a scan that found logs: a warning naming each path given that held none. */
export function renderPathsWithoutLogs(s: ScanSummary): string {
  return pathsWithoutLogs(s)
    .map((p) => `firstcall: warning: ${safeText(p.path)}: no CloudTrail log found: ${whyNoLogs(p)}\n`)
    .join("");
}

/**
 * When nothing new was read because the state had scanned every file before (a second run of the
 * same command), "No findings." would read as "clean": say why, and how to see or redo everything.
 */
export function renderAlreadyScannedHint(s: ScanSummary): string {
  const o = s.objects;
  if (s.findings.total > 0 || o.alreadyScanned === 0 || o.read > 0 || o.failed > 0) return "";
  return `firstcall: ${o.alreadyScanned} ${o.alreadyScanned === 1 ? "file" : "files"} skipped as already scanned in ${safeText(s.state)}; --all shows the stored findings, --rescan reads them again, or use another --state\n`;
}
