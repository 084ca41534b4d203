/**
 * `trailblazer map`: matches CloudTrail records to the calls of a run and says, per operation,
 * whether CloudTrail logged it and as what (eventSource, eventName, category, error code, delay).
 *
 * A record belongs to a call when its identity is the call's role session (the session name is
 * the last part of `userIdentity.arn`), or, for calls AWS logs without that identity, when its
 * user agent carries the run's marker and the call's number.
 */
import type { CloudTrailRecord } from "../cloudtrail/record.js";
import { safeText } from "../safe-text.js";
import { isThrottled } from "./http.js";
import type { CallRecord, RunFile } from "./run-file.js";
import { parseUserAgent } from "./session-name.js";

export const MAPPING_SCHEMA = "firstcall.trailblazer.mapping";
export const MAPPING_VERSION = 1;

/** What one operation was logged as. */
export interface OperationMapping {
  readonly seq: number;
  readonly service: string;
  readonly operation: string;
  readonly protocol: string;
  readonly region: string;
  readonly sessionName: string;
  /** false when the call never reached AWS (AssumeRole or network failure): nothing to learn. */
  readonly sent: boolean;
  readonly status?: number;
  /** The error code AWS answered with. */
  readonly answerErrorCode?: string;
  readonly attempts: number;
  readonly logged: boolean;
  readonly eventSource?: string;
  readonly eventName?: string;
  /** The logged eventName is not the operation name. */
  readonly renamed?: boolean;
  readonly eventCategory?: string;
  readonly managementEvent?: boolean;
  readonly readOnly?: boolean;
  /** The error code as CloudTrail logged it (may differ from the answer's). */
  readonly loggedErrorCode?: string;
  readonly awsRegion?: string;
  /** Seconds from sending the call to the event's time (CloudTrail times have 1 s resolution). */
  readonly delaySeconds?: number;
  /** Records matched to the call, throttled retries included. */
  readonly events: number;
  readonly throttledEvents: number;
  /** Other eventSource:eventName pairs the same call produced. */
  readonly alsoLoggedAs?: readonly string[];
  /** How the records were matched: by role session or by user agent. */
  readonly matchedBy?: "session" | "user-agent";
}

export interface Mapping {
  readonly schema: typeof MAPPING_SCHEMA;
  readonly version: typeof MAPPING_VERSION;
  readonly runId: string;
  readonly roleArn: string;
  readonly region: string;
  readonly counts: {
    readonly calls: number;
    readonly sent: number;
    readonly logged: number;
    readonly notLogged: number;
    readonly renamed: number;
    readonly records: number;
    readonly matchedRecords: number;
    /** The harness's own AssumeRole records (marked with the run's user agent). */
    readonly assumeRoleRecords: number;
  };
  /** Time span of the matched records: calls sent after `lastEvent` may just not be delivered yet. */
  readonly window?: { readonly firstEvent: string; readonly lastEvent: string };
  readonly operations: readonly OperationMapping[];
}

interface Matched {
  readonly record: CloudTrailRecord;
  readonly by: "session" | "user-agent";
}

function sessionOf(record: CloudTrailRecord): string | undefined {
  const arn = record.userIdentity?.arn;
  if (typeof arn === "string" && arn.includes(":assumed-role/")) return arn.slice(arn.lastIndexOf("/") + 1);
  const principal = record.userIdentity?.principalId;
  if (typeof principal === "string" && principal.includes(":")) return principal.slice(principal.indexOf(":") + 1);
  return undefined;
}

function timeOf(record: CloudTrailRecord): number {
  const t = Date.parse(record.eventTime ?? "");
  return Number.isNaN(t) ? 0 : t;
}

/**
 * Collects records one at a time (so logs of any size stream through) and produces the mapping.
 *
 * @example
 * const matcher = new RunMatcher(readRunFile("run.jsonl"));
 * for await (const obj of readLogs(["AWSLogs/"])) for (const r of obj.records) matcher.add(r);
 * const mapping = matcher.result();
 */
export class RunMatcher {
  private readonly bySession = new Map<string, CallRecord>();
  private readonly bySeq = new Map<number, CallRecord>();
  private readonly matched = new Map<number, Matched[]>();
  private records = 0;
  private assumeRoleRecords = 0;

  constructor(private readonly run: RunFile) {
    for (const call of run.calls) {
      this.bySession.set(call.sessionName, call);
      this.bySeq.set(call.seq, call);
    }
  }

  add(record: CloudTrailRecord): void {
    this.records++;
    const session = sessionOf(record);
    let call = session === undefined ? undefined : this.bySession.get(session);
    let by: Matched["by"] = "session";
    if (call === undefined && typeof record.userAgent === "string") {
      const marker = parseUserAgent(record.userAgent);
      if (marker?.runId === this.run.header.runId) {
        if (marker.seq === undefined) {
          if (record.eventName === "AssumeRole") this.assumeRoleRecords++;
          return;
        }
        call = this.bySeq.get(marker.seq);
        by = "user-agent";
      }
    }
    if (call === undefined) return;
    const list = this.matched.get(call.seq) ?? [];
    list.push({ record, by });
    this.matched.set(call.seq, list);
  }

  result(): Mapping {
    const operations = this.run.calls.map((call) => this.mapCall(call, this.matched.get(call.seq) ?? []));
    const all = [...this.matched.values()]
      .flat()
      .map((m) => timeOf(m.record))
      .filter((t) => t > 0);
    const sent = operations.filter((o) => o.sent);
    const logged = sent.filter((o) => o.logged);
    const { header } = this.run;
    return {
      schema: MAPPING_SCHEMA,
      version: MAPPING_VERSION,
      runId: header.runId,
      roleArn: header.roleArn,
      region: header.region,
      counts: {
        calls: operations.length,
        sent: sent.length,
        logged: logged.length,
        notLogged: sent.length - logged.length,
        renamed: logged.filter((o) => o.renamed).length,
        records: this.records,
        matchedRecords: [...this.matched.values()].reduce((n, l) => n + l.length, 0),
        assumeRoleRecords: this.assumeRoleRecords,
      },
      ...(all.length > 0
        ? {
            window: {
              firstEvent: new Date(Math.min(...all)).toISOString(),
              lastEvent: new Date(Math.max(...all)).toISOString(),
            },
          }
        : {}),
      operations,
    };
  }

  private mapCall(call: CallRecord, matched: readonly Matched[]): OperationMapping {
    const last = call.attempts[call.attempts.length - 1];
    const base = {
      seq: call.seq,
      service: call.service,
      operation: call.operation,
      protocol: call.protocol,
      region: call.region,
      sessionName: call.sessionName,
      sent: call.outcome === "answered",
      ...(last?.status !== undefined ? { status: last.status } : {}),
      ...(last?.errorCode !== undefined ? { answerErrorCode: last.errorCode } : {}),
      attempts: call.attempts.length,
    };
    if (matched.length === 0) return { ...base, logged: false, events: 0, throttledEvents: 0 };
    const sorted = [...matched].sort((a, b) => timeOf(a.record) - timeOf(b.record));
    const throttled = sorted.filter((m) => isThrottled(0, m.record.errorCode));
    const settled = sorted.filter((m) => !isThrottled(0, m.record.errorCode));
    // The call's own event: the last one that was not a throttled try (else the last try).
    const main = (settled.length > 0 ? settled[settled.length - 1] : sorted[sorted.length - 1]) as Matched;
    const r = main.record;
    const eventTime = timeOf(r);
    const sentTimes = call.attempts.map((a) => Date.parse(a.sentAt)).filter((t) => !Number.isNaN(t));
    // The try closest in time to the event is the one that produced it.
    const sentAt = sentTimes.reduce<number | undefined>(
      (best, t) => (best === undefined || Math.abs(eventTime - t) < Math.abs(eventTime - best) ? t : best),
      undefined,
    );
    const others = new Set<string>();
    for (const m of settled) {
      if (m.record.eventSource !== r.eventSource || m.record.eventName !== r.eventName) {
        others.add(`${m.record.eventSource ?? "?"}:${m.record.eventName ?? "?"}`);
      }
    }
    const readOnly =
      typeof r.readOnly === "boolean"
        ? r.readOnly
        : r.readOnly === "true"
          ? true
          : r.readOnly === "false"
            ? false
            : undefined;
    return {
      ...base,
      logged: true,
      ...(r.eventSource ? { eventSource: r.eventSource } : {}),
      ...(r.eventName ? { eventName: r.eventName, renamed: r.eventName !== call.operation } : {}),
      ...(typeof r.eventCategory === "string" ? { eventCategory: r.eventCategory } : {}),
      ...(typeof r.managementEvent === "boolean" ? { managementEvent: r.managementEvent } : {}),
      ...(readOnly !== undefined ? { readOnly } : {}),
      ...(r.errorCode ? { loggedErrorCode: r.errorCode } : {}),
      ...(r.awsRegion ? { awsRegion: r.awsRegion } : {}),
      ...(sentAt !== undefined && eventTime > 0 ? { delaySeconds: Math.round((eventTime - sentAt) / 1000) } : {}),
      events: matched.length,
      throttledEvents: throttled.length,
      ...(others.size > 0 ? { alsoLoggedAs: [...others].sort() } : {}),
      matchedBy: main.by,
    };
  }
}

/**
 * Maps a run against records from any iterable (tests) or async iterable (the reader).
 */
export async function mapRun(
  run: RunFile,
  records: AsyncIterable<CloudTrailRecord> | Iterable<CloudTrailRecord>,
): Promise<Mapping> {
  const matcher = new RunMatcher(run);
  for await (const record of records) matcher.add(record);
  return matcher.result();
}

function category(o: OperationMapping): string {
  const kind =
    o.eventCategory ?? (o.managementEvent === false ? "Data" : o.managementEvent === true ? "Management" : "?");
  const ro = o.readOnly === undefined ? "" : o.readOnly ? " read-only" : " write";
  return `${kind}${ro}`;
}

/** Human-readable mapping: one line per operation, then a summary. */
export function renderMappingText(mapping: Mapping, options: { onlyInteresting?: boolean } = {}): string {
  const lines: string[] = [];
  for (const o of mapping.operations) {
    // Event names, sources and error codes come from the logs; names and the run id from the run file.
    const name = safeText(`${o.service}.${o.operation}`);
    if (!o.sent) {
      if (!options.onlyInteresting) lines.push(`${name}  not sent`);
      continue;
    }
    if (!o.logged) {
      lines.push(`${name}  NOT LOGGED  (answer ${o.status ?? "?"} ${safeText(o.answerErrorCode ?? "")})`.trimEnd());
      continue;
    }
    if (options.onlyInteresting && !o.renamed && !o.alsoLoggedAs) continue;
    const renamed = o.renamed ? "  RENAMED" : "";
    const delay = o.delaySeconds === undefined ? "" : `  +${o.delaySeconds}s`;
    const retries = o.throttledEvents > 0 ? `  (${o.throttledEvents} throttled tries)` : "";
    const also = o.alsoLoggedAs ? `  also ${safeText(o.alsoLoggedAs.join(", "))}` : "";
    lines.push(
      `${name}  → ${safeText(o.eventSource ?? "?")} ${safeText(o.eventName ?? "?")}${renamed}  ${category(o)}  ${safeText(o.loggedErrorCode ?? "-")}${delay}${retries}${also}`,
    );
  }
  const c = mapping.counts;
  const window = mapping.window
    ? `, events ${safeText(mapping.window.firstEvent)} … ${safeText(mapping.window.lastEvent)}`
    : "";
  lines.push(
    "",
    `run ${safeText(mapping.runId)}: ${c.calls} calls, ${c.sent} sent, ${c.logged} logged, ${c.notLogged} not logged, ${c.renamed} renamed` +
      ` (${c.matchedRecords} of ${c.records} records matched${window})`,
  );
  return `${lines.join("\n")}\n`;
}
