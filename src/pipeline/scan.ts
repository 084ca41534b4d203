/**
 * The scan pipeline: sources → decode → order → engine → findings, with the state store around it.
 * One run is one batch: every readable object is decoded, its records are de-duplicated by eventID,
 * reduced to the engine's view, put in time order, processed, and the changed state and findings are
 * committed in one transaction. Nothing here prints: the CLI renders findings and the summary.
 */
import type { Config } from "../config/config.js";
import { defaultConfig, validateConfig } from "../config/config.js";
import { Engine, type Engine as EngineType } from "../engine/engine.js";
import { compareEvents, type EngineEvent, toEngineEvent } from "../engine/event.js";
import { EXIT } from "../exit-codes.js";
import { type Finding, type Severity, severityRank } from "../findings/finding.js";
import { NetworkInventory } from "../net/inventory.js";
import { listLocalObjects } from "../sources/local.js";
import { type ReadProblem, readLogObject } from "../sources/read.js";
import { openStore } from "../state/open.js";
import type { ScannedObject } from "../state/store.js";

export type FailOn = Severity | "none";

export interface ScanOptions {
  readonly paths: readonly string[];
  /** `:memory:` (default here; the CLI defaults to the user's state file) or a SQLite path. */
  readonly statePath?: string;
  readonly config?: Config;
  readonly ipRangesPath?: string;
  /** Only events at or after this time. */
  readonly since?: Date;
  /** Only events before this time. */
  readonly until?: Date;
  readonly bindUncovered?: boolean;
  readonly maxObjectBytes?: number;
  /** Read objects again even when the state says they were scanned. */
  readonly rescan?: boolean;
  /** Exit code 1 when a finding is at or above this severity (default high). */
  readonly failOn?: FailOn;
  /** Called after each object is read (for progress bars). */
  readonly onObject?: (done: number, total: number, object: string) => void;
}

export interface ScanSummary {
  readonly schema: "firstcall.summary/v1";
  readonly state: string;
  readonly objects: {
    readonly listed: number;
    readonly read: number;
    readonly alreadyScanned: number;
    readonly skipped: number;
    readonly failed: number;
    readonly partial: number;
    /** Files in walked directories whose names are not log file names. */
    readonly ignored: number;
    readonly bytes: number;
  };
  readonly skipped: readonly { readonly object: string; readonly reason: string }[];
  readonly problems: readonly ReadProblem[];
  readonly records: {
    readonly total: number;
    readonly unique: number;
    readonly duplicates: number;
    /** Records whose time came from `@timestamp` (no eventTime). */
    readonly timestampFallbacks: number;
    readonly insight: number;
    readonly outsideTimeWindow: number;
    readonly relevant: number;
  };
  readonly timeRange?: { readonly first: string; readonly last: string };
  readonly engine: EngineType["stats"];
  readonly coverage: {
    readonly instanceEvents: number;
    readonly covered: number;
    /** covered / instanceEvents, or null when there were no instance-credential events. */
    readonly ratio: number | null;
  };
  readonly sessions: { readonly touched: number; readonly stored: number; readonly expired: number };
  readonly findings: {
    readonly total: number;
    readonly byRule: Readonly<Record<string, number>>;
    readonly bySeverity: Readonly<Record<string, number>>;
  };
  readonly durationMs: number;
  readonly exitCode: number;
}

export interface ScanResult {
  /** Findings that are new or changed by this run, in time order. */
  readonly findings: Finding[];
  readonly summary: ScanSummary;
  readonly exitCode: number;
}

/** How long expired sessions are kept after their validity ended (late files still find them). */
const RETENTION_MS = 24 * 3_600_000;

/**
 * Runs a scan.
 *
 * @example
 * const { findings, summary, exitCode } = await runScan({ paths: ["AWSLogs/"], statePath: ":memory:" });
 */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const started = Date.now();
  // The whole configuration is checked before any log is read: a typo must not cost a full read.
  const config = validateConfig(options.config ?? defaultConfig());
  const inventory = NetworkInventory.load(config.ownNetworks, options.ipRangesPath);
  const store = openStore(options.statePath ?? ":memory:");
  try {
    const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
    const until = options.until?.getTime() ?? Number.POSITIVE_INFINITY;
    const { objects, problems: listProblems, ignored } = await listLocalObjects(options.paths);
    const problems: ReadProblem[] = listProblems.map((p) => ({
      object: p.object,
      code: "E_READ",
      message: `${p.object}: ${p.message}`,
    }));
    const skipped: { object: string; reason: string }[] = [];
    const scanned: ScannedObject[] = [];
    const seen = new Set<string>();
    const events: EngineEvent[] = [];
    let read = 0;
    let alreadyScanned = 0;
    let failed = listProblems.length;
    let partial = 0;
    let bytes = 0;
    let total = 0;
    let duplicates = 0;
    let timestampFallbacks = 0;
    let insight = 0;
    let outside = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;

    let done = 0;
    for (const ref of objects) {
      done++;
      if (!options.rescan && ref.id !== "-" && (await store.wasScanned(ref))) {
        alreadyScanned++;
        options.onObject?.(done, objects.length, ref.id);
        continue;
      }
      const r = await readLogObject(ref, options.maxObjectBytes ? { maxObjectBytes: options.maxObjectBytes } : {});
      options.onObject?.(done, objects.length, ref.id);
      bytes += r.bytes;
      timestampFallbacks += r.timestampFallbacks;
      insight += r.insightRecords;
      problems.push(...r.problems);
      if (r.skipped) {
        skipped.push({ object: r.object, reason: r.skipped });
        scanned.push({ id: ref.id, size: ref.size, mtimeMs: ref.mtimeMs, records: 0 });
        continue;
      }
      if (r.problems.length > 0 && r.records.length === 0) {
        failed++;
        continue;
      }
      read++;
      if (r.problems.length > 0) partial++;
      // A damaged object is not marked scanned: the next run reads it again (once repaired).
      else scanned.push({ id: ref.id, size: ref.size, mtimeMs: ref.mtimeMs, records: r.records.length });
      for (const rec of r.records) {
        total++;
        if (typeof rec.eventID === "string") {
          if (seen.has(rec.eventID)) {
            duplicates++;
            continue;
          }
          seen.add(rec.eventID);
        }
        const t = Date.parse(rec.eventTime as string);
        if (t < since || t >= until) {
          outside++;
          continue;
        }
        if (t < first) first = t;
        if (t > last) last = t;
        const e = toEngineEvent(rec);
        if (e) events.push(e);
      }
    }

    events.sort(compareEvents);
    const keys = new Set<string>();
    for (const e of events) {
      if (e.issuance) {
        keys.add(e.issuance.sessionArn);
        keys.add(`ak:${e.issuance.accessKeyId}`);
      }
      if (e.caller) {
        keys.add(e.caller.arn);
        if (e.caller.accessKeyId) keys.add(`ak:${e.caller.accessKeyId}`);
      }
    }
    const sessions = await store.loadSessions([...keys]);
    const fleet = await store.loadFleet();
    const engine = new Engine(
      { config, inventory, bindUncovered: options.bindUncovered ?? false },
      { sessions, fleet },
    );
    for (const e of events) engine.process(e);
    const expired = engine.expire(config.sessionTtlHours * 3_600_000 + RETENTION_MS);
    const current = engine.evaluate();
    const previous = await store.loadFindings([...current.keys()]);
    const changed = engine.merge(current, previous);
    const expiredSet = new Set(expired);
    await store.commit({
      sessions: [...engine.dirtySessions]
        .filter((k) => !expiredSet.has(k))
        .map((k) => sessions.get(k))
        .filter((s) => s !== undefined),
      deletedSessions: expired,
      fleet: engine.state.fleet,
      findings: changed,
      objects: scanned,
    });

    const findings = changed.map((c) => c.finding);
    const byRule: Record<string, number> = {};
    const bySeverity: Record<string, number> = {};
    for (const f of findings) {
      byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
      bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
    }
    const exitCode = exitCodeFor(findings, options.failOn ?? "high", failed + partial > 0);
    const stats = engine.stats;
    const summary: ScanSummary = {
      schema: "firstcall.summary/v1",
      state: store.location,
      objects: {
        listed: objects.length + listProblems.length,
        read,
        alreadyScanned,
        skipped: skipped.length,
        failed,
        partial,
        ignored,
        bytes,
      },
      skipped,
      problems,
      records: {
        total,
        unique: total - duplicates,
        duplicates,
        timestampFallbacks,
        insight,
        outsideTimeWindow: outside,
        relevant: events.length,
      },
      ...(first <= last
        ? { timeRange: { first: new Date(first).toISOString(), last: new Date(last).toISOString() } }
        : {}),
      engine: { ...stats },
      coverage: {
        instanceEvents: stats.instanceEvents,
        covered: stats.coveredInstanceEvents,
        ratio: stats.instanceEvents > 0 ? stats.coveredInstanceEvents / stats.instanceEvents : null,
      },
      sessions: { touched: engine.dirtySessions.size, stored: await store.sessionCount(), expired: expired.length },
      findings: { total: findings.length, byRule, bySeverity },
      durationMs: Date.now() - started,
      exitCode,
    };
    return { findings, summary, exitCode };
  } finally {
    await store.close();
  }
}

/** Exit codes (src/exit-codes.ts): findings at or above `failOn`; else input when some input could not be read; else ok. */
export function exitCodeFor(findings: readonly Finding[], failOn: FailOn, inputProblems: boolean): number {
  if (failOn !== "none" && findings.some((f) => severityRank(f.severity) >= severityRank(failOn))) return EXIT.findings;
  return inputProblems ? EXIT.input : EXIT.ok;
}
